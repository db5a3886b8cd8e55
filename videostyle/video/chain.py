"""The one frame loop, and the hand-over between two segments of a shot.

:func:`stylize_segment` is the frame loop: original frames in, finished frames out, each
with the float state the next frame (or a resumed run) starts from. The local run (one
segment: the whole clip) and every distributed worker call it; nothing else walks frames.

Inside a shot, segment k+1 starts afresh without knowing how segment k ended;
:func:`stylize_bridge` hides that seam. It restylizes the first ``overlap`` frames of
segment k+1 starting from segment k's last result, each frame a blend (Ruder et al.'s
multi-pass blend, weighted by the flow's reliability) that closes the gap between segment
k's look and segment k+1's own frames in equal steps (see :func:`_share`). Measured
against the alternative of a low-resolution guide pass in ``scripts/bench_distributed.py``
(docs/benchmarks.md, "Distributed").
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..config import TemporalConfig
from ..engine.devices import spare_cores
from ..engine.flow import FlowEstimator, FlowStep, flow_and_cut, flow_between
from ..engine.optimize import Progress, Stylizer
from ..engine.targets import TargetsFunction
from ..engine.temporal import TemporalStylizer
from ..engine.tensors import float_to_frame

FLOW_LOOKAHEAD = 2  # frame pairs whose flow is computed ahead of the optimizer, per flow worker
FLOW_MAX_WORKERS = 4  # DIS calls at once, at most (each direction of a pair is one)


def flow_workers(stylizer: Stylizer) -> int:
    """Threads for optical flow: the cores the optimizer leaves spare, 1 to FLOW_MAX_WORKERS."""
    return min(FLOW_MAX_WORKERS, spare_cores(stylizer.compute))

SegmentCallback = Callable[[int, Progress], None]
"""Receives (frame index, optimizer progress) after every loss evaluation."""


@dataclass(frozen=True)
class SegmentState:
    """Where a chain of frames stands: the float results of its last frames, newest first,
    (H, W, 3) float32 in [0, 1], and how many frames after the last (re)start the newest is."""

    results: tuple[np.ndarray, ...]
    since_restart: int


@dataclass(frozen=True)
class SegmentFrame:
    """One finished frame of a segment."""

    index: int  # 0-based frame index in the clip
    image: np.ndarray  # (H, W, 3) uint8 RGB: what is written
    state: np.ndarray  # (H, W, 3) float32 in [0, 1]: what the next frame starts from
    since_restart: int  # 1 for a frame stylized from scratch, 2 for the next, ...
    cut: bool  # a scene cut was found before this frame and the chain restarted
    seconds: float  # wall time spent on this frame
    flow_wait: float = 0.0  # waited for its optical flow before that (not in ``seconds``)
    cost: float = 0.0  # the network's work on it, in full-frame evaluations (Progress.cost summed)


def stylize_segment(stylizer: Stylizer, frames: Iterable[np.ndarray], *, config: TemporalConfig | None = None,
                    first: int = 0, begin: int | None = None, stop: int | None = None,
                    state: SegmentState | None = None, start_iterations: int | None = None,
                    progress: SegmentCallback | None = None, looks: TargetsFunction | None = None
                    ) -> Iterator[SegmentFrame]:
    """Stylize frames in order and yield each as it is finished.

    ``frames`` are the original (H, W, 3) uint8 RGB frames, the first being frame
    ``first`` of the clip. Frames before ``begin`` (default ``first``) are context only:
    the flow to frame ``begin`` (and long-term flows) starts from them. Frames from
    ``begin`` up to ``stop`` (default: the end of ``frames``) are stylized. ``state`` is
    the chain's state after frame ``begin - 1`` (a resumed segment); without it frame
    ``begin`` starts afresh. Optical flow for the next frames is computed in a worker
    thread while the optimizer runs; a scene cut inside the frames restarts the chain.
    ``start_iterations``: the budget of frame ``begin`` when it starts afresh, instead of
    ``first_iterations`` (a segment inside a shot, whose first frames a bridge replaces).
    ``looks`` gives each frame's targets by its index (a style schedule, a mask).
    """
    cfg = config or TemporalConfig()
    begin = first if begin is None else begin
    temporal = TemporalStylizer(stylizer, cfg)
    if state is not None and state.results:
        temporal.restore(state.results, state.since_restart)
    needs_flow = cfg.mode == "flow" or cfg.detect_cuts
    long_term = cfg.long_term if cfg.mode == "flow" else ()
    # Frames' flows are computed ahead by one thread per spare core, each frame's two
    # directions at once on a second pool (DIS releases the GIL): the optimizer never
    # waits while the flow keeps pace with it (scripts/bench_flow.py).
    workers = flow_workers(stylizer)
    lookahead = FLOW_LOOKAHEAD * workers
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flow") as pool, \
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dis") as dis:
        estimator = FlowEstimator()
        pending: deque[tuple[int, np.ndarray, Future[FlowStep] | None]] = deque()
        originals: deque[np.ndarray] = deque(maxlen=cfg.history)  # newest first
        for index, frame in enumerate(frames, start=first):
            if stop is not None and index >= stop:
                break
            if index >= begin:
                job = None
                if needs_flow and originals:
                    job = pool.submit(flow_and_cut, list(originals), frame, long_term=long_term,
                                      estimator=estimator, executor=dis)
                pending.append((index, frame, job))
            originals.appendleft(frame)
            if len(pending) > lookahead:
                yield _stylize_frame(temporal, *pending.popleft(), progress, start_iterations, begin, looks)
        while pending:
            yield _stylize_frame(temporal, *pending.popleft(), progress, start_iterations, begin, looks)


def _stylize_frame(temporal: TemporalStylizer, index: int, frame: np.ndarray, job: Future[FlowStep] | None,
                   progress: SegmentCallback | None, start_iterations: int | None, begin: int,
                   looks: TargetsFunction | None = None) -> SegmentFrame:
    waited = time.perf_counter()
    step = job.result() if job is not None else None
    waited = time.perf_counter() - waited
    flow, long_flows = (step.flow, step.long_flows) if step is not None else (None, {})
    cut = step is not None and step.cut and temporal.config.detect_cuts  # flow mode measures one anyway
    started = time.perf_counter()
    spent = [0.0]

    def callback(p: Progress) -> None:
        spent[0] += p.cost
        if progress is not None:
            progress(index, p)

    fresh = index == begin and temporal.previous is None
    result = temporal.next(frame, flow, cut=cut, callback=callback, long_flows=long_flows,
                           iterations=start_iterations if fresh else None,
                           targets=None if looks is None else looks(index),
                           previous_targets=None if looks is None or index == 0 else looks(index - 1))
    return SegmentFrame(index=index, image=float_to_frame(result), state=result,
                        since_restart=temporal.since_restart, cut=cut, seconds=time.perf_counter() - started,
                        flow_wait=waited, cost=spent[0])


def stylize_bridge(stylizer: Stylizer, frames: Sequence[np.ndarray], drafts: Sequence[np.ndarray],
                   previous: np.ndarray, *, config: TemporalConfig | None = None, first: int = 0,
                   iterations: int = 3, progress: SegmentCallback | None = None,
                   looks: TargetsFunction | None = None) -> Iterator[SegmentFrame]:
    """Hand segment k over to segment k+1: restylize k+1's first frames from k's last result.

    ``frames`` are the originals of frames ``first - 1`` (segment k's last) to
    ``first + L - 1``; ``drafts`` are segment k+1's own L results for frames ``first`` to
    ``first + L - 1`` (uint8 RGB); ``previous`` is segment k's last float result. Bridge
    frame j starts from the previous bridge frame warped along the flow, blended with
    draft j at share 1 / (L + 1 - j) where the flow is reliable and replaced by it where
    it is not, and is held to that blend by the temporal loss. So the gap between segment
    k's look and segment k+1's closes in L + 1 equal steps and frame ``first + L`` (segment k+1's
    own) follows without a jump. ``iterations`` per bridge frame restore the strokes that
    blending two paintings softens. ``looks`` gives each frame's targets by its index, as in
    :func:`stylize_segment`. Yields the L final frames.
    """
    yield from _hand_over(stylizer, frames, drafts, previous, config=config, iterations=iterations,
                          indices=range(first, first + len(drafts)), looks=looks, progress=progress)


def _share(j: int, steps: int) -> float:
    """Draft j's share in bridge frame j: 1 / (L + 1 - j). Each bridge frame blends with the
    previous one, so these shares close what is left of the gap in L + 1 equal steps
    (1/5, 1/4, 1/3, 1/2 for L = 4: a fifth of the gap each time). Shares growing linearly,
    (j + 1) / (L + 1), close it unevenly: measured on cockatoo.mp4 (L = 4, 160 px), the
    largest boundary pair's E_warp was 7.9x the median pair against 3.6x with these."""
    return 1.0 / (steps + 1 - j)


def stylize_loop_end(stylizer: Stylizer, frames: Sequence[np.ndarray], drafts: Sequence[np.ndarray],
                     first: np.ndarray, *, config: TemporalConfig | None = None, iterations: int = 3,
                     indices: Sequence[int], looks: TargetsFunction | None = None,
                     progress: SegmentCallback | None = None) -> Iterator[SegmentFrame]:
    """Hand the end of a looping clip over to its start (``seamless_loop``): the bridge of
    :func:`stylize_bridge` run backwards in time from the first frame.

    ``frames`` are the originals of the clip's first frame, then its last, second last, ...
    (L + 1 of them); ``drafts`` the chain's own results of those L last frames (in that
    order, uint8 RGB); ``first`` the first frame's result (float or uint8). The last frame
    starts from the first frame's result warped along the flow from the first original frame
    to the last, blended with its own result at share 1 / (L + 1) everywhere (also where the
    flow is unreliable, see below), the one before from that
    at share 1 / L, and so on: the wrap pair (last -> first) is as steady as a pair of the
    chain, and the gap closes in L + 1 equal steps towards frame ``indices[-1] - 1``, the
    chain's own. ``indices`` label the L frames (the last frame's first). Yields them.
    """
    # The last frame is blended towards the first frame's warped result everywhere, not only
    # where the flow vouches for the warp: elsewhere it would be its own chain's result
    # alone, unrelated to frame 1's paint. On newtonscradle.gif (160 px) 62% of the wrap
    # pair's error under an independent flow sat in the 5% of pixels the flow called
    # unreliable; blending them took the wrap pair from 3.3x the median pair to 1.6x (the
    # pair before it from 2.2x to 2.6x).
    yield from _hand_over(stylizer, frames, drafts, first, config=config, iterations=iterations, indices=indices,
                          looks=looks, progress=progress, blend_first_everywhere=True)


def _hand_over(stylizer: Stylizer, frames: Sequence[np.ndarray], drafts: Sequence[np.ndarray],
               start: np.ndarray, *, config: TemporalConfig | None, iterations: int, indices: Sequence[int],
               looks: TargetsFunction | None, progress: SegmentCallback | None,
               blend_first_everywhere: bool = False) -> Iterator[SegmentFrame]:
    """The chain from ``start`` (a float or uint8 result of ``frames[0]``) through
    ``frames[1:]``, frame j blended towards ``drafts[j]`` at :func:`_share` (see
    :func:`stylize_bridge`); ``blend_first_everywhere`` blends the first of them also where
    the flow is unreliable (see :func:`stylize_loop_end`)."""
    cfg = dataclasses.replace(config or TemporalConfig(), mode="flow", long_term=(), detect_cuts=False)
    temporal = TemporalStylizer(stylizer, cfg)
    temporal.restore([start], 2)  # any count > 0: the chain continues
    estimator = FlowEstimator()
    steps = len(drafts)
    for j, (draft, index) in enumerate(zip(drafts, indices, strict=True)):
        flow = flow_between(frames[j], frames[j + 1], estimator)
        if j == 0 and blend_first_everywhere:
            flow = dataclasses.replace(flow, mask=np.ones_like(flow.mask))
        started = time.perf_counter()
        callback = None if progress is None else (lambda p, i=index: progress(i, p))
        result = temporal.next(frames[j + 1], flow, callback=callback, toward=(draft, _share(j, steps)),
                               iterations=iterations, targets=None if looks is None else looks(index))
        yield SegmentFrame(index=index, image=float_to_frame(result), state=result, since_restart=0, cut=False,
                           seconds=time.perf_counter() - started)
