"""Paint what changed (engine/changed.py, engine/partial.py): a later frame's work goes where its
picture needs it; tiny frames, real weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from synthetic import blobs, panning_texture, scene, stripes

from videostyle.config import StyleConfig, TemporalConfig
from videostyle.engine import changed
from videostyle.engine.flow import FlowResult, colour_mismatch, flow_between
from videostyle.engine.gatys import NetworkLoss
from videostyle.engine.optimize import Progress, Stylizer
from videostyle.engine.partial import CropLoss, content_norms, crop_content, evaluation_share, picture_sums
from videostyle.engine.targets import FrameTargets
from videostyle.engine.temporal import TemporalStylizer
from videostyle.engine.tensors import frame_to_tensor
from videostyle.engine.terms import network_terms
from videostyle.engine.tiling import Tile
from videostyle.engine.warp import backward_warp
from videostyle.errors import BadOption
from videostyle.video.chain import SegmentState, stylize_segment

FAST = StyleConfig(device="cpu", precision="fp32")
PAINT = TemporalConfig(paint="changed", first_iterations=4)
WHOLE = TemporalConfig(paint="whole", first_iterations=4)


def still_clip(frames: int = 4, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """A fixed scene: every frame the same picture."""
    return [scene(width, height)] * frames


def moving_square(frames: int = 4, width: int = 64, height: int = 48, step: int = 4) -> list[np.ndarray]:
    """The scene with a red square moving ``step`` px a frame across it (about 8% of the picture)."""
    out = []
    for t in range(frames):
        frame = scene(width, height).copy()
        frame[16:32, 8 + t * step: 24 + t * step] = (220, 30, 30)
        out.append(frame)
    return out


def run(frames: list[np.ndarray], config: TemporalConfig, style: np.ndarray | None = None
        ) -> tuple[list[np.ndarray], dict[int, float], dict[int, dict[str, float]]]:
    """Float results of a chain, each frame's full-frame-equivalent evaluations, and those by kind."""
    stylizer = Stylizer([stripes() if style is None else style], FAST)
    cost: dict[int, float] = {}
    kinds: dict[int, dict[str, float]] = {}

    def count(index: int, p: Progress) -> None:
        cost[index] = cost.get(index, 0.0) + p.cost
        kinds.setdefault(index, {})[p.kind] = kinds.get(index, {}).get(p.kind, 0.0) + p.cost

    results = [f.state for f in stylize_segment(stylizer, frames, config=config, progress=count)]
    return results, cost, kinds


