"""The live policy shared by the webcam command and the web app: budget, restarts, figures.

The policy runs on a fake clock (tests/fake_time.py): what it decides from time is the same
on a quiet machine and a loaded one.
"""

from __future__ import annotations

import numpy as np
from fake_time import FakeClock
from synthetic import panning_texture, scene, stripes

from videostyle.config import StyleConfig
from videostyle.engine.optimize import Stylizer
from videostyle.live.policy import LiveStylizer

FAST = StyleConfig(device="cpu", precision="fp32")


def live(clock: FakeClock | None = None, **budget) -> LiveStylizer:
    settings = {"fps": None, "iterations": 2, "max_iterations": 4, "first_iterations": 3, **budget}
    return LiveStylizer(Stylizer([stripes()], FAST), clock=clock or FakeClock(tick=0.01), **settings)


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


def test_a_warm_up_ends_at_its_time_limit_and_the_stream_goes_on_from_it():
    """On a slow machine the first frame stops converging after ``warm_up_seconds``: it is
    shown partly stylized, and its pace sets the next frames' budget towards the target."""
    clock = FakeClock(tick=1.0)  # a machine where each evaluation takes about a second
    stream = live(clock, fps=0.5, iterations=10, max_iterations=40, first_iterations=100, warm_up_seconds=6.0)
    frames = panning_texture(frames=3, step=1, size=(48, 32))
    first = stream.step(frames[0])
    assert 1 <= stream.iterations[0] < 100  # ended by time, and counted as it ran
    assert stream.latencies[0] < 6.0 + 4 * clock.tick
    assert np.abs(first.astype(int) - frames[0].astype(int)).mean() > 1  # stylized, not the camera picture
    assert stream.steady is not None and stream.steady[0] == stream.iterations[0]
    budget = stream.budget()  # 2 s a frame at the warm-up's pace, at most double its count
    assert 1 <= budget <= 2 * stream.iterations[0]
    stream.step(frames[1])
    assert stream.iterations[1] == budget


def test_without_a_time_limit_the_warm_up_runs_its_iterations():
    stream = live(FakeClock(tick=1.0), first_iterations=6, warm_up_seconds=None)
    stream.step(scene(48, 32))
    assert stream.iterations == [6]


def test_a_cut_restart_is_bounded_in_time_too():
    clock = FakeClock(tick=1.0)
    stream = live(clock, iterations=50, max_iterations=100, first_iterations=2, warm_up_seconds=5.0)
    stream.step(scene(48, 32, seed=0))
    stream.step(stripes(48, 32))  # another scene: a cut, restarted with the cap
    assert stream.temporal.since_restart == 1  # it was a restart
    assert 1 <= stream.iterations[1] < 50  # stopped by time: neither the cap nor a steady frame's 50


def test_with_paint_changed_a_still_camera_costs_nothing_after_the_warm_up():
    frame = scene(48, 32, seed=0)
    costs = {}
    for paint in ("changed", "whole"):
        stream = live(paint=paint)
        for _ in range(3):
            stream.step(frame)
        costs[paint] = stream.costs
    assert costs["changed"][0] > 0 and costs["changed"][1:] == [0.0, 0.0]  # the warp serves every pixel
    assert min(costs["whole"][1:]) >= 2  # the old path optimizes every frame whole
