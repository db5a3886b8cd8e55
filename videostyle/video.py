"""The frame loop: source -> flow/init -> optimize -> work folder -> writer.

Optical flow for the next frames is computed in a background thread while the optimizer
works on the current one. Finished frames go to a work folder (see ``resume.py``) so a
killed job resumes where it stopped; the output file is written from that folder at the
end, to a temporary name renamed on completion.

Everything that can be checked is checked before the work folder is touched: the output,
the work folder, the source, the styles, the weights and the memory the size needs. The
job then holds two locks until it ends, one on the output and one on the work folder, so
a second job on either is refused instead of mixing frames.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .config import ClipConfig, StyleConfig, TemporalConfig
from .errors import BadOption, DiskFull
from .flow import FlowEstimator, FlowResult, flow_between, is_scene_cut
from .frames import float_to_frame
from .io import VideoInfo, check_output, open_sink, open_source
from .io.atomic import remove_stale_partials
from .io.lock import JobLock, output_lock_path
from .optimize import Progress, Style, Stylizer
from .resume import WorkDir, check_work_dir, default_work_dir
from .temporal import TemporalStylizer

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")
FLOW_LOOKAHEAD = 2  # frame pairs whose flow is computed ahead of the optimizer


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
                  restart: bool = False, keep_work: bool = False,
                  callback: VideoCallback | None = None) -> VideoResult:
    """Stylize a video file, GIF or image folder into ``output`` (.mp4/.gif/folder).

    Resumable: rerunning the same call after an interruption continues from the last
    finished frame (``restart=True`` discards it, once every input has been checked).
    Finished frames are kept in ``work_dir`` (default ``.OUTPUT.videostyle`` beside the
    output), which is removed after success unless ``keep_work``; only the tool's own
    files are ever deleted (see ``resume.py``). A second job on the same output or work
    folder is refused while this one runs. Returns a :class:`VideoResult`.
    """
    style = style or StyleConfig()
    temporal = temporal or TemporalConfig()
    clip = clip or ClipConfig()
    out = check_output(output, force=force, kinds=("video", "gif", "folder"))
    work_path = Path(work_dir) if work_dir else default_work_dir(out)
    check_work_dir(work_path, out)
    even = out.suffix.lower() in VIDEO_SUFFIXES
    started = time.perf_counter()
    with _open(source, clip, even) as frames_in:
        info = frames_in.info
        stylizer = Stylizer(styles, style)
        stylizer.check_memory(info.height, info.width)
        settings = _settings(source, info, styles, style, temporal, clip)
        output_lock = JobLock(output_lock_path(out), what=str(out),
                              advice="wait for it to finish, or choose another output")
        with output_lock, WorkDir(work_path, settings, restart=restart) as work:
            remove_stale_partials(out)  # of a job killed while writing the output
            loop = _FrameLoop(stylizer, temporal, work, info, callback)
            try:
                count = loop.run(iter(frames_in))
                _encode(source, out, work, count, info, clip, force, even, callback)
            except DiskFull as full:
                raise DiskFull(full.path, "the finished frames are kept, free space and rerun to resume") from full
            if not keep_work:
                work.remove()
    elapsed = time.perf_counter() - started
    return VideoResult(output=out, frames=count, resumed=loop.resumed, seconds=elapsed,
                       seconds_per_frame=loop.seconds_per_frame(), scene_cuts=loop.cuts, info=info)


def _open(source: str | Path, clip: ClipConfig, even: bool):
    return open_source(source, start=clip.start, frames=clip.frames, duration=clip.duration,
                       fps=clip.fps, size=clip.size, even=even)


class _FrameLoop:
    """Stylizes frames in order, skipping those the work folder already holds."""

    def __init__(self, stylizer: Stylizer, config: TemporalConfig, work: WorkDir, info: VideoInfo,
                 callback: VideoCallback | None) -> None:
        self.temporal = TemporalStylizer(stylizer, config)
        self.config, self.work, self.info, self.callback = config, work, info, callback
        self.resumed = work.finished_frames()
        self.cuts: list[int] = []
        self.times: list[float] = []

    def seconds_per_frame(self) -> float | None:
        return sum(self.times) / len(self.times) if self.times else None

    def run(self, frames: Iterator[np.ndarray]) -> int:
        """Stylize every frame not yet finished; returns the number of frames."""
        count = 0
        needs_flow = self.config.mode == "flow" or self.config.detect_cuts
        long_term = self.config.long_term if self.config.mode == "flow" else ()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flow") as pool:
            estimator = FlowEstimator()
            pending: deque[tuple[int, np.ndarray, Future | None]] = deque()
            originals: deque[np.ndarray] = deque(maxlen=self.config.history)  # newest first
            for index, frame in enumerate(frames):
                job = None
                if needs_flow and originals and index >= self.resumed:
                    job = pool.submit(_flows_and_cut, list(originals), frame, long_term, estimator)
                pending.append((index, frame, job))
                originals.appendleft(frame)
                if len(pending) > FLOW_LOOKAHEAD:
                    self._process(*pending.popleft())
                count = index + 1
            while pending:
                self._process(*pending.popleft())
        if count == 0:
            raise BadOption(f"{self.info.path}: no frames in the selected range; check --start and --duration")
        return count

    def _process(self, index: int, frame: np.ndarray, job: Future | None) -> None:
        if index < self.resumed:
            return
        if index == self.resumed and index > 0:
            self._restore(index)
        flow, cut, long_flows = job.result() if job is not None else (None, False, {})
        cut = cut and self.config.detect_cuts  # flow mode measures a cut anyway; report it only when used
        if cut and index > 0:
            self.cuts.append(index)
        started = time.perf_counter()

        def report(step: Progress | None, image: np.ndarray | None = None) -> None:
            if self.callback is not None:
                self.callback(VideoProgress(
                    frame=index, frames=self.info.frame_count, finished=index + (step is None),
                    resumed=self.resumed, seconds_per_frame=self.seconds_per_frame(), step=step,
                    image=image))

        result = self.temporal.next(frame, flow, cut=cut, callback=report, long_flows=long_flows)
        finished = float_to_frame(result)
        self.work.save(index, finished, result, since_restart=self.temporal.since_restart,
                       keep_states=self.config.history + 1)
        self.times.append(time.perf_counter() - started)
        report(None, finished)


    def _restore(self, index: int) -> None:
        """Load the results an uninterrupted run would hold before frame ``index``: the
        newest, and as many before it as the history keeps, back to the last restart."""
        latest = self.work.load_state(index - 1)
        if latest is None:  # not kept: start this frame afresh
            return
        image, since_restart = latest
        results = [image]
        for back in range(2, min(since_restart, self.config.history) + 1):
            older = self.work.load_state(index - back)
            if older is None:
                break
            results.append(older[0])
        self.temporal.restore(results, since_restart)


def _flows_and_cut(originals: list[np.ndarray], frame: np.ndarray, long_term: tuple[int, ...],
                   estimator: FlowEstimator) -> tuple[FlowResult, bool, dict[int, FlowResult]]:
    """Flow from the previous original frame (``originals`` is newest first), whether
    ``frame`` starts a new scene, and the flows from the frames ``long_term`` back."""
    flow = flow_between(originals[0], frame, estimator)
    long_flows = {j: flow_between(originals[j - 1], frame, estimator) for j in long_term if j <= len(originals)}
    return flow, is_scene_cut(originals[0], frame, flow=flow), long_flows


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
              temporal: TemporalConfig, clip: ClipConfig) -> dict:
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
    return {"source": str(src.resolve()), "source_bytes": stat.st_size if stat else None,
            "source_mtime": stat.st_mtime if stat else None, "size": [info.width, info.height],
            "styles": digest.hexdigest(), "style": style_settings, "temporal": asdict(temporal),
            "clip": frame_settings, "version": __version__}
