"""Benchmark: videostyle's optimizer against pastiche's, same image, size, layers and steps.

    python scripts/bench_image.py [--content IMG] [--style IMG] [--size 256] [--steps 20]

Prints seconds per optimizer iteration for both and their ratio, plus weight-loading
times. Both run L-BFGS on the same CPU threads; pastiche does one L-BFGS iteration per
``draw()``; ours counts L-BFGS iterations (a line search may add evaluations, which are
reported too). Defaults use ../shared/media when present, else the bundled samples.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "media"


def _default(shared: str, sample: str) -> str:
    path = SHARED / shared
    return str(path if path.exists() else ROOT / "samples" / sample)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--content", default=_default("content/tubingen.jpg", "content.jpg"))
    parser.add_argument("--style", default=_default("styles/starry_night.jpg", "style.jpg"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)

    print(f"device: cpu ({platform.processor() or platform.machine()}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"content {args.content}, style {args.style}, size {args.size}, {args.steps} L-BFGS steps, "
          "layers relu4_2 / relu1_1..relu5_1")
    theirs = bench_pastiche(args.content, args.style, args.size, args.steps)
    rows = [("pastiche", theirs)]
    for precision in ("auto", "fp32"):
        rows.append((f"videostyle ({precision})", bench_ours(args.content, args.style, args.size,
                                                             args.steps, precision)))
    print(f"{'':30} {'size':>8} {'load s':>7} {'s/iter':>7} {'evals/iter':>10} {'vs pastiche':>11}")
    for name, r in rows:
        ratio = r["s_per_iter"] / theirs["s_per_iter"]
        label = f"{name} {r.get('precision', '')}".strip()
        print(f"{label:30} {r['size']:>8} {r['load_s']:7.2f} {r['s_per_iter']:7.3f} "
              f"{r['evals_per_iter']:10.2f} {ratio:10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
