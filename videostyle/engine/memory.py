"""The one model of memory: what a picture needs (whole or in tiles), the tile plan that
fits a budget, what the process holds, and the checks that refuse a size before any work.
Nothing else in the package counts bytes.

The figures are rough peaks, in bytes, of the network's pass (its activations, from the
layer walk :func:`vgg.layers_to`), the optimizer's history and the image-sized buffers
besides them (the picture, its gradient, the content, a video frame's warp and temporal
target...). A :class:`MemoryModel` holds one job's: its budget is read once and each size
planned once, so every frame of a job (and a resumed run) evaluates the same way.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

import torch

from ..config import StyleConfig, TemporalConfig, human_bytes
from ..errors import BadOption, S
from .devices import free_memory
from .tiling import HALO, MIN_CORE, Tile, TilePlan, area, cheapest, extent, grid, kept_layers, splittable
from .vgg import LAYER, layers_to

IMAGE_BUFFERS = 12  # image-sized float32 tensors besides those: content, init, gradients, temporal target...
MIN_HISTORY = 3  # L-BFGS curvature pairs kept at the least under a tight budget
HISTORY_SLACK = 1.1  # more network work (pixels run) a longer L-BFGS history may cost
# share of the budget a tiled plan fills: the allocator keeps freed blocks (see
# devices.keep_freed_memory), and tiles of several shapes leave holes it cannot reuse; a
# 4096x3072 run planned to 100% reached the 4 GB limit before its first evaluation
ALLOCATOR_SLACK = 0.85
# image-sized float32 tensors tiling adds (the gradient it assembles, a tile's slice), less
# those of the untiled count (IMAGE_BUFFERS) it does not allocate: TV's autograd
# temporaries (TV is by hand there) and the copy of the gradient handed to x.grad
TILED_BUFFERS = 2 - 4
SPLITS = ("pool1", "pool2", "pool3", None)  # shallowest first: the most work saved, the most memory kept
# share of a forward pass after each split, in multiply-adds (relu5_1, the default layers)
_AFTER = {"pool1": 0.89, "pool2": 0.74, "pool3": 0.38, None: 0.0}

# Image-sized float32 tensors a flow-mode video frame holds beside the network's pass, whole:
# the previous result and its warp (OpenCV's maps and output), the reliability mask, the
# blend, the temporal loss's autograd temporaries and gradient. Measured at 3840x2160
# (scripts/bench_video_memory.py): the second frame raised the peak RSS by 1.4-1.7 GiB, 16-18
# of them, which the tile plan did not count until these were reserved: 5.7 GiB under a
# max_memory of 4GB before, 5.9 GiB under 6GB with them (16 or 20) and 4GB refused up front.
# Each long-term offset adds its warp.
TEMPORAL_BUFFERS = 20
LONG_TERM_BUFFERS = 4


def reserved_buffers(config: TemporalConfig) -> int:
    """Image-sized tensors a video frame of this mode holds beside the network's pass (see
    :meth:`MemoryModel.reserve`): none in warm or independent mode."""
    return TEMPORAL_BUFFERS + LONG_TERM_BUFFERS * len(config.long_term) if config.mode == "flow" else 0


# -- bytes ------------------------------------------------------------------------------------
def training_bytes(height: int, width: int, layers: Sequence[str], *, itemsize: int = 4) -> int:
    """Rough peak memory in bytes of one forward and backward pass of a (1, 3, H, W) image
    through VGG19 up to the deepest of ``layers``, its activations ``itemsize`` bytes each
    (4: float32).

    Autograd keeps each ReLU's output (which is also the next conv's or pool's input),
    each pooled map and each max pool's int64 indices; while a layer runs, its output and
    two gradients of the largest size are in flight. Measured on a CPU (torch 2.13): 0.86
    GB at 768x576 with the default layers, fp32; this formula says 1.0 GB.
    """
    kept, indices, largest = 3 * height * width, 0, 0
    for layer in layers_to(layers):
        values = layer.values(height, width)
        if layer.kind == "conv":
            largest = max(largest, values)
        elif layer.kind == "relu":
            kept += values
        else:
            kept += values
            indices += values
    return itemsize * kept + 8 * indices + 3 * itemsize * largest


def forward_bytes(height: int, width: int, layers: Sequence[str], itemsize: int = 4) -> int:
    """Rough peak bytes of the Gram pass on an H x W tile: the input, its normalized copy,
    and at each convolution its input and output (nothing else is kept)."""
    largest = max((layer.positions(height, width) * (layer.channels + layer.in_channels)
                   for layer in layers_to(layers) if layer.kind == "conv"), default=0)
    return 2 * 4 * 3 * height * width + itemsize * largest


def content_cache_bytes(height: int, width: int, content_layers: Sequence[str], itemsize: int = 4) -> int:
    """Bytes of the content's features the tiled loss keeps for the whole picture."""
    return sum(itemsize * LAYER[name].values(height, width) for name in dict.fromkeys(content_layers))


