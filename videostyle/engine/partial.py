"""Partial evaluation: the loss of a whole picture with only a crop of it free.

A Gram term sees the picture only through its statistic S = Σ_p f_p f_pᵀ (``terms.py``).
When only a crop's *core* changes, S = R + S_core(x) with R, the rest of the picture's sum,
fixed: one forward pass of the whole picture gives R (less the core's own share), and each
evaluation after that runs the network over the crop alone (core plus a halo of context),
completing S in the same pass. Its gradient at the core is F_core (D + Dᵀ) with D the whole
picture's ∂L/∂S: the tiled loss's gradient pass on one tile (``gatys.Window``), with the
value computed there too because the rest is fixed.

Departures from the exact whole-picture loss, on purpose:

* The halo is smaller than the network's receptive field (tiling.HALO, 80 px, is exact): a
  core feature near the crop's edge sees zero padding where the picture goes on. At 160 px
  an exact halo would make every crop the whole frame. What that costs is measured in
  scripts/bench_changed.py (docs/paint-what-changed.md).
* The content term of a core is normalized by the core's own ‖C‖² scaled to the whole
  picture's positions (the picture's own norm would take a pass over all of it): the weight
  per position is the whole-picture loss's where the content is as busy as in the core.
* The core's share of R at the start comes from the whole-picture pass (exact features)
  while the crop's evaluations see the halo-truncated ones, so at the start S differs from
  the whole picture's by that truncation alone.

:func:`evaluation_share` is the cost model every partial evaluation reports: the network's
FLOPs relative to one whole-picture evaluation (forward and backward) at full size.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .gatys import NetworkLoss, Window
from .terms import ContentTerm, GramTerm, NetworkTerms
from .tiling import Tile
from .vgg import LAYER, Layer, VGG19Features, evaluation_flops


def evaluation_share(height: int, width: int, *, frame: tuple[int, int], layers: tuple[str, ...],
                     frame_layers: tuple[str, ...], forward_only: bool = False) -> float:
    """The FLOPs of one pass over an ``height`` x ``width`` input through the layers up to the
    deepest of ``layers`` (forward and backward; half with ``forward_only``), over those of one
    whole evaluation of the ``frame`` (h, w) through ``frame_layers``: "full-frame evaluations"."""
    full = evaluation_flops(*frame, frame_layers)
    share = evaluation_flops(height, width, layers) / full if full else 0.0
    return share / 2 if forward_only else share


def whole_tile(height: int, width: int) -> Tile:
    """A tile that is the whole H x W picture (no halo)."""
    return Tile(0, height, 0, width, 0, height, 0, width)


@torch.no_grad()
def picture_sums(vgg: VGG19Features, dtype: torch.dtype | None, image: torch.Tensor, terms: NetworkTerms,
                 tiles: tuple[Tile, ...]) -> tuple[dict[GramTerm, torch.Tensor], list[dict[GramTerm, torch.Tensor]]]:
    """One forward pass of the whole (1, 3, H, W) ``image``: each Gram term's statistic S
    (1, C, C) float32, and each tile's core's share of it (cut from the whole picture's maps)."""
    layers = tuple(terms.style)
    features = vgg(image, layers, dtype=dtype)
    whole: dict[GramTerm, torch.Tensor] = {}
    cores: list[dict[GramTerm, torch.Tensor]] = [{} for _ in tiles]
    for name, f in features.items():
        for term in terms.style[name]:
            whole[term] = term.statistic(f)
            for tile, sums in zip(tiles, cores, strict=True):
                mask = None if term.mask is None else tile.cut(term.mask, name)
                sums[term] = term.statistic(tile.cut(f, name), mask)
    return whole, cores


@torch.no_grad()
def crop_content(vgg: VGG19Features, dtype: torch.dtype | None, content: torch.Tensor, tile: Tile,
                 layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The content's features at the crop's core {layer: (1, C, h, w) float32}, from a pass
    over the crop's extent (as the crop's own evaluations see it)."""
    features = vgg(content[(..., *tile.pixels())], layers, dtype=dtype)
    return {n: tile.crop(f, n).float().clone() for n, f in features.items()}


def content_norms(content: Mapping[str, torch.Tensor], height: int, width: int) -> dict[str, torch.Tensor]:
    """‖C‖² of each layer's core features scaled to the whole picture's positions (see the module)."""
    norms = {}
    for name, f in content.items():
        core = max(1, f.shape[-2] * f.shape[-1])
        norms[name] = f.pow(2).sum() * (LAYER[name].positions(height, width) / core)
    return norms


class _CropWindow(Window):
    """A crop's window: a tile's, but its content terms' targets are the core's own already
    (:func:`crop_content`), not the whole picture's to cut."""

    def content_target(self, term: ContentTerm, layer: Layer) -> torch.Tensor:
        return term.target


class CropLoss(NetworkLoss):
    """The network's terms on one crop (``tile``: its core and extent) with everything outside
    the core held: each Gram term's statistic is ``rest`` (its (1, C, C) sum over the rest of
    the picture) plus the core's, its value the whole picture's; the content terms' targets
    are the core's (``terms.content``'s, already cut to it). :attr:`sums` holds the last
    evaluation's core statistics, per term. The pass is :class:`NetworkLoss`'s, in the crop's
    window, with :meth:`compared` adding the rest."""

    def __init__(self, vgg: VGG19Features, dtype: torch.dtype | None, terms: NetworkTerms, tile: Tile,
                 rest: Mapping[GramTerm, torch.Tensor]) -> None:
        super().__init__(vgg, dtype, terms)
        self.window = _CropWindow(tile)
        self.rest = rest
        self.sums: dict[GramTerm, torch.Tensor] = {}

    def compared(self, gram: GramTerm, statistic: torch.Tensor) -> torch.Tensor:
        """The whole picture's statistic: the rest's plus the core's ``statistic`` (kept in :attr:`sums`)."""
        self.sums[gram] = statistic.detach().clone()
        return statistic + self.rest[gram]
