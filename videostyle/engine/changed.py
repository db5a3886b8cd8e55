"""Paint what changed (issue 25): a later frame's work goes where its picture is new.

A later frame starts from the previous result warped along the flow. Per pixel it is
either *served* by that warp (the flow carries it and the colours agree) or it needs
*painting*: it came into view (from outside the picture, or uncovered behind a moving
subject) or its colour changed. :func:`plan_frame` finds those; :func:`paint_frame`

1. starts new ground near the painting (:func:`fill_revealed`), not from a stretched
   border or the subject that covered it;
2. optimizes crops around the pixels to paint, each with a halo of context, the rest of
   the picture's Gram sums held fixed (engine/partial.py): work in proportion to the area
   to paint, revealed ground given more iterations than a changed colour;
3. gives the whole frame a few evaluations through the first layers only, with the finest
   style layers and the temporal loss, which is what keeps served ground sharp (each warp
   blurs it a little) at a few percent of an evaluation each.

Every evaluation reports its FLOP-weighted cost (``Progress.cost``). Nothing here keeps
state between frames: a frame depends on the previous result, the flow and the frame
alone, so a resumed job and a Ray worker compute the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from ..config import TILE_ALIGN
from .flow import FlowResult
from .gatys import NetworkLoss
from .lbfgs import LBFGS
from .optimize import FIRST_STEP_PER_PIXEL, EarlyStop, Look, Progress, ProgressCallback, Stylizer
from .partial import CropNetwork, CropTerms, content_core, crop_sums, evaluation_share, picture_sums, positions
from .tensors import resize_tensor
from .tiles import Tile, grid_of
from .warp import backward_warp


@dataclass(frozen=True)
class PaintSettings:
    """The knobs of :func:`paint_frame` (measured in docs/paint-what-changed.md)."""

    change_level: float = 0.08  # colour mismatch (0..1) above which a pixel's colour changed
    speck: int = 6  # px: a smaller patch of change is noise, not new picture
    grow: int = 3  # px: pixels to paint are grown by this much, so their edges blend
    grow_hold: float = 1.0  # the ring's temporal weight (a share of the frame's)
    margin: int = 0  # px of a crop's core kept fixed along its inner edges: features whose gradient it adds
    cell: int = 16  # px: the grid crops are made of (a multiple of TILE_ALIGN)
    halo: int = 0  # px of context around a crop's core (a multiple of TILE_ALIGN)
    coarse_iterations: int = 0  # L-BFGS iterations at half size of a crop holding new ground
    settle_iterations: int = 0  # whole-picture L-BFGS iterations at half size (content drift, new ground's colours)
    settle_motion: float = 0.5  # px: ... run where the flow moves at least this much (or the colour changed)
    maintain_iterations: int = 0  # full-size L-BFGS iterations of the full loss where the warp is not exact
    maintain_blur: float = 0.15  # ... where resampling softens at least this much (see warp_blur)
    maintain_strain: float = 0.05  # ... or the flow stretches or shears by this much (px per px)
    new_only: bool = False  # with a maintenance pass, crops only for new ground
    revealed_iterations: int = 6  # ... at full size, at the least
    new_work: float = 0.0  # full-frame evaluations per unit of area come into view (see crop_iterations)
    most_iterations: int = 20  # the most a crop of new ground gets
    changed_iterations: int = 2  # ... of a crop holding changed colours only
    young_frames: int = 1  # ground that entered the picture up to this many frames ago is still painted
    young_hold: float = 0.1  # ... held to its last paint this much (a share of the temporal weight)
    core_hold: float = 1.0  # the temporal weight of served pixels in a crop with new ground, over the frame's
    refresh_bands: int = 0  # served ground is refreshed one band of this many in turn (0: never)
    refresh_iterations: int = 3  # ... with this many iterations
    detail_iterations: int = 2  # whole-frame iterations through the fine layers
    detail_layers: tuple[str, ...] = ("relu1_1", "relu2_1")
    detail_blur: float = 0.1  # the detail pass runs when the warp's blur (warp_blur) is at least this
    detail_weight: float = 1.0  # the detail pass's style weight over the frame's (layer_scale included)
    detail_hold: float = 1.0  # its temporal weight over the frame's
    new_style: float = 1.0  # style weight of new ground's crops, over the frame's
    own: str = "none"  # crops judged as pictures of their own: "none", "new" (new ground's), "all"
    rest_target: float = 0.0  # new ground's crops: share of the rest's Gram sums taken as the style's
    rest: str = "picture"  # the rest of the picture's Gram sums: "picture" (a forward pass) or "target"
    free: str = "core"  # what a crop optimizes: its whole "core", or only the pixels to "paint"
    fill: str = "reflect"  # how new ground starts: matched, content, warp
    stop_decrease: float = 0.003  # a crop's pass ends when an iteration lowers its loss by less


SETTINGS = PaintSettings()
FIRST_STEP_SCALE = 1.0
EVALUATIONS_PER_ITERATION = 1.3  # what an L-BFGS iteration of a crop took on average (its line search)
SETTLE_WHOLE = 0.6  # a settle region larger than this share of the picture is settled whole
SPLIT_FILL = 0.6  # a crop whose cells are this full of pixels to paint is not cut further
SPLIT_GAIN = 0.8  # ... nor one whose best cut leaves more than this share of it to run


@dataclass(frozen=True)
class FramePlan:
    """Which pixels of a later frame need painting, and the crops that hold them."""

    paint: np.ndarray  # (H, W) bool: revealed or changed
    revealed: np.ndarray  # (H, W) bool: came into view: starts from a fill
    young: np.ndarray  # (H, W) bool: came into view over the last frames: still being painted
    grown: np.ndarray  # (H, W) bool: a ring around ``paint``, painted along with it, held to the warp
    crops: tuple[Tile, ...]
    new_ground: tuple[bool, ...]  # per crop: it holds revealed pixels


def outside_mask(backward: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose flow leads outside the previous frame."""
    h, w = backward.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xs + backward[..., 0], ys + backward[..., 1]
    return (mx < -0.5) | (mx > w - 0.5) | (my < -0.5) | (my > h - 0.5)


