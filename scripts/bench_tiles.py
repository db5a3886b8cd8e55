"""Benchmark: tiled optimization (engine/tiles.py, issue 16) against the untiled one.

    python scripts/bench_tiles.py halo [--size 192] [--core 64] [--halos 0,16,32,48,64,80,96]
    python scripts/bench_tiles.py agree [--size 512] [--core 256]
    python scripts/bench_tiles.py run [--size 1024] [--iterations 3] [--memory none,2GB,4GB]

* ``halo``: max |g_tiled - g| / max |g| of the loss's gradient (and the loss's relative error)
  against the untiled one, for each halo, on a 4:3 picture near the content (fp32, tv 1).
* ``agree``: the same at one size with the default halo.
* ``run``: each configuration in a fresh process (``--max-memory`` none is untiled where it
  fits): peak RSS (getrusage), seconds per L-BFGS iteration after the first, the tile count,
  the final loss, and the seam measure of the result: mean |horizontal and vertical pixel
  difference| across the tile borders over the same inside the tiles (1.0: no seam).

Pictures: ../shared/media/content/tubingen.jpg and styles/starry_night.jpg (read, never
copied), or ``--content``/``--style``. Figures are as measured on this machine, under its load.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

MEDIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "media"


def _pictures(args: argparse.Namespace, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    from videostyle.engine.tensors import resize_frame
    from videostyle.io.images import read_image

    content = resize_frame(read_image(args.content), width, height)
    return content, read_image(args.style)


def _gradient(stylizer, content: torch.Tensor, x: torch.Tensor, plan) -> tuple[float, torch.Tensor]:
    stylizer._tile_plan = lambda h, w: plan
    try:
        x = x.clone().requires_grad_(True)
        loss, _ = stylizer._loss_fn(content, None, {})(x)
        loss.backward()
    finally:
        del stylizer._tile_plan
    return float(loss.detach()), x.grad


def agreement(args: argparse.Namespace, size: int, core: int, halos: list[int]) -> list[dict]:
    """Gradient and loss errors of the tiled evaluation for each halo at one size."""
    from videostyle.config import StyleConfig
    from videostyle.engine import tiles
    from videostyle.engine.optimize import Stylizer
    from videostyle.engine.tensors import frame_to_tensor

    width, height = size, size * 3 // 4
    content_image, style = _pictures(args, width, height)
    stylizer = Stylizer([style], StyleConfig(device="cpu", precision="fp32", tv_weight=1.0))
    content = frame_to_tensor(content_image, torch.device("cpu"))
    noise = torch.randn(content.shape, generator=torch.Generator().manual_seed(0))
    x = (content + 0.1 * noise).clamp(0, 1)
    start = time.perf_counter()
    loss, grad = _gradient(stylizer, content, x, None)
    rows = [{"halo": None, "seconds": round(time.perf_counter() - start, 2), "loss": loss}]
    print(json.dumps(rows[0]), flush=True)
    for halo in halos:
        plan = tiles.TilePlan(height, width, core, halo, 50, tiles.grid(height, width, core, halo))
        start = time.perf_counter()
        tiled_loss, tiled_grad = _gradient(stylizer, content, x, plan)
        rows.append({"size": f"{width}x{height}", "core": core, "halo": halo, "tiles": len(plan.tiles),
                     "grad_max_rel_err": float((tiled_grad - grad).abs().max() / grad.abs().max()),
                     "loss_rel_err": abs(tiled_loss - loss) / loss,
                     "seconds": round(time.perf_counter() - start, 2)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def seam_ratio(image: np.ndarray, plan) -> float:
    """Mean |pixel difference| across tile borders / the same inside tiles, (H, W, 3) image."""
    img = image.astype(np.float64)
    dx = np.abs(np.diff(img, axis=1)).mean(axis=(0, 2))  # (W-1,): difference between x-1 and x
    dy = np.abs(np.diff(img, axis=0)).mean(axis=(1, 2))  # (H-1,)
    xs = sorted({t.x0 for t in plan.tiles if t.x0 > 0})
    ys = sorted({t.y0 for t in plan.tiles if t.y0 > 0})
    border = [dx[x - 1] for x in xs] + [dy[y - 1] for y in ys]
    inside = np.concatenate([np.delete(dx, [x - 1 for x in xs]), np.delete(dy, [y - 1 for y in ys])])
    return float(np.mean(border) / inside.mean()) if border else float("nan")


def child(args: argparse.Namespace) -> None:
    """One stylize in this process; prints one JSON line."""
    from videostyle.config import StyleConfig, parse_bytes
    from videostyle.engine.optimize import Stylizer
    from videostyle.engine.tensors import tensor_to_frame
    from videostyle.engine.tiles import HALO, TilePlan, grid

    width, height = args.size, args.size * 3 // 4
    content, style = _pictures(args, width, height)
    memory = None if args.max_memory in (None, "none") else parse_bytes("--max-memory", args.max_memory)
    config = StyleConfig(iterations=args.iterations, scales=1, max_memory=memory, tile=args.tile,
                         precision=args.precision)
    stylizer = Stylizer([style], config)
    plan = stylizer._tile_plan(height, width)
    seen: list[tuple[int, float]] = []
    marks: dict[int, float] = {}

    def progress(p) -> None:
        marks.setdefault(p.iteration, time.perf_counter())
        seen.append((p.iteration, p.loss))

    start = time.perf_counter()
    out = stylizer.stylize(content, callback=progress)
    total = time.perf_counter() - start
    steps = sorted(marks)
    per_iteration = ((marks[steps[-1]] - marks[steps[1]]) / (steps[-1] - steps[1])
                     if len(steps) > 2 else total / max(1, args.iterations))
    image = tensor_to_frame(out)
    print(json.dumps({
        "size": f"{width}x{height}", "max_memory": args.max_memory, "tiles": len(plan.tiles) if plan else 0,
        "core": plan.core if plan else None, "history": plan.history if plan else 50,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 2),
        "s_per_iteration": round(per_iteration, 1), "total_s": round(total, 1), "final_loss": seen[-1][1],
        # untiled: the same measure on the lines a grid of --core px cores would have (a baseline)
        "seam_ratio": round(seam_ratio(image, plan or TilePlan(height, width, args.core or 480, HALO, 50, grid(
            height, width, args.core or 480, HALO))), 3)}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("halo", "agree", "run", "child"))
    p.add_argument("--content", default=str(MEDIA / "content" / "tubingen.jpg"))
    p.add_argument("--style", default=str(MEDIA / "styles" / "starry_night.jpg"))
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--core", type=int, default=None)
    p.add_argument("--halos", default="0,16,32,48,64,80,96")
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--memory", default="none,2GB,4GB")
    p.add_argument("--max-memory", default=None)
    p.add_argument("--tile", type=int, default=None)
    p.add_argument("--precision", default="auto")
    args = p.parse_args()
    if args.mode == "halo":
        agreement(args, args.size or 192, args.core or 64, [int(h) for h in args.halos.split(",")])
    elif args.mode == "agree":
        from videostyle.engine.tiles import HALO

        agreement(args, args.size or 512, args.core or 256, [HALO])
    elif args.mode == "child":
        child(args)
    else:
        for memory in args.memory.split(","):
            command = [sys.executable, __file__, "child", "--size", str(args.size or 1024), "--content",
                       args.content, "--style", args.style, "--iterations", str(args.iterations),
                       "--max-memory", memory, "--precision", args.precision, "--core", str(args.core or 480)]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
