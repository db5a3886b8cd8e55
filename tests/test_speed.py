"""Speed settings and their CPU twins: device preparation, spare cores, and optical flow
computed ahead on a pool (the same results as one thread)."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from synthetic import panning_texture, stripes

from videostyle.config import StyleConfig, TemporalConfig
from videostyle.engine import devices, flow
from videostyle.engine.optimize import Stylizer
from videostyle.video import chain


def test_prepare_turns_on_cudnn_autotuning_for_cuda_and_memory_reuse_for_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    devices.prepare(devices.Compute(torch.device("cuda"), torch.bfloat16))
    assert torch.backends.cudnn.benchmark is True
    devices.prepare(devices.Compute(torch.device("cpu"), None))
    assert devices.keep_freed_memory() == (devices._glibc() is not None)


def test_freed_cpu_memory_counts_as_free(monkeypatch):
    devices.keep_freed_memory()
    monkeypatch.setattr(devices, "available_ram", lambda: 1000)
    block = torch.empty(50_000_000, dtype=torch.uint8)
    block.fill_(1)
    del block
    free = devices.free_memory(torch.device("cpu"))
    assert free is not None and free >= 1000
    if devices._glibc() is not None:  # the freed block is malloc's to reuse, and counted
        assert free - 1000 >= 50_000_000


def test_spare_cores_leave_the_optimizer_its_threads(monkeypatch):
    monkeypatch.setattr(devices.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert devices.spare_cores(devices.Compute(torch.device("cpu"), None)) == 14
    assert devices.spare_cores(devices.Compute(torch.device("cuda"), torch.bfloat16)) == 15
    monkeypatch.setattr(torch, "get_num_threads", lambda: 16)
    assert devices.spare_cores(devices.Compute(torch.device("cpu"), None)) == 1  # flow still gets one


def test_both_directions_at_once_give_the_same_flow():
    a, b = panning_texture(2, step=3, size=(96, 64))
    estimator = flow.FlowEstimator()
    alone = flow.flow_between(a, b, estimator)
    with ThreadPoolExecutor(2) as pool:
        together = flow.flow_between(a, b, estimator, executor=pool)
        steps = [pool.submit(flow.flow_between, a, b, estimator) for _ in range(4)]  # one solver per thread
        again = [s.result() for s in steps]
    for result in (together, *again):
        assert np.array_equal(result.backward, alone.backward) and np.array_equal(result.mask, alone.mask)


def test_a_segment_with_flow_workers_gives_the_frames_of_one_worker(monkeypatch):
    frames = panning_texture(4, step=2)
    stylizer = Stylizer([stripes()], StyleConfig(device="cpu", precision="fp32"))
    config = TemporalConfig(iterations=1, first_iterations=2)
    monkeypatch.setattr(chain, "flow_workers", lambda s: 1)
    one = list(chain.stylize_segment(stylizer, frames, config=config))
    monkeypatch.setattr(chain, "flow_workers", lambda s: 3)
    three = list(chain.stylize_segment(stylizer, frames, config=config))
    assert [f.index for f in three] == list(range(4))
    for a, b in zip(one, three, strict=True):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.state, b.state)
        assert (a.index, a.since_restart, a.cut) == (b.index, b.since_restart, b.cut)


def _waiting_for_a_future(thread: int) -> bool:
    """Whether ``thread`` is blocked in ``Future.result()``."""
    frame = sys._current_frames().get(thread)
    while frame is not None:
        if frame.f_code.co_name == "result" and "concurrent" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def test_a_frame_reports_how_long_it_waited_for_its_flow(monkeypatch):
    """The first flow is held back HOLD s once the frame loop waits for it: that frame's
    flow_wait counts the hold; the first frame, which has no flow, waits for none."""
    hold = 0.3
    loop, real, calls = threading.get_ident(), chain.flow_and_cut, []

    def held(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            deadline = time.monotonic() + 60
            while not _waiting_for_a_future(loop) and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(hold)
        return real(*args, **kwargs)

    monkeypatch.setattr(chain, "flow_and_cut", held)
    monkeypatch.setattr(chain, "flow_workers", lambda s: 1)
    stylizer = Stylizer([stripes()], StyleConfig(device="cpu", precision="fp32"))
    done = list(chain.stylize_segment(stylizer, panning_texture(3, step=2),
                                      config=TemporalConfig(iterations=1, first_iterations=1)))
    assert done[1].flow_wait >= hold > done[0].flow_wait
