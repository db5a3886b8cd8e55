"""Exact tiled loss evaluation: any output size in memory set by the tile, not the image.

The content loss is local and the style loss depends on the image only through Gram
matrices, which are sums over positions: G_l = Σ_tiles F_t F_tᵀ / N_l. One evaluation is
therefore two passes over grids of tiles, each tile a *core* (the pixels it owns, on a
grid aligned to relu5_1's stride of 16 px so every pool lines up with the whole image's)
plus a *halo* of context for the network's receptive field:

1. the Gram pass, forward only (:func:`gram_sums`): each tile's style features, cropped
   to its core, add F Fᵀ into the whole image's G_l; the style loss and D_l = ∂L/∂G_l (a
   constant) follow. Keeping no tape, its tiles are larger (often the whole picture), and
   it keeps the whole picture's activations after a pool (the plan's ``split``) where they
   fit: the gradient pass then recomputes only the layers before it.
2. the gradient pass (:class:`_TileNetwork`): NetworkLoss's forward and hand-written
   backward per tile, with (D_l + D_lᵀ) in place of a Gram difference, so a core's style
   gradient is F_core (D_l + D_lᵀ) — exactly the full loss's gradient at the core's
   positions — plus its content term (‖F_core − Fc_core‖² over the whole content's ‖Fc‖²);
   the tile's whole input gradient, halo included, is added into the image's gradient.

The summed gradient equals the untiled one up to the halo's truncation of the receptive
field (exact once the halo covers it: 70 px at relu5_1, see HALO) and float error. The
optimizer sees one loss and one gradient (:class:`_Precomputed`); it does not know tiles.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch.nn import functional

from ..config import LAYER_NAMES, TILE_ALIGN
from .gatys import NetworkLoss
from .vgg import VGG19Features, training_bytes
from .vgg import layer_stride as stride

# The halo. A relu5_1 position depends on pixels up to 70 px beyond its 16 px cell on either side
# (pool4 -> 3x3 conv5_1 -> four 3x3 convs per block back through the pools), so the smallest
# multiple of 16 that covers it, 80 px, is exact to float error. Measured (scripts/bench_tiles.py
# --halo; 192x144 picture, 3x3 tiles of 64 px cores, default layers, tv 1, fp32, CPU):
# max |g_tiled - g| / max |g| of the whole loss's gradient against the untiled one, and the
# loss's relative error:
#   halo px       0        16       32       48       64       80       96
#   gradient  1.4e+0   3.0e-1   7.9e-2   2.5e-2   2.8e-3   9.3e-7   9.3e-7
#   loss      5.6e-2   2.2e-3   1.7e-3   3.0e-4   2.6e-6   1.1e-7   1.1e-7
# 64 px misses the 1e-3 bound; 80 is the smallest that keeps it (and is exact).
HALO = 80
MIN_CORE = 128  # px: below this the halo's recomputation costs more than the core's own work
MIN_HISTORY = 3  # L-BFGS curvature pairs kept at the least under a tight budget
HISTORY_SLACK = 1.1  # more network work (pixels run) a longer L-BFGS history may cost
# share of the budget a tiled plan fills: the allocator keeps freed blocks (see
# devices.keep_freed_memory), and tiles of several shapes leave holes it cannot reuse; a
# 4096x3072 run planned to 100% reached the 4 GB limit before its first evaluation
ALLOCATOR_SLACK = 0.85
# image-sized float32 tensors tiling adds (the gradient it assembles, a tile's slice), less
# those of the untiled count (IMAGE_BUFFERS) it does not allocate: TV's autograd
# temporaries (TV is by hand here) and the copy of the gradient handed to x.grad
TILED_BUFFERS = 2 - 4

LossFn = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]


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
        s = stride(layer)
        return (slice(self.y0 // s - self.ty0 // s, self.y1 // s - self.ty0 // s),
                slice(self.x0 // s - self.tx0 // s, self.x1 // s - self.tx0 // s))


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
        return _extent(self.tiles)

    @property
    def first_pass(self) -> tuple[Tile, ...]:
        """The Gram pass's tiles."""
        return self.gram_tiles or self.tiles


