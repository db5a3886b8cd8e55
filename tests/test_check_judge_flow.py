"""scripts/check_judge_flow.py's candidate judges measure what its figures say: each recovers a
known smooth motion of a textured picture, and wrapped as a judge it reads a perfectly steady
pair far below an unsteady one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from check_judge_flow import Judge, at_twice, dis, farneback, lucas_kanade  # scripts/ (pytest's pythonpath)

from videostyle.video.metrics import warping_error


def textured(h: int = 64, w: int = 96) -> np.ndarray:
    rng = np.random.default_rng(3)
    noise = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 1.5)
    return ((noise - noise.min()) / np.ptp(noise) * 255).astype(np.uint8)


def moved(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``frame`` shifted by (dx, dy): frame(p) = moved(p + (dx, dy))."""
    h, w = frame.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(frame, xs - dx, ys - dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


CANDIDATES = {"farneback": farneback(3, 15, 5, 5, False), "lucas-kanade": lucas_kanade(15),
              "dis": dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, False),
              "dis at 2x": at_twice(dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, False))}


@pytest.mark.parametrize("name", CANDIDATES)
def test_a_candidate_recovers_a_known_shift(name):
    a = textured()
    b = moved(a, 1.25, -0.75)
    flow = CANDIDATES[name](a, b)
    assert flow.shape == (*a.shape[:2], 2)
    inner = flow[8:-8, 8:-8]
    assert np.abs(np.median(inner[..., 0]) - 1.25) < 0.25 and np.abs(np.median(inner[..., 1]) + 0.75) < 0.25


def test_a_candidate_judges_a_steady_pair_steadier_than_an_unsteady_one():
    a = textured()
    b = moved(a, 1.0, 0.5)
    painted = textured()[::-1].copy()  # another picture, standing for the stylized frame
    judge = Judge("lucas-kanade 15", lucas_kanade(15))
    steady = warping_error([a, b], [painted, moved(painted, 1.0, 0.5)], flow=judge)
    unsteady = warping_error([a, b], [painted, moved(painted, -1.0, 1.5)], flow=judge)
    assert steady.flow == "lucas-kanade 15"
    assert steady.e_warp < 0.2 * unsteady.e_warp
