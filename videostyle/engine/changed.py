"""Paint what changed (issue 25): a later frame's work goes where its picture needs it.

A later frame starts from the previous result warped along the flow. Carrying it is exact
where the flow is a whole-pixel shift of unchanged colours: there the warp *serves* the
pixel and nothing is optimized. Elsewhere the pixel needs *work*:

* *new ground* came into view (from outside the picture, or uncovered behind a moving
  subject), or entered over the last few frames (``young_frames``): it starts from the photo
  in the painting's colours (:func:`fill_revealed`) and gets ``new_style`` times the style
  pressure of the rest. With the rest of the picture already painted, the Gram loss barely
  pushes a small new region (its gradient is the *whole* picture's mismatch, which the rest
  already satisfies): new ground then stays close to the photo, flat and grey, as today's
  ``paint="whole"`` leaves it (scripts/bench_changed.py, docs/paint-what-changed.md). A first
  frame paints every pixel while that mismatch is large; the boost gives new ground that push.
* the colour changed (a moving subject), the flow stretches or shears (the subject deforms,
  the camera zooms), or resampling blurs (a sub-pixel shift): the loss is no longer at rest
  there, and a few iterations put it back.

:func:`plan_frame` finds those pixels; :func:`paint_frame` then either optimizes crops around
them, the rest of the picture's Gram statistics held (``partial.py``; work in proportion to
the area), or, when they cover most of the picture (a handheld camera, where everything
moves a fraction of a pixel), the whole frame with the full loss as ``paint="whole"`` runs it,
new ground's boost as a masked Gram term. With ``paint="coarse"`` such a frame is painted
coarse to fine instead (:meth:`_Painter.coarse_fine`): its low frequencies at half size, then a
few full-size iterations through the first layers for the strokes each warp softens, from a
start sharpened where the warp blurred it; about a quarter of the cost. Either way the network's work is reported per
evaluation, FLOP-weighted (``Progress.cost``: a crop counts its share of a whole evaluation).

Nothing here keeps state between frames: a frame depends on the previous result, the flow
and the frame alone, so a resumed job and a Ray worker compute the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch

from ..config import LAYER_NAMES, TILE_ALIGN
from .flow import FlowResult
from .gatys import NetworkLoss
from .lbfgs import LBFGS
from .objective import LossFn, whole_loss
from .optimize import FIRST_STEP_PER_PIXEL, EarlyStop, Progress, ProgressCallback, Stylizer
from .partial import CropLoss, content_norms, crop_content, evaluation_share, picture_sums
from .targets import FrameTargets
from .tensors import resize_tensor
from .terms import GramTerm, NetworkTerms, TotalVariation, network_terms
from .tiling import Tile
from .warp import backward_warp


@dataclass(frozen=True)
class PaintSettings:
    """The knobs of :func:`paint_frame`, as measured in docs/paint-what-changed.md."""

    change_level: float = 0.08  # colour mismatch (0..1) above which a pixel's colour changed
    speck: int = 6  # px: a smaller patch of change is noise, not new picture
    blur_level: float = 0.15  # resampling blur (see warp_blur) from which a pixel needs work
    strain_level: float = 0.05  # px per px: the flow's stretch or shear from which a pixel needs work
    young_frames: int = 2  # ground that entered the picture up to this many frames ago is still new
    young_hold: float = 1.0  # ... held to its last paint this much (a share of the temporal weight)
    uncovered_reach: int = 6  # px: still ground this near ground uncovered in this frame was uncovered lately: new
    uncovered_hold: float = 0.3  # ... held to its last paint this much (a share of the temporal weight)
    new_style: float = 5.0  # the style pressure on new ground, over the rest's
    cell: int = 16  # px: the grid crops are made of (a multiple of TILE_ALIGN)
    halo: int = 0  # px of context around a crop's core (a multiple of TILE_ALIGN)
    whole_share: float = 0.5  # pixels needing work above this share of the picture: the whole frame is optimized
    whole_most: int = 10  # ... for at most this many iterations (new ground's boost keeps the loss falling)
    measured_share: float = 0.35  # crops covering less of the picture take the rest's statistics as the style's ...
    measured_work: float = 1.5  # ... unless their work is this many full-frame evaluations or more (0: never)
    work_iterations: int = 2  # a crop without new ground (changed, deformed or blurred ground)
    new_work: float = 80.0  # full-frame evaluations per unit of the picture's area that came into view
    work_area: int = 64  # px: a smaller patch of deformed or blurred ground is the flow's noise
    most_iterations: int = 20  # the most a crop gets
    first_step: float = 0.1  # the first L-BFGS step, in Stylizer's FIRST_STEP_PER_PIXEL (2 evaluations, not 3)
    stop_decrease: float = 0.003  # a crop's pass ends when an iteration lowers its loss by less
    # paint="coarse": a whole frame coarse to fine (see _Painter.coarse_fine; docs/paint-what-changed.md)
    coarse_iterations: int = 4  # L-BFGS iterations at half size, on the low frequencies (an evaluation ~1/4)
    fine_iterations: int = 3  # ... then this many at full size
    fine_depth: str = "relu2_1"  # ... through the network's layers up to this one (to relu2_1: ~1/6 an evaluation)
    coarse_new_style: float = 1.0  # new_style in both passes (5 costs steadiness on a handheld camera)
    fine_content: float = 0.25  # ... with a content term at fine_depth, this share of the content weight
    sharpen: float = 0.14  # unsharp mask on the warped start, times the warp's blur there (see sharpen_warped)
    coarse_style: float = 1.0  # the style's weight in both passes, over the frame's
    # ... then, where ground came into view, new ground painted at full size in crops as paint="changed" does
    # (off: the demo's pan keeps more style with it, the handheld cockatoo costs 3.6 a frame; paint-what-changed.md)
    coarse_new_crops: bool = False


SETTINGS = PaintSettings()
EVALUATIONS_PER_ITERATION = 1.3  # what an L-BFGS iteration of a crop took on average (its line search)
SPLIT_FILL = 0.6  # a crop whose cells are this full of pixels to paint is not cut further
SPLIT_GAIN = 0.8  # ... nor one whose best cut leaves more than this share of it to run


@dataclass(frozen=True)
class FramePlan:
    """Which pixels of a later frame need work, and the crops that hold them."""

    revealed: np.ndarray  # (H, W) bool: came into view in this frame: starts from a fill, held by nothing
    new: np.ndarray  # (H, W) bool: revealed, or entered over the last frames: the style's boost
    work: np.ndarray  # (H, W) bool: everything to optimize (new, changed, deformed, blurred)
    crops: tuple[Tile, ...] = ()
    new_ground: tuple[bool, ...] = ()  # per crop: it holds new pixels
    whole: bool = False  # optimize the whole frame rather than crops
    hold: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # (H, W) temporal weight share


# -- which pixels ------------------------------------------------------------------------------
def outside_mask(backward: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose flow leads outside the previous frame."""
    h, w = backward.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xs + backward[..., 0], ys + backward[..., 1]
    return (mx < -0.5) | (mx > w - 0.5) | (my < -0.5) | (my > h - 0.5)