def _extent(tiles: tuple[Tile, ...]) -> tuple[int, int]:
    return (max(t.ty1 - t.ty0 for t in tiles), max(t.tx1 - t.tx0 for t in tiles))


def _area(tiles: tuple[Tile, ...]) -> int:
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


def _cheapest(height: int, width: int, halo: int, fits: Callable[[int, int], bool], *,
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


def content_cache_bytes(height: int, width: int, content_layers: tuple[str, ...], itemsize: int = 4) -> int:
    """Bytes of the content's core features kept for every tile."""
    total = 0
    for layer in dict.fromkeys(content_layers):
        s = stride(layer)
        total += itemsize * _channels(layer) * (height // s) * (width // s)
    return total


def _channels(layer: str) -> int:
    """Channels of ``layer``'s feature map: its block's, from the last conv at or before it."""
    from .vgg import CONV_SHAPES

    convs = [n for n in LAYER_NAMES[: LAYER_NAMES.index(layer) + 1] if n.startswith("conv")]
    return CONV_SHAPES[convs[-1]][0]


def forward_bytes(height: int, width: int, layers: tuple[str, ...], itemsize: int = 4) -> int:
    """Rough peak bytes of the Gram pass on an H x W tile: the input, its normalized copy,
    and at each convolution its input and output (nothing else is kept)."""
    from .vgg import CONV_SHAPES

    deepest = max(LAYER_NAMES.index(name) for name in layers)
    h, w, largest = height, width, 0
    for name in LAYER_NAMES[: deepest + 1]:
        if name.startswith("conv"):
            out, inp = CONV_SHAPES[name]
            largest = max(largest, (out + inp) * h * w)
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
    return 2 * 4 * 3 * height * width + itemsize * largest


def tiled_bytes(plan: TilePlan, *, layers: tuple[str, ...], content_layers: tuple[str, ...],
                image_buffers: int, lbfgs: bool, itemsize: int = 4) -> int:
    """Rough peak bytes of a tiled run: the larger of one tile's forward and backward and one
    Gram-pass tile's forward, the content's cached features, the image-sized buffers and the
    optimizer's history."""
    return (max(training_bytes(*plan.extent, layers, itemsize=itemsize),
                forward_bytes(*_extent(plan.first_pass), layers, itemsize))
            + kept_bytes(plan.height, plan.width, plan.split, layers, itemsize)
            + _fixed_bytes(plan.height, plan.width, plan.history, content_layers=content_layers,
                           image_buffers=image_buffers, lbfgs=lbfgs, itemsize=itemsize))


def _fixed_bytes(height: int, width: int, history: int, *, content_layers: tuple[str, ...], image_buffers: int,
                 lbfgs: bool, itemsize: int) -> int:
    vectors = (2 * history if lbfgs else 2) + image_buffers + TILED_BUFFERS
    return content_cache_bytes(height, width, content_layers, itemsize) + 4 * 3 * height * width * vectors


SPLITS = ("pool1", "pool2", "pool3", None)  # shallowest first: the most work saved, the most memory kept
# share of a forward pass after each split, in multiply-adds (relu5_1, the default layers)
_AFTER = {"pool1": 0.89, "pool2": 0.74, "pool3": 0.38, None: 0.0}


def kept_layers(split: str | None, layers: tuple[str, ...]) -> tuple[str, ...]:
    """The ReLUs after ``split`` whose whole-picture outputs the Gram pass keeps."""
    if split is None:
        return ()
    deepest = max(LAYER_NAMES.index(n) for n in layers)
    return tuple(n for n in LAYER_NAMES[LAYER_NAMES.index(split) + 1: deepest + 1] if n.startswith("relu"))


def kept_bytes(height: int, width: int, split: str | None, layers: tuple[str, ...], itemsize: int = 4) -> int:
    """Bytes of the whole-picture activations kept after ``split``."""
    return sum(itemsize * _channels(n) * (height // stride(n)) * (width // stride(n))
               for n in kept_layers(split, layers))


def _splittable(split: str | None, layers: tuple[str, ...]) -> bool:
    """A split needs every requested layer after it to be a ReLU (their outputs are what is kept)."""
    if split is None:
        return True
    after = LAYER_NAMES[LAYER_NAMES.index(split) + 1:]
    return all(n.startswith("relu") for n in layers if n in after) and max(LAYER_NAMES.index(n) for n in layers) \
        > LAYER_NAMES.index(split)


def plan_tiles(height: int, width: int, *, tile: int | None, budget: int | None, untiled: int,
               layers: tuple[str, ...], content_layers: tuple[str, ...], image_buffers: int,
               full_history: int, lbfgs: bool, halo: int = HALO, itemsize: int = 4) -> TilePlan | None:
    """The tiling for an H x W picture, or None to run it whole.

    Whole when it fits ``budget`` (bytes; None: unknown) and no ``tile`` is asked for.
    Otherwise the grid with the least work (pixels run, halos included) that fits with the
    full L-BFGS history, shrinking the history (down to MIN_HISTORY) when even MIN_CORE
    cores would not fit; None when nothing fits (the caller's memory check then refuses).
    ``tile`` forces square cores of that size. The Gram pass gets its own grid, the one with
    the least work whose forward pass fits (often the whole picture).
    """
    def room(history: int) -> int | None:
        if budget is None:
            return None
        return int(budget * ALLOCATOR_SLACK) - _fixed_bytes(height, width, history, content_layers=content_layers,
                                     image_buffers=image_buffers, lbfgs=lbfgs, itemsize=itemsize)

    def forward_fits(left: int | None) -> Callable[[int, int], bool]:
        return lambda h, w: left is None or forward_bytes(h, w, layers, itemsize) <= left

    def tape_fits(left: int) -> Callable[[int, int], bool]:
        return lambda h, w: training_bytes(h, w, layers, itemsize=itemsize) <= left

    def gram_tiles(left: int | None) -> tuple[Tile, ...]:
        found = _cheapest(height, width, halo, forward_fits(left), several=False)
        return found if found is not None else tiles_of(MIN_CORE)

    def tiles_of(core: int) -> tuple[Tile, ...]:
        return grid(height, width, core, halo)

    def make(tiles: tuple[Tile, ...], history: int, left: int | None) -> TilePlan | None:
        if len(tiles) == 1:
            return None  # one tile is the whole picture: the untiled path does the same, faster
        core = max(max(t.y1 - t.y0, t.x1 - t.x0) for t in tiles)
        return TilePlan(height, width, core, halo, history, tiles, gram_tiles(left))

    def tape(tiles: tuple[Tile, ...]) -> int:
        return training_bytes(*_extent(tiles), layers, itemsize=itemsize)

    histories = [full_history] + [h for h in (40, 30, 20, 10, 5, MIN_HISTORY) if h < full_history]
    if tile is not None:
        forced = tiles_of(tile)
        for history in histories if lbfgs else [full_history]:
            left = room(history)
            if left is None or tape(forced) <= left or history == histories[-1]:
                split = next(s for s in SPLITS if _splittable(s, layers) and (
                    left is None or s is None or kept_bytes(height, width, s, layers, itemsize) + tape(forced) <= left))
                if left is not None:
                    left -= kept_bytes(height, width, split, layers, itemsize)
                plan = make(forced, history, left)
                return None if plan is None else dataclasses.replace(plan, split=split)
    if budget is None or untiled <= budget:
        return None
    options = []  # (work, history, tiles, split, room left for the Gram pass)
    for history in histories if lbfgs else [full_history]:
        left = room(history)
        assert left is not None
        for split in (s for s in SPLITS if _splittable(s, layers)):
            kept = kept_bytes(height, width, split, layers, itemsize)
            if kept >= left:
                continue
            found = _cheapest(height, width, halo, tape_fits(left - kept), several=True)
            gram = _cheapest(height, width, halo, forward_fits(left - kept), several=False)
            if found is not None and gram is not None:
                # a forward pass and a backward pass cost about the same: the Gram pass's
                # forward, then the gradient pass's forward up to the split and its backward
                work = _area(gram) + _area(found) * (2 - _AFTER[split])
                options.append((work, history, found, split, left - kept))
    if not options:
        return None
    # a longer history is worth little next to the network's work: the longest whose plan
    # costs at most HISTORY_SLACK more than the cheapest any history allows
    least = min(o[0] for o in options)
    work, history, found, split, left = min((o for o in options if o[0] <= HISTORY_SLACK * least),
                                            key=lambda o: (-o[1], o[0]))
    plan = make(found, history, left)
    return None if plan is None else dataclasses.replace(plan, split=split)


def memory_budget(max_memory: int | None, free: int | None, held: int) -> int | None:
    """Bytes this job may still allocate: ``free`` (what the device has free), within
    ``max_memory`` less ``held`` (what the process held once its network was loaded)."""
    if max_memory is None:
        return free
    room = max(0, max_memory - held)
    return room if free is None else min(free, room)


def held_memory(device: torch.device) -> int:
    """What this process holds now: its RSS on a CPU, torch's allocations on a GPU."""
    return torch.cuda.memory_allocated(device) if device.type == "cuda" else _rss()


def _rss() -> int:
    """This process's resident memory in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# -- the two passes ---------------------------------------------------------------------------
def _core(features: torch.Tensor, tile: Tile, layer: str) -> torch.Tensor:
    """A tile's features (1, C, h, w) at ``layer`` cropped to its core: a view."""
    ys, xs = tile.core(layer)
    return features[:, :, ys, xs]


def _positions_by_channels(features: torch.Tensor) -> torch.Tensor:
    """(1, C, h, w) channels_last (a crop of it) -> (1, hw, C): a view when it can be, else a copy."""
    b, c, h, w = features.shape
    return features.permute(0, 2, 3, 1).reshape(b, h * w, c)


def positions(plan: TilePlan, layer: str) -> int:
    """N_l: positions of the whole picture's feature map at ``layer``."""
    s = stride(layer)
    return (plan.height // s) * (plan.width // s)


def _gram_dtype(dtype: torch.dtype) -> torch.dtype:
    # float16 Gram sums overflow: multiplied in float32, as NetworkLoss does
    return torch.float32 if dtype == torch.float16 else dtype


@torch.no_grad()
def gram_sums(vgg: VGG19Features, dtype: torch.dtype | None, image: torch.Tensor, layers: tuple[str, ...],
              tiles: tuple[Tile, ...], keep: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """{layer: (C, C) float32} Σ F Fᵀ of a (1, 3, H, W) image over every tile's core, from a
    forward pass per tile as NetworkLoss runs it (weights cast once, channels_last, ReLU in
    place, one matmul per Gram), keeping nothing but the current layer; and each core's
    activations at the layers of ``keep`` {layer: (1, C, h, w), the whole picture's map}
    written into it."""
    dtype = dtype or torch.float32
    weights = vgg.weights_as(dtype)
    keep = keep or {}
    names = LAYER_NAMES[: max(LAYER_NAMES.index(n) for n in (*layers, *keep)) + 1]
    sums: dict[str, torch.Tensor] = {}
    for tile in tiles:
        x = vgg.normalize(image[(..., *tile.pixels())]).to(dtype).contiguous(memory_format=torch.channels_last)
        for name in names:
            kind = name[:4]
            if kind == "conv":
                x = functional.conv2d(x, *weights[name], padding=1)
            elif kind == "relu":
                x = torch.relu_(x)  # a conv layer's own Gram was taken just before
            elif vgg.pooling == "max":
                x = functional.max_pool2d(x, 2, 2)
            else:
                x = functional.avg_pool2d(x, 2, 2)
            if name in layers:
                flat = _positions_by_channels(_core(x, tile, name)).to(_gram_dtype(dtype))
                part = torch.bmm(flat.transpose(1, 2), flat)[0].float()
                sums[name] = sums[name].add_(part) if name in sums else part
            if name in keep:
                s = stride(name)
                keep[name][:, :, tile.y0 // s: tile.y1 // s, tile.x0 // s: tile.x1 // s] = _core(x, tile, name)
    return sums


def tiled_grams(vgg: VGG19Features, dtype: torch.dtype | None, image: torch.Tensor, layers: tuple[str, ...],
                plan: TilePlan) -> dict[str, torch.Tensor]:
    """{layer: (1, C, C)} Gram matrices of a (1, 3, H, W) image, as losses.gram_matrix gives
    them, from one Gram-pass tile at a time."""
    sums = gram_sums(vgg, dtype, image, layers, plan.first_pass)
    return {layer: (g / positions(plan, layer)).unsqueeze(0) for layer, g in sums.items()}


class _TileNetwork(NetworkLoss):
    """NetworkLoss's forward and hand-written backward on one tile (:attr:`tile`), its terms
    confined to the tile's core at each layer.

    The style term's gradient at a core is F (D + Dᵀ) with the whole picture's D = ∂L/∂G
    (:attr:`slopes`, set per evaluation from the Gram pass) in place of the tile's own Gram
    difference; the content term compares the core with the content's cached core features.
    """

    def __init__(self, vgg: VGG19Features, dtype: torch.dtype | None, plan: TilePlan, *,
                 content_weights: Mapping[str, float], targets: Mapping[str, torch.Tensor],
                 style_weights: Mapping[str, float]) -> None:
        # NetworkLoss.__init__ wants the whole content's features: set what it would
        self.vgg, self.plan = vgg, plan
        self.dtype = dtype or torch.float32
        self.gram_dtype = _gram_dtype(self.dtype)
        self.weights = vgg.weights_as(self.dtype)
        self.style = {n: (targets[n][0].float(), w / targets[n].float().pow(2).sum().clamp_min(1e-12))
                      for n, w in style_weights.items()}
        self.content_weights = dict(content_weights)
        self.content = {n: (torch.empty(0), torch.tensor(w)) for n, w in content_weights.items()}  # see set_content
        deepest = max(LAYER_NAMES.index(n) for n in (*self.content, *self.style))
        self.names = LAYER_NAMES[: deepest + 1]
        self.tile = plan.tiles[0]
        self.index = 0
        self.cached: list[dict[str, torch.Tensor]] = []  # per tile: {layer: core content features}
        self.slopes: dict[str, torch.Tensor] = {}  # layer -> (1, C, C) (D + Dᵀ) · 2 w / (‖T‖² N)
        self.kept: dict[str, torch.Tensor] = {}  # layer -> the whole picture's map, from the Gram pass
        if kept := kept_layers(plan.split, tuple(self.names)):
            device = vgg.scale.device
            self.kept = {n: torch.empty(1, _channels(n), plan.height // stride(n), plan.width // stride(n),
                                        dtype=self.dtype, device=device).contiguous(memory_format=torch.channels_last)
                         for n in kept}

    def forward(self, image: torch.Tensor, keep: bool) -> tuple[torch.Tensor, torch.Tensor, list]:
        """NetworkLoss's forward on the tile up to the plan's split; after it, the layers are
        the Gram pass's whole-picture ones (:attr:`kept`) cut to the tile: exact, and not
        computed again."""
        if not self.kept:
            return super().forward(image, keep)
        names, split = self.names, LAYER_NAMES.index(self.plan.split or "")
        self.names = names[: split + 1]
        try:
            content, style, tape = super().forward(image, keep=True)
        finally:
            self.names = names
        x = tape[-1][1]
        for i, name in enumerate(names[split + 1:], start=split + 1):
            kind = name[:4]
            if kind == "conv":
                inp, x = x, self._kept(names[i + 1])  # the ReLU after it runs in place: the same tensor
                entry: tuple = ("conv", name, inp)
            elif kind == "relu":
                entry = ("relu", name, x)
            elif self.vgg.pooling == "max":
                inp = x
                x, indices = functional.max_pool2d_with_indices(x, [2, 2], [2, 2])
                entry = ("max", name, inp, indices)
            else:
                inp = x
                x = functional.avg_pool2d(x, 2, 2)
                entry = ("avg", name, inp)
            found: dict[str, torch.Tensor] = {}
            if name in self.style:
                style = style + self.style_term(name, x, found)
            if name in self.content:
                content = content + self.content_term(name, x, found)
            tape.append((entry, x, found))
        return content, style, tape

    def _kept(self, layer: str) -> torch.Tensor:
        """The tile's extent cut from the whole picture's kept map at ``layer``, as the tile's own
        forward pass would shape it (rows from ty0 / s, floor(tile height / s) of them)."""
        s, tile = stride(layer), self.tile
        y0, x0 = tile.ty0 // s, tile.tx0 // s
        crop = self.kept[layer][:, :, y0: y0 + (tile.ty1 - tile.ty0) // s, x0: x0 + (tile.tx1 - tile.tx0) // s]
        return crop.contiguous(memory_format=torch.channels_last)

    def set_content(self, content: torch.Tensor) -> None:
        """Cache the content's core features per tile (in the network's dtype) and weight each
        layer by the whole picture's ‖Fc‖²."""
        self.cached = []
        norms = {n: content.new_zeros(()) for n in self.content}
        with torch.no_grad():
            for index, tile in enumerate(self.plan.tiles):
                self.tile, self.index = tile, index
                features = self.vgg(content[(..., *tile.pixels())], tuple(self.content), dtype=self.dtype)
                cores = {n: _core(f, tile, n).clone() for n, f in features.items()}
                for n, f in cores.items():
                    norms[n] += f.float().pow(2).sum()
                self.cached.append(cores)
        self.content = {n: (torch.empty(0), w / norms[n].clamp_min(1e-12)) for n, w in self.content_weights.items()}

    def style_term(self, name: str, x: torch.Tensor, found: dict[str, torch.Tensor]) -> torch.Tensor:
        found["style"] = self.slopes[name]  # the value came from the Gram pass
        return x.new_zeros((), dtype=torch.float32)

    def content_term(self, name: str, x: torch.Tensor, found: dict[str, torch.Tensor]) -> torch.Tensor:
        diff = _core(x, self.tile, name).float() - self.cached[self.index][name].float()
        found["content"] = diff
        return self.content[name][1] * diff.pow(2).sum()

    def style_grad(self, name: str, output: torch.Tensor, found: dict[str, torch.Tensor],
                   grad: torch.Tensor | None, grad_style: torch.Tensor) -> torch.Tensor:
        core = _core(output, self.tile, name)
        flat = _positions_by_channels(core).to(self.gram_dtype)
        part = torch.bmm(flat, found["style"]).view(*core.shape[:1], *core.shape[2:], -1).permute(0, 3, 1, 2)
        grad = torch.zeros_like(output) if grad is None else grad
        _core(grad, self.tile, name).add_(part.to(self.dtype), alpha=float(grad_style))
        return grad

    def content_grad(self, name: str, output: torch.Tensor, found: dict[str, torch.Tensor],
                     grad: torch.Tensor | None, grad_content: torch.Tensor) -> torch.Tensor:
        part = (found["content"] * (grad_content * 2 * self.content[name][1])).to(self.dtype)
        grad = torch.zeros_like(output) if grad is None else grad
        _core(grad, self.tile, name).add_(part)
        return grad


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


def total_variation_into(x: torch.Tensor, grad: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight`` · losses.total_variation(x), its gradient added into ``grad`` in place: one
    image-sized temporary at a time where autograd keeps several."""
    value = x.new_zeros(())
    for dim in (-1, -2):
        length = x.shape[dim]
        diff = x.narrow(dim, 1, length - 1) - x.narrow(dim, 0, length - 1)
        flat = diff.view(-1)
        value = value + torch.dot(flat, flat) / flat.numel()
        diff.mul_(2 * weight / flat.numel())
        grad.narrow(dim, 1, length - 1).add_(diff)
        grad.narrow(dim, 0, length - 1).sub_(diff)
        del diff, flat
    return weight * value


class TiledLoss:
    """The content and style terms of one scale evaluated tile by tile; the arguments are
    NetworkLoss's (``targets`` {layer: (1, C, C)}), the content given to :meth:`set_content`."""

    def __init__(self, vgg: VGG19Features, dtype: torch.dtype | None, plan: TilePlan, *,
                 content_weights: Mapping[str, float], targets: Mapping[str, torch.Tensor],
                 style_weights: Mapping[str, float]) -> None:
        self.plan = plan
        self.network = _TileNetwork(vgg, dtype, plan, content_weights=content_weights, targets=targets,
                                    style_weights=style_weights)

    def set_content(self, content: torch.Tensor) -> None:
        """Cache what the content term needs of ``content`` (1, 3, H, W), per tile."""
        self.network.set_content(content)

    def evaluate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(content term, style term, their gradient (1, 3, H, W) float32) at image x (1, 3, H, W)."""
        net, plan = self.network, self.plan
        x = x.detach()
        sums = gram_sums(net.vgg, net.dtype, x, tuple(net.style), plan.first_pass, net.kept)  # pass 1
        style = x.new_zeros(())
        for n, (target, weight) in net.style.items():
            diff = sums[n].div_(positions(plan, n)).sub_(target)
            style = style + weight * diff.pow(2).sum()
            # ∂L/∂F at the core = F (D + Dᵀ) with D = ∂L/∂G = 2 w diff / ‖T‖², and G's 1/N_l
            net.slopes[n] = ((diff + diff.T) * (2 * weight / positions(plan, n))).to(net.gram_dtype).unsqueeze(0)
        grad = torch.zeros_like(x)
        content = x.new_zeros(())
        one = x.new_ones(())
        for index, tile in enumerate(plan.tiles):  # pass 2
            net.tile, net.index = tile, index
            ys, xs = tile.pixels()
            part, _, tape = net.forward(x[..., ys, xs], keep=True)
            grad[..., ys, xs] += net.backward(tape, one, one)
            content = content + part
        net.slopes = {}
        return content, style, grad


def tiled_loss_fn(loss: TiledLoss, content: torch.Tensor, tv_weight: float,
                  extra_loss: Callable[[torch.Tensor], torch.Tensor] | None) -> LossFn:
    """loss(x) -> (total, terms) like the untiled one: the network's terms by tiles, TV by
    hand on the whole x (:func:`total_variation_into`), the extra (temporal) term on the
    whole x with autograd."""
    loss.set_content(content)

    def loss_of(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        content_term, style_term, grad = loss.evaluate(x)
        terms = {"content": content_term, "style": style_term}
        if tv_weight:
            terms["tv"] = total_variation_into(x.detach(), grad, tv_weight)
        total = _Precomputed.apply(x, sum(terms.values()), grad)
        if extra_loss is not None:
            terms["extra"] = extra_loss(x)
            total = total + terms["extra"]
        return total, terms

    return loss_of
