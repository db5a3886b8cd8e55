"""Each frame's targets in a video job: the schedule's blend and strength at the frame's time,
its shot (for ``style_per_shot``) and its region mask (see ``engine/targets.py``)."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from ..config import StyleConfig, StyleSchedule
from ..engine.flow import FlowEstimator, is_scene_cut
from ..engine.targets import FrameTargets, targets_at
from .masks import MaskFrames


class ClipTargets:
    """Frame index -> its :class:`FrameTargets`: its time is index / ``fps`` (or, with ``times``, the
    frame durations before it: a GIF's); its shot the number of ``cuts`` (frame indices
    that start a shot) at or before it."""

    def __init__(self, schedule: StyleSchedule | None, style: StyleConfig, fps: float, *,
                 cuts: Sequence[int] = (), mask: MaskFrames | None = None,
                 times: Sequence[float] | None = None) -> None:
        self.schedule, self.style, self.fps = schedule, style, fps
        self.cuts, self.mask = sorted(cuts), mask
        self.starts = None if not times else [0.0, *itertools.accumulate(times)]
        if schedule is not None:
            targets_at(schedule, style, 0.0)  # strength keyframes with a raw style weight are refused here

    def shot(self, index: int) -> int:
        return bisect.bisect_right(self.cuts, index)

    def __call__(self, index: int) -> FrameTargets | None:
        mask = None if self.mask is None else self.mask.at(index)
        if self.schedule is None:
            return None if mask is None else FrameTargets(mask=mask)
        return targets_at(self.schedule, self.style, self.seconds(index), self.shot(index), mask)

    def seconds(self, index: int) -> float:
        """Frame ``index``'s time in the clip."""
        if self.starts is not None and index < len(self.starts):
            return self.starts[index]
        return index / self.fps


def scene_cuts(frames: Iterable[np.ndarray]) -> list[int]:
    """The indices of the frames that start a new shot (as the Ray driver finds them)."""
    cuts: list[int] = []
    previous: np.ndarray | None = None
    estimator = FlowEstimator()
    for index, frame in enumerate(frames):
        if previous is not None and is_scene_cut(previous, frame, estimator=estimator):
            cuts.append(index)
        previous = frame
    return cuts
