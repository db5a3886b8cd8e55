"""The fast loss evaluation (weights cast once, Gram in the network's layout) against a
textbook float32 one: the same loss and the same gradient, up to bfloat16's noise."""

from __future__ import annotations

import pytest
import torch
from synthetic import scene, stripes

from videostyle.config import StyleConfig
from videostyle.engine import losses
from videostyle.engine.optimize import Stylizer
from videostyle.engine.tensors import frame_to_tensor
from videostyle.engine.terms import NetworkTerms, network_terms


def _textbook_loss(stylizer: Stylizer, x: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Gatys et al.'s loss as the engine defines it, in float32 with autograd's own Gram."""
    cfg, vgg = stylizer.config, stylizer.vgg

    def gram(f: torch.Tensor) -> torch.Tensor:
        b, c, h, w = f.shape
        flat = f.float().reshape(b, c, h * w)
        return flat @ flat.transpose(1, 2) / (h * w)

    def relative(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (value - target).pow(2).sum() / target.pow(2).sum()

    with torch.no_grad():
        content_features = vgg(content, cfg.content_layers)
        style = frame_to_tensor(stylizer.styles[0].image)
        targets = {n: gram(f) for n, f in vgg(style, cfg.style_layers).items()}
    features = vgg(x, cfg.content_layers + cfg.style_layers)
    content_term = sum(relative(features[n], content_features[n]) for n in cfg.content_layers)
    style_term = sum(w * relative(gram(features[n]), targets[n]) for n, w in cfg.layer_weights().items())
    tv = losses.total_variation(x)
    return (cfg.content_weight / len(cfg.content_layers) * content_term
            + cfg.effective_style_weight * style_term + cfg.tv_weight * tv)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_loss_and_gradient_match_the_float32_textbook(precision):
    style = stripes(64, 64)
    config = StyleConfig(device="cpu", precision=precision, style_scale=1.0)
    stylizer = Stylizer([style], config)
    content = frame_to_tensor(scene(64, 48))
    x0 = (content + 0.05 * torch.randn(content.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)

    def loss_and_grad(fn) -> tuple[float, torch.Tensor]:
        x = x0.clone().requires_grad_(True)
        loss = fn(x)
        loss.backward()
        return float(loss.detach()), x.grad.flatten()

    fast = stylizer.objective(content)
    ours, our_grad = loss_and_grad(lambda x: fast(x)[0])
    reference, ref_grad = loss_and_grad(lambda x: _textbook_loss(stylizer, x, content))
    cosine = float(torch.nn.functional.cosine_similarity(our_grad, ref_grad, dim=0))
    norm_ratio = float(our_grad.norm() / ref_grad.norm())
    if precision == "fp32":
        assert ours == pytest.approx(reference, rel=1e-4)
        assert cosine > 0.9999 and norm_ratio == pytest.approx(1, abs=1e-3)
    else:
        assert ours == pytest.approx(reference, rel=0.02)
        assert cosine > 0.99 and norm_ratio == pytest.approx(1, abs=0.03)


def test_gram_gradient_is_autograds_in_any_layout():
    """The hand-written backward of the Gram matrix, in both memory layouts."""
    for layout in (torch.contiguous_format, torch.channels_last):
        f = torch.rand(2, 5, 4, 3, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_(True)
        weights = torch.rand(2, 5, 5, dtype=torch.float64)
        (losses.gram_matrix(f).double() * weights).sum().backward()
        ours = f.grad.clone()
        f.grad = None
        flat = f.reshape(2, 5, 12)
        ((flat @ flat.transpose(1, 2) / 12) * weights).sum().backward()
        assert torch.allclose(ours, f.grad)


def _through_autograd(terms: NetworkTerms, features: dict[str, torch.Tensor]) -> torch.Tensor:
    """The network's terms (content and Gram, engine/terms.py) on ``VGG19Features.forward``'s
    features, differentiated by autograd: what the hand-written backward must reproduce."""
    total = sum(term.value(features[n], term.target)[0] for n, term in terms.content.items())
    for n, grams in terms.style.items():
        for gram in grams:
            total = total + gram.value(gram.statistic(features[n]))[0]
    return total  # type: ignore[return-value]


@pytest.mark.parametrize(("content_layers", "style_layers", "pooling"), [
    (("conv4_2",), ("relu1_1", "pool2", "conv3_1"), "max"),  # conv and pool outputs as features
    (("relu3_1",), ("relu1_1", "relu3_1"), "avg"),  # one layer in both terms, average pooling
])
def test_the_hand_written_backward_is_autograds_for_any_layers(content_layers, style_layers, pooling):
    config = StyleConfig(device="cpu", precision="fp32", content_layers=content_layers,
                         style_layers=style_layers, pooling=pooling)
    stylizer = Stylizer([stripes(64, 64)], config)
    content = frame_to_tensor(scene(64, 48))
    x0 = (content + 0.05 * torch.randn(content.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    with torch.no_grad():
        content_features = stylizer.vgg(content, content_layers)
    terms = network_terms(size=(48, 64), dtype=None, content=content_features, targets=stylizer.targets.fixed(48, 64),
                          content_weights=dict.fromkeys(content_layers, config.content_weight / len(content_layers)),
                          style_weights={n: config.effective_style_weight * w
                                         for n, w in config.layer_weights().items()})
    fast = stylizer.objective(content)
    x = x0.clone().requires_grad_(True)
    ours = fast(x)[0]
    ours.backward()
    our_grad = x.grad
    x = x0.clone().requires_grad_(True)
    reference = _through_autograd(terms, stylizer.vgg(x, content_layers + style_layers))
    reference.backward()
    assert float(ours.detach()) == pytest.approx(float(reference.detach()), rel=1e-4)
    assert float(torch.nn.functional.cosine_similarity(our_grad.flatten(), x.grad.flatten(), dim=0)) > 0.9999
    assert float(our_grad.norm() / x.grad.norm()) == pytest.approx(1, abs=1e-3)


def test_float16_keeps_its_gram_matrices_in_float32():
    """CUDA without bf16 runs float16: the network's loss must not overflow to inf there."""
    from videostyle.engine.gatys import NetworkLoss

    stylizer = Stylizer([stripes(64, 64)], StyleConfig(device="cpu", precision="fp32"))
    content = frame_to_tensor(scene(64, 48))
    with torch.no_grad():
        features = stylizer.vgg(content, ("relu4_2",), dtype=torch.float16)
    targets = stylizer.targets.fixed(48, 64)
    terms = network_terms(size=(48, 64), dtype=torch.float16, content=features,
                          content_weights={"relu4_2": 1.0}, targets=targets, style_weights=dict.fromkeys(targets, 1.0))
    network = NetworkLoss(stylizer.vgg, torch.float16, terms)
    x = content.clone().requires_grad_(True)
    content_term, style_term = network(x)
    (content_term + style_term).backward()
    assert torch.isfinite(style_term) and float(style_term.detach()) > 0
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize(("styles", "soft"), [(2, True), (1, False)])
def test_the_masked_backward_is_autograds(styles, soft):
    """Per-region Grams (Gatys et al. 2017): the hand-written backward against autograd through
    the textbook masked loss, a soft two-style mask and a hard one-style one (black: no style)."""
    from synthetic import blobs

    from videostyle.engine.targets import FrameTargets, mask_tensor

    config = StyleConfig(device="cpu", precision="fp32", style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1"))
    stylizer = Stylizer([stripes(64, 64), blobs(64, 64)][:styles], config)
    content = frame_to_tensor(scene(64, 48))
    x0 = (content + 0.05 * torch.randn(content.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    xx = torch.linspace(-3, 3, 64)[None, :].expand(48, 64)
    mask = (torch.sigmoid(xx) if soft else (xx > 0.5).float()).numpy()
    fast = stylizer.objective(content, targets=FrameTargets(mask=mask))
    x = x0.clone().requires_grad_(True)
    ours = fast(x)[0]
    ours.backward()
    our_grad = x.grad
    white = mask_tensor(mask, 48, 64, torch.device("cpu"))
    regions = [(white, 0), (1 - white, 1)][:styles]
    with torch.no_grad():
        content_features = stylizer.vgg(content, config.content_layers)
    x = x0.clone().requires_grad_(True)
    features = stylizer.vgg(x, config.content_layers + config.style_layers)
    reference = sum(losses.relative_error(features[n], content_features[n]) for n in config.content_layers)
    for region, index in regions:
        grams = stylizer.targets.per_style(48, 64)[index]
        for name, weight in config.layer_weights().items():
            f = features[name]
            m = torch.nn.functional.adaptive_avg_pool2d(region, f.shape[-2:])
            flat, mm = f.reshape(1, f.shape[1], -1), m.reshape(1, 1, -1)
            gram = (flat * mm) @ flat.transpose(1, 2) / mm.sum()
            share = float(mm.mean())
            reference = reference + config.effective_style_weight * weight * share * losses.relative_error(
                gram, grams[name])
    reference.backward()
    assert float(ours.detach()) == pytest.approx(float(reference.detach()), rel=1e-4)
    assert float(torch.nn.functional.cosine_similarity(our_grad.flatten(), x.grad.flatten(), dim=0)) > 0.9999
    assert float(our_grad.norm() / x.grad.norm()) == pytest.approx(1, abs=1e-3)
    unmasked = stylizer.objective(content)(x0)[1]["style"]
    assert abs(float(fast(x0)[1]["style"]) - float(unmasked)) > 1e-3  # the mask changes the loss
