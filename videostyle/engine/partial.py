"""Partial evaluation: the loss of a whole picture with only a crop of it free.

The style term depends on the picture only through Gram sums over positions, S_l = Σ F Fᵀ
(tiles.py). When only a crop's *core* changes, S_l = R_l + S_core,l(x) with R_l, the rest of
the picture's sums, fixed: one forward pass of the whole picture gives R_l (less the
core's own share), and each evaluation after that runs the network over the crop alone
(core plus a halo of context). Its style gradient at the core is F_core (D + Dᵀ) with D the
whole picture's ∂L/∂G — the exact tiled loss's gradient pass, one tile, with the Gram sum
completed in the same pass because the rest is fixed.

Departures from the exact whole-picture loss, on purpose:

* The halo is smaller than the network's receptive field (tiles.HALO, 80 px, is exact): a
  core feature near the crop's edge sees zero padding where the picture goes on. At 160 px
  an exact halo would make every crop the whole frame. What that costs is measured in
  scripts/bench_changed.py (docs/paint-what-changed.md).
* The content term of a core is normalized by the core's own ‖Fc‖² scaled to the whole
  picture's positions (the picture's own norm would take a pass over all of it): the weight
  per position is the whole-picture loss's where the content is as busy as in the core.
* The core's sums at the start come from the whole-picture pass (exact features) while the
  crop's evaluations see the halo-truncated ones, so at the start G differs from the whole
  picture's by that truncation alone.

:func:`evaluation_share` is the cost model every partial evaluation reports: the network's
FLOPs relative to one whole-picture evaluation (forward and backward) at full size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from ..config import LAYER_NAMES
from .gatys import NetworkLoss
from .tiles import Tile
from .vgg import VGG19Features, evaluation_flops
from .vgg import layer_stride as stride


def evaluation_share(height: int, width: int, *, frame: tuple[int, int], layers: tuple[str, ...],
                     frame_layers: tuple[str, ...], forward_only: bool = False) -> float:
    """The FLOPs of one pass over an ``height`` x ``width`` input through the layers up to the
    deepest of ``layers`` (forward and backward; half with ``forward_only``), over those of one
    whole evaluation of the ``frame`` (h, w) through ``frame_layers``: "full-frame evaluations"."""
    full = evaluation_flops(*frame, frame_layers)
    share = evaluation_flops(height, width, layers) / full if full else 0.0
    return share / 2 if forward_only else share


def _positions_by_channels(features: torch.Tensor) -> torch.Tensor:
    """(1, C, h, w) (a crop of channels_last features) -> (1, hw, C)."""
    b, c, h, w = features.shape
    return features.permute(0, 2, 3, 1).reshape(b, h * w, c)


def core_of(features: torch.Tensor, tile: Tile, layer: str, *, whole: bool) -> torch.Tensor:
    """The core's positions of ``features`` at ``layer``: from the whole picture's map
    (``whole``) or from the crop's own map (its extent's)."""
    s = stride(layer)
    if whole:
        return features[:, :, tile.y0 // s: tile.y1 // s, tile.x0 // s: tile.x1 // s]
    return features[(..., *tile.core(layer))]


@torch.no_grad()
def picture_sums(vgg: VGG19Features, dtype: torch.dtype | None, image: torch.Tensor, layers: tuple[str, ...],
                 tiles: tuple[Tile, ...]) -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
    """One forward pass of the whole (1, 3, H, W) ``image``: its Gram sums {layer: (C, C)
    float32} Σ F Fᵀ, and each tile's core's share of them."""
    features = vgg(image, layers, dtype=dtype)
    gram_dtype = torch.float32 if dtype in (None, torch.float16) else dtype
    whole, cores = {}, [{} for _ in tiles]
    for name, f in features.items():
        flat = _positions_by_channels(f).to(gram_dtype)
        whole[name] = torch.bmm(flat.transpose(1, 2), flat)[0].float()
        for tile, sums in zip(tiles, cores, strict=True):
            core = _positions_by_channels(core_of(f, tile, name, whole=True)).to(gram_dtype)
            sums[name] = torch.bmm(core.transpose(1, 2), core)[0].float()
    return whole, cores


@torch.no_grad()
def crop_sums(vgg: VGG19Features, dtype: torch.dtype | None, image: torch.Tensor, tile: Tile,
              layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The Gram sums {layer: (C, C) float32} of ``tile``'s core, from a forward pass over its
    extent (as the crop's own evaluations see it)."""
    features = vgg(image[(..., *tile.pixels())], layers, dtype=dtype)
    gram_dtype = torch.float32 if dtype in (None, torch.float16) else dtype
    sums = {}
    for name, f in features.items():
        core = _positions_by_channels(core_of(f, tile, name, whole=False)).to(gram_dtype)
        sums[name] = torch.bmm(core.transpose(1, 2), core)[0].float()
    return sums


