"""What a video job tells its caller: progress while it runs, a result when it ends.

Both runners (the local chain in ``job.py`` and the Ray runner in ``ray.py``) keep one
:class:`RunReport` and build every :class:`VideoProgress` through it, so
``seconds_per_frame`` and ``eta`` mean the same whichever ran: wall seconds per frame
finished in this run (over all workers), and that times the frames left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import BadOption, S

if TYPE_CHECKING:
    from ..engine.cancel import CancelToken
    from ..engine.optimize import Progress
    from ..io import VideoInfo
    from .workdir import WorkDir


@dataclass(frozen=True)
class VideoProgress:
    """Sent to the callback: per optimizer evaluation (``step``) and per finished frame."""

    frame: int  # 0-based index of the frame being stylized
    frames: int | None  # total, when the source knows it
    finished: int  # frames done, including those resumed from the work folder
    resumed: int  # frames found already done when the job started
    seconds_per_frame: float | None  # wall seconds per frame finished in this run
    step: Progress | None  # optimizer progress within the frame; None when a frame finished
    stage: str = "stylize"  # "stylize", "pass 2", "pass 3", ... (multi-pass) or "encode"
    image: np.ndarray | None = None  # the finished frame, (H, W, 3) uint8 RGB, when one finished
    # the finished frame's work in full-frame-equivalent evaluations (FLOP-weighted: a crop or a
    # coarse scale counts its share of a whole evaluation at full size), when one finished
    cost: float | None = None
    cost_per_frame: float | None = None  # ... per frame that continued a chain (not a first frame), so far

    @property
    def eta(self) -> float | None:
        """Seconds until the last frame is stylized, when the total and a rate are known."""
        if self.stage == "encode" or not self.seconds_per_frame or self.frames is None:
            return None
        return self.seconds_per_frame * max(0, self.frames - self.finished)


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
    # full-frame-equivalent evaluations per frame that continued a chain in this run (None: none did)
    cost_per_frame: float | None = None


VideoCallback = Callable[[VideoProgress], None]


@dataclass
class RunReport:
    """What the stylizing part of a job did, and the progress it reports while doing it."""

    total: int | None = None  # frames in the clip, when known (the selected range)
    resumed: int = 0  # frames found finished when the job started
    cuts: list[int] = field(default_factory=list)  # indices of the frames that start a new shot
    times: list[float] = field(default_factory=list)  # compute seconds of each frame stylized in this run
    # full-frame-equivalent evaluations of each frame stylized in this run that continued a chain
    later_costs: list[float] = field(default_factory=list)
    pass_times: list[float] = field(default_factory=list)  # ... and of each frame of a later pass (multi-pass)
    callback: VideoCallback | None = None
    cancel: CancelToken | None = None  # the job's token: runners check it between frames
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None

    @property
    def frames(self) -> int:
        """Frames of the clip (resumed and stylized), once the run has ended."""
        return self.total or 0

    @property
    def finished(self) -> int:
        return self.resumed + len(self.times)

    def seconds_per_frame(self) -> float | None:
        """Wall seconds per frame stylized in this run (all workers together)."""
        if not self.times:
            return None
        return ((self.ended or time.perf_counter()) - self.started) / len(self.times)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the job's token is cancelled."""
        if self.cancel is not None:
            self.cancel.check()

    def step(self, index: int, step: Progress) -> None:
        """Report one optimizer evaluation of frame ``index``."""
        if self.callback is not None:
            self.callback(self._progress(index, step))

    def cost_per_frame(self) -> float | None:
        """Full-frame-equivalent evaluations per frame that continued a chain, in this run."""
        return sum(self.later_costs) / len(self.later_costs) if self.later_costs else None

    def frame_done(self, index: int, seconds: float, image: np.ndarray | None, *, cost: float = 0.0,
                   later: bool = False) -> None:
        """Count frame ``index`` as finished (``seconds`` of compute, ``cost`` full-frame
        evaluations; ``later``: it continued a chain rather than starting one) and report it."""
        self.times.append(seconds)
        if later:
            self.later_costs.append(cost)
        if self.callback is not None:
            self.callback(self._progress(index, None, image, cost))

    def pass_progress(self, number: int, index: int, made: int, frames: int, *, step: Progress | None = None,
                      image: np.ndarray | None = None, seconds: float | None = None) -> None:
        """Report pass ``number`` (2, 3, ...): frame ``index``'s optimizer ``step``, or (with
        ``image``) that it is done, ``made`` of the pass's ``frames`` (``passes.py``)."""
        if seconds is not None:
            self.pass_times.append(seconds)
        if self.callback is not None:
            rate = ((time.perf_counter() - self.started) / len(self.times + self.pass_times)
                    if self.times or self.pass_times else None)
            self.callback(VideoProgress(frame=index, frames=frames, finished=made, resumed=0, seconds_per_frame=rate,
                                        step=step, stage=f"pass {number}", image=image))

    def end(self, total: int) -> None:
        self.total, self.ended = total, time.perf_counter()

    def _progress(self, index: int, step: Progress | None, image: np.ndarray | None = None,
                  cost: float | None = None) -> VideoProgress:
        return VideoProgress(frame=index, frames=self.total, finished=self.finished, resumed=self.resumed,
                             seconds_per_frame=self.seconds_per_frame(), step=step, image=image, cost=cost,
                             cost_per_frame=self.cost_per_frame())


def encode_progress(index: int, count: int) -> VideoProgress:
    """Progress of writing frame ``index`` of ``count`` into the output."""
    return VideoProgress(frame=index, frames=count, finished=count, resumed=0, seconds_per_frame=None,
                         step=None, stage="encode")


class NoFrames(BadOption):
    """The selected range of a source holds no frame."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(f"{path}: no frames in the selected range; check ", S.start, " and ", S.duration)
        self.path = str(path)


class Runner(Protocol):
    """Stylizes every unfinished frame of a clip into the work folder: the local chain
    (``job.LocalRunner``) or the Ray workers (``ray.RayRuntime``). It fills ``report``
    (resumed, cuts, times, total) and reports progress through it."""

    def run(self, frames: Iterable[np.ndarray], work: WorkDir, report: RunReport) -> None: ...


def clock(seconds: float) -> str:
    """``seconds`` as ``m:ss`` or ``h:mm:ss``, for progress lines and ETAs."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
