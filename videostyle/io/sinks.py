"""Frame sinks: video (H.264 in .mp4/.mov/.mkv, VP9 in .webm, with the source's audio), animated
GIF (one global palette), a folder of PNGs.

Each sink is a context manager that writes to a temporary name beside the output and
renames it (fsynced, see ``atomic.py``) only when the ``with`` block ends without an
exception; an interrupted or failed write leaves the output untouched and no temporary
file behind. A full disk is a DiskFull error. ffmpeg is given every path through
:func:`ffmpeg_path`, so no file name is read as a protocol or an option.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Sequence
from itertools import accumulate, pairwise
from pathlib import Path

import numpy as np

from ..config import declared
from ..errors import BadOutput, DiskFull, VideostyleWarning
from .atomic import discard, partial_path, replace_atomic, write_error
from .ffmpeg import ffmpeg_exe, ffmpeg_path, h264_encoder
from .outputs import check_frame_folder, check_output, output_kind


def open_sink(path: str | Path, *, fps: float, force: bool = False, audio_from: str | None = None,
              audio_start: float = 0.0, audio_duration: float | None = None, crf: int = declared("crf"),
              loop: int = 0, frame_durations: Sequence[float] | None = None,
              verify: Callable[[], None] | None = None) -> FrameSink:
    """A writer chosen by the output name: .mp4/.mov/.mkv/.webm, .gif, or a folder/ of PNGs.

    ``crf`` is a video's quality (lower is better and bigger). ``audio_from`` (a video)
    muxes that file's audio, from ``audio_start`` for ``audio_duration`` seconds.
    ``frame_durations`` gives each frame's duration in seconds instead of 1/fps (a GIF's own
    delays; a video then has a variable frame rate); ``loop`` 0 loops forever. ``verify`` is
    called once the file is complete, before it is moved into place: an exception from it
    leaves the output untouched.
    """
    out = check_output(path, force=force, kinds=("video", "gif", "folder"))
    if fps <= 0:
        raise BadOutput(f"{out}: frame rate must be > 0 (got {fps})")
    kind = output_kind(path)
    sink: FrameSink
    if kind == "video":
        sink = VideoSink(out, fps=fps, audio_from=audio_from, audio_start=audio_start,
                         audio_duration=audio_duration, crf=crf, frame_durations=frame_durations)
    elif kind == "gif":
        sink = GifSink(out, fps=fps, loop=loop, frame_durations=frame_durations)
    else:
        sink = PngSink(out)
    sink.verify = verify
    return sink


class FrameSink:
    """Base: ``write(frame)`` (H, W, 3) uint8 RGB; finished on ``close()`` / ``__exit__``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.partial = partial_path(out)
        self.frames_written = 0
        self.verify: Callable[[], None] | None = None  # see open_sink
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
            if self.verify is not None:
                self.verify()
            replace_atomic(self.partial, self.out)
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
        discard(self.partial)

    def _ffmpeg_failed(self, what: str, message: str) -> BadOutput:
        """The error for an ffmpeg run that failed with ``message`` (its last line)."""
        if "No space left on device" in message or "Disk quota exceeded" in message:
            return DiskFull(self.out)
        return BadOutput(f"{self.out}: ffmpeg {what}: {message}")


class VideoSink(FrameSink):
    """H.264 (VP9 for .webm) in yuv420p through an ffmpeg pipe, with the source's audio muxed back in."""

    def __init__(self, out: Path, *, fps: float, audio_from: str | None, audio_start: float,
                 audio_duration: float | None, crf: int,
                 frame_durations: Sequence[float] | None = None) -> None:
        super().__init__(out)
        self.fps, self.crf = fps, crf
        self.audio = (audio_from, audio_start, audio_duration) if audio_from else None
        self.timing = _variable_timing(frame_durations, out) if frame_durations else None
        self._process: subprocess.Popen | None = None
        self._size: tuple[int, int] | None = None

    def _start(self, width: int, height: int) -> None:
        # with a variable timing the input rate is only the last frame's duration: setpts gives the rest
        rate = f"{MS}/{self.timing[1]}" if self.timing else f"{self.fps:.10g}"
        cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", rate, "-i", "-"]
        if self.audio is not None:
            source, start, duration = self.audio
            cmd += ["-ss", f"{start:.6f}"]
            if duration is not None:
                cmd += ["-t", f"{duration:.6f}"]
            cmd += ["-i", ffmpeg_path(source), "-map", "0:v:0", "-map", "1:a?"]  # every audio track
        if self.timing is not None:  # output options: after every input
            cmd += ["-vf", f"settb=1/{MS},setpts='{self.timing[0]}'", "-fps_mode", "passthrough",
                    "-enc_time_base:v", f"1/{MS}"]
        cmd += [*_codec_args(self.out.suffix.lower(), self.crf), "-pix_fmt", "yuv420p"]
        if self.out.suffix.lower() in (".mp4", ".mov"):
            cmd += ["-movflags", "+faststart"]
        # A session of its own: Ctrl-C in a terminal must not kill ffmpeg before we finish the file.
        self._process = subprocess.Popen([*cmd, ffmpeg_path(self.partial)], stdin=subprocess.PIPE,
                                         stderr=subprocess.PIPE, start_new_session=True)
        self._size = (width, height)

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._process is None:
            self._start(w + w % 2, h + h % 2)
        assert self._size is not None
        if self._size != (w + w % 2, h + h % 2):
            raise BadOutput(f"{self.out}: frame {self.frames_written + 1} is {w}x{h}, "
                            f"the video is {self._size[0]}x{self._size[1]}")
        assert self._process is not None and self._process.stdin is not None
        # yuv420p needs even sides: repeat the last column/row rather than add a black edge
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        try:
            self._process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        except BrokenPipeError as exc:
            raise self._ffmpeg_failed("stopped", self._errors()) from exc
        self.frames_written += 1

    def _finish(self) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.close()
        if self._process.wait() != 0:
            raise self._ffmpeg_failed("failed", self._errors())

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
                    with contextlib.suppress(BrokenPipeError):  # unflushed frames for a killed ffmpeg
                        stream.close()
            self._process = None
        super()._cleanup()


