"""The media the benchmarks read, and clips they make themselves.

The real media (clips, photos, paintings) lie in ``../shared/media`` beside a checkout and
are never shipped or copied into the repository; a script names them in its defaults with
:func:`media` and checks them with :func:`need` before any work, so a checkout without
them gets one line saying what is missing and what to do, not a traceback.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"  # the bundled samples (videostyle/samples.py renders them)
MEDIA = REPO.parent / "shared" / "media"  # the test media, beside the checkout


def media(relative: str) -> Path:
    """``relative`` under the shared media folder (not checked: argparse defaults use it)."""
    return MEDIA / relative


def media_or_sample(relative: str, sample: str) -> Path:
    """The shared medium when this checkout has it, else the bundled sample ``sample``."""
    path = media(relative)
    return path if path.exists() else SAMPLES / sample


def need(*paths: str | Path | None) -> None:
    """Exit with one line naming the first of ``paths`` that does not exist (None is skipped)."""
    for path in paths:
        if path is not None and not Path(path).exists():
            raise SystemExit(f"{path}: not found. The benchmarks read the test media in {MEDIA} "
                             "(../shared/media beside the checkout; not shipped, see its README.md): "
                             "put them there or name your own files (see --help)")


def read_frames(path: str | Path, **options: object) -> list[np.ndarray]:
    """Every frame of a clip, GIF or image folder as (H, W, 3) uint8 RGB; ``options`` are
    ``videostyle.io.open_source``'s (size, frames, start, fps, ...)."""
    from videostyle.io import open_source

    with open_source(path, **options) as source:  # type: ignore[arg-type]
        return list(source)


def generated_pan(frames: int, width: int, height: int, step: int = 12) -> list[np.ndarray]:
    """A textured scene panning ``step`` px a frame with a disc crossing the other way
    (occlusions), (H, W, 3) uint8 RGB: a clip any machine can make."""
    import cv2

    rng = np.random.default_rng(0)
    big_w = width + frames * step
    noise = cv2.GaussianBlur(rng.random((max(1, height // 4), max(1, big_w // 4), 3)).astype(np.float32), (0, 0), 2)
    scene = cv2.resize(noise, (big_w, height), interpolation=cv2.INTER_CUBIC)
    scene = ((scene - scene.min()) / np.ptp(scene) * 255).astype(np.uint8)
    out = []
    for i in range(frames):
        frame = np.ascontiguousarray(scene[:, i * step: i * step + width])
        centre = (width - 100 - i * 3 * step, height // 2)
        cv2.circle(frame, centre, height // 6, (230, 60, 40), -1)
        out.append(frame)
    return out


def write_clip(path: Path, frames: Iterable[np.ndarray], fps: float = 30.0) -> Path:
    """RGB frames to an mp4 (OpenCV's mp4v): a file camera or a clip to upload."""
    import cv2

    frames = list(frames)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def pattern_clip(path: Path, *, size: str = "64x48", frames: int | None = None, seconds: float | None = None,
                      fps: int = 10, pattern: str = "testsrc") -> Path:
    """An H.264 clip of one of ffmpeg's test patterns (testsrc, testsrc2, smptebars), ``size``
    as "WxH", ``frames`` long or ``seconds`` long."""
    from videostyle.io.ffmpeg import ffmpeg_exe

    length = ["-frames:v", str(frames)] if frames is not None else ["-t", str(seconds or 1)]
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"{pattern}=size={size}:rate={fps}",
                    *length, "-pix_fmt", "yuv420p", "-c:v", "libx264", str(path)], check=True)
    return path
