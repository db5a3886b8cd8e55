"""Multi-pass (Ruder, Dosovitskiy & Brox 2016, section 3.4): after the first pass over the
clip, more passes alternately backwards and forwards, each frame blended with its warped
neighbours on both sides (the passes setting).

A chain only ever looks back: frame t knows nothing of frame t+1, so what changes along a
clip is settled by whichever frame came first. Each later pass takes every frame again, in
the other direction from the pass before, as the blend of

* its own result from the pass before (weight 1),
* its neighbour in this pass's direction, already made in this pass, warped onto it,
* its neighbour on the other side, from the pass before, warped onto it,

each neighbour weighted 1 where its warp is followed (:func:`followed`: the two flows agree
and the warp stays inside the picture) and 0 elsewhere and across a scene cut: a temporal
filter along the optimizer's flow. In a seamless loop the last frame and the first are
neighbours too (:func:`sides`). Ruder et al. blend the previous pass's result
and one neighbour half and half and then optimize the frame from that blend, held to it by
the temporal loss; here both neighbours join, a third each where both warps hold, and the
blend is the frame unless ``pass_iterations`` asks for optimizer steps from it (which
hold the style of one pass exactly but keep less of the gain: the strokes the optimizer
restores are new in each frame). Keyframes
(``keyframes.py``) stay as they are and pull their neighbours towards them.

The passes reuse the frames already made: pass p reads pass p-1's finished frames and
writes its own as drafts; when it ends they replace the finished ones (renames), and a
record in the work folder (``passes.json``) says how far the passes got, so an interrupted
pass resumes where it stopped, and a rerun with more passes starts from the last one done.

Measured (scripts/bench_keyframes.py, cockatoo.mp4, 48 frames at 160 px, The Starry Night):
a second pass lowered E_warp under the independent flow by 8.1% (Gram distance +1.7%) with
no loss evaluations, a third by 10.9% (+2.9%); a second pass of 4 optimizer steps a frame
by 5.7% at the same Gram distance, for 43% more evaluations. Weighted by the temporal
loss's reliability mask instead, which also drops "motion boundaries" (17% of the pixels
there), the blend gained 3.9%. The issue asked for 15%: along the optimizer's flow one pass
is already nearly as steady as a pair moved exactly along a known motion, and a more
accurate flow than the optimizer's makes the judge read worse; what the judge reads is
mostly its own flow's error (docs/keyframes.md, "Passes").
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from ..config import TemporalConfig
from ..engine.flow import (
    CONSISTENCY_OFFSET,
    CONSISTENCY_RATIO,
    FlowEstimator,
    FlowResult,
    is_scene_cut,
    reliability_mask,
    warp,
)
from ..engine.optimize import Progress, Stylizer
from ..engine.targets import FrameTargets, TargetsFunction
from ..engine.temporal import TemporalStylizer
from ..engine.tensors import float_to_frame
from ..errors import BadOption, S
from ..io import VideoInfo
from .keyframes import warp_result
from .originals import ClipFrames
from .report import RunReport
from .workdir import WorkDir

FLOW_AHEAD = 2  # frames whose flows are computed ahead of the optimizer


def passes_done(work: WorkDir) -> tuple[int, int]:
    """(the last pass whose frames are all finished, frames of the pass after it made so far)."""
    record = work.read_passes()
    if record is None:
        return 1, 0
    if record.get("promoted"):
        return record["pass"], 0
    return record["pass"] - 1, int(record.get("done", 0))


def check_passes(work: WorkDir, passes: int) -> None:
    """Refuse fewer passes than the work folder's frames have had (before any work)."""
    done, made = passes_done(work)
    reached = done + (1 if made else 0)
    if reached > passes:
        raise BadOption(S.passes, f" {passes}: the work folder {work.path} holds frames of pass {reached}; give ",
                        S.passes, f" {reached} or more to use them, or ", S.restart, " to start over")


def pass_order(p: int, count: int, fixed: set[int]) -> list[int]:
    """The frames pass ``p`` (2, 3, ...) makes, in order: backwards for even passes."""
    order = range(count - 1, -1, -1) if p % 2 == 0 else range(count)
    return [i for i in order if i not in fixed]