def kept_bytes(height: int, width: int, split: str | None, layers: Sequence[str], itemsize: int = 4) -> int:
    """Bytes of the whole-picture activations kept after ``split``."""
    return sum(itemsize * LAYER[name].values(height, width) for name in kept_layers(split, tuple(layers)))


def tiled_bytes(plan: TilePlan, *, layers: Sequence[str], content_layers: Sequence[str],
                image_buffers: int, lbfgs: bool, itemsize: int = 4) -> int:
    """Rough peak bytes of a tiled run: the larger of one tile's forward and backward and one
    Gram-pass tile's forward, the content's cached features, the image-sized buffers and the
    optimizer's history."""
    return (max(training_bytes(*plan.extent, layers, itemsize=itemsize),
                forward_bytes(*extent(plan.first_pass), layers, itemsize))
            + kept_bytes(plan.height, plan.width, plan.split, layers, itemsize)
            + _fixed_bytes(plan.height, plan.width, plan.history, content_layers=content_layers,
                           image_buffers=image_buffers, lbfgs=lbfgs, itemsize=itemsize))


def untiled_bytes(height: int, width: int, *, layers: Sequence[str], image_buffers: int, history: int,
                  lbfgs: bool) -> int:
    """Rough peak bytes of a whole-picture run: the network's forward and backward pass, the
    optimizer's history and the image-sized buffers."""
    vectors = 2 * history if lbfgs else 2
    return training_bytes(height, width, layers) + 4 * 3 * height * width * (vectors + image_buffers)


def _fixed_bytes(height: int, width: int, history: int, *, content_layers: Sequence[str], image_buffers: int,
                 lbfgs: bool, itemsize: int) -> int:
    vectors = (2 * history if lbfgs else 2) + image_buffers + TILED_BUFFERS
    return content_cache_bytes(height, width, content_layers, itemsize) + 4 * 3 * height * width * vectors