class GifSink(FrameSink):
    """Animated GIF with one global palette built from the whole clip.

    Frames are spooled to a temporary file (not RAM); at close ffmpeg builds a 256-colour
    palette from every pixel of every frame, then maps all frames onto it with ordered
    (Bayer) dithering, which does not crawl from frame to frame as error diffusion does.
    Each frame keeps its own duration, to the GIF's 1/100 s.
    """

    def __init__(self, out: Path, *, fps: float, loop: int, frame_durations: Sequence[float] | None) -> None:
        super().__init__(out)
        self.fps, self.loop = fps, loop
        self.frame_durations = list(frame_durations) if frame_durations is not None else []
        try:
            self._spool = tempfile.TemporaryFile(prefix="videostyle-gif-")  # noqa: SIM115 -- closed in _cleanup
        except OSError as exc:
            raise write_error(Path(tempfile.gettempdir()), exc) from exc
        self._palette = self.partial.with_suffix(".palette.png")
        self._shape: tuple[int, ...] | None = None

    def write(self, frame: np.ndarray) -> None:
        if self._shape is None:
            self._shape = frame.shape
        if frame.shape != self._shape:
            raise BadOutput(f"{self.out}: frame {self.frames_written + 1} has shape {frame.shape}, "
                            f"expected {self._shape}")
        try:
            self._spool.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        except OSError as exc:  # the spool lives in the temporary folder, which can fill up too
            raise write_error(Path(tempfile.gettempdir()), exc) from exc
        self.frames_written += 1

    def _finish(self) -> None:
        assert self._shape is not None
        height, width = self._shape[:2]
        raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-i", "-"]
        self._ffmpeg([*raw, "-vf", "palettegen=stats_mode=full", "-frames:v", "1", "-update", "1",
                      ffmpeg_path(self._palette)])
        self._ffmpeg([*raw, "-i", ffmpeg_path(self._palette), "-lavfi", "[0:v][1:v]paletteuse=dither=bayer",
                      "-fps_mode", "passthrough", "-loop", str(self.loop), "-f", "gif", ffmpeg_path(self.partial)])
        data = bytearray(self.partial.read_bytes())
        _set_gif_delays(data, _centiseconds(self._durations()), self.out)
        try:
            with open(self.partial, "r+b") as fh:  # the delays change a few bytes in place
                fh.write(data)
        except OSError as exc:
            raise write_error(self.out, exc) from exc

    def _ffmpeg(self, args: list[str]) -> None:
        """Run ffmpeg on the spooled frames (read from the start, as its stdin)."""
        try:
            self._spool.flush()  # the last frames reach the temporary folder's disk only now
            self._spool.seek(0)
        except OSError as exc:
            raise write_error(Path(tempfile.gettempdir()), exc) from exc
        result = subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], stdin=self._spool,
                                capture_output=True, start_new_session=True)
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip() or "no message"
            raise self._ffmpeg_failed("failed", message.splitlines()[-1])

    def _durations(self) -> list[float]:
        """``frame_durations`` for the frames they cover, 1/fps for the rest."""
        given = self.frame_durations[: self.frames_written]
        return given + [1 / self.fps] * (self.frames_written - len(given))

    def _cleanup(self) -> None:
        with contextlib.suppress(OSError):  # a full temporary folder: the spool is dropped anyway
            self._spool.close()
        self._palette.unlink(missing_ok=True)
        super()._cleanup()


