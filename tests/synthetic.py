"""Tiny synthetic pictures and clips, made on the fly (no files from ../shared): the one place
for the tests' media helpers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

from videostyle.io.ffmpeg import ffmpeg_exe


def scene(width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    """A small 'photo': sky gradient, a sun, a house, grass; (H, W, 3) uint8 RGB."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None, None]
    image = (np.array([90, 150, 230]) * (1 - y) + np.array([200, 220, 255]) * y).repeat(width, 1)
    image[int(height * 0.65):] = [70, 140, 60]
    cv2.circle(image, (width // 5, height // 5), max(2, width // 12), (250, 220, 80), -1)
    cv2.rectangle(image, (width // 2, height // 3), (width * 4 // 5, height * 3 // 4), (200, 80, 60), -1)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def stripes(width: int = 64, height: int = 64, colors=((230, 40, 30), (250, 220, 40)), period: int = 6,
            seed: int = 1) -> np.ndarray:
    """A 'painting': diagonal stripes of two colours with jitter; (H, W, 3) uint8 RGB."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    phase = ((xx + yy) // period) % 2
    image = np.where(phase[..., None] == 0, np.array(colors[0]), np.array(colors[1])).astype(float)
    image += rng.normal(0, 10, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def blobs(width: int = 64, height: int = 64, seed: int = 2) -> np.ndarray:
    """Another 'painting': blue and white blotches; (H, W, 3) uint8 RGB."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 2.5)
    noise = (noise - noise.min()) / (np.ptp(noise) + 1e-6)
    blue, white = np.array([20, 40, 160.0]), np.array([235, 240, 250.0])
    return (blue * (1 - noise[..., None]) + white * noise[..., None]).astype(np.uint8)


def write_rgb(path, image: np.ndarray) -> str:
    """Write an RGB uint8 image with OpenCV (which wants BGR); returns the path as str."""
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return str(path)


def make_clip(path: Path, *, frames: int | None = 8, seconds: float | None = None, size: str = "64x48",
              fps: int = 10, audio: bool = False, extra: tuple[str, ...] = ()) -> Path:
    """A moving test pattern (H.264), ``frames`` long or ``seconds`` long, optionally with a
    440 Hz tone; ``extra`` goes to the encoder."""
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate={fps}"]
    if audio:
        rate = 44100 if seconds is not None else 22050
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={rate}", "-c:a", "aac"]
        if seconds is None:
            cmd += ["-shortest"]
    odd = any(int(side) % 2 for side in size.split("x"))
    pix_fmt = "yuv444p" if odd else "yuv420p"  # 4:2:0 cannot hold odd sizes
    length = ["-t", str(seconds)] if seconds is not None else ["-frames:v", str(frames)]
    cmd += [*length, "-pix_fmt", pix_fmt, "-c:v", "libx264", *extra, str(path)]
    subprocess.run(cmd, check=True)
    return path


def panning_texture(frames: int = 8, step: int = 2, size: tuple[int, int] = (64, 48)) -> list[np.ndarray]:
    """A painting-like texture seen through a window moving ``step`` px per frame."""
    w, h = size
    big = np.concatenate([blobs(w + frames * step, h, seed=3), stripes(w + frames * step, h)], axis=0)[: h]
    return [np.ascontiguousarray(big[:, i * step: i * step + w]) for i in range(frames)]


def make_cover_audio(path: Path, *, seconds: float = 2.0) -> Path:
    """Audio with cover art (an m4a/mp3 as music players save it): ffmpeg shows the picture
    as a video stream marked "(attached pic)"."""
    ff = ffmpeg_exe()
    cover = path.with_name(f".{path.stem}-cover.png")
    subprocess.run([ff, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x64", "-frames:v", "1",
                    str(cover)], check=True)
    subprocess.run([ff, "-v", "error", "-y", "-f", "lavfi", "-t", str(seconds), "-i", "sine", "-i", str(cover),
                    "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "png", "-disposition:v", "attached_pic",
                    str(path)], check=True)
    cover.unlink()
    return path


def make_thumbnail_first(path: Path, clip: Path) -> Path:
    """An mkv whose first video stream is a one-frame 64x64 thumbnail and whose second,
    the default one, is ``clip``'s video."""
    ff = ffmpeg_exe()
    thumb = path.with_name(f".{path.stem}-thumb.png")
    subprocess.run([ff, "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:size=64x64", "-frames:v", "1",
                    str(thumb)], check=True)
    subprocess.run([ff, "-v", "error", "-y", "-i", str(thumb), "-i", str(clip), "-map", "0:v", "-map", "1:v",
                    "-c:v:0", "mjpeg", "-c:v:1", "copy", "-disposition:v:0", "0", "-disposition:v:1", "default",
                    str(path)], check=True)
    thumb.unlink()
    return path


def huge_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb, as a solid
    colour compresses to almost nothing): a valid header and one small image chunk."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    pixels = zlib.compress(b"\0" * (width + 1) * 4)  # a few rows: the rest is "truncated"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def broken_videos(folder: Path, good: Path, *, keep: float = 0.5) -> tuple[Path, Path, Path]:
    """Three ways a .mp4 is not a video: text renamed .mp4, an empty file, and ``good``
    truncated to ``keep`` of its bytes (its index is at the end, so it is unreadable)."""
    text, empty, truncated = folder / "notes.mp4", folder / "empty.mp4", folder / "truncated.mp4"
    text.write_text("not a video\n")
    empty.write_bytes(b"")
    truncated.write_bytes(good.read_bytes()[: int(good.stat().st_size * keep)])
    return text, empty, truncated


def frame_times(path: Path) -> tuple[list[float], float]:
    """Each video frame's start time in seconds, as stored (no rate conversion), and the
    file's duration: what a player shows, read by ffmpeg's showinfo filter."""
    import re

    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
                           "-vf", "showinfo", "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    starts = [float(t) for t in re.findall(r"pts_time:\s*(-?[\d.]+)", text)]
    duration = re.search(r"  Duration: (\d+):(\d+):([\d.]+)", text)
    assert duration is not None, text
    hours, minutes, seconds = duration.groups()
    return starts, int(hours) * 3600 + int(minutes) * 60 + float(seconds)
