"""Frame sources: video files and animated GIFs (decoded by ffmpeg), image folders and globs.

Every source is a context manager and an iterator of (H, W, 3) uint8 RGB frames, with a
:class:`VideoInfo` available as soon as it is open. ffmpeg is the one shipped by
``imageio-ffmpeg``; no system ffmpeg is needed.
"""

from __future__ import annotations

import glob
import re
import signal
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import BadOption, BadSource, DecoderFailed, S, VideostyleWarning
from .ffmpeg import ffmpeg_exe, ffmpeg_path, ffmpeg_reason
from .images import STILL_SUFFIXES, cover_frame, fit_size, read_image

DEFAULT_FOLDER_FPS = 24.0  # an image folder has no rate of its own
GIF_MIN_DELAY = 0.02  # GIF frames shorter than this are shown for GIF_DEFAULT_DELAY, as
GIF_DEFAULT_DELAY = 0.1  # ffmpeg and browsers play them


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a source, for the frames it yields (after trim, resample, resize)."""

    path: str
    width: int
    height: int
    fps: float
    frame_count: int | None  # None when unknown before decoding
    duration: float | None  # seconds
    has_audio: bool
    rotation: int = 0  # degrees, as applied by the decoder
    is_gif: bool = False
    frame_durations: tuple[float, ...] | None = None  # seconds per frame (GIFs)
    stream: int | None = None  # the index of the video stream decoded (``-map 0:N``)
    audio_streams: int = 0


def natural_key(path: str | Path) -> list:
    """Sort key that puts img2 before img10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(path))]


# -- probing --------------------------------------------------------------------------------
# ffmpeg -i's report is parsed by its structure, never by searching free text: a metadata
# value (a comment, a title) or the file name may hold any words. The Input block's own
# lines are at two spaces ("  Duration: ...", "  Stream #0:N..."); metadata keys are padded
# to 16 characters and a value's further lines start with ":", so neither can look like them.
_DURATION_LINE = re.compile(r"  Duration: (?:(\d+):(\d+):(\d+(?:\.\d+)?)|N/A)")
_STREAM_LINE = re.compile(r"  Stream #0:(\d+)[^:]*: (\w+): (.*)")
_SIZE = re.compile(r"(?:^|, )(\d+)x(\d+)(?=$|[ ,])")
_SAR = re.compile(r"\[SAR (\d+):(\d+) DAR \d+:\d+\]")
_FPS = re.compile(r", (\d+(?:\.\d+)?)(k?) fps(?=,|$| )")
_TBR = re.compile(r", (\d+(?:\.\d+)?)(k?) tbr(?=,|$| )")
_DISPLAY_MATRIX = re.compile(r"(?:displaymatrix|Display Matrix): rotation of (-?\d+(?:\.\d+)?) degrees$")


@dataclass(frozen=True)
class _Stream:
    """One ``Stream #0:N`` of ffmpeg's report: its kind, the text after the kind, its side data."""

    index: int
    kind: str  # Video, Audio, Subtitle, Data, Attachment
    text: str
    side_data: tuple[str, ...]

    @property
    def attached_pic(self) -> bool:
        return self.text.endswith("(attached pic)")

    @property
    def default(self) -> bool:
        return "(default)" in self.text.rsplit("]", 1)[-1]


def _report(text: str) -> tuple[list[_Stream], float | None, bool]:
    """The first input's streams, its duration, and whether an Input block was there at all."""
    streams: list[_Stream] = []
    duration: float | None = None
    seen_input = False
    side: list[str] | None = None
    current: tuple[int, str, str] | None = None
    in_side_data = False

    def flush() -> None:
        if current is not None:
            streams.append(_Stream(*current, tuple(side or ())))

    for line in text.splitlines():
        if line.startswith("Input #"):
            if seen_input:
                break  # only the first input
            seen_input = True
            continue
        if not seen_input:
            continue
        if line and not line.startswith(" "):
            break  # the end of the Input block ("At least one output file ...")
        stream = _STREAM_LINE.match(line)
        if stream:
            flush()
            current, side, in_side_data = (int(stream.group(1)), stream.group(2), stream.group(3).strip()), [], False
            continue
        if line.startswith("  ") and not line.startswith("   "):  # another line of the Input block
            flush()
            current, side, in_side_data = None, None, False
            match = _DURATION_LINE.match(line)
            if match and match.group(1) is not None:
                duration = int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3))
            continue
        if current is not None and side is not None:
            stripped = line.strip()
            if stripped in ("Side data:", "Metadata:"):
                in_side_data = stripped == "Side data:"
            elif in_side_data:
                side.append(stripped)
    flush()
    return streams, duration, seen_input


