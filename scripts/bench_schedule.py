"""Measurements for issue 17: style schedules, strength ramps, seamless loops, region masks.

    python scripts/bench_schedule.py [--parts schedule,ramp,loop,mask,maskvideo] [--size 96] [--fps 10] [--out DIR]
                                     [--iterations 10] [--first-iterations 60] [--docs docs]

* ``schedule``: cockatoo.mp4, 3 s (at ``--fps``, default 10: 30 frames), The Starry Night until 1 s, then The
  Shipwreck over a 1 s transition. The Gram distance of every frame to each painting over
  time (a PNG plot drawn with OpenCV: ``docs/schedule-distance.png``) and a strip of frames
  across the change (``docs/schedule-strip.jpg``); E_warp of the pairs inside the transition
  against the median pair elsewhere.
* ``ramp``: the same clip with ``--strength 0@0 --strength 0.5@3`` against a constant 0.5:
  the style distance per frame (how often it rises from one frame to the next) and E_warp.
* ``loop``: newtonscradle.gif (resampled to ``--gif-fps`` when given) with and without
  ``--seamless-loop``: E_warp of the wrap pair (last frame -> first, the flow between the last
  and first original frames) against the
  median pair of the clip.
* ``mask``: a still (tubingen.jpg) with a left/right mask and two paintings: each region's
  Gram distance to its own painting and to the other (``docs/mask-still.jpg``).
* ``maskvideo``: cockatoo.mp4 with a generated soft disc crossing the frame as a mask video
  (two paintings) against the same clip unmasked (The Starry Night): E_warp of both, each
  region's Gram distance to its own painting and to the other (``docs/mask-video-strip.jpg``).

E_warp is ``videostyle.video.metrics.warping_error``: the independent flow (DIS without
refinement), not the optimizer's. Outputs are PNG folders (lossless).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from harness.machine import Timer, describe
from harness.media import MEDIA, need, read_frames
from harness.texture import texture_distance

from videostyle.config import ClipConfig, ScheduleEntry, StyleConfig, StyleSchedule, TemporalConfig
from videostyle.engine.image import stylize_image
from videostyle.engine.optimize import Stylizer
from videostyle.engine.tensors import fit_size, resize_frame
from videostyle.io import read_image
from videostyle.video.job import stylize_video
from videostyle.video.metrics import warping_error

STYLES = MEDIA / "styles"
USED = ("cockatoo.mp4", "newtonscradle.gif", "content/tubingen.jpg", "styles/starry_night.jpg", "styles/shipwreck.jpg")


def originals(path: Path, clip: ClipConfig, like: np.ndarray) -> list[np.ndarray]:
    frames = read_frames(path, start=clip.start, frames=clip.frames, duration=clip.duration, fps=clip.fps,
                         size=clip.size, even=False)
    return [resize_frame(f, like.shape[1], like.shape[0]) for f in frames]


def run_clip(source: Path, out: Path, styles: list[np.ndarray], args: argparse.Namespace, *,
             schedule: StyleSchedule | None = None, strength: float = 0.5, clip: ClipConfig,
             loop: bool = False, mask: Path | None = None) -> tuple[list[np.ndarray], float]:
    temporal = TemporalConfig(iterations=args.iterations, first_iterations=args.first_iterations,
                              seamless_loop=loop)
    out.parent.mkdir(parents=True, exist_ok=True)
    with Timer() as timer:
        stylize_video(source, f"{out}/", styles, style=StyleConfig(strength=strength), temporal=temporal, clip=clip,
                      force=True, schedule=schedule, restart=True, mask=mask)
    return read_frames(out), timer.wall


def pair_errors(orig: list[np.ndarray], styl: list[np.ndarray]) -> dict[int, float]:
    """E_warp of each pair (frame t against t-1), by t."""
    result = warping_error(orig, styl)
    return dict(zip(result.pair_frames, result.per_pair, strict=True))


def plot(series: dict[str, list[float]], times: list[float], path: Path, *, title: str,
         band: tuple[float, float] | None = None) -> None:
    """A small line plot with OpenCV (matplotlib is not installed here)."""
    w, h, left, bottom, top = 560, 300, 60, 40, 30
    img = np.full((h, w, 3), 255, np.uint8)
    values = [v for s in series.values() for v in s]
    lo, hi = min(values), max(values)
    lo, hi = lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)
    t0, t1 = times[0], times[-1]

    def xy(t: float, v: float) -> tuple[int, int]:
        x = left + (t - t0) / (t1 - t0) * (w - left - 20)
        y = top + (hi - v) / (hi - lo) * (h - top - bottom)
        return int(round(x)), int(round(y))

    if band is not None:
        cv2.rectangle(img, xy(band[0], hi), xy(band[1], lo), (235, 235, 235), -1)
    cv2.rectangle(img, xy(t0, hi), xy(t1, lo), (0, 0, 0), 1)
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        cv2.putText(img, f"{v:.2f}", (5, xy(t0, v)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for k in range(int(t1) + 1):
        cv2.putText(img, f"{k}s", (xy(k, lo)[0] - 8, h - bottom + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    colors = [(200, 60, 20), (20, 60, 200), (20, 150, 20)]
    for i, (name, ys) in enumerate(series.items()):
        pts = np.array([xy(t, v) for t, v in zip(times, ys, strict=True)], np.int32)
        cv2.polylines(img, [pts], False, colors[i % 3], 2, cv2.LINE_AA)
        cv2.putText(img, name, (left + 10 + 230 * i, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colors[i % 3], 1)
    cv2.putText(img, title, (left, h - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (80, 80, 80), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def part_schedule(args: argparse.Namespace, report: dict) -> None:
    a, b = read_image(STYLES / "starry_night.jpg"), read_image(STYLES / "shipwreck.jpg")
    clip = ClipConfig(size=args.size, duration=3.0, fps=args.fps)
    change, transition = 1.0, 1.0
    schedule = StyleSchedule(entries=(ScheduleEntry(0.0, (1.0, 0.0)), ScheduleEntry(change, (0.0, 1.0))),
                             transition=transition)
    styl, seconds = run_clip(MEDIA / "cockatoo.mp4", args.out / "schedule", [a, b], args, schedule=schedule,
                             clip=clip)
    orig = originals(MEDIA / "cockatoo.mp4", clip, styl[0])
    fps = args.fps
    judge = Stylizer([a, b], StyleConfig(precision="fp32"))
    dist = {name: [judge.style_distance(f, style=i) for f in styl] for i, name in enumerate(("starry", "shipwreck"))}
    texture = {name: [texture_distance(f, style) for f in styl] for name, style in (("starry", a), ("shipwreck", b))}
    times = [k / fps for k in range(len(styl))]
    pairs = pair_errors(orig, styl)
    inside = [e for t, e in pairs.items() if change <= times[t] <= change + transition]
    outside = [e for t, e in pairs.items() if not change <= times[t] <= change + transition]
    plot({"to The Starry Night": dist["starry"], "to The Shipwreck": dist["shipwreck"]}, times,
         args.docs / "schedule-distance.png", band=(change, change + transition),
         title=f"Gram distance per frame; grey: the 1 s transition (cockatoo.mp4, {styl[0].shape[1]} px)")
    picks = [int(round(t * fps)) for t in (0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5)]
    cv2.imwrite(str(args.docs / "schedule-strip.jpg"),
                cv2.cvtColor(np.hstack([styl[k] for k in picks]), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    report["schedule"] = {
        "frames": len(styl), "seconds_per_frame": seconds / len(styl),
        "distance_starry": {"before": _mean(dist["starry"], times, 0, change),
                            "after": _mean(dist["starry"], times, change + transition, 99)},
        "distance_shipwreck": {"before": _mean(dist["shipwreck"], times, 0, change),
                               "after": _mean(dist["shipwreck"], times, change + transition, 99)},
        "texture_starry": {"before": _mean(texture["starry"], times, 0, change),
                           "after": _mean(texture["starry"], times, change + transition, 99)},
        "texture_shipwreck": {"before": _mean(texture["shipwreck"], times, 0, change),
                              "after": _mean(texture["shipwreck"], times, change + transition, 99)},
        "e_warp_transition_mean": float(np.mean(inside)), "e_warp_transition_max": float(np.max(inside)),
        "e_warp_median_elsewhere": float(np.median(outside)),
        "ratio_mean": float(np.mean(inside) / np.median(outside)),
        "ratio_max": float(np.max(inside) / np.median(outside)),
        "strip_frames_at": [k / fps for k in picks]}


def _mean(values: list[float], times: list[float], start: float, stop: float) -> float:
    return float(np.mean([v for v, t in zip(values, times, strict=True) if start <= t < stop]))


def part_ramp(args: argparse.Namespace, report: dict) -> None:
    a = read_image(STYLES / "starry_night.jpg")
    clip = ClipConfig(size=args.size, duration=3.0, fps=args.fps)
    ramp = StyleSchedule(entries=(ScheduleEntry(0.0, (1.0,)),), strengths=((0.0, 0.0), (3.0, 0.5)))
    out = {}
    judge = Stylizer([a], StyleConfig(precision="fp32"))
    for name, schedule in (("ramp", ramp), ("constant", None)):
        if name not in args.variants:
            continue
        styl, seconds = run_clip(MEDIA / "cockatoo.mp4", args.out / f"ramp-{name}", [a], args, schedule=schedule,
                                 clip=clip)
        orig = originals(MEDIA / "cockatoo.mp4", clip, styl[0])
        dist = [judge.style_distance(f) for f in styl]
        texture = [texture_distance(f, a) for f in styl]
        rises = [k for k in range(1, len(dist)) if dist[k] > dist[k - 1]]
        out[name] = {"e_warp": warping_error(orig, styl).e_warp, "distance_first": dist[0], "distance_last": dist[-1],
                     "distance_per_second": [float(np.mean(dist[k:k + round(args.fps)]))
                                             for k in range(0, len(dist), round(args.fps))],
                     "texture_per_second": [float(np.mean(texture[k:k + round(args.fps)]))
                                            for k in range(0, len(texture), round(args.fps))],
                     "rises": len(rises), "largest_rise": max((dist[k] - dist[k - 1] for k in rises), default=0.0),
                     "seconds_per_frame": seconds / len(styl)}
    if len(out) == 2:
        out["e_warp_ratio"] = out["ramp"]["e_warp"] / out["constant"]["e_warp"]
    report["ramp"] = out


def part_loop(args: argparse.Namespace, report: dict) -> None:
    a = read_image(STYLES / "starry_night.jpg")
    clip = ClipConfig(size=args.size, fps=args.gif_fps)
    out = {}
    for name, loop in (("without", False), ("with", True)):
        if name not in args.variants:
            continue
        styl, seconds = run_clip(MEDIA / "newtonscradle.gif", args.out / f"loop-{name}", [a], args, clip=clip,
                                 loop=loop)
        orig = originals(MEDIA / "newtonscradle.gif", clip, styl[0])
        pairs = warping_error(orig, styl).per_pair
        wrap = warping_error([orig[-1], orig[0]], [styl[-1], styl[0]]).e_warp
        wrap_original = warping_error([orig[-1], orig[0]], [orig[-1], orig[0]]).e_warp
        out[name] = {"wrap_pair": wrap, "median_pair": float(np.median(pairs)), "ratio": wrap / float(np.median(pairs)),
                     "wrap_pair_of_the_original": wrap_original, "frames": len(styl),
                     "seconds_per_frame": seconds / len(styl)}
    report["loop"] = out


def part_mask(args: argparse.Namespace, report: dict) -> None:
    a, b = read_image(STYLES / "starry_night.jpg"), read_image(STYLES / "shipwreck.jpg")
    content = read_image(MEDIA / "content" / "tubingen.jpg")
    w, h = fit_size(content.shape[1], content.shape[0], args.size * 2)
    mask = np.zeros((h, w), np.float32)
    mask[:, : w // 2] = 1  # left: The Starry Night, right: The Shipwreck
    config = StyleConfig(iterations=args.image_iterations, precision="fp32")
    result = stylize_image(content, [a, b], config=config, size=args.size * 2, mask=mask)
    judge = Stylizer([a, b], StyleConfig(precision="fp32"))
    regions = {"left (white: starry)": mask, "right (black: shipwreck)": 1 - mask}
    out = {name: {"to_starry": judge.style_distance(result, style=0, mask=m),
                  "to_shipwreck": judge.style_distance(result, style=1, mask=m)} for name, m in regions.items()}
    photo = resize_frame(content, w, h)
    out["photo"] = {name: {"to_starry": judge.style_distance(photo, style=0, mask=m),
                           "to_shipwreck": judge.style_distance(photo, style=1, mask=m)} for name, m in regions.items()}
    cv2.imwrite(str(args.docs / "mask-still.jpg"), cv2.cvtColor(np.hstack([photo, result]), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 88])
    report["mask"] = out


def moving_mask(folder: Path, frames: int, width: int, height: int) -> Path:
    """A disc that crosses the frame from left to right over the clip, soft-edged (white:
    the first style), as PNG frames: a stand-in for a segmentation tool's mask video."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = 0.35 * height
    for k in range(frames):
        cx = radius + (width - 2 * radius) * k / max(frames - 1, 1)
        d = np.hypot(xx - cx, yy - height / 2) - radius
        m = np.clip(0.5 - d / (0.1 * height), 0, 1)  # a 10%-of-height soft edge
        cv2.imwrite(str(folder / f"mask_{k:04d}.png"), (m * 255).round().astype(np.uint8))
    return folder


