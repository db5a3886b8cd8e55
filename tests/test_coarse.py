"""paint="coarse" (issue 25, item 3): a later frame that needs work all over (a handheld camera)
is optimized mostly at half size, its low frequencies only, then briefly at full size through
the first layers; its start is sharpened where the warp blurred it (engine/changed.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from synthetic import scene, stripes

from videostyle.config import StyleConfig, TemporalConfig
from videostyle.engine import changed
from videostyle.engine.flow import FlowResult, flow_between
from videostyle.engine.optimize import Progress, Stylizer
from videostyle.engine.temporal import TemporalStylizer
from videostyle.engine.tensors import frame_to_tensor, resize_tensor
from videostyle.engine.warp import backward_warp
from videostyle.video.chain import SegmentState, stylize_segment

FAST = StyleConfig(device="cpu", precision="fp32")
COARSE = TemporalConfig(paint="coarse", first_iterations=4)


def _flow(backward: np.ndarray) -> FlowResult:
    h, w = backward.shape[:2]
    return FlowResult(backward=backward, forward=-backward, mask=np.ones((h, w), np.float32),
                      mismatch=np.zeros((h, w), np.float32))


def shaky_clip(frames: int = 4, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """The scene shifted by fractions of a pixel each frame, as a hand holds a camera."""
    big = scene(width + 8, height + 8)
    out = []
    for t in range(frames):
        dx, dy = 4 + 0.45 * np.sin(t * 2.1), 4 + 0.4 * np.cos(t * 1.3)
        shift = np.float32([[1, 0, -dx], [0, 1, -dy]])
        out.append(cv2.warpAffine(big, shift, (width, height), flags=cv2.INTER_CUBIC))
    return out


def laplacian_variance(image: torch.Tensor) -> float:
    gray = image[0].mean(0).numpy().astype(np.float64)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def _paint(stylizer: Stylizer, content: torch.Tensor, previous: torch.Tensor, flow: FlowResult, *, coarse: bool,
           settings: changed.PaintSettings | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    spent: dict[str, float] = {}

    def count(p: Progress) -> None:
        spent[p.kind] = spent.get(p.kind, 0.0) + p.cost

    out = changed.paint_frame(stylizer, content, previous, flow, temporal_weight=200.0, callback=count,
                              iterations=20, coarse=coarse, settings=settings)
    return out, spent


# -- the sharpened start ----------------------------------------------------------------------------
def test_sharpening_leaves_a_whole_pixel_warp_and_a_flat_picture_as_they_are():
    picture = frame_to_tensor(scene())
    whole_pixels = np.full((48, 64, 2), 2.0, np.float32)
    assert torch.equal(changed.sharpen_warped(picture, whole_pixels, 1.0), picture)
    flat = torch.full((1, 3, 48, 64), 0.4)
    half = np.full((48, 64, 2), 0.5, np.float32)
    assert torch.allclose(changed.sharpen_warped(flat, half, 1.0), flat)


def test_sharpening_gives_back_detail_a_sub_pixel_warp_took():
    picture = frame_to_tensor(stripes())
    half = np.full((48, 64, 2), 0.5, np.float32)
    warped = backward_warp(picture, half).clamp(0, 1)
    sharpened = changed.sharpen_warped(warped, half, 0.5)
    assert laplacian_variance(warped) < laplacian_variance(sharpened)
    assert float((sharpened - warped).abs().mean()) < 0.1  # a touch, not a new picture


# -- a frame --------------------------------------------------------------------------------------------
def test_a_frame_moving_all_over_costs_a_fraction_of_a_whole_one():
    stylizer = Stylizer([stripes()], FAST)
    frames = shaky_clip(frames=2)
    content = frame_to_tensor(frames[1])
    previous = stylizer.stylize(frames[0], iterations=4)
    flow = _flow(np.full((48, 64, 2), 0.5, np.float32))  # every pixel resampled half a pixel off
    assert changed.plan_frame(flow).whole
    whole, whole_cost = _paint(stylizer, content, previous, flow, coarse=False)
    coarse, coarse_cost = _paint(stylizer, content, previous, flow, coarse=True)
    assert set(coarse_cost) == {"forward", "coarse", "fine"}
    assert sum(coarse_cost.values()) < 0.5 * sum(whole_cost.values())
    assert coarse.shape == whole.shape and bool(torch.isfinite(coarse).all())
    assert float(coarse.min()) >= 0 and float(coarse.max()) <= 1


def test_the_half_size_pass_changes_the_low_frequencies_only():
    stylizer = Stylizer([stripes()], FAST)
    frames = shaky_clip(frames=2)
    content = frame_to_tensor(frames[1])
    previous = stylizer.stylize(frames[0], iterations=4)
    flow = _flow(np.full((48, 64, 2), 0.5, np.float32))
    settings = changed.with_settings(fine_iterations=0, sharpen=0.0)
    out, cost = _paint(stylizer, content, previous, flow, coarse=True, settings=settings)
    assert "fine" not in cost
    warped = backward_warp(previous, flow.backward).clamp(0, 1)
    change = out - warped
    assert float(change.abs().mean()) > 1e-3  # the pass did something
    # what the change holds at full size beyond what half size can: little (clamping aside)
    low = resize_tensor(resize_tensor(change, 24, 32), 48, 64)
    assert float((change - low).pow(2).mean()) < 0.2 * float(change.pow(2).mean())


def test_new_ground_in_a_coarse_frame_gets_full_size_work_in_crops():
    stylizer = Stylizer([stripes()], FAST)
    frames = shaky_clip(frames=2)
    content = frame_to_tensor(frames[1])
    previous = stylizer.stylize(frames[0], iterations=4)
    backward = np.full((48, 64, 2), 0.5, np.float32)
    backward[..., 0] = -6.5  # a pan: the left 6 columns come into view, everything is resampled
    flow = _flow(backward)
    plan = changed.plan_frame(flow)
    assert plan.whole and plan.revealed[:, :6].all()
    with_crops = changed.with_settings(coarse_new_crops=True)
    out, cost = _paint(stylizer, content, previous, flow, coarse=True, settings=with_crops)
    assert {"coarse", "fine", "crop"} <= set(cost)
    crops = changed.new_ground_plan(plan, with_crops).crops
    assert crops and all(t.x0 == 0 for t in crops)  # the crops hold the new ground, not the whole picture
    covered = np.zeros((48, 64), bool)
    for t in crops:
        covered[t.y0:t.y1, t.x0:t.x1] = True
    assert covered[plan.new].all() and not covered.all()
    before, before_cost = _paint(stylizer, content, previous, flow, coarse=True,
                                 settings=changed.with_settings(coarse_new_crops=False))
    assert "crop" not in before_cost
    assert float((out - before)[..., :6].abs().mean()) > 1e-3  # the new ground was painted again
    assert bool(torch.isfinite(out).all()) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_more_style_weight_in_the_coarse_passes_brings_a_frame_closer_to_the_style():
    stylizer = Stylizer([stripes()], FAST)
    frames = shaky_clip(frames=2)
    content = frame_to_tensor(frames[1])
    previous = stylizer.stylize(frames[0], iterations=2)
    flow = _flow(np.full((48, 64, 2), 0.5, np.float32))
    plain, _ = _paint(stylizer, content, previous, flow, coarse=True)
    pressed, _ = _paint(stylizer, content, previous, flow, coarse=True,
                        settings=changed.with_settings(coarse_style=4.0))
    assert stylizer.style_distance(pressed) < stylizer.style_distance(plain)


def test_a_picture_too_small_to_halve_is_painted_whole_at_full_size():
    stylizer = Stylizer([stripes()], FAST)
    frames = shaky_clip(frames=2, width=32, height=24)  # half of 24 px is less than relu5_1's 16 px stride
    previous = stylizer.stylize(frames[0], iterations=2)
    flow = _flow(np.full((24, 32, 2), 0.5, np.float32))
    _, cost = _paint(stylizer, frame_to_tensor(frames[1]), previous, flow, coarse=True)
    assert "coarse" not in cost and cost.get("whole", 0.0) >= 1.0


# -- a chain ----------------------------------------------------------------------------------------------
def test_coarse_is_deterministic_and_a_resumed_chain_equals_the_uninterrupted_one():
    frames = shaky_clip(frames=4)
    stylizer = Stylizer([stripes()], FAST)
    kinds: set[str] = set()
    whole = list(stylize_segment(stylizer, frames, config=COARSE, progress=lambda _, p: kinds.add(p.kind)))
    assert "coarse" in kinds  # the third frame moves all over
    again = list(stylize_segment(stylizer, frames, config=COARSE))
    assert all(np.array_equal(a.state, b.state) for a, b in zip(whole, again, strict=True))
    state = SegmentState(results=(whole[1].state,), since_restart=whole[1].since_restart)
    rest = list(stylize_segment(stylizer, frames[1:], config=COARSE, first=1, begin=2, state=state))
    assert all(np.array_equal(a.state, b.state) for a, b in zip(rest, whole[2:], strict=True))


def test_a_live_budget_caps_both_passes():
    frames = shaky_clip(frames=3)[1:]  # from the second frame to the third everything moves
    stylizer = Stylizer([stripes()], FAST)
    temporal = TemporalStylizer(stylizer, COARSE)
    temporal.next(frames[0])
    seen: list[Progress] = []
    temporal.next(frames[1], flow_between(frames[0], frames[1]), iterations=1, callback=seen.append)
    assert temporal.painted == "changed" and {"coarse", "fine"} <= {p.kind for p in seen}
    assert all(p.iterations <= 1 for p in seen)


@pytest.mark.parametrize("mode", ["whole", "changed", "coarse"])
def test_every_paint_mode_is_a_choice(mode):
    assert TemporalConfig(paint=mode).paint == mode