def _pick_video(streams: list[_Stream]) -> _Stream | None:
    """The clip itself: not a cover picture or thumbnail (an attached picture), the stream
    marked default when there are several, else the first."""
    moving = [s for s in streams if s.kind == "Video" and not s.attached_pic]
    defaults = [s for s in moving if s.default]
    chosen = defaults or moving
    return chosen[0] if chosen else None


def probe(path: str | Path) -> VideoInfo:
    """Read a video's metadata without decoding it (frame count from a fast stream copy)."""
    file = Path(path)
    if not file.is_file():
        raise BadSource(f"{file}: no such file")
    if file.stat().st_size == 0:
        raise BadSource(f"{file}: file is empty (0 bytes)")
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", ffmpeg_path(file)], capture_output=True,
                          text=True, errors="replace").stderr
    streams, duration, seen_input = _report(text)
    video = _pick_video(streams)
    has_audio = any(s.kind == "Audio" for s in streams)
    if video is None and any(s.kind == "Video" for s in streams):
        what = "audio with a still picture (cover art)" if has_audio else "a still picture"
        raise BadSource(f"{file}: is {what}, not a video: there are no moving frames to stylize")
    if video is None and seen_input:
        raise BadSource(f"{file}: no frames could be decoded (the file has no video stream)")
    if video is None:
        raise BadSource(f"{file}: not a video ffmpeg can read ({ffmpeg_reason(text)}); "
                        "check that it is a complete video file")
    size = _SIZE.search(video.text)
    if size is None:
        raise BadSource(f"{file}: ffmpeg reports no picture size for its video stream #{video.index}")
    stored_w, stored_h = int(size.group(1)), int(size.group(2))
    width, height = stored_w, stored_h
    sar = _SAR.search(video.text)
    if sar and int(sar.group(1)) > 0 and int(sar.group(2)) > 0 and sar.group(1) != sar.group(2):
        width = max(1, round(stored_w * int(sar.group(1)) / int(sar.group(2))))  # the display aspect
    rate = _FPS.search(video.text) or _TBR.search(video.text)
    fps = _snap_rate(float(rate.group(1)) * (1000 if rate.group(2) else 1)) if rate else 25.0
    rotation = 0
    for entry in video.side_data:
        matrix = _DISPLAY_MATRIX.match(entry)
        if matrix:
            rotation = int(round(float(matrix.group(1)))) % 360
            break
    if rotation in (90, 270):
        width, height = height, width
    is_gif = video.text.startswith("gif")
    durations = _gif_durations(file) if is_gif else None
    if durations:
        count: int | None = len(durations)
        duration = sum(durations)
        fps = len(durations) / duration if duration else fps
    else:
        count = _count_frames(file, video.index)
        if count == 0:
            raise BadSource(f"{file}: no frames could be decoded (the video stream is empty or damaged)")
    return VideoInfo(path=str(file), width=width, height=height, fps=fps, frame_count=count,
                     duration=duration, has_audio=has_audio, rotation=rotation, is_gif=is_gif,
                     frame_durations=durations, stream=video.index,
                     audio_streams=sum(s.kind == "Audio" for s in streams))


def _snap_rate(rate: float) -> float:
    """ffmpeg prints rates to 2 decimals: restore NTSC rates (29.97 is 30000/1001) so that
    resampling a long clip at the printed rate does not drift and drop a frame."""
    ntsc = rate * 1.001
    if abs(rate - round(rate)) > 1e-3 and abs(ntsc - round(ntsc)) < 0.006:
        return round(ntsc) * 1000 / 1001
    return rate


