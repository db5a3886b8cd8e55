"""The loss as a set of terms: content, Gram style (plain or masked to a region), TV and
temporal. Each term is written once, its value and, for the network's terms, its gradient
at a layer's features; the whole-picture evaluation (``gatys.NetworkLoss``) and the tiled
one (``tiles.TiledLoss``) both run them. The math itself is :mod:`losses`' plain functions.

A Gram term sees the picture only through its statistic S = Σ_p m_p f_p f_pᵀ, a sum over
positions (m = 1 without a mask): the sum over a picture is the sum over any tiles that
partition it, so its value and its slope D = ∂value/∂S can come from sums gathered tile by
tile, some of them computed earlier and held fixed (:meth:`GramTerm.value`), and the
gradient at any tile's features is then m·F·D' with D' = D + Dᵀ (:meth:`GramTerm.gradient`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from . import losses
from .vgg import LAYER, Layer, layers_to


class ContentTerm:
    """Gatys et al.'s content term at one layer: scale · Σ_p ‖f_p − c_p‖², scale = weight / ‖C‖²
    (the whole content's ‖C‖²: :func:`losses.relative_error` times ``weight``).

    ``target`` is the content's features at the layer (1, C, h, w), of the whole picture;
    ``norm`` its ‖C‖² when not computed from it.
    """

    def __init__(self, layer: str, target: torch.Tensor, weight: float, norm: torch.Tensor | None = None) -> None:
        self.layer = layer
        self.target = target
        norm = target.float().pow(2).sum() if norm is None else norm
        self.scale = weight / norm.clamp_min(1e-12)

    def value(self, features: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the term over these positions, their difference f − c for :meth:`gradient`)."""
        diff = features.float() - target.float()
        return self.scale * diff.pow(2).sum(), diff

    def gradient(self, diff: torch.Tensor, upstream: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """∂(upstream · term)/∂f at those positions, in ``dtype``."""
        return (diff * (upstream * 2 * self.scale)).to(dtype)


class GramTerm:
    """Gatys et al.'s style term at one layer: scale · ‖S / n − T‖², S the Gram statistic.

    Without a mask: S = Σ_p f_p f_pᵀ over the layer's n positions and scale = weight / ‖T‖².
    With a region ``mask`` (Gatys et al. 2017; (1, 1, H, W) in [0, 1] at the image's size,
    averaged down to the layer): S = Σ_p m_p f_p f_pᵀ, n = Σ_p m_p the region's area, and the
    scale also weighs by the region's share of the picture, so complementary regions together
    weigh what one unmasked target does. ``target`` (1, C, C) float32; ``size`` (H, W) is the
    whole picture's; ``dtype`` the network's (its Grams are multiplied in :func:`losses.gram_dtype`).
    """

    def __init__(self, layer: str, target: torch.Tensor, weight: float, *, size: tuple[int, int],
                 dtype: torch.dtype, mask: torch.Tensor | None = None) -> None:
        self.layer = layer
        self.target = target
        self.dtype, self.gram_dtype = dtype, losses.gram_dtype(dtype)
        self.scale = weight / target.pow(2).sum().clamp_min(1e-12)
        h, w = LAYER[layer].size(*size)
        self.mask: torch.Tensor | None = None  # (1, 1, h, w) in the Gram dtype
        self.count: float = h * w
        if mask is not None:
            m = losses.region_at(mask, h, w)
            self.count = float(m.sum())  # the region's area
            self.scale = self.scale * (self.count / (h * w))
            self.mask = m.to(self.gram_dtype)

    @property
    def empty(self) -> bool:
        """A region with no area at this layer: the term is 0 there, and has no gradient."""
        return self.count <= 0

    def weights(self, mask: torch.Tensor | None) -> torch.Tensor | None:
        """The mask (a crop of :attr:`mask`, or all of it) as (1, P, 1) position weights."""
        return None if mask is None else losses.positions(mask)

    def statistic(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """S over the positions of ``features`` (1, C, h, w), float32 (1, C, C); ``mask``: the
        region's weights at those positions (default: :attr:`mask`, all of it)."""
        return losses.gram_sum(losses.positions(features), self.weights(self.mask if mask is None else mask))

    def value(self, statistic: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the term, its difference S / n − T) from the whole picture's S (overwritten)."""
        diff = statistic.div_(self.count).sub_(self.target)
        return self.scale * diff.pow(2).sum(), diff

    def slope(self, diff: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
        """D + Dᵀ for D = ∂(upstream · term)/∂S, in the Gram dtype (1, C, C)."""
        return ((diff + diff.transpose(1, 2)) * (upstream * (2 * self.scale / self.count))).to(self.gram_dtype)

    def weighted(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """m·F at the positions of ``features`` (1, P, C) in the Gram dtype: the term's gradient
        there is m·F·(D + Dᵀ) (:meth:`slope`), which the caller adds where it wants it."""
        flat = losses.positions(features).to(self.gram_dtype)
        weights = self.weights(self.mask if mask is None else mask)
        return flat if weights is None else flat * weights


class TotalVariation:
    """``weight`` · :func:`losses.total_variation` of the whole image."""

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """The term, for autograd."""
        return self.weight * losses.total_variation(image)

    def value_into(self, image: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """The term, its gradient added into ``grad`` by hand (:func:`losses.total_variation_into`)."""
        return losses.total_variation_into(image, grad, self.weight)


class TemporalTerm:
    """``weight`` · :func:`losses.temporal_loss` towards ``target`` (1, 3, H, W) where ``mask``
    (1, 1, H, W) trusts it: Ruder et al.'s consistency with the warped earlier results."""

    def __init__(self, weight: float, target: torch.Tensor, mask: torch.Tensor) -> None:
        self.weight, self.target, self.mask = weight, target, mask

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return self.weight * losses.temporal_loss(image, self.target, self.mask)


@dataclass
class NetworkTerms:
    """The terms taken at the network's layers, by layer: what one pass through it evaluates."""

    content: dict[str, ContentTerm] = field(default_factory=dict)
    style: dict[str, list[GramTerm]] = field(default_factory=dict)

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers any term reads, each once."""
        return tuple(dict.fromkeys((*self.style, *self.content)))

    @property
    def masked(self) -> bool:
        """Whether any style term is a region's."""
        return any(t.mask is not None for terms in self.style.values() for t in terms)

    def walk(self) -> tuple[Layer, ...]:
        """The network's layers up to the deepest term."""
        return layers_to(self.layers)


def network_terms(*, size: tuple[int, int], dtype: torch.dtype | None,
                  content: Mapping[str, torch.Tensor], content_weights: Mapping[str, float],
                  style_weights: Mapping[str, float], targets: Mapping[str, torch.Tensor] | None = None,
                  regions: Sequence[tuple[torch.Tensor, Mapping[str, torch.Tensor]]] | None = None,
                  content_norms: Mapping[str, torch.Tensor] | None = None) -> NetworkTerms:
    """The network's terms for an H x W picture (``size``): a content term per layer of
    ``content_weights`` towards ``content`` {layer: (1, C, h, w)} (``content_norms``: their
    ‖C‖² when given), and a Gram term per layer of ``style_weights`` towards ``targets``
    {layer: (1, C, C)}, or one per region of ``regions`` ((mask (1, 1, H, W), its Grams) each;
    a region empty at a layer has none there)."""
    dtype = dtype or torch.float32
    terms = NetworkTerms()
    for name, weight in style_weights.items():
        if regions is None:
            assert targets is not None
            terms.style[name] = [GramTerm(name, targets[name], weight, size=size, dtype=dtype)]
        else:
            found = [GramTerm(name, grams[name], weight, size=size, dtype=dtype, mask=mask) for mask, grams in regions]
            terms.style[name] = [t for t in found if not t.empty]
    for name, weight in content_weights.items():
        terms.content[name] = ContentTerm(name, content[name], weight,
                                          None if content_norms is None else content_norms[name])
    return terms
