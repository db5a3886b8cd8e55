"""Benchmark: how long the optimizer waits for optical flow, old flow scheduling against new.

    python scripts/bench_flow.py [--clip CLIP | --generated] [--size 1280] [--frames 10]
                                 [--iterations 1,0] [--rounds 2] [--workers N]

Runs ``video.chain.stylize_segment`` (flow mode) over the first frames of a clip at
``--size`` (longest side) and reports, per frame after the first, the mean time the
optimizer waited for that frame's flow and the wall time per frame, for:

* ``before``: one flow thread, 2 frames ahead (the scheduling before this benchmark);
* ``after``: the defaults (a thread per spare core, up to 4, 2 frames ahead per thread,
  both directions of a pair at once on a second pool).

Rounds alternate before/after. ``--iterations`` 1 is the issue's figure; 0 (no
optimization: each frame is the warped previous one) stands in for an optimizer that is
much faster than the flow, as on a GPU. Every frame, the first too, gets that budget, so
the flow has no head start. It also prints DIS's time per pair on one thread and with
both directions at once. Default clip:
../shared/media/cockatoo.mp4 (1280x720), else a generated pan (``--generated``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
from harness.machine import Timer, describe
from harness.media import generated_pan, media, read_frames
from harness.report import print_table


def run(stylizer, frames: list[np.ndarray], iterations: int) -> tuple[list[float], float]:
    """Per-frame flow waits (frames after the first) and wall seconds per frame."""
    from videostyle.config import TemporalConfig
    from videostyle.video.chain import stylize_segment

    config = TemporalConfig(iterations=iterations, first_iterations=iterations)
    with Timer() as timer:
        done = list(stylize_segment(stylizer, frames, config=config))
    return [f.flow_wait for f in done[1:]], timer.wall / len(done)


class Scheduling:
    """Switches video.chain between the old flow scheduling and the new."""

    def __init__(self, workers: int | None = None) -> None:
        from videostyle.video import chain

        self.chain = chain
        self.new = ((lambda stylizer: workers) if workers else chain.flow_workers, chain.FLOW_LOOKAHEAD)

    def use(self, name: str) -> None:
        if name == "before":
            self.chain.flow_workers, self.chain.FLOW_LOOKAHEAD = (lambda stylizer: 1), 2
        else:
            self.chain.flow_workers, self.chain.FLOW_LOOKAHEAD = self.new


def flow_times(frames: list[np.ndarray]) -> None:
    """DIS's seconds per pair (both directions and the mask), one direction after the
    other and both at once."""
    from concurrent.futures import ThreadPoolExecutor

    from videostyle.engine import flow

    estimator = flow.FlowEstimator()
    pairs = list(zip(frames[:-1], frames[1:], strict=True))[:6]
    with ThreadPoolExecutor(2) as pool:
        for name, executor in (("one after the other", None), ("both at once", pool)):
            flow.flow_between(*pairs[0], estimator, executor=executor)  # solvers are built on first use
            with Timer() as timer:
                for a, b in pairs:
                    flow.flow_between(a, b, estimator, executor=executor)
            print(f"  flow of a pair, {name}: {timer.wall / len(pairs):.3f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default=str(media("cockatoo.mp4")))
    parser.add_argument("--generated", action="store_true", help="a generated 16:9 pan instead of --clip")
    parser.add_argument("--style", default=str(media("styles/starry_night.jpg")))
    parser.add_argument("--size", type=int, default=1280, help="longest side of the frames")
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--iterations", default="1,0", help="comma-separated budgets per frame")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=None,
                        help="flow threads for 'after' (default: the spare cores, as a job gets)")
    args = parser.parse_args(argv)

    from videostyle.config import StyleConfig
    from videostyle.engine.optimize import Stylizer
    from videostyle.io import read_image

    if args.generated or not Path(args.clip).exists():
        frames = generated_pan(args.frames, args.size, args.size * 9 // 16)
        clip = "generated pan"
    else:
        frames, clip = read_frames(args.clip, frames=args.frames, size=args.size), args.clip
    style = read_image(args.style) if Path(args.style).exists() else generated_pan(1, 256, 256)[0]
    stylizer = Stylizer([style], StyleConfig(device=args.device))
    h, w = frames[0].shape[:2]
    print(describe(stylizer))
    print(f"{clip}: {len(frames)} frames at {w}x{h}")
    flow_times(frames)
    budgets = [int(b) for b in args.iterations.split(",")]
    scheduling = Scheduling(args.workers)
    waits: dict[tuple[str, int], list[float]] = {}
    walls: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for name in ("before", "after"):
            scheduling.use(name)
            for budget in budgets:
                frame_waits, wall = run(stylizer, frames, budget)
                waits.setdefault((name, budget), []).extend(frame_waits)
                walls.setdefault((name, budget), []).append(wall)
    scheduling.use("after")
    print_table(("iterations", "scheduling", "flow wait / frame (mean)", "max", "s / frame"),
                [(budget, name, f"{statistics.mean(waits[name, budget]):.3f} s", f"{max(waits[name, budget]):.3f} s",
                  f"{statistics.median(walls[name, budget]):.3f}")
                 for budget in budgets for name in ("before", "after")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
