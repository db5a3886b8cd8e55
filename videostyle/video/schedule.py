"""Which segment or bridge of a distributed video job runs next, and what is finished.

:class:`Scheduler` is the state machine behind a job on several workers (``ray.py`` is
its transport): it holds the idle workers, the segments still to send (each from its
resume point), the bridges waiting for their two segments, and which frames are finished
or only drafted. The transport tells it what happens (a frame came back, a task ended, a
draft could not be read) and asks it what to start. It does no I/O itself: the work
folder is seen through the sets and callables it is given, so it runs with fakes in
tests. Pure: no torch, no Ray.

The rules:

* A segment is sent from its first frame its own chain has not done (a bridged frame
  counts once drafted), with the chain's saved state before that frame; from its start
  when that state is missing or belongs to another chain.
* A bridge into segment k+1 starts once segment k's last frame is finished with its
  state kept, and every bridged frame of segment k+1 is drafted (or already final).
  It runs beside the rest of segment k+1.
* Every frame is finished once: one that comes back when it is final already (a bridged
  frame its bridge did first, a frame a chain sent from its start remakes) keeps only
  its state, and is not reported again.
* A draft that cannot be read back when its bridge starts is made again: the segment's
  chain is sent again from its start, up to the end of its bridged frames, ahead of
  everything else; the bridge waits for it.
* Whenever a worker is idle and something can start, it starts: ready bridges first
  (they unblock the frames that end a segment), then segments in plan order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

from .plan import Segment


class ChainState(Protocol):
    """What the scheduler reads of a saved chain state (``chain.SegmentState``)."""

    @property
    def since_restart(self) -> int: ...


W = TypeVar("W")  # a worker handle (a Ray actor, a fake in tests)
S = TypeVar("S", bound=ChainState)

Filing = Literal["finished", "draft", "state"]
"""How the transport files a frame that came back: a finished frame (image and state, and
reported), a segment's draft of a bridged frame (image and state), or only its state (the
frame is final already: a bridge replaced the draft, or a rerun chain remade it)."""


@dataclass(eq=False)
class Task(Generic[W, S]):
    """One piece of work on one worker: a segment's chain, or the bridge into a segment."""

    kind: Literal["segment", "bridge"]
    segment: Segment
    worker: W
    begin: int  # first frame stylized (a bridge: the segment's first)
    stop: int  # one past the last frame stylized
    state: S | None = None  # a segment's chain state before ``begin`` (None: it starts afresh)
    history: int = 0  # frames of context before ``begin`` a resumed chain reads

    @property
    def frames(self) -> range:
        """The original frames the worker reads: its context and the frames it stylizes."""
        if self.kind == "bridge":
            return range(self.segment.start - 1, self.stop)
        first = max(self.segment.start, self.begin - self.history) if self.state is not None else self.begin
        return range(first, self.stop)

    @property
    def fresh_inside_a_shot(self) -> bool:
        """A segment chain that starts afresh at a segment inside a shot (behind a bridge):
        its first frame gets the smaller start budget."""
        return (self.kind == "segment" and self.state is None and self.begin == self.segment.start
                and not self.segment.shot_start)


