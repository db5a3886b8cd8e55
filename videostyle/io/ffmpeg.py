"""Where ffmpeg comes from: the binary shipped with imageio-ffmpeg."""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

from ..errors import VideostyleError


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (imageio-ffmpeg's own, so users need no system ffmpeg)."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        raise VideostyleError(f"ffmpeg not found ({exc}); run: pip install imageio-ffmpeg") from exc


def ffmpeg_path(path: str | Path) -> str:
    """A local file's name as ffmpeg must be given it: absolute, behind the ``file:``
    protocol, so that no name is read as a protocol (``my:clip.mp4``) or an option (``-x.mp4``)."""
    return "file:" + os.path.abspath(path)


@functools.lru_cache(maxsize=1)
def h264_encoder() -> str:
    """``libx264`` when this ffmpeg has it, else the always-present ``mpeg4``."""
    encoders = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True,
                              text=True).stdout
    return "libx264" if "libx264" in encoders else "mpeg4"


def ffmpeg_reason(report: str) -> str:
    """ffmpeg's last complaint, without its ``[component @ 0x..]`` prefix (the last
    ``: reason`` of its last line, e.g. "Connection refused")."""
    lines = [re.sub(r"^\[[^\]]*\]\s*", "", line).strip() for line in report.splitlines()]
    lines = [line for line in lines if line and not line.startswith("At least one output file")]
    return lines[-1].rsplit(": ", 1)[-1] if lines else "no message from ffmpeg"