def sides(index: int, step: int, count: int, *, loop: bool = False) -> list[tuple[int, bool]]:
    """Frame ``index``'s neighbours in a pass walking by ``step`` over ``count`` frames, each with
    whether it is made in this pass before it (the one behind) or is the pass before's (the
    one ahead). In a seamless loop the first and the last frame are neighbours as well (the
    wrap is taken from the pass before whichever side it is on)."""
    found = []
    for side, this_pass in ((index - step, True), (index + step, False)):
        if 0 <= side < count:
            found.append((side, this_pass))
        elif loop and count > 2:
            found.append((side % count, False))
    return found


def blend_guide(own: np.ndarray, neighbours: list[tuple[np.ndarray, np.ndarray]], *,
                own_weight: float = 1.0) -> np.ndarray:
    """The start and temporal target of a frame in a later pass: its own result from the pass
    before (weight ``own_weight``) and each warped neighbour (H, W, 3) with its reliability (H, W)
    as weight; where no weight is left, its own result."""
    total = own_weight * own.astype(np.float32)
    weight = np.full(own.shape[:2], own_weight, np.float32)
    for warped, mask in neighbours:
        total += mask[..., None] * warped
        weight += mask
    blended = total / np.maximum(weight, 1e-6)[..., None]
    return np.where(weight[..., None] > 1e-6, blended, own).astype(np.float32)


def followed(flow: FlowResult) -> np.ndarray:
    """A neighbour's weight in the blend, (H, W) float32: 1 where its warp onto the frame stays
    inside the picture and the two flows agree (the round trip of :func:`reliability_mask`),
    else 0. Unlike that mask, large flow gradients ("motion boundaries") are not excluded: on
    cockatoo.mp4 at 160 px that test marks 17% of the pixels, mostly where the camera shakes,
    against 4% the round trip rejects, and a pixel no neighbour joins keeps its own flicker."""
    backward, forward = flow.backward, flow.forward
    height, width = backward.shape[:2]
    forward_here = warp(forward, backward)
    round_trip = np.sum((forward_here + backward) ** 2, axis=2)
    magnitudes = np.sum(forward_here**2, axis=2) + np.sum(backward**2, axis=2)
    agree = round_trip <= CONSISTENCY_RATIO * magnitudes + CONSISTENCY_OFFSET
    xs = np.arange(width, dtype=np.float32) + backward[..., 0]
    ys = np.arange(height, dtype=np.float32)[:, None] + backward[..., 1]
    inside = (xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)
    return (agree & inside).astype(np.float32)


class _Flows:
    """DIS flows between frames of a clip, each direction once: a frame pair's two fields serve
    both the frame and its neighbour. Computed ahead in worker threads."""

    def __init__(self, originals: ClipFrames, pool: ThreadPoolExecutor) -> None:
        self.originals, self.pool = originals, pool
        self.estimator = FlowEstimator()
        self.fields: dict[tuple[int, int], Future[np.ndarray]] = {}

    def want(self, a: int, b: int) -> None:
        """Start the flow from frame ``a`` to ``b`` (a(p) ≈ b(p + flow(p))) and back."""
        for key in ((a, b), (b, a)):
            if key not in self.fields:
                self.fields[key] = self.pool.submit(self.estimator, self.originals[key[0]], self.originals[key[1]])

    def pair(self, frame: int, neighbour: int) -> FlowResult:
        """What warping ``neighbour``'s result onto ``frame`` needs (as ``flow_between`` gives it)."""
        self.want(frame, neighbour)
        backward, forward = self.fields[(frame, neighbour)].result(), self.fields[(neighbour, frame)].result()
        return FlowResult(backward=backward, forward=forward, mask=reliability_mask(forward, backward))

    def forget_before(self, keep: set[int]) -> None:
        self.fields = {k: v for k, v in self.fields.items() if k[0] in keep and k[1] in keep}


