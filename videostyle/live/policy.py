"""The live policy, one frame at a time: shared by ``videostyle webcam`` and the web app's webcam tab.

Gatys optimization is far slower than a camera, so a live picture needs three things that
:class:`LiveStylizer` holds together: the caller always hands it the *newest* frame (stale
ones are dropped before they get here), each frame gets a bounded iteration budget steered
to hold a target rate, and each frame starts from the flow-warped previous result, so a few
iterations keep the look once the first frame has converged. Where frames come from and
where results go (a camera thread and a window, or a browser stream) is the caller's part.

Every budget is bounded in time as well as in iterations, a restart's too (the first
frame, a scene cut): a warm-up counted only in iterations lasts as long as the machine makes
it (4.8 s at 96 px on a quiet 2-core machine, over 30 s on a busy one), and a session
shorter than that showed no stylized frame at all. The clock is injectable, so tests drive
the policy in fake time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..config import TemporalConfig, declared
from ..engine.flow import FlowEstimator, flow_and_cut
from ..engine.optimize import EarlyStop, Progress, ProgressCallback, Stylizer
from ..engine.targets import FrameTargets
from ..engine.temporal import TemporalStylizer
from ..engine.tensors import float_to_frame

RATE_WINDOW = 10  # the fps shown is measured over this many of the last stylized frames

# A restart (the first frame's ``first_iterations``, a cut's ``max_iterations``) ends after
# this many seconds at most; the frames after it go on refining the look from its result.
# 100 iterations took 4.8 s at 96 px on a quiet 2-core machine, so the limit binds only on
# a slow or busy one (or at a large size).
WARM_UP_SECONDS = 15.0

Clock = Callable[[], float]
"""Seconds on a monotonic clock (``time.monotonic``; tests pass a fake one)."""


@dataclass(frozen=True)
class TimeLimit(EarlyStop):
    """An L-BFGS pass that ends once ``clock()`` reaches ``until`` (checked after each
    iteration, so a pass overruns by at most one), whatever its loss does."""

    decrease: float = 0.0
    until: float = 0.0
    clock: Clock = field(default=time.monotonic, compare=False)

    def done(self, losses: Sequence[float]) -> bool:
        return self.clock() >= self.until


class LiveStylizer:
    """Stylizes a live stream frame by frame within a time budget.

    ``fps`` is the target rate of stylized frames (None: exactly ``iterations`` per frame);
    the budget is capped at ``max_iterations``. The first frame converges with
    ``first_iterations``; a scene cut (or a camera move too fast for the flow) restarts
    from the content with the per-frame cap, so the style grows back over the next frames
    instead of freezing the stream. Frames are (H, W, 3) uint8 RGB; a frame of another
    size than the last restarts the stream.

    A restart's optimization (the first frame's, a cut's) also ends after ``warm_up_seconds``
    (None: no limit) on ``clock``, so that a slow machine shows a stylized picture after that
    long and not only once all its iterations are done; the next frames refine it.
    """

    def __init__(self, stylizer: Stylizer, *, fps: float | None, iterations: int, max_iterations: int,
                 first_iterations: int, warm_up_seconds: float | None = WARM_UP_SECONDS,
                 clock: Clock = time.monotonic, paint: str = declared("paint", "webcam")) -> None:
        self.fps, self.fixed, self.cap = fps, iterations, max_iterations
        self.warm_up_seconds, self.clock = warm_up_seconds, clock
        self.temporal = TemporalStylizer(stylizer, TemporalConfig(
            mode="flow", iterations=iterations, first_iterations=first_iterations, paint=paint))
        self.estimator = FlowEstimator()
        self.original: np.ndarray | None = None  # the camera frame behind the last result
        self.steady: tuple[int, float] | None = None  # (iterations, seconds) of the last steady frame
        self.iterations: list[int] = []  # per stylized frame
        self.costs: list[float] = []  # per stylized frame: full-frame-equivalent evaluations
        self.latencies: list[float] = []  # capture to result, per stylized frame
        self.finished_at: deque[float] = deque(maxlen=RATE_WINDOW)

    @property
    def stylizer(self) -> Stylizer:
        return self.temporal.stylizer

    @stylizer.setter
    def stylizer(self, stylizer: Stylizer) -> None:
        """Switch styles or weights mid-stream: the next frame starts from the current result."""
        self.temporal.stylizer = stylizer

    @property
    def warming_up(self) -> bool:
        """True until the first frame has been stylized (the next one gets ``first_iterations``)."""
        return self.temporal.previous is None

    def step(self, frame: np.ndarray, *, captured_at: float | None = None,
             callback: ProgressCallback | None = None, targets: FrameTargets | None = None) -> np.ndarray:
        """Stylize the newest ``frame`` and return it as (H, W, 3) uint8 RGB.

        ``captured_at`` (when the frame was taken, on :attr:`clock`) feeds the latency
        figures; ``callback`` gets the optimizer's progress and may raise to abandon the
        frame (the stream then continues from the previous result); ``targets`` picks the
        stylizer's styles or blend for this frame (see :class:`engine.targets.FrameTargets`).
        """
        begin = self.clock()
        if self.original is not None and self.original.shape != frame.shape:
            self.temporal.restore([], 0)  # a new camera size: start afresh
        first = self.warming_up
        flow, cut = None, False
        if not first and self.original is not None:
            step = flow_and_cut([self.original], frame, estimator=self.estimator)
            flow, cut = step.flow, step.cut
        iterations = self._iterations(first=first, cut=cut)
        stop = None
        if (first or cut) and self.warm_up_seconds is not None:
            stop = TimeLimit(until=begin + self.warm_up_seconds, clock=self.clock)
        last: list[Progress] = []
        spent = [0.0]

        def follow(p: Progress) -> None:
            last[:] = [p]
            spent[0] += p.cost
            if callback is not None:
                callback(p)

        result = self.temporal.next(frame, flow, cut=cut, iterations=iterations, callback=follow, targets=targets,
                                    stop=stop)
        self.original = frame
        now = self.clock()
        done = last[0].iteration if last and last[0].scale == last[0].scales else iterations  # a time limit stops early
        if self.temporal.painted == "changed":
            # the budget capped each pass where the frame needed work: that, not the last
            # pass's count, is what the frame's time answers to
            done = iterations
        if not (first or cut):  # restarts are not typical of the per-frame cost...
            self.steady = (done, now - begin)
        elif first:  # ...but until a steady frame is measured, the warm-up is the best guess (a slow one)
            self.steady = (max(1, done), now - begin)
        self.iterations.append(done)
        self.costs.append(spent[0])
        self.latencies.append(now - (begin if captured_at is None else captured_at))
        self.finished_at.append(now)
        return float_to_frame(result)

    def _iterations(self, *, first: bool, cut: bool) -> int:
        # Only the first frame warms up for seconds. A scene change mid-stream restarts from
        # the content with the per-frame cap, and the style grows back: the picture stays live.
        if first:
            return self.temporal.config.first_iterations
        if cut:
            return self.cap if self.fps is not None else self.fixed
        return self.budget()

    def budget(self) -> int:
        """Iterations for the next frame: fixed, or steered so a whole frame (flow and
        optimizer) takes 1/fps; frame time is roughly linear in iterations plus an overhead."""
        if self.fps is None or self.steady is None:
            return self.fixed
        last, seconds = self.steady
        steered = last * (1.0 / self.fps) / max(1e-3, seconds)
        steered = min(steered, 2 * last)  # move gradually: one slow frame should not swing it
        return max(1, min(self.cap, round(steered)))

    def rate(self) -> float | None:
        """Stylized frames per second over the last few frames; None before two."""
        if len(self.finished_at) < 2:
            return None
        return (len(self.finished_at) - 1) / max(1e-6, self.finished_at[-1] - self.finished_at[0])

    def caption(self) -> str | None:
        """``"1.8 fps, latency 0.52 s"`` once there is a rate to show; None before."""
        rate = self.rate()
        if rate is None:
            return None
        return f"{rate:.1f} fps, latency {self.latencies[-1]:.2f} s"


def warming_up_caption(p: Progress) -> str:
    """The overlay shown while the first frame converges."""
    return f"warming up {100 * p.iteration // max(1, p.iterations)}%"