def _count_frames(file: Path, stream: int) -> int | None:
    """Frames in stream ``stream``, from a stream copy (no decoding), read from ffmpeg's
    machine-readable -progress report."""
    try:
        result = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-nostats", "-i", ffmpeg_path(file),
                                 "-map", f"0:{stream}", "-c", "copy", "-f", "null", "-progress", "pipe:1", "-"],
                                capture_output=True, text=True, errors="replace", timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return None
    counts = [line[len("frame="):] for line in result.stdout.splitlines() if line.startswith("frame=")]
    try:
        return int(counts[-1]) if counts else None
    except ValueError:
        return None


def _gif_durations(file: Path) -> tuple[float, ...] | None:
    from PIL import Image

    try:
        with Image.open(file) as image:
            durations = []
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                seconds = image.info.get("duration", 0) / 1000.0
                durations.append(seconds if seconds >= GIF_MIN_DELAY else GIF_DEFAULT_DELAY)
            return tuple(durations)
    except (OSError, ValueError):
        return None


def is_pattern(text: str) -> bool:
    """Whether ``text`` has glob characters; it is read as a glob only when no file or folder
    has that very name (downloads are called ``clip [HD].mp4`` or ``what?.mp4``)."""
    return any(ch in text for ch in "*?[")


def source_files(path: str | Path) -> list[Path]:
    """The files a source reads: the file itself, a folder's images, a glob's matches."""
    text = str(path)
    if Path(text).is_dir():
        return [Path(text), *(p for p in Path(text).iterdir() if p.suffix.lower() in STILL_SUFFIXES and p.is_file())]
    if is_pattern(text) and not Path(text).exists():
        return [Path(f) for f in glob.glob(text) if Path(f).is_file()]
    return [Path(text)]


# -- sources --------------------------------------------------------------------------------
def open_source(path: str | Path, *, start: float = 0.0, frames: int | None = None,
                duration: float | None = None, fps: float | None = None, size: int | None = None,
                even: bool = False, background: int | None = None) -> FrameSource:
    """Open a video file, animated GIF, folder of images or glob pattern for reading.

    ``start`` skips seconds, ``frames``/``duration`` limit what is read, ``fps`` resamples,
    ``size`` is the longest side of the frames yielded (``even`` makes both sides even).
    ``background``: the grey level transparent pixels are composited over (a mask reads
    them as 0); None: a folder's pictures over white (see :func:`read_image`), a video's
    colour under them as it is.
    """
    if frames is not None and frames <= 0:
        raise BadOption(S.frames, f" {frames}: must be at least 1")
    if fps is not None and fps <= 0:
        raise BadOption(S.fps, f" {fps}: must be > 0")
    if duration is not None and duration <= 0:
        raise BadOption(S.duration, f" {duration}: must be > 0")
    if start < 0:
        raise BadOption(S.start, f" {start}: must be >= 0")
    text = str(path)
    if Path(text).is_dir() or (is_pattern(text) and not Path(text).exists()):
        return ImageSequenceSource(text, start=start, frames=frames, duration=duration, fps=fps,
                                   size=size, even=even, background=255 if background is None else background)
    return VideoFileSource(text, start=start, frames=frames, duration=duration, fps=fps, size=size, even=even,
                           background=background)


