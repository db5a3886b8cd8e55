"""Which flow should judge E_warp? Candidates' error to a known motion, and what each reads
on a perfectly steady stylized pair.

    python scripts/check_judge_flow.py [--size 160] [--frames 48] [--stylized DIR] [--out OUT.json] [--only A,B]
    python scripts/check_judge_flow.py --passes DIR   (bench_keyframes.py --parts passes --out DIR, judged again)

The known-motion test is scripts/bench_keyframes.py's ``flows`` part (its code, reused):
cockatoo.mp4's frames (every other one of ``--frames`` at ``--size`` px) each moved along a
smooth flow like the clip's shake (a shift, a small turn, a local bump); a candidate's error
is the mean end-point distance (px) to that motion, 4 px from the border. The candidates are
flows the optimizer does not compute: OpenCV Farneback with several settings, Lucas-Kanade at
every pixel, and DIS (the optimizer's family: listed, not preferred), each also computed at
twice the size and halved; the optimizer's own flow is the reference a judge must reach.

The choice is by the known-motion error alone, on the motions of seed 0 (the bench's); seed 1
(other motions, the odd frames) checks that the pick was not luck. ``--stylized`` (a folder of
one pass's frames, e.g. bench_keyframes.py's ``OUT/passes-1``) adds each candidate's E_warp of a
perfectly steady pair: a stylized frame and the same frame moved alike, the original moved with
it (0 for an exact judge). ``--passes`` (bench_keyframes.py's OUT folder after ``--parts passes``)
judges its saved runs again under today's judge, Lucas-Kanade, today's judge at 2x and the
optimizer's flow, without stylizing again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from bench_keyframes import CLIP, known_motion, known_motion_scaled, shift
from harness.media import need, read_frames
from harness.options import benchmark_parser
from harness.report import print_table, progress, write_json

from videostyle.engine.flow import FlowEstimator
from videostyle.video.metrics import IndependentFlow, warping_error

Flow = Callable[[np.ndarray, np.ndarray], np.ndarray]


def gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def farneback(levels: int, winsize: int, iterations: int, poly_n: int, gaussian: bool) -> Flow:
    sigma = {5: 1.1, 7: 1.5}[poly_n]  # OpenCV's recommended pairs
    flags = cv2.OPTFLOW_FARNEBACK_GAUSSIAN if gaussian else 0

    def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return cv2.calcOpticalFlowFarneback(gray(a), gray(b), None, 0.5, levels, winsize, iterations,
                                            poly_n, sigma, flags)
    return flow


def lucas_kanade(window: int, levels: int = 3) -> Flow:
    """Pyramidal Lucas-Kanade tracked from every pixel: a dense flow from the sparse tracker."""
    def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        h, w = a.shape[:2]
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        points = np.stack([xs.ravel(), ys.ravel()], axis=1).reshape(-1, 1, 2)
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            gray(a), gray(b), points, None, winSize=(window, window), maxLevel=levels,
            criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
        out = (moved - points).reshape(h, w, 2)
        out[status.reshape(h, w) == 0] = 0
        return out.astype(np.float32)
    return flow


def dis(preset: int, refine: bool) -> Flow:
    solver = cv2.DISOpticalFlow_create(preset)  # type: ignore[attr-defined]
    if not refine:
        solver.setVariationalRefinementIterations(0)
    return lambda a, b: solver.calc(gray(a), gray(b), None)


def candidates() -> dict[str, Flow]:
    out: dict[str, Flow] = {"optimizer's (reference, not a candidate)": FlowEstimator(),
                            "dis-norefine (today's judge)": IndependentFlow()}
    for name, preset in (("ultrafast", cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST),
                         ("fast", cv2.DISOPTICAL_FLOW_PRESET_FAST), ("medium", cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)):
        for refine in (False, True):
            out[f"DIS {name}{' refined' if refine else ''}"] = dis(preset, refine)
    for window in (9, 15, 21):
        out[f"LK every pixel w{window}"] = lucas_kanade(window)
    for levels in (3, 5):
        for winsize in (9, 15, 21):
            for iterations in (3, 10):
                for poly_n in (5, 7):
                    for gaussian in (False, True):
                        out[f"Farneback l{levels} w{winsize} i{iterations} n{poly_n}{' G' if gaussian else ''}"] = \
                            farneback(levels, winsize, iterations, poly_n, gaussian)
    return out


def halve(flow: np.ndarray, w: int, h: int) -> np.ndarray:
    return cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA) * (w / flow.shape[1])


def at_twice(flow: Flow) -> Flow:
    """``flow`` computed on the frames upsampled 2x (cubic) and halved: what a judge given only
    the frames at the stylized size can do."""
    def twice_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        h, w = a.shape[:2]
        up = [cv2.resize(x, (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC) for x in (a, b)]
        return halve(flow(*up), w, h)
    return twice_flow


class Judge:
    """A candidate as a metrics.FlowJudge."""

    def __init__(self, name: str, flow: Flow) -> None:
        self.name, self.description, self._flow = name, name, flow

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._flow(a, b)


PASSES_RUNS = {"1 pass": "passes-1", "2 passes": "passes-2", "3 passes": "passes-3",
               "2 passes, optimized": "passes-2-optimized"}


def judge_passes(folder: Path, frames: list[np.ndarray], out: Path) -> int:
    """E_warp of the passes bench's saved runs under several judges, and the change from 1 pass."""
    judges: dict[str, object] = {
        "today's judge": IndependentFlow(), "Lucas-Kanade 15 px": Judge("lk15", lucas_kanade(15)),
        "today's judge at 2x": Judge("dis-norefine at 2x", at_twice(IndependentFlow())), "same": "same"}
    rows: dict[str, dict[str, float]] = {}
    for run, sub in PASSES_RUNS.items():
        styl = read_frames(folder / sub)
        rows[run] = {name: warping_error(frames, styl, flow=judge).e_warp  # type: ignore[arg-type]
                     for name, judge in judges.items()}
        progress({run: rows[run]})
    print_table(["run", *judges], [
        (run, *(f"{v:.6f} ({v / rows['1 pass'][name] - 1:+.1%})" for name, v in row.items()))
        for run, row in rows.items()], title=f"the passes in {folder}, judged again")
    write_json(out, {"passes_e_warp": rows})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--stylized", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("check-judge-flow.json"))
    parser.add_argument("--passes", type=Path, default=None,
                        help="judge bench_keyframes.py's saved passes runs in this folder again")
    parser.add_argument("--only", default=None, help="candidates whose name contains this (comma-separated)")
    args = parser.parse_args(argv)
    need(CLIP, args.stylized, args.passes)
    frames = read_frames(CLIP, size=args.size, frames=args.frames)
    if args.passes is not None:
        return judge_passes(args.passes, frames, args.out)
    twice = read_frames(CLIP, size=2 * args.size, frames=args.frames)
    styl = read_frames(args.stylized) if args.stylized else None
    h, w = frames[0].shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    inner = (slice(4, -4), slice(4, -4))
    flows = candidates()
    if args.only:
        keep = args.only.split(",")
        flows = {n: f for n, f in flows.items() if n.startswith(("optimizer", "dis-norefine"))
                 or any(k in n for k in keep)}
    # the motions: seed 0 on the even frames (the bench's, for choosing), seed 1 on the odd (a check)
    tests = {}
    for seed, first in ((0, 0), (1, 1)):
        rng = np.random.default_rng(seed)
        pairs = []
        for t in range(first, len(frames), 2):
            move = known_motion(rng, xs, ys)
            big = known_motion_scaled(move, 2)
            pairs.append((t, move, frames[t], shift(frames[t], move), twice[t], shift(twice[t], big)))
        tests[seed] = pairs
    rows: dict[str, dict] = {}
    for name, flow in flows.items():
        for variant in ("", "native", "upsampled"):
            label = {"": name, "native": f"{name}, at 2x (the clip read at 2x) halved",
                     "upsampled": f"{name}, at 2x (upsampled) halved"}[variant]
            judge = Judge(label, flow if variant == "" else at_twice(flow))

            def judged(a: np.ndarray, b: np.ndarray, big_a: np.ndarray, big_b: np.ndarray,
                       flow: Flow = flow, variant: str = variant, judge: Judge = judge) -> np.ndarray:
                if variant == "native":
                    return halve(flow(big_a, big_b), w, h)
                return judge(a, b)

            row: dict = {}
            for seed, pairs in tests.items():
                row[f"epe_px_seed{seed}"] = float(np.mean([
                    np.linalg.norm(judged(a, b, ba, bb) - move, axis=2)[inner].mean()
                    for _, move, a, b, ba, bb in pairs]))
            if styl is not None and variant != "native":  # a judge only has the frames at the stylized size
                row["e_warp_steady_pair"] = float(np.mean([
                    warping_error([a, b], [styl[t], shift(styl[t], move)], flow=judge).e_warp
                    for t, move, a, b, _, _ in tests[0]]))
            rows[label] = row
            progress({label: row})
    ranked = sorted(rows.items(), key=lambda item: item[1]["epe_px_seed0"])
    print_table(["flow", "error to known motion, seed 0 (px)", "seed 1 (px)", "E_warp of a steady pair"],
                [(n, f"{r['epe_px_seed0']:.3f}", f"{r['epe_px_seed1']:.3f}",
                  f"{r['e_warp_steady_pair']:.5f}" if "e_warp_steady_pair" in r else "")
                 for n, r in ranked], title=f"judge candidates: cockatoo.mp4, {args.frames} frames at {args.size} px")
    write_json(args.out, {"size": args.size, "frames": args.frames, "candidates": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
