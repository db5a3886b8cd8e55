"""The seamless loop's closing (the seamless_loop setting): once a clip's frames are made,
its last frames are restylized so that the end leads into the start
(:func:`chain.stylize_loop_end`), by the local runner and the keyframe runner alike.

A keyframe is the user's picture and the loop does not undo it: the closing covers only the
frames after the last keyframe (none when the last frame is one).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np

from ..config import SegmentConfig, TemporalConfig
from ..engine.optimize import Stylizer
from ..engine.targets import TargetsFunction
from .chain import stylize_loop_end
from .report import RunReport
from .workdir import WorkDir


def loop_end(count: int, overlap: int, fixed: Collection[int] = ()) -> list[int]:
    """The frames the closing restylizes, the last first: up to ``overlap`` of the last of
    ``count`` frames, never frame 0, and none at or before a ``fixed`` frame (a keyframe)."""
    indices = []
    for index in range(count - 1, max(0, count - 1 - overlap), -1):
        if index in fixed:
            break
        indices.append(index)
    return indices


def close_loop(stylizer: Stylizer, config: TemporalConfig, loop: SegmentConfig, work: WorkDir, report: RunReport, *,
               count: int, original: Callable[[int], np.ndarray], looks: TargetsFunction | None = None,
               fixed: Collection[int] = ()) -> None:
    """Restylize the last frames of the ``count`` finished ones so that the end leads into the
    start (``loop``'s overlap and bridge iterations); ``original(i)`` gives frame i of the clip.
    The chain's own results are kept as drafts first, so a rerun (after a crash here) starts
    from them; once later passes have begun (they follow the closing) it is not done again."""
    indices = loop_end(count, loop.overlap, fixed)
    if count < 2 or not indices or work.read_passes() is not None:
        return
    drafts = []
    for index in indices:
        draft = work.load_draft(index)
        if draft is None:
            draft = work.load_frame(index)
            work.save(index, draft, None, draft=True)
        drafts.append(draft)
    originals = [original(0), *(original(i) for i in indices)]
    for done in stylize_loop_end(stylizer, originals, drafts, work.load_frame(0), config=config,
                                 iterations=loop.bridge_iterations, indices=indices, looks=looks,
                                 progress=report.step):
        report.check()
        work.save(done.index, done.image, None)
