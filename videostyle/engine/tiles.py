"""Exact tiled loss evaluation: any output size in memory set by the tile, not the image.

The content loss is local and the style loss depends on the image only through Gram
matrices, which are sums over positions: G_l = Σ_tiles F_t F_tᵀ / N_l. One evaluation is
therefore two passes over a grid of tiles, each tile a *core* (the pixels it owns, on a
grid aligned to relu5_1's stride of 16 px so every pool lines up with the whole image's)
plus a *halo* of context for the network's receptive field:

1. without gradients: each tile's style features, cropped to its core, add F Fᵀ into the
   whole image's G_l; the style loss and D_l = ∂L/∂G_l (a constant) follow.
2. with gradients: each tile's surrogate Σ_l ⟨D_l, F_core F_coreᵀ / N_l⟩ plus its content
   term (‖F_core − Fc_core‖² over the whole content's ‖Fc‖²) is backpropagated, and the
   tile's whole input gradient, halo included, is added into the image's gradient.

Since ∂/∂F ⟨D, F Fᵀ⟩/N = 2 D F / N (D symmetric) is the full loss's gradient at the core's
positions, the summed gradient equals the untiled one up to the halo's truncation of the
receptive field (exact once the halo covers it: 70 px at relu5_1, see HALO) and float error. The
optimizer sees one loss and one gradient (:class:`_Precomputed`); it does not know tiles.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from ..config import TILE_ALIGN
from .devices import Compute
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
MIN_HISTORY = 5  # L-BFGS curvature pairs kept at the least under a tight budget
TILED_BUFFERS = 3  # image-sized float32 tensors tiling adds: the gradient, its saved copy, a tile's slice

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
    """A grid of tiles over an H x W picture, and the L-BFGS history that fits beside it."""

    height: int
    width: int
    core: int  # px, the longest core side
    halo: int  # px
    history: int  # L-BFGS curvature pairs
    tiles: tuple[Tile, ...]

    @property
    def extent(self) -> tuple[int, int]:
        """(h, w) of the largest tile with its halo."""
        return (max(t.ty1 - t.ty0 for t in self.tiles), max(t.tx1 - t.tx0 for t in self.tiles))


def _cuts(length: int, core: int) -> list[int]:
    """Core boundaries along one side: equal parts of at most ``core`` px, on multiples of 16."""
    parts = max(1, math.ceil(length / core))
    inner = {TILE_ALIGN * round(i * length / (parts * TILE_ALIGN)) for i in range(1, parts)}
    return [0, *sorted(c for c in inner if 0 < c < length), length]


def grid(height: int, width: int, core: int, halo: int) -> tuple[Tile, ...]:
    """Tiles covering H x W: cores of at most ``core`` px, halos of ``halo`` px clipped to the image."""
    assert core % TILE_ALIGN == 0 and halo % TILE_ALIGN == 0
    ys, xs = _cuts(height, core), _cuts(width, core)
    return tuple(Tile(y0, y1, x0, x1, max(0, y0 - halo), min(height, y1 + halo),
                      max(0, x0 - halo), min(width, x1 + halo))
                 for y0, y1 in zip(ys, ys[1:], strict=False) for x0, x1 in zip(xs, xs[1:], strict=False))


def content_cache_bytes(height: int, width: int, content_layers: tuple[str, ...]) -> int:
    """Bytes of the content's core features kept for every tile (float32)."""
    from .vgg import CONV_SHAPES

    total = 0
    for layer in content_layers:
        conv = "conv" + layer[4:] if layer.startswith("relu") else None
        channels = CONV_SHAPES[conv][0] if conv in CONV_SHAPES else 512
        s = stride(layer)
        total += 4 * channels * (height // s) * (width // s)
    return total


def tiled_bytes(height: int, width: int, core: int, halo: int, history: int, *, layers: tuple[str, ...],
                content_layers: tuple[str, ...], image_buffers: int, lbfgs: bool) -> int:
    """Rough peak bytes of a tiled run: one tile's forward and backward, the content's cached
    features, the image-sized buffers and the optimizer's history."""
    tiles = grid(height, width, core, halo)
    th = max(t.ty1 - t.ty0 for t in tiles)
    tw = max(t.tx1 - t.tx0 for t in tiles)
    vectors = (2 * history if lbfgs else 2) + image_buffers + TILED_BUFFERS
    return (training_bytes(th, tw, layers) + content_cache_bytes(height, width, content_layers)
            + 4 * 3 * height * width * vectors)


def plan_tiles(height: int, width: int, *, tile: int | None, budget: int | None, untiled: int,
               layers: tuple[str, ...], content_layers: tuple[str, ...], image_buffers: int,
               full_history: int, lbfgs: bool, halo: int = HALO) -> TilePlan | None:
    """The tiling for an H x W picture, or None to run it whole.

    Whole when it fits ``budget`` (bytes; None: unknown) and no ``tile`` is asked for.
    Otherwise the largest core that fits with the full L-BFGS history, shrinking the
    history (down to MIN_HISTORY) when even a MIN_CORE core would not fit; None when
    nothing fits (the caller's memory check then refuses).
    """
    def need(core: int, history: int) -> int:
        return tiled_bytes(height, width, core, halo, history, layers=layers, content_layers=content_layers,
                           image_buffers=image_buffers, lbfgs=lbfgs)

    def make(core: int, history: int) -> TilePlan | None:
        tiles = grid(height, width, core, halo)
        if len(tiles) == 1:
            return None  # one tile is the whole picture: the untiled path does the same, faster
        return TilePlan(height, width, core, halo, history, tiles)

    longest = max(height, width)
    if tile is not None:
        history = full_history
        while budget is not None and history > MIN_HISTORY and need(tile, history) > budget:
            history = max(MIN_HISTORY, history // 2)
        return make(tile, history)
    if budget is None or untiled <= budget:
        return None
    top = longest + (-longest) % TILE_ALIGN
    histories = [full_history] + [h for h in (40, 30, 20, 10, MIN_HISTORY) if h < full_history]
    for history in histories if lbfgs else [full_history]:
        core = top
        while core >= MIN_CORE and need(core, history) > budget:
            core -= TILE_ALIGN * max(1, core // (8 * TILE_ALIGN))  # ~12% steps, on the grid
            core -= core % TILE_ALIGN
        if core >= MIN_CORE:
            return make(core, history)
    return None


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
def _flat(features: torch.Tensor, tile: Tile, layer: str) -> torch.Tensor:
    """A tile's features (1, C, h, w) at ``layer`` cropped to its core -> (C, n) float32."""
    ys, xs = tile.core(layer)
    core = features[0, :, ys, xs].float()  # (C, hc, wc)
    return core.reshape(core.shape[0], -1)


def positions(plan: TilePlan, layer: str) -> int:
    """N_l: positions of the whole picture's feature map at ``layer``."""
    s = stride(layer)
    return (plan.height // s) * (plan.width // s)


@torch.no_grad()
def tiled_grams(vgg: VGG19Features, compute: Compute, image: torch.Tensor, layers: tuple[str, ...],
                plan: TilePlan) -> dict[str, torch.Tensor]:
    """{layer: (1, C, C)} Gram matrices of a (1, 3, H, W) image, as losses.gram_matrix gives
    them, from one tile at a time."""
    sums: dict[str, torch.Tensor] = {}
    for tile in plan.tiles:
        with compute.autocast():
            features = vgg(image[(..., *tile.pixels())], layers)
        for layer in layers:
            flat = _flat(features[layer], tile, layer)  # (C, n)
            part = flat @ flat.T
            sums[layer] = sums[layer] + part if layer in sums else part
    return {layer: (g / positions(plan, layer)).unsqueeze(0) for layer, g in sums.items()}


class _Precomputed(torch.autograd.Function):
    """A loss value whose gradient with respect to x was computed beforehand (by tiles)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, value: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(grad)
        return value.clone()

    @staticmethod
    def backward(ctx, out: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        return out * grad, None, None


@dataclass
class TiledLoss:
    """The content and style terms of one scale evaluated tile by tile."""

    vgg: VGG19Features
    compute: Compute
    plan: TilePlan
    content_layers: tuple[str, ...]
    content_scale: float  # content_weight / number of content layers
    style_weights: dict[str, float]  # layer -> effective style weight x layer weight
    targets: Mapping[str, torch.Tensor]  # layer -> (1, C, C)

    def __post_init__(self) -> None:
        self.style_layers = tuple(self.style_weights)
        self.layers = tuple(dict.fromkeys(self.content_layers + self.style_layers))
        self._content: list[dict[str, torch.Tensor]] = []  # per tile: {layer: (C, n) core features}
        self._content_norms: dict[str, torch.Tensor] = {}  # layer -> ‖Fc‖² over the whole picture

    @torch.no_grad()
    def set_content(self, content: torch.Tensor) -> None:
        """Cache the content's core features per tile and their whole-picture squared norms."""
        self._content = []
        norms: dict[str, torch.Tensor] = {n: torch.zeros((), device=content.device) for n in self.content_layers}
        for tile in self.plan.tiles:
            with self.compute.autocast():
                features = self.vgg(content[(..., *tile.pixels())], self.content_layers)
            cores = {n: _flat(features[n], tile, n) for n in self.content_layers}
            for n, f in cores.items():
                norms[n] += f.pow(2).sum()
            self._content.append(cores)
        self._content_norms = {n: v.clamp_min(1e-12) for n, v in norms.items()}

    def evaluate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(content term, style term, their gradient (1, 3, H, W)) at image x (1, 3, H, W)."""
        x = x.detach()
        grams = tiled_grams(self.vgg, self.compute, x, self.style_layers, self.plan)  # pass 1
        style = torch.zeros((), device=x.device)
        slopes: dict[str, torch.Tensor] = {}  # D_l = ∂L/∂G_l, (C, C)
        for n, w in self.style_weights.items():
            target = self.targets[n][0].float()
            diff = grams[n][0] - target
            norm = target.pow(2).sum().clamp_min(1e-12)
            style = style + w * diff.pow(2).sum() / norm
            slopes[n] = (2 * w / norm) * diff / positions(self.plan, n)  # ⟨D, FFᵀ⟩ carries the 1/N_l
        grad = torch.zeros_like(x)
        content = torch.zeros((), device=x.device)
        for tile, cached in zip(self.plan.tiles, self._content, strict=True):  # pass 2
            ys, xs = tile.pixels()
            piece = x[..., ys, xs].clone().requires_grad_(True)
            with self.compute.autocast():
                features = self.vgg(piece, self.layers)
            surrogate = torch.zeros((), device=x.device)
            for n, d in slopes.items():
                flat = _flat(features[n], tile, n)  # (C, n)
                surrogate = surrogate + ((d @ flat) * flat).sum()
            part = torch.zeros((), device=x.device)
            for n in self.content_layers:
                part = part + (_flat(features[n], tile, n) - cached[n]).pow(2).sum() / self._content_norms[n]
            part = self.content_scale * part
            (tile_grad,) = torch.autograd.grad(surrogate + part, piece)
            grad[..., ys, xs] += tile_grad
            content = content + part.detach()
        return content, style, grad


def tiled_loss_fn(loss: TiledLoss, content: torch.Tensor, tv_weight: float,
                  tv: Callable[[torch.Tensor], torch.Tensor],
                  extra_loss: Callable[[torch.Tensor], torch.Tensor] | None) -> LossFn:
    """loss(x) -> (total, terms) like the untiled one: the network's terms by tiles, TV and
    the extra (temporal) term on the whole x with autograd."""
    loss.set_content(content)

    def loss_of(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        content_term, style_term, grad = loss.evaluate(x)
        network = _Precomputed.apply(x, content_term + style_term, grad)
        terms = {"content": content_term, "style": style_term}
        if tv_weight:
            terms["tv"] = tv_weight * tv(x)
        if extra_loss is not None:
            terms["extra"] = extra_loss(x)
        total = network
        for name, term in terms.items():
            if name not in ("content", "style"):
                total = total + term
        return total, terms

    return loss_of