# -- the cost model ------------------------------------------------------------------------------
def test_a_whole_evaluation_costs_one_and_a_crop_its_share():
    layers = ("relu4_2", "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert evaluation_share(96, 160, frame=(96, 160), layers=layers, frame_layers=layers) == pytest.approx(1.0)
    quarter = evaluation_share(48, 80, frame=(96, 160), layers=layers, frame_layers=layers)
    assert quarter == pytest.approx(0.25, rel=0.02)
    assert evaluation_share(96, 160, frame=(96, 160), layers=layers, frame_layers=layers,
                            forward_only=True) == pytest.approx(0.5)
    shallow = evaluation_share(96, 160, frame=(96, 160), layers=("relu2_1",), frame_layers=layers)
    assert 0.1 < shallow < 0.2  # the first layers are a small part of the network's work


def test_progress_reports_the_cost_of_a_coarse_scale_at_its_area(content_image, style_image):
    stylizer = Stylizer([style_image], dataclasses.replace(FAST, scales=2, min_scale_size=32))
    seen: list[tuple[int, float]] = []
    stylizer.stylize(content_image, iterations=2, callback=lambda p: seen.append((p.scale, p.cost)))
    coarse = [c for s, c in seen if s == 1]
    assert coarse and all(c == pytest.approx(0.25) for c in coarse)
    assert {c for s, c in seen if s == 2} == {1.0}


# -- partial evaluation ----------------------------------------------------------------------------
def _style_gradients(tile: Tile, height: int = 64, width: int = 96) -> tuple[float, torch.Tensor, float, torch.Tensor]:
    """(whole picture's style term, its gradient, the crop's, its gradient) at the first layers
    (relu1_1, relu2_1: a reach of a few pixels, so that a core can hold pixels beyond it)."""
    config = dataclasses.replace(FAST, style_layers=("relu1_1", "relu2_1"), content_layers=("relu2_1",))
    stylizer = Stylizer([stripes()], config)
    x = frame_to_tensor(blobs(width, height))
    content = frame_to_tensor(scene(width, height))
    grams = stylizer.targets.at(height, width).grams
    weights = {n: config.effective_style_weight * w for n, w in config.layer_weights().items()}
    content_weights = {n: config.content_weight for n in config.content_layers}
    whole_terms = network_terms(size=(height, width), dtype=None, content=stylizer.vgg(content, config.content_layers),
                                content_weights=content_weights, style_weights=weights, targets=grams)
    xw = x.clone().requires_grad_(True)
    _, style = NetworkLoss(stylizer.vgg, None, whole_terms)(xw)
    style.backward()  # the style term alone: the content term is normalized by the core's own content
    features = crop_content(stylizer.vgg, None, content, tile, config.content_layers)
    terms = network_terms(size=(height, width), dtype=None, content=features, content_weights=content_weights,
                          style_weights=weights, targets=grams, content_norms=content_norms(features, height, width))
    whole, cores = picture_sums(stylizer.vgg, None, x, terms, (tile,))
    rest = {t: whole[t] - cores[0][t] for found in terms.style.values() for t in found}
    xc = x.clone().requires_grad_(True)
    _, style_crop = CropLoss(stylizer.vgg, None, terms, tile, rest)(xc)
    style_crop.backward()
    assert xw.grad is not None and xc.grad is not None
    return float(style.detach()), xw.grad, float(style_crop.detach()), xc.grad


def test_a_crop_of_the_whole_picture_is_the_whole_loss():
    style, grad, crop_style, crop_grad = _style_gradients(Tile(0, 64, 0, 96, 0, 64, 0, 96))
    assert crop_style == pytest.approx(style, rel=1e-5)
    assert torch.allclose(crop_grad, grad, rtol=1e-4, atol=1e-5 * float(grad.abs().max()))


def test_a_crops_gradient_is_the_whole_losss_inside_its_core_with_the_rest_held():
    """The rest of the picture's Gram statistics fixed, the loss is the whole picture's, and so
    is the gradient at pixels further inside the core than the layers reach; near the core's
    edge it lacks what the features just outside it would add (they are held)."""
    style, grad, crop_style, crop_grad = _style_gradients(Tile(16, 48, 16, 80, 0, 64, 0, 96))
    assert crop_style == pytest.approx(style, rel=1e-5)
    inside = (..., slice(28, 36), slice(28, 68))
    scale = float(grad.abs().max())
    assert torch.allclose(crop_grad[inside], grad[inside], rtol=1e-4, atol=1e-5 * scale)
    assert float(crop_grad[..., :8, :].abs().max()) == 0.0  # beyond the layers' reach of the core: nothing
    edge = (..., slice(16, 18), slice(16, 80))
    assert not torch.allclose(crop_grad[edge], grad[edge], rtol=1e-3, atol=1e-4 * scale)


# -- which pixels ------------------------------------------------------------------------------
def test_a_crop_keeps_its_cores_statistics_and_compares_the_whole_pictures():
    """CropLoss's pass is NetworkLoss's with each Gram statistic completed: what it keeps
    (``sums``) is the core's share and what it compares the whole picture's (its extent here
    is the whole picture, so its features are exact)."""
    height, width = 64, 96
    config = dataclasses.replace(FAST, style_layers=("relu1_1", "relu2_1"), content_layers=("relu2_1",))
    stylizer = Stylizer([stripes()], config)
    x, content = frame_to_tensor(blobs(width, height)), frame_to_tensor(scene(width, height))
    tile = Tile(16, 48, 16, 80, 0, height, 0, width)
    features = crop_content(stylizer.vgg, None, content, tile, config.content_layers)
    terms = network_terms(size=(height, width), dtype=None, content=features,
                          content_weights={n: 1.0 for n in config.content_layers},
                          style_weights=dict.fromkeys(config.style_layers, 1.0),
                          targets=stylizer.targets.at(height, width).grams,
                          content_norms=content_norms(features, height, width))
    whole, cores = picture_sums(stylizer.vgg, None, x, terms, (tile,))
    rest = {t: whole[t] - cores[0][t] for found in terms.style.values() for t in found}
    loss = CropLoss(stylizer.vgg, None, terms, tile, rest)
    loss(x)
    assert set(loss.sums) == set(rest)
    for term, core in cores[0].items():
        scale = float(whole[term].abs().max())
        assert torch.allclose(loss.sums[term], core, atol=1e-5 * scale)
        assert torch.allclose(loss.compared(term, loss.sums[term]), whole[term], atol=1e-5 * scale)
    assert NetworkLoss(stylizer.vgg, None, terms).compared(term, core) is core  # the whole picture's: as it is


def test_crops_cover_what_needs_painting_on_the_cell_grid():
    paint = np.zeros((90, 160), bool)
    paint[:, 150:] = True  # a strip entering at the right
    paint[:4, :] = True  # and one at the top: an L, not the whole picture
    crops = changed.plan_crops(paint, cell=16, halo=0)
    covered = np.zeros_like(paint)
    for t in crops:
        covered[t.y0:t.y1, t.x0:t.x1] = True
        assert t.y0 % 16 == 0 and t.x0 % 16 == 0
        assert t.y1 - t.y0 >= 16 and t.x1 - t.x0 >= 16  # the network needs room
    assert covered[paint].all()
    assert covered.mean() < 0.4


def test_colour_mismatch_ignores_noise_and_a_pixel_of_flow_error_but_sees_new_things():
    rng = np.random.default_rng(0)
    a = scene(64, 48)
    noisy = np.clip(a + rng.normal(0, 2, a.shape), 0, 255).astype(np.uint8)
    shifted = np.roll(a, 1, axis=1)  # the flow (zero) is a pixel off everywhere
    zero = np.zeros((48, 64, 2), np.float32)
    reliable = np.ones((48, 64), np.float32)
    assert colour_mismatch(a, noisy, zero, reliable).max() < 0.05
    assert (colour_mismatch(a, shifted, zero, reliable)[:, 2:-2] > 0.08).mean() < 0.01
    changed_frame = a.copy()
    changed_frame[10:20, 10:20] = (255, 0, 255)
    assert (colour_mismatch(a, changed_frame, zero, reliable)[11:19, 11:19] > 0.3).all()


def _flow(backward: np.ndarray) -> FlowResult:
    h, w = backward.shape[:2]
    return FlowResult(backward=backward, forward=-backward, mask=np.ones((h, w), np.float32),
                      mismatch=np.zeros((h, w), np.float32))


def test_a_whole_pixel_shift_needs_work_only_where_ground_came_in():
    backward = np.zeros((48, 64, 2), np.float32)
    backward[..., 0] = 3.0  # the camera pans right by 3 px: each pixel shows what was 3 px right of it
    plan = changed.plan_frame(_flow(backward), changed.with_settings(young_frames=1))
    assert plan.revealed[:, -3:].all() and not plan.revealed[:, :-3].any()
    assert not plan.whole and plan.work[:, :-3].mean() == 0  # the rest is carried exactly
    assert plan.hold[:, -3:].max() == 0 and plan.hold[:, :-4].min() == 1


def test_a_sub_pixel_shift_everywhere_is_worked_on_whole():
    backward = np.full((48, 64, 2), 0.5, np.float32)  # half a pixel: resampling blurs every pixel
    assert changed.plan_frame(_flow(backward)).whole


def test_new_ground_gets_iterations_in_proportion_to_its_area():
    stylizer = Stylizer([stripes()], FAST)
    counts = []
    for step in (2, 6):
        backward = np.zeros((48, 128, 2), np.float32)
        backward[..., 0] = step
        settings = changed.with_settings(young_frames=1, work_iterations=1, most_iterations=100)
        plan = changed.plan_frame(_flow(backward), settings)
        painter = changed._Painter(stylizer, temporal_weight=1.0, layer_scale={}, targets=None, callback=None,
                                   frame=(48, 128), settings=settings)
        counts.append(changed.crop_iterations(plan, painter, settings))
    assert all(len(c) == 1 for c in counts)
    assert counts[1][0] > 2 * counts[0][0] >= 2


def test_still_ground_just_uncovered_behind_a_moving_subject_stays_new_and_loosely_held():
    """Behind a subject ground comes into view a sliver a frame: the still ground near this
    frame's sliver came into view over the last frames, and is painted as new, not held."""
    backward = np.zeros((48, 96, 2), np.float32)
    backward[16:32, 40:56, 0] = -2.0  # a subject moving right by 2 px a frame; the rest is still
    flow = _flow(backward)
    assert flow.mismatch is not None
    flow.mismatch[16:32, 38:40] = 0.5  # the sliver behind it shows something new ...
    flow.mask[16:32, 38:40] = 0.0  # ... where the flow is unreliable: uncovered
    settings = changed.with_settings(uncovered_reach=8, uncovered_hold=0.25)
    plan = changed.plan_frame(flow, settings)
    lately = plan.new & ~plan.revealed
    assert lately[16:32, 30:38].all()  # still ground just behind the sliver
    assert not lately[16:32, 40:56].any() and not lately[:, 60:].any()  # not the subject, not far away
    assert np.allclose(plan.hold[lately], 0.25)
    assert not plan.work[:, 60:].any()  # nothing to work on far away
    plain = changed.plan_frame(flow, changed.with_settings(uncovered_reach=0))
    assert not (plain.new & ~plain.revealed).any() and plain.hold[16:32, 30:38].min() == 1


def test_crops_with_much_work_take_the_rests_statistics_from_a_pass_over_the_picture():
    frames = panning_texture(frames=2, step=8, size=(128, 48))
    stylizer = Stylizer([stripes()], FAST)
    temporal = TemporalStylizer(stylizer, PAINT)
    first = frame_to_tensor(temporal.next(frames[0]))
    flow = flow_between(frames[0], frames[1])
    content = frame_to_tensor(frames[1])
    passes = []
    for measured_work in (0.0, 0.01):
        settings = changed.with_settings(measured_share=1.0, measured_work=measured_work)
        seen: list[Progress] = []
        changed.paint_frame(stylizer, content, first, flow, temporal_weight=200.0, settings=settings,
                            callback=seen.append)
        passes.append([p.cost for p in seen if p.kind == "forward"])
    layers = tuple(FAST.content_layers) + tuple(FAST.style_layers)
    whole_pass = evaluation_share(48, 128, frame=(48, 128), layers=layers, frame_layers=layers, forward_only=True)
    assert whole_pass not in passes[0]  # the rest taken to match the style: no pass over the picture
    assert passes[1].count(whole_pass) == 1


# -- frames ------------------------------------------------------------------------------------------
def test_a_still_scene_costs_nothing_after_its_first_frame():
    results, cost, _ = run(still_clip(), PAINT)
    assert cost[0] > 1  # the first frame is stylized whole
    assert all(cost.get(t, 0.0) == 0.0 for t in (1, 2, 3))
    assert np.abs(results[3] - results[0]).max() < 1e-6  # served by the warp: nothing moved


def test_a_moving_subject_costs_less_than_the_whole_frame_and_its_surroundings_stay():
    frames = moving_square()
    results, moving, _ = run(frames, PAINT)
    _, whole, _ = run(frames, WHOLE)
    later = [moving[t] for t in (1, 2, 3)]
    assert all(c > 0 for c in later)
    assert sum(later) < 0.5 * sum(whole[t] for t in (1, 2, 3))
    # the far corner, away from the square's cells, is the first frame's paint carried unchanged
    assert np.abs(results[3][:, 48:][36:] - results[0][:, 48:][36:]).max() < 1e-6


def test_new_ground_gets_work_and_the_rest_is_served_by_the_warp():
    frames = panning_texture(frames=3, step=6)
    stylizer = Stylizer([stripes()], FAST)
    temporal = TemporalStylizer(stylizer, PAINT)
    first = temporal.next(frames[0])
    flow = flow_between(frames[0], frames[1])
    plan = changed.plan_frame(flow)
    assert plan.revealed[:, -3:].all()  # the strip that entered on the right
    assert not plan.whole
    worked = np.zeros(plan.work.shape, bool)
    for t in plan.crops:
        worked[t.y0:t.y1, t.x0:t.x1] = True
    assert worked[plan.revealed].all()
    result = temporal.next(frames[1], flow)
    assert temporal.painted == "changed"
    warped = backward_warp(frame_to_tensor(first), flow.backward)[0].permute(1, 2, 0).numpy()
    moved = np.abs(result - warped).max(axis=2)
    assert moved[plan.revealed].mean() > 0.05
    assert moved[~worked].max() < 1e-6


def test_new_ground_is_pushed_towards_the_style():
    """The boost: new ground painted with it ends further from its photo-coloured start than
    with the rest's own style pressure."""
    frames = panning_texture(frames=2, step=8)
    stylizer = Stylizer([stripes()], FAST)
    temporal = TemporalStylizer(stylizer, PAINT)
    first = frame_to_tensor(temporal.next(frames[0]))
    flow = flow_between(frames[0], frames[1])
    plan = changed.plan_frame(flow)
    content = frame_to_tensor(frames[1])
    start = changed.fill_revealed(backward_warp(first, flow.backward), content, plan.revealed)
    moved = []
    for boost in (1.0, 5.0):
        out = changed.paint_frame(stylizer, content, first, flow, temporal_weight=200.0,
                                  settings=changed.with_settings(new_style=boost))
        moved.append(float((out - start).abs()[0][:, torch.from_numpy(plan.revealed)].mean()))
    assert moved[1] > 1.2 * moved[0]


def test_paint_mode_is_deterministic_and_a_resumed_chain_equals_the_uninterrupted_one():
    frames = moving_square(frames=5)
    stylizer = Stylizer([stripes()], FAST)
    whole = list(stylize_segment(stylizer, frames, config=PAINT))
    again = list(stylize_segment(stylizer, frames, config=PAINT))
    assert all(np.array_equal(a.state, b.state) for a, b in zip(whole, again, strict=True))
    state = SegmentState(results=(whole[2].state,), since_restart=whole[2].since_restart)
    rest = list(stylize_segment(stylizer, frames[1:], config=PAINT, first=1, begin=3, state=state))
    assert all(np.array_equal(a.state, b.state) for a, b in zip(rest, whole[3:], strict=True))


def test_a_style_change_paints_the_whole_frame():
    frames = still_clip(frames=3)
    stylizer = Stylizer([stripes(), blobs()], FAST)
    temporal = TemporalStylizer(stylizer, PAINT)
    temporal.next(frames[0], targets=FrameTargets(weights=(1.0, 0.0)))
    flow = flow_between(frames[0], frames[1])
    costs: list[float] = []
    temporal.next(frames[1], flow, targets=FrameTargets(weights=(1.0, 0.0)), callback=lambda p: costs.append(p.cost))
    assert sum(costs) == 0.0 and temporal.painted == "changed"  # the same targets, a still scene
    temporal.next(frames[2], flow, targets=FrameTargets(weights=(0.5, 0.5)), callback=lambda p: costs.append(p.cost))
    assert sum(costs) >= 1.0 and temporal.painted == "whole"  # every pixel's target moved


def test_a_region_mask_and_a_hand_over_are_painted_whole():
    frames = still_clip(frames=2)
    stylizer = Stylizer([stripes()], FAST)
    temporal = TemporalStylizer(stylizer, PAINT)
    temporal.next(frames[0])
    flow = flow_between(frames[0], frames[1])
    mask = np.ones((48, 64), np.float32)
    temporal.next(frames[1], flow, targets=FrameTargets(mask=mask), iterations=1)
    assert temporal.painted == "whole"
    temporal.next(frames[1], flow, toward=(frames[1], 0.5), iterations=1)
    assert temporal.painted == "whole"


def test_a_budget_caps_each_pass():
    frames = moving_square(frames=2)
    stylizer = Stylizer([stripes()], FAST)
    temporal = TemporalStylizer(stylizer, PAINT)
    temporal.next(frames[0])
    seen: list[Progress] = []
    temporal.next(frames[1], flow_between(frames[0], frames[1]), iterations=1, callback=seen.append)
    assert temporal.painted == "changed"
    assert seen and all(p.iterations <= 1 for p in seen)


def test_an_unknown_paint_mode_is_refused():
    with pytest.raises(BadOption, match="paint"):
        TemporalConfig(paint="some")


def test_a_flow_without_a_colour_check_still_works():
    frames = moving_square(frames=2)
    stylizer = Stylizer([stripes()], FAST)
    temporal = TemporalStylizer(stylizer, PAINT)
    temporal.next(frames[0])
    flow = flow_between(frames[0], frames[1])
    bare = FlowResult(backward=flow.backward, forward=flow.forward, mask=flow.mask)
    out = temporal.next(frames[1], bare)
    assert out.shape == (48, 64, 3) and np.isfinite(out).all()


# -- keyframes and multi-pass (video/keyframes.py, video/passes.py) ------------------------------
def _folder(folder, frames: list[np.ndarray]):
    from synthetic import write_rgb

    folder.mkdir()
    for i, frame in enumerate(frames):
        write_rgb(folder / f"f_{i + 1:03d}.png", frame)
    return folder


def _video(clip, out, config: TemporalConfig, **options) -> tuple[list[np.ndarray], dict[str, dict[int, float]]]:
    """A video job's frames and each stage's ("stylize", "pass 2", ...) cost per frame."""
    from PIL import Image

    from videostyle.config import ClipConfig
    from videostyle.video.job import stylize_video

    cost: dict[str, dict[int, float]] = {}

    def record(p) -> None:
        if p.step is not None:
            stage = cost.setdefault(p.stage, {})
            stage[p.frame] = stage.get(p.frame, 0.0) + p.step.cost

    stylize_video(clip, f"{out}/", options.pop("styles", [stripes()]), style=FAST, temporal=config,
                  clip=ClipConfig(size=None), callback=record, **options)
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(out.glob("frame_*.png"))], cost