def warp_blur(backward: np.ndarray) -> float:
    """How much resampling along ``backward`` (H, W, 2) softens the finest detail: the mean
    over pixels and both axes of 1 - cos(pi d), d the distance of the sample point to the
    pixel grid (0 on it; 1 at half a pixel off, where the finest stripes vanish)."""
    offset = np.abs(backward - np.round(backward))
    return float(np.mean(1 - np.cos(np.pi * offset)))


def _drop_specks(mask: np.ndarray, smallest: int) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= smallest
    keep[0] = False
    return keep[labels]


def plan_frame(flow: FlowResult, settings: PaintSettings | None = None) -> FramePlan:
    """Classify a later frame's pixels (see the module) and cover those to paint with crops."""
    settings = settings or SETTINGS
    outside = outside_mask(flow.backward)
    mismatch = flow.mismatch if flow.mismatch is not None else np.zeros(flow.mask.shape, np.float32)
    changed = _drop_specks(mismatch > settings.change_level, settings.speck)
    revealed = outside | (changed & (flow.mask < 0.5))
    # entered the picture over the last young_frames frames, if the camera kept this motion:
    # needs no flow but this one, so a resumed run finds the same pixels
    moving = np.hypot(flow.backward[..., 0], flow.backward[..., 1]) >= 0.5  # not the flow's noise at a still edge
    young = (outside_mask(flow.backward * settings.young_frames) & ~outside & moving if settings.young_frames > 1
             else np.zeros_like(outside))
    paint = revealed | changed
    grown = paint
    if settings.grow:
        size = 2 * settings.grow + 1
        grown = cv2.dilate(paint.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)
    wanted = grown | young
    if settings.margin:  # the crop's core holds a margin of features around what it frees
        size = 2 * settings.margin + 1
        wanted = cv2.dilate(wanted.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)
    crops = plan_crops(wanted, cell=settings.cell, halo=settings.halo)
    new_ground = tuple(bool((revealed | young)[t.y0:t.y1, t.x0:t.x1].any()) for t in crops)
    return FramePlan(paint=paint, revealed=revealed, young=young & ~paint, crops=crops, new_ground=new_ground,
                     grown=grown & ~paint)