def part_maskvideo(args: argparse.Namespace, report: dict) -> None:
    a, b = read_image(STYLES / "starry_night.jpg"), read_image(STYLES / "shipwreck.jpg")
    clip = ClipConfig(size=args.size, duration=3.0, fps=args.fps)
    plain, plain_s = run_clip(MEDIA / "cockatoo.mp4", args.out / "maskvideo-none", [a], args, clip=clip)
    h, w = plain[0].shape[:2]
    masks = moving_mask(args.out / "maskvideo-mask", len(plain), w, h)
    masked, masked_s = run_clip(MEDIA / "cockatoo.mp4", args.out / "maskvideo-mask-out", [a, b], args, clip=clip,
                                mask=masks)
    orig = originals(MEDIA / "cockatoo.mp4", clip, plain[0])
    judge = Stylizer([a, b], StyleConfig(precision="fp32"))
    own, other = [], []
    for k, frame in enumerate(masked):
        m = cv2.imread(str(masks / f"mask_{k:04d}.png"), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        d = {(i, side): judge.style_distance(frame, style=i, mask=r)
             for i in (0, 1) for side, r in ((0, m), (1, 1 - m))}
        own.append((d[0, 0] + d[1, 1]) / 2)  # white to style 0, black to style 1
        other.append((d[1, 0] + d[0, 1]) / 2)
    e_plain, e_masked = warping_error(orig, plain).e_warp, warping_error(orig, masked).e_warp
    picks = np.linspace(0, len(masked) - 1, 5).round().astype(int)
    cv2.imwrite(str(args.docs / "mask-video-strip.jpg"),
                cv2.cvtColor(np.hstack([masked[k] for k in picks]), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    report["maskvideo"] = {"frames": len(masked), "e_warp_unmasked": e_plain, "e_warp_masked": e_masked,
                           "ratio": e_masked / e_plain, "distance_to_own_style": float(np.mean(own)),
                           "distance_to_the_other": float(np.mean(other)),
                           "seconds_per_frame": {"unmasked": plain_s / len(plain), "masked": masked_s / len(masked)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="schedule,ramp,loop,mask,maskvideo")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--fps", type=float, default=10.0, help="cockatoo.mp4 resampled to this rate (3 s of it)")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--first-iterations", type=int, default=60)
    parser.add_argument("--image-iterations", type=int, default=100)
    parser.add_argument("--gif-fps", type=float, default=None, help="newtonscradle.gif resampled to this rate")
    parser.add_argument("--variants", default="ramp,constant,with,without",
                        help="which runs of ramp (ramp, constant) and loop (with, without) to make")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_schedule"))
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    args.variants = args.variants.split(",")
    need(*(MEDIA / name for name in USED))
    args.docs.mkdir(parents=True, exist_ok=True)
    print(describe(), flush=True)
    report: dict = {"size": args.size, "iterations": args.iterations, "first_iterations": args.first_iterations}
    for part in args.parts.split(","):
        with Timer() as timer:
            {"schedule": part_schedule, "ramp": part_ramp, "loop": part_loop, "mask": part_mask,
             "maskvideo": part_maskvideo}[part](args, report)
        print(json.dumps({part: report[part], "wall_s": timer.wall}, indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