def run_passes(stylizer: Stylizer, config: TemporalConfig, info: VideoInfo, *, count: int, passes: int,
               work: WorkDir, report: RunReport, opener: Callable[[], object], iterations: int = 0,
               looks: TargetsFunction | None = None, fixed: set[int] | None = None, loop: bool = False) -> None:
    """Passes 2..``passes`` over the ``count`` finished frames of the work folder (see the
    module's docstring); each frame is its blend (``iterations`` 0) or that many optimizer
    steps from it; ``fixed`` frames (keyframes) are never made again; ``loop``: the clip is a
    seamless loop, its last frame and its first are neighbours (:func:`sides`)."""
    done, made = passes_done(work)
    if done >= passes or count < 2:
        return
    fixed = fixed or set()
    # each frame starts from a blend of its neighbours' warps, which no flow carries exactly:
    # painted "where changed" (paint="changed") it would be served as it is, never optimized
    cfg = dataclasses.replace(config, mode="flow", long_term=(), detect_cuts=False, paint="whole")
    with ClipFrames(opener, frame_bytes=info.width * info.height * 3) as originals, \
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="flow") as pool:
        for p in range(done + 1, passes + 1):
            if made == 0:
                for index in work.drafts():  # left by a chain that finished: never a pass's
                    work.discard_draft(index)
                work.write_passes({"pass": p, "done": 0})
            _one_pass(stylizer, cfg, p, count, made, originals, _Flows(originals, pool), work, report, looks, fixed,
                      iterations, loop)
            for index in pass_order(p, count, fixed):
                if work.draft_path(index).exists():
                    work.promote_draft(index)
            work.write_passes({"pass": p, "done": len(pass_order(p, count, fixed)), "promoted": True})
            made = 0


def _one_pass(stylizer: Stylizer, cfg: TemporalConfig, p: int, count: int, made: int, originals: ClipFrames,
              flows: _Flows, work: WorkDir, report: RunReport, looks: TargetsFunction | None,
              fixed: set[int], iterations: int, loop: bool) -> None:
    order = pass_order(p, count, fixed)
    step = -1 if p % 2 == 0 else 1
    originals.step = step
    temporal = TemporalStylizer(stylizer, cfg) if iterations else None
    current: dict[int, np.ndarray] = {}  # this pass's float results of the last frames made

    def made_in_this_pass(index: int) -> np.ndarray:
        if index in current:
            return current[index]
        if index in fixed:
            return work.load_frame(index).astype(np.float32) / 255
        saved = work.load_state(index)
        if saved is not None:
            return saved[0]
        draft = work.load_draft(index)
        return (draft if draft is not None else work.load_frame(index)).astype(np.float32) / 255

    for n, index in enumerate(order):
        if n < made:
            continue
        for ahead in order[n: n + FLOW_AHEAD + 1]:
            for side, _ in sides(ahead, step, count, loop=loop):
                flows.want(ahead, side)
        report.check()
        own = work.load_frame(index).astype(np.float32) / 255  # the pass before's
        neighbours: list[tuple[np.ndarray, np.ndarray]] = []
        for side, this_pass in sides(index, step, count, loop=loop):
            flow = flows.pair(index, side)
            result = made_in_this_pass(side) if this_pass else work.load_frame(side).astype(np.float32) / 255
            cut = is_scene_cut(originals[side], originals[index], flow=flow)
            mask = np.zeros_like(flow.mask) if cut else followed(flow)
            neighbours.append((warp_result(result, flow, cfg.warp_kernel), mask))
        guide = blend_guide(own, neighbours)
        started = time.perf_counter()

        def progress(evaluation: Progress, index: int = index, made: int = n) -> None:
            report.pass_progress(p, index, made, len(order), step=evaluation)

        if temporal is None:
            result = guide  # the blend is the frame: no optimization (see the module's docstring)
        else:
            result = _restore_style(temporal, guide, originals[index], iterations, progress,
                                    targets=None if looks is None else looks(index))
        work.save(index, float_to_frame(result), result, draft=True)  # its state: where a resume continues
        work.write_passes({"pass": p, "done": n + 1})
        current = {index: result}
        report.pass_progress(p, index, n + 1, len(order), image=float_to_frame(result),
                             seconds=time.perf_counter() - started)
        if n >= 2:
            work.discard_state(order[n - 2])
        flows.forget_before({x for o in order[n: n + FLOW_AHEAD + 2]
                             for x in (o, *(side for side, _ in sides(o, step, count, loop=loop)))})


def _restore_style(temporal: TemporalStylizer, guide: np.ndarray, frame: np.ndarray, iterations: int,
                   progress: Callable[[Progress], None], *, targets: FrameTargets | None) -> np.ndarray:
    """``iterations`` optimizer steps from ``guide``, held to it everywhere by the temporal loss."""
    # the guide is the start and, everywhere, the temporal target (its own result is valid
    # everywhere): a still "flow" over it says exactly that
    temporal.restore([guide], 2)
    height, width = guide.shape[:2]
    still = FlowResult(backward=np.zeros((height, width, 2), np.float32),
                       forward=np.zeros((height, width, 2), np.float32), mask=np.ones((height, width), np.float32))
    return temporal.next(frame, still, iterations=iterations, callback=progress, targets=targets)
