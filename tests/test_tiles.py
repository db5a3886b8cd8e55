"""Tiled optimization (engine/tiles.py, planned by engine/memory.py): the tiled gradient is
the untiled one, on tiny pictures with the real weights, in fp32 on the CPU."""

from __future__ import annotations

import argparse

import pytest
import torch
from cli_text import cli_text, raises_cli
from synthetic import scene, stripes

from videostyle.cli.options import image_request
from videostyle.cli.parser import build_parser
from videostyle.config import StyleConfig, parse_bytes
from videostyle.engine import memory, tiles, tiling
from videostyle.engine.optimize import Stylizer
from videostyle.engine.tensors import frame_to_tensor, resize_frame
from videostyle.engine.vgg import LAYER
from videostyle.errors import BadOption

CPU = dict(device="cpu", precision="fp32")
H, W = 32, 192  # three 64 px cores in a row: the outer tiles' halos are cut short of the far edge
CPU_DEVICE = torch.device("cpu")


Setup = tuple[Stylizer, torch.Tensor, torch.Tensor, tuple[float, torch.Tensor]]


@pytest.fixture(scope="module")
def setup() -> Setup:
    """A stylizer, a content, a point x near it, and the untiled (loss, gradient) at x."""
    stylizer = Stylizer([stripes()], StyleConfig(tv_weight=1.0, **CPU))  # type: ignore[arg-type]
    content = frame_to_tensor(resize_frame(scene(), W, H), CPU_DEVICE)
    noise = torch.randn(content.shape, generator=torch.Generator().manual_seed(0))
    x = (content + 0.1 * noise).clamp(0, 1)
    return stylizer, content, x, _loss_and_grad(stylizer, content, x, None)


def _loss_and_grad(stylizer: Stylizer, content: torch.Tensor, x: torch.Tensor,
                   plan: tiling.TilePlan | None) -> tuple[float, torch.Tensor]:
    stylizer.memory.plan = lambda h, w: plan  # type: ignore[method-assign]
    try:
        loss_of = stylizer.objective(content)
        x = x.clone().requires_grad_(True)
        loss, _terms = loss_of(x)
        loss.backward()
    finally:
        del stylizer.memory.plan
    assert x.grad is not None
    return float(loss.detach()), x.grad


def _error(halo: int, setup: Setup, split: str | None = None, gram_core: int | None = None) -> tuple[float, float]:
    """(max |g_tiled - g| / max |g|, the loss's relative error) with 64 px cores and this halo;
    the Gram pass in ``gram_core`` px cores (None: the same tiles), the layers after ``split``
    taken from it."""
    stylizer, content, x, (loss, grad) = setup
    gram = tiling.grid(H, W, gram_core, halo) if gram_core else ()
    plan = tiling.TilePlan(H, W, 64, halo, 50, tiling.grid(H, W, 64, halo), gram, split)
    assert len(plan.tiles) == 3
    tiled_loss, tiled_grad = _loss_and_grad(stylizer, content, x, plan)
    return float((tiled_grad - grad).abs().max() / grad.abs().max()), abs(tiled_loss - loss) / loss


@pytest.mark.parametrize("split, gram_core", [(None, None), ("pool1", 192), ("pool3", 96)])
def test_tiled_gradient_equals_the_untiled_one(setup, split, gram_core):
    grad_error, loss_error = _error(tiling.HALO, setup, split, gram_core)
    assert grad_error <= 1e-3 and loss_error <= 1e-4


@pytest.mark.parametrize("split, gram_core", [(None, None), ("pool2", 96)])
def test_a_too_small_halo_is_measurably_wrong(setup, split, gram_core):
    grad_error, _ = _error(16, setup, split, gram_core)
    assert grad_error > 1e-2


