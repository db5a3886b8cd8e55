"""The live policy shared by the webcam command and the web app: budget, restarts, figures."""

from __future__ import annotations

import numpy as np
from synthetic import scene, stripes

from videostyle.config import StyleConfig
from videostyle.engine.optimize import Stylizer
from videostyle.live.policy import LiveStylizer

FAST = StyleConfig(device="cpu", precision="fp32")


def live(**budget) -> LiveStylizer:
    settings = {"fps": None, "iterations": 2, "max_iterations": 4, "first_iterations": 3, **budget}
    return LiveStylizer(Stylizer([stripes()], FAST), **settings)


def test_first_frame_warms_up_then_the_fixed_budget_applies():
    stream = live()
    assert stream.warming_up and stream.caption() is None
    frames = [scene(48, 32, seed=0), np.roll(scene(48, 32, seed=0), 1, axis=1)]
    for frame in frames:
        out = stream.step(frame)
        assert out.shape == frame.shape and out.dtype == np.uint8
    assert not stream.warming_up
    assert stream.iterations == [3, 2]
    assert len(stream.latencies) == 2
    assert stream.caption() is not None and "fps" in stream.caption()


def test_budget_is_steered_towards_the_target_rate_within_the_cap():
    stream = live(fps=2.0, iterations=5, max_iterations=40)
    assert stream.budget() == 5  # nothing measured yet
    stream.steady = (10, 1.0)  # 10 iterations took a second: half as many hold 2 fps
    assert stream.budget() == 5
    stream.steady = (10, 0.1)  # far too fast: grow, but at most doubling per frame
    assert stream.budget() == 20
    stream.steady = (30, 0.1)
    assert stream.budget() == 40  # capped


def test_a_new_frame_size_restarts_from_the_content():
    stream = live()
    stream.step(scene(48, 32))
    stream.step(scene(40, 40))
    assert stream.iterations == [3, 3]  # the second was a fresh start, not a steady frame
