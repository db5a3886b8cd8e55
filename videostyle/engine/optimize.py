"""The per-image optimizer: Gatys et al. on VGG19, L-BFGS or Adam, coarse to fine.

A :class:`Stylizer` is built once per job (a still image, a video, a webcam session): it
loads the network, and holds the job's style targets (``targets.py``, Grams computed once
per output size) and memory model (``memory.py``, each size planned once). Its
:meth:`Stylizer.stylize` is then called per image or per frame with an optional initial
image, an optional extra loss term (the video's temporal loss) and an iteration budget,
and runs the passes: coarse to fine, each minimizing that scale's loss (``objective.py``).
Progress leaves through a callback; this module never prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import StyleConfig, auto_scales, check_number, check_whole
from ..errors import BadInput, BadOption, S
from .cancel import CancelToken
from .color import keep_luminance
from .devices import Compute, prepare, resolve_compute
from .lbfgs import LBFGS, Curvature
from .memory import MemoryModel, allocation_failures
from .objective import ExtraLoss, LossFn, scale_loss
from .targets import FrameTargets, Style, StyleTargets, as_styles
from .tensors import frame_to_tensor, resize_tensor, tensor_to_frame
from .vgg import VGG19Features, load_vgg19

FIRST_STEP_PER_PIXEL = 0.01  # mean |Δpixel| of the first L-BFGS step, in [0, 1] units
LBFGS_HISTORY = 50  # curvature pairs L-BFGS keeps: 2 image-sized float32 vectors each
# L-BFGS evaluations per iteration: 5 over 4 iterations at 1024x768 (scripts/bench_tiles.py
# run), the line search's extra evaluations being mostly early ones
EVALUATIONS_PER_ITERATION = 1.25


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
    # this evaluation's network work in full-frame-equivalent evaluations (FLOP-weighted, see
    # engine/partial.evaluation_share): 1 for the whole picture at full size, its area's share at
    # a coarser scale or on a crop
    cost: float = 1.0
    # what the evaluation was for: "whole" (the picture), "forward" (a pass without gradient:
    # statistics, content features) or "crop" (a crop around ground that needs work; engine/changed.py)
    kind: str = "whole"
    # a report sent while a tiled evaluation runs, after each tile pass (its loss is the last
    # evaluation's): the passes done of the evaluation under way, of tile_passes (the Gram
    # pass's tiles and the gradient pass's); 0 in a report after an evaluation
    tile: int = 0
    tile_passes: int = 0
    # what those tile passes are of: "loss" (an evaluation's, as above) or "style" (a style
    # image too large to run whole having its Gram matrices taken, before the first evaluation:
    # tile_passes is then that image's tiles)
    stage: str = "loss"
    # seconds per iteration at this scale so far (evaluations times EVALUATIONS_PER_ITERATION),
    # from the tiles done while the first evaluation runs; None before anything is timed
    seconds_per_iteration: float | None = None

    @property
    def partial(self) -> bool:
        """A report from inside an evaluation (after a tile pass), not after one."""
        return self.tile > 0

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


class Stylizer:
    """Gatys et al. style transfer with fixed styles and settings: the optimization passes.

    ``styles`` are style images (uint8 RGB) or :class:`Style` with blend weights.
    ``color_reference`` (uint8 RGB) is the picture whose colours ``preserve_colors``
    keeps when matching the styles' colours; by default the first content stylized.
    ``cancel`` stops any call at its next loss evaluation (raising :class:`Cancelled`).
    What the pictures are optimized towards is :attr:`targets` (``targets.py``), what they
    need of memory and how they are tiled :attr:`memory` (``memory.py``), and the loss at
    each scale ``objective.py``'s.
    """

    def __init__(self, styles: Sequence[np.ndarray | Style], config: StyleConfig | None = None,
                 *, compute: Compute | None = None, color_reference: np.ndarray | None = None,
                 cancel: CancelToken | None = None) -> None:
        self.config = config or StyleConfig()
        self.cancel = cancel  # checked before every loss evaluation
        self.compute = compute or resolve_compute(self.config.device, self.config.precision)
        prepare(self.compute, bounded=self.config.max_memory is not None)
        checked = as_styles(styles)
        self.vgg: VGG19Features = load_vgg19(self.config.weights, device=self.compute.device,
                                             pooling=self.config.pooling)
        self.memory = MemoryModel(self.config, self.device, self.compute.dtype, history=LBFGS_HISTORY)
        self.targets = StyleTargets(checked, self.config, self.vgg, dtype=self.compute.dtype, device=self.device,
                                    plan=self.memory.style_plan, color_reference=color_reference)
        self._layer_weights = self.config.layer_weights()

    @property
    def device(self) -> torch.device:
        return self.compute.device

    @property
    def styles(self) -> list[Style]:
        return self.targets.styles

    def check_memory(self, height: int, width: int) -> None:
        """Refuse, before anything of that size is allocated, an H x W picture (or its style
        images) that needs more memory than there is (see :meth:`MemoryModel.check`)."""
        self.memory.check(height, width, self.targets.sizes)

    def reserve_image_buffers(self, count: int) -> None:
        """Count ``count`` more image-sized tensors in every memory estimate (see :meth:`MemoryModel.reserve`)."""
        self.memory.reserve(count)

    def style_distance(self, image: torch.Tensor | np.ndarray, *, style: int | None = None,
                       mask: np.ndarray | None = None) -> float:
        """Gram style distance of ``image`` to the (blended) style at its size (see :meth:`StyleTargets.distance`)."""
        return self.targets.distance(image, style=style, mask=mask)

    # -- optimization ----------------------------------------------------------------------
    def stylize(self, content: np.ndarray | torch.Tensor, *, init: np.ndarray | torch.Tensor | None = None,
                iterations: int | None = None, extra_loss: ExtraLoss | None = None,
                callback: ProgressCallback | None = None, scales: int | None = None,
                style_layer_scale: Mapping[str, float] | None = None, targets: FrameTargets | None = None,
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
        ``targets``: another blend, strength or a region mask for this call (see :class:`FrameTargets`).
        """
        height, width = content.shape[:2] if isinstance(content, np.ndarray) else content.shape[-2:]
        self.check_memory(height, width)
        with allocation_failures(f"stylizing a {width}x{height} picture", "use a smaller ", S.size, ", or a ",
                                 S.max_memory, " below what this machine has free (larger pictures then run in tiles)"):
            return self._stylize(content, init=init, iterations=iterations, extra_loss=extra_loss, callback=callback,
                                 scales=scales, style_layer_scale=style_layer_scale, targets=targets, stop=stop,
                                 curvature=curvature)

    def _stylize(self, content: np.ndarray | torch.Tensor, *, init: np.ndarray | torch.Tensor | None,
                 iterations: int | None, extra_loss: ExtraLoss | None, callback: ProgressCallback | None,
                 scales: int | None, style_layer_scale: Mapping[str, float] | None, targets: FrameTargets | None,
                 stop: EarlyStop | None, curvature: Curvature | None) -> torch.Tensor:
        content_t: torch.Tensor | None = self._as_tensor(content)
        assert content_t is not None
        if self.targets.color_reference is None:
            self.targets.color_reference = (content if isinstance(content, np.ndarray)
                                            else tensor_to_frame(content_t))
        steps = self.config.iterations if iterations is None else iterations
        sizes = self.scale_sizes(*content_t.shape[-2:], scales=scales)
        keep_content = self.config.preserve_colors
        x = self._initial_image(content_t, init, *sizes[0])
        start = time.perf_counter()
        for index, (h, w) in enumerate(sizes, start=1):
            final = index == len(sizes)
            x = resize_tensor(x, h, w).clamp(0, 1)  # a new tensor, optimized in place below
            plan = self.memory.plan(h, w)
            report = _Reporter(callback, index, len(sizes), steps, start, tiles=len(plan.tiles) if plan else 0,
                               cost=(h * w) / (sizes[-1][0] * sizes[-1][1]))
            if steps == 0:
                continue
            self.targets.per_style(h, w, on_tile=report.style_tile)  # taken now (once) for the progress it shows
            assert content_t is not None
            loss_of = self.objective(resize_tensor(content_t, h, w), extra_loss=extra_loss if final else None,
                                     layer_scale=style_layer_scale, targets=targets, on_tile=report.tile)
            if final and not keep_content:
                content_t = None  # the loss holds the content's features: one image-sized tensor less
            x = self._optimize(x, loss_of, steps, report, stop, curvature if final else None)
            del loss_of
        if content_t is not None and keep_content:
            x = keep_luminance(x, content_t)
        if not bool(torch.isfinite(x).all()):  # an overflowing loss gives NaN, not a picture
            raise BadOption("the optimization diverged (the loss overflowed to a non-finite value); use a smaller ",
                            S.strength, " or ", S.style_weight, ", ", S.content_weight, ", ", S.tv_weight, " or ",
                            S.temporal_weight)
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
                           "use a larger ", S.size, " or a larger image")
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

    def objective(self, content: torch.Tensor, *, extra_loss: ExtraLoss | None = None,
                  layer_scale: Mapping[str, float] | None = None, targets: FrameTargets | None = None,
                  on_tile: Callable[[int, int], None] | None = None) -> LossFn:
        """The loss at ``content``'s size (1, 3, H, W): content features and style targets
        computed once, whole or in the memory model's tiles (see ``objective.scale_loss``;
        ``on_tile(done, passes)`` after each tile pass)."""
        cfg = self.config
        height, width = content.shape[-2:]
        layer_scale = layer_scale or {}
        content_weights: dict[str, float] = {}
        for name in cfg.content_layers:
            content_weights[name] = content_weights.get(name, 0.0) + cfg.content_weight / len(cfg.content_layers)
        return scale_loss(self.vgg, self.compute.dtype, content, targets=self.targets.at(height, width, targets),
                          content_weights=content_weights, tv_weight=cfg.tv_weight, extra=extra_loss,
                          layer_weights={n: w * layer_scale.get(n, 1.0) for n, w in self._layer_weights.items()},
                          plan=self.memory.plan(height, width), on_tile=on_tile)

    def _optimize(self, x: torch.Tensor, loss_of: LossFn, steps: int, report: _Reporter,
                  stop: EarlyStop | None = None, curvature: Curvature | None = None) -> torch.Tensor:
        """Minimize ``loss_of`` over ``x`` (1, 3, H, W), a tensor of the caller's own that is
        changed in place (no copy: under a memory limit an image-sized tensor counts)."""
        x = x.detach().contiguous().requires_grad_(True)
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

        plan = self.memory.plan(*x.shape[-2:])
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