def test_tiles_evaluated_beside_fixed_gram_sums_of_the_others_add_up(setup):
    """The partial evaluation a changed region needs: the Gram sums of the other tiles computed
    once and held, only some tiles run. With the sums of tiles B held, tiles A give the whole
    picture's style term; A's and B's content terms and gradients add up to the full tiled ones."""
    from videostyle.engine.terms import network_terms

    stylizer, content, x, _ = setup
    cfg = stylizer.config
    cells = tiling.grid(H, W, 64, tiling.HALO)
    full = tiling.TilePlan(H, W, 64, tiling.HALO, 50, cells)
    features, norms = tiles.content_features(stylizer.vgg, None, content, cfg.content_layers, full)
    terms = network_terms(size=(H, W), dtype=None, content=features, content_norms=norms,
                          content_weights=dict.fromkeys(cfg.content_layers, cfg.content_weight),
                          style_weights=cfg.layer_weights(), targets=stylizer.targets.fixed(H, W))

    def evaluate(optimized: tuple[tiling.Tile, ...], held: tuple[tiling.Tile, ...]):
        fixed = tiles.gram_sums(stylizer.vgg, None, x, cfg.style_layers, held) if held else None
        plan = tiling.TilePlan(H, W, 64, tiling.HALO, 50, optimized)
        return tiles.TiledLoss(stylizer.vgg, None, plan, terms, fixed=fixed).evaluate(x)

    content_all, style_all, grad_all = evaluate(cells, ())
    content_a, style_a, grad_a = evaluate(cells[:1], cells[1:])
    content_b, style_b, grad_b = evaluate(cells[1:], cells[:1])
    assert float(style_a) == pytest.approx(float(style_all), rel=1e-5) == float(style_b)
    assert float(content_a + content_b) == pytest.approx(float(content_all), rel=1e-5)
    assert 0 < float(content_a) < float(content_all)
    assert torch.allclose(grad_a + grad_b, grad_all, atol=1e-6 * float(grad_all.abs().max()))
    ys, xs = cells[0].pixels()
    outside = grad_a.clone()
    outside[..., ys, xs] = 0
    assert not outside.any() and grad_a[..., ys, xs].abs().sum() > 0  # A's tiles move A's pixels only


def test_grid_cores_partition_every_layer():
    plan = tiling.grid(100, 200, 64, 32)
    for layer in ("relu1_1", "relu4_2", "relu5_1"):
        s = LAYER[layer].stride
        rows = {(t.y0, t.y1): t.core(layer)[0] for t in plan}
        assert sum(r.stop - r.start for r in rows.values()) == 100 // s
    assert all(t.ty0 % 16 == 0 and t.tx0 % 16 == 0 for t in plan)


def test_a_short_tiled_stylize_matches_the_untiled_one():
    content = resize_frame(scene(), W, H)
    finals = []
    for tile in (None, 64):
        stylizer = Stylizer([stripes()], StyleConfig(iterations=1, scales=1, tile=tile, **CPU))  # type: ignore[arg-type]
        seen = []
        out = stylizer.stylize(content, callback=lambda p, seen=seen: seen.append((p.loss, p.tiles)))
        assert bool(torch.isfinite(out).all())
        finals.append(seen[-1])
    (untiled, zero), (tiled, count) = finals
    assert zero == 0 and count == 3
    assert abs(tiled - untiled) <= 0.03 * untiled


def test_planning_tiles_only_what_does_not_fit():
    kw = dict(tile=None, layers=("relu4_2", "relu5_1"), content_layers=("relu4_2",), image_buffers=12,
              full_history=50, lbfgs=True)
    assert memory.plan_tiles(3072, 4096, budget=None, untiled=10**12, **kw) is None  # unknown: whole
    assert memory.plan_tiles(512, 512, budget=10**10, untiled=10**9, **kw) is None  # fits
    plan = memory.plan_tiles(3072, 4096, budget=6 * 2**30, untiled=45 * 10**9, **kw)
    assert plan is not None and plan.history < 50 and len(plan.tiles) > 1
    assert memory.tiled_bytes(plan, layers=kw["layers"], content_layers=kw["content_layers"], image_buffers=12,
                              lbfgs=True) <= 6 * 2**30
    assert memory.plan_tiles(3072, 4096, budget=2**30, untiled=45 * 10**9, **kw) is None  # cannot work


@pytest.mark.parametrize("argv, message", [
    (["--tile", "100"], r"^--tile 100: must be a multiple of 16"),
    (["--tile", "8"], r"^--tile 8: must be at least 32"),
    (["--max-memory", "lots"], r"^--max-memory lots: give a size such as 4GB"),
    (["--max-memory", "1M"], r"^--max-memory 1 MB: must be at least 256 MB$"),
])
def test_bad_tile_and_memory_options_are_one_line(argv, message):
    args = build_parser().parse_args(["image", "in.png", "-o", "out.png", "-s", "a.png", *argv])
    with raises_cli(BadOption, message) as caught:
        image_request(args)
    assert "\n" not in cli_text(caught.value)