def test_later_passes_optimize_every_frame_whole_under_paint_changed(tmp_path):
    # an optimized pass (--pass-iterations) starts each frame from a blend of its neighbours'
    # warps (a guide), not from a warp that carries a painting exactly: painted "where changed"
    # it would keep the guide unworked
    clip = _folder(tmp_path / "clip", panning_texture(frames=5, step=2))
    few = dataclasses.replace(PAINT, iterations=2)
    frames, cost = _video(clip, tmp_path / "out", few, passes=2, pass_iterations=2)
    assert len(frames) == 5
    assert sorted(cost["pass 2"]) == [0, 1, 2, 3, 4]
    assert all(c >= 1.0 for c in cost["pass 2"].values()), cost["pass 2"]


def test_keyframes_under_paint_changed_keep_their_frames_and_work_between_them(tmp_path):
    frames = panning_texture(frames=6, step=2)
    clip = _folder(tmp_path / "clip", frames)
    from videostyle.video.keyframes import KeyframeImage

    keys = [KeyframeImage((0.5 * frames[1] + 60).astype(np.uint8), "a.png", frame=2),
            KeyframeImage((0.5 * frames[4] + 100).astype(np.uint8), "b.png", frame=5)]
    out, cost = _video(clip, tmp_path / "out", dataclasses.replace(PAINT, iterations=2), keyframes=keys, styles=[])
    assert np.array_equal(out[1], keys[0].image) and np.array_equal(out[4], keys[1].image)
    between = [cost["stylize"].get(t, 0.0) for t in (2, 3)]
    assert all(c >= 1.0 for c in between), between  # the guide between keyframes is worked on whole


def test_a_segments_bridge_and_a_loops_end_are_painted_whole_under_paint_changed():
    # both blend each frame towards another stylization of it (toward): every pixel's start moved
    from videostyle.video.chain import stylize_bridge, stylize_loop_end

    frames = moving_square(frames=4)
    stylizer = Stylizer([stripes()], FAST)
    chain = [f.state for f in stylize_segment(stylizer, frames, config=PAINT)]
    drafts = [(255 * s).astype(np.uint8) for s in chain[1:3]]
    for make in ("bridge", "loop end"):
        cost: dict[int, float] = {}

        def count(index: int, p: Progress, cost: dict[int, float] = cost) -> None:
            cost[index] = cost.get(index, 0.0) + p.cost

        if make == "bridge":
            done = list(stylize_bridge(stylizer, frames[0:3], drafts, chain[0], config=PAINT, first=1, iterations=2,
                                       progress=count))
        else:
            done = list(stylize_loop_end(stylizer, [frames[0], frames[3], frames[2]], drafts[::-1], chain[0],
                                         config=PAINT, iterations=2, indices=[3, 2], progress=count))
        assert len(done) == 2
        assert all(cost[f.index] >= 2.0 for f in done), (make, cost)  # two whole iterations each
