"""Benchmark: the engine on an accelerator (or any --device): evaluations against the
device's own bf16 peak, seconds per video frame, and a live session's frame rate.

    python scripts/bench_gpu.py [--device auto] [--sizes 512x512,1280x720,1920x1080]
                                [--clip-size 1280] [--clip-frames 6] [--webcam-seconds 20]

Prints, in one run:

1. per size, s/evaluation through ``Stylizer.stylize`` (one scale, L-BFGS included), GFLOP/s
   (convolutions counted from the layer shapes) and the share of the peak measured in the
   same run (the larger of a square matmul and a 3x3 256->256 conv, channels_last, in the
   engine's precision: 8192² and 256x256 on CUDA, 2048² and 48x64 elsewhere); peak and
   evaluations alternate for ``--rounds``;
2. s/frame of a generated 16:9 pan at ``--clip-size`` through ``video.chain.stylize_segment``
   (the video job's frame loop, default budgets), median over the frames after the first,
   and how long frames waited for their optical flow;
3. a live session on a file camera (a generated 640x480 clip at 30 fps) through
   ``live.LiveStylizer`` with ``--webcam-iterations`` per frame: stylized frames per second
   after the first and the mean capture-to-result latency.

It runs on the CPU too (``--device cpu``, with smaller ``--sizes``, ``--clip-size`` and
``--webcam-*`` to finish quickly), which is how it is tested without a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.machine import Timer, describe
from harness.media import generated_pan, media, write_clip
from harness.peak import evaluation_rounds, parse_sizes, print_evaluation_rounds

DEFAULT_SIZES = "512x512,1280x720,1920x1080"


def bench_evaluations(stylizer, sizes: list[tuple[int, int]], rounds: int, iterations: int) -> None:
    images = {size: generated_pan(1, *size)[0] for size in sizes}
    print_evaluation_rounds(stylizer, evaluation_rounds(stylizer, images, rounds=rounds, iterations=iterations))


def bench_clip(stylizer, size: int, frames: int, iterations: int | None, first_iterations: int | None) -> None:
    from videostyle.config import TemporalConfig
    from videostyle.video.chain import stylize_segment

    clip = generated_pan(frames, size, size * 9 // 16)
    defaults = TemporalConfig()
    config = TemporalConfig(iterations=defaults.iterations if iterations is None else iterations,
                            first_iterations=defaults.first_iterations if first_iterations is None
                            else first_iterations)
    with Timer(stylizer.device) as timer:
        done = list(stylize_segment(stylizer, clip, config=config))
    later = [f.seconds + f.flow_wait for f in done[1:]]
    waits = [f.flow_wait for f in done[1:]]
    print(f"clip: {len(done)} frames of a generated pan at {size}x{size * 9 // 16}, "
          f"{config.iterations} iterations a frame ({config.first_iterations} for the first): "
          f"first frame {done[0].seconds:.2f} s, then {statistics.median(later):.3f} s/frame (median), "
          f"flow wait {statistics.mean(waits):.3f} s/frame (mean); {timer.wall:.1f} s in all")


def bench_webcam(stylizer, seconds: float, iterations: int, first_iterations: int) -> None:
    from videostyle.live.camera import Camera
    from videostyle.live.policy import LiveStylizer

    with tempfile.TemporaryDirectory() as tmp:
        path = str(write_clip(Path(tmp) / "camera.mp4", generated_pan(90, 640, 480, step=4), fps=30))
        live = LiveStylizer(stylizer, fps=None, iterations=iterations, max_iterations=iterations,
                            first_iterations=first_iterations)
        with Camera(path, size=640, loop_file=True) as camera:
            captured = camera.newest(None, timeout=10)
            assert captured is not None
            live.step(captured.image, captured_at=captured.time)  # the first frame warms up
            begin, frames = time.monotonic(), 0
            latencies = []
            while time.monotonic() - begin < seconds:
                newer = camera.newest(captured.number, timeout=5)
                if newer is None:
                    break
                captured = newer
                live.step(captured.image, captured_at=captured.time)
                latencies.append(live.latencies[-1])
                frames += 1
            elapsed = time.monotonic() - begin
    print(f"webcam: file camera 640x480 at 30 fps, {iterations} iterations a frame: "
          f"{frames / elapsed:.2f} stylized frames/s after the first, mean latency "
          f"{statistics.mean(latencies) if latencies else float('nan'):.3f} s ({frames} frames in {elapsed:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--style", default=str(media("styles/starry_night.jpg")),
                        help="the style (default: The Starry Night from the shared media, else a generated picture)")
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=8, help="L-BFGS iterations per timed call")
    parser.add_argument("--clip-size", type=int, default=1280, help="long side of the clip; 0 skips it")
    parser.add_argument("--clip-frames", type=int, default=6)
    parser.add_argument("--clip-iterations", type=int, default=None, help="default: TemporalConfig's")
    parser.add_argument("--clip-first-iterations", type=int, default=None, help="default: TemporalConfig's")
    parser.add_argument("--webcam-seconds", type=float, default=20.0, help="0 skips the live session")
    parser.add_argument("--webcam-iterations", type=int, default=5)
    parser.add_argument("--webcam-first-iterations", type=int, default=100)
    args = parser.parse_args(argv)

    from videostyle.config import StyleConfig
    from videostyle.engine.optimize import Stylizer
    from videostyle.io import read_image

    style = read_image(args.style) if Path(args.style).exists() else generated_pan(1, 256, 256)[0]
    stylizer = Stylizer([style], StyleConfig(device=args.device, precision=args.precision))
    print(describe(stylizer))
    bench_evaluations(stylizer, args.sizes, args.rounds, args.iterations)
    if args.clip_size:
        bench_clip(stylizer, args.clip_size, args.clip_frames, args.clip_iterations, args.clip_first_iterations)
    if args.webcam_seconds:
        bench_webcam(stylizer, args.webcam_seconds, args.webcam_iterations, args.webcam_first_iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
