"""Optical flow, warping and the reliability (occlusion) mask of Ruder et al. 2016.

Convention: ``FlowEstimator()(a, b)`` returns, for every pixel p of ``a``, the offset to
the matching point in ``b``:  a(p) ≈ b(p + flow(p)).  So with

    backward = FlowEstimator()(frame_t, frame_prev)      # t -> t-1

``warp(stylized_prev, backward)`` moves the previous stylized frame onto frame t (a
backward warp: each pixel of t looks up where it came from). Flow is (H, W, 2) float32
in pixels, channel 0 horizontal (x), channel 1 vertical (y).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import cv2
import numpy as np

# Ruder et al. 2016, after Sundaram et al. 2010: forward-backward consistency
# |w~ + ŵ|² > CONSISTENCY_RATIO (|w~|² + |ŵ|²) + CONSISTENCY_OFFSET marks disocclusions,
# |∇u|² + |∇v|² > BOUNDARY_RATIO |ŵ|² + BOUNDARY_OFFSET marks motion boundaries.
CONSISTENCY_RATIO = 0.01
CONSISTENCY_OFFSET = 0.5
BOUNDARY_RATIO = 0.01
BOUNDARY_OFFSET = 0.002

# A scene cut: most of the frame has no reliable match in the previous one, and the
# colours changed. Camera shake and pans keep well over half of the pixels reliable.
CUT_RELIABLE_FRACTION = 0.4
CUT_HISTOGRAM_DISTANCE = 0.5  # Bhattacharyya distance of HSV hue/saturation histograms


# Any dense flow: f(a, b) -> (H, W, 2) float32 with a(p) ≈ b(p + f(p)), for RGB uint8 frames.
FlowFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


class FlowEstimator:
    """Dense optical flow with OpenCV's DIS (Kroeger et al. 2016), medium preset plus
    variational refinement, refined down to pyramid level ``finest_scale`` (0: full
    resolution). Safe to call from several threads at once: each thread gets its own
    solver, built once and reused.

    Full resolution at every size, measured against stopping one level short at 1280x720
    (cockatoo.mp4): that takes 0.22 s a pair instead of 0.76 s, but is 0.48 px from the full
    flow on average, and the stylized clip's E_warp went from 0.00024 to 0.00064 (8 frames,
    6 iterations a frame; Gram style distance 0.78 and 0.79).
    """

    def __init__(self, *, finest_scale: int = 0) -> None:
        self.finest_scale = finest_scale
        self._local = threading.local()

    def _solver(self):  # noqa: ANN202 - a cv2.DISOpticalFlow
        dis = getattr(self._local, "dis", None)
        if dis is None:
            dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]
            dis.setFinestScale(self.finest_scale)
            dis.setVariationalRefinementIterations(5)
            self._local.dis = dis
        return dis

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow from RGB uint8 frame ``a`` to ``b`` (same size): a(p) ≈ b(p + flow(p))."""
        gray_a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
        gray_b = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
        return self._solver().calc(gray_a, gray_b, None)


def _sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp ``image`` (H, W[, C]) by ``flow``: out(p) = image(p + flow(p)), bilinear.

    Points outside the image take the nearest border value (the mask marks them).
    """
    map_x, map_y = _sample_grid(flow)
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliability_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Where ``warp(prev, backward)`` can be trusted: (H, W) float32, 1 reliable, 0 not.

    ``backward`` is the flow t -> t-1 (ŵ), ``forward`` the flow t-1 -> t (w). Unreliable:
    forward and backward disagree (disocclusion), motion boundaries, or ŵ leaving the frame.
    """
    h, w = backward.shape[:2]
    forward_at_t = warp(forward, backward)  # w~: the forward flow looked up along ŵ
    round_trip = np.sum((forward_at_t + backward) ** 2, axis=2)
    magnitudes = np.sum(forward_at_t**2, axis=2) + np.sum(backward**2, axis=2)
    occluded = round_trip > CONSISTENCY_RATIO * magnitudes + CONSISTENCY_OFFSET

    du_y, du_x = np.gradient(backward[..., 0])
    dv_y, dv_x = np.gradient(backward[..., 1])
    gradient = du_x**2 + du_y**2 + dv_x**2 + dv_y**2
    boundary = gradient > BOUNDARY_RATIO * np.sum(backward**2, axis=2) + BOUNDARY_OFFSET

    map_x, map_y = _sample_grid(backward)
    outside = (map_x < 0) | (map_x > w - 1) | (map_y < 0) | (map_y > h - 1)
    return (~(occluded | boundary | outside)).astype(np.float32)


@dataclass(frozen=True)
class FlowResult:
    """Flow between consecutive frames and what it means for warping t-1 onto t."""

    backward: np.ndarray  # (H, W, 2) t -> t-1: warp(prev, backward) aligns prev with t
    forward: np.ndarray  # (H, W, 2) t-1 -> t
    mask: np.ndarray  # (H, W) float32, 1 where the warp is reliable
    # (H, W) float32 in [0, 1]: how far frame t is from frame t-1 warped along the flow (see
    # colour_mismatch); None where it was not computed
    mismatch: np.ndarray | None = None

    @property
    def reliable_fraction(self) -> float:
        return float(self.mask.mean())