# -- plans ------------------------------------------------------------------------------------
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
        return int(budget * ALLOCATOR_SLACK) - _fixed_bytes(
            height, width, history, content_layers=content_layers, image_buffers=image_buffers, lbfgs=lbfgs,
            itemsize=itemsize)

    def forward_fits(left: int | None) -> Callable[[int, int], bool]:
        return lambda h, w: left is None or forward_bytes(h, w, layers, itemsize) <= left

    def tape_fits(left: int) -> Callable[[int, int], bool]:
        return lambda h, w: training_bytes(h, w, layers, itemsize=itemsize) <= left

    def gram_tiles(left: int | None) -> tuple[Tile, ...]:
        found = cheapest(height, width, halo, forward_fits(left), several=False)
        return found if found is not None else tiles_of(MIN_CORE)

    def tiles_of(core: int) -> tuple[Tile, ...]:
        return grid(height, width, core, halo)

    def make(tiles: tuple[Tile, ...], history: int, left: int | None) -> TilePlan | None:
        if len(tiles) == 1:
            return None  # one tile is the whole picture: the untiled path does the same, faster
        core = max(max(t.y1 - t.y0, t.x1 - t.x0) for t in tiles)
        return TilePlan(height, width, core, halo, history, tiles, gram_tiles(left))

    def tape(tiles: tuple[Tile, ...]) -> int:
        return training_bytes(*extent(tiles), layers, itemsize=itemsize)

    histories = [full_history] + [h for h in (40, 30, 20, 10, 5, MIN_HISTORY) if h < full_history]
    if tile is not None:
        forced = tiles_of(tile)
        for history in histories if lbfgs else [full_history]:
            left = room(history)
            if left is None or tape(forced) <= left or history == histories[-1]:
                split = next(s for s in SPLITS if splittable(s, layers) and (
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
        for split in (s for s in SPLITS if splittable(s, layers)):
            kept = kept_bytes(height, width, split, layers, itemsize)
            if kept >= left:
                continue
            found = cheapest(height, width, halo, tape_fits(left - kept), several=True)
            gram = cheapest(height, width, halo, forward_fits(left - kept), several=False)
            if found is not None and gram is not None:
                # a forward pass and a backward pass cost about the same: the Gram pass's
                # forward, then the gradient pass's forward up to the split and its backward
                work = area(gram) + area(found) * (2 - _AFTER[split])
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


# -- what there is ----------------------------------------------------------------------------
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


# -- one job's ----------------------------------------------------------------------------------
class MemoryModel:
    """One job's memory (a :class:`~videostyle.engine.optimize.Stylizer`'s): what each size
    needs, its tile plan, and the check that refuses a size before anything of it is allocated.

    What the process holds is read when it is built (after the network is loaded), so a job's
    plan does not drift as it allocates; each size is planned on its first use and kept, so
    every frame of a job (and a resumed run) evaluates the same way and the free memory is
    read once, not per evaluation. ``history``: the L-BFGS curvature pairs of an untiled run.
    """

    def __init__(self, config: StyleConfig, device: torch.device, dtype: torch.dtype | None, *,
                 history: int) -> None:
        self.config, self.device, self.history = config, device, history
        self.layers = config.content_layers + config.style_layers
        self.lbfgs = config.optimizer == "lbfgs"
        self.itemsize = torch.empty(0, dtype=dtype or torch.float32).element_size()  # the network's activations
        self.held = held_memory(device)
        self._plans: dict[tuple[int, int], TilePlan | None] = {}
        self._fits: set[tuple[int, int]] = set()  # sizes check() has passed
        self._reserved = 0  # image buffers a caller's own terms hold (see reserve)

    @property
    def image_buffers(self) -> int:
        """Image-sized float32 tensors the estimates count besides the network's pass."""
        return IMAGE_BUFFERS + self._reserved

    def reserve(self, count: int) -> None:
        """Count ``count`` more image-sized float32 tensors in every estimate and tile plan
        from now on: what a caller's own whole-picture terms hold (a video frame's warp and
        temporal loss: :func:`reserved_buffers`). The largest reservation holds; plans made
        before are made again."""
        if count > self._reserved:
            self._reserved = count
            self._plans.clear()
            self._fits.clear()

    def budget(self) -> int | None:
        """Bytes the job may allocate now (None: unknown): see :func:`memory_budget`."""
        return memory_budget(self.config.max_memory, free_memory(self.device), self.held)

    def untiled(self, height: int, width: int) -> int:
        """Rough peak bytes to stylize an H x W picture whole (:func:`untiled_bytes`)."""
        return untiled_bytes(height, width, layers=self.layers, image_buffers=self.image_buffers,
                             history=self.history, lbfgs=self.lbfgs)

    def needed(self, height: int, width: int) -> int:
        """Rough peak bytes to stylize an H x W picture: whole, or with its tile plan's one
        tile's pass and shrunk history (:func:`tiled_bytes`)."""
        if plan := self.plan(height, width):
            return tiled_bytes(plan, layers=self.layers, content_layers=self.config.content_layers,
                               image_buffers=self.image_buffers, lbfgs=self.lbfgs, itemsize=self.itemsize)
        return self.untiled(height, width)

    def plan(self, height: int, width: int) -> TilePlan | None:
        """How an H x W pass is tiled: None (whole) when it fits and no tile size is asked
        for (:func:`plan_tiles`). Planned on the first call for a size and kept."""
        key = (height, width)
        if key not in self._plans:
            cfg = self.config
            self._plans[key] = plan_tiles(
                height, width, tile=cfg.tile, budget=self.budget(), untiled=self.untiled(height, width),
                layers=self.layers, content_layers=cfg.content_layers, image_buffers=self.image_buffers,
                full_history=self.history, lbfgs=self.lbfgs, itemsize=self.itemsize)
        return self._plans[key]

    def check(self, height: int, width: int, styles: Sequence[tuple[int, int]] = ()) -> None:
        """Raise BadOption, with the largest size that fits, when an H x W picture needs more
        memory than the device has free, or ``max_memory`` allows; and when a style image,
        seen at its (width, height) in ``styles``, does. Once a size has passed, later calls
        (every frame) return at once."""
        if (height, width) in self._fits:
            return
        free = self.budget()
        need = self.needed(height, width)
        if free is None or need <= free:
            self._check_styles(height, width, styles, free)
            self._fits.add((height, width))
            return
        longest = max(height, width)
        fit = int(longest * (free / need) ** 0.5)
        while fit > 16 and self.needed(height * fit // longest, width * fit // longest) > free:
            fit = int(fit * 0.95)
        fit -= fit % 16
        advice = (("the largest size that fits is about ", S.size, f" {fit}") if fit >= 32
                  else ("free some memory or use another ", S.device))
        limit = self.config.max_memory
        room: tuple = ((S.max_memory, f" {human_bytes(limit)} leaves {human_bytes(free) if free else 'nothing'} "
                        f"beside the {human_bytes(self.held)} this process holds") if limit is not None
                       else (f"{human_bytes(free)} are free",))
        raise BadOption(S.size, f" {longest}: stylizing a {width}x{height} picture needs about {human_bytes(need)} "
                        f"on {self.device.type} whole (and no tiling of it fits either), and ", *room, "; ", *advice)

    def _check_styles(self, height: int, width: int, styles: Sequence[tuple[int, int]], free: int | None) -> None:
        """The style images pass through the network once, at their own sizes: a large style
        scale (or a long thin style) is refused here, not by a failed allocation."""
        for number, (w, h) in enumerate(styles, start=1):
            need = training_bytes(h, w, self.config.style_layers) // 2  # forward only, no gradients
            # a style too large to run whole has its Gram matrices summed over tiles (see targets.py)
            if free is not None and need > free and self.plan(h, w) is None:
                which = f"style {number} " if len(styles) > 1 else "the style image "
                raise BadOption(S.style_scale, f" {self.config.style_scale:g}: {which}is seen at {w}x{h} for a "
                                f"{width}x{height} output, which needs about {human_bytes(need)} on "
                                f"{self.device.type}, and {human_bytes(free)} are free; use a smaller ",
                                S.style_scale)

