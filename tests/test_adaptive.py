"""Per-frame budgets: a fixed count runs exactly, "auto" stops when the loss stops falling."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from synthetic import blobs, scene, stripes

from videostyle.config import SegmentConfig, StyleConfig, TemporalConfig
from videostyle.engine import optimize
from videostyle.engine.optimize import EarlyStop, Stylizer
from videostyle.errors import BadOption
from videostyle.video.chain import SegmentState, stylize_segment

FAST = StyleConfig(device="cpu", precision="fp32")
AUTO = TemporalConfig(first_iterations=20, max_iterations=8)


def crossing(frames: int = 3, step: int = 10, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """A still scene with a textured disc crossing it ``step`` px per frame: occlusions."""
    background, texture = scene(width, height), blobs(width, height, seed=5)
    out = []
    for t in range(frames):
        disc = np.zeros((height, width), np.uint8)
        cv2.circle(disc, (width - 8 - t * step, height // 2), 12, 1, -1)
        out.append(np.where(disc[..., None] > 0, texture, background))
    return out


def run(stylizer: Stylizer, frames: list[np.ndarray], config: TemporalConfig, **kwargs
        ) -> tuple[list[np.ndarray], dict[int, list[int]]]:
    """The float results, and per frame the iteration of each progress report and its plan."""
    seen: dict[int, list[int]] = {}
    planned: dict[int, set[int]] = {}

    def progress(index, p):
        seen.setdefault(index, []).append(p.iteration)
        planned.setdefault(index, set()).add(p.iterations)

    states = [f.state for f in stylize_segment(stylizer, frames, config=config, progress=progress, **kwargs)]
    return states, {i: [max(its), *sorted(planned[i])] for i, its in seen.items()}


@pytest.fixture(scope="module")
def stylizer() -> Stylizer:
    return Stylizer([stripes()], FAST)


def test_a_fixed_budget_runs_exactly_n_iterations(stylizer):
    _, done = run(stylizer, crossing(), TemporalConfig(iterations=5, first_iterations=20))
    assert done == {0: [20, 20], 1: [5, 5], 2: [5, 5]}  # (iterations done, planned) per frame
    static_frames = [scene()] * 3  # nothing left to gain: a fixed budget still runs it all
    _, done = run(stylizer, static_frames, TemporalConfig(iterations=5, first_iterations=20))
    assert done[1] == [5, 5] and done[2] == [5, 5]


def test_auto_stops_earlier_on_a_static_scene_than_with_occlusions(stylizer):
    _, still = run(stylizer, [scene()] * 3, AUTO)
    _, moving = run(stylizer, crossing(), AUTO)
    assert still[0] == moving[0] == [20, 20]  # the first frame keeps its fixed budget
    for frame in (1, 2):
        assert still[frame][0] < moving[frame][0], (still, moving)
        assert still[frame][1] == moving[frame][1] == AUTO.max_iterations  # progress plans the ceiling


def test_the_ceiling_holds(stylizer, monkeypatch):
    steps: list[int] = []  # the optimizer's own count, before progress caps it at the plan
    report = optimize._Reporter.__call__

    def counting(self, step, *rest):
        steps.append(step)
        report(self, step, *rest)

    monkeypatch.setattr(optimize._Reporter, "__call__", counting)
    capped = TemporalConfig(first_iterations=20, max_iterations=2)
    _, done = run(stylizer, crossing(), capped)
    assert done[1] == [2, 2] and done[2] == [2, 2] and max(steps) == 20  # the first frame's 20
    steps.clear()
    stylizer.stylize(scene(), iterations=3, stop=EarlyStop(decrease=0.0), callback=lambda p: None)
    assert max(steps) == 3  # the loss keeps falling: the pass runs to its budget, and no further


def test_auto_is_deterministic_and_resumes_bit_identically(stylizer):
    frames = crossing(frames=4)
    first, _ = run(stylizer, frames, AUTO)
    second, _ = run(stylizer, frames, AUTO)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    state = SegmentState(results=(first[1],), since_restart=2)
    resumed, _ = run(stylizer, frames[1:], AUTO, first=1, begin=2, state=state)
    assert all(np.array_equal(a, b) for a, b in zip(resumed, first[2:], strict=True))


def test_early_stop_reads_the_relative_decrease():
    rule = EarlyStop(decrease=0.01, min_iterations=2)
    assert not rule.done([1.0])
    assert not rule.done([1.0, 0.9999])  # below the minimum
    assert rule.done([1.0, 0.9, 0.899])  # fell 0.1% < 1%
    assert not rule.done([1.0, 0.9, 0.85])
    assert rule.done([1.0, 0.9, float("nan")])  # a loss that is no number stops
    with pytest.raises(BadOption):
        EarlyStop(decrease=-1)


def test_iterations_auto_is_the_default_and_is_checked():
    assert TemporalConfig().adaptive and TemporalConfig(iterations="auto") == TemporalConfig()  # type: ignore[arg-type]
    assert not TemporalConfig(iterations=20).adaptive and TemporalConfig(iterations=20).planned_iterations == 20
    for bad in ({"iterations": "fast"}, {"iterations": -1}, {"max_iterations": 0}):
        with pytest.raises(BadOption):
            TemporalConfig(**bad)
    assert SegmentConfig().plan_costs(TemporalConfig())["shot_start_cost"] > 0  # planning still has a count
    assert StyleConfig(iterations=None).iterations == StyleConfig().iterations  # type: ignore[arg-type]