def positions(height: int, width: int, layer: str) -> int:
    """N_l: positions of an H x W picture's map at ``layer``."""
    s = stride(layer)
    return (height // s) * (width // s)


@dataclass
class CropTerms:
    """What a crop's loss needs besides the network: the rest of the picture's Gram sums
    {layer: (C, C)}, the picture's size, and the content's core features {layer: (1, C, h, w)}.

    ``own``: the core is judged as a picture of its own (no rest; Gram and content
    normalized by the core's positions) rather than as a part of the whole one."""

    rest: dict[str, torch.Tensor]
    height: int
    width: int
    content: dict[str, torch.Tensor]
    own: bool = False

    def positions(self, layer: str, core: int) -> int:
        """N_l the terms are normalized by: the picture's positions, or the core's own
        (``core``) when it is judged on its own."""
        return max(1, core) if self.own else positions(self.height, self.width, layer)


class CropNetwork(NetworkLoss):
    """NetworkLoss's forward and hand-written backward on one crop (``tile``: its core and
    extent), its terms those of the whole picture with everything outside the core fixed:
    Gram G_l = (rest_l + Σ_core F Fᵀ) / N_l against the target, content on the core."""

    def __init__(self, vgg: VGG19Features, dtype: torch.dtype | None, tile: Tile, terms: CropTerms, *,
                 content_weights: Mapping[str, float], targets: Mapping[str, torch.Tensor],
                 style_weights: Mapping[str, float]) -> None:
        super().__init__(vgg, dtype, content_features=terms.content, content_weights=content_weights,
                         targets=targets, style_weights=style_weights)
        self.tile, self.terms = tile, terms
        core_positions = {n: max(1, f[0, 0].numel()) for n, f in terms.content.items()}
        # the core's content norm scaled to the picture's positions (see the module)
        self.content = {n: (terms.content[n].float(), w * core_positions[n]
                            / (terms.content[n].float().pow(2).sum().clamp_min(1e-12)
                               * terms.positions(n, core_positions[n])))
                        for n, w in content_weights.items()}
        self.norms = {n: terms.positions(n, _count(tile.core(n))) for n in style_weights}
        self.sums: dict[str, torch.Tensor] = {}  # the last evaluation's core sums, per style layer

    def style_term(self, name: str, x: torch.Tensor, found: dict) -> torch.Tensor:
        target, weight = self.style[name]
        flat = _positions_by_channels(core_of(x, self.tile, name, whole=False)).to(self.gram_dtype)
        core = torch.bmm(flat.transpose(1, 2), flat).float()
        self.sums[name] = core[0].detach()
        diff = (core + self.terms.rest[name]).div_(self.norms[name]).sub_(target)
        found["style"] = diff
        return weight * diff.pow(2).sum()

    def style_grad(self, name: str, output: torch.Tensor, found: dict, grad: torch.Tensor | None,
                   grad_style: torch.Tensor) -> torch.Tensor:
        core = core_of(output, self.tile, name, whole=False)
        if core.numel() == 0:  # a core thinner than this layer's stride has no position here
            return torch.zeros_like(output) if grad is None else grad
        flat = _positions_by_channels(core).to(self.gram_dtype)
        n = self.norms[name]
        symmetric = ((found["style"] + found["style"].transpose(1, 2)) * (grad_style * 2 * self.style[name][1] / n))
        part = torch.bmm(flat, symmetric.to(self.gram_dtype))  # (1, hw, C)
        part = part.view(1, core.shape[2], core.shape[3], -1).permute(0, 3, 1, 2).to(self.dtype)
        grad = torch.zeros_like(output) if grad is None else grad
        core_of(grad, self.tile, name, whole=False).add_(part)
        return grad

    def content_term(self, name: str, x: torch.Tensor, found: dict) -> torch.Tensor:
        target, weight = self.content[name]
        diff = core_of(x, self.tile, name, whole=False).float() - target
        found["content"] = diff
        return weight * diff.pow(2).sum()

    def content_grad(self, name: str, output: torch.Tensor, found: dict, grad: torch.Tensor | None,
                     grad_content: torch.Tensor) -> torch.Tensor:
        if found["content"].numel() == 0:
            return torch.zeros_like(output) if grad is None else grad
        part = (found["content"] * (grad_content * 2 * self.content[name][1])).to(self.dtype)
        grad = torch.zeros_like(output) if grad is None else grad
        core_of(grad, self.tile, name, whole=False).add_(part)
        return grad


def content_core(vgg: VGG19Features, dtype: torch.dtype | None, content: torch.Tensor, tile: Tile,
                 layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The content's features at the crop's core {layer: (1, C, h, w)}, from a pass over the
    crop's extent (as the crop's own evaluations see it)."""
    with torch.no_grad():
        features = vgg(content[(..., *tile.pixels())], layers, dtype=dtype)
    return {n: core_of(f, tile, n, whole=False).clone() for n, f in features.items()}


def _count(core: tuple[slice, slice]) -> int:
    ys, xs = core
    return max(0, ys.stop - ys.start) * max(0, xs.stop - xs.start)


def deepest(layers: tuple[str, ...]) -> str:
    return max(layers, key=LAYER_NAMES.index)


LossAndGrad = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]
