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
from itertools import zip_longest
from pathlib import Path

import numpy as np

from ..engine.flow import FlowEstimator, flow_between, warp
from ..errors import BadInput
from ..io import VideoInfo
from ..io.images import resize_frame

ASPECT_SLACK_PX = 2  # how far the stylized size may be from the original's aspect ratio


@dataclass(frozen=True)
class WarpingError:
    """E_warp of a stylized sequence and its per-pair terms."""

    e_warp: float
    per_pair: list[float]
    pairs: int


def warping_error(original: Iterable[np.ndarray], stylized: Iterable[np.ndarray], *,
                  gap: int = 1) -> WarpingError:
    """E_warp of ``stylized`` frames given the ``original`` frames they were made from.

    Both are iterables of (H, W, 3) uint8 RGB with as many frames each (BadInput
    otherwise: scoring a prefix would compare frames that do not belong together).
    ``gap`` compares frame t with frame t-gap instead of t-1: a long-range measure of
    whether what reappears after being hidden looks as it did.
    """
    return _warping_errors(original, stylized, gap=gap)[0]


def _warping_errors(original: Iterable[np.ndarray], stylized: Iterable[np.ndarray], *, gap: int,
                    names: tuple[str, str] = ("the original", "the stylized sequence")
                    ) -> tuple[WarpingError, WarpingError, int]:
    """E_warp of ``stylized`` and of ``original`` itself (the reference), from one flow per
    pair, streaming (only ``gap`` + 1 frames of each are held); also the frame count.
    ``names`` name the two sequences in errors."""
    if gap < 1:
        raise BadInput(f"--gap {gap}: must be at least 1")
    estimator = FlowEstimator()
    terms: tuple[list[float], list[float]] = ([], [])
    window: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque(maxlen=gap)  # oldest first
    count, counts = 0, [0, 0]
    for orig, styl in zip_longest(original, stylized):
        counts[0] += orig is not None
        counts[1] += styl is not None
        if orig is None or styl is None:
            continue  # counted to the end of the longer one, for the error below
        orig = resize_frame(orig, styl.shape[1], styl.shape[0])
        now = (styl.astype(np.float32) / 255.0, orig.astype(np.float32) / 255.0)
        if len(window) == gap:
            earlier_orig, *earlier = window[0]
            flow = flow_between(earlier_orig, orig, estimator)
            if flow.mask.sum() > 0:
                for out, current, previous in zip(terms, now, earlier, strict=True):
                    out.append(_masked_error(current, warp(previous, flow.backward), flow.mask))
        window.append((orig, *now))
        count += 1
    if counts[0] != counts[1]:
        raise BadInput(f"{names[0]} has {counts[0]} frames and {names[1]} has {counts[1]}: E_warp compares each "
                       "stylized frame with the original it was made from; give both at the same range and rate "
                       "(--start and --frames select the original's range)")
    if not terms[0]:
        raise BadInput(f"warping error needs at least {gap + 1} frames with a reliable flow between them")
    stylized_error, original_error = (WarpingError(float(np.mean(t)), t, len(t)) for t in terms)
    return stylized_error, original_error, count


def _check_same_picture(original: VideoInfo, stylized: VideoInfo) -> None:
    """BadInput unless both videos show the same picture shape: the original is resized to
    the stylized size, which must not stretch it (a 2-pixel slack covers the even sizes
    of H.264 and rounding)."""
    (ow, oh), (sw, sh) = (original.width, original.height), (stylized.width, stylized.height)
    if abs(sh - sw * oh / ow) > ASPECT_SLACK_PX and abs(sw - sh * ow / oh) > ASPECT_SLACK_PX:
        raise BadInput(f"{original.path} is {ow}x{oh} and {stylized.path} is {sw}x{sh}: not the same aspect "
                       "ratio, so the stylized video was not made from this clip (or with --side-by-side)")


def _masked_error(current: np.ndarray, warped: np.ndarray, mask: np.ndarray) -> float:
    """Σ mask·‖current − warped‖² / (3 Σ mask) for (H, W, 3) images in [0, 1]."""
    diff = np.sum((current - warped) ** 2, axis=2)
    return float(np.sum(mask * diff) / (3.0 * np.sum(mask)))


def evaluate_videos(original: str | Path, stylized: str | Path, *, gap: int = 1, start: float = 0.0,
                    frames: int | None = None) -> dict:
    """E_warp of a stylized video, and of the original itself as a reference.

    ``start`` and ``frames`` select the part of the original that was stylized (as given to
    ``videostyle video``). Returns ``{"e_warp", "e_warp_original", "frames", "gap", "size":
    [w, h]}``; the original is measured at the stylized video's size. Both are streamed.
    """
    from ..io import open_source

    with open_source(stylized) as styl_src, open_source(original, start=start, frames=frames) as orig_src:
        _check_same_picture(orig_src.info, styl_src.info)
        styled, reference, count = _warping_errors(orig_src, styl_src, gap=gap,
                                                   names=(str(original), str(stylized)))
        size = [styl_src.info.width, styl_src.info.height]
    return {"e_warp": styled.e_warp, "e_warp_original": reference.e_warp, "frames": count, "gap": gap,
            "size": size}