def test_memory_sizes_parse_with_suffixes():
    assert parse_bytes("--max-memory", "4GB") == 4 * 2**30
    assert parse_bytes("--max-memory", "512m") == 512 * 2**20
    assert parse_bytes("--max-memory", "1.5G") == int(1.5 * 2**30)
    args = build_parser().parse_args(["image", "in.png", "-o", "o.png", "-s", "a.png", "--max-memory", "2GB",
                                      "--tile", "256"])
    assert isinstance(args, argparse.Namespace)
    config = image_request(args).style_config()
    assert (config.max_memory, config.tile) == (2 * 2**30, 256)


def test_a_size_is_planned_once_per_stylizer_so_every_frame_evaluates_the_same_way(monkeypatch):
    stylizer = Stylizer([stripes()], StyleConfig(device="cpu", precision="fp32"))
    free = [stylizer.memory.needed(96, 128) * 10]
    reads: list[int] = []

    def free_memory(device):
        reads.append(1)
        return free[0]

    monkeypatch.setattr(memory, "free_memory", free_memory)
    stylizer.check_memory(96, 128)
    first = stylizer.memory.plan(96, 128)
    free[0] = 1  # memory runs short mid-job: the plan and the check made for the first frame hold
    for _ in range(3):
        stylizer.check_memory(96, 128)
        assert stylizer.memory.plan(96, 128) is first
    assert len(reads) <= 2  # the free memory was read for the first frame only


def test_a_tiled_video_frame_keeps_its_temporal_term_and_matches_the_untiled_one():
    """The temporal loss and the warp stay per pixel on the whole frame; only the network's
    terms are tiled. Two frames of a panning clip: each frame's final losses, tiled and not."""
    from synthetic import panning_texture

    from videostyle.config import TemporalConfig
    from videostyle.video.chain import stylize_segment

    frames = panning_texture(frames=2, step=4, size=(128, 96))
    finals = []
    for tile in (None, 64):
        stylizer = Stylizer([stripes()], StyleConfig(scales=1, tile=tile, **CPU))  # type: ignore[arg-type]
        seen: dict[int, tuple[dict[str, float], int]] = {}
        list(stylize_segment(stylizer, frames, config=TemporalConfig(iterations=2, first_iterations=2),
                             progress=lambda index, p, seen=seen: seen.__setitem__(index, (p.terms, p.tiles))))
        finals.append(seen)
    untiled, tiled = finals
    assert all(count == 0 for _, count in untiled.values()) and all(count == 4 for _, count in tiled.values())
    assert "extra" in tiled[1][0] and "extra" in untiled[1][0]  # the second frame's temporal term
    for index in (0, 1):
        total, tiled_total = sum(untiled[index][0].values()), sum(tiled[index][0].values())
        assert abs(tiled_total - total) <= 0.03 * total
    assert tiled[1][0]["extra"] == pytest.approx(untiled[1][0]["extra"], rel=0.2)


def test_a_tiled_scale_says_its_time_per_iteration_once(capsys):
    from videostyle.cli.progress import IterationBar
    from videostyle.engine.optimize import Progress

    bar = IterationBar(quiet=False)
    bar.live = False
    zero = torch.zeros(())
    for iteration, elapsed, per in ((0, 10.0, None), (1, 14.0, 5.0), (2, 19.0, 5.0), (3, 24.0, 5.0)):
        bar(Progress(iteration=iteration, iterations=10, scale=1, scales=1, elapsed=elapsed, loss_tensor=zero,
                     term_tensors={}, tiles=6, seconds_per_iteration=per))
    said = [line for line in capsys.readouterr().err.splitlines() if "per iteration" in line]
    assert said == ["stylizing, tiled (6 tiles): about 5.0 s per iteration, 0:45 left at this scale"]