class FrameSource:
    """Base: a context manager and iterator of (H, W, 3) uint8 RGB frames with ``info``."""

    info: VideoInfo

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds (an ffmpeg process); safe to call twice."""


class VideoFileSource(FrameSource):
    """A file ffmpeg decodes, piped as raw RGB frames."""

    def __init__(self, path: str, *, start: float, frames: int | None, duration: float | None,
                 fps: float | None, size: int | None, even: bool, background: int | None = None) -> None:
        base = probe(path)
        self.background = background  # None: RGB as decoded; else alpha composited over this grey
        width, height = fit_size(base.width, base.height, size, even=even)
        rate = fps or base.fps
        self.frame_limit = frames
        # accurate_rnd + full_chroma_int: upsample 4:2:0 chroma smoothly. swscale's default
        # repeats each chroma sample over 2x2 pixels, blocky colour edges that flicker as
        # the picture moves (it doubled the measured E_warp of stylized 160 px clips).
        self._filters = [f"scale={width}:{height}:flags=area+accurate_rnd+full_chroma_int"]
        if fps is not None or not base.is_gif:
            self._filters.insert(0, f"fps={rate:.10g}")  # constant rate out, also from VFR input
        self._start, self._duration = start, duration
        count = base.frame_count
        durations = base.frame_durations
        if durations is not None and fps is None:
            skip = _frames_before(durations, start)
            durations = durations[skip:]
            if duration is not None:
                durations = durations[: max(1, _frames_before(durations, duration))]
            durations = durations[:frames] if frames else durations
            count = len(durations)
        elif base.duration is not None:
            if start and start >= base.duration:
                raise BadOption(S.start, f" {start:g}: past the end of {path} ({base.duration:g} s long)")
            remaining = max(0.0, base.duration - start)
            if duration is not None:
                remaining = min(remaining, duration)
            count = round(remaining * rate)
            if count == 0 and duration is not None and duration * rate < 0.5:
                raise BadOption(S.duration, f" {duration:g}: shorter than one frame at {rate:g} fps "
                                f"(1 frame is {1 / rate:.3g} s)")
            if count == 0 and fps is not None:
                raise BadOption(S.fps, f" {fps:g}: gives no frame in the {remaining:.3g} s of {path} read "
                                f"(one frame every {1 / fps:.3g} s)")
            count = min(count, frames) if frames else count
        gif_timing = tuple(durations) if durations is not None and fps is None else None
        self.info = replace(base, width=width, height=height, fps=rate, frame_count=count,
                            duration=count / rate if count is not None else None, frame_durations=gif_timing)
        self._process: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        cmd = [ffmpeg_exe(), "-v", "error", "-nostdin"]
        if self._start:
            cmd += ["-ss", f"{self._start:.6f}"]
        cmd += ["-i", ffmpeg_path(self.info.path)]
        if self._duration is not None:
            cmd += ["-t", f"{self._duration:.6f}"]
        if self.info.stream is not None:
            cmd += ["-map", f"0:{self.info.stream}"]  # the clip, never a cover picture or thumbnail
        cmd += ["-an", "-sn", "-vf", ",".join(self._filters)]
        if self.info.is_gif and "fps=" not in self._filters[0]:
            cmd += ["-fps_mode", "passthrough"]
        if self.frame_limit:
            cmd += ["-frames:v", str(self.frame_limit)]
        channels = 3 if self.background is None else 4
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24" if channels == 3 else "rgba", "-"]
        w, h = self.info.width, self.info.height
        frame_bytes = w * h * channels
        # a file, not a pipe: however much ffmpeg complains, it cannot block; closed in close()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log,
                                         start_new_session=True)
        produced = 0
        try:
            assert self._process.stdout is not None
            while True:
                data = self._process.stdout.read(frame_bytes)
                if len(data) < frame_bytes:
                    break  # end of stream
                produced += 1
                frame = np.frombuffer(bytearray(data), np.uint8).reshape(h, w, channels)  # writable
                yield frame if channels == 3 else _over(frame, self.background or 0)
            if produced == 0:
                self._check_nothing_decoded()
            else:
                self._check_decoder_died(produced)
                self._check_ended_early(produced)
        finally:
            self.close()

    def _check_nothing_decoded(self) -> None:
        """No frame came out: an error, unless the file decoded cleanly and the start is past its end."""
        assert self._process is not None and self._log is not None
        if self._process.wait() == 0 and self._start:
            return
        raise BadSource(f"{self.info.path}: no frames could be decoded ({self._reason()}); is the file complete?")

    def _check_decoder_died(self, produced: int) -> None:
        """ffmpeg killed (the OOM killer, a signal) or failing mid-stream is a run-time
        failure, never a short result that looks complete."""
        assert self._process is not None
        code = self._process.wait()
        if code == 0:
            return
        if code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
            how += " (out of memory?)" if -code == signal.SIGKILL else ""
        else:
            how = f"failed with exit code {code} ({self._reason()})"
        raise DecoderFailed(f"{self.info.path}: the decoder (ffmpeg) {how} after {produced} frames; "
                            "the finished frames are kept: rerun to resume")

    def _check_ended_early(self, produced: int) -> None:
        """Warn when a damaged file (a truncated download) gave fewer frames than its header
        announces. Fewer frames from a file that decoded cleanly are not a warning: a
        container's duration also covers an audio track that outlasts the video."""
        expected = self.info.frame_count
        assert self._process is not None
        self._process.wait()
        if expected is None or produced >= expected or not self._reason(default=""):
            return
        warnings.warn(f"{self.info.path}: the video ends after {produced} frames, its header announces "
                      f"{expected}; the file looks damaged or truncated ({self._reason()}): "
                      f"the result has {produced} frames", VideostyleWarning, stacklevel=2)

    def _reason(self, default: str = "no message from ffmpeg") -> str:
        """ffmpeg's last complaint while decoding, or ``default`` when it had none."""
        assert self._log is not None
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        return ffmpeg_reason(text) if text.strip() else default

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        log, self._log = self._log, None
        if log is not None:
            log.close()