def plan_crops(paint: np.ndarray, *, cell: int, halo: int) -> tuple[Tile, ...]:
    """Crops covering every True pixel of ``paint`` (H, W): cores made of ``cell``-px grid
    cells (so every pool lines up with the whole picture's), each a connected group's bounding
    box, with ``halo`` px of context; two crops are merged where one costs less than both."""
    h, w = paint.shape
    rows, cols = -(-h // cell), -(-w // cell)
    padded = np.zeros((rows * cell, cols * cell), bool)
    padded[:h, :w] = paint
    cells = padded.reshape(rows, cell, cols, cell).any(axis=(1, 3)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cells, connectivity=8)
    boxes = []
    for s in stats[1:]:
        box = (int(s[cv2.CC_STAT_TOP]), int(s[cv2.CC_STAT_TOP] + s[cv2.CC_STAT_HEIGHT]),
               int(s[cv2.CC_STAT_LEFT]), int(s[cv2.CC_STAT_LEFT] + s[cv2.CC_STAT_WIDTH]))
        boxes += _split(cells, box)

    def tile(box: tuple[int, int, int, int]) -> Tile:
        r0, r1, c0, c1 = box
        y0, y1, x0, x1 = r0 * cell, min(h, r1 * cell), c0 * cell, min(w, c1 * cell)
        # a core cut short by the picture's edge still spans a cell: the network needs room
        y0, x0 = min(y0, max(0, (y1 - cell) // TILE_ALIGN * TILE_ALIGN)), min(x0, max(0, (x1 - cell) // TILE_ALIGN * TILE_ALIGN))
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


def reflected_warp(image: torch.Tensor, backward: np.ndarray) -> torch.Tensor:
    """``image`` (1, C, H, W) warped along ``backward`` (bilinear), points outside the picture
    mirrored back into it: what lies beyond the edge is guessed as its mirror image."""
    _, _, height, width = image.shape
    flow = torch.as_tensor(backward, device=image.device, dtype=torch.float32)
    ys, xs = torch.meshgrid(torch.arange(height, device=image.device, dtype=torch.float32),
                            torch.arange(width, device=image.device, dtype=torch.float32), indexing="ij")
    gx = (xs + flow[..., 0]) * (2 / max(1, width - 1)) - 1
    gy = (ys + flow[..., 1]) * (2 / max(1, height - 1)) - 1
    grid = torch.stack([gx, gy], dim=-1)[None]
    return torch.nn.functional.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="reflection",
                                           align_corners=True)


def high_pass(image: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """``image`` less its Gaussian blur: the strokes without their colours."""
    radius = int(3 * sigma)
    taps = torch.arange(-radius, radius + 1, device=image.device, dtype=image.dtype)
    kernel = torch.exp(-taps.pow(2) / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    c = image.shape[1]
    blurred = torch.nn.functional.conv2d(torch.nn.functional.pad(image, (radius, radius, 0, 0), mode="replicate"),
                                         kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    blurred = torch.nn.functional.conv2d(torch.nn.functional.pad(blurred, (0, 0, radius, radius), mode="replicate"),
                                         kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return image - blurred


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


def fill_revealed(warped: torch.Tensor, content: torch.Tensor, plan: FramePlan, how: str,
                  texture: torch.Tensor | None = None) -> torch.Tensor:
    """The start of a frame: ``warped`` (1, 3, H, W) with its revealed pixels replaced.

    ``matched``: the content there, each channel mapped by the affine map that takes the
    content to the painting over the served pixels near it (a painting's colours, the
    photo's shapes); ``content``: the photo itself; ``warp``: left as the warp has it.
    """
    if how == "warp" or not plan.revealed.any():
        return warped
    revealed = torch.from_numpy(plan.revealed).to(warped.device)[None, None]
    if how == "content":
        return torch.where(revealed, content, warped)
    out = warped.clone()
    served = ~(plan.paint | plan.grown)
    for crop, new in zip(plan.crops, plan.new_ground, strict=True):
        if not new:
            continue
        ys, xs = crop.pixels()
        near = torch.from_numpy(served[ys, xs]).to(warped.device)
        here = torch.from_numpy(plan.revealed[ys, xs]).to(warped.device)
        if int(near.sum()) < 16:
            near = torch.from_numpy(served).to(warped.device)
            source_c, source_p = content[0][:, near], warped[0][:, near]
        else:
            source_c, source_p = content[0][:, ys, xs][:, near], warped[0][:, ys, xs][:, near]
        if source_c.shape[1] < 16:
            continue
        c_mean, p_mean = source_c.mean(1, keepdim=True), source_p.mean(1, keepdim=True)
        c_std, p_std = source_c.std(1, keepdim=True), source_p.std(1, keepdim=True)
        gain = p_std / c_std.clamp_min(1e-3)
        mapped = ((content[0][:, ys, xs] - c_mean[..., None]) * gain[..., None] + p_mean[..., None]).clamp(0, 1)
        block = out[0][:, ys, xs]
        if texture is not None and how == "textured":
            mapped = (mapped + texture[0][:, ys, xs]).clamp(0, 1)
        block[:, here] = mapped[:, here]
        out[0][:, ys, xs] = block
    return out


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


def _minimize(x: torch.Tensor, loss_of: Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]],
              free: torch.Tensor | None, iterations: int, stop: EarlyStop | None, report: _Pass,
              cancel_check: Callable[[], None] | None) -> torch.Tensor:
    """L-BFGS on ``x`` (changed in place) as Stylizer._optimize runs it; ``free`` (1, 1, h, w)
    bool masks the gradient: the pixels outside it stay as they are."""
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
        lbfgs.run(1, FIRST_STEP_SCALE * FIRST_STEP_PER_PIXEL * max(free_count, 1), 1 * 5 // 4 + 5)
        if iterations > 1:
            lbfgs.run(iterations - 1, 1.0, (iterations - 1) * 5 // 4 + 5, stop=stop.done if stop else None)
    return x.detach().requires_grad_(False)


def _core_positions(tile: Tile, layer: str) -> int:
    ys, xs = tile.core(layer)
    return (ys.stop - ys.start) * (xs.stop - xs.start)


def half_crop(tile: Tile, height: int, width: int, halo: int) -> Tile:
    """``tile`` of an H x W picture mapped onto the picture at half size (``height``, ``width``
    are the half size's): its core grown to the 16 px grid there, ``halo`` px around it."""
    a = TILE_ALIGN
    y0, x0 = (tile.y0 // 2) // a * a, (tile.x0 // 2) // a * a
    y1, x1 = min(height, -(-(tile.y1 // 2) // a) * a), min(width, -(-(tile.x1 // 2) // a) * a)
    y0, x0 = min(y0, max(0, (y1 - a) // a * a)), min(x0, max(0, (x1 - a) // a * a))
    return Tile(y0, y1, x0, x1, max(0, y0 - halo), min(height, y1 + halo), max(0, x0 - halo), min(width, x1 + halo))


class _Painter:
    """One later frame's optimization passes and what they share: the frame's targets and
    weights, the progress callback, the cost model."""

    def __init__(self, stylizer: Stylizer, *, temporal_weight: float, layer_scale: Mapping[str, float],
                 look: Look, callback: ProgressCallback | None, frame: tuple[int, int]) -> None:
        cfg = stylizer.config
        self.stylizer, self.look, self.callback, self.frame = stylizer, look, callback, frame
        self.temporal_weight = temporal_weight
        self.frame_layers = tuple(cfg.content_layers) + tuple(cfg.style_layers)
        self.style_weight = cfg.effective_style_weight if look.style_weight is None else look.style_weight
        self.layer_weights = cfg.layer_weights()
        self.style_weights = {n: self.style_weight * w * layer_scale.get(n, 1.0) for n, w in self.layer_weights.items()}
        self.layer_scale = layer_scale
        self.content_weights = {n: cfg.content_weight / len(cfg.content_layers) for n in cfg.content_layers}
        self.dtype = stylizer.compute.dtype
        self.cancel = stylizer.cancel.check if stylizer.cancel is not None else None
        self.start = time.perf_counter()

    def targets(self, height: int, width: int) -> dict[str, torch.Tensor]:
        look = self.look
        return (self.stylizer.style_targets(height, width) if look.weights is None
                else self.stylizer.blended_targets(height, width, look.weights))

    def share(self, height: int, width: int, layers: tuple[str, ...] | None = None, *,
              forward_only: bool = False) -> float:
        return evaluation_share(height, width, frame=self.frame, layers=layers or self.frame_layers,
                                frame_layers=self.frame_layers, forward_only=forward_only)

    def report_forward(self, cost: float) -> None:
        _Pass(self.callback, 0, cost, self.start, "forward")(0, torch.zeros(()), {})

    def crops(self, x: torch.Tensor, content: torch.Tensor, crops: tuple[Tile, ...], iterations: list[int],
              served: torch.Tensor, stop_decrease: float, paint: torch.Tensor | None = None,
              holds: list[float] | None = None, new: list[bool] | None = None, margin: int = 0,
              sums: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Optimize each crop's core in turn (the rest of the picture fixed, its Gram sums from
        one forward pass, or ``sums``: the whole picture's, given); ``served`` (1, 1, H, W)
        holds those pixels near ``x`` as it is."""
        cfg = self.stylizer.config
        height, width = x.shape[-2:]
        pixels = height * width
        targets = self.targets(height, width)
        vgg, dtype = self.stylizer.vgg, self.dtype
        if SETTINGS.rest == "target":  # experiment: the rest of the picture taken to match the style
            whole = {n: targets[n][0].float() * positions(height, width, n) for n in cfg.style_layers}
            cores = [{n: targets[n][0].float() * _core_positions(t, n) for n in cfg.style_layers} for t in crops]
        elif sums is not None:
            whole = dict(sums)
            cores = []
            for t, steps in zip(crops, iterations, strict=True):
                if steps <= 0:
                    cores.append({})
                    continue
                ys, xs = t.pixels()
                cores.append(crop_sums(vgg, dtype, x, t, tuple(cfg.style_layers)))
                self.report_forward(self.share(ys.stop - ys.start, xs.stop - xs.start, forward_only=True))
        else:
            whole, cores = picture_sums(vgg, dtype, x, tuple(cfg.style_layers), crops)
            self.report_forward(self.share(height, width, forward_only=True))
        for index, (crop, core_sums, steps) in enumerate(zip(crops, cores, iterations, strict=True)):
            if steps <= 0:
                continue
            ys, xs = crop.pixels()
            rest = {n: whole[n] - core_sums[n] for n in whole}
            if new is not None and new[index] and SETTINGS.rest_target:
                m = SETTINGS.rest_target
                rest = {n: (1 - m) * r + m * targets[n][0].float() * (positions(height, width, n)
                                                                      - _core_positions(crop, n))
                        for n, r in rest.items()}
            own = SETTINGS.own == "all" or (SETTINGS.own == "new" and new is not None and new[index])
            true_rest = rest
            if own:
                rest = {n: torch.zeros_like(r) for n, r in rest.items()}
            terms = CropTerms(rest=rest, height=height, width=width,
                              content=content_core(vgg, dtype, content, crop, tuple(cfg.content_layers)), own=own)
            self.report_forward(self.share(ys.stop - ys.start, xs.stop - xs.start, tuple(cfg.content_layers),
                                           forward_only=True))
            boost = SETTINGS.new_style if new is not None and new[index] else 1.0
            network = CropNetwork(vgg, dtype, crop, terms, content_weights=self.content_weights, targets=targets,
                                  style_weights={n: boost * w for n, w in self.style_weights.items()})
            target, hold = x[..., ys, xs].clone(), served[..., ys, xs]
            if holds is not None and holds[index] != 1:
                hold = hold * holds[index]

            norm = (crop.y1 - crop.y0) * (crop.x1 - crop.x0) if own else pixels

            def loss_of(image: torch.Tensor, network: CropNetwork = network, target: torch.Tensor = target,
                        hold: torch.Tensor = hold, norm: int = norm) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
                content_term, style_term = network(image)
                found = {"content": content_term, "style": style_term}
                if self.temporal_weight > 0:
                    found["extra"] = self.temporal_weight * (hold * (image - target).pow(2)).sum() / norm
                return sum(found.values()), found  # type: ignore[return-value]

            free = torch.zeros(1, 1, ys.stop - ys.start, xs.stop - xs.start, dtype=torch.bool, device=x.device)
            m = margin
            top, left = crop.y0 + (m if crop.y0 > 0 else 0), crop.x0 + (m if crop.x0 > 0 else 0)
            bottom, right = crop.y1 - (m if crop.y1 < height else 0), crop.x1 - (m if crop.x1 < width else 0)
            free[..., top - crop.ty0: bottom - crop.ty0, left - crop.tx0: right - crop.tx0] = True
            if paint is not None:
                free &= paint[..., ys, xs]
            cost = self.share(ys.stop - ys.start, xs.stop - xs.start)
            part = _minimize(x[..., ys, xs].clone(), loss_of, free, steps, EarlyStop(stop_decrease, min(3, steps)),
                             _Pass(self.callback, steps, cost, self.start, "crop"), self.cancel)
            x = x.clone()
            x[..., ys, xs] = part.clamp(0, 1)
            whole = {n: true_rest[n] + network.sums[n] for n in whole}
        return x

    def coarse(self, x: torch.Tensor, content: torch.Tensor, crops: tuple[Tile, ...], iterations: list[int],
               served: torch.Tensor, settings: PaintSettings) -> torch.Tensor:
        """:meth:`crops` at half size; what it changes is added to ``x`` at full size, inside
        the crops' cores."""
        height, width = x.shape[-2:]
        h2, w2 = height // 2, width // 2
        small_x = resize_tensor(x, h2, w2).clamp(0, 1)
        small_content = resize_tensor(content, h2, w2)
        small_served = torch.nn.functional.adaptive_avg_pool2d(served, (h2, w2))
        small = tuple(half_crop(t, h2, w2, settings.halo) for t in crops)
        painted = self.crops(small_x, small_content, small, iterations, small_served, settings.stop_decrease)
        change = resize_tensor(painted - small_x, height, width)
        region = torch.zeros(1, 1, height, width, device=x.device)
        for tile, steps in zip(crops, iterations, strict=True):
            if steps > 0:
                region[..., tile.y0:tile.y1, tile.x0:tile.x1] = 1
        return (x + change * region).clamp(0, 1)

    def maintain(self, x: torch.Tensor, content: torch.Tensor, hold: torch.Tensor, iterations: int
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The frame's whole loss (content, style, temporal to ``x`` as it is, weighted by
        ``hold`` (1, 1, H, W)) at full size for ``iterations``; returns the result and the
        picture's Gram sums at ``x`` (its first evaluation's)."""
        cfg = self.stylizer.config
        height, width = x.shape[-2:]
        whole = Tile(0, height, 0, width, 0, height, 0, width)
        zeros = {n: torch.zeros(()) for n in cfg.style_layers}
        terms = CropTerms(rest=zeros, height=height, width=width,
                          content=content_core(self.stylizer.vgg, self.dtype, content, whole, tuple(cfg.content_layers)))
        self.report_forward(self.share(height, width, tuple(cfg.content_layers), forward_only=True))
        network = CropNetwork(self.stylizer.vgg, self.dtype, whole, terms, content_weights=self.content_weights,
                              targets=self.targets(height, width), style_weights=self.style_weights)
        anchor, pixels = x.clone(), height * width
        first: dict[str, torch.Tensor] = {}

        def loss_of(image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            content_term, style_term = network(image)
            if not first:
                first.update(network.sums)
            found = {"content": content_term, "style": style_term}
            if self.temporal_weight > 0:
                found["extra"] = self.temporal_weight * (hold * (image - anchor).pow(2)).sum() / pixels
            return sum(found.values()), found  # type: ignore[return-value]

        result = _minimize(x.clone(), loss_of, None, iterations, None,
                           _Pass(self.callback, iterations, 1.0, self.start, "maintain"), self.cancel)
        return result.clamp(0, 1), first

    def settle(self, x: torch.Tensor, content: torch.Tensor, hold: torch.Tensor, iterations: int,
               region: torch.Tensor) -> torch.Tensor:
        """The whole loss (content, style, temporal to ``x`` as it is, weighted by ``hold``
        (1, 1, H, W)) at half size for a few iterations; what it changes is added to ``x`` at
        full size inside ``region`` (1, 1, H, W) in [0, 1]."""
        cfg = self.stylizer.config
        height, width = x.shape[-2:]
        h2, w2 = height // 2, width // 2
        small_x = resize_tensor(x, h2, w2).clamp(0, 1)
        small_content = resize_tensor(content, h2, w2)
        small_hold = torch.nn.functional.adaptive_avg_pool2d(hold, (h2, w2))
        targets = self.targets(h2, w2)
        with torch.no_grad():
            content_features = self.stylizer.vgg(small_content, tuple(cfg.content_layers), dtype=self.dtype)
        network = NetworkLoss(self.stylizer.vgg, self.dtype, content_features=content_features,
                              content_weights=self.content_weights, targets=targets,
                              style_weights=self.style_weights)
        anchor, pixels = small_x.clone(), h2 * w2

        def loss_of(image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            content_term, style_term = network(image)
            found = {"content": content_term, "style": style_term}
            if self.temporal_weight > 0:
                found["extra"] = self.temporal_weight * (small_hold * (image - anchor).pow(2)).sum() / pixels
            return sum(found.values()), found  # type: ignore[return-value]

        cost = self.share(h2, w2)
        self.report_forward(self.share(h2, w2, tuple(cfg.content_layers), forward_only=True))
        painted = _minimize(small_x.clone(), loss_of, None, iterations, None,
                            _Pass(self.callback, iterations, cost, self.start, "settle"), self.cancel)
        change = resize_tensor(painted - small_x, height, width)
        return (x + change * region).clamp(0, 1)

    def detail(self, x: torch.Tensor, layers: tuple[str, ...], iterations: int, *, weight: float = 1.0,
               hold: float = 1.0) -> torch.Tensor:
        """A few iterations of the whole picture through ``layers`` (the first ones) alone:
        their style terms against the temporal loss to ``x`` as it is."""
        height, width = x.shape[-2:]
        pixels = height * width
        targets = self.targets(height, width)
        network = NetworkLoss(self.stylizer.vgg, self.dtype, content_features={}, content_weights={},
                              targets={n: targets[n] for n in layers},
                              style_weights={n: weight * self.style_weight
                                             * self.layer_weights.get(n, 1 / len(self.layer_weights))
                                             * self.layer_scale.get(n, 1.0) for n in layers})
        anchor, temporal = x.clone(), self.temporal_weight * hold

        def loss_of(image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            _, style_term = network(image)
            found = {"style": style_term}
            if temporal > 0:
                found["extra"] = temporal * (image - anchor).pow(2).sum() / pixels
            return sum(found.values()), found  # type: ignore[return-value]

        cost = self.share(height, width, layers)
        return _minimize(x.clone(), loss_of, None, iterations, None,
                         _Pass(self.callback, iterations, cost, self.start, "detail"), self.cancel).clamp(0, 1)


def paint_frame(stylizer: Stylizer, content: torch.Tensor, previous: torch.Tensor, flow: FlowResult, *,
                temporal_weight: float, warp_kernel: str = "lanczos", layer_scale: Mapping[str, float] | None = None, look: Look | None = None,
                callback: ProgressCallback | None = None, settings: PaintSettings | None = None,
                number: int = 0) -> torch.Tensor:
    """A later frame from the ``previous`` result (1, 3, H, W) and the ``flow`` from it: its
    new and changed ground painted in crops, then the whole of it kept sharp (see the module).
    ``content`` is the frame (1, 3, H, W) in [0, 1]. Returns (1, 3, H, W) in [0, 1]."""
    settings = settings or SETTINGS
    height, width = content.shape[-2:]
    plan = plan_frame(flow, settings)
    warped = backward_warp(previous, flow.backward, kernel=warp_kernel).clamp(0, 1)
    texture = None
    if settings.fill in ("textured", "reflect") and plan.revealed.any():
        outside = torch.from_numpy(outside_mask(flow.backward)).to(previous.device)[None, None]
        mirrored = reflected_warp(previous, flow.backward)
        texture = high_pass(mirrored) * outside
    x = fill_revealed(warped, content, plan, "matched" if settings.fill == "reflect" else settings.fill,
                      texture).clamp(0, 1).contiguous()
    if settings.fill == "reflect" and texture is not None:
        x = torch.where(outside, mirrored, x)
    painter = _Painter(stylizer, temporal_weight=temporal_weight, layer_scale=layer_scale or {},
                       look=look or Look(), callback=callback, frame=(height, width))
    reliable = torch.from_numpy(np.ascontiguousarray(flow.mask, dtype=np.float32)).to(x.device)[None, None]
    hold = np.where(plan.paint, 0.0, np.where(plan.grown, settings.grow_hold,
                                              np.where(plan.young, settings.young_hold, 1.0))).astype(np.float32)
    served = reliable * torch.from_numpy(hold).to(x.device)[None, None]
    if settings.settle_iterations and min(height, width) >= 64:
        region = settle_region(flow, plan, settings)
        held = reliable * torch.from_numpy((~plan.revealed).astype(np.float32)).to(x.device)[None, None]
        if region.mean() > SETTLE_WHOLE:
            x = painter.settle(x, content, held, settings.settle_iterations,
                               torch.ones(1, 1, height, width, device=x.device))
        elif region.any():
            crops = plan_crops(region, cell=2 * settings.cell, halo=0)
            x = painter.coarse(x, content, crops, [settings.settle_iterations] * len(crops), held, settings)
    sums = None
    if settings.maintain_iterations:
        region = maintain_region(flow, plan, settings)
        held = reliable * torch.from_numpy((~plan.revealed).astype(np.float32)).to(x.device)[None, None]
        if region.mean() > SETTLE_WHOLE:
            x, sums = painter.maintain(x, content, held, settings.maintain_iterations)
        elif region.any():
            crops = plan_crops(region, cell=settings.cell, halo=0)
            x = painter.crops(x, content, crops, [settings.maintain_iterations] * len(crops), held,
                              settings.stop_decrease)
    if settings.new_only and sums is not None:
        keep = [i for i, new in enumerate(plan.new_ground) if new]
        plan = replace(plan, crops=tuple(plan.crops[i] for i in keep), new_ground=tuple(True for _ in keep))
    if plan.crops:
        if settings.coarse_iterations and any(plan.new_ground) and min(height, width) >= 64:
            steps = [settings.coarse_iterations if new else 0 for new in plan.new_ground]
            x = painter.coarse(x, content, plan.crops, steps, served, settings)
        steps = crop_iterations(plan, painter, settings)
        if any(steps):
            paint = torch.from_numpy(plan.paint).to(x.device)[None, None] if settings.free == "paint" else None
            holds = [settings.core_hold if new else 1.0 for new in plan.new_ground]
            x = painter.crops(x, content, plan.crops, steps, served, settings.stop_decrease, paint, holds,
                              list(plan.new_ground), settings.margin, sums)
    if settings.refresh_bands and settings.refresh_iterations:
        band = grid_of(height, width, 1, settings.refresh_bands, 0)[number % settings.refresh_bands]
        x = painter.crops(x, content, (band,), [settings.refresh_iterations], served, settings.stop_decrease)
    if settings.detail_iterations and settings.detail_layers and warp_blur(flow.backward) >= settings.detail_blur:
        x = painter.detail(x, tuple(settings.detail_layers), settings.detail_iterations,
                           weight=settings.detail_weight, hold=settings.detail_hold)
    return x.clamp(0, 1)


def maintain_region(flow: FlowResult, plan: FramePlan, settings: PaintSettings) -> np.ndarray:
    """(H, W) bool: the cells where carrying the previous result along the flow is not exact
    (resampling blurs it, or the flow stretches or shears it) or the colour changed."""
    back = flow.backward
    offset = np.abs(back - np.round(back))
    blur = np.mean(1 - np.cos(np.pi * offset), axis=2)
    strain = np.zeros(back.shape[:2], np.float32)
    for c in range(2):
        gy, gx = np.gradient(back[..., c])
        strain = np.maximum(strain, np.maximum(np.abs(gx), np.abs(gy)))
    wanted = (blur >= settings.maintain_blur) | (strain >= settings.maintain_strain) | plan.paint
    return _cells(wanted, settings.cell)


def _cells(wanted: np.ndarray, cell: int) -> np.ndarray:
    """``wanted`` (H, W) bool grown to the ``cell``-px grid cells that hold any of it."""
    h, w = wanted.shape
    rows, cols = -(-h // cell), -(-w // cell)
    padded = np.zeros((rows * cell, cols * cell), bool)
    padded[:h, :w] = wanted
    cells = padded.reshape(rows, cell, cols, cell).any(axis=(1, 3))
    return np.repeat(np.repeat(cells, cell, axis=0), cell, axis=1)[:h, :w]


def settle_region(flow: FlowResult, plan: FramePlan, settings: PaintSettings) -> np.ndarray:
    """(H, W) bool: the cells where the picture moves or changed, which the half-size pass
    corrects (a still background is left alone)."""
    moving = np.hypot(flow.backward[..., 0], flow.backward[..., 1]) >= settings.settle_motion
    wanted = moving | plan.paint
    cell = settings.cell
    h, w = wanted.shape
    rows, cols = -(-h // cell), -(-w // cell)
    padded = np.zeros((rows * cell, cols * cell), bool)
    padded[:h, :w] = wanted
    cells = padded.reshape(rows, cell, cols, cell).any(axis=(1, 3))
    cells = cv2.dilate(cells.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return np.repeat(np.repeat(cells, cell, axis=0), cell, axis=1)[:h, :w]


def crop_iterations(plan: FramePlan, painter: _Painter, settings: PaintSettings) -> list[int]:
    """L-BFGS iterations per crop. A crop of changed colours gets ``changed_iterations``; new
    ground gets work in proportion to its area, as a first frame spends on the whole picture:
    ``new_work`` full-frame evaluations per unit of the picture's area that came into view,
    shared among the crops by the new pixels each holds, turned into iterations at the crop's
    cost (about EVALUATIONS_PER_ITERATION each), within ``revealed_iterations`` and
    ``most_iterations``."""
    height, width = plan.paint.shape
    new = plan.revealed | plan.young
    counts = [int(new[t.y0:t.y1, t.x0:t.x1].sum()) for t in plan.crops]
    budget = settings.new_work * new.mean()
    steps = []
    for tile, is_new, count in zip(plan.crops, plan.new_ground, counts, strict=True):
        if not is_new:
            steps.append(settings.changed_iterations)
            continue
        share = painter.share(tile.ty1 - tile.ty0, tile.tx1 - tile.tx0)
        mine = budget * count / max(1, sum(counts))
        wanted = round(mine / (share * EVALUATIONS_PER_ITERATION))
        steps.append(max(settings.revealed_iterations, min(settings.most_iterations, wanted)))
    return steps


def with_settings(**changes: object) -> PaintSettings:
    """SETTINGS with some fields changed (for experiments)."""
    return replace(SETTINGS, **changes)  # type: ignore[arg-type]