def warp_blur(backward: np.ndarray) -> np.ndarray:
    """(H, W): how much resampling along ``backward`` (H, W, 2) softens the finest detail at
    each pixel: the mean over both axes of 1 - cos(pi d), d the distance of the sample point
    to the pixel grid (0 on it; 1 at half a pixel off, where the finest stripes vanish)."""
    offset = np.abs(backward - np.round(backward))
    return np.mean(1 - np.cos(np.pi * offset), axis=2)


def flow_strain(backward: np.ndarray) -> np.ndarray:
    """(H, W): the largest derivative of the flow (px per px): 0 for a shift, more where the
    flow stretches, shears or turns the picture."""
    strain = np.zeros(backward.shape[:2], np.float32)
    for c in range(2):
        gy, gx = np.gradient(backward[..., c])
        strain = np.maximum(strain, np.maximum(np.abs(gx), np.abs(gy)))
    return strain


def _drop_specks(mask: np.ndarray, smallest: int) -> np.ndarray:
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= smallest
    keep[0] = False
    return keep[labels]


def plan_frame(flow: FlowResult, settings: PaintSettings | None = None) -> FramePlan:
    """Classify a later frame's pixels (see the module) and decide how to cover those to work on."""
    settings = settings or SETTINGS
    backward = flow.backward
    outside = outside_mask(backward)
    mismatch = flow.mismatch if flow.mismatch is not None else np.zeros(flow.mask.shape, np.float32)
    changed = _drop_specks(mismatch > settings.change_level, settings.speck)
    revealed = outside | (changed & (flow.mask < 0.5))
    # entered the picture over the last young_frames frames, if the camera kept this motion:
    # needs no flow but this one, so a resumed run finds the same pixels
    moving = np.hypot(backward[..., 0], backward[..., 1]) >= 0.5  # not the flow's noise at a still edge
    young = np.zeros_like(outside)
    if settings.young_frames > 1:
        young = outside_mask(backward * settings.young_frames) & ~outside & moving
    lately = np.zeros_like(outside)
    if settings.uncovered_reach > 0:
        # behind a moving subject ground comes into view a sliver a frame; each sliver painted
        # alone and then held continues its neighbour's strokes (streaks along the motion).
        # The still ground next to this frame's sliver came into view over the last frames:
        # it stays new for a while, found without any state kept (a resume finds the same)
        uncovered = (changed & (flow.mask < 0.5) & ~outside).astype(np.uint8)
        size = 2 * settings.uncovered_reach + 1
        near = cv2.dilate(uncovered, np.ones((size, size), np.uint8)).astype(bool)
        lately = near & ~revealed & ~moving
    new = revealed | young | lately
    # a still background's flow is noise of a few tenths of a pixel: what it "blurs" or "shears" is not there
    inexact = _drop_specks(((warp_blur(backward) >= settings.blur_level)
                            | (flow_strain(backward) >= settings.strain_level)) & moving, settings.work_area)
    work = new | changed | inexact
    hold = np.where(revealed, 0.0, np.where(young, settings.young_hold,
                                            np.where(lately, settings.uncovered_hold, 1.0))).astype(np.float32)
    hold *= flow.mask.astype(np.float32)
    if work.mean() > settings.whole_share:
        return FramePlan(revealed=revealed, new=new, work=work, whole=True, hold=hold)
    crops = plan_crops(work, cell=settings.cell, halo=settings.halo)
    new_ground = tuple(bool(new[t.y0:t.y1, t.x0:t.x1].any()) for t in crops)
    return FramePlan(revealed=revealed, new=new, work=work, crops=crops, new_ground=new_ground, hold=hold)


