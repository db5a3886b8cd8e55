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

import contextlib
import dataclasses
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence

import torch

from ..config import StyleConfig, TemporalConfig, human_bytes
from ..errors import BadOption, OutOfMemory, Part, S, VideostyleWarning, allocation_bytes, is_allocation_failure
from ..io import fit_size
from .devices import free_memory, return_freed_memory
from .tiling import HALO, MIN_CORE, Tile, TilePlan, area, cheapest, extent, grid, kept_layers, splittable
from .vgg import LAYER, layers_to

# bytes a pass holds besides its maps: oneDNN's scratchpads, the float32 slice of the image,
# the terms' temporaries (measured: 30-75 MiB over the maps in the table at training_bytes)
PASS_BYTES = 64 * 2**20
# bytes the process gains on its first evaluations that no tensor holds, by the network's
# itemsize: oneDNN's kernels and their cache, which grows with each new input shape (a tile
# shape, a scale, a style's size). Measured on the CPU (RSS after an evaluation at 64 px over
# the RSS with the network loaded, then at each new size): bf16 +71 MiB, then +12-23 MiB per
# new size; fp32 +28 MiB, then +5-9 MiB. Counted for about six shapes.
RUNTIME_BYTES = {2: 160 * 2**20, 4: 80 * 2**20}
# Image-sized float32 tensors besides the network's pass and the L-BFGS history, whole.
# Counted in a run (512x384, whole and in 128 px tiles, bf16; the live tensors gc finds after
# each evaluation, the curvature pairs aside): 5, the image, its gradient, L-BFGS's
# direction, its line search's start and a gradient of its bracket (before: 8, with the image
# copied for the optimizer, the previous gradient copied and the content kept to the end).
# Counted besides: the gradient an evaluation assembles, the bracket's other gradient, and
# whole, TV's autograd temporaries and their gradient.
IMAGE_BUFFERS = 9
STYLE_BUFFERS = 2  # image-sized float32 tensors of a style image's Gram pass: the image, its colour-matched copy
COSTLY_OVERLAP = 1 / 3  # share of the tiles' work that is their halos, above which a plan's cost is told before work
MIN_SIDE = 16  # px: VGG19 pools four times before relu5_1 (targets.MIN_NETWORK_SIDE)
MIN_HISTORY = 3  # L-BFGS curvature pairs kept at the least under a tight budget
HISTORY_SLACK = 1.1  # more network work (pixels run) a longer L-BFGS history may cost
# share of the budget a tiled plan fills, for what the model does not see (the heap's small
# blocks, Python's objects). A limit returns freed memory (devices.return_freed_memory):
# before, freed blocks were kept and tiles of several shapes left holes the next shape did
# not fit, and a 4096x3072 run planned to 100% reached the 4 GB limit before its first
# evaluation even at 0.85 of it
ALLOCATOR_SLACK = 0.9
# image-sized float32 tensors of the untiled count (IMAGE_BUFFERS) tiling does not allocate:
# TV's autograd temporaries (TV is by hand there)
TILED_BUFFERS = -2
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
    (4: float32, 2: bfloat16).

    The pass keeps each ReLU's output (also the next conv's or pool's input), each pooled
    map and each max pool's int64 indices; its peak is all of that at the end of the forward,
    plus a quarter of the largest map and :data:`PASS_BYTES`. Measured peak RSS of one
    evaluation over what the process held before (CPU, torch 2.13, freed memory returned:
    ``devices.return_freed_memory``), against this formula:

        pass (default layers)            fp32 measured / formula   bf16 measured / formula
        whole 512x384                    0.31 / 0.35 GiB           0.19 / 0.23 GiB
        whole 1024x768                   1.18 / 1.23 GiB           0.69 / 0.73 GiB
        tile 416x400 (of 1536x1152)      0.29 / 0.31 GiB           0.21 / 0.20 GiB
        tile 672x544                     0.58 / 0.61 GiB           0.37 / 0.38 GiB
        tile 848x656                     0.86 / 0.89 GiB           0.51 / 0.54 GiB

    (a tile's figure includes the image-sized gradient it adds into). The formula before,
    which counted three of the largest maps in flight, said 1.69 GiB for the whole 1024x768
    pass: 43% over, so tiles were planned smaller than they needed to be.
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
    return itemsize * kept + 8 * indices + itemsize * largest // 4 + PASS_BYTES


def forward_bytes(height: int, width: int, layers: Sequence[str], itemsize: int = 4) -> int:
    """Rough peak bytes of the Gram pass on an H x W tile: the input, its normalized copy,
    at each convolution its input and output (nothing else is kept), and :data:`PASS_BYTES`.
    Measured on whole pictures as above: 0.87 / 0.95 GiB at 1536x1152 in fp32, 0.51 / 0.52 GiB
    in bf16, 0.90 / 0.88 GiB at 2048x1536 in bf16 (with the image-sized gradient)."""
    largest = max((layer.positions(height, width) * (layer.channels + layer.in_channels)
                   for layer in layers_to(layers) if layer.kind == "conv"), default=0)
    return 2 * 4 * 3 * height * width + itemsize * largest + PASS_BYTES


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
                  lbfgs: bool, itemsize: int = 4) -> int:
    """Rough peak bytes of a whole-picture run: the network's forward and backward pass (its
    maps ``itemsize`` bytes each), the optimizer's history and the image-sized buffers."""
    vectors = 2 * history if lbfgs else 2
    return (training_bytes(height, width, layers, itemsize=itemsize) + RUNTIME_BYTES[itemsize]
            + 4 * 3 * height * width * (vectors + image_buffers))


