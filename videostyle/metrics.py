"""Temporal warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency").

E_warp = mean over consecutive pairs t of  Σ_p M_t(p) ‖S_t(p) − warp(S_{t−1})(p)‖² / (3 Σ_p M_t(p)),
with S in RGB [0, 1], the flow computed on the *original* frames (resized to the stylized
size) and M the reliability mask of :func:`flow.reliability_mask`. Lower is steadier.
"""

from __future__ import annotations

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


def warping_error(original: Iterable[np.ndarray], stylized: Iterable[np.ndarray]) -> WarpingError:
    """E_warp of ``stylized`` frames given the ``original`` frames they were made from.

    Both are iterables of (H, W, 3) uint8 RGB; pairs are taken in step until either ends.
    """
    estimator = FlowEstimator()
    terms: list[float] = []
    prev_orig: np.ndarray | None = None
    prev_styl: np.ndarray | None = None
    for orig, styl in zip(original, stylized, strict=False):
        h, w = styl.shape[:2]
        if orig.shape[:2] != (h, w):
            orig = cv2.resize(orig, (w, h), interpolation=cv2.INTER_AREA)
        current = styl.astype(np.float32) / 255.0
        if prev_orig is not None and prev_styl is not None:
            flow = flow_between(prev_orig, orig, estimator)
            mask = flow.mask
            if mask.sum() > 0:
                diff = np.sum((current - warp(prev_styl, flow.backward)) ** 2, axis=2)
                terms.append(float(np.sum(mask * diff) / (3.0 * np.sum(mask))))
        prev_orig, prev_styl = orig, current
    if prev_orig is None or not terms:
        raise BadInput("warping error needs at least 2 frames with a reliable flow between them")
    return WarpingError(e_warp=float(np.mean(terms)), per_pair=terms, pairs=len(terms))


def evaluate_videos(original: str | Path, stylized: str | Path) -> dict:
    """E_warp of a stylized video, and of the original itself as a reference.

    Returns ``{"e_warp", "e_warp_original", "frames", "size": [w, h]}``; the original is
    measured at the stylized video's size.
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
        "e_warp": warping_error(orig_frames[:count], styl_frames[:count]).e_warp,
        "e_warp_original": warping_error(orig_frames[:count], orig_frames[:count]).e_warp,
        "frames": count,
        "size": list(size),
    }