def flow_between(previous: np.ndarray, frame: np.ndarray, estimator: FlowFunction | None = None, *,
                 executor: Executor | None = None) -> FlowResult:
    """Both flows and the reliability mask for warping ``previous`` onto ``frame`` (RGB uint8);
    ``estimator`` is any :data:`FlowFunction` (default: a new :class:`FlowEstimator`).

    With an ``executor`` the two directions are computed on it at once (OpenCV releases
    the GIL); the caller must not be one of its threads.
    """
    estimate = estimator or FlowEstimator()
    if executor is None:
        backward, forward = estimate(frame, previous), estimate(previous, frame)
    else:
        jobs = executor.submit(estimate, frame, previous), executor.submit(estimate, previous, frame)
        backward, forward = (job.result() for job in jobs)
    mask = reliability_mask(forward, backward)
    return FlowResult(backward=backward, forward=forward, mask=mask,
                      mismatch=colour_mismatch(previous, frame, backward, mask))


def colour_mismatch(previous: np.ndarray, frame: np.ndarray, backward: np.ndarray,
                    reliable: np.ndarray | None = None) -> np.ndarray:
    """Per pixel of ``frame``, how far it is from ``previous`` warped along ``backward`` (RGB
    uint8 frames): the largest channel difference, both pictures smoothed over 3x3 first,
    (H, W) float32 in [0, 1]. Where the flow is ``reliable`` (mask > 0.5) the difference is to
    the closest of the warped pixel and its 8 neighbours: sensor noise, the warp's
    resampling and a flow a pixel off (a small window of a zooming view) stay low. Where it
    is high the previous picture does not show what is here, whatever the flow's checks say."""
    carried = cv2.blur(warp(previous, backward), (3, 3)).astype(np.int16)
    current = cv2.blur(frame, (3, 3)).astype(np.int16)
    padded = cv2.copyMakeBorder(carried, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    h, w = frame.shape[:2]
    best = np.full((h, w), 255, np.int16)
    for dy in range(3):
        for dx in range(3):
            best = np.minimum(best, np.abs(current - padded[dy:dy + h, dx:dx + w]).max(axis=2))
    if reliable is not None:
        best = np.where(reliable > 0.5, best, np.abs(current - carried).max(axis=2))
    return best.astype(np.float32) / 255.0


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance (0 same, 1 disjoint) of hue/saturation histograms of two RGB frames."""
    def hist(image: np.ndarray) -> np.ndarray:
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        h = cv2.calcHist([hsv], [0, 1], None, [30, 16], [0, 180, 0, 256])
        return cv2.normalize(h, h).flatten()

    return float(cv2.compareHist(hist(a), hist(b), cv2.HISTCMP_BHATTACHARYYA))


def is_scene_cut(previous: np.ndarray, frame: np.ndarray, *, flow: FlowResult | None = None,
                 estimator: FlowEstimator | None = None) -> bool:
    """True when ``frame`` starts a new shot: few pixels can be followed from ``previous``
    and the colours changed; a pan or camera shake is not a cut.

    Without ``flow`` the colour test runs first and the flow is computed only when the
    colours changed (the same answer, at the cost of a histogram for most frames: what
    planning segments over a whole clip needs)."""
    if flow is None:
        if histogram_distance(previous, frame) <= CUT_HISTOGRAM_DISTANCE:
            return False
        return flow_between(previous, frame, estimator).reliable_fraction < CUT_RELIABLE_FRACTION
    if flow.reliable_fraction >= CUT_RELIABLE_FRACTION:
        return False
    return histogram_distance(previous, frame) > CUT_HISTOGRAM_DISTANCE


@dataclass(frozen=True)
class FlowStep:
    """What frame t needs from the frames before it: the flow from t-1, whether t starts a
    new shot, and the flows from the frames ``long_term`` back ({offset j: flow t-j -> t})."""

    flow: FlowResult
    cut: bool
    long_flows: dict[int, FlowResult] = field(default_factory=dict)


def flow_and_cut(originals: Sequence[np.ndarray], frame: np.ndarray, *, long_term: Sequence[int] = (),
                 estimator: FlowEstimator | None = None, executor: Executor | None = None) -> FlowStep:
    """The flow from the previous original frame to ``frame`` (``originals`` are the frames
    before it, newest first, RGB uint8), the scene-cut test, and the flows from the frames
    ``long_term`` back that ``originals`` still holds. Video and webcam both use this.
    ``executor``: see :func:`flow_between`."""
    estimate = estimator or FlowEstimator()
    flow = flow_between(originals[0], frame, estimate, executor=executor)
    long_flows = {j: flow_between(originals[j - 1], frame, estimate, executor=executor)
                  for j in long_term if j <= len(originals)}
    return FlowStep(flow=flow, cut=is_scene_cut(originals[0], frame, flow=flow), long_flows=long_flows)
