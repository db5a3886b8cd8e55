"""A video job on 2 Ray workers (one local Ray runtime for the module): the same frames as the
segments stylized in one process, a worker killed mid-job, Ctrl-C and kill -9 of the driver."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import ray  # part of the [test] extra: the Ray tests are never skipped
import torch
from PIL import Image
from synthetic import make_clip, stripes

from videostyle.config import ClipConfig, SegmentConfig, StyleConfig, TemporalConfig
from videostyle.engine.optimize import Stylizer
from videostyle.io import open_source
from videostyle.video.chain import stylize_bridge, stylize_segment
from videostyle.video.job import stylize_video
from videostyle.video.plan import plan_segments

STYLE = StyleConfig(device="cpu", precision="fp32")
FEW = TemporalConfig(iterations=2, first_iterations=4)
FRAMES, SIZE, OVERLAP = 16, 48, 2
SEGMENTS = SegmentConfig(workers=2, overlap=OVERLAP)


@pytest.fixture(scope="module")
def runtime():
    """One local Ray runtime for the module: 2 CPUs, a small object store, no dashboard."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=96 * 2**20, log_to_driver=False,
             logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    clip = make_clip(folder / "in.mp4", frames=FRAMES, size="64x48")
    style = folder / "style.png"
    Image.fromarray(stripes()).save(style)
    return clip, style


def frames_of(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("frame_*.png"))]


def run(media, out: Path, callback=None, schedule=None) -> list[np.ndarray]:
    clip, style = media
    stylize_video(clip, f"{out}/", [np.asarray(Image.open(style).convert("RGB"))], style=STYLE, temporal=FEW,
                  clip=ClipConfig(size=SIZE), segments=SEGMENTS, callback=callback, schedule=schedule)
    return frames_of(out)


@pytest.fixture(scope="module")
def reference(media):
    return planned(media)


def planned(media, looks=None) -> list[np.ndarray]:
    """The planned segments and bridge stylized in this process, one thread like each actor."""
    clip, style = media
    with open_source(clip, size=SIZE) as source:
        originals = list(source)
    plan = plan_segments(len(originals), [], workers=2, max_length=SEGMENTS.max_length, overlap=OVERLAP,
                         **SEGMENTS.plan_costs(FEW))
    assert len(plan) == 2 and len(plan[1].bridged) == OVERLAP, plan
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        stylizer = Stylizer([np.asarray(Image.open(style).convert("RGB"))], STYLE)
        out: dict[int, np.ndarray] = {}
        ends: dict[int, np.ndarray] = {}
        drafts: dict[int, np.ndarray] = {}
        for seg in plan:
            start = None if seg.shot_start else SEGMENTS.segment_start_iterations(FEW)
            for done in stylize_segment(stylizer, originals[seg.start: seg.stop], config=FEW, first=seg.start,
                                        start_iterations=start, looks=looks):
                (drafts if done.index in seg.bridged else out)[done.index] = done.image
                ends[seg.stop - 1] = done.state
        second = plan[1]
        for done in stylize_bridge(stylizer, originals[second.start - 1: second.bridged.stop],
                                   [drafts[i] for i in second.bridged], ends[second.start - 1], config=FEW,
                                   first=second.start, iterations=SEGMENTS.bridge_iterations, looks=looks):
            out[done.index] = done.image
    finally:
        torch.set_num_threads(threads)
    return [out[i] for i in range(len(originals))]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_two_workers_make_the_planned_segments_and_bridge(runtime, media, reference, tmp_path):
    seen = []
    frames = run(media, tmp_path / "out", callback=lambda p: seen.append(p))
    assert same(frames, reference)
    finished = [p.finished for p in seen if p.stage == "stylize"]
    assert finished == list(range(1, FRAMES + 1))  # one count over both workers, each frame once
    assert all(p.seconds_per_frame and p.seconds_per_frame > 0 for p in seen if p.stage == "stylize")
    assert not (tmp_path / ".out.videostyle").exists()


def test_a_strength_ramp_on_two_workers_gives_each_frame_its_own_look(runtime, media, reference, tmp_path):
    """Each worker blends the per-frame targets from its own Grams: the frames equal the
    planned segments and bridge stylized here with the same looks, and differ from the
    unscheduled ones."""
    from videostyle.config import ScheduleEntry, StyleSchedule
    from videostyle.io import probe
    from videostyle.video.targets import ClipTargets

    ramp = StyleSchedule(entries=(ScheduleEntry(0.0, (1.0,)),), strengths=((0.0, 0.0), (1.0, 1.0)))
    frames = run(media, tmp_path / "out", schedule=ramp)
    expected = planned(media, ClipTargets(ramp, STYLE, probe(media[0]).fps))
    assert same(frames, expected)
    assert not same(frames, reference)


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _worker_pids() -> list[int]:
    """Processes of the segment actors of this test's own Ray runtime: descendants of this
    process whose title names the actor class (never another job's workers)."""
    me, pids = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if not title.startswith(b"ray::SegmentWorker"):
            continue
        ancestor = int(entry.name)
        while ancestor > 1 and ancestor != me:
            ancestor = _parent(ancestor)
        if ancestor == me:
            pids.append(int(entry.name))
    return pids


def test_a_worker_killed_mid_job_is_replaced_and_nothing_is_lost(runtime, media, reference, tmp_path):
    killed: list[int] = []

    def kill_one(p):
        if p.stage == "stylize" and p.finished == 3 and not killed:
            busy = [pid for pid in _worker_pids()
                    if b"segment" in (Path(f"/proc/{pid}/cmdline").read_bytes())]
            killed.append((busy or _worker_pids())[0])
            os.kill(killed[0], signal.SIGKILL)

    frames = run(media, tmp_path / "out", callback=kill_one)
    assert killed, "the kill must land mid-job"
    assert same(frames, reference)


def test_ctrl_c_keeps_finished_frames_and_a_rerun_resumes_every_segment(runtime, media, reference, tmp_path):
    def interrupt(p):
        if p.stage == "stylize" and p.finished == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(media, tmp_path / "out", callback=interrupt)
    work = tmp_path / ".out.videostyle"
    kept = {p.name for p in work.glob("frame_*.png")}
    assert len(kept) >= 5 and not (tmp_path / "out").exists()
    resumed = []
    frames = run(media, tmp_path / "out", callback=lambda p: resumed.append(p.resumed))
    assert resumed and resumed[0] >= 5
    assert same(frames, reference)


def test_kill_9_of_the_driver_and_a_rerun_resume(media, reference, tmp_path):
    clip, style = media
    out, work = tmp_path / "out", tmp_path / ".out.videostyle"
    cmd = [sys.executable, "-m", "videostyle", "video", str(clip), "--style", str(style), "-o", f"{out}/",
           "--size", str(SIZE), "--iterations", "2", "--first-iterations", "4", "--device", "cpu",
           "--precision", "fp32", "--workers", "2", "--overlap", str(OVERLAP), "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline and len(list(work.glob("frame_*.png"))) < 4:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    # Ray's agents that outlive a killed driver are in its process group: end them with it
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    done_before = len(list(work.glob("frame_*.png")))
    assert 4 <= done_before < FRAMES, "the kill must land mid-job"
    assert not out.exists()
    subprocess.run(cmd, check=True, timeout=300)
    assert same(frames_of(out), reference)
