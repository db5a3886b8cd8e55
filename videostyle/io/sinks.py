"""Frame sinks: mp4 (H.264 + the source's audio), animated GIF (one global palette), PNGs.

Each sink is a context manager that writes to a temporary name beside the output and
renames it only when the ``with`` block ends without an exception; an interrupted or
failed write leaves the output untouched and no temporary file behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import BadOutput
from .atomic import check_output, output_kind
from .ffmpeg import ffmpeg_exe, h264_encoder

GIF_PALETTE_SAMPLE = 1_000_000  # pixels drawn from the whole clip to build the GIF palette


def open_sink(path: str | Path, *, fps: float, force: bool = False, audio_from: str | None = None,
              audio_start: float = 0.0, audio_duration: float | None = None, quality: int = 18,
              loop: int = 0, frame_durations: Sequence[float] | None = None) -> FrameSink:
    """A writer chosen by the output name: .mp4/.mov/.mkv/.webm, .gif, or a folder/ of PNGs.

    ``audio_from`` (mp4) muxes that file's audio, from ``audio_start`` for
    ``audio_duration`` seconds. ``frame_durations`` (GIF) gives each frame's duration in
    seconds instead of 1/fps; ``loop`` 0 loops forever.
    """
    out = check_output(path, force=force, kinds=("video", "gif", "folder"))
    if fps <= 0:
        raise BadOutput(f"{out}: frame rate must be > 0 (got {fps})")
    kind = output_kind(path)
    if kind == "video":
        return Mp4Sink(out, fps=fps, audio_from=audio_from, audio_start=audio_start,
                       audio_duration=audio_duration, quality=quality)
    if kind == "gif":
        return GifSink(out, fps=fps, loop=loop, frame_durations=frame_durations)
    return PngSink(out)


class FrameSink:
    """Base: ``write(frame)`` (H, W, 3) uint8 RGB; finished on ``close()`` / ``__exit__``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.partial = out.with_name(f".{out.name}.partial-{os.getpid()}{out.suffix}")
        self.frames_written = 0
        self._closed = False

    def __enter__(self) -> FrameSink:
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the file and move it into place (a sink with no frames is an error)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.frames_written == 0:
                raise BadOutput(f"{self.out}: no frames were written")
            self._finish()
            if self.out.is_dir():
                shutil.rmtree(self.out)
            os.replace(self.partial, self.out)
        finally:
            self._cleanup()

    def abort(self) -> None:
        """Drop everything written so far; the output stays as it was."""
        if not self._closed:
            self._closed = True
            self._cleanup()

    def _finish(self) -> None:
        raise NotImplementedError

    def _cleanup(self) -> None:
        if self.partial.is_dir():
            shutil.rmtree(self.partial, ignore_errors=True)
        elif self.partial.exists():
            self.partial.unlink()


class Mp4Sink(FrameSink):
    """H.264 (yuv420p) through an ffmpeg pipe, with the source's audio muxed back in."""

    def __init__(self, out: Path, *, fps: float, audio_from: str | None, audio_start: float,
                 audio_duration: float | None, quality: int) -> None:
        super().__init__(out)
        self.fps, self.quality = fps, quality
        self.audio = (audio_from, audio_start, audio_duration) if audio_from else None
        self._process: subprocess.Popen | None = None
        self._size: tuple[int, int] | None = None

    def _start(self, width: int, height: int) -> None:
        cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", f"{self.fps:.6g}", "-i", "-"]
        if self.audio is not None:
            source, start, duration = self.audio
            cmd += ["-ss", f"{start:.6f}"]
            if duration is not None:
                cmd += ["-t", f"{duration:.6f}"]
            cmd += ["-i", source, "-map", "0:v:0", "-map", "1:a:0?", "-c:a", "aac"]
        encoder = h264_encoder()
        cmd += ["-c:v", encoder, "-pix_fmt", "yuv420p",
                "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]  # yuv420p needs even sides
        cmd += ["-crf", str(self.quality)] if encoder == "libx264" else ["-q:v", "3"]
        cmd += ["-movflags", "+faststart", str(self.partial)]
        # A session of its own: Ctrl-C in a terminal must not kill ffmpeg before we finish the file.
        self._process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                         start_new_session=True)
        self._size = (width, height)

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._process is None:
            self._start(w, h)
        if self._size != (w, h):
            raise BadOutput(f"{self.out}: frame {self.frames_written + 1} is {w}x{h}, "
                            f"the video is {self._size[0]}x{self._size[1]}")
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        except BrokenPipeError as exc:
            raise BadOutput(f"{self.out}: ffmpeg stopped: {self._errors()}") from exc
        self.frames_written += 1

    def _finish(self) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.close()
        if self._process.wait() != 0:
            raise BadOutput(f"{self.out}: ffmpeg failed: {self._errors()}")

    def _errors(self) -> str:
        assert self._process is not None and self._process.stderr is not None
        text = self._process.stderr.read().decode(errors="replace").strip()
        return text.splitlines()[-1] if text else "no message"

    def _cleanup(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stderr):
                if stream is not None and not stream.closed:
                    stream.close()
            self._process = None
        super()._cleanup()


