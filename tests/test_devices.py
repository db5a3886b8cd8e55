"""Device and precision resolution: the one place that asks torch about accelerators.

CI has no GPU, so the CUDA branches are driven by patching what torch reports.
"""

from __future__ import annotations

import pytest
import torch
from cli_text import cli_text, raises_cli

from videostyle.engine import devices
from videostyle.errors import BadOption


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert devices.resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert devices.resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    assert devices.resolve_device("auto") == torch.device("cpu")


def test_asking_for_a_missing_accelerator_says_what_to_use_instead(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    for name in ("cuda", "cuda:1", "mps"):
        with raises_cli(BadOption, "--device cpu or auto") as caught:
            devices.resolve_device(name)
        assert caught.value.settings == ["device"]  # a reference, which each front-end words
    with pytest.raises(BadOption, match="unknown device"):
        devices.resolve_device("tpu")


def test_precision_choices(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert devices.resolve_precision(cpu, "fp32") is None
    assert devices.resolve_precision(cpu, "bf16") is torch.bfloat16
    with pytest.raises(BadOption, match="fp16"):
        devices.resolve_precision(cpu, "fp16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert devices.resolve_precision(cuda, "auto") is torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert devices.resolve_precision(cuda, "auto") is torch.bfloat16
    monkeypatch.setattr(devices, "cpu_has_bf16_kernels", lambda: False)
    assert devices.resolve_precision(cpu, "auto") is None


def test_bf16_autocast_gives_nearly_the_fp32_losses():
    """What --precision auto does on a bf16 CPU (and on CUDA): the result must not drift."""
    import numpy as np
    from synthetic import scene, stripes

    from videostyle.config import StyleConfig
    from videostyle.engine.optimize import Stylizer

    losses = {}
    for precision in ("fp32", "bf16"):
        reports = []
        stylizer = Stylizer([stripes()], StyleConfig(iterations=1, device="cpu", precision=precision))
        stylizer.stylize(scene(), callback=reports.append)
        losses[precision] = reports[0].terms["style"]
    assert np.isclose(losses["bf16"], losses["fp32"], rtol=0.05), losses


def test_cuda_n_is_checked_against_the_gpus_torch_sees(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert devices.resolve_device("cuda:1") == torch.device("cuda:1")
    with raises_cli(BadOption, r"--device cuda:2: torch sees 2 CUDA GPUs \(cuda:0 to cuda:1\)"):
        devices.resolve_device("cuda:2")


def test_free_memory_asks_cuda_on_a_gpu_and_the_system_on_a_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (3_000, 10_000))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 500)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 200)
    assert devices.free_memory(torch.device("cuda")) == 3_300  # free, plus what torch caches unused
    ram = devices.free_memory(torch.device("cpu"))
    assert ram is not None and ram > 0


def test_a_size_that_does_not_fit_is_tiled_and_one_that_cannot_is_refused(monkeypatch, style_image):
    import re

    from videostyle.config import StyleConfig
    from videostyle.engine import memory, optimize, tiling

    stylizer = optimize.Stylizer([style_image], StyleConfig(device="cpu", precision="fp32"))
    whole = stylizer.memory.untiled(768, 1024)  # what it needs whole (not planning this size yet)
    free = whole // 2
    monkeypatch.setattr(memory, "free_memory", lambda device: free)
    stylizer.check_memory(384, 512)  # a quarter of the memory: fits whole
    assert stylizer.memory.plan(384, 512) is None
    stylizer.check_memory(768, 1024)  # half: runs in tiles (see tiles.py)
    plan = stylizer.memory.plan(768, 1024)
    assert plan is not None and len(plan.tiles) > 1 and stylizer.memory.needed(768, 1024) <= free
    smallest = tiling.grid(768, 1024, tiling.MIN_CORE, tiling.HALO)
    least = memory.tiled_bytes(tiling.TilePlan(768, 1024, tiling.MIN_CORE, tiling.HALO, memory.MIN_HISTORY, smallest),
                               layers=("relu4_2", "relu5_1"), content_layers=("relu4_2",),
                               image_buffers=memory.IMAGE_BUFFERS, lbfgs=True)
    free = least * 9 // 10  # not even the smallest tiles fit: refused, naming a size that does
    # a new job (a Stylizer plans each size once, so the same one keeps its first plan)
    stylizer = optimize.Stylizer([style_image], StyleConfig(device="cpu", precision="fp32"))
    with raises_cli(BadOption, r"--size 1024: .* even in tiles, .* the largest size that fits is --size") as caught:
        stylizer.check_memory(768, 1024)
    assert caught.value.settings == ["size"]
    fit = int(re.search(r"--size (\d+)$", cli_text(caught.value)).group(1))
    assert 32 <= fit < 1024
    stylizer.check_memory(fit * 3 // 4, fit)  # the size named runs (tiled as needed), one more px does not
    assert not stylizer.memory.fits((fit + 1) * 3 // 4, fit + 1)