def test_a_long_tiled_evaluation_reports_each_tile_pass_and_times_the_scale_within_it():
    """A tiled evaluation of a large picture takes minutes: the optimizer reports after each tile
    pass (a partial report), timing the scale from the first tiles; the evaluations counted
    by their own reports stay one per evaluation."""
    content = resize_frame(scene(), 192, 96)
    stylizer = Stylizer([stripes()], StyleConfig(device="cpu", precision="fp32", iterations=2, scales=1, tile=64))
    seen = []
    stylizer.stylize(content, callback=seen.append)
    partial = [p for p in seen if p.partial]
    whole = [p for p in seen if not p.partial]
    plan = stylizer.memory.plan(96, 192)
    passes = len(plan.first_pass) + len(plan.tiles)
    assert plan is not None and len(plan.tiles) >= 3
    assert len(partial) == len(whole) * (passes - 1)  # every pass but the last, whose report is the evaluation's
    first = [p.tile for p in partial[: passes - 1]]
    assert first == list(range(1, passes)) and all(p.tile_passes == passes for p in partial)
    assert partial[0].seconds_per_iteration is not None and partial[0].seconds_per_iteration > 0
    assert all(p.seconds_per_iteration is not None for p in seen)


def test_a_log_shows_a_slow_scale_at_least_every_heartbeat(capsys):
    """In a log (not a terminal) the bar prints per 10% of the steps, and besides at least every
    HEARTBEAT seconds, partial reports included: a 2900 px scale whose first evaluation takes
    minutes shows its tiles and its time per iteration meanwhile."""
    from videostyle.cli.progress import HEARTBEAT, IterationBar
    from videostyle.engine.optimize import Progress

    bar = IterationBar(quiet=False)
    bar.live = False
    zero = torch.zeros(())
    # one evaluation of 40 tile passes, a pass every 5 s
    for tile in range(1, 40):
        bar(Progress(iteration=0, iterations=100, scale=4, scales=4, elapsed=100.0 + 5 * tile, loss_tensor=zero,
                     term_tensors={}, tiles=30, tile=tile, tile_passes=40, seconds_per_iteration=250.0))
    lines = [line for line in capsys.readouterr().err.splitlines() if "iteration 0/100" in line]
    gaps = [int(b.rsplit(", ", 1)[1].split()[0]) - int(a.rsplit(", ", 1)[1].split()[0])
            for a, b in zip(lines, lines[1:], strict=False)]
    assert len(lines) >= 195 // HEARTBEAT and all(gap <= HEARTBEAT for gap in gaps), lines
    assert "tile pass 7/40" in lines[1] and "250.0 s/iteration" in lines[1]


def test_json_progress_counts_evaluations_not_tile_passes():
    from videostyle.cli.progress import JsonFrames
    from videostyle.engine.optimize import Progress
    from videostyle.video.report import VideoProgress

    counter = JsonFrames()
    zero = torch.zeros(())
    for tile in (0, 1, 2, 0):
        step = Progress(iteration=1, iterations=5, scale=1, scales=1, elapsed=1.0, loss_tensor=zero,
                        term_tensors={}, tiles=3, tile=tile, tile_passes=4 if tile else 0)
        counter(VideoProgress(frame=0, frames=1, finished=0, resumed=0, seconds_per_frame=None, step=step))
    assert counter.evaluations == 2


def test_a_flow_mode_video_counts_its_whole_frame_terms_in_the_plan():
    """A video frame's warp and temporal loss are whole-picture tensors beside the network's
    pass: a flow-mode TemporalStylizer reserves them, so --max-memory plans tiles for them."""
    from videostyle.config import TemporalConfig
    from videostyle.engine.memory import IMAGE_BUFFERS, LONG_TERM_BUFFERS, TEMPORAL_BUFFERS
    from videostyle.engine.temporal import TemporalStylizer

    still = Stylizer([stripes()], StyleConfig(device="cpu", precision="fp32"))
    before = still.memory.needed(96, 128)
    TemporalStylizer(still, TemporalConfig(mode="warm"))
    assert still.memory.needed(96, 128) == before  # warm mode holds nothing more than a still
    TemporalStylizer(still, TemporalConfig(mode="flow", long_term=(2,)))
    assert still.memory.image_buffers == IMAGE_BUFFERS + TEMPORAL_BUFFERS + LONG_TERM_BUFFERS
    assert still.memory.needed(96, 128) - before == 4 * 3 * 96 * 128 * (TEMPORAL_BUFFERS + LONG_TERM_BUFFERS)
    TemporalStylizer(still, TemporalConfig(mode="flow"))  # a bridge's own chain: the larger reservation holds
    assert still.memory.image_buffers == IMAGE_BUFFERS + TEMPORAL_BUFFERS + LONG_TERM_BUFFERS
