"""Exact tiled loss evaluation: any output size in memory set by the tile, not the image.

The content loss is local and the style loss depends on the image only through Gram
statistics, which are sums over positions: S_l = Σ_tiles F_t F_tᵀ (see :mod:`terms`). One
evaluation is therefore two passes over grids of tiles (``tiling.py``: each tile a core it
owns and a halo of context for the network's receptive field):

1. the Gram pass, forward only (:func:`gram_sums`): each tile's style features, cropped
   to its core, add F Fᵀ into the whole image's S_l; each Gram term's value and slope
   D_l + D_lᵀ (a constant) follow. Keeping no tape, its tiles are larger (often the whole
   picture), and it keeps the whole picture's activations after a pool (the plan's
   ``split``) where they fit: the gradient pass then recomputes only the layers before it.
2. the gradient pass: ``gatys.NetworkLoss``'s forward and hand-written backward per tile
   (a ``gatys.Window`` on the tile), with the slopes given, so a core's style gradient is
   F_core (D_l + D_lᵀ) — exactly the full loss's gradient at the core's positions — plus its
   content term (‖F_core − Fc_core‖² over the whole content's ‖Fc‖²); the tile's whole
   input gradient, halo included, is added into the image's gradient.

The summed gradient equals the untiled one up to the halo's truncation of the receptive
field (exact once the halo covers it: 70 px at relu5_1, see ``tiling.HALO``) and float error. The
optimizer sees one loss and one gradient; it does not know tiles. How large the tiles are
is the memory model's decision (``memory.plan_tiles``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from . import losses
from .gatys import NetworkLoss, Window
from .terms import GramTerm, NetworkTerms
from .tiling import Tile, TilePlan, kept_layers
from .vgg import LAYER, VGG19Features, layers_to


# -- the two passes ---------------------------------------------------------------------------
@torch.no_grad()
def gram_sums(vgg: VGG19Features, dtype: torch.dtype | None, image: torch.Tensor, layers: tuple[str, ...],
              tiles: tuple[Tile, ...], keep: Mapping[str, torch.Tensor] | None = None,
              on_tile: Callable[[], None] | None = None) -> dict[str, torch.Tensor]:
    """{layer: (1, C, C) float32} Σ F Fᵀ of a (1, 3, H, W) image over every tile's core
    (:func:`losses.gram_sum`), from a forward pass per tile through the network's walk (ReLU
    in place), keeping nothing but the current layer; and each core's activations at the
    layers of ``keep`` {layer: (1, C, h, w), the whole picture's map} written into it.
    ``on_tile`` is called after each tile."""
    dtype = dtype or torch.float32
    keep = keep or {}
    walk = layers_to((*layers, *keep))
    sums: dict[str, torch.Tensor] = {}
    for tile in tiles:
        x = vgg.prepare(image[(..., *tile.pixels())], dtype)
        for layer, out, _ in vgg.walk(x, walk):
            if layer.name in layers:  # a conv layer's own Gram is taken before the ReLU overwrites it
                part = losses.gram_sum(losses.positions(tile.crop(out, layer.name)))
                sums[layer.name] = sums[layer.name].add_(part) if layer.name in sums else part
            if layer.name in keep:
                tile.cut(keep[layer.name], layer.name)[...] = tile.crop(out, layer.name)
        if on_tile is not None:
            on_tile()
    return sums


def tiled_grams(vgg: VGG19Features, dtype: torch.dtype | None, image: torch.Tensor, layers: tuple[str, ...],
                plan: TilePlan | None) -> dict[str, torch.Tensor]:
    """{layer: (1, C, C)} Gram matrices of a (1, 3, H, W) image, as losses.gram_matrix gives
    them, from one Gram-pass tile of ``plan`` at a time (None: the whole image as one tile).
    Each layer's Gram is taken as the pass reaches it, so only one layer's map is held at a
    time: a whole 5120x3200 style image keeping its five style layers' maps until the end
    needed 2 GB more than this (an allocation failed under an 8 GB ``ulimit -v``)."""
    height, width = image.shape[-2:]
    tiles = plan.first_pass if plan is not None else (Tile(0, height, 0, width, 0, height, 0, width),)
    sums = gram_sums(vgg, dtype, image, layers, tiles)
    return {layer: g / LAYER[layer].positions(height, width) for layer, g in sums.items()}


@torch.no_grad()
def content_features(vgg: VGG19Features, dtype: torch.dtype | None, content: torch.Tensor, layers: tuple[str, ...],
                     plan: TilePlan) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The whole content's features {layer: (1, C, h, w)} in the network's dtype, and their
    ‖Fc‖² in float32, computed tile by tile (each core from its tile's own pass)."""
    dtype = dtype or torch.float32
    whole = {n: torch.empty(1, LAYER[n].channels, *LAYER[n].size(plan.height, plan.width), dtype=dtype,
                            device=content.device).contiguous(memory_format=torch.channels_last) for n in layers}
    norms = {n: content.new_zeros(()) for n in layers}
    for tile in plan.tiles:
        for n, f in vgg(content[(..., *tile.pixels())], layers, dtype=dtype).items():
            core = tile.crop(f, n)
            norms[n] += core.float().pow(2).sum()
            tile.cut(whole[n], n).copy_(core)
    return whole, norms


class TiledLoss:
    """The network's terms (:class:`terms.NetworkTerms`, no region masks yet) on an image the
    plan's size, evaluated tile by tile: :meth:`evaluate` gives their values and gradient.

    ``fixed`` {layer: (1, C, C)}: Gram statistics of the rest of the picture, computed before
    and held, added to those the Gram pass sums over the plan's tiles: the plan's tiles are
    the ones optimized, the rest contributes fixed sums (the halos' pixels outside the tiles
    are read, their gradient is not the point). A split needs the Gram pass to cover every
    tile's extent, so ``fixed`` takes none.
    """

    def __init__(self, vgg: VGG19Features, dtype: torch.dtype | None, plan: TilePlan, terms: NetworkTerms, *,
                 fixed: Mapping[str, torch.Tensor] | None = None) -> None:
        if terms.masked:
            raise ValueError("region masks are not tiled yet")
        if fixed is not None and plan.split is not None:
            raise ValueError("fixed Gram sums need a plan without a split")
        self.vgg, self.plan, self.terms, self.fixed = vgg, plan, terms, fixed
        self.network = NetworkLoss(vgg, dtype, terms)
        self.kept: dict[str, torch.Tensor] = {  # layer -> the whole picture's map, from the Gram pass
            n: torch.empty(1, LAYER[n].channels, *LAYER[n].size(plan.height, plan.width), dtype=self.network.dtype,
                           device=vgg.scale.device).contiguous(memory_format=torch.channels_last)
            for n in kept_layers(plan.split, terms.layers)}

    @property
    def passes(self) -> int:
        """Tile passes one evaluation makes: the Gram pass's tiles and the gradient pass's."""
        return len(self.plan.first_pass) + len(self.plan.tiles)

    def evaluate(self, x: torch.Tensor, on_tile: Callable[[int, int], None] | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(content term, style term, their gradient (1, 3, H, W) float32) at image x (1, 3, H, W).
        ``on_tile(done, passes)`` is called after each tile pass (see :attr:`passes`): an
        evaluation of a large picture takes minutes, and its progress shows per tile."""
        x = x.detach()
        done = 0

        def tile_done() -> None:
            nonlocal done
            done += 1
            if on_tile is not None:
                on_tile(done, self.passes)

        sums = gram_sums(self.vgg, self.network.dtype, x, tuple(self.terms.style), self.plan.first_pass,
                         self.kept, tile_done)  # pass 1
        style = x.new_zeros(())
        one = x.new_ones(())
        slopes: dict[GramTerm, torch.Tensor] = {}
        for name, grams in self.terms.style.items():
            statistic = sums[name] if self.fixed is None else sums[name].add_(self.fixed[name])
            for gram in grams:
                value, diff = gram.value(statistic.clone() if len(grams) > 1 else statistic)
                style = style + value
                slopes[gram] = gram.slope(diff, one)
        grad = torch.zeros_like(x)
        content = x.new_zeros(())
        for tile in self.plan.tiles:  # pass 2
            window = Window(tile, slopes, self.kept)
            ys, xs = tile.pixels()
            part, _, tape = self.network.forward(x[..., ys, xs], keep=True, window=window)
            grad[..., ys, xs] += self.network.backward(tape, one, one, window)
            content = content + part
            tile_done()
        return content, style, grad
