"""Segments without Ray: the planner, the segment function, the bridge, lazy progress."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from synthetic import blobs, make_clip, panning_texture, stripes

from videostyle.cli import main
from videostyle.config import SegmentConfig, StyleConfig, TemporalConfig
from videostyle.engine.optimize import Stylizer
from videostyle.errors import BadOption
from videostyle.video.chain import SegmentState, stylize_bridge, stylize_segment
from videostyle.video.plan import Segment, plan_segments

FAST = StyleConfig(device="cpu", precision="fp32")
FEW = TemporalConfig(iterations=2, first_iterations=4)


# -- the planner -----------------------------------------------------------------------------
def covers(plan: list[Segment], count: int) -> bool:
    return [s.start for s in plan] == sorted({s.start for s in plan}) and plan[0].start == 0 \
        and plan[-1].stop == count and all(a.stop == b.start for a, b in zip(plan, plan[1:], strict=False))


def test_cuts_split_for_free_and_start_shots():
    plan = plan_segments(100, [30, 70], workers=1, max_length=240, overlap=4)
    assert [(s.start, s.stop, s.shot_start) for s in plan] == [(0, 30, True), (30, 70, True), (70, 100, True)]
    assert all(not s.bridged for s in plan)


def test_long_shots_are_split_at_the_length_bound():
    plan = plan_segments(1000, [], workers=1, max_length=240, overlap=4)
    assert covers(plan, 1000) and len(plan) == 5
    assert all(len(s) <= 240 for s in plan)
    assert plan[0].shot_start and not any(s.shot_start for s in plan[1:])
    assert all(s.bridged == range(s.start, s.start + 4) for s in plan[1:])


def test_workers_get_a_segment_each_and_bridges_are_paid_for():
    plan = plan_segments(96, [], workers=2, max_length=240, overlap=4)
    assert [(s.start, s.stop) for s in plan] == [(0, 46), (46, 96)]  # 46 + a bridge of 4 = 50 frames of work
    cheap = plan_segments(96, [], workers=2, max_length=240, overlap=8, bridge_cost=2)
    assert [(s.start, s.stop) for s in cheap] == [(0, 47), (47, 96)] and len(cheap[1].bridged) == 8
    rounds = plan_segments(4320, [], workers=8, max_length=240, overlap=8)
    assert len(rounds) == 24  # 18 pieces of 240 would leave 6 of 8 workers idle in a third round
    many = plan_segments(960, [400], workers=8, max_length=240, overlap=4)
    assert covers(many, 960) and len(many) >= 8
    assert 400 in {s.start for s in many if s.shot_start}
    assert all(len(s) >= 10 for s in many)


def test_short_shots_are_not_split_below_the_minimum():
    plan = plan_segments(12, [], workers=4, max_length=240, overlap=4)
    assert [(s.start, s.stop) for s in plan] == [(0, 12)]
    assert plan_segments(0, [], workers=2, max_length=10, overlap=2) == []


# -- the segment function ----------------------------------------------------------------------
def test_a_segment_resumed_from_its_state_equals_the_uninterrupted_one():
    frames = panning_texture(frames=5)
    stylizer = Stylizer([stripes()], FAST)
    whole = list(stylize_segment(stylizer, frames, config=FEW))
    assert [f.index for f in whole] == [0, 1, 2, 3, 4] and whole[0].since_restart == 1
    state = SegmentState(results=(whole[2].state,), since_restart=whole[2].since_restart)
    rest = list(stylize_segment(stylizer, frames[1:], config=FEW, first=1, begin=3, state=state))
    assert [f.index for f in rest] == [3, 4]
    for a, b in zip(rest, whole[3:], strict=True):
        assert np.array_equal(a.state, b.state)


def test_a_segment_can_start_with_its_own_budget():
    frames = panning_texture(frames=2)
    stylizer = Stylizer([stripes()], FAST)
    seen: list[tuple[int, int]] = []
    out = list(stylize_segment(stylizer, frames, config=FEW, start_iterations=1,
                               progress=lambda index, p: seen.append((index, p.iterations))))
    assert len(out) == 2
    assert max(it for index, it in seen if index == 0) == 1  # the first frame got the given budget
    assert max(it for index, it in seen if index == 1) == FEW.iterations  # later frames their own


def test_the_bridge_moves_from_one_segment_to_the_next():
    frames = panning_texture(frames=5)
    stylizer = Stylizer([blobs()], FAST)
    ended = np.zeros_like(frames[0], dtype=np.float32)  # segment k ended black ...
    drafts = [np.full_like(frames[0], 255)] * 3  # ... and segment k+1 is white
    bridge = list(stylize_bridge(stylizer, frames[:4], drafts, ended, config=FEW, first=1,
                                 iterations=0))  # no optimization: the blend alone
    assert [f.index for f in bridge] == [1, 2, 3]
    means = [float(f.state.mean()) for f in bridge]
    assert means == sorted(means) and 0 < means[0] < means[-1] < 1  # monotone, never all one or the other
    steps = np.diff([0.0, *means, 1.0])
    assert steps.max() < 0.3  # four equal steps of a quarter, not a jump


# -- lazy progress: no host synchronisation unless a callback reads the loss ------------------------
def test_progress_reads_the_loss_only_when_asked(monkeypatch, content_image, style_image):
    calls = {"n": 0}
    original = torch.Tensor.__float__

    def counting(self):
        calls["n"] += 1
        return original(self)

    monkeypatch.setattr(torch.Tensor, "__float__", counting)
    stylizer = Stylizer([style_image], StyleConfig(device="cpu", precision="fp32", optimizer="adam"))
    iterations: list[int] = []
    stylizer.stylize(content_image, iterations=3, callback=lambda p: iterations.append(p.iteration))
    assert iterations == [1, 2, 3] and calls["n"] == 0
    losses: list[float] = []
    stylizer.stylize(content_image, iterations=3, callback=lambda p: losses.append(p.loss))
    assert calls["n"] == 3 and all(isinstance(v, float) for v in losses)


# -- options -----------------------------------------------------------------------------------------
def test_segment_options_are_checked():
    for bad in ({"workers": 0}, {"max_length": 1}, {"overlap": -1}, {"address": " "}):
        with pytest.raises(BadOption):
            SegmentConfig(**bad)
    assert not SegmentConfig().distributed and not SegmentConfig(workers=1).distributed
    assert SegmentConfig(workers=2).distributed and SegmentConfig(address="auto").distributed


def test_without_ray_workers_say_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    style = tmp_path / "style.png"
    from PIL import Image

    Image.fromarray(stripes()).save(style)
    capsys.readouterr()
    code = main(["video", str(clip), "--style", str(style), "-o", str(tmp_path / "o.mp4"), "--workers", "2"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and 'pip install "videostyle[ray]"' in err, err
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / ".o.mp4.videostyle").exists()
