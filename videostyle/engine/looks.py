"""Per-frame targets from a :class:`~videostyle.config.StyleSchedule`: which blend of the
styles and which style weight frame t is optimized towards (and its region mask).

The Stylizer computes each style's Gram matrices once per size and mixes them per frame
(``Stylizer.blended_targets``), so a schedule costs a weighted sum of a few small matrices
per frame; a job without one never builds a :class:`Look` and runs as before.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..config import StyleConfig, StyleSchedule, style_weight_for_strength
from ..errors import BadOption
from .optimize import Look

LookFunction = Callable[[int], "Look | None"]
"""Maps a frame's index in the clip to its look (None: the Stylizer's fixed one)."""


def look_at(schedule: StyleSchedule, config: StyleConfig, seconds: float, shot: int = 0,
            mask: np.ndarray | None = None) -> Look:
    """The look of the frame at ``seconds`` into the clip, in shot ``shot`` (0-based)."""
    strength = schedule.strength_at(seconds)
    if strength is not None and config.style_weight is not None:
        raise BadOption("--strength S@T and --style-weight: give one of them (the keyframes set the style weight)")
    style_weight = None if strength is None else style_weight_for_strength(strength)
    return Look(weights=schedule.weights_at(seconds, shot), style_weight=style_weight, mask=mask)