def plan_crops(paint: np.ndarray, *, cell: int, halo: int) -> tuple[Tile, ...]:
    """Crops covering every True pixel of ``paint`` (H, W): cores made of ``cell``-px grid
    cells (so every pool lines up with the whole picture's), each a connected group's bounding
    box, with ``halo`` px of context; two crops are merged where one costs less than both."""
    h, w = paint.shape
    rows, cols = -(-h // cell), -(-w // cell)
    padded = np.zeros((rows * cell, cols * cell), bool)
    padded[:h, :w] = paint
    cells: np.ndarray = np.asarray(padded.reshape(rows, cell, cols, cell).any(axis=(1, 3)), dtype=np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(cells, connectivity=8)
    boxes = []
    for s in stats[1:]:
        box = (int(s[cv2.CC_STAT_TOP]), int(s[cv2.CC_STAT_TOP] + s[cv2.CC_STAT_HEIGHT]),
               int(s[cv2.CC_STAT_LEFT]), int(s[cv2.CC_STAT_LEFT] + s[cv2.CC_STAT_WIDTH]))
        boxes += _split(cells, box)

    def tile(box: tuple[int, int, int, int]) -> Tile:
        r0, r1, c0, c1 = box
        y0, y1, x0, x1 = r0 * cell, min(h, r1 * cell), c0 * cell, min(w, c1 * cell)
        # a core cut short by the picture's edge still spans a cell: the network needs room
        y0 = min(y0, max(0, (y1 - cell) // TILE_ALIGN * TILE_ALIGN))
        x0 = min(x0, max(0, (x1 - cell) // TILE_ALIGN * TILE_ALIGN))
        return Tile(y0, y1, x0, x1, max(0, y0 - halo), min(h, y1 + halo), max(0, x0 - halo), min(w, x1 + halo))

    def area(box: tuple[int, int, int, int]) -> int:
        t = tile(box)
        return (t.ty1 - t.ty0) * (t.tx1 - t.tx0)

    merged = True
    while merged and len(boxes) > 1:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                union = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
                if area(union) <= area(a) + area(b):
                    boxes[i] = union
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return tuple(tile(b) for b in sorted(boxes))


def _tight(cells: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    """The smallest box holding the marked cells of ``box``, None when there are none."""
    r0, r1, c0, c1 = box
    rows, cols = np.nonzero(cells[r0:r1, c0:c1])
    if rows.size == 0:
        return None
    return r0 + int(rows.min()), r0 + int(rows.max()) + 1, c0 + int(cols.min()), c0 + int(cols.max()) + 1


def _split(cells: np.ndarray, box: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """``box`` (rows, columns of cells) cut in two, and again, where the two parts' own boxes
    cover clearly less than it: an L of new ground along two edges becomes two strips, not the
    whole picture."""
    r0, r1, c0, c1 = box
    area = (r1 - r0) * (c1 - c0)
    if cells[r0:r1, c0:c1].sum() >= SPLIT_FILL * area:
        return [box]
    best: tuple[int, list[tuple[int, int, int, int]]] | None = None
    cuts = [((r0, r, c0, c1), (r, r1, c0, c1)) for r in range(r0 + 1, r1)]
    cuts += [((r0, r1, c0, c), (r0, r1, c, c1)) for c in range(c0 + 1, c1)]
    for a, b in cuts:
        parts = [p for p in (_tight(cells, a), _tight(cells, b)) if p is not None]
        covered = sum((p[1] - p[0]) * (p[3] - p[2]) for p in parts)
        if best is None or covered < best[0]:
            best = (covered, parts)
    if best is None or best[0] > SPLIT_GAIN * area:
        return [box]
    return [piece for part in best[1] for piece in _split(cells, part)]


def fill_revealed(warped: torch.Tensor, content: torch.Tensor, revealed: np.ndarray) -> torch.Tensor:
    """The start of a frame: ``warped`` (1, 3, H, W) with its ``revealed`` (H, W) pixels
    replaced by the content there in the painting's colours: each channel mapped by the
    affine map that takes the content to the painting over the served pixels of the same
    16 px grid rows and columns around it (a painting's colours, the photo's shapes; a
    stretched border or a mirror image of the painting repeats along a pan)."""
    if not revealed.any():
        return warped
    out = warped.clone()
    grown = cv2.dilate(revealed.astype(np.uint8), np.ones((33, 33), np.uint8)).astype(bool)
    near = torch.from_numpy(grown & ~revealed).to(warped.device)
    if int(near.sum()) < 16:
        near = torch.from_numpy(~revealed).to(warped.device)
    if int(near.sum()) < 16:
        return torch.where(torch.from_numpy(revealed).to(warped.device)[None, None], content, warped)
    source_c, source_p = content[0][:, near], warped[0][:, near]  # (3, N)
    c_mean, p_mean = source_c.mean(1), source_p.mean(1)
    gain = source_p.std(1) / source_c.std(1).clamp_min(1e-3)
    mapped = ((content[0] - c_mean[:, None, None]) * gain[:, None, None] + p_mean[:, None, None]).clamp(0, 1)
    here = torch.from_numpy(revealed).to(warped.device)
    out[0][:, here] = mapped[:, here]
    return out


# -- the passes --------------------------------------------------------------------------------
@dataclass
class _Pass:
    """Reports one optimization pass's evaluations as Progress."""

    callback: ProgressCallback | None
    iterations: int
    cost: float
    start: float
    kind: str

    def __call__(self, step: int, loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
        if self.callback is None:
            return
        self.callback(Progress(iteration=min(step, self.iterations), iterations=self.iterations, scale=1, scales=1,
                               elapsed=time.perf_counter() - self.start, loss_tensor=loss.detach(),
                               term_tensors={k: v.detach() for k, v in terms.items()}, cost=self.cost,
                               kind=self.kind))


def _minimize(x: torch.Tensor, loss_of: LossFn, free: torch.Tensor | None, iterations: int,
              stop: EarlyStop | None, report: _Pass, cancel_check: Callable[[], None] | None,
              first_step: float) -> torch.Tensor:
    """L-BFGS on ``x`` (changed in place) as Stylizer runs it, its first step ``first_step``
    times Stylizer's; ``free`` (1, 1, h, w) bool masks the gradient: pixels outside it stay."""
    x.requires_grad_(True)
    free_count = x.numel() if free is None else int(free.sum()) * x.shape[1]

    def evaluate(iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        if cancel_check is not None:
            cancel_check()
        x.grad = None
        with torch.enable_grad():
            loss, terms = loss_of(x)
            loss.backward()
        report(iteration, loss, terms)
        assert x.grad is not None
        if free is not None:
            x.grad.mul_(free)
        return loss.detach(), x.grad.view(-1)

    with torch.no_grad():
        lbfgs = LBFGS(x, evaluate, history=max(iterations, 1))
        lbfgs.run(1, first_step * FIRST_STEP_PER_PIXEL * max(free_count, 1), 6)
        if iterations > 1:
            lbfgs.run(iterations - 1, 1.0, (iterations - 1) * 5 // 4 + 5, stop=stop.done if stop else None)
    return x.detach().requires_grad_(False)


class _Painter:
    """One later frame's optimization passes and what they share: the frame's targets and
    weights, the progress callback, the cost model."""

    def __init__(self, stylizer: Stylizer, *, temporal_weight: float, layer_scale: Mapping[str, float],
                 targets: FrameTargets | None, callback: ProgressCallback | None, frame: tuple[int, int],
                 settings: PaintSettings) -> None:
        cfg = stylizer.config
        self.stylizer, self.frame_targets, self.callback, self.frame = stylizer, targets, callback, frame
        self.settings, self.temporal_weight, self.layer_scale = settings, temporal_weight, layer_scale
        self.dtype = stylizer.compute.dtype
        self.content_layers = tuple(cfg.content_layers)
        self.frame_layers = tuple(cfg.content_layers) + tuple(cfg.style_layers)
        self.content_weights: dict[str, float] = {}
        share = cfg.content_weight / len(cfg.content_layers)
        for name in cfg.content_layers:
            self.content_weights[name] = self.content_weights.get(name, 0.0) + share
        self.tv = TotalVariation(cfg.tv_weight) if cfg.tv_weight else None
        self.cancel = stylizer.cancel.check if stylizer.cancel is not None else None
        self.start = time.perf_counter()

    def share(self, height: int, width: int, layers: tuple[str, ...] | None = None, *,
              forward_only: bool = False) -> float:
        return evaluation_share(height, width, frame=self.frame, layers=layers or self.frame_layers,
                                frame_layers=self.frame_layers, forward_only=forward_only)

    def report_forward(self, cost: float) -> None:
        _Pass(self.callback, 0, cost, self.start, "forward")(0, torch.zeros(()), {})

    def terms(self, content: Mapping[str, torch.Tensor], norms: Mapping[str, torch.Tensor] | None = None, *,
              boost: float = 1.0, new: torch.Tensor | None = None, size: tuple[int, int] | None = None,
              style_layers: tuple[str, ...] | None = None,
              content_weights: Mapping[str, float] | None = None, new_style: float | None = None) -> NetworkTerms:
        """The frame's terms at full size (or ``size``) towards ``content`` features; the style
        ``boost`` on all of them, or, with a ``new`` mask (1, 1, H, W), a masked Gram term per
        layer giving new ground ``settings.new_style`` times the style pressure (see the
        module). ``style_layers``: only these of the style's layers (default all)."""
        height, width = size or self.frame
        grams = self.stylizer.targets.at(height, width, self.frame_targets)
        assert grams.grams is not None  # region masks are painted whole (TemporalStylizer)
        weights = {n: grams.style_weight * w * self.layer_scale.get(n, 1.0) * boost
                   for n, w in self.stylizer.config.layer_weights().items()
                   if style_layers is None or n in style_layers}
        terms = network_terms(size=(height, width), dtype=self.dtype, content=content,
                              content_weights=(content_weights or self.content_weights) if content else {},
                              style_weights=weights,
                              targets=grams.grams,
                              content_norms=norms)
        if new is not None:
            for name, weight in weights.items():
                # the masked term's scale carries the region's share: its pressure per position
                # is new_style times the whole term's
                boost_new = self.settings.new_style if new_style is None else new_style
                term = GramTerm(name, grams.grams[name], boost_new * weight, size=(height, width),
                                dtype=self.dtype or torch.float32, mask=new)
                if not term.empty:
                    terms.style[name].append(term)
        return terms

    def temporal(self, target: torch.Tensor, hold: torch.Tensor,
                 size: tuple[int, int] | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """The temporal term towards ``target`` weighted by ``hold`` (both this crop's), over
        the whole picture's pixels (at ``size``, default the frame's), as
        ``losses.temporal_loss`` takes it."""
        height, width = size or self.frame
        pixels = height * width
        weight = self.temporal_weight

        def term(image: torch.Tensor) -> torch.Tensor:
            return weight * (hold * (image - target).pow(2)).sum() / pixels

        return term

    def whole(self, x: torch.Tensor, content: torch.Tensor, hold: torch.Tensor, new: torch.Tensor,
              iterations: int, stop: EarlyStop | None) -> torch.Tensor:
        """The whole frame with the full loss, new ground boosted: the flow mode's later frame
        as ``paint="whole"`` optimizes it (``iterations``, ``stop``, its first step)."""
        with torch.no_grad():
            found = self.stylizer.vgg(content, self.content_layers, dtype=self.dtype)
        features = {n: f.float() for n, f in found.items()}
        self.report_forward(self.share(*self.frame, self.content_layers, forward_only=True))
        network = NetworkLoss(self.stylizer.vgg, self.dtype, self.terms(features, new=new if new.any() else None))
        temporal = self.temporal(x.clone(), hold) if self.temporal_weight > 0 else None
        loss_of = whole_loss(network, self.tv, temporal)
        return _minimize(x.clone(), loss_of, None, iterations, stop,
                         _Pass(self.callback, iterations, 1.0, self.start, "whole"), self.cancel, 1.0).clamp(0, 1)

    def coarse_fine(self, warped: torch.Tensor, content: torch.Tensor, hold: torch.Tensor, new: torch.Tensor,
                    iterations: int, stop: EarlyStop | None) -> torch.Tensor:
        """The whole frame (``paint="coarse"``), most of its work at half size, where an
        evaluation costs a quarter: x_half is optimized from downsample(``warped``) with the
        full loss for ``iterations`` (or until ``stop``), and only its change is taken,
        x = warped + upsample(x_half - downsample(warped)): the low frequencies' correction,
        the warped start's fine strokes kept. Then ``fine_iterations`` (at most ``iterations``)
        at full size through the layers up to ``fine_depth`` (no content term: it lies
        deeper), the temporal term holding x: the finest strokes each warp softens."""
        settings, (height, width) = self.settings, self.frame
        size = (max(1, round(height / 2)), max(1, round(width / 2)))
        start = resize_tensor(warped, *size).clamp(0, 1)
        x = self._pass(start, content, resize_tensor(hold, *size), resize_tensor(new, *size),
                       iterations, stop, size=size, kind="coarse")
        x = (warped + resize_tensor(x - start, height, width)).clamp(0, 1)
        steps = min(iterations, settings.fine_iterations)
        if steps <= 0:
            return x
        fine = layers_to_depth(self.stylizer.config.style_layers, settings.fine_depth)
        return self._pass(x, content, hold, new, steps, EarlyStop(settings.stop_decrease, min(3, steps)),
                          size=self.frame, kind="fine", style_layers=fine)

    def _pass(self, x: torch.Tensor, content: torch.Tensor, hold: torch.Tensor, new: torch.Tensor, iterations: int,
              stop: EarlyStop | None, *, size: tuple[int, int], kind: str,
              style_layers: tuple[str, ...] | None = None) -> torch.Tensor:
        """One L-BFGS pass over the whole picture ``x`` at ``size`` (``content``, ``hold``,
        ``new`` resized to it), the temporal term towards ``x`` as given; the content terms
        only where ``style_layers`` reach their layers."""
        reach = None if style_layers is None else LAYER_NAMES.index(max(style_layers, key=LAYER_NAMES.index))
        content_layers = tuple(n for n in self.content_layers if reach is None or LAYER_NAMES.index(n) <= reach)
        weights = self.content_weights
        if style_layers is not None and not content_layers and self.settings.fine_content > 0:
            # the content layers lie deeper than this pass reaches: the content at its deepest layer
            content_layers = (LAYER_NAMES[reach],)  # type: ignore[index]
            weights = {content_layers[0]: sum(self.content_weights.values()) * self.settings.fine_content}
        features: dict[str, torch.Tensor] = {}
        if content_layers:
            with torch.no_grad():
                found = self.stylizer.vgg(resize_tensor(content, *size), content_layers, dtype=self.dtype)
            features = {n: f.float() for n, f in found.items()}
            self.report_forward(self.share(*size, content_layers, forward_only=True))
        new_mask = new if bool((new > 0.5).any()) else None
        terms = self.terms(features, size=size, new=new_mask, style_layers=style_layers, content_weights=weights,
                           new_style=self.settings.coarse_new_style, boost=self.settings.coarse_style)
        network = NetworkLoss(self.stylizer.vgg, self.dtype, terms)
        temporal = self.temporal(x.clone(), hold, size) if self.temporal_weight > 0 else None
        cost = self.share(*size, terms.layers)
        return _minimize(x.clone(), whole_loss(network, self.tv, temporal), None, iterations, stop,
                         _Pass(self.callback, iterations, cost, self.start, kind), self.cancel, 1.0).clamp(0, 1)

    def crops(self, x: torch.Tensor, content: torch.Tensor, crops: tuple[Tile, ...], iterations: list[int],
              boosts: list[float], hold: torch.Tensor) -> torch.Tensor:
        """Optimize each crop's core in turn, the rest of the picture fixed, its Gram statistics
        from one forward pass; ``hold`` (1, 1, H, W) weighs the temporal term to ``x`` as it is."""
        height, width = self.frame
        vgg, dtype = self.stylizer.vgg, self.dtype
        style_only = self.terms({}, {})
        covered = sum((t.y1 - t.y0) * (t.x1 - t.x0) for t in crops) / (height * width)
        # the rest's statistics cost a forward pass (half an evaluation): worth it where the crops
        # cover much of the picture, or where they get much work: along a pan, strips of new
        # ground each painted to match the style on its own left the picture 1.43x the Gram
        # distance of strips painted to complete the rest's statistics (0.39 against 0.27,
        # bench_changed.py --case pan; docs/paint-what-changed.md)
        work = sum(steps * self.share(t.ty1 - t.ty0, t.tx1 - t.tx0) * EVALUATIONS_PER_ITERATION
                   for t, steps in zip(crops, iterations, strict=True))
        measured = covered >= self.settings.measured_share or (
            self.settings.measured_work > 0 and work >= self.settings.measured_work)
        if measured:
            whole, cores = picture_sums(vgg, dtype, x, style_only, crops)
            self.report_forward(self.share(height, width, forward_only=True))
            statistic = {name: whole[terms[0]] for name, terms in style_only.style.items()}
        for index, (crop, steps, boost) in enumerate(zip(crops, iterations, boosts, strict=True)):
            if steps <= 0:
                continue
            ys, xs = crop.pixels()
            if measured:
                core_sums = {name: cores[index][terms[0]] for name, terms in style_only.style.items()}
            else:
                # a few small crops in a painted picture: the rest is taken to match the style
                # (a pass over the whole picture would cost more than the crops themselves)
                statistic = {name: terms[0].target * terms[0].count for name, terms in style_only.style.items()}
                core_sums = {name: terms[0].target * _core_positions(crop, name)
                             for name, terms in style_only.style.items()}
            features = crop_content(vgg, dtype, content, crop, self.content_layers)
            self.report_forward(self.share(ys.stop - ys.start, xs.stop - xs.start, self.content_layers,
                                           forward_only=True))
            terms = self.terms(features, content_norms(features, height, width), boost=boost)
            rest = {t: statistic[name] - core_sums[name] for name, found in terms.style.items() for t in found}
            network = CropLoss(vgg, dtype, terms, crop, rest)
            temporal = self.temporal(x[..., ys, xs].clone(), hold[..., ys, xs]) if self.temporal_weight > 0 else None
            loss_of = whole_loss(network, None, temporal)
            free = torch.zeros(1, 1, ys.stop - ys.start, xs.stop - xs.start, dtype=torch.bool, device=x.device)
            free[..., crop.y0 - crop.ty0: crop.y1 - crop.ty0, crop.x0 - crop.tx0: crop.x1 - crop.tx0] = True
            cost = self.share(ys.stop - ys.start, xs.stop - xs.start)
            part = _minimize(x[..., ys, xs].clone(), loss_of, free, steps,
                             EarlyStop(self.settings.stop_decrease, min(3, steps)),
                             _Pass(self.callback, steps, cost, self.start, "crop"), self.cancel,
                             self.settings.first_step)
            x = x.clone()
            x[..., ys, xs] = part.clamp(0, 1)
            for name, found in terms.style.items():  # the picture's statistic with this core's new share
                statistic[name] = rest[found[0]] + network.sums[found[0]]
        return x


def sharpen_warped(warped: torch.Tensor, backward: np.ndarray, amount: float) -> torch.Tensor:
    """``warped`` (1, 3, H, W) with an unsharp mask of ``amount`` times the resampling blur of
    ``backward`` at each pixel (:func:`warp_blur`): undoes part of what the warp softened."""
    blur = torch.from_numpy(warp_blur(backward).astype(np.float32)).to(warped.device)[None, None]
    kernel = torch.tensor([1.0, 2.0, 1.0], device=warped.device)
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(3, 1, 3, 3)
    smooth = torch.nn.functional.conv2d(torch.nn.functional.pad(warped, (1, 1, 1, 1), mode="replicate"), kernel,
                                        groups=3)
    return (warped + amount * blur * (warped - smooth)).clamp(0, 1)


def layers_to_depth(layers: tuple[str, ...], deepest: str) -> tuple[str, ...]:
    """Those of ``layers`` no deeper in the network than ``deepest``."""
    return tuple(n for n in layers if LAYER_NAMES.index(n) <= LAYER_NAMES.index(deepest))


def _core_positions(tile: Tile, layer: str) -> int:
    ys, xs = tile.core(layer)
    return max(0, ys.stop - ys.start) * max(0, xs.stop - xs.start)


def crop_iterations(plan: FramePlan, painter: _Painter, settings: PaintSettings,
                    most: int | None = None) -> list[int]:
    """L-BFGS iterations per crop: ``work_iterations``, and for new ground work in proportion
    to its area, as a first frame spends on the whole picture: ``new_work`` full-frame
    evaluations per unit of the picture's area that came into view in this frame, shared
    among the crops by the new pixels each holds, turned into iterations at the crop's cost
    (about EVALUATIONS_PER_ITERATION each). None exceeds ``most_iterations`` nor ``most`` (a
    caller's budget)."""
    counts = [int(plan.new[t.y0:t.y1, t.x0:t.x1].sum()) for t in plan.crops]
    budget = settings.new_work * plan.revealed.mean()
    ceiling = settings.most_iterations if most is None else min(most, settings.most_iterations)
    steps = []
    for tile, is_new, count in zip(plan.crops, plan.new_ground, counts, strict=True):
        if not is_new:
            steps.append(min(settings.work_iterations, ceiling))
            continue
        share = painter.share(tile.ty1 - tile.ty0, tile.tx1 - tile.tx0)
        wanted = round(budget * count / max(1, sum(counts)) / (share * EVALUATIONS_PER_ITERATION))
        steps.append(min(ceiling, max(settings.work_iterations, wanted)))
    return steps


def new_ground_plan(plan: FramePlan, settings: PaintSettings) -> FramePlan:
    """``plan`` with crops around its new ground alone (a coarse frame's other pixels had their
    work in the coarse passes)."""
    crops = plan_crops(plan.new, cell=settings.cell, halo=settings.halo)
    return replace(plan, crops=crops, new_ground=(True,) * len(crops), whole=False)


def paint_frame(stylizer: Stylizer, content: torch.Tensor, previous: torch.Tensor, flow: FlowResult, *,
                temporal_weight: float, warp_kernel: str = "lanczos", layer_scale: Mapping[str, float] | None = None,
                targets: FrameTargets | None = None, callback: ProgressCallback | None = None,
                settings: PaintSettings | None = None, iterations: int = 20, stop: EarlyStop | None = None,
                most_iterations: int | None = None, coarse: bool = False) -> torch.Tensor:
    """A later frame from the ``previous`` result (1, 3, H, W) and the ``flow`` from it, worked
    on where it needs it (see the module). ``content`` is the frame (1, 3, H, W) in [0, 1];
    ``layer_scale`` multiplies some style layers' weights (the flow mode's detail boost);
    ``iterations`` and ``stop`` are a whole frame's budget; ``most_iterations`` caps every
    crop's (a live budget). With ``coarse`` (``paint="coarse"``) a frame that needs work
    all over is painted coarse to fine (:meth:`_Painter.coarse_fine`) from a start sharpened
    where the warp blurred it (:func:`sharpen_warped`). Returns (1, 3, H, W) in [0, 1]."""
    settings = settings or SETTINGS
    height, width = content.shape[-2:]
    plan = plan_frame(flow, settings)
    cfg = stylizer.config
    # the half-size picture must still reach the deepest layer the loss reads
    coarse = coarse and min(height, width) // 2 >= stylizer.vgg.min_side(cfg.content_layers + cfg.style_layers)
    warped = backward_warp(previous, flow.backward, kernel=warp_kernel).clamp(0, 1)
    # a whole frame starts where paint="whole" starts it, from the warp everywhere: on the
    # handheld clip the photo's colours there lost half the revealed ground's colourfulness
    # (0.56x the reference's, 0.90x from the warp); crops start new ground from the photo
    # (the warp stretches the border into streaks along a pan)
    if plan.whole and coarse:
        warped = sharpen_warped(warped, flow.backward, settings.sharpen)
    new_crops = plan.whole and coarse and settings.coarse_new_crops and bool(plan.revealed.any())
    filled = not plan.whole or new_crops
    x = (fill_revealed(warped, content, plan.revealed) if filled else warped).contiguous()
    painter = _Painter(stylizer, temporal_weight=temporal_weight, layer_scale=layer_scale or {}, targets=targets,
                       callback=callback, frame=(height, width), settings=settings)
    hold = torch.from_numpy(plan.hold).to(x.device)[None, None]
    if plan.whole:
        new = torch.from_numpy(plan.new.astype(np.float32)).to(x.device)[None, None]
        if coarse:
            x = painter.coarse_fine(x, content, hold, new, min(iterations, settings.coarse_iterations), stop)
            if not new_crops:
                return x
            # new ground in coarse passes alone came out striped and short of style along the
            # demo's pan (Gram 1.34x whole's; docs/paint-what-changed.md): it gets a first
            # frame's work at full size through the whole network, as paint="changed" gives it
            plan = new_ground_plan(plan, settings)
            steps = crop_iterations(plan, painter, settings, most_iterations)
            return painter.crops(x, content, plan.crops, steps, [settings.new_style] * len(plan.crops),
                                 hold).clamp(0, 1)
        return painter.whole(x, content, hold, new, min(iterations, settings.whole_most), stop)
    if plan.crops:
        steps = crop_iterations(plan, painter, settings, most_iterations)
        boosts = [settings.new_style if new else 1.0 for new in plan.new_ground]
        x = painter.crops(x, content, plan.crops, steps, boosts, hold)
    return x.clamp(0, 1)


def with_settings(**changes: object) -> PaintSettings:
    """SETTINGS with some fields changed (for experiments)."""
    return replace(SETTINGS, **changes)  # type: ignore[arg-type]
