"""Device and precision resolution: the one place that asks torch about accelerators.

CI has no GPU, so the CUDA branches are driven by patching what torch reports.
"""

from __future__ import annotations

import pytest
import torch

from videostyle import devices
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
        with pytest.raises(BadOption, match="--device cpu or auto"):
            devices.resolve_device(name)
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
    monkeypatch.setattr(devices, "_cpu_has_fast_bf16", lambda: False)
    assert devices.resolve_precision(cpu, "auto") is None


def test_bf16_autocast_gives_nearly_the_fp32_losses():
    """What --precision auto does on a bf16 CPU (and on CUDA): the result must not drift."""
    import numpy as np
    from synthetic import scene, stripes

    from videostyle.config import StyleConfig
    from videostyle.optimize import Stylizer

    losses = {}
    for precision in ("fp32", "bf16"):
        reports = []
        stylizer = Stylizer([stripes()], StyleConfig(iterations=1, device="cpu", precision=precision))
        stylizer.stylize(scene(), callback=reports.append)
        losses[precision] = reports[0].terms["style"]
    assert np.isclose(losses["bf16"], losses["fp32"], rtol=0.05), losses
