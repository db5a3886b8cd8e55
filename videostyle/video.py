"""A video job: source -> segments (``segment.py``) -> work folder -> writer.

The frames are stylized by :func:`segment.stylize_segment`, here in one chain over the
whole clip, or by Ray workers segment by segment (``distributed.py``). Finished frames go
to a work folder (see ``resume.py``) so a killed job resumes where it stopped; the output
file is written from that folder at the end, to a temporary name renamed on completion.

Everything that can be checked is checked before the work folder is touched: the output,
the work folder, the source, the styles, the weights and the memory the size needs. The
job then holds two locks until it ends, one on the output and one on the work folder, so
a second job on either is refused instead of mixing frames.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .config import ClipConfig, SegmentConfig, StyleConfig, TemporalConfig
from .errors import BadOption, DiskFull
from .io import VideoInfo, check_output, open_sink, open_source
from .io.atomic import remove_stale_partials
from .io.lock import JobLock, output_lock_path
from .optimize import Progress, Style, Stylizer
from .resume import WorkDir, check_work_dir, default_work_dir
from .segment import SegmentState, stylize_segment

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")


@dataclass(frozen=True)
class VideoProgress:
    """Sent to the callback: per optimizer evaluation (``step``) and per finished frame."""

    frame: int  # 0-based index of the frame being stylized
    frames: int | None  # total, when the source knows it
    finished: int  # frames done, including those resumed from the work folder
    resumed: int  # frames found already done when the job started
    seconds_per_frame: float | None  # mean over the frames stylized in this run
    step: Progress | None  # optimizer progress within the frame; None when a frame finished
    stage: str = "stylize"  # "stylize" or "encode"
    image: np.ndarray | None = None  # the finished frame, (H, W, 3) uint8 RGB, when one finished


@dataclass(frozen=True)
class VideoResult:
    """What a finished job reports."""

    output: Path
    frames: int
    resumed: int
    seconds: float
    seconds_per_frame: float | None
    scene_cuts: list[int]
    info: VideoInfo


VideoCallback = Callable[[VideoProgress], None]


def stylize_video(source: str | Path, output: str | Path, styles: Sequence[np.ndarray | Style], *,
                  style: StyleConfig | None = None, temporal: TemporalConfig | None = None,
                  clip: ClipConfig | None = None, force: bool = False, work_dir: str | Path | None = None,
                  restart: bool = False, keep_work: bool = False, segments: SegmentConfig | None = None,
                  callback: VideoCallback | None = None) -> VideoResult:
    """Stylize a video file, GIF or image folder into ``output`` (.mp4/.gif/folder).

    Resumable: rerunning the same call after an interruption continues from the last
    finished frame (``restart=True`` discards it, once every input has been checked).
    Finished frames are kept in ``work_dir`` (default ``.OUTPUT.videostyle`` beside the
    output), which is removed after success unless ``keep_work``; only the tool's own
    files are ever deleted (see ``resume.py``). A second job on the same output or work
    folder is refused while this one runs. ``segments`` with several workers (or a Ray
    address) stylizes segments of the clip on Ray workers (``distributed.py``); this
    process keeps the work folder and writes the output either way. Returns a
    :class:`VideoResult`.
    """
    style = style or StyleConfig()
    temporal = temporal or TemporalConfig()
    clip = clip or ClipConfig()
    segments = segments or SegmentConfig()
    out = check_output(output, force=force, kinds=("video", "gif", "folder"))
    work_path = Path(work_dir) if work_dir else default_work_dir(out)
    check_work_dir(work_path, out)
    even = out.suffix.lower() in VIDEO_SUFFIXES
    started = time.perf_counter()
    with _open(source, clip, even) as frames_in, contextlib.ExitStack() as stack:
        info = frames_in.info
        stylizer = Stylizer(styles, style)  # checks the styles, the weights and the memory here
        stylizer.check_memory(info.height, info.width)
        runtime = None
        if segments.distributed:
            from .distributed import RayRuntime

            runtime = stack.enter_context(RayRuntime(segments, styles, style, temporal, info))
            segments = dataclasses.replace(segments, workers=runtime.workers)
        settings = _settings(source, info, styles, style, temporal, clip, segments)
        output_lock = JobLock(output_lock_path(out), what=str(out),
                              advice="wait for it to finish, or choose another output")
        with output_lock, WorkDir(work_path, settings, restart=restart) as work:
            remove_stale_partials(out)  # of a job killed while writing the output
            try:
                if runtime is not None:
                    run = runtime.run(frames_in, work, callback)
                else:
                    run = _run_local(stylizer, temporal, work, info, frames_in, callback)
                _encode(source, out, work, run.frames, info, clip, force, even, callback)
            except DiskFull as full:
                raise DiskFull(full.path, "the finished frames are kept, free space and rerun to resume") from full
            if not keep_work:
                work.remove()
    elapsed = time.perf_counter() - started
    return VideoResult(output=out, frames=run.frames, resumed=run.resumed, seconds=elapsed,
                       seconds_per_frame=run.seconds_per_frame(), scene_cuts=run.cuts, info=info)


def _open(source: str | Path, clip: ClipConfig, even: bool):
    return open_source(source, start=clip.start, frames=clip.frames, duration=clip.duration,
                       fps=clip.fps, size=clip.size, even=even)


@dataclass
class RunReport:
    """What the stylizing part of a job did (local or distributed)."""

    frames: int = 0  # frames in the clip
    resumed: int = 0  # frames found finished when the job started
    cuts: list[int] = field(default_factory=list)  # indices of the frames that start a new shot
    times: list[float] = field(default_factory=list)  # seconds per frame stylized in this run
    wall: float | None = None  # distributed: wall seconds of the stylizing, over all workers

    def seconds_per_frame(self) -> float | None:
        """Mean seconds per frame of this run (distributed: wall time per frame, all workers)."""
        if self.wall is not None:
            return self.wall / len(self.times) if self.times else None
        return sum(self.times) / len(self.times) if self.times else None


class _Counted:
    """An iterator of frames that counts what it has given."""

    def __init__(self, frames: Iterable[np.ndarray]) -> None:
        self.frames, self.count = iter(frames), 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self.frames:
            self.count += 1
            yield frame


def _run_local(stylizer: Stylizer, config: TemporalConfig, work: WorkDir, info: VideoInfo,
               frames: Iterable[np.ndarray], callback: VideoCallback | None) -> RunReport:
    """One chain over the whole clip in this process, from the first unfinished frame."""
    run = RunReport(resumed=work.finished_frames())
    state = load_chain_state(work, run.resumed, config) if run.resumed > 0 else None

    def report(index: int, step: Progress | None, image: np.ndarray | None = None) -> None:
        if callback is not None:
            callback(VideoProgress(
                frame=index, frames=info.frame_count, finished=index + (step is None),
                resumed=run.resumed, seconds_per_frame=run.seconds_per_frame(), step=step, image=image))

    counted = _Counted(frames)
    for done in stylize_segment(stylizer, counted, config=config, begin=run.resumed, state=state,
                                progress=report):
        if done.cut and done.index > 0:
            run.cuts.append(done.index)
        work.save(done.index, done.image, done.state, since_restart=done.since_restart,
                  keep_states=config.history + 1)
        run.times.append(done.seconds)
        report(done.index, None, done.image)
    run.frames = counted.count
    if run.frames == 0:
        raise BadOption(f"{info.path}: no frames in the selected range; check --start and --duration")
    return run


def load_chain_state(work: WorkDir, index: int, config: TemporalConfig) -> SegmentState | None:
    """The state an uninterrupted chain would hold before frame ``index``: the newest float
    result, and as many before it as the history keeps, back to the last restart; None when
    the newest was not kept (frame ``index`` then starts afresh)."""
    latest = work.load_state(index - 1)
    if latest is None:
        return None
    image, since_restart = latest
    results = [image]
    for back in range(2, min(since_restart, config.history) + 1):
        older = work.load_state(index - back)
        if older is None:
            break
        results.append(older[0])
    return SegmentState(results=tuple(results), since_restart=since_restart)


def _encode(source: str | Path, out: Path, work: WorkDir, count: int, info: VideoInfo, clip: ClipConfig,
            force: bool, even: bool, callback: VideoCallback | None) -> None:
    """Write the finished frames from the work folder into the output."""
    durations = info.frame_durations[:count] if info.frame_durations else None
    audio = str(source) if info.has_audio else None
    originals = iter(_open(source, clip, even)) if clip.side_by_side else None
    with open_sink(out, fps=info.fps, force=force, audio_from=audio, audio_start=clip.start,
                   audio_duration=count / info.fps, quality=clip.quality, loop=clip.loop,
                   frame_durations=durations) as sink:
        for index in range(count):
            frame = work.load_frame(index)
            if originals is not None:
                frame = np.hstack([next(originals), frame])
            sink.write(frame)
            if callback is not None:
                callback(VideoProgress(frame=index, frames=count, finished=count, resumed=0,
                                       seconds_per_frame=None, step=None, stage="encode"))


def _settings(source: str | Path, info: VideoInfo, styles: Sequence[np.ndarray | Style], style: StyleConfig,
              temporal: TemporalConfig, clip: ClipConfig, segments: SegmentConfig) -> dict:
    """Everything that shapes the frames, for the work folder's mismatch check."""
    digest = hashlib.sha256()
    for item in styles:
        s = item if isinstance(item, Style) else Style(item)
        digest.update(np.ascontiguousarray(s.image).tobytes())
        digest.update(f"{s.image.shape}:{s.weight}".encode())
    src = Path(source)
    stat = src.stat() if src.exists() else None
    frame_settings = asdict(clip)
    for encode_only in ("quality", "loop", "side_by_side"):
        frame_settings.pop(encode_only)
    style_settings = asdict(style)
    style_settings.pop("iterations")  # still images only: frames use the temporal budget
    settings = {"source": str(src.resolve()), "source_bytes": stat.st_size if stat else None,
                "source_mtime": stat.st_mtime if stat else None, "size": [info.width, info.height],
                "styles": digest.hexdigest(), "style": style_settings, "temporal": asdict(temporal),
                "clip": frame_settings, "version": __version__}
    if segments.distributed:  # the split shapes the frames; where the workers run does not
        settings["segments"] = {"workers": segments.workers, "max_length": segments.max_length,
                                "overlap": segments.overlap, "bridge_iterations": segments.bridge_iterations,
                                "start_iterations": segments.segment_start_iterations(temporal)}
    return settings
