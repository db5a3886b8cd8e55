"""The per-image optimizer: Gatys et al. on VGG19, L-BFGS or Adam, coarse to fine.

A :class:`Stylizer` is built once per job (a still image, a video, a webcam session): it
loads the network and computes the style Gram matrices once per output size. Its
:meth:`Stylizer.stylize` is then called per image or per frame with an optional initial
image, an optional extra loss term (the video's temporal loss) and an iteration budget.
Progress leaves through a callback; this module never prints.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import StyleConfig, auto_scales, check_number, check_whole
from ..errors import BadInput, BadOption
from . import losses
from .cancel import CancelToken
from .color import keep_luminance, match_color
from .devices import Compute, free_memory, prepare, resolve_compute
from .gatys import NetworkLoss
from .lbfgs import LBFGS, Curvature
from .tensors import frame_to_tensor, resize_frame, resize_tensor
from .tiles import TiledLoss, TilePlan, held_memory, memory_budget, plan_tiles, tiled_bytes, tiled_grams, tiled_loss_fn
from .vgg import VGG19Features, load_vgg19, training_bytes

FIRST_STEP_PER_PIXEL = 0.01  # mean |Δpixel| of the first L-BFGS step, in [0, 1] units
LBFGS_HISTORY = 50  # curvature pairs L-BFGS keeps: 2 image-sized float32 vectors each
# VGG19 pools four times before relu5_1: a picture thinner than 2**4 px has no pixel left
# there (max_pool2d fails at 15 px, works at 16: measured)
MIN_NETWORK_SIDE = 16
IMAGE_BUFFERS = 12  # image-sized float32 tensors besides those: content, init, gradients, temporal target...

ExtraLoss = Callable[[torch.Tensor], torch.Tensor]
"""Maps the image being optimized, (1, 3, H, W), to a weighted scalar loss term."""


@dataclass(frozen=True)
class Progress:
    """One report from the optimizer: sent after every loss evaluation.

    The loss values stay on the device until :attr:`loss` or :attr:`terms` is read: a
    callback that only counts iterations (a frame bar, a deadline) costs no host
    synchronisation per evaluation, which on a GPU would stall the queue of kernels.
    """

    iteration: int  # optimizer steps done at this scale
    iterations: int  # steps planned at this scale
    scale: int  # 1-based index of the current scale
    scales: int
    elapsed: float  # seconds since this stylize() call began
    loss_tensor: torch.Tensor = field(repr=False)  # () weighted total, on the device, detached
    term_tensors: dict[str, torch.Tensor] = field(repr=False)  # weighted terms: content, style, tv, extra
    tiles: int = 0  # tiles the network's terms are evaluated in at this scale; 0: the whole picture
    # this evaluation's network work in full-frame evaluations (FLOP-weighted, engine/cost.py):
    # 1 for the whole picture at full size, its area's share at a coarser scale or on a crop
    cost: float = 1.0
    # what the evaluation was for: "whole" (the picture), "forward" (a pass without gradient),
    # "crop" (a crop around new or changed ground), "detail" (the first layers, for sharpness)
    kind: str = "whole"

    @property
    def loss(self) -> float:
        """The weighted total (reading it waits for the device)."""
        return float(self.loss_tensor)

    @property
    def terms(self) -> dict[str, float]:
        """The weighted terms by name (reading them waits for the device)."""
        return {name: float(value) for name, value in self.term_tensors.items()}


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class EarlyStop:
    """End an L-BFGS pass once its loss stops falling; the pass's budget is then a ceiling.

    After each iteration k >= ``min_iterations`` the pass ends when the loss fell by less
    than ``decrease`` of its value over that iteration: (L[k-1] - L[k]) / L[k] < decrease.
    The decision reads only the loss values, so the same start gives the same stop.
    """

    decrease: float  # relative decrease per iteration below which the pass ends
    min_iterations: int = 1

    def __post_init__(self) -> None:
        check_number("early stop decrease", self.decrease, at_least=0)
        check_whole("early stop min_iterations", self.min_iterations, at_least=1)

    def done(self, losses: Sequence[float]) -> bool:
        """Whether to stop, given the loss at the start and after each iteration so far."""
        if len(losses) - 1 < self.min_iterations:
            return False
        before, now = losses[-2], losses[-1]
        return not now > 0 or (before - now) < self.decrease * now


@dataclass(frozen=True)
class Style:
    """A style image, (H, W, 3) uint8 RGB, and its blend weight."""

    image: np.ndarray
    weight: float = 1.0


@dataclass(frozen=True, eq=False)
class Look:
    """What one picture is optimized towards when it is not the Stylizer's fixed blend (a
    schedule, a region mask): see ``engine/looks.py``.

    ``weights``: blend weights over the Stylizer's styles (None: their own weights);
    ``style_weight``: the style loss weight (None: the config's); ``mask``: (H, W) float32 in
    [0, 1], any size (resized to each scale): white takes style 0 and black style 1, or with
    one style black has no style loss (Gatys et al. 2017's per-region Grams).
    """

    weights: tuple[float, ...] | None = None
    style_weight: float | None = None
    mask: np.ndarray | None = None


BLEND_CACHE = 8  # blended targets kept per Stylizer: a transition makes a new blend each frame


class Stylizer:
    """Gatys et al. style transfer with fixed styles and settings.

    ``styles`` are style images (uint8 RGB) or :class:`Style` with blend weights.
    ``color_reference`` (uint8 RGB) is the picture whose colours ``preserve_colors``
    keeps when matching the styles' colours; by default the first content stylized.
    ``cancel`` stops any call at its next loss evaluation (raising :class:`Cancelled`).
    """

    def __init__(self, styles: Sequence[np.ndarray | Style], config: StyleConfig | None = None,
                 *, compute: Compute | None = None, color_reference: np.ndarray | None = None,
                 cancel: CancelToken | None = None) -> None:
        self.config = config or StyleConfig()
        self.cancel = cancel  # checked before every loss evaluation
        self.compute = compute or resolve_compute(self.config.device, self.config.precision)
        prepare(self.compute)
        self.styles = [s if isinstance(s, Style) else Style(s) for s in styles]
        if not self.styles:
            raise ValueError("at least one style image is needed")
        for style in self.styles:
            check_number("style blend weight", style.weight, above=0)
        self.vgg: VGG19Features = load_vgg19(self.config.weights, device=self.compute.device,
                                             pooling=self.config.pooling)
        self._color_reference = color_reference
        self._targets: dict[tuple[int, int], dict[str, torch.Tensor]] = {}
        self._style_grams: dict[tuple[int, int], list[dict[str, torch.Tensor]]] = {}
        self._blends: OrderedDict[tuple, dict[str, torch.Tensor]] = OrderedDict()
        self._layer_weights = self.config.layer_weights()
        self._held = held_memory(self.device)  # fixed here, so a job's plan does not drift as it allocates
        # decided once per size for the Stylizer's life: every frame of a job (and a resumed
        # run) evaluates the same way, and the free memory is read once, not per evaluation
        self._plans: dict[tuple[int, int], TilePlan | None] = {}
        self._fits: set[tuple[int, int]] = set()  # sizes check_memory has passed
        self._reserved = 0  # image buffers a caller's own terms hold (see reserve_image_buffers)

    @property
    def device(self) -> torch.device:
        return self.compute.device

    # -- targets ---------------------------------------------------------------------------
    def style_targets(self, height: int, width: int) -> dict[str, torch.Tensor]:
        """Blended Gram matrices {layer: (1, C, C)} for an output of this size (cached)."""
        key = (height, width)
        if key not in self._targets:
            self._targets[key] = self._compute_style_targets(height, width)
        return self._targets[key]

    def _compute_style_targets(self, height: int, width: int) -> dict[str, torch.Tensor]:
        if len(self.styles) == 1:
            return self.style_grams(height, width)[0]
        return self._blend(self.style_grams(height, width), [s.weight for s in self.styles])

    def _blend(self, grams_per_style: list[dict[str, torch.Tensor]], weights: Sequence[float]
               ) -> dict[str, torch.Tensor]:
        used = [(g, w) for g, w in zip(grams_per_style, weights, strict=True) if w > 0]
        return {layer: losses.blend_grams([g[layer] for g, _ in used], [w for _, w in used])
                for layer in self.config.style_layers}

    def style_grams(self, height: int, width: int) -> list[dict[str, torch.Tensor]]:
        """Each style's own Gram matrices {layer: (1, C, C)} for an output of this size (cached)."""
        key = (height, width)
        if key not in self._style_grams:
            grams_per_style = []
            for style in self.styles:
                w, h = self.style_size(style, height, width)
                image = frame_to_tensor(resize_frame(style.image, w, h), self.device)
                if self.config.preserve_colors and self._color_reference is not None:
                    reference = frame_to_tensor(self._color_reference, self.device)
                    image = match_color(image, reference)
                grams_per_style.append(self._grams(image))
            self._style_grams[key] = grams_per_style
        return self._style_grams[key]

    def blended_targets(self, height: int, width: int, weights: Sequence[float]) -> dict[str, torch.Tensor]:
        """The styles' Grams mixed with these weights (one per style), for a scheduled frame;
        the last few blends are kept, so a frame held at one blend computes it once."""
        if len(weights) != len(self.styles):
            raise ValueError(f"{len(weights)} blend weights for {len(self.styles)} styles")
        key = (height, width, tuple(float(w) for w in weights))
        if key in self._blends:
            self._blends.move_to_end(key)
            return self._blends[key]
        targets = self._blend(self.style_grams(height, width), key[2])
        self._blends[key] = targets
        if len(self._blends) > BLEND_CACHE:
            self._blends.popitem(last=False)
        return targets

    def style_size(self, style: Style, height: int, width: int) -> tuple[int, int]:
        """The (width, height) a style image is seen at for an H x W output: its longest side
        ``style_scale`` times the output's, and its shortest at least MIN_NETWORK_SIDE (a
        1000x2 strip is scaled up rather than vanishing in the network's pools)."""
        style_h, style_w = style.image.shape[:2]
        longest = self.config.style_scale * max(height, width)
        scale = max(longest / max(style_w, style_h), MIN_NETWORK_SIDE / min(style_w, style_h))
        return max(MIN_NETWORK_SIDE, round(style_w * scale)), max(MIN_NETWORK_SIDE, round(style_h * scale))

    @torch.no_grad()
    def _grams(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if plan := self._tile_plan(*image.shape[-2:]):  # a style picture too large to run whole
            return tiled_grams(self.vgg, self.compute.dtype, image, self.config.style_layers, plan)
        features = self.vgg(image, self.config.style_layers, dtype=self.compute.dtype)
        return {layer: losses.gram_matrix(f) for layer, f in features.items()}

    @torch.no_grad()
    def style_distance(self, image: torch.Tensor | np.ndarray, *, style: int | None = None,
                       mask: np.ndarray | None = None) -> float:
        """Gram style distance of ``image`` to the (blended) style at the image's size.

        See :func:`losses.style_distance`: mean over the style layers of the relative
        Frobenius distance; computed in float32 for a stable yardstick. ``style``: to that
        one of the styles alone; ``mask`` ((H, W) in [0, 1]): of that region only (its
        Gram per unit of area, as the masked loss sees it).
        """
        x = frame_to_tensor(image, self.device) if isinstance(image, np.ndarray) else image
        h, w = x.shape[-2:]
        targets = self.style_targets(h, w) if style is None else self.style_grams(h, w)[style]
        features = self.vgg(x.float(), self.config.style_layers)
        if mask is None:
            return losses.style_distance(features, targets)
        region = mask_tensor(mask, h, w, self.device)
        dists = [losses.relative_error(losses.masked_gram(features[n], region), t).sqrt().item()
                 for n, t in targets.items()]
        return sum(dists) / len(dists)

    # -- memory ----------------------------------------------------------------------------
    @property
    def image_buffers(self) -> int:
        """Image-sized float32 tensors the memory estimates count besides the network's pass."""
        return IMAGE_BUFFERS + self._reserved

    def reserve_image_buffers(self, count: int) -> None:
        """Count ``count`` more image-sized float32 tensors in every estimate and tile plan
        from now on: what a caller's own whole-picture terms hold (a video frame's warp and
        temporal loss, see ``TemporalStylizer``). The largest reservation holds; plans made
        before are made again."""
        if count > self._reserved:
            self._reserved = count
            self._plans.clear()
            self._fits.clear()

    def memory_needed(self, height: int, width: int) -> int:
        """Rough peak bytes to stylize an H x W picture: the network's forward and backward
        pass (see :func:`vgg.training_bytes`), the optimizer's state and a few image copies;
        when it runs in tiles (see :meth:`_tile_plan`), one tile's pass and the shrunk history."""
        if plan := self._tile_plan(height, width):
            return tiled_bytes(plan, layers=self.config.content_layers + self.config.style_layers,
                               content_layers=self.config.content_layers, image_buffers=self.image_buffers,
                               lbfgs=self.config.optimizer == "lbfgs", itemsize=self._itemsize)
        return self._untiled_memory(height, width)

    def _untiled_memory(self, height: int, width: int) -> int:
        layers = self.config.content_layers + self.config.style_layers
        pixels = 3 * height * width
        vectors = 2 * LBFGS_HISTORY if self.config.optimizer == "lbfgs" else 2
        return training_bytes(height, width, layers) + 4 * pixels * (vectors + self.image_buffers)

    def check_memory(self, height: int, width: int) -> None:
        """Raise BadOption, with the largest size that fits, when an H x W picture needs more
        memory than the device has free, or ``max_memory`` allows (before anything of that
        size is allocated). Once a size has passed, later calls (every frame) return at once."""
        if (height, width) in self._fits:
            return
        free = self._budget()
        need = self.memory_needed(height, width)
        if free is None or need <= free:
            self._check_style_memory(height, width, free)
            self._fits.add((height, width))
            return
        longest = max(height, width)
        fit = int(longest * (free / need) ** 0.5)
        while fit > 16 and self.memory_needed(height * fit // longest, width * fit // longest) > free:
            fit = int(fit * 0.95)
        fit -= fit % 16
        advice = (f"the largest size that fits is about --size {fit}" if fit >= 32
                  else "free some memory or use another --device")
        room = "--max-memory leaves" if self.config.max_memory is not None else "are free"
        raise BadOption(f"--size {longest}: stylizing a {width}x{height} picture needs about {need / 1e9:.1f} GB "
                        f"on {self.device.type} whole (and no tiling of it fits either), and {free / 1e9:.1f} GB "
                        f"{room}; {advice}")

    # -- tiles (see tiles.py) ----------------------------------------------------------------
    def _budget(self) -> int | None:
        return memory_budget(self.config.max_memory, free_memory(self.device), self._held)

    def _tile_plan(self, height: int, width: int) -> TilePlan | None:
        """How an H x W pass is tiled: None (whole) when it fits and no --tile is asked for.
        Planned on the first call for a size and kept (see ``_plans``)."""
        key = (height, width)
        if key not in self._plans:
            cfg = self.config
            self._plans[key] = plan_tiles(
                height, width, tile=cfg.tile, budget=self._budget(), untiled=self._untiled_memory(height, width),
                layers=cfg.content_layers + cfg.style_layers, content_layers=cfg.content_layers,
                image_buffers=self.image_buffers, full_history=LBFGS_HISTORY, lbfgs=cfg.optimizer == "lbfgs",
                itemsize=self._itemsize)
        return self._plans[key]

    @property
    def _itemsize(self) -> int:
        """Bytes per activation of the network's pass (the tiled estimates count in it)."""
        return torch.empty(0, dtype=self.compute.dtype or torch.float32).element_size()

    def _check_style_memory(self, height: int, width: int, free: int | None) -> None:
        """The style images pass through the network once, at :meth:`style_size`: a large
        --style-scale (or a long thin style) is refused here, not by a failed allocation."""
        for number, style in enumerate(self.styles, start=1):
            w, h = self.style_size(style, height, width)
            need = training_bytes(h, w, self.config.style_layers) // 2  # forward only, no gradients
            # a style too large to run whole has its Gram matrices summed over tiles (see _grams)
            if free is not None and need > free and self._tile_plan(h, w) is None:
                which = f"style {number} " if len(self.styles) > 1 else "the style image "
                raise BadOption(f"--style-scale {self.config.style_scale:g}: {which}is seen at {w}x{h} for a "
                                f"{width}x{height} output, which needs about {need / 1e9:.1f} GB on "
                                f"{self.device.type}, and {free / 1e9:.1f} GB are free; use a smaller --style-scale")

    # -- optimization ----------------------------------------------------------------------
    def stylize(self, content: np.ndarray | torch.Tensor, *, init: np.ndarray | torch.Tensor | None = None,
                iterations: int | None = None, extra_loss: ExtraLoss | None = None,
                callback: ProgressCallback | None = None, scales: int | None = None,
                style_layer_scale: Mapping[str, float] | None = None, look: Look | None = None,
                stop: EarlyStop | None = None, curvature: Curvature | None = None) -> torch.Tensor:
        """Stylize ``content`` and return (1, 3, H, W) float32 in [0, 1] on the device.

        ``content`` is uint8 RGB (H, W, 3) or a (1, 3, H, W) tensor in [0, 1]; the output
        has its size. ``init`` is the starting image (any size; resized), default from
        ``config.init``. ``iterations`` overrides ``config.iterations`` for this call and
        applies to every scale. ``extra_loss`` is added at the final (full) scale only.
        ``style_layer_scale`` multiplies the weights of some style layers for this call.
        ``stop`` ends each L-BFGS pass once its loss stops falling (``iterations`` is then the
        most each pass gets); without it every pass runs exactly ``iterations``.
        ``curvature`` carries L-BFGS's curvature pairs into the final pass from an earlier call
        of the same size (then its first step is a quasi-Newton one) and takes that pass's
        pairs out, for the next call.
        ``look``: other targets, strength or a region mask for this call (see :class:`Look`).
        """
        self.check_memory(*(content.shape[:2] if isinstance(content, np.ndarray) else content.shape[-2:]))
        content_t = self._as_tensor(content)
        if self._color_reference is None:
            self._color_reference = (content if isinstance(content, np.ndarray)
                                     else _to_uint8(content_t))
        steps = self.config.iterations if iterations is None else iterations
        sizes = self.scale_sizes(*content_t.shape[-2:], scales=scales)
        x = self._initial_image(content_t, init, *sizes[0])
        start = time.perf_counter()
        for index, (h, w) in enumerate(sizes, start=1):
            final = index == len(sizes)
            x = resize_tensor(x, h, w).clamp(0, 1)
            scaled_content = resize_tensor(content_t, h, w)
            plan = self._tile_plan(h, w)
            report = _Reporter(callback, index, len(sizes), steps, start, tiles=len(plan.tiles) if plan else 0,
                               cost=(h * w) / (sizes[-1][0] * sizes[-1][1]))
            x = self._optimize(x, scaled_content, steps, extra_loss if final else None, report,
                               style_layer_scale or {}, look, stop, curvature if final else None)
        if self.config.preserve_colors:
            x = keep_luminance(x, content_t)
        if not bool(torch.isfinite(x).all()):  # an overflowing loss gives NaN, not a picture
            raise BadOption("the optimization diverged (the loss overflowed to a non-finite value); "
                            "use a smaller --strength or --style-weight, --content-weight, --tv-weight or "
                            "--temporal-weight")
        return x.detach().clamp(0, 1)

    def scale_sizes(self, height: int, width: int, *, scales: int | None = None) -> list[tuple[int, int]]:
        """(h, w) of each pass, coarse to fine; the last is the full size.

        Each coarser pass halves the long side; passes whose long side would fall below
        ``min_scale_size``, or whose short side the network cannot take, are dropped.
        ``scales`` (default ``config.scales``) of 0 picks the count by :func:`config.auto_scales`.
        """
        smallest = self.vgg.min_side(self.config.content_layers + self.config.style_layers)
        if min(height, width) < smallest:
            raise BadInput(f"a {width}x{height} picture is too small for layer "
                           f"{max(self.config.style_layers)}: it needs at least {smallest} px per side; "
                           "use a larger --size or a larger image")
        count = self.config.scales if scales is None else scales
        count = count or auto_scales(max(height, width))
        sizes = []
        for level in reversed(range(count)):
            h, w = round(height * 0.5**level), round(width * 0.5**level)
            if level and (max(h, w) < self.config.min_scale_size or min(h, w) < smallest):
                continue
            sizes.append((h, w))
        return sizes

    def _as_tensor(self, image: np.ndarray | torch.Tensor) -> torch.Tensor:
        if isinstance(image, np.ndarray):
            return frame_to_tensor(image, self.device)
        return image.to(self.device, torch.float32)

    def _initial_image(self, content: torch.Tensor, init: np.ndarray | torch.Tensor | None,
                       height: int, width: int) -> torch.Tensor:
        if init is not None:
            return resize_tensor(self._as_tensor(init), height, width)
        if self.config.init == "noise":
            generator = torch.Generator().manual_seed(self.config.seed or 0)
            return torch.rand(1, 3, height, width, generator=generator).to(self.device)
        return resize_tensor(content, height, width)

    def _loss_fn(self, content: torch.Tensor, extra_loss: ExtraLoss | None, layer_scale: Mapping[str, float],
                 look: Look | None = None) -> Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        """Build loss(x) for one scale: content features and style targets computed once."""
        cfg = self.config
        height, width = content.shape[-2:]
        layer_weights = {n: w * layer_scale.get(n, 1.0) for n, w in self._layer_weights.items()}
        look = look or Look()
        targets = (self.style_targets(height, width) if look.weights is None
                   else self.blended_targets(height, width, look.weights))
        style_weight = cfg.effective_style_weight if look.style_weight is None else look.style_weight
        regions = None if look.mask is None else self._regions(look.mask, height, width)
        dtype = self.compute.dtype
        content_weights: dict[str, float] = {}
        for name in cfg.content_layers:
            content_weights[name] = content_weights.get(name, 0.0) + cfg.content_weight / len(cfg.content_layers)
        style_weights = {n: style_weight * w for n, w in layer_weights.items()}
        if plan := self._tile_plan(height, width):  # too large to run whole: see tiles.py
            if regions is not None:
                raise BadOption(f"--mask: a {width}x{height} picture is stylized in tiles here (--tile, or too little "
                                "memory for it whole), and masks do not work in tiles yet; use a smaller --size")
            tiled = TiledLoss(self.vgg, dtype, plan, content_weights=content_weights, style_weights=style_weights,
                              targets=targets)
            return tiled_loss_fn(tiled, content, cfg.tv_weight, extra_loss)
        with torch.no_grad():
            content_features = self.vgg(content, cfg.content_layers, dtype=dtype)
        network = NetworkLoss(self.vgg, dtype, content_features=content_features, content_weights=content_weights,
                              targets=targets, style_weights=style_weights, regions=regions)

        def loss_of(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            content_term, style_term = network(x)
            terms: dict[str, torch.Tensor] = {"content": content_term, "style": style_term}
            if cfg.tv_weight:
                terms["tv"] = cfg.tv_weight * losses.total_variation(x)
            if extra_loss is not None:
                terms["extra"] = extra_loss(x)
            total = torch.zeros((), device=x.device)
            for term in terms.values():
                total = total + term
            return total, terms

        return loss_of

    def _regions(self, mask: np.ndarray, height: int, width: int) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        """(region mask (1, 1, H, W), its style's Grams) per region: white takes style 0, black
        style 1; with one style, black has none."""
        grams = self.style_grams(height, width)
        white = mask_tensor(mask, height, width, self.device)
        if len(self.styles) == 1:
            return [(white, grams[0])]
        if len(self.styles) != 2:
            raise BadOption(f"--mask: give one or two styles with a mask, not {len(self.styles)}")
        return [(white, grams[0]), (1 - white, grams[1])]

    def _optimize(self, x0: torch.Tensor, content: torch.Tensor, steps: int, extra_loss: ExtraLoss | None,
                  report: _Reporter, layer_scale: Mapping[str, float], look: Look | None = None,
                  stop: EarlyStop | None = None, curvature: Curvature | None = None) -> torch.Tensor:
        x = x0.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
        if steps == 0:
            return x.detach()
        loss_of = self._loss_fn(content, extra_loss, layer_scale, look)
        if self.config.optimizer == "adam":
            adam = torch.optim.Adam([x], lr=self.config.learning_rate)
            for step in range(1, steps + 1):
                if self.cancel is not None:
                    self.cancel.check()
                adam.zero_grad(set_to_none=True)
                loss, terms = loss_of(x)
                loss.backward()
                adam.step()
                report(step, loss, terms)
            return x.detach()
        # L-BFGS with a strong-Wolfe line search (engine/lbfgs.py: torch's algorithm, one
        # read-back per evaluation). Torch's first step is 1/‖g‖₁, which on [0, 1] pixels
        # moves each pixel by ~1e-6 and costs the line search ~10 evaluations to
        # extrapolate; the first iteration here instead gets a step moving the average
        # pixel by FIRST_STEP_PER_PIXEL (lr · 1/‖g‖₁ with lr = that · numel). Later
        # iterations use the quasi-Newton scale (lr = 1), and each line search's last
        # evaluation starts the next iteration. Tolerances are 0: the budget, not a
        # threshold, decides when to stop, which keeps per-frame time predictable.
        def evaluate(iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
            if self.cancel is not None:
                self.cancel.check()
            x.grad = None
            with torch.enable_grad():
                loss, terms = loss_of(x)
                loss.backward()
            report(iteration, loss, terms)
            assert x.grad is not None
            return loss.detach(), x.grad.view(-1)

        plan = self._tile_plan(*x.shape[-2:])
        with torch.no_grad():
            lbfgs = LBFGS(x, evaluate, history=plan.history if plan else LBFGS_HISTORY,
                          curvature=curvature)
            done = stop.done if stop else None
            if lbfgs.carried:  # the pairs give the step its scale from the first iteration on
                lbfgs.run(steps, 1.0, _max_evals(steps), stop=done)
            else:
                lbfgs.run(1, FIRST_STEP_PER_PIXEL * x.numel(), _max_evals(1))
                if steps > 1:
                    lbfgs.run(steps - 1, 1.0, _max_evals(steps - 1), stop=done)
        return x.detach()


def mask_tensor(mask: np.ndarray, height: int, width: int, device: torch.device) -> torch.Tensor:
    """An (h, w) mask in [0, 1] as (1, 1, height, width) float32 on ``device``: averaged over
    each output pixel's area when it shrinks, bilinear when it grows."""
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None].to(device)
    if m.shape[-2:] != (height, width):
        if m.shape[-2] >= height and m.shape[-1] >= width:
            m = torch.nn.functional.adaptive_avg_pool2d(m, (height, width))
        else:
            m = torch.nn.functional.interpolate(m, size=(height, width), mode="bilinear", align_corners=False)
    return m.clamp(0, 1)


def _max_evals(iterations: int) -> int:
    """Evaluations one budget of L-BFGS iterations may use (torch's max_eval default)."""
    return iterations * 5 // 4 + 5


class _Reporter:
    """Turns (step, loss, terms) into Progress for the user's callback, if any; the loss
    tensors are passed on as they are (no ``float()`` here: see :class:`Progress`)."""

    def __init__(self, callback: ProgressCallback | None, scale: int, scales: int,
                 iterations: int, start: float, *, tiles: int = 0, cost: float = 1.0) -> None:
        self.callback, self.scale, self.scales, self.tiles, self.cost = callback, scale, scales, tiles, cost
        self.iterations, self.start = iterations, start

    def __call__(self, step: int, loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
        if self.callback is None:
            return
        self.callback(Progress(
            iteration=min(step, self.iterations), iterations=self.iterations, scale=self.scale,
            scales=self.scales, elapsed=time.perf_counter() - self.start, loss_tensor=loss.detach(),
            term_tensors={k: v.detach() for k, v in terms.items()}, tiles=self.tiles, cost=self.cost))


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    from .tensors import tensor_to_frame

    return tensor_to_frame(image)
