"""Tile geometry: a picture cut into a grid of tiles, each a *core* (the pixels it owns, on
a grid aligned to relu5_1's stride of 16 px so every pool lines up with the whole image's)
plus a *halo* of context for the network's receptive field, and where each lies in a
layer's feature map. What a tiled pass does with them is ``tiles.py``; how large they are
under a memory budget, ``memory.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..config import TILE_ALIGN
from .vgg import LAYER, layers_to

# The halo. A relu5_1 position depends on pixels up to 70 px beyond its 16 px cell on either side
# (pool4 -> 3x3 conv5_1 -> four 3x3 convs per block back through the pools), so the smallest
# multiple of 16 that covers it, 80 px, is exact to float error. Measured (`python
# scripts/bench_tiles.py halo`; 192x144 picture, 3x3 tiles of 64 px cores, default layers, tv 1, fp32, CPU):
# max |g_tiled - g| / max |g| of the whole loss's gradient against the untiled one, and the
# loss's relative error:
#   halo px       0        16       32       48       64       80       96
#   gradient  1.4e+0   3.0e-1   7.9e-2   2.5e-2   2.8e-3   9.3e-7   9.3e-7
#   loss      5.6e-2   2.2e-3   1.7e-3   3.0e-4   2.6e-6   1.1e-7   1.1e-7
# 64 px misses the 1e-3 bound; 80 is the smallest that keeps it (and is exact).
HALO = 80
MIN_CORE = 128  # px: below this the halo's recomputation costs more than the core's own work


@dataclass(frozen=True)
class Tile:
    """One tile: its core ``[y0, y1) x [x0, x1)`` and its extent with the halo, in pixels."""

    y0: int
    y1: int
    x0: int
    x1: int
    ty0: int
    ty1: int
    tx0: int
    tx1: int

    def pixels(self) -> tuple[slice, slice]:
        """The tile's extent (core and halo) as slices of the image's (H, W)."""
        return slice(self.ty0, self.ty1), slice(self.tx0, self.tx1)

    def core(self, layer: str) -> tuple[slice, slice]:
        """The core's positions in the tile's own feature map at ``layer``.

        The tile starts on a multiple of 16, so its positions are the image's shifted by
        ty0 / s; the image's map at stride s has floor(H / s) rows, hence the floor at y1.
        """
        s = LAYER[layer].stride
        return (slice(self.y0 // s - self.ty0 // s, self.y1 // s - self.ty0 // s),
                slice(self.x0 // s - self.tx0 // s, self.x1 // s - self.tx0 // s))

    def crop(self, features: torch.Tensor, layer: str) -> torch.Tensor:
        """The tile's own (1, C, h, w) map at ``layer`` cropped to its core: a view."""
        ys, xs = self.core(layer)
        return features[:, :, ys, xs]

    def cut(self, whole: torch.Tensor, layer: str) -> torch.Tensor:
        """The whole picture's (1, C, h, w) map at ``layer`` cut to this tile's core: a view."""
        s = LAYER[layer].stride
        return whole[:, :, self.y0 // s: self.y1 // s, self.x0 // s: self.x1 // s]

    def cut_extent(self, whole: torch.Tensor, layer: str) -> torch.Tensor:
        """The whole picture's map at ``layer`` cut to the tile's extent, halo included, as the
        tile's own pass would shape it (rows from ty0 / s, floor(tile height / s) of them)."""
        s = LAYER[layer].stride
        y0, x0 = self.ty0 // s, self.tx0 // s
        return whole[:, :, y0: y0 + (self.ty1 - self.ty0) // s, x0: x0 + (self.tx1 - self.tx0) // s]


@dataclass(frozen=True)
class TilePlan:
    """A grid of tiles over an H x W picture, and the L-BFGS history that fits beside it.

    ``tiles`` are the gradient pass's; ``gram_tiles`` the Gram pass's (forward only, so it
    keeps no tape and its tiles can be larger, often the whole picture); empty: the same.
    With a ``split``, the Gram pass keeps the whole picture's activations after that pool
    (small: a quarter of the positions per pool) and the gradient pass recomputes only the
    layers up to it, taking the deeper ones from there.
    """

    height: int
    width: int
    core: int  # px, the longest core side
    halo: int  # px
    history: int  # L-BFGS curvature pairs
    tiles: tuple[Tile, ...]
    gram_tiles: tuple[Tile, ...] = ()
    split: str | None = None  # a pool: the layers after it are the Gram pass's, kept for the whole picture

    @property
    def extent(self) -> tuple[int, int]:
        """(h, w) of the largest tile with its halo."""
        return extent(self.tiles)

    @property
    def first_pass(self) -> tuple[Tile, ...]:
        """The Gram pass's tiles."""
        return self.gram_tiles or self.tiles

    @property
    def overlap(self) -> float:
        """Share of the gradient pass's work (pixels run) that is halo, run again by a neighbour:
        0 for one tile, 0.63 for 126 tiles of 416x368 over 2900x2175."""
        return 1 - self.height * self.width / area(self.tiles)


def extent(tiles: tuple[Tile, ...]) -> tuple[int, int]:
    """(h, w) of the largest of ``tiles`` with its halo."""
    return (max(t.ty1 - t.ty0 for t in tiles), max(t.tx1 - t.tx0 for t in tiles))


def area(tiles: tuple[Tile, ...]) -> int:
    """Pixels the network runs over for one pass over ``tiles``: the work, halos included."""
    return sum((t.ty1 - t.ty0) * (t.tx1 - t.tx0) for t in tiles)


def _cuts(length: int, parts: int) -> list[int]:
    """Core boundaries along one side: ``parts`` near-equal parts, on multiples of 16."""
    inner = {TILE_ALIGN * round(i * length / (parts * TILE_ALIGN)) for i in range(1, parts)}
    return [0, *sorted(c for c in inner if 0 < c < length), length]


def grid_of(height: int, width: int, rows: int, cols: int, halo: int) -> tuple[Tile, ...]:
    """Tiles covering H x W in ``rows`` x ``cols`` cores, halos of ``halo`` px clipped to the image."""
    assert halo % TILE_ALIGN == 0
    ys, xs = _cuts(height, rows), _cuts(width, cols)
    return tuple(Tile(y0, y1, x0, x1, max(0, y0 - halo), min(height, y1 + halo),
                      max(0, x0 - halo), min(width, x1 + halo))
                 for y0, y1 in zip(ys, ys[1:], strict=False) for x0, x1 in zip(xs, xs[1:], strict=False))


def grid(height: int, width: int, core: int, halo: int) -> tuple[Tile, ...]:
    """Tiles covering H x W: cores of at most ``core`` px, halos of ``halo`` px clipped to the image."""
    assert core % TILE_ALIGN == 0
    return grid_of(height, width, max(1, math.ceil(height / core)), max(1, math.ceil(width / core)), halo)


def _spans(length: int, halo: int) -> dict[int, tuple[int, int]]:
    """parts -> (the longest tile side with its halo, the sides' sum) along one side, for
    every split into parts of at least MIN_CORE px (or one part)."""
    found = {}
    for parts in range(1, max(1, length // MIN_CORE) + 1):
        cuts = _cuts(length, parts)
        spans = [min(length, b + halo) - max(0, a - halo) for a, b in zip(cuts, cuts[1:], strict=False)]
        found[parts] = (max(spans), sum(spans))
    return found


def cheapest(height: int, width: int, halo: int, fits: Callable[[int, int], bool], *,
              several: bool) -> tuple[Tile, ...] | None:
    """The grid with the least work (pixels run, halos included) whose largest tile (h, w)
    ``fits``; ``several``: not the whole picture as one tile. None when none fits.

    A grid's work is the product of its two sides' sums, and more columns only add halos:
    for each row count the fewest columns that fit is that row count's cheapest.
    """
    rows, cols = _spans(height, halo), _spans(width, halo)
    best: tuple[tuple[int, int], int, int] | None = None
    for r, (tall, down) in rows.items():
        for c, (wide, across) in cols.items():
            if (several and r * c == 1) or not fits(tall, wide):
                continue
            key = (down * across, r * c)
            if best is None or key < best[0]:
                best = (key, r, c)
            break
    return None if best is None else grid_of(height, width, best[1], best[2], halo)


def kept_layers(split: str | None, layers: tuple[str, ...]) -> tuple[str, ...]:
    """The ReLUs after ``split`` whose whole-picture outputs the Gram pass keeps."""
    if split is None:
        return ()
    return tuple(layer.name for layer in layers_to(layers)[LAYER[split].index + 1:] if layer.kind == "relu")


def splittable(split: str | None, layers: tuple[str, ...]) -> bool:
    """A split needs every requested layer after it to be a ReLU (their outputs are what is kept)."""
    if split is None:
        return True
    after = LAYER[split].index
    return all(LAYER[n].kind == "relu" for n in layers if LAYER[n].index > after) and \
        max(LAYER[n].index for n in layers) > after