def _max_evals(iterations: int) -> int:
    """Evaluations one budget of L-BFGS iterations may use (torch's max_eval default)."""
    return iterations * 5 // 4 + 5


class _Reporter:
    """Turns (step, loss, terms) into Progress for the user's callback, if any; the loss
    tensors are passed on as they are (no ``float()`` here: see :class:`Progress`). Times the
    scale: seconds per evaluation since it began, within the first from the tile passes."""

    def __init__(self, callback: ProgressCallback | None, scale: int, scales: int,
                 iterations: int, start: float, *, tiles: int = 0, cost: float = 1.0) -> None:
        self.callback, self.scale, self.scales, self.tiles, self.cost = callback, scale, scales, tiles, cost
        self.iterations, self.start = iterations, start
        self.began = time.perf_counter()  # this scale's start: its loss's setup is part of its time
        self.evaluations = 0
        self.step = 0
        self.loss: torch.Tensor = torch.zeros(())
        self.terms: dict[str, torch.Tensor] = {}

    def __call__(self, step: int, loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
        self.evaluations += 1
        self.step, self.loss, self.terms = step, loss.detach(), {k: v.detach() for k, v in terms.items()}
        self._send()

    def tile(self, done: int, passes: int) -> None:
        """After a tile pass of the evaluation under way (see ``tiles.TiledLoss.evaluate``)."""
        if done < passes:  # the evaluation's own report follows the last
            self._send(done, passes)

    def style_tile(self, done: int, tiles: int) -> None:
        """After a tile of a style image's Gram pass (``tiles.tiled_grams``): a huge style in
        tens of tiles takes minutes before the first evaluation."""
        self._send(done, tiles, stage="style")

    def _send(self, tile: int = 0, passes: int = 0, stage: str = "loss") -> None:
        if self.callback is None:
            return
        now = time.perf_counter()
        evaluations = self.evaluations + (tile / passes if passes and stage == "loss" else 0)
        per_iteration = ((now - self.began) / evaluations * EVALUATIONS_PER_ITERATION) if evaluations else None
        self.callback(Progress(
            iteration=min(self.step, self.iterations), iterations=self.iterations, scale=self.scale,
            scales=self.scales, elapsed=now - self.start, loss_tensor=self.loss, term_tensors=self.terms,
            tiles=self.tiles, tile=tile, tile_passes=passes if tile else 0, stage=stage,
            seconds_per_iteration=per_iteration, cost=self.cost))
