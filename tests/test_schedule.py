"""The scheduler of a distributed job, without Ray: fake workers finish frames in random
orders against a fake work folder, and every step is checked against the folder itself.

The harness plays the transport's part as ``ray._Driver`` does (start what the scheduler
says, load the drafts of a bridge, file what comes back), so what is asserted is what the
scheduler decides: each frame finished exactly once, by the right chain; bridges only
when the segment before has its last state and the drafts are in; a resume sends only
unfinished work; a damaged draft is made again; no worker idles while work is ready.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from videostyle.video.plan import Segment, plan_segments
from videostyle.video.schedule import Scheduler, Task

HISTORY = 1


@dataclass(frozen=True)
class FakeState:
    """A saved chain state: which frame it is of, and how many frames after a restart."""

    index: int
    since_restart: int


@dataclass
class FakeFolder:
    """A work folder as sets: finished frames, drafts, kept states (index -> since_restart)."""

    finished: set[int] = field(default_factory=set)
    drafts: set[int] = field(default_factory=set)
    states: dict[int, int] = field(default_factory=dict)
    damaged: set[int] = field(default_factory=set)  # drafts that cannot be read back
    damage_on_save: set[int] = field(default_factory=set)  # drafts damaged as they are first written

    def chain_state(self, index: int) -> FakeState | None:
        since = self.states.get(index - 1)
        return None if since is None else FakeState(index - 1, since)

    def has_state(self, index: int) -> bool:
        return index in self.states

    def chain(self, start: int, stop: int, *, since: int = 1, drafts: range = range(0)) -> None:
        """Frames start..stop-1 done by one chain (those in ``drafts`` as drafts), states kept."""
        for k, i in enumerate(range(start, stop)):
            (self.drafts if i in drafts else self.finished).add(i)
            self.states[i] = since + k


@dataclass
class Run:
    """What a simulated job did."""

    started: list[Task] = field(default_factory=list)
    finished_by: dict[int, list[str]] = field(default_factory=dict)  # frame -> kinds of the tasks filing it final
    computed: Counter = field(default_factory=Counter)  # frame -> times a worker stylized it
    damaged_reported: list[int] = field(default_factory=list)
    stalled: bool = False


def frames_of(task: Task) -> Iterator[tuple[int, int]]:
    """What a fake worker yields for a task: (frame, frames since the chain's restart)."""
    if task.kind == "bridge":
        for i in range(task.begin, task.stop):
            yield i, 0
        return
    since = task.state.since_restart if task.state is not None else 0
    for k, i in enumerate(range(task.begin, task.stop)):
        yield i, since + k + 1


def needs_chain(seg: Segment, folder: FakeFolder) -> bool:
    return any(i not in folder.finished and not (i in seg.bridged and i in folder.drafts)
               for i in range(seg.start, seg.stop))


def bridge_ready_on_disk(seg: Segment, folder: FakeFolder) -> bool:
    before = seg.start - 1
    return (before in folder.finished and before in folder.states
            and all(i in folder.drafts or i in folder.finished for i in seg.bridged))


def simulate(plan: list[Segment], folder: FakeFolder, *, workers: int = 2, seed: int = 0,
             max_steps: int = 10_000) -> Run:
    """Run the job: at each step one random running task delivers its next frame (or ends)."""
    rng = random.Random(seed)
    names = [f"w{k}" for k in range(workers)]
    schedule: Scheduler = Scheduler(plan, names, finished=set(folder.finished), drafts=set(folder.drafts),
                                    chain_state=folder.chain_state, has_state=folder.has_state,
                                    history=HISTORY)
    run = Run()
    streams: dict[Task, Iterator[tuple[int, int]]] = {}
    chains_owed = {seg.start for seg in plan if needs_chain(seg, folder)}  # segments that need a chain sent
    bridges_owed = {seg.start for seg in plan if seg.bridged and not all(i in folder.finished for i in seg.bridged)}
    for _ in range(max_steps):
        if schedule.done:
            break
        while (task := schedule.next_task()) is not None:
            busy = {t.worker for t in streams}
            assert task.worker not in busy, "a worker got a second task while busy"
            seg = task.segment
            if task.kind == "bridge":
                assert seg.start in bridges_owed, "a bridge started twice"
                assert bridge_ready_on_disk(seg, folder), "a bridge started before its inputs were there"
                bad = next((i for i in seg.bridged if i in folder.damaged), None)
                if bad is not None:  # what the driver does when load_draft gives None
                    run.damaged_reported.append(bad)
                    folder.damaged.discard(bad)
                    folder.drafts.discard(bad)
                    schedule.draft_damaged(task, bad)
                    chains_owed.add(seg.start)
                    continue
                bridges_owed.discard(seg.start)
            else:
                chains_owed.discard(seg.start)
            run.started.append(task)
            streams[task] = frames_of(task)
        busy = {t.worker for t in streams}
        if len(busy) < workers:  # a worker is idle: nothing may be ready
            assert not chains_owed, f"a worker idles while segments {sorted(chains_owed)} wait"
            ready = [s for s in plan if s.start in bridges_owed and bridge_ready_on_disk(s, folder)]
            assert not ready, f"a worker idles while the bridge into {ready[0]} is ready"
        if not streams:
            run.stalled = True
            break
        task = rng.choice(list(streams))
        try:
            index, since = next(streams[task])
        except StopIteration:
            del streams[task]
            for i in schedule.task_done(task):
                folder.drafts.discard(i)
            continue
        run.computed[index] += 1
        filing = schedule.frame_done(task, index)
        if task.kind == "segment":
            folder.states[index] = since
        if filing == "finished":
            folder.finished.add(index)
            run.finished_by.setdefault(index, []).append(task.kind)
        elif filing == "draft":
            assert index in task.segment.bridged
            folder.drafts.add(index)
            if index in folder.damage_on_save:
                folder.damage_on_save.discard(index)
                folder.damaged.add(index)
        else:
            assert filing == "state" and index in folder.finished
    else:
        pytest.fail("the job did not end")
    return run


def assert_complete(run: Run, plan: list[Segment], folder: FakeFolder, count: int, before: set[int]) -> None:
    """Every frame final once: the ones found finished never again, the others by one task,
    a bridged frame by its bridge; and nothing left running or drafted."""
    assert not run.stalled
    assert folder.finished == set(range(count))
    assert not folder.drafts, "a bridge's drafts are dropped when it ends"
    assert set(run.finished_by).isdisjoint(before), "a frame found finished was filed again"
    assert set(run.finished_by) == set(range(count)) - before
    for index, kinds in run.finished_by.items():
        assert len(kinds) == 1, f"frame {index} finished {len(kinds)} times"
    for seg in plan:
        for i in seg.bridged:
            if i not in before:
                assert run.finished_by[i] == ["bridge"], f"frame {i} must come from its bridge"


PLAN = [Segment(0, 8), Segment(8, 16, shot_start=False, overlap=2), Segment(16, 24, shot_start=False, overlap=2),
        Segment(24, 30)]  # a shot in three segments with two bridges, then a cut and a shot of one segment


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_every_frame_is_finished_once_in_any_order(workers):
    for seed in range(40):
        folder = FakeFolder()
        run = simulate(PLAN, folder, workers=workers, seed=seed)
        assert_complete(run, PLAN, folder, 30, set())
        kinds = Counter((t.kind, t.segment.start) for t in run.started)
        assert kinds == Counter({("segment", 0): 1, ("segment", 8): 1, ("segment", 16): 1, ("segment", 24): 1,
                                 ("bridge", 8): 1, ("bridge", 16): 1}), "one chain per segment, one bridge each"
        bridged = {i for seg in PLAN for i in seg.bridged}
        assert run.computed == Counter({i: 2 if i in bridged else 1 for i in range(30)}), \
            "a fresh run stylizes each frame once, a bridged one twice (draft, bridge)"


def test_random_plans_and_orders():
    rng = random.Random(7)
    for case in range(60):
        count = rng.randint(1, 60)
        cuts = sorted(rng.sample(range(1, count), min(count - 1, rng.randint(0, 3)))) if count > 1 else []
        workers = rng.randint(1, 4)
        plan = plan_segments(count, cuts, workers=workers, max_length=rng.randint(4, 20), overlap=rng.randint(1, 3))
        folder = FakeFolder()
        run = simulate(plan, folder, workers=workers, seed=case)
        assert_complete(run, plan, folder, count, set())


def test_segments_start_where_planned_and_fresh_ones_inside_a_shot_get_the_start_budget():
    run = simulate(PLAN, FakeFolder(), workers=4)
    chains = {t.segment.start: t for t in run.started if t.kind == "segment"}
    assert [(t.begin, t.stop, t.state) for t in chains.values()] == [(s.start, s.stop, None) for s in PLAN]
    assert {s for s, t in chains.items() if t.fresh_inside_a_shot} == {8, 16}
    bridges = {t.segment.start: t for t in run.started if t.kind == "bridge"}
    assert {s: (t.begin, t.stop, t.frames) for s, t in bridges.items()} == {
        8: (8, 10, range(7, 10)), 16: (16, 18, range(15, 18))}
    assert not any(t.fresh_inside_a_shot for t in bridges.values())


def test_a_bridge_waits_for_the_last_state_before_it_and_for_every_draft():
    folder = FakeFolder()
    folder.chain(0, 8)
    folder.chain(8, 16, drafts=range(8, 10))
    plan = PLAN[:2]
    del folder.states[7]  # the last state of segment 0 is gone: no bridge can start
    schedule = Scheduler(plan, ["w0"], finished=folder.finished, drafts=folder.drafts,
                         chain_state=folder.chain_state, has_state=folder.has_state, history=HISTORY)
    assert schedule.next_task() is None and not schedule.done  # stalled: the driver reports it
    folder.states[7] = 8
    schedule = Scheduler(plan, ["w0"], finished=folder.finished, drafts=folder.drafts - {9},
                         chain_state=folder.chain_state, has_state=folder.has_state, history=HISTORY)
    first = schedule.next_task()
    assert first is not None and first.kind == "segment" and first.begin == 9, "draft 9 is made first"
    assert schedule.next_task() is None  # one worker, and it is busy
    assert schedule.frame_done(first, 9) == "draft"
    schedule.task_done(first)
    bridge = schedule.next_task()
    assert bridge is not None and bridge.kind == "bridge" and bridge.segment == plan[1]
    assert schedule.frame_done(bridge, 8) == "finished" and schedule.frame_done(bridge, 9) == "finished"
    assert schedule.task_done(bridge) == [8, 9] and not schedule.drafts
    assert schedule.done


def test_a_resume_sends_only_unfinished_work_from_each_chains_state():
    folder = FakeFolder()
    folder.chain(0, 8)  # segment 0 done
    folder.chain(8, 13, drafts=range(8, 10))  # segment 1: drafts and three frames, its bridge not run
    folder.chain(16, 18, drafts=range(16, 18))  # segment 2: its drafts only
    folder.chain(24, 30)  # the last shot done
    before = set(folder.finished)
    for seed in range(20):
        copy = FakeFolder(set(folder.finished), set(folder.drafts), dict(folder.states))
        run = simulate(PLAN, copy, workers=2, seed=seed)
        assert_complete(run, PLAN, copy, 30, before)
        sent = sorted((t.kind, t.segment.start, t.begin, t.stop, t.state) for t in run.started)
        assert sent == [("bridge", 8, 8, 10, None), ("bridge", 16, 16, 18, None),
                        ("segment", 8, 13, 16, FakeState(12, 5)), ("segment", 16, 18, 24, FakeState(17, 2))]
        assert run.computed == Counter([8, 9, 13, 14, 15, *range(16, 24)]), "each unfinished frame once, no other"
        resumed = next(t for t in run.started if t.kind == "segment" and t.segment.start == 8)
        assert resumed.frames == range(12, 16) and not resumed.fresh_inside_a_shot  # one frame of context


def test_a_saved_state_of_another_chain_or_none_restarts_the_segment():
    folder = FakeFolder()
    folder.chain(24, 27, since=4)  # says 4 frames after a restart at frame 24: not this segment's chain
    folder.chain(0, 3)
    del folder.states[2]  # segment 0's state before frame 3 was not kept
    before = set(folder.finished)
    run = simulate(PLAN, folder, workers=2, seed=3)
    assert_complete(run, PLAN, folder, 30, before)
    chains = {t.segment.start: (t.begin, t.state) for t in run.started if t.kind == "segment"}
    assert chains[24] == (24, None) and chains[0] == (0, None)
    assert run.computed[24] == run.computed[0] == 1  # remade, but filed as final only once (before)


def test_a_frame_done_again_keeps_only_its_state():
    folder = FakeFolder()
    folder.chain(0, 8)
    folder.chain(8, 16, drafts=range(8, 10))
    folder.finished.add(8)  # the bridge finished frame 8 before the job was killed
    folder.drafts.discard(8)
    before = set(folder.finished)
    run = simulate(PLAN[:2], folder, workers=2)
    assert_complete(run, PLAN[:2], folder, 16, before)
    assert run.computed[8] == 1 and 8 not in run.finished_by  # the bridge redoes it; it is not counted again


@pytest.mark.parametrize("damaged_on_disk", [False, True])
def test_a_damaged_draft_makes_its_drafts_again_before_the_bridge(damaged_on_disk):
    for seed in range(30):
        folder = FakeFolder()
        before: set[int] = set()
        if damaged_on_disk:  # a resume: segment 1's draft 9 cannot be read back
            folder.chain(0, 8)
            folder.chain(8, 16, drafts=range(8, 10))
            folder.damaged.add(9)
            before = set(folder.finished)
        else:  # a fresh run: draft 9 is damaged as it is written
            folder.damage_on_save.add(9)
        run = simulate(PLAN, folder, workers=2, seed=seed)
        assert run.damaged_reported == [9]
        assert_complete(run, PLAN, folder, 30, before)
        redraft = [t for t in run.started if t.kind == "segment" and t.segment.start == 8 and t.stop == 10]
        assert len(redraft) == 1, "the segment's chain is sent again, up to its last draft"
        assert redraft[0].begin == 8 and redraft[0].state is None and redraft[0].fresh_inside_a_shot
        bridges = [t for t in run.started if t.kind == "bridge" and t.segment.start == 8]
        assert len(bridges) == 1 and run.started.index(bridges[0]) > run.started.index(redraft[0])
        drafted = 1 if damaged_on_disk else 2  # (the first chain's, before a resume) and the redraft's
        assert run.computed[8] == run.computed[9] == drafted + 1  # ... then the bridge's
        rest = 0 if damaged_on_disk else 1
        assert all(run.computed[i] == rest for i in range(10, 16)), "the rest of the segment is not redone"


def test_no_worker_idles_while_a_segment_waits():
    schedule = Scheduler(PLAN, ["a", "b", "c"], finished=set(), drafts=set(), chain_state=lambda i: None,
                         has_state=lambda i: False)
    tasks = [schedule.next_task() for _ in range(3)]
    assert [t.segment.start for t in tasks if t] == [0, 8, 16] and schedule.next_task() is None
    schedule.task_done(tasks[1])  # worker b is free: the last segment goes to it at once
    fourth = schedule.next_task()
    assert fourth is not None and (fourth.worker, fourth.segment.start) == ("b", 24)