class Scheduler(Generic[W, S]):
    """The scheduling of one distributed job: what to start on an idle worker, what is done.

    ``finished`` and ``drafts`` are the frames the work folder holds when the job starts
    (copied); ``chain_state(index)`` is the saved state of a chain before frame ``index``
    (or None), ``has_state(index)`` whether frame ``index``'s state is kept; ``history``
    is how many frames of context a resumed chain reads back.
    """

    def __init__(self, plan: Sequence[Segment], workers: Iterable[W], *, finished: Iterable[int],
                 drafts: Iterable[int], chain_state: Callable[[int], S | None],
                 has_state: Callable[[int], bool], history: int = 0) -> None:
        self.plan = list(plan)
        self.idle: list[W] = list(workers)
        self.finished: set[int] = set(finished)
        self.drafts: set[int] = set(drafts)
        self.history = history
        self._chain_state, self._has_state = chain_state, has_state
        self.running: list[Task[W, S]] = []
        self._segments: list[tuple[Segment, int, int, S | None]] = []  # (segment, begin, stop, state)
        for seg in self.plan:
            todo = self.resume_point(seg)
            if todo is not None:
                self._segments.append((seg, todo[0], seg.stop, todo[1]))
        self.bridges_waiting: list[Segment] = [seg for seg in self.plan if seg.bridged and not self.bridge_done(seg)]

    # -- queries ---------------------------------------------------------------------------------
    def has(self, seg: Segment, index: int) -> bool:
        """Whether the segment's own chain has done frame ``index`` (a bridged frame: drafted)."""
        return index in self.finished or (index in seg.bridged and index in self.drafts)

    def resume_point(self, seg: Segment) -> tuple[int, S | None] | None:
        """(first frame to stylize, chain state before it) of a segment; None when its chain is done."""
        todo = next((i for i in range(seg.start, seg.stop) if not self.has(seg, i)), None)
        if todo is None:
            return None
        if todo == seg.start:
            return seg.start, None
        state = self._chain_state(todo)
        if state is None or state.since_restart > todo - seg.start:  # not this chain's: redo the segment
            return seg.start, None
        return todo, state

    def bridge_done(self, seg: Segment) -> bool:
        """Whether every bridged frame of ``seg`` is final."""
        return all(i in self.finished for i in seg.bridged)

    def bridge_ready(self, seg: Segment) -> bool:
        """Whether the bridge into ``seg`` can start: the segment before has its last frame
        and state, and every bridged frame is drafted (or final). Segment ``seg``'s chain
        need only be past its bridged frames."""
        before = seg.start - 1
        return (before in self.finished and self._has_state(before)
                and all(i in self.drafts or i in self.finished for i in seg.bridged))

    @property
    def done(self) -> bool:
        """Whether nothing is left to start and nothing runs."""
        return not self._segments and not self.bridges_waiting and not self.running

    def ready(self) -> bool:
        """Whether something could start now on an idle worker."""
        return bool(self._segments) or any(self.bridge_ready(seg) for seg in self.bridges_waiting)

    # -- decisions -------------------------------------------------------------------------------
    def next_task(self) -> Task[W, S] | None:
        """The next task to start, on an idle worker (it counts as running from now), or
        None when no worker is idle or nothing can start."""
        if not self.idle:
            return None
        bridge = next((seg for seg in self.bridges_waiting if self.bridge_ready(seg)), None)
        if bridge is not None:
            self.bridges_waiting.remove(bridge)
            task: Task[W, S] = Task("bridge", bridge, self.idle.pop(0), bridge.start, bridge.bridged.stop)
        elif self._segments:
            seg, begin, stop, state = self._segments.pop(0)
            task = Task("segment", seg, self.idle.pop(0), begin, stop, state, self.history)
        else:
            return None
        self.running.append(task)
        return task

    def draft_damaged(self, task: Task[W, S], index: int) -> None:
        """The draft of frame ``index`` cannot be read as bridge ``task`` starts: the bridge is
        not started (its worker is idle again) and waits, and the segment's chain makes its
        drafts again first, from its start."""
        self._end(task)
        self.drafts.discard(index)
        seg = task.segment
        self._segments.insert(0, (seg, seg.start, seg.bridged.stop, None))
        self.bridges_waiting.append(seg)

    def frame_done(self, task: Task[W, S], index: int) -> Filing:
        """Frame ``index`` came back from ``task``: how to file it (and it is recorded). A
        frame already final (its bridge was first, or a rerun remade it) keeps only its state."""
        if index in self.finished:
            return "state"
        if task.kind == "segment" and index in task.segment.bridged:
            self.drafts.add(index)
            return "draft"
        self.finished.add(index)
        return "finished"

    def task_done(self, task: Task[W, S]) -> list[int]:
        """``task`` has delivered all its frames: its worker is idle again. Returns the frames
        whose drafts are no longer needed (a bridge's)."""
        self._end(task)
        if task.kind != "bridge":
            return []
        spent = list(task.segment.bridged)
        self.drafts.difference_update(spent)
        return spent

    def _end(self, task: Task[W, S]) -> None:
        self.running.remove(task)
        self.idle.append(task.worker)