class GifSink(FrameSink):
    """Animated GIF with one global palette built from the whole clip.

    Frames are spooled to a temporary file (not RAM); at close a 256-colour palette is
    built from pixels sampled over every frame, and all frames are mapped onto it without
    dithering (dither noise would flicker from frame to frame).
    """

    def __init__(self, out: Path, *, fps: float, loop: int, frame_durations: Sequence[float] | None) -> None:
        super().__init__(out)
        self.fps, self.loop = fps, loop
        self.frame_durations = list(frame_durations) if frame_durations is not None else None
        self._spool = tempfile.TemporaryFile(prefix="videostyle-gif-")
        self._shape: tuple[int, ...] | None = None

    def write(self, frame: np.ndarray) -> None:
        if self._shape is None:
            self._shape = frame.shape
        if frame.shape != self._shape:
            raise BadOutput(f"{self.out}: frame {self.frames_written + 1} has shape {frame.shape}, "
                            f"expected {self._shape}")
        self._spool.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        self.frames_written += 1

    def _frames(self) -> np.ndarray:
        assert self._shape is not None
        self._spool.flush()
        return np.memmap(self._spool, dtype=np.uint8, mode="r",
                         shape=(self.frames_written, *self._shape))

    def _finish(self) -> None:
        from PIL import Image

        frames = self._frames()
        palette = _global_palette(frames)
        images = [Image.fromarray(np.asarray(f)).quantize(palette=palette, dither=Image.Dither.NONE)
                  for f in frames]
        durations = self._durations_ms()
        images[0].save(self.partial, format="GIF", save_all=True, append_images=images[1:],
                       duration=durations, loop=self.loop, palette=bytes(palette.getpalette()[:768]),
                       disposal=1)

    def _durations_ms(self) -> list[int]:
        if self.frame_durations is not None and len(self.frame_durations) >= self.frames_written:
            return [round(d * 1000) for d in self.frame_durations[: self.frames_written]]
        return [round(1000 / self.fps)] * self.frames_written

    def _cleanup(self) -> None:
        self._spool.close()
        super()._cleanup()


def _global_palette(frames: np.ndarray):
    """A 256-colour palette image from pixels sampled evenly across every frame."""
    from PIL import Image

    count, h, w, _ = frames.shape
    stride = max(1, int(np.sqrt(count * h * w / GIF_PALETTE_SAMPLE)))
    sample = np.concatenate([np.asarray(f[::stride, ::stride]).reshape(-1, 3) for f in frames])
    side = int(np.ceil(np.sqrt(len(sample))))
    padded = np.concatenate([sample, np.repeat(sample[-1:], side * side - len(sample), axis=0)])
    mosaic = Image.fromarray(padded.reshape(side, side, 3))
    return mosaic.quantize(256, method=Image.Quantize.MEDIANCUT)


class PngSink(FrameSink):
    """A folder of ``frame_00001.png``…, moved into place when complete."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self.partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
        self.partial.mkdir()

    def write(self, frame: np.ndarray) -> None:
        import cv2

        self.frames_written += 1
        path = self.partial / f"frame_{self.frames_written:05d}.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise BadOutput(f"{path}: could not write the frame")

    def _finish(self) -> None:
        pass
