"""Benchmark: temporal modes side by side on one clip (issue acceptance figures).

    python scripts/bench_video.py [--input CLIP] [--style IMG] [--size 160] [--frames 24]
                                  [--iterations 20] [--first-iterations 150] [--out DIR]

For each of flow, warm and independent it stylizes the clip, then reports E_warp (the
same measure as ``videostyle eval``: judged by the independent flow, which the optimizer
never uses; also, for comparison with older figures, by the optimizer's own flow, which
favours flow mode), the mean Gram style distance of the frames to the style (strength;
lower is more stylized), and seconds per frame after the first.
Defaults use ../shared/media/cockatoo.mp4 and starry_night.jpg.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from harness.machine import describe
from harness.measures import mean_style_distance
from harness.media import need, read_frames
from harness.options import add_clip_options, benchmark_parser
from harness.report import write_json

from videostyle.config import ClipConfig, StyleConfig, TemporalConfig
from videostyle.engine.optimize import Stylizer
from videostyle.io import read_image
from videostyle.video.job import stylize_video
from videostyle.video.metrics import evaluate_videos
from videostyle.video.report import VideoProgress


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__)
    add_clip_options(parser, size=160, frames=24)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--first-iterations", type=int, default=150)
    parser.add_argument("--modes", default="flow,warm,independent")
    parser.add_argument("--temporal-weight", type=float, default=TemporalConfig().temporal_weight)
    parser.add_argument("--long-term", default="", help="flow mode's long-term offsets, e.g. 2,4")
    parser.add_argument("--out", default="bench-video")
    args = parser.parse_args(argv)
    need(args.input, args.style)

    out = Path(args.out)
    long_term = tuple(int(j) for j in args.long_term.split(",") if j)
    out.mkdir(exist_ok=True)
    style_image = read_image(args.style)
    style = StyleConfig()
    judge = Stylizer([style_image], style)
    print(describe(judge))
    print(f"{args.input}: {args.frames} frames at {args.size} px, {args.iterations} iterations/frame "
          f"({args.first_iterations} first), device {judge.compute.name}")
    rows = {}
    for mode in args.modes.split(","):
        finished: list[float] = []

        def timer(p: VideoProgress, finished: list[float] = finished) -> None:
            if p.step is None and p.stage == "stylize":
                finished.append(time.perf_counter())

        temporal = TemporalConfig(mode=mode, iterations=args.iterations, first_iterations=args.first_iterations,
                                  temporal_weight=args.temporal_weight,
                                  long_term=long_term if mode == "flow" else ())
        target = out / f"{mode}.mp4"
        stylize_video(args.input, target, [style_image], style=style, temporal=temporal,
                      clip=ClipConfig(size=args.size, frames=args.frames), force=True, restart=True,
                      callback=timer)
        spf = float(np.mean(np.diff(finished))) if len(finished) > 2 else float("nan")
        strength = mean_style_distance(judge, read_frames(target))
        report = evaluate_videos(args.input, target, frames=args.frames)  # the independent flow
        same = evaluate_videos(args.input, target, frames=args.frames, flow="same")
        if not rows:
            print(f"E_warp judged by the {report['flow']} flow: {report['flow_method']} "
                  f"(in brackets: the {same['flow']} flow, {same['flow_method']})")
        rows[mode] = {"e_warp": report["e_warp"], "style_distance": strength, "s_per_frame": spf,
                      "e_warp_original": report["e_warp_original"], "flow": report["flow"],
                      "e_warp_same": same["e_warp"], "e_warp_original_same": same["e_warp_original"]}
        print(f"{mode:12} E_warp {report['e_warp']:.5f} ({same['e_warp']:.5f})  style distance {strength:.3f}  "
              f"{spf:.2f} s/frame (after the first)", flush=True)
    if rows:
        first = next(iter(rows.values()))
        print(f"{'original':12} E_warp {first['e_warp_original']:.5f} ({first['e_warp_original_same']:.5f})")
    if "flow" in rows:
        for other in ("warm", "independent"):
            if other in rows:
                print(f"flow/{other}: E_warp ratio {rows['flow']['e_warp'] / rows[other]['e_warp']:.3f}, "
                      f"style distance ratio {rows['flow']['style_distance'] / rows[other]['style_distance']:.3f}")
    write_json(out / "results.json", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
