"""One video job over many workers: segments of the clip stylized by Ray actors.

This is the only module that imports Ray, and it does so when a job asks for workers
(``pip install "videostyle[ray]"``). The driver (this process):

1. reads the clip once, puts its frames into Ray's object store in chunks (no shared
   filesystem is assumed) and finds the scene cuts on the way (histograms; the flow
   only where the colours changed);
2. plans segments (:func:`plan.plan_segments`) and starts on idle actors what the
   :class:`schedule.Scheduler` says: each unfinished segment from its first unfinished
   frame, and the hand-over bridges (``chain.stylize_bridge``) as soon as both segments
   they join are far enough (the scheduling is there, Ray-free; this module is transport);
3. receives finished frames as each actor yields them (Ray streaming generators), tells
   the scheduler, writes them to the work folder it alone holds, and reports progress over
   all workers.

A keyframe run (``keyframes.py``) is split by its keyframes instead: each piece from a
keyframe or a shot's start is one task (:class:`RayKeyframes`), run by the keyframe runner's
own code on the worker against a copy of what the work folder holds of it.

Each actor loads VGG19 and the style targets once and stylizes segment after segment,
computing the optical flow itself. An actor that dies (killed process, lost node) is
restarted by Ray (``max_restarts``) and its running segment retried (``max_task_retries``):
the streaming generator is replayed, and frames the driver already has are not sent
twice. Ctrl-C cancels the tasks and keeps every finished frame; a rerun resumes.
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import SegmentConfig, StyleConfig, TemporalConfig
from ..engine.cancel import Cancelled
from ..engine.flow import FlowEstimator, is_scene_cut
from ..engine.optimize import Style
from ..engine.targets import TargetsFunction
from ..errors import BadOption, S, VideostyleError
from ..io import VideoInfo
from .chain import SegmentFrame, SegmentState, stylize_bridge, stylize_segment
from .keyframes import KeyframeRunner, Piece, piece_span, plan_pieces, save_keyframes
from .plan import Segment, plan_segments
from .report import NoFrames, RunReport
from .schedule import Scheduler, Task
from .workdir import WorkDir

if TYPE_CHECKING:
    from .keyframes import ClipKeyframes, KeyframeTargets

RAY_INSTALL = 'pip install "videostyle[ray]"'
CHUNK_FRAMES = 16  # frames per object in the object store
ACTOR_RESTARTS = 4  # a worker process that dies is started again this many times
TASK_RETRIES = 4  # ... and the segment it was on is retried
MIN_OBJECT_STORE = 96 * 2**20  # bytes
MAX_OBJECT_STORE = 4 * 2**30  # beyond this Ray spills to disk
CONNECT_TIMEOUT = 5.0  # seconds to look up a Ray address, and as many to reach it (Ray itself retries ~150 s)


class WorkerLost(VideostyleError):
    """The Ray workers failed beyond their restarts; the finished frames are kept."""

    exit_code = 1


def import_ray(workers: int | None = None) -> Any:
    """The ``ray`` module, or BadOption saying how to install it."""
    try:
        import ray
    except ImportError:
        what = (S.workers, f" {workers}") if workers else (S.ray_address,)
        raise BadOption(*what, f": running on several workers needs Ray: {RAY_INSTALL}") from None
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise BadOption, within about ``2 * timeout`` seconds, when a ``host:port`` Ray address
    (or ``ray://host:port``) does not resolve or nothing accepts a connection there.

    ``ray.init`` would retry an unreachable head for minutes; this says so at once. An
    address without a port (``auto``) is left to Ray.
    """
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    host = host.strip("[]")  # [::1]:6379
    if not sep or not host or not port.isdigit():
        return
    deadline = time.monotonic() + 2 * timeout
    found: dict[str, Any] = {}

    def look_up() -> None:
        try:
            found["addresses"] = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
            found["error"] = exc

    resolver = threading.Thread(target=look_up, name="ray-address lookup", daemon=True)
    resolver.start()
    resolver.join(timeout)
    if "addresses" not in found:
        failure = found.get("error")
        why = (getattr(failure, "strerror", None) or _first_line(failure)) if failure else \
            f"no answer within {timeout:g} s"
        raise BadOption(S.ray_address, f" {address}: cannot look up {host} ({why}); give host:port of the "
                        "machine that runs the Ray head (`ray start --head` prints it)")
    error: OSError | None = None
    for family, kind, proto, _, where in found["addresses"]:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.settimeout(min(timeout, left))
                probe.connect(where)
            return
        except OSError as exc:
            error = exc
    why = (error.strerror or _first_line(error)) if error is not None else "timed out"
    if isinstance(error, TimeoutError) or why == "timed out":
        why = f"no answer within {timeout:g} s"
    raise BadOption(S.ray_address, f" {address}: nothing answers there ({why}); check that `ray start --head` "
                    "runs on that machine and that this one can reach its port")


