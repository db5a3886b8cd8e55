"""Benchmark: one clip on 2 Ray workers against the sequential run (issue 9's figures).

    python scripts/bench_distributed.py [--input CLIP] [--style IMG] [--size 160] [--frames 96]
                                        [--workers 2] [--out DIR] [--runs dist,seq1,seq2,guide]

Every configuration is measured in this one run, one after the other, on the same machine:

* ``seq2``: today's sequential run, torch at 2 threads (``videostyle video`` without --workers);
* ``seq1``: the same with torch at 1 thread: the 1 worker x 1 thread baseline;
* ``dist``: ``--workers 2`` (a local Ray runtime, 2 actors x 1 thread) with the kept
  boundary strategy: a bridge of ``--overlap`` frames (``segment.stylize_bridge``);
* ``guide``: the other strategy measured, a sequential guide pass at a quarter of the size
  whose upsampled result starts each later segment of a shot (``--guide-iterations`` on
  it). Run in this process at 1 thread, segment by segment; its 2-worker wall time is the
  critical path max(segment 0, guide pass + segment 1) of those measured times, plus the
  measured time to start and stop a local Ray runtime with its actors.

For each it prints frames per second, E_warp of the whole clip (flow on the originals at the
stylized size, as ``videostyle eval``), E_warp of the frame pairs that straddle a segment
boundary next to the median pair inside segments, and the mean Gram style distance to the
painting. Outputs are PNG folders (lossless), so E_warp sees exactly the frames made.
Defaults: ../shared/media/cockatoo.mp4, 96 frames at 160 px, starry_night.jpg, default settings.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from harness.machine import Timer, describe, load, set_threads
from harness.measures import mean_style_distance
from harness.media import need, read_frames
from harness.options import add_clip_options, benchmark_parser
from harness.report import print_table, write_json

from videostyle.config import ClipConfig, SegmentConfig, StyleConfig, TemporalConfig
from videostyle.engine.optimize import Stylizer
from videostyle.engine.tensors import frame_to_tensor, resize_frame, tensor_to_frame
from videostyle.io import read_image
from videostyle.video.chain import SegmentState, stylize_segment
from videostyle.video.job import stylize_video
from videostyle.video.metrics import warping_error
from videostyle.video.plan import plan_segments


def pair_sets(count: int, cuts: list[int], segments, kind: str, overlap: int) -> tuple[list[int], list[int]]:
    """(boundary pairs, inside pairs) as indices k of the pair (frame k, frame k + 1)."""
    boundary: set[int] = set()
    for seg in segments:
        if seg.shot_start:
            continue
        span = overlap if kind == "bridge" else 0
        boundary.update(range(seg.start - 1, min(count - 1, seg.start + span)))
    inside = [k for k in range(count - 1) if k not in boundary and (k + 1) not in cuts]
    return sorted(boundary), inside


def measure(name: str, originals: list[np.ndarray], frames: list[np.ndarray], judge: Stylizer,
            boundary: list[int], inside: list[int]) -> dict:
    error = warping_error(originals, frames)
    assert len(error.per_pair) == len(frames) - 1, "a pair without reliable pixels: indices would shift"
    pairs = np.asarray(error.per_pair)
    distance = mean_style_distance(judge, frames)
    row = {"e_warp": error.e_warp, "style_distance": distance,
           "boundary_pairs": {str(k): float(pairs[k]) for k in boundary},
           "boundary_max": float(pairs[boundary].max()) if boundary else None,
           "boundary_mean": float(pairs[boundary].mean()) if boundary else None,
           "inside_median": float(np.median(pairs[inside]))}
    print(f"  {name}: E_warp {row['e_warp']:.5f}, style distance {distance:.4f}, inside median "
          f"{row['inside_median']:.5f}" + (f", boundary max {row['boundary_max']:.5f} mean {row['boundary_mean']:.5f}"
                                           if boundary else ""), flush=True)
    return row


def run_video(args, style_image, out: Path, threads: int, segments: SegmentConfig | None = None) -> tuple[float, list]:
    set_threads(threads)
    with Timer() as timer:
        result = stylize_video(args.input, f"{out}/", [style_image], style=StyleConfig(), temporal=TemporalConfig(),
                               clip=ClipConfig(size=args.size, frames=args.frames), force=True, restart=True,
                               segments=segments)
    return timer.wall, result.scene_cuts


def guide_run(args, style_image, originals: list[np.ndarray], cuts: list[int], out: Path) -> dict:
    """The guide strategy, segment by segment in this process at 1 thread (see the module docstring)."""
    set_threads(1)
    stylizer = Stylizer([style_image], StyleConfig())
    config = TemporalConfig()
    count = len(originals)
    plan = plan_segments(count, cuts, workers=args.workers, max_length=SegmentConfig().max_length, overlap=0)
    h, w = originals[0].shape[:2]
    small = [resize_frame(f, max(16, round(w / args.guide_factor)), max(16, round(h / args.guide_factor)))
             for f in originals]
    results: dict[int, np.ndarray] = {}
    times: dict[str, float] = {}
    shot_start = 0
    for seg in plan:
        if seg.shot_start:
            shot_start = seg.start
            start = None
        else:  # the guide pass over the shot up to this segment's first frame, at low resolution
            guide = None
            with Timer() as timer:
                for done in stylize_segment(stylizer, small[shot_start: seg.start + 1], config=config,
                                            first=shot_start):
                    guide = done.state
            times[f"guide {shot_start}-{seg.start}"] = timer.wall
            assert guide is not None
            start = (resize_frame((guide * 255 + 0.5).astype(np.uint8), w, h), args.guide_iterations)
        with Timer() as timer:
            state, first_frame = None, seg.start
            if start is not None:  # the segment's first frame from the upsampled guide, then its chain
                picture, budget = start
                first = stylizer.stylize(originals[seg.start], init=frame_to_tensor(picture), iterations=budget,
                                         scales=1)
                results[seg.start] = tensor_to_frame(first)
                state = SegmentState(results=(first[0].permute(1, 2, 0).float().cpu().numpy(),), since_restart=1)
                first_frame = seg.start + 1
            for done in stylize_segment(stylizer, originals[seg.start: seg.stop], config=config, first=seg.start,
                                        begin=first_frame, state=state):
                results[done.index] = done.image
        times[f"segment {seg.start}-{seg.stop}"] = timer.wall
    out.mkdir(parents=True, exist_ok=True)
    for index, image in results.items():
        from videostyle.io import write_image

        write_image(out / f"frame_{index + 1:05d}.png", image, force=True)
    segment_times = [v for k, v in times.items() if k.startswith("segment")]
    guide_times = [v for k, v in times.items() if k.startswith("guide")]
    # 2 workers: one runs segment 0, the other the guide pass and then segment 1 (and so on)
    critical = max(segment_times[0], sum(guide_times) + sum(segment_times[1:]))
    return {"plan": [(s.start, s.stop) for s in plan], "times": times, "critical_path": critical,
            "frames": [results[i] for i in range(count)]}


def ray_start_seconds(args, style_image, originals: list[np.ndarray]) -> float:
    """Seconds to start a local Ray runtime with the actors loaded, and to shut it down."""
    from videostyle.io import VideoInfo
    from videostyle.video.ray import RayRuntime

    h, w = originals[0].shape[:2]
    info = VideoInfo(path=args.input, width=w, height=h, fps=20.0, frame_count=len(originals), duration=None,
                     has_audio=False)
    with Timer() as timer, RayRuntime(SegmentConfig(workers=args.workers), [style_image], StyleConfig(),
                                      TemporalConfig(), info) as runtime:
        runtime.worker_pids()
    return timer.wall


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__)
    add_clip_options(parser, size=160, frames=96)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--overlap", type=int, default=SegmentConfig().overlap)
    parser.add_argument("--guide-factor", type=float, default=4.0, help="the guide pass's size divisor")
    parser.add_argument("--guide-iterations", type=int, default=TemporalConfig().first_iterations // 3)
    parser.add_argument("--runs", default="dist,seq1,seq2,guide")
    parser.add_argument("--out", default="bench-distributed")
    args = parser.parse_args(argv)
    runs = args.runs.split(",")
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    need(args.input, args.style)
    style_image = read_image(args.style)
    originals = read_frames(args.input, size=args.size, frames=args.frames)
    count = len(originals)
    judge = Stylizer([style_image], StyleConfig(precision="fp32"))
    t = TemporalConfig()
    print(f"{args.input}: {count} frames at {originals[0].shape[1]}x{originals[0].shape[0]}, "
          f"{t.iterations} iterations/frame ({t.first_iterations} first)", flush=True)
    print(describe(Stylizer([style_image], StyleConfig())), flush=True)  # as the runs are set up; the judge is fp32
    load_before = load()
    print(f"load before: {load_before}", flush=True)
    rows: dict[str, dict] = {"load_before": {"uptime": load_before}}
    cuts: list[int] = []
    segments = SegmentConfig(workers=args.workers, overlap=args.overlap)
    costs = segments.plan_costs(TemporalConfig())
    plan = plan_segments(count, cuts, workers=args.workers, max_length=segments.max_length, overlap=args.overlap,
                         **costs)
    if "dist" in runs:
        wall, cuts = run_video(args, style_image, out / "dist", 1, segments)
        plan = plan_segments(count, cuts, workers=args.workers, max_length=segments.max_length,
                             overlap=args.overlap, **costs)
        boundary, inside = pair_sets(count, cuts, plan, "bridge", args.overlap)
        print(f"dist ({args.workers} workers x 1 thread, bridge of {args.overlap} frames x "
              f"{segments.bridge_iterations} iterations, segment start "
              f"{segments.segment_start_iterations(TemporalConfig())} iterations): {wall:.1f} s, "
              f"plan {[(s.start, s.stop) for s in plan]}, {load()}", flush=True)
        rows["dist"] = {"wall": wall, **measure("dist", originals, read_frames(out / "dist"), judge, boundary, inside)}
    for name, threads in (("seq1", 1), ("seq2", 2)):
        if name in runs:
            wall, cuts = run_video(args, style_image, out / name, threads)
            print(f"{name} (sequential, torch {threads} thread{'s' if threads > 1 else ''}): {wall:.1f} s, {load()}",
                  flush=True)
            boundary, inside = pair_sets(count, cuts, plan, "bridge", args.overlap)
            rows[name] = {"wall": wall, **measure(name, originals, read_frames(out / name), judge, boundary, inside)}
    if "guide" in runs:
        guide = guide_run(args, style_image, originals, cuts, out / "guide")
        overhead = ray_start_seconds(args, style_image, originals)  # what a Ray run adds: runtime and actors
        g_plan = plan_segments(count, cuts, workers=args.workers, max_length=SegmentConfig().max_length, overlap=0)
        boundary, inside = pair_sets(count, cuts, g_plan, "guide", 0)
        print(f"guide (1/{args.guide_factor:g} size, {args.guide_iterations} iterations on it): times "
              f"{ {k: round(v, 1) for k, v in guide['times'].items()} }, critical path {guide['critical_path']:.1f} s, "
              f"{load()}", flush=True)
        rows["guide"] = {"wall": guide["critical_path"] + overhead, "critical_path": guide["critical_path"],
                         "times": guide["times"],
                         **measure("guide", originals, guide["frames"], judge, boundary, inside)}
        if "seq1" in rows:  # the sequential run at the guide's boundary pairs, for reference
            rows["seq1"]["at_guide_boundaries"] = {str(k): rows["seq1"]["boundary_pairs"].get(str(k)) for k in boundary}
    rows["load_after"] = {"uptime": load()}
    print(f"load after: {rows['load_after']['uptime']}")
    summarize(rows, count)
    write_json(out / "results.json", rows)
    return 0


def summarize(rows: dict, count: int) -> None:
    base = rows.get("seq1")
    table = []
    for name in ("seq2", "seq1", "dist", "guide"):
        row = rows.get(name)
        if row is None:
            continue
        speed = f"{base['wall'] / row['wall']:.2f}x" if base else ""
        quality = f"{row['e_warp'] / base['e_warp']:.2f}x" if base else ""
        ratio = f"{row['boundary_max'] / row['inside_median']:.2f}x" if row.get("boundary_max") else ""
        if name.startswith("seq") and row.get("boundary_max"):
            ratio += " (same pairs, no boundary)"
        table.append([name, f"{row['wall']:.1f}", f"{count / row['wall']:.3f}", speed, f"{row['e_warp']:.5f}",
                      quality, ratio, f"{row['style_distance']:.4f}"])
    print_table(("run", "wall s", "frames/s", "vs seq1", "E_warp", "vs seq1", "boundary max / inside median",
                 "style distance"), table, title="Every run, one after the other on this machine:")
    if base and "dist" in rows:
        d = rows["dist"]
        print(f"\nthroughput 2x1 over 1x1: {base['wall'] / d['wall']:.2f}x (target >= 1.7x); E_warp ratio "
              f"{d['e_warp'] / base['e_warp']:.2f} (<= 1.25); boundary max / inside median "
              f"{d['boundary_max'] / d['inside_median']:.2f} (<= 2); style distance ratio "
              f"{d['style_distance'] / base['style_distance']:.3f} (within 10%)")


if __name__ == "__main__":
    sys.exit(main())
