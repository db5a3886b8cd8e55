"""Benchmark: tiled optimization (engine/tiles.py, issue 16) against the untiled one.

    python scripts/bench_tiles.py halo [--size 192] [--core 64] [--halos 0,16,32,48,64,80,96]
    python scripts/bench_tiles.py agree [--size 512] [--core 256] [--split pool1]
    python scripts/bench_tiles.py run [--size 1024] [--iterations 3] [--memory none,2GB,4GB] [--repeat 2]
                                      [--threads 1] [--save DIR]

* ``halo``: max |g_tiled - g| / max |g| of the loss's gradient (and the loss's relative error)
  against the untiled one, for each halo, on a 4:3 picture near the content (fp32, tv 1).
* ``agree``: the same at one size with the default halo.
* ``run``: each configuration in a fresh process (``--max-memory`` none is untiled where it
  fits), ``--repeat`` rounds interleaved: peak RSS (getrusage), wall and CPU seconds per
  L-BFGS iteration after the first (``--threads 1``: CPU time without spin-waiting, the
  fair measure on a loaded machine), the tile count, the final loss; then for each setting
  the seam measure of its result on the tiled run's borders: mean |horizontal and vertical
  pixel difference| across the borders over the same inside the tiles (the untiled result's
  figure on the same lines is the baseline).

Pictures: ../shared/media/content/tubingen.jpg and styles/starry_night.jpg (read, never
copied), or ``--content``/``--style``. Figures are as measured on this machine, under its load.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from harness.machine import Timer, describe, peak_rss_bytes, set_threads
from harness.media import media, need


def _pictures(args: argparse.Namespace, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    from videostyle.engine.tensors import resize_frame
    from videostyle.io.images import read_image

    content = resize_frame(read_image(args.content), width, height)
    return content, read_image(args.style)


def _gradient(stylizer, content: torch.Tensor, x: torch.Tensor, plan) -> tuple[float, torch.Tensor]:
    stylizer.memory.plan = lambda h, w: plan
    try:
        x = x.clone().requires_grad_(True)
        loss, _ = stylizer.objective(content)(x)
        loss.backward()
    finally:
        del stylizer.memory.plan
    return float(loss.detach()), x.grad


def agreement(args: argparse.Namespace, size: int, core: int, halos: list[int]) -> list[dict]:
    """Gradient and loss errors of the tiled evaluation for each halo at one size."""
    from videostyle.config import StyleConfig
    from videostyle.engine import tiling
    from videostyle.engine.optimize import Stylizer
    from videostyle.engine.tensors import frame_to_tensor

    width, height = size, size * 3 // 4
    content_image, style = _pictures(args, width, height)
    stylizer = Stylizer([style], StyleConfig(device="cpu", precision="fp32", tv_weight=1.0))
    content = frame_to_tensor(content_image, torch.device("cpu"))
    noise = torch.randn(content.shape, generator=torch.Generator().manual_seed(0))
    x = (content + 0.1 * noise).clamp(0, 1)
    with Timer() as timer:
        loss, grad = _gradient(stylizer, content, x, None)
    rows = [{"halo": None, "seconds": round(timer.wall, 2), "loss": loss}]
    print(json.dumps(rows[0]), flush=True)
    for halo in halos:
        # the Gram pass on the whole picture and the layers after --split taken from it, as the
        # planner does where they fit (none: every layer recomputed per tile, the Gram pass tiled too)
        split = None if args.split == "none" else args.split
        gram = tiling.grid(height, width, max(height, width) + 16, halo) if split else ()
        plan = tiling.TilePlan(height, width, core, halo, 50, tiling.grid(height, width, core, halo), gram, split)
        with Timer() as timer:
            tiled_loss, tiled_grad = _gradient(stylizer, content, x, plan)
        rows.append({"size": f"{width}x{height}", "core": core, "halo": halo, "tiles": len(plan.tiles), "split": split,
                     "grad_max_rel_err": float((tiled_grad - grad).abs().max() / grad.abs().max()),
                     "loss_rel_err": abs(tiled_loss - loss) / loss, "seconds": round(timer.wall, 2)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def seam_ratio(image: np.ndarray, borders: dict[str, list[int]]) -> float:
    """Mean |pixel difference| across the tile borders {"x": columns, "y": rows} / the same
    inside the tiles, (H, W, 3) image."""
    img = image.astype(np.float64)
    dx = np.abs(np.diff(img, axis=1)).mean(axis=(0, 2))  # (W-1,): difference between x-1 and x
    dy = np.abs(np.diff(img, axis=0)).mean(axis=(1, 2))  # (H-1,)
    xs, ys = borders["x"], borders["y"]
    border = [dx[x - 1] for x in xs] + [dy[y - 1] for y in ys]
    inside = np.concatenate([np.delete(dx, [x - 1 for x in xs]), np.delete(dy, [y - 1 for y in ys])])
    return float(np.mean(border) / inside.mean()) if border else float("nan")


def child(args: argparse.Namespace) -> None:
    """One stylize in this process; prints one JSON line."""
    from videostyle.config import StyleConfig, parse_bytes
    from videostyle.engine.optimize import Stylizer
    from videostyle.engine.tensors import tensor_to_frame
    width, height = args.size, args.size * 3 // 4
    content, style = _pictures(args, width, height)
    memory = None if args.max_memory in (None, "none") else parse_bytes("--max-memory", args.max_memory)
    config = StyleConfig(iterations=args.iterations, scales=1, max_memory=memory, tile=args.tile,
                         precision=args.precision)
    stylizer = Stylizer([style], config)
    plan = stylizer.memory.plan(height, width)
    seen: list[tuple[int, float]] = []
    marks: dict[int, tuple[float, float]] = {}  # iteration -> (wall, CPU) seconds at its first evaluation
    evaluations = [0]

    timer = Timer()

    def progress(p) -> None:
        marks.setdefault(p.iteration, timer.elapsed())
        seen.append((p.iteration, p.loss))
        evaluations[0] += 1

    with timer:
        out = stylizer.stylize(content, callback=progress)
    total, total_cpu = timer.wall, timer.cpu
    steps = sorted(marks)
    if len(steps) > 2:  # from the second iteration's first evaluation to the last's
        wall = (marks[steps[-1]][0] - marks[steps[1]][0]) / (steps[-1] - steps[1])
        per_cpu = (marks[steps[-1]][1] - marks[steps[1]][1]) / (steps[-1] - steps[1])
    else:
        wall, per_cpu = total / max(1, args.iterations), total_cpu / max(1, args.iterations)
    image = tensor_to_frame(out)
    if args.save:
        from videostyle.io.images import write_image

        write_image(Path(args.save), image, force=True)
    print(json.dumps({
        "size": f"{width}x{height}", "max_memory": args.max_memory, "tiles": len(plan.tiles) if plan else 0,
        "core": plan.core if plan else None, "history": plan.history if plan else 50,
        "split": plan.split if plan else None, "threads": torch.get_num_threads(),
        "peak_rss_gb": round(peak_rss_bytes() / 1e9, 2),
        "s_per_iteration": round(wall, 2), "cpu_s_per_iteration": round(per_cpu, 2),
        "evaluations": evaluations[0], "total_s": round(total, 1), "final_loss": seen[-1][1],
        "borders": {"x": sorted({t.x0 for t in plan.tiles if t.x0 > 0}),
                    "y": sorted({t.y0 for t in plan.tiles if t.y0 > 0})} if plan else None}), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("halo", "agree", "run", "child"))
    p.add_argument("--content", default=str(media("content/tubingen.jpg")))
    p.add_argument("--style", default=str(media("styles/starry_night.jpg")))
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--core", type=int, default=None)
    p.add_argument("--halos", default="0,16,32,48,64,80,96")
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--memory", default="none,2GB,4GB")
    p.add_argument("--max-memory", default=None)
    p.add_argument("--tile", type=int, default=None)
    p.add_argument("--precision", default="auto")
    p.add_argument("--split", default="none", help="halo/agree: pool1|pool2|pool3|none (see memory.SPLITS)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (1: CPU time free of spin-waiting)")
    p.add_argument("--repeat", type=int, default=1, help="run: rounds over the --memory settings")
    p.add_argument("--save", default=None, help="run: folder for the results; child: the result's file")
    args = p.parse_args(argv)
    need(args.content, args.style)
    set_threads(args.threads)
    if args.mode != "child":
        print(describe(), flush=True)
    if args.mode == "halo":
        agreement(args, args.size or 192, args.core or 64, [int(h) for h in args.halos.split(",")])
    elif args.mode == "agree":
        from videostyle.engine.tiling import HALO

        agreement(args, args.size or 512, args.core or 256, [HALO])
    elif args.mode == "child":
        child(args)
    else:
        runs(args)
    return 0


def runs(args: argparse.Namespace) -> None:
    """Each --memory setting in a fresh process, --repeat times, interleaved (ABAB: a loaded
    machine's drift falls on both alike); then the seam measure of every result on the first
    tiled run's borders, and the CPU time per iteration of each setting against the first."""
    import tempfile

    from videostyle.io.images import read_image

    folder = Path(args.save or tempfile.mkdtemp(prefix="bench_tiles_"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for repeat in range(args.repeat):
        for memory in args.memory.split(","):
            out = folder / f"{args.size or 1024}_{memory}_{repeat}.png"
            command = [sys.executable, __file__, "child", "--size", str(args.size or 1024), "--content",
                       args.content, "--style", args.style, "--iterations", str(args.iterations),
                       "--max-memory", memory, "--precision", args.precision, "--save", str(out)]
            if args.threads:
                command += ["--threads", str(args.threads)]
            line = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            row = json.loads(line) | {"image": str(out)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    tiled = next((r for r in rows if r["borders"]), None)
    if tiled is None:
        return
    borders = tiled["borders"]
    summary = {}
    for memory in args.memory.split(","):
        mine = [r for r in rows if r["max_memory"] == memory]
        summary[memory] = {
            "cpu_s_per_iteration": [r["cpu_s_per_iteration"] for r in mine],
            "s_per_iteration": [r["s_per_iteration"] for r in mine],
            "peak_rss_gb": max(r["peak_rss_gb"] for r in mine), "final_loss": mine[0]["final_loss"],
            "seam_ratio_on_tiled_borders": round(seam_ratio(read_image(mine[0]["image"]), borders), 3)}
    first = args.memory.split(",")[0]
    for row in summary.values():
        base = sum(summary[first]["cpu_s_per_iteration"]) / len(summary[first]["cpu_s_per_iteration"])
        row["cpu_ratio"] = round(sum(row["cpu_s_per_iteration"]) / len(row["cpu_s_per_iteration"]) / base, 3)
        row["loss_vs_first"] = round(row["final_loss"] / summary[first]["final_loss"] - 1, 5)
    print(json.dumps({"summary": summary, "borders": borders}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
