"""What the optimizer minimizes at one scale: the network's terms (content, Gram or masked
Gram; :mod:`terms`), evaluated on the whole picture (``gatys.NetworkLoss``) or tile by tile
(``tiles.TiledLoss``), plus TV and the caller's own term (a video frame's temporal loss).

:func:`scale_loss` builds it once per scale, with the content's features and the style
targets computed once; the result maps the image to (total, {term name: weighted value}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from ..errors import BadOption, S
from .gatys import NetworkLoss
from .targets import GramTargets
from .terms import TotalVariation, network_terms
from .tiles import TiledLoss, content_features
from .tiling import TilePlan
from .vgg import VGG19Features

ExtraLoss = Callable[[torch.Tensor], torch.Tensor]
"""Maps the image being optimized, (1, 3, H, W), to a weighted scalar loss term."""
LossFn = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]
"""Maps the image being optimized to (the total, {"content", "style", "tv", "extra": weighted term})."""


def scale_loss(vgg: VGG19Features, dtype: torch.dtype | None, content: torch.Tensor, *, targets: GramTargets,
               content_weights: Mapping[str, float], layer_weights: Mapping[str, float], tv_weight: float,
               extra: ExtraLoss | None = None, plan: TilePlan | None = None,
               on_tile: Callable[[int, int], None] | None = None) -> LossFn:
    """loss(x) for images the size of ``content`` (1, 3, H, W): its content terms at the
    layers of ``content_weights``, the Gram terms towards ``targets`` at the layers of
    ``layer_weights`` (times the targets' style weight), ``tv_weight`` · TV and ``extra``;
    with a ``plan`` the network's terms are evaluated in its tiles, ``on_tile(done, passes)``
    called after each (see :meth:`tiles.TiledLoss.evaluate`)."""
    height, width = content.shape[-2:]
    style_weights = {n: targets.style_weight * w for n, w in layer_weights.items()}
    tv = TotalVariation(tv_weight) if tv_weight else None
    if plan is not None:  # too large to run whole: see tiles.py
        if targets.regions is not None:
            raise BadOption(S.mask, f": a {width}x{height} picture is stylized in tiles here (", S.tile,
                            ", or too little memory for it whole), and masks do not work in tiles yet; use a smaller ",
                            S.size)
        features, norms = content_features(vgg, dtype, content, tuple(content_weights), plan)
        terms = network_terms(size=(height, width), dtype=dtype, content=features, content_norms=norms,
                              content_weights=content_weights, style_weights=style_weights, targets=targets.grams)
        return tiled_loss(TiledLoss(vgg, dtype, plan, terms), tv, extra, on_tile)
    with torch.no_grad():
        features = {n: f.float() for n, f in vgg(content, tuple(content_weights), dtype=dtype).items()}
    terms = network_terms(size=(height, width), dtype=dtype, content=features, content_weights=content_weights,
                          style_weights=style_weights, targets=targets.grams, regions=targets.regions)
    return whole_loss(NetworkLoss(vgg, dtype, terms), tv, extra)


def whole_loss(network: NetworkLoss, tv: TotalVariation | None, extra: ExtraLoss | None) -> LossFn:
    """loss(x) with the network's terms on the whole picture (their backward by hand) and TV
    and ``extra`` through autograd."""

    def loss_of(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        content_term, style_term = network(x)
        terms: dict[str, torch.Tensor] = {"content": content_term, "style": style_term}
        if tv is not None:
            terms["tv"] = tv(x)
        if extra is not None:
            terms["extra"] = extra(x)
        total = torch.zeros((), device=x.device)
        for term in terms.values():
            total = total + term
        return total, terms

    return loss_of


def tiled_loss(loss: TiledLoss, tv: TotalVariation | None, extra: ExtraLoss | None,
               on_tile: Callable[[int, int], None] | None = None) -> LossFn:
    """loss(x) like :func:`whole_loss`: the network's terms by tiles, TV by hand on the whole x
    (:meth:`TotalVariation.value_into`), ``extra`` on the whole x with autograd."""

    def loss_of(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        content_term, style_term, grad = loss.evaluate(x, on_tile)
        terms = {"content": content_term, "style": style_term}
        if tv is not None:
            terms["tv"] = tv.value_into(x.detach(), grad)
        total = _Precomputed.apply(x, sum(terms.values()), grad)
        if extra is not None:
            terms["extra"] = extra(x)
            total = total + terms["extra"]
        return total, terms

    return loss_of


class _Precomputed(torch.autograd.Function):
    """A loss value whose gradient with respect to x was computed beforehand (by tiles)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, value: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(grad)
        return value.clone()

    @staticmethod
    def backward(ctx, out: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        return grad.mul_(out), None, None  # in place: the gradient is this evaluation's own, one image less

