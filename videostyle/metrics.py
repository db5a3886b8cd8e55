"""Temporal warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency").

E_warp = mean over consecutive pairs t of  Σ_p M_t(p) ‖S_t(p) − warp(S_{t−1})(p)‖² / (3 Σ_p M_t(p)),
with S in RGB [0, 1], the flow computed on the *original* frames (resized to the stylized
size) and M the reliability mask of :func:`flow.reliability_mask`. Lower is steadier.
With ``gap`` k, frame t is compared with frame t-k (the flow between those originals).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import BadInput
from .flow import FlowEstimator, flow_between, warp


@dataclass(frozen=True)
class WarpingError:
    """E_warp of a stylized sequence and its per-pair terms."""

    e_warp: float
    per_pair: list[float]
    pairs: int


def warping_error(original: Iterable[np.ndarray], stylized: Iterable[np.ndarray], *,
                  gap: int = 1) -> WarpingError:
    """E_warp of ``stylized`` frames given the ``original`` frames they were made from.

    Both are iterables of (H, W, 3) uint8 RGB; pairs are taken in step until either ends.
    ``gap`` compares frame t with frame t-gap instead of t-1: a long-range measure of
    whether what reappears after being hidden looks as it did.
    """
    if gap < 1:
        raise BadInput(f"--gap {gap}: must be at least 1")
    estimator = FlowEstimator()
    terms: list[float] = []
    window: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=gap)  # (original, stylized), oldest first
    for orig, styl in zip(original, stylized, strict=False):
        h, w = styl.shape[:2]
        if orig.shape[:2] != (h, w):
            orig = cv2.resize(orig, (w, h), interpolation=cv2.INTER_AREA)
        current = styl.astype(np.float32) / 255.0
        if len(window) == gap:
            prev_orig, prev_styl = window[0]
            flow = flow_between(prev_orig, orig, estimator)
            mask = flow.mask
            if mask.sum() > 0:
                diff = np.sum((current - warp(prev_styl, flow.backward)) ** 2, axis=2)
                terms.append(float(np.sum(mask * diff) / (3.0 * np.sum(mask))))
        window.append((orig, current))
    if not terms:
        raise BadInput(f"warping error needs at least {gap + 1} frames with a reliable flow between them")
    return WarpingError(e_warp=float(np.mean(terms)), per_pair=terms, pairs=len(terms))


def evaluate_videos(original: str | Path, stylized: str | Path, *, gap: int = 1) -> dict:
    """E_warp of a stylized video, and of the original itself as a reference.

    Returns ``{"e_warp", "e_warp_original", "frames", "gap", "size": [w, h]}``; the
    original is measured at the stylized video's size.
    """
    from .io import open_source

    with open_source(stylized) as styl_src:
        styl_frames = list(styl_src)
    size = (styl_src.info.width, styl_src.info.height)
    with open_source(original) as orig_src:
        orig_frames = []
        for frame in orig_src:
            orig_frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
            if len(orig_frames) == len(styl_frames):
                break
    count = min(len(orig_frames), len(styl_frames))
    return {
        "e_warp": warping_error(orig_frames[:count], styl_frames[:count], gap=gap).e_warp,
        "e_warp_original": warping_error(orig_frames[:count], orig_frames[:count], gap=gap).e_warp,
        "frames": count,
        "gap": gap,
        "size": list(size),
    }
