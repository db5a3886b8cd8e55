"""Measurements for issue 27: keyframes carried along a clip both ways, and multi-pass.

    python scripts/bench_keyframes.py [--parts keyframes,passes] [--size 160] [--frames 48]
                                      [--keys 10,38] [--out DIR] [--docs docs] [--threads N]

* ``keyframes``: cockatoo.mp4, ``--frames`` frames at ``--size`` px. Keyframe 1 is frame
  ``keys[0]`` (0-based) stylized with ``videostyle image`` in The Starry Night at twice the
  clip's size, then hand-altered: a magenta disc painted on the cockatoo's head. Keyframe 2
  is frame ``keys[1]`` stylized in The Shipwreck. The clip is stylized with the two keyframes
  and no style, and, for reference, with The Starry Night alone (the default run) and with a
  schedule Starry Night -> Shipwreck over the keyframes' times. Figures: PSNR of each
  keyframe's frame against the keyframe resized to the output; where the mark is in every
  frame against where the independent flow carries the head (px); an independent style
  measure (``harness.texture``, no network) of the frames near each keyframe to both
  keyframes; whole-clip E_warp under the independent flow against the references, and the
  mean pair E_warp before the first keyframe against after it.
* ``passes``: the same clip in The Starry Night with ``passes`` 1, then 2 (the second pass
  reusing the first's frames): E_warp, the Gram distance to the painting (a judge in float32)
  and the texture distance, and the loss evaluations each pass cost.

E_warp is ``videostyle.video.metrics.warping_error``: the independent flow (DIS without
refinement), not the optimizer's. Outputs are PNG folders (lossless); the figures go to
``OUT/bench_keyframes.json`` and a strip of frames to ``DOCS/keyframes-strip.jpg``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from harness.machine import Timer, describe, set_threads
from harness.media import MEDIA, need, read_frames
from harness.options import benchmark_parser
from harness.report import print_table, progress, write_json
from harness.serve import checkout_env, videostyle_command
from harness.texture import texture_distance

from videostyle.config import ClipConfig, ScheduleEntry, StyleConfig, StyleSchedule
from videostyle.engine.optimize import Stylizer
from videostyle.io import read_image
from videostyle.io.images import resize_frame
from videostyle.video.job import stylize_video
from videostyle.video.keyframes import KeyframeImage
from videostyle.video.metrics import IndependentFlow, warping_error

CLIP = MEDIA / "cockatoo.mp4"
STARRY, SHIPWRECK = MEDIA / "styles" / "starry_night.jpg", MEDIA / "styles" / "shipwreck.jpg"
MARK_AT = (0.5, 0.22)  # the mark's centre on keyframe 1, as fractions of its width and height: the head
MARK_RADIUS = 0.03  # of the width
MARK_RGB = (255, 0, 200)  # magenta: in neither painting


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--parts", default="keyframes,passes")
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--keys", default="10,38", help="the keyframes' frames, 0-based (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("bench-keyframes"))
    parser.add_argument("--docs", type=Path, default=None, help="write the strip of frames here")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    args.parts = args.parts.split(",")
    args.keys = [int(k) for k in args.keys.split(",")]
    return args


def originals(size: int, frames: int) -> list[np.ndarray]:
    return read_frames(CLIP, size=size, frames=frames)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def painted_frame(frame: np.ndarray, style: Path, out: Path, size: int) -> np.ndarray:
    """``frame`` stylized by the command line's ``videostyle image`` (at its default budget)."""
    source = out.with_name(out.stem + "-photo.png")
    cv2.imwrite(str(source), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    subprocess.run(videostyle_command("image", source, "-s", style, "--size", size, "-o", out, "-f", "-q"),
                   check=True, env=checkout_env())
    return read_image(out)


def add_mark(image: np.ndarray) -> np.ndarray:
    marked = image.copy()
    h, w = marked.shape[:2]
    centre = (round(MARK_AT[0] * w), round(MARK_AT[1] * h))
    cv2.circle(marked, centre, max(2, round(MARK_RADIUS * w)), MARK_RGB, -1, cv2.LINE_AA)
    return marked


def mark_pixels(frame: np.ndarray) -> np.ndarray:
    """Where the magenta mark is: (N, 2) x, y."""
    f = frame.astype(np.int32)
    magenta = ((f[..., 0] + f[..., 2]) // 2 - f[..., 1] > 110) & (f[..., 0] > 150) & (f[..., 2] > 110)
    ys, xs = np.nonzero(magenta)
    return np.stack([xs, ys], axis=1)


def track(frames: list[np.ndarray], start: int, point: tuple[float, float]) -> dict[int, tuple[float, float]]:
    """The head's point carried from frame ``start`` along the independent flow, both ways."""
    judge = IndependentFlow()
    where = {start: point}
    for step in (1, -1):
        x, y = point
        t = start
        while 0 <= t + step < len(frames):
            flow = judge(frames[t], frames[t + step])  # frames[t](p) ≈ frames[t+step](p + flow(p))
            xi = int(np.clip(round(x), 0, flow.shape[1] - 1))
            yi = int(np.clip(round(y), 0, flow.shape[0] - 1))
            x, y = x + float(flow[yi, xi, 0]), y + float(flow[yi, xi, 1])
            t += step
            where[t] = (x, y)
    return where


def run(out: Path, styles: list[np.ndarray], args: argparse.Namespace, **options) -> tuple[list[np.ndarray], dict]:
    """Stylize the clip into the PNG folder ``out``; returns the frames and the evaluations per stage."""
    counts: dict[str, int] = {}

    def count(p) -> None:
        if p.step is not None:
            counts[p.stage] = counts.get(p.stage, 0) + 1

    with Timer() as timer:
        stylize_video(CLIP, f"{out}/", styles, clip=ClipConfig(size=args.size, frames=args.frames), force=True,
                      callback=count, **options)
    counts["wall_seconds"] = round(timer.wall, 1)
    return read_frames(out), counts


def part_keyframes(args: argparse.Namespace, report: dict) -> None:
    frames = originals(args.size, args.frames)
    h, w = frames[0].shape[:2]
    k1, k2 = args.keys
    big = originals(2 * args.size, args.frames)  # keyframe 1 is painted at twice the size
    key1 = add_mark(painted_frame(big[k1], STARRY, args.out / "key1-painted.png", 2 * args.size))
    cv2.imwrite(str(args.out / "key1.png"), cv2.cvtColor(key1, cv2.COLOR_RGB2BGR))
    key2 = painted_frame(frames[k2], SHIPWRECK, args.out / "key2.png", args.size)
    keys = [KeyframeImage(key1, "key1.png", frame=k1 + 1), KeyframeImage(key2, "key2.png", frame=k2 + 1)]
    fps = 20.0  # cockatoo.mp4's rate
    starry, shipwreck = read_image(STARRY), read_image(SHIPWRECK)
    schedule = StyleSchedule(entries=(ScheduleEntry(0.0, (1.0, 0.0)), ScheduleEntry(k1 / fps, (0.0, 1.0))),
                             transition=(k2 - k1) / fps)
    runs = {"keyframes": run(args.out / "keyframes", [], args, keyframes=keys),
            "default": run(args.out / "default", [starry], args),
            "schedule": run(args.out / "schedule", [starry, shipwreck], args, schedule=schedule)}
    styl = runs["keyframes"][0]
    fit = [resize_frame(key, w, h) for key in (key1, key2)]
    result: dict = {"evaluations": {name: counts for name, (_, counts) in runs.items()},
                    "psnr_at_keyframes": [psnr(styl[k], key) for k, key in zip(args.keys, fit, strict=True)]}
    # the mark: where it is against where the independent flow carries the head
    mark = mark_pixels(fit[0])
    centre = tuple(mark.mean(axis=0))
    where = track(frames, k1, centre)
    rows = []
    for t in range(len(styl)):
        found = mark_pixels(styl[t])
        visible = len(found) >= 0.3 * len(mark)
        error = float(np.hypot(*(found.mean(axis=0) - np.array(where[t])))) if visible else None
        rows.append({"frame": t, "mark_pixels": len(found), "error_px": error})
    followed = [r for r in rows if r["error_px"] is not None and r["frame"] != k1]
    result["mark"] = {"pixels_on_keyframe": len(mark), "frames_visible": len(followed),
                      "frames_visible_list": [r["frame"] for r in followed],
                      "median_error_px": float(np.median([r["error_px"] for r in followed])) if followed else None,
                      "max_error_px": max((r["error_px"] for r in followed), default=None), "per_frame": rows}
    # an independent style measure: the frames near each keyframe against both keyframes
    near = {}
    for name, k in (("key1", k1), ("key2", k2)):
        picks = [t for t in range(k - 4, k + 5) if 0 <= t < len(styl) and t != k]
        to1 = [texture_distance(styl[t], fit[0]) for t in picks]
        to2 = [texture_distance(styl[t], fit[1]) for t in picks]
        own, other = (to1, to2) if name == "key1" else (to2, to1)
        near[name] = {"frames": picks, "to_own_keyframe": float(np.mean(own)), "to_other": float(np.mean(other)),
                      "closer_to_own": sum(a < b for a, b in zip(own, other, strict=True))}
    result["texture_distance_near_keyframes"] = near
    # steadiness
    e = {name: warping_error(frames, out) for name, (out, _) in runs.items()}
    pairs = dict(zip(e["keyframes"].pair_frames, e["keyframes"].per_pair, strict=True))
    before = [v for t, v in pairs.items() if t <= k1]
    after = [v for t, v in pairs.items() if k1 < t <= 2 * k1 + 1]
    result["e_warp"] = {name: v.e_warp for name, v in e.items()}
    result["e_warp_ratio_to_default"] = e["keyframes"].e_warp / e["default"].e_warp
    result["e_warp_ratio_to_schedule"] = e["keyframes"].e_warp / e["schedule"].e_warp
    result["pair_e_warp_before_first_keyframe"] = float(np.mean(before))
    result["pair_e_warp_after_first_keyframe"] = float(np.mean(after))
    result["pair_e_warp_largest_over_median"] = float(max(pairs.values()) / np.median(list(pairs.values())))
    result["pair_e_warp_at_keyframes"] = {t: pairs.get(t) for k in args.keys for t in (k, k + 1)}
    report["keyframes"] = result
    progress({"keyframes": {k: v for k, v in result.items() if k != "mark"}})
    if args.docs is not None:
        picks = [0, k1 - 4, k1, k1 + 4, (k1 + k2) // 2, k2 - 4, k2, min(len(styl) - 1, k2 + 8)]
        strip = np.vstack([np.hstack([frames[t] for t in picks]), np.hstack([styl[t] for t in picks])])
        args.docs.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.docs / "keyframes-strip.jpg"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 88])
        result["strip_frames"] = picks


def part_passes(args: argparse.Namespace, report: dict) -> None:
    frames = originals(args.size, args.frames)
    starry = read_image(STARRY)
    judge = Stylizer([starry], StyleConfig(precision="fp32"))
    work = args.out / ".passes-work"
    one, one_counts = run(args.out / "passes-1", [starry], args, work_dir=work, keep_work=True, restart=True)
    two, two_counts = run(args.out / "passes-2", [starry], args, work_dir=work, keep_work=True, passes=2)
    rows = {}
    for name, out, counts in (("1 pass", one, one_counts), ("2 passes", two, two_counts)):
        rows[name] = {"e_warp": warping_error(frames, out).e_warp,
                      "gram_distance": float(np.mean([judge.style_distance(f) for f in out])),
                      "texture_distance": float(np.mean([texture_distance(f, starry) for f in out])),
                      "evaluations": counts}
    rows["e_warp_change"] = rows["2 passes"]["e_warp"] / rows["1 pass"]["e_warp"] - 1
    rows["pass_2_evaluations_over_pass_1"] = two_counts.get("pass 2", 0) / max(1, one_counts.get("stylize", 0))
    report["passes"] = rows
    progress({"passes": rows})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    need(CLIP, STARRY, SHIPWRECK)
    set_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"machine": describe(), "size": args.size, "frames": args.frames, "keys": args.keys}
    if "keyframes" in args.parts:
        part_keyframes(args, report)
        k = report["keyframes"]
        print_table(["figure", "value"], [
            ("PSNR at the keyframes (dB)", ", ".join(f"{v:.1f}" for v in k["psnr_at_keyframes"])),
            ("mark visible in frames", k["mark"]["frames_visible"]),
            ("mark error, median / max (px)", f"{k['mark']['median_error_px']} / {k['mark']['max_error_px']}"),
            ("E_warp keyframes / default / schedule", ", ".join(f"{v:.5f}" for v in k["e_warp"].values())),
            ("E_warp ratio to default", f"{k['e_warp_ratio_to_default']:.2f}"),
            ("pair E_warp before / after keyframe 1", f"{k['pair_e_warp_before_first_keyframe']:.5f} / "
                                                      f"{k['pair_e_warp_after_first_keyframe']:.5f}"),
        ], title=f"keyframes: cockatoo.mp4, {args.frames} frames at {args.size} px")
    if "passes" in args.parts:
        part_passes(args, report)
        p = report["passes"]
        print_table(["run", "E_warp", "Gram distance", "texture distance", "evaluations"], [
            (name, f"{p[name]['e_warp']:.5f}", f"{p[name]['gram_distance']:.3f}", f"{p[name]['texture_distance']:.3f}",
             p[name]["evaluations"]) for name in ("1 pass", "2 passes")], title="passes")
    print(describe(), file=sys.stderr)
    write_json(args.out / "bench_keyframes.json", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