def _over(rgba: np.ndarray, background: int) -> np.ndarray:
    """(H, W, 4) uint8 RGBA composited over the grey level ``background``: (H, W, 3) uint8 RGB."""
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    return (rgba[..., :3] * alpha + background * (1.0 - alpha) + 0.5).astype(np.uint8)


def _frames_before(durations: tuple[float, ...] | list[float], seconds: float) -> int:
    elapsed, index = 0.0, 0
    while index < len(durations) and elapsed + 1e-9 < seconds:
        elapsed += durations[index]
        index += 1
    return index


class ImageSequenceSource(FrameSource):
    """A folder of numbered images (every still format :func:`read_image` decodes, see
    ``STILL_SUFFIXES``, in any letter case), or a glob, in natural order.

    Every frame gets the first image's size: an image of another size is scaled, keeping
    its aspect ratio, to cover that size and its centre is kept (no stretching, no bars);
    a warning says so once.
    """

    def __init__(self, pattern: str, *, start: float, frames: int | None, duration: float | None,
                 fps: float | None, size: int | None, even: bool, background: int = 255) -> None:
        self.background = background
        if Path(pattern).is_dir():
            files = [str(p) for p in Path(pattern).iterdir() if p.suffix.lower() in STILL_SUFFIXES and p.is_file()]
        else:
            files = [f for f in glob.glob(pattern) if Path(f).is_file()]
        files = sorted(set(files), key=natural_key)
        if not files:
            raise BadSource(f"{pattern}: no images found (looked for {' '.join(STILL_SUFFIXES)})")
        rate = fps or DEFAULT_FOLDER_FPS
        first = int(round(start * rate))
        count = len(files) - first
        if duration is not None:
            count = min(count, max(1, int(round(duration * rate))))
        if frames is not None:
            count = min(count, frames)
        if count <= 0:
            raise BadSource(f"{pattern}: no frames after ", S.start, f" {start} "
                            f"({len(files)} images at {rate:g} fps)")
        self.files = files[first: first + count]
        sample = read_image(self.files[0], background=background)
        self._first_size = (sample.shape[1], sample.shape[0])
        width, height = fit_size(*self._first_size, size, even=even)
        self.info = VideoInfo(path=pattern, width=width, height=height, fps=rate, frame_count=count,
                              duration=count / rate, has_audio=False)

    def __iter__(self) -> Iterator[np.ndarray]:
        warned = False
        for file in self.files:
            image = read_image(file, background=self.background)
            if not warned and (image.shape[1], image.shape[0]) != self._first_size:
                warned = True
                first_w, first_h = self._first_size
                warnings.warn(f"{self.info.path}: images of different sizes ({Path(file).name} is "
                              f"{image.shape[1]}x{image.shape[0]}, the first is {first_w}x{first_h}): each "
                              f"frame is scaled to cover {self.info.width}x{self.info.height} and its centre "
                              "is kept (no stretching, no bars)", VideostyleWarning, stacklevel=2)
            yield cover_frame(image, self.info.width, self.info.height)