def _centiseconds(durations: Sequence[float]) -> list[int]:
    """GIF delays (1/100 s) rounded on the running total, so a clip's length does not drift;
    at least 2, since browsers show shorter delays as 1/10 s."""
    ends = [round(seconds * 100) for seconds in accumulate(durations, initial=0.0)]
    return [max(2, end - begin) for begin, end in pairwise(ends)]


def _set_gif_delays(data: bytearray, delays: list[int], out: Path) -> None:
    """Write each frame's delay into its Graphic Control Extension (ffmpeg writes one per frame)."""
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # header, screen, global palette
    controls = []
    while data[pos] != 0x3B:  # trailer
        if data[pos] == 0x21:  # extension: introducer, label, sub-blocks
            if data[pos + 1] == 0xF9:
                controls.append(pos + 4)
            pos += 2
        else:  # image: descriptor, local palette if any, LZW code size, sub-blocks
            image_flags = data[pos + 9]
            pos += 10 + (3 << ((image_flags & 7) + 1) if image_flags & 0x80 else 0) + 1
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    if len(controls) != len(delays):
        raise BadOutput(f"{out}: ffmpeg wrote {len(controls)} GIF frames for {len(delays)}")
    for offset, delay in zip(controls, delays, strict=True):
        data[offset: offset + 2] = delay.to_bytes(2, "little")


MS = 1000  # the time base of a variable-rate video: milliseconds (GIF delays are 10 ms steps)
MAX_TIMING_EXPRESSION = 100_000  # characters: one command-line argument stays under Linux's 128 KiB


def _variable_timing(durations: Sequence[float], out: Path) -> tuple[str, int] | None:
    """For frames of uneven durations (a GIF's delays): ffmpeg's ``setpts`` expression that
    gives frame N its start time in milliseconds, and the last frame's duration; None when
    the frames are evenly spaced (a constant rate says it all).

    The starts are rounded on the running total, so the clip's length does not drift. The
    expression is a balanced tree of ``if(lt(N, first frame of a run), ...)`` over the runs
    of equal durations, so ffmpeg evaluates a few comparisons per frame; frames past the
    list continue its last run. A timing too irregular to fit in one argument is written
    at the average rate (the same total duration), with a warning.
    """
    ends = [round(seconds * MS) for seconds in accumulate(durations, initial=0.0)]
    steps = [max(1, end - begin) for begin, end in pairwise(ends)]
    starts = list(accumulate(steps, initial=0))
    if len(set(steps)) <= 1:
        return None
    runs = [(index, starts[index], step) for index, step in enumerate(steps) if index == 0 or step != steps[index - 1]]

    def tree(lo: int, hi: int) -> str:
        if hi - lo == 1:
            first, start, step = runs[lo]
            return f"{start}+{step}*(N-{first})"
        mid = (lo + hi) // 2
        return f"if(lt(N,{runs[mid][0]}),{tree(lo, mid)},{tree(mid, hi)})"

    expression = tree(0, len(runs))
    if len(expression) > MAX_TIMING_EXPRESSION:
        warnings.warn(f"{out}: the {len(steps)} frame durations change {len(runs)} times, too often to keep "
                      f"each: the video plays at the average rate, {len(steps) / (ends[-1] / MS):.4g} fps, "
                      "for the same total duration (write a .gif to keep every delay)", VideostyleWarning,
                      stacklevel=3)
        return None
    return expression, steps[-1]


def _codec_args(suffix: str, crf: int) -> list[str]:
    """Encoders for the container: VP9 + Opus in .webm, else H.264 (or MPEG-4) + AAC."""
    if suffix == ".webm":
        return ["-c:v", "libvpx-vp9", "-crf", str(crf), "-b:v", "0", "-c:a", "libopus"]
    encoder = h264_encoder()
    quality = ["-crf", str(crf)] if encoder == "libx264" else ["-q:v", "3"]
    return ["-c:v", encoder, *quality, "-c:a", "aac"]


class PngSink(FrameSink):
    """A folder of ``frame_00001.png``…, moved into place when complete."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        check_frame_folder(out)
        self.partial = partial_path(out)
        try:
            self.partial.mkdir()
        except OSError as exc:
            raise write_error(out, exc) from exc

    def write(self, frame: np.ndarray) -> None:
        import cv2

        path = self.partial / f"frame_{self.frames_written + 1:05d}.png"
        ok, png = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if not ok:
            raise BadOutput(f"{path}: could not encode the frame")
        try:  # the folder is private until its rename, which syncs every file first
            path.write_bytes(png.tobytes())
        except OSError as exc:
            raise write_error(self.out, exc) from exc
        self.frames_written += 1

    def _finish(self) -> None:
        pass