def _fixed_bytes(height: int, width: int, history: int, *, content_layers: Sequence[str], image_buffers: int,
                 lbfgs: bool, itemsize: int) -> int:
    vectors = (2 * history if lbfgs else 2) + image_buffers + TILED_BUFFERS
    return (content_cache_bytes(height, width, content_layers, itemsize) + RUNTIME_BYTES[itemsize]
            + 4 * 3 * height * width * vectors)


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
        self._style_plans: dict[tuple[int, int], TilePlan | None] = {}
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
            self._style_plans.clear()
            self._fits.clear()

    def budget(self) -> int | None:
        """Bytes the job may allocate now (None: unknown): see :func:`memory_budget`."""
        return memory_budget(self.config.max_memory, free_memory(self.device), self.held)

    def untiled(self, height: int, width: int) -> int:
        """Rough peak bytes to stylize an H x W picture whole (:func:`untiled_bytes`)."""
        return untiled_bytes(height, width, layers=self.layers, image_buffers=self.image_buffers,
                             history=self.history, lbfgs=self.lbfgs, itemsize=self.itemsize)

    def needed(self, height: int, width: int) -> int:
        """Rough peak bytes to stylize an H x W picture: whole, or with its tile plan's one
        tile's pass and shrunk history (:func:`tiled_bytes`)."""
        if plan := self.plan(height, width):
            return tiled_bytes(plan, layers=self.layers, content_layers=self.config.content_layers,
                               image_buffers=self.image_buffers, lbfgs=self.lbfgs, itemsize=self.itemsize)
        return self.untiled(height, width)

    def plan(self, height: int, width: int) -> TilePlan | None:
        """How an H x W pass is tiled: None (whole) when it fits and no tile size is asked
        for (:func:`plan_tiles`). Planned on the first call for a size and kept. A job that
        tiles is short of memory: from then on the CPU's freed memory goes back to the system
        (``devices.return_freed_memory``), so that the heap's holes do not add to its peak."""
        key = (height, width)
        if key not in self._plans:
            cfg = self.config
            self._plans[key] = plan_tiles(
                height, width, tile=cfg.tile, budget=self.budget(), untiled=self.untiled(height, width),
                layers=self.layers, content_layers=cfg.content_layers, image_buffers=self.image_buffers,
                full_history=self.history, lbfgs=self.lbfgs, itemsize=self.itemsize)
            if self._plans[key] is not None and self.device.type == "cpu":
                return_freed_memory()
        return self._plans[key]

    # -- the styles ---------------------------------------------------------------------------
    def style_plan(self, height: int, width: int) -> TilePlan | None:
        """How a style image seen at H x W has its Gram matrices taken (a forward pass, no
        tape): whole (None), or summed over the tiles of a plan's Gram pass when that does not
        fit; None too when no tiling fits (:meth:`style_needed` then says more than there is)."""
        key = (height, width)
        if key not in self._style_plans:
            budget, found = self.budget(), None
            if budget is not None and self._style_bytes(height, width, (height, width)) > budget:
                left = int(budget * ALLOCATOR_SLACK) - self._style_bytes(height, width, (0, 0))
                layers = self.config.style_layers
                tiles = cheapest(height, width, HALO, lambda h, w: forward_bytes(h, w, layers, self.itemsize) <= left,
                                 several=True)
                if tiles is not None:
                    core = max(max(t.y1 - t.y0, t.x1 - t.x0) for t in tiles)
                    found = TilePlan(height, width, core, HALO, 0, tiles)
                    if self.device.type == "cpu":
                        return_freed_memory()
            self._style_plans[key] = found
        return self._style_plans[key]

    def style_needed(self, height: int, width: int) -> int:
        """Rough peak bytes of taking the Gram matrices of a style image seen at H x W, whole or
        in its :meth:`style_plan`'s tiles."""
        plan = self.style_plan(height, width)
        return self._style_bytes(height, width, plan.extent if plan else (height, width))

    def _style_bytes(self, height: int, width: int, tile: tuple[int, int]) -> int:
        """The style image resized (uint8), as float32 and colour-matched (STYLE_BUFFERS), and the
        Gram pass's forward over a tile of (h, w) ((0, 0): none)."""
        image = 3 * height * width + 4 * 3 * height * width * STYLE_BUFFERS + RUNTIME_BYTES[self.itemsize]
        return image + (forward_bytes(*tile, self.config.style_layers, self.itemsize) if all(tile) else 0)

    # -- the checks ---------------------------------------------------------------------------
    def check(self, height: int, width: int,
              styles: Callable[[int, int], Sequence[tuple[int, int]]] | None = None) -> None:
        """Raise BadOption when an H x W picture needs more memory than the device has free,
        or ``max_memory`` allows, naming the largest size that fits (:meth:`largest`); and
        when a style image, seen at the (width, height) ``styles(H, W)`` gives, does. A size
        that fits only in tiles whose overlap is much of the work gets a warning that says
        what the limit costs. Once a size has passed, later calls (every frame) return at once."""
        if (height, width) in self._fits:
            return
        free = self.budget()
        need = self.needed(height, width)
        if free is None or need <= free:
            self._check_styles(height, width, styles(height, width) if styles else (), free)
            self._fits.add((height, width))
            self._say_cost(height, width)
            return
        longest = max(height, width)
        if self.plan(height, width) is None:  # no tiling fits: what the smallest tiles need
            least = TilePlan(height, width, MIN_CORE, HALO, MIN_HISTORY, grid(height, width, MIN_CORE, HALO))
            need = tiled_bytes(least, layers=self.layers, content_layers=self.config.content_layers,
                               image_buffers=self.image_buffers, lbfgs=self.lbfgs, itemsize=self.itemsize)
        fit = self.largest(height, width, styles)
        advice = (("the largest size that fits is ", S.size, f" {fit}") if fit is not None
                  else ("free some memory or use another ", S.device))
        limit = self.config.max_memory
        room: tuple = ((S.max_memory, f" {human_bytes(limit)} leaves {human_bytes(free) if free else 'nothing'} "
                        f"beside the {human_bytes(self.held)} this process holds") if limit is not None
                       else (f"{human_bytes(free)} are free",))
        raise BadOption(S.size, f" {longest}: stylizing a {width}x{height} picture needs about {human_bytes(need)} "
                        f"on {self.device.type} even in tiles, and ", *room, "; ", *advice)

    def fits(self, height: int, width: int,
             styles: Callable[[int, int], Sequence[tuple[int, int]]] | None = None) -> bool:
        """Whether an H x W picture (and its style images) passes :meth:`check`, tiled as needed."""
        free = self.budget()
        if free is None:
            return True
        if self.needed(height, width) > free:
            return False
        return all(self._style_fits(height, width, style, free) for style in (styles(height, width) if styles else ()))

    def largest(self, height: int, width: int,
                styles: Callable[[int, int], Sequence[tuple[int, int]]] | None = None) -> int | None:
        """The longest side of the largest picture of H x W's shape that fits (:meth:`fits`),
        sized as ``--size`` sizes it (``io.fit_size``), tiles counted; None when none does.

        A binary search: what a size needs grows with it (its image-sized buffers do, and a
        tile's pass is bounded by the tile), so one size fitting means the smaller ones do.
        """
        def fits(longest: int) -> bool:
            w, h = fit_size(width, height, longest)
            return min(w, h) >= MIN_SIDE and self.fits(h, w, styles)

        low = math.ceil(MIN_SIDE * max(height, width) / min(height, width))  # the short side at MIN_SIDE
        while min(fit_size(width, height, low)) < MIN_SIDE:
            low += 1
        high = max(height, width) - 1
        if low > high or not fits(low):
            return None
        while low < high:
            middle = (low + high + 1) // 2
            if fits(middle):
                low = middle
            else:
                high = middle - 1
        return low

    def _style_fits(self, height: int, width: int, style: tuple[int, int], free: int) -> bool:
        """Whether a style image seen at ``style`` (width, height) fits ``free`` beside an H x W content."""
        w, h = style
        return self.style_needed(h, w) + _content_held(height, width) <= free

    def _say_cost(self, height: int, width: int) -> None:
        """Warn, before any work, when the tiles an H x W picture needs overlap so much that
        most of the network's work is their halos: what the limit costs."""
        plan = self.plan(height, width)
        if plan is None or self.config.tile is not None or plan.overlap <= COSTLY_OVERLAP:
            return
        budget = self.budget()
        within = f" within {human_bytes(budget)}" if budget is not None else ""
        warnings.warn(VideostyleWarning(
            f"a {width}x{height} picture runs in {len(plan.tiles)} tiles{within}: {plan.overlap:.0%} of the "
            f"network's work is their overlap, about {work_ratio(plan):.1f}x its work on the whole picture; "
            f"more memory or a smaller size is faster"), stacklevel=3)

    def _check_styles(self, height: int, width: int, styles: Sequence[tuple[int, int]], free: int | None) -> None:
        """The style images pass through the network once, at their own sizes (in tiles when
        they do not fit whole): a large style scale (or a long thin style) is refused here,
        not by a failed allocation. The content's image and result are held meanwhile."""
        for number, (w, h) in enumerate(styles, start=1):
            if free is None or self._style_fits(height, width, (w, h), free):
                continue
            # no tiling fits: the least it needs is the style image itself beside the smallest tiles
            need = self._style_bytes(h, w, (MIN_CORE + 2 * HALO,) * 2) + _content_held(height, width)
            which = f"style {number} " if len(styles) > 1 else "the style image "
            raise BadOption(S.style_scale, f" {self.config.style_scale:g}: {which}is seen at {w}x{h} for a "
                            f"{width}x{height} output, which needs more than {human_bytes(need)} on "
                            f"{self.device.type} even in tiles, and {human_bytes(free)} are free; use a smaller ",
                            S.style_scale)


def _content_held(height: int, width: int) -> int:
    """Bytes an H x W content's image and result hold while its style images' Grams are taken."""
    return 2 * 4 * 3 * height * width


@contextlib.contextmanager
def allocation_failures(what: str, *advice: Part) -> Iterator[None]:
    """Turn a failed allocation inside the block (MemoryError, torch's RuntimeError saying so)
    into one :class:`OutOfMemory` line: ``ran out of memory {what} (...); {advice}``."""
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        if not is_allocation_failure(exc):
            raise
        asked = allocation_bytes(exc)
        size = f" (an allocation of {human_bytes(asked)} failed)" if asked else ""
        raise OutOfMemory(f"ran out of memory {what}{size}; ", *advice) from None


def work_ratio(plan: TilePlan) -> float:
    """The network's work in one evaluation of ``plan`` over its work on the whole picture:
    the Gram pass's forward, the gradient pass's forward (up to the split) and backward, in
    pixels run, halos included, over a forward and a backward of the picture."""
    work = area(plan.first_pass) + area(plan.tiles) * (2 - _AFTER[plan.split])
    return work / (2 * plan.height * plan.width)