class SegmentWorker:
    """A Ray actor: one Stylizer (VGG19 and the style targets loaded once), segment after segment.

    The styles come with each call as ``[ref]``, a reference the driver holds for the whole
    job, and the Stylizer is built on the first call: the constructor takes only small
    settings, so a restarted actor needs nothing that may have left the object store.
    """

    def __init__(self, style: StyleConfig, temporal: TemporalConfig, threads: int) -> None:
        import cv2
        import torch

        if threads > 0:  # the actor's share of the cores, for torch and for OpenCV (flow, warps)
            torch.set_num_threads(threads)
            cv2.setNumThreads(threads)
        self.style, self.temporal = style, temporal
        self._stylizer: Any = None

    def pid(self) -> int:
        return os.getpid()

    def load(self, styles: list[Any]) -> None:
        """Load VGG19 and the styles now (the driver calls this while it reads the clip)."""
        self.stylizer(styles)

    def stylizer(self, styles: list[Any]) -> Any:
        if self._stylizer is None:
            import ray

            from ..engine.optimize import Stylizer

            self._stylizer = Stylizer(ray.get(styles[0]), self.style)
        return self._stylizer

    def segment(self, styles: list[Any], chunks: list[tuple[int, Any]], first: int, begin: int, stop: int,
                state: SegmentState | None, start_iterations: int | None,
                looks: TargetsFunction | None = None) -> Iterator[SegmentFrame]:
        """Stylize frames ``begin``..``stop - 1`` (frames from ``first`` are context);
        ``start_iterations``: the budget of frame ``begin`` when it starts afresh; ``looks``:
        each frame's targets (a schedule, a mask: ``video.targets.ClipTargets``), blended here
        from the Grams this worker computed once per style."""
        stylizer = self.stylizer(styles)
        frames = _frames(chunks, first, stop)
        yield from stylize_segment(stylizer, frames, config=self.temporal, first=first, begin=begin,
                                   stop=stop, state=state, start_iterations=start_iterations, looks=looks)

    def bridge(self, styles: list[Any], chunks: list[tuple[int, Any]], first: int, drafts: list[np.ndarray],
               previous: np.ndarray, iterations: int, looks: TargetsFunction | None = None) -> Iterator[SegmentFrame]:
        """The hand-over into the segment starting at ``first`` (see ``chain.stylize_bridge``)."""
        stylizer = self.stylizer(styles)
        frames = list(_frames(chunks, first - 1, first + len(drafts)))
        yield from stylize_bridge(stylizer, frames, drafts, previous, config=self.temporal, first=first,
                                  iterations=iterations, looks=looks)


    def keyframe_piece(self, styles: list[Any], chunks: list[tuple[int, Any]], piece: Piece, store: PieceStore,
                       runner: list[Any]) -> Iterator[tuple]:
        """One piece of a keyframe run (``keyframes.KeyframeRunner.run_piece``) against ``store``,
        the work folder's frames of the piece as the driver sent them; yields what the piece
        writes, as it writes it (see :class:`PieceStore`). ``runner``: ``[ref]`` of the
        runner's (clip keyframes, info, looks), held by the driver."""
        import ray

        clip, info, looks = ray.get(runner[0])
        stylizer = self.stylizer(styles)
        if stylizer.targets.color_reference is None:  # preserve_colors' reference, as the driver's (job.py)
            stylizer.targets.color_reference = clip.keyframes[0].original
        span = piece_span(piece)
        originals = _Window(dict(zip(span, _frames(chunks, span.start, span.stop), strict=True)))
        keyframes = KeyframeRunner(stylizer, self.temporal, info, clip, looks=looks, opener=lambda: None)
        writes: queue.Queue[tuple | BaseException | None] = queue.Queue()
        store.sink = writes.put
        report = _PieceReport(writes.put)

        def work() -> None:
            try:
                keyframes.run_piece(piece, originals=originals, work=store, report=report)
                writes.put(None)
            except BaseException as exc:  # handed to the generator, raised there
                writes.put(exc)

        thread = threading.Thread(target=work, name="keyframe piece", daemon=True)
        thread.start()
        while (item := writes.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
        thread.join()


class _Window(dict):
    """A piece's original frames by index (``keyframes.Originals``)."""

    step = 1


class _PieceReport(RunReport):
    """A piece's report on a worker: the frames it finishes go back to the driver, which reports them."""

    def __init__(self, sink: Callable[[tuple], None]) -> None:
        super().__init__()
        self.sink = sink

    def frame_done(self, index: int, seconds: float, image: np.ndarray | None, *, cost: float = 0.0,
                   later: bool = False) -> None:
        self.sink(("done", index, seconds, cost, later))


@dataclass(eq=False)
class PieceStore:
    """The work folder as one piece of a keyframe run on a worker sees it (``keyframes.FrameStore``):
    the piece's finished frames, drafts and float states that the driver sent, and what the
    piece writes, kept here and handed to ``sink`` as ("save", index, frame, state,
    since_restart, draft) or ("discard_state" | "discard_draft", index), for the driver to
    write to the real folder. A piece is resumed from it exactly as from the folder."""

    finished_frames: dict[int, np.ndarray | None]  # finished index -> its image, when a resume may read it
    draft_images: dict[int, np.ndarray]
    states: dict[int, tuple[np.ndarray, int]]
    sink: Callable[[tuple], None] | None = None

    @classmethod
    def of(cls, work: WorkDir, span: range) -> PieceStore:
        """What ``work`` holds of the frames ``span``: every state and draft, and the finished
        frames beside an unfinished one (where a resumed chain may continue from the image)."""
        finished = work.finished()
        mine = [i for i in span if i in finished]
        edge = {i for i in mine if any(j in span and j not in finished for j in (i - 1, i + 1))}
        drafted = work.drafts()
        drafts = {i: d for i in span if i in drafted and (d := work.load_draft(i)) is not None}
        states = {i: s for i in span if (s := work.load_state(i)) is not None}
        return cls({i: work.load_frame(i) if i in edge else None for i in mine}, drafts, states)

    def finished(self) -> set[int]:
        return set(self.finished_frames)

    def drafts(self) -> set[int]:
        return set(self.draft_images)

    def save(self, index: int, frame: np.ndarray | None, state: np.ndarray | None, *, since_restart: int = 0,
             draft: bool = False) -> None:
        if state is not None:
            self.states[index] = (state, since_restart)
        if frame is not None:
            if draft:
                self.draft_images[index] = frame
            else:
                self.finished_frames[index] = frame
        self._send(("save", index, frame, state, since_restart, draft))

    def load_state(self, index: int) -> tuple[np.ndarray, int] | None:
        return self.states.get(index)

    def load_draft(self, index: int) -> np.ndarray | None:
        return self.draft_images.get(index)

    def load_frame(self, index: int) -> np.ndarray:
        frame = self.finished_frames.get(index)
        if frame is None:
            raise KeyError(f"finished frame {index} was not sent to the worker")
        return frame

    def discard_state(self, index: int) -> None:
        self.states.pop(index, None)
        self._send(("discard_state", index))

    def discard_draft(self, index: int) -> None:
        self.draft_images.pop(index, None)
        self._send(("discard_draft", index))

    def draft_path(self, index: int) -> Path:
        return Path(f"draft_{index + 1:05d}.png")  # in messages only: the driver's folder has it

    def _send(self, item: tuple) -> None:
        if self.sink is not None:
            self.sink(item)


def _frames(chunks: list[tuple[int, Any]], first: int, stop: int) -> Iterator[np.ndarray]:
    """Frames ``first``..``stop - 1`` from (chunk start, object ref) pairs, fetched one chunk at a time."""
    import ray

    for start, ref in chunks:
        block = ray.get(ref)  # (n, H, W, 3) uint8
        for offset in range(len(block)):
            if first <= start + offset < stop:
                yield block[offset]


class RayRuntime:
    """Starts (or joins) Ray and its actors for one job; a context manager that shuts down
    what it started. ``workers`` is the number of actors once entered."""

    def __init__(self, config: SegmentConfig, styles: Sequence[np.ndarray | Style], style: StyleConfig,
                 temporal: TemporalConfig, info: VideoInfo, looks: TargetsFunction | None = None) -> None:
        self.config, self.styles, self.style, self.temporal, self.info = config, styles, style, temporal, info
        self.looks = looks  # each frame's targets (None: the styles' one blend), put in the store once
        self.looks_ref: Any = None
        self.ray = import_ray(config.workers)
        self.started_ray = False
        self.workers = config.workers or 1
        self.actors: list[Any] = []
        self.styles_ref: Any = None

    # -- the runtime ---------------------------------------------------------------------------
    def __enter__(self) -> RayRuntime:
        ray = self.ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "logging_level": "ERROR", "configure_logging": True}
            if self.config.address is None:  # "local": a new runtime, whatever RAY_ADDRESS says
                cores = _cores()
                kwargs.update(address="local", num_cpus=max(cores, self.workers),
                              object_store_memory=self._store_bytes())
            else:
                check_reachable(self.config.address)
                kwargs["address"] = self.config.address
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                if self.config.address is None:
                    raise BadOption(S.workers, f" {self.workers}: could not start a local Ray runtime "
                                    f"({_first_line(exc)})") from exc
                raise BadOption(S.ray_address, f" {self.config.address}: cannot connect ({_first_line(exc)}); "
                                "start the head with `ray start --head` and give the address it prints") from exc
            self.started_ray = True
        try:
            self._start_actors()
        except BaseException:
            self.__exit__(None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for actor in self.actors:
            with contextlib.suppress(Exception):  # already gone
                self.ray.kill(actor, no_restart=True)
        # Drop every handle and object reference while this session is live, so that nothing
        # of it is released during a later job in the same process.
        self.actors = []
        self.styles_ref = None
        gc.collect()
        if self.started_ray and self.ray.is_initialized():
            self.ray.shutdown()

    def _store_bytes(self) -> int:
        frames = self.info.frame_count or 600
        need = 2 * frames * self.info.width * self.info.height * 3 + 64 * 2**20
        return int(min(MAX_OBJECT_STORE, max(MIN_OBJECT_STORE, need)))

    def _start_actors(self) -> None:
        ray = self.ray
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if self.style.device in ("auto", "cuda") else 0
        cpus = int(resources.get("CPU", 1))
        if self.config.workers is None:  # an existing cluster: one per GPU, or one per node
            alive = [node for node in ray.nodes() if node.get("Alive")]
            self.workers = gpus or max(1, len(alive))
        if gpus:
            options: dict[str, Any] = {"num_gpus": 1, "num_cpus": 1}
            threads = max(1, cpus // self.workers)
            style = self.style if self.style.device != "auto" else _with_device(self.style, "cuda")
        else:
            threads = max(1, cpus // self.workers)  # no oversubscription: 2 workers on 2 cores, 1 thread each
            options = {"num_cpus": threads}
            style = self.style
        worker = ray.remote(SegmentWorker).options(max_restarts=ACTOR_RESTARTS, max_task_retries=TASK_RETRIES,
                                                   **options)
        self.threads = threads
        self.styles_ref = ray.put(list(self.styles))
        self.looks_ref = None if self.looks is None else ray.put(self.looks)
        self.actors = [worker.remote(style, self.temporal, threads) for _ in range(self.workers)]
        for actor in self.actors:  # load VGG19 and the style targets now, while the driver reads the clip
            actor.load.remote([self.styles_ref])

    def worker_pids(self) -> list[int]:
        """Process ids of the actors (for tests that kill one)."""
        return [self.ray.get(actor.pid.remote()) for actor in self.actors]

    # -- one job -------------------------------------------------------------------------------
    def run(self, frames: Iterable[np.ndarray], work: WorkDir, report: RunReport) -> None:
        """Stylize every unfinished frame of the clip on the actors, filling ``report``."""
        chunks, count, cuts = self._upload(frames)
        if count == 0:
            raise NoFrames(self.info.path)
        plan = plan_segments(count, cuts, workers=self.workers, max_length=self.config.max_length,
                             overlap=self.config.overlap, **self.config.plan_costs(self.temporal))
        report.total, report.cuts = count, cuts
        driver = _Driver(self, plan, chunks, count, work, report)
        driver.run()
        report.end(count)

    def keyframes(self, clip: ClipKeyframes, looks: KeyframeTargets) -> RayKeyframes:
        """A keyframe run on these actors (their styles must end with the keyframes')."""
        return RayKeyframes(self, clip, looks)

    def _upload(self, frames: Iterable[np.ndarray], *, detect: bool | None = None
                ) -> tuple[list[tuple[int, Any]], int, list[int]]:
        """Read the clip once: chunks of frames into the object store, and the scene cuts
        (unless ``detect`` is False: known already)."""
        chunks: list[tuple[int, Any]] = []
        cuts: list[int] = []
        block: list[np.ndarray] = []
        previous: np.ndarray | None = None
        estimator = FlowEstimator()
        count = 0
        detect = self.temporal.detect_cuts if detect is None else detect
        for frame in frames:
            if detect and previous is not None and is_scene_cut(previous, frame, estimator=estimator):
                cuts.append(count)
            block.append(frame)
            previous, count = frame, count + 1
            if len(block) == CHUNK_FRAMES:
                chunks.append((count - len(block), self.ray.put(np.stack(block))))
                block = []
        if block:
            chunks.append((count - len(block), self.ray.put(np.stack(block))))
        return chunks, count, cuts


class RayKeyframes:
    """A keyframe run (``keyframes.py``) on the actors: its pieces are the segments. Each piece
    starts at a keyframe or a shot's start and ends at a keyframe or a shot's end
    (:func:`keyframes.plan_pieces`), so a piece carries the keyframes it holds and its
    neighbours' frames it meets, and no propagation is cut: a worker makes a piece exactly as
    the local runner does, from what the work folder holds of it (:class:`PieceStore`), and the
    frames are the same. A shot without keyframes is one piece (one worker)."""

    def __init__(self, runtime: RayRuntime, clip: ClipKeyframes, looks: KeyframeTargets) -> None:
        self.runtime, self.clip, self.looks = runtime, clip, looks

    def run(self, frames: Iterable[np.ndarray], work: WorkDir, report: RunReport) -> None:
        """Make every unfinished frame on the actors, filling ``report``."""
        chunks, count, _ = self.runtime._upload(frames, detect=False)
        if count == 0:
            raise NoFrames(self.runtime.info.path)
        report.total = self.clip.count
        report.resumed = len(work.finished() & set(range(self.clip.count)))
        report.cuts = [c for c in self.clip.cuts if 0 < c < self.clip.count]
        save_keyframes(self.clip, work, report)
        finished = work.finished()
        pieces = [p for p in plan_pieces(self.clip) if not set(p.frames) <= finished]
        runner = self.runtime.ray.put((self.clip, self.runtime.info, self.looks))
        _PieceDriver(self.runtime, pieces, chunks, work, report, runner).run()
        report.end(self.clip.count)


class _Driver:
    """The transport of one job: starts on the actors what the :class:`Scheduler` says, feeds
    it what comes back, and writes the frames to the work folder."""

    def __init__(self, runtime: RayRuntime, plan: list[Segment], chunks: list[tuple[int, Any]], count: int,
                 work: WorkDir, report: RunReport) -> None:
        self.runtime, self.ray, self.chunks = runtime, runtime.ray, chunks
        self.work, self.report = work, report
        self.temporal = runtime.temporal
        self.keep = self.temporal.history + 1
        history = self.temporal.history
        self.schedule: Scheduler[Any, SegmentState] = Scheduler(
            plan, runtime.actors, finished=work.finished() & set(range(count)), drafts=work.drafts(),
            chain_state=lambda index: work.chain_state(index, history),
            has_state=lambda index: work.state_path(index).exists(), history=history)
        report.resumed = len(self.schedule.finished)
        self.running: dict[Any, Task[Any, SegmentState]] = {}  # stream -> task

    @property
    def done(self) -> bool:
        return self.schedule.done

    def run(self) -> None:
        ray = self.ray
        try:
            while not self.done:
                self.report.check()
                self._dispatch()
                if not self.running:
                    raise WorkerLost("segments are waiting for frames no worker will make; rerun to resume")
                ready, _ = ray.wait(list(self.running), num_returns=1, timeout=1.0)
                for stream in ready:
                    self._receive(stream)
        except (KeyboardInterrupt, Cancelled):
            self._cancel()
            raise
        except ray.exceptions.RayTaskError as exc:
            self._cancel()
            cause = getattr(exc, "cause", None)
            if isinstance(cause, VideostyleError):
                raise cause from None
            raise WorkerLost(f"a worker failed ({_first_line(exc)}); the finished frames are kept: "
                             "rerun to resume") from exc
        except ray.exceptions.RayError as exc:
            self._cancel()
            raise WorkerLost(f"the Ray workers were lost ({_first_line(exc)}); the finished frames are kept: "
                             "rerun to resume") from exc

    def _dispatch(self) -> None:
        while (task := self.schedule.next_task()) is not None:
            if task.kind == "bridge":
                self._start_bridge(task)
            else:
                self._start_segment(task)

    def _chunks(self, frames: range) -> list[tuple[int, Any]]:
        return [(start, ref) for start, ref in self.chunks
                if start < frames.stop and start + CHUNK_FRAMES > frames.start]

    def _start_segment(self, task: Task[Any, SegmentState]) -> None:
        budget = self.runtime.config.segment_start_iterations(self.temporal) if task.fresh_inside_a_shot else None
        stream = task.worker.segment.options(num_returns="streaming").remote(
            [self.runtime.styles_ref], self._chunks(task.frames), task.frames.start, task.begin, task.stop,
            task.state, budget, self.runtime.looks_ref)
        self.running[stream] = task

    def _start_bridge(self, task: Task[Any, SegmentState]) -> None:
        seg = task.segment
        drafts = []
        for i in seg.bridged:
            draft = self.work.load_draft(i)
            if draft is None:  # a damaged draft: the segment's chain makes it again
                self.schedule.draft_damaged(task, i)
                return
            drafts.append(draft)
        previous = self.work.load_state(seg.start - 1)
        if previous is None:
            raise WorkerLost(f"{self.work.state_path(seg.start - 1)}: missing or damaged; rerun with ", S.restart)
        stream = task.worker.bridge.options(num_returns="streaming").remote(
            [self.runtime.styles_ref], self._chunks(task.frames), seg.start, drafts, previous[0],
            self.runtime.config.bridge_iterations, self.runtime.looks_ref)
        self.running[stream] = task

    def _receive(self, stream: Any) -> None:
        task = self.running[stream]
        try:
            ref = next(stream)
        except StopIteration:
            del self.running[stream]
            for i in self.schedule.task_done(task):
                self.work.discard_draft(i)
            return
        done: SegmentFrame = self.ray.get(ref)
        filing = self.schedule.frame_done(task, done.index)
        image = None if filing == "state" else done.image
        if task.kind == "bridge":
            if image is not None:
                self.work.save(done.index, image, None)
        else:
            self.work.save(done.index, image, done.state, since_restart=done.since_restart, keep_states=self.keep,
                           keep_from=task.segment.start, draft=filing == "draft")
        if filing == "finished":
            self.report.frame_done(done.index, done.seconds, done.image, cost=done.cost,
                                   later=done.since_restart > 1)

    def _cancel(self) -> None:
        for stream in list(self.running):
            with contextlib.suppress(Exception):  # already finished or gone
                self.ray.cancel(stream)
        self.running.clear()


class _PieceDriver(_Driver):
    """The transport of a keyframe run: each piece on the next idle actor, with what the work
    folder holds of it; what it writes comes back as it is written and goes into the folder."""

    def __init__(self, runtime: RayRuntime, pieces: list[Piece], chunks: list[tuple[int, Any]], work: WorkDir,
                 report: RunReport, runner: Any) -> None:
        self.runtime, self.ray, self.chunks = runtime, runtime.ray, chunks
        self.work, self.report, self.runner = work, report, runner
        self.todo = list(pieces)
        self.idle = list(runtime.actors)
        self.pieces: dict[Any, tuple[Piece, Any]] = {}  # stream -> (piece, actor)
        self.running: dict[Any, Any] = self.pieces  # what _Driver.run waits on and cancels
        self.reported: set[int] = set(work.finished())  # a retried piece sends its frames again
        self.images: dict[int, np.ndarray] = {}

    @property
    def done(self) -> bool:
        return not self.todo and not self.pieces

    def _dispatch(self) -> None:
        while self.idle and self.todo:
            piece, actor = self.todo.pop(0), self.idle.pop(0)
            span = piece_span(piece)
            stream = actor.keyframe_piece.options(num_returns="streaming").remote(
                [self.runtime.styles_ref], self._chunks(span), piece, PieceStore.of(self.work, span), [self.runner])
            self.pieces[stream] = (piece, actor)

    def _receive(self, stream: Any) -> None:
        try:
            ref = next(stream)
        except StopIteration:
            _, actor = self.pieces.pop(stream)
            self.idle.append(actor)
            return
        item = self.ray.get(ref)
        if item[0] == "save":
            _, index, frame, state, since_restart, draft = item
            self.work.save(index, frame, state, since_restart=since_restart, draft=draft)
            if frame is not None and not draft:
                self.images[index] = frame
        elif item[0] == "done":
            index = item[1]
            if index not in self.reported:
                self.reported.add(index)
                self.report.frame_done(index, item[2], self.images.pop(index, None), cost=item[3], later=item[4])
        elif item[0] == "discard_state":
            self.work.discard_state(item[1])
        elif item[0] == "discard_draft":
            self.work.discard_draft(item[1])


def _with_device(style: StyleConfig, device: str) -> StyleConfig:
    import dataclasses

    return dataclasses.replace(style, device=device)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
