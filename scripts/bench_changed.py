"""Benchmark of issue 25 ("paint what changed"): what a later frame costs, and how it looks.

    python scripts/bench_changed.py --case cockatoo [--frames 40] [--variants baseline,changed]
                                    [--media ../shared/media] [--out bench-changed] [--png /tmp/strips]

One case per run (the machine is shared; run them one after the other):

* ``cockatoo``: cockatoo.mp4 at 160 px (camera shake), The Starry Night;
* ``pan``: a fast pan (6 px a frame at 160 px) across tubingen.jpg with a disc cut from
  chelsea.png crossing the other way at 11 px a frame (bench_speed.py's "pan + crossing");
* ``still``: a still camera on golden_gate.jpg (160x104, a little sensor noise) and that disc,
  9% of the picture, moving 2 px a frame across it;
* ``demo``: the demo's clip (samples/clip.mp4 at 192 px) with samples/style.jpg, as
  ``videostyle demo`` stylizes it;
* ``hd``: cockatoo.mp4 at 1280x720 (run it with few ``--frames``: its first frame takes long;
  no revealed-ground judging, whose references would take longer still).

The wall seconds per later frame are printed too: meaningful on a quiet machine only (one
job at a time), the figure for the ``demo`` and ``hd`` cases the README quotes.

Every variant continues the chain from the same first frame (``first_iterations``, cached in
``--out``). Variants: ``baseline`` (``TemporalConfig(paint="whole")``, every pixel every
frame: the default before issue 25), ``changed`` (``TemporalConfig(paint="changed")``) and
``coarse`` (``TemporalConfig(paint="coarse")``: a frame needing work all over coarse to fine);
``NAME:field=value;field=value`` sets TemporalConfig fields of either (e.g.
``changed:detail_boost=2``), or engine/changed.py's PaintSettings (e.g.
``changed:new_style=1``). Printed per variant over frames 2..N:

* cost: full-frame-equivalent evaluations per later frame, FLOP-weighted, the sum of the
  optimizer's ``Progress.cost`` (a crop or coarse-scale evaluation counts its area's share,
  a forward-only pass its share of half an evaluation: the content's features, a crop's
  statistics). The baseline's own pass over the content is not reported by the Stylizer,
  so its figure leaves out about 0.35;
* E_warp along the independent flow (``video.metrics``, DIS unrefined: not the optimizer's);
* the Gram style distance (the optimizer's VGG19), and the texture distance (colour and
  Gabor statistics, no network: scripts/harness/texture.py);
* sharpness: the variance of the Laplacian of frames 2..N over frame 1's, mean;
* revealed ground: the pixels that came into view after frame 1, tracked along OpenCV's
  Farneback flow (not the optimizer's DIS): a pixel of frame t is "seen since frame 1" when
  the backward Farneback flow takes it to a seen pixel of frame t-1 inside the picture and
  frame t-1 carried along that flow shows it (both smoothed over 3x3, no channel more than
  UNCOVERED_LEVELS grey levels apart, patches of mismatch under UNCOVERED_SPECK px ignored;
  colour rather than a forward-backward check: Farneback's smooth flow passes that check
  behind a slow subject and fails it on flat walls where nothing is uncovered). The rest
  came into view: it entered the picture or was uncovered. In frames where 10% to 90% came
  into view (so that both regions are there to compare), its texture energy (the luminance's
  standard deviation over 5x5 windows, mean) and colourfulness (Hasler & Suesstrunk 2003)
  over those of the seen region, against
  the same ratios in an independent stylization of that frame from its content with
  ``first_iterations`` (cached): 1 means the new ground matches the rest as a fully
  converged painting does.

Counts and image statistics only: no wall time (measure that on a quiet machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from harness.machine import describe
from harness.texture import texture_distance

from videostyle.config import StyleConfig, TemporalConfig
from videostyle.engine.optimize import Progress, Stylizer
from videostyle.engine.tensors import float_to_frame, resize_frame
from videostyle.io import open_source, read_image
from videostyle.video.chain import SegmentState, stylize_segment
from videostyle.video.metrics import warping_error

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "media"
STARRY = "styles/starry_night.jpg"
CASES = ("cockatoo", "pan", "still", "demo", "hd")
UNCOVERED_LEVELS = 20  # grey levels (of 255) between a pixel and the previous frame carried to it
UNCOVERED_SPECK = 12  # px: a smaller patch of mismatch is noise
REVEALED_SHARE = 0.10  # frames where at least this much came into view after frame 1 are judged
REFERENCE_FRAMES = 4  # independent converged stylizations per case (evenly spaced over the judged frames)


# -- the clips ----------------------------------------------------------------------------------
def _disc(media: Path, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """A disc cut from a photo of a cat: (patch (2r, 2r, 3) uint8, inside (2r, 2r) bool)."""
    cat = read_image(media / "content/chelsea.png")
    patch = cv2.resize(cat[40:240, 120:320], (2 * radius, 2 * radius), interpolation=cv2.INTER_AREA)
    inside = np.zeros((2 * radius, 2 * radius), np.uint8)
    cv2.circle(inside, (radius, radius), radius, 1, -1)
    return patch, inside.astype(bool)


def _paste(frame: np.ndarray, patch: np.ndarray, inside: np.ndarray, cx: int, cy: int) -> None:
    """Paste the disc centred at (cx, cy), clipped to the frame, in place."""
    r = patch.shape[0] // 2
    h, w = frame.shape[:2]
    x0, y0 = cx - r, cy - r
    sx0, sx1, sy0, sy1 = max(0, -x0), min(2 * r, w - x0), max(0, -y0), min(2 * r, h - y0)
    if sx1 > sx0 and sy1 > sy0:
        region = frame[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1]
        region[:] = np.where(inside[sy0:sy1, sx0:sx1, None], patch[sy0:sy1, sx0:sx1], region)


def pan_with_crossing(media: Path, frames: int, width: int = 160, height: int = 96, pan: int = 6,
                      speed: int = 11) -> list[np.ndarray]:
    """bench_speed.py's clip: a street panning ``pan`` px a frame to the left while the disc
    crosses it the other way at ``speed`` px a frame."""
    street = read_image(media / "content/tubingen.jpg")
    long = width + pan * frames
    street = resize_frame(street, long, round(street.shape[0] * long / street.shape[1]))
    top = (street.shape[0] - height) // 2
    patch, inside = _disc(media, height // 4)
    out = []
    for t in range(frames):
        frame = street[top:top + height, t * pan:t * pan + width].copy()
        _paste(frame, patch, inside, width - height // 4 - t * speed, height // 2)
        out.append(np.ascontiguousarray(frame))
    return out


def still_camera(media: Path, frames: int, width: int = 160, height: int = 104, speed: int = 2,
                 noise: float = 2.0) -> list[np.ndarray]:
    """A fixed view of golden_gate.jpg with the disc (9% of the picture) moving ``speed`` px a
    frame from left to right, and Gaussian sensor noise of ``noise`` grey levels (seeded)."""
    scene = read_image(media / "content/golden_gate.jpg")
    scene = resize_frame(scene, width, round(scene.shape[0] * width / scene.shape[1]))
    top = (scene.shape[0] - height) // 2
    scene = scene[top:top + height]
    radius = 22
    patch, inside = _disc(media, radius)
    rng = np.random.default_rng(25)
    out = []
    for t in range(frames):
        frame = scene.copy()
        _paste(frame, patch, inside, 30 + t * speed, height // 2 + 8)
        grain = rng.normal(0, noise, frame.shape)
        out.append(np.clip(frame + grain, 0, 255).astype(np.uint8))
    return out


def load_case(case: str, media: Path, frames: int) -> tuple[list[np.ndarray], np.ndarray]:
    """(original frames, style image) of a case."""
    if case == "cockatoo":
        with open_source(media / "cockatoo.mp4", frames=frames, size=160, even=True) as source:
            return list(source), read_image(media / STARRY)
    if case == "pan":
        return pan_with_crossing(media, frames), read_image(media / STARRY)
    if case == "still":
        return still_camera(media, frames), read_image(media / STARRY)
    if case == "demo":
        with open_source(ROOT / "samples/clip.mp4", frames=frames, size=192, even=True) as source:
            return list(source), read_image(ROOT / "samples/style.jpg")
    if case == "hd":
        with open_source(media / "cockatoo.mp4", frames=frames, size=1280, even=True) as source:
            return list(source), read_image(media / STARRY)
    raise SystemExit(f"unknown case {case!r}: one of {', '.join(CASES)}")


# -- image statistics ---------------------------------------------------------------------------
def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the luminance: the fine detail held."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def texture_energy_map(image: np.ndarray, window: int = 5) -> np.ndarray:
    """The luminance's standard deviation over ``window`` x ``window`` windows, (H, W) in grey levels."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    mean = cv2.blur(gray, (window, window))
    square = cv2.blur(gray * gray, (window, window))
    return np.sqrt(np.maximum(square - mean * mean, 0))


def colourfulness(image: np.ndarray, region: np.ndarray) -> float:
    """Hasler & Suesstrunk's colourfulness of the pixels of ``region`` (bool (H, W))."""
    rgb = image[region].astype(np.float64)
    rg = rgb[:, 0] - rgb[:, 1]
    yb = 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def region_ratios(image: np.ndarray, revealed: np.ndarray) -> tuple[float, float]:
    """(texture energy, colourfulness) of the revealed region over the seen region's; each
    region shrunk by 2 px so that no 5x5 window straddles the boundary."""
    kernel = np.ones((5, 5), np.uint8)
    new = cv2.erode(revealed.astype(np.uint8), kernel).astype(bool)
    old = cv2.erode((~revealed).astype(np.uint8), kernel).astype(bool)
    energy = texture_energy_map(image)
    return (float(energy[new].mean() / energy[old].mean()),
            colourfulness(image, new) / colourfulness(image, old))



# -- what came into view -------------------------------------------------------------------------
def farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """OpenCV's Farneback flow from RGB frame ``a`` to ``b``: a(p) ~ b(p + flow(p)), (H, W, 2)."""
    gray_a, gray_b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b))
    return cv2.calcOpticalFlowFarneback(gray_a, gray_b, None, 0.5, 4, 13, 5, 5, 1.1, 0)


def revealed_masks(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Per frame, bool (H, W): the pixels that came into view after frame 1 (see the module)."""
    h, w = frames[0].shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    seen = np.ones((h, w), np.float32)
    out = [np.zeros((h, w), bool)]
    for prev, frame in zip(frames, frames[1:], strict=False):
        back = farneback(frame, prev)
        mx, my = xs + back[..., 0], ys + back[..., 1]
        inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        # uncovered: the previous frame carried along the flow does not show what is here.
        # Colour, not the flows' forward-backward check: Farneback's smooth flow passes that
        # check behind a slow object, and fails it on flat walls where nothing is uncovered
        carried_frame = cv2.remap(prev, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        smooth = [cv2.GaussianBlur(x, (3, 3), 0).astype(np.int16) for x in (frame, carried_frame)]
        mismatch = (np.abs(smooth[0] - smooth[1]).max(axis=2) > UNCOVERED_LEVELS).astype(np.uint8)
        # a speck is noise or the flow's blur at an edge, not ground coming into view
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mismatch, connectivity=8)
        uncovered = (stats[:, cv2.CC_STAT_AREA] >= UNCOVERED_SPECK)[labels] & (labels > 0)
        carried = cv2.remap(seen, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        seen = ((carried > 0.5) & inside & ~uncovered).astype(np.float32)
        out.append(seen < 0.5)
    return out


# -- the runs ---------------------------------------------------------------------------------------
def variant_config(spec: str) -> tuple[str, TemporalConfig]:
    """``baseline`` / ``changed`` / ``coarse`` with optional ``:field=value;...`` overrides."""
    name, _, overrides = spec.partition(":")
    if name not in ("baseline", "changed", "coarse"):
        raise SystemExit(f"unknown variant {name!r}: baseline, changed or coarse")
    config = TemporalConfig(paint="whole" if name == "baseline" else name)
    for item in filter(None, overrides.split(";")):
        key, _, value = item.partition("=")
        if not hasattr(config, key):  # an experiment with engine/changed.py's settings
            from videostyle.engine import changed

            kind = type(getattr(changed.SETTINGS, key))
            parsed = tuple(value.split("+")) if kind is tuple else (value == "1") if kind is bool else kind(value)
            paint_settings[spec] = dataclasses.replace(paint_settings.get(spec, changed.SETTINGS), **{key: parsed})
            continue
        current = getattr(config, key)
        kind = type(current) if current is not None else (int if value.isdigit() else str)
        config = dataclasses.replace(config, **{key: kind(value) if kind is not bool else value == "1"})
    return spec, config


@dataclass
class Run:
    """One variant's chain: each later frame's cost and result."""

    name: str
    cost: dict[int, float] = field(default_factory=dict)  # frame -> full-frame-equivalent evaluations
    evaluations: dict[int, int] = field(default_factory=dict)  # frame -> optimizer evaluations, any size
    seconds: dict[int, float] = field(default_factory=dict)  # frame -> wall seconds (a quiet machine's figure)
    frames: list[np.ndarray] = field(default_factory=list)  # uint8, frames 2..N

    parts: dict[str, float] = field(default_factory=dict)  # what the cost went to, summed over frames

    def progress(self, index: int, p: Progress) -> None:
        self.cost[index] = self.cost.get(index, 0.0) + p.cost
        self.evaluations[index] = self.evaluations.get(index, 0) + 1
        kind = p.kind if hasattr(p, "kind") else "whole"
        self.parts[kind] = self.parts.get(kind, 0.0) + p.cost


def _key(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def first_frame(stylizer: Stylizer, frame: np.ndarray, cache_dir: Path) -> np.ndarray:
    """Frame 1's float result, the same for every variant (cached)."""
    path = cache_dir / f"first-{_key(frame.tobytes(), stylizer.config, TemporalConfig().first_iterations)}.npy"
    if not path.exists():
        state = next(stylize_segment(stylizer, [frame], config=TemporalConfig())).state
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.save(path, state)
    return np.load(path)


def reference(stylizer: Stylizer, frame: np.ndarray, cache_dir: Path) -> np.ndarray:
    """An independent, fully converged stylization of ``frame`` (uint8; cached)."""
    iterations = TemporalConfig().first_iterations
    path = cache_dir / f"reference-{_key(frame.tobytes(), stylizer.config, iterations)}.png"
    if not path.exists():
        image = stylizer.stylize(frame, iterations=iterations)
        cache_dir.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(float_to_frame(image[0].permute(1, 2, 0).cpu().numpy()),
                                            cv2.COLOR_RGB2BGR))
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


paint_settings: dict = {}  # variant -> engine/changed.py's settings for it (experiments)


def run_variant(stylizer: Stylizer, frames: list[np.ndarray], first: np.ndarray, name: str,
                config: TemporalConfig) -> Run:
    from videostyle.engine import changed

    default = changed.SETTINGS
    changed.SETTINGS = paint_settings.get(name, default)
    try:
        return _run_variant(stylizer, frames, first, name, config)
    finally:
        changed.SETTINGS = default


def _run_variant(stylizer: Stylizer, frames: list[np.ndarray], first: np.ndarray, name: str,
                 config: TemporalConfig) -> Run:
    run = Run(name)
    for done in stylize_segment(stylizer, frames, config=config, begin=1, state=SegmentState((first,), 1),
                                progress=run.progress):
        run.frames.append(done.image)
        run.seconds[done.index] = done.seconds
        print(f"  {name} frame {done.index + 1}: {run.cost.get(done.index, 0.0):.2f} full-frame evaluations "
              f"({run.evaluations.get(done.index, 0)} evaluations)", file=sys.stderr, flush=True)
    return run


def measure(stylizer: Stylizer, style: np.ndarray, originals: list[np.ndarray], first: np.ndarray, run: Run,
            revealed: list[np.ndarray], references: dict[int, np.ndarray]) -> dict:
    """The row of one run over frames 2..N."""
    later = run.frames
    base = sharpness(first)
    judged = {}
    for t, ref in references.items():
        ours = region_ratios(later[t - 1], revealed[t])
        theirs = region_ratios(ref, revealed[t])
        judged[t] = dict(texture=ours[0] / theirs[0], colour=ours[1] / theirs[1],
                         ours=ours, reference=theirs, share=float(revealed[t].mean()))
    costs = [run.cost.get(t, 0.0) for t in range(1, len(originals))]
    return dict(variant=run.name, cost=float(np.mean(costs)), most_cost=float(np.max(costs)),
                parts={k: v / len(costs) for k, v in run.parts.items()},
                frame_cost=costs,
                evaluations=float(np.mean([run.evaluations.get(t, 0) for t in range(1, len(originals))])),
                seconds=float(np.mean([run.seconds.get(t, 0.0) for t in range(1, len(originals))])),
                e_warp=warping_error(originals, [first, *later]).e_warp,
                gram=float(np.mean([stylizer.style_distance(f) for f in later])),
                texture_distance=float(np.mean([texture_distance(f, style) for f in later])),
                sharpness=float(np.mean([sharpness(f) / base for f in later])),
                revealed_texture=float(np.mean([j["texture"] for j in judged.values()])) if judged else None,
                revealed_colour=float(np.mean([j["colour"] for j in judged.values()])) if judged else None,
                revealed=judged)


def write_strip(path: Path, originals: list[np.ndarray], runs: list[Run], revealed: list[np.ndarray],
                references: dict[int, np.ndarray], count: int = 4) -> None:
    """Rows of frames (evenly spaced; the judged ones when there are any): the original, each
    variant, the reference stylization when there is one, and what came into view (white)."""
    picks = sorted(references) or list(np.linspace(1, len(originals) - 1, count).astype(int))
    rows = []
    for t in picks:
        white = np.repeat(revealed[t][..., None].astype(np.uint8) * 255, 3, axis=2)
        ref = references.get(t, np.zeros_like(originals[t]))
        rows.append(np.hstack([originals[t], *(r.frames[t - 1] for r in runs), ref, white]))
    strip = np.vstack(rows)
    strip = cv2.resize(strip, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))


def print_table(case: str, frames: int, rows: list[dict]) -> None:
    print(f"\n{case}, {frames} frames; every figure over frames 2..N\n")
    print("| variant | full-frame evaluations / frame (most) | evaluations / frame | E_warp (ratio) "
          "| Gram distance (ratio) | texture distance (ratio) | sharpness 2..N / 1 "
          "| revealed texture energy vs reference | revealed colourfulness vs reference | s / later frame |")
    print("|" + " --- |" * 10)
    base = rows[0]
    for r in rows:
        revealed = ("-", "-") if r["revealed_texture"] is None else (
            f"{r['revealed_texture']:.2f}", f"{r['revealed_colour']:.2f}")
        print(f"| {r['variant']} | {r['cost']:.2f} ({r['most_cost']:.2f}) | {r['evaluations']:.1f} "
              f"| {r['e_warp']:.5f} ({r['e_warp'] / base['e_warp']:.2f}x) "
              f"| {r['gram']:.4f} ({r['gram'] / base['gram']:.3f}x) "
              f"| {r['texture_distance']:.4f} ({r['texture_distance'] / base['texture_distance']:.3f}x) "
              f"| {r['sharpness']:.2f} | {revealed[0]} | {revealed[1]} | {r['seconds']:.2f} |")
    for r in rows:
        print(f"\n{r['variant']}: cost per frame by pass: "
              + ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["parts"].items())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", required=True, choices=CASES)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--variants", default="baseline,changed",
                        help="comma-separated: baseline, changed, coarse, each with optional :field=value;...")
    parser.add_argument("--media", default=str(SHARED))
    parser.add_argument("--out", default="bench-changed", help="cache of first frames and references, and results")
    parser.add_argument("--png", help="write a strip of frames to this folder")
    args = parser.parse_args(argv)
    media, out = Path(args.media), Path(args.out)
    originals, style = load_case(args.case, media, args.frames)
    stylizer = Stylizer([style], StyleConfig())
    print(describe(stylizer))
    cache_dir = out / "cache"
    started = time.perf_counter()
    first = first_frame(stylizer, originals[0], cache_dir)
    revealed = revealed_masks(originals)
    # judged: at least REVEALED_SHARE came into view, and as much is still the ground of frame 1
    judged = [t for t in range(1, len(originals)) if REVEALED_SHARE <= revealed[t].mean() <= 1 - REVEALED_SHARE]
    picks = sorted({judged[i] for i in np.linspace(0, len(judged) - 1, REFERENCE_FRAMES).round().astype(int)}
                   ) if judged and args.case != "hd" else []
    references = {t: reference(stylizer, originals[t], cache_dir) for t in picks}
    print(f"{args.case}: {len(judged)} frames with {REVEALED_SHARE:.0%} to {1 - REVEALED_SHARE:.0%} come into view; "
          f"judged at {[t + 1 for t in picks]}", file=sys.stderr)
    rows, runs = [], []
    for spec in args.variants.split(","):
        name, config = variant_config(spec)
        run = run_variant(stylizer, originals, first, name, config)
        runs.append(run)
        rows.append(measure(stylizer, style, originals, float_to_frame(first), run, revealed, references))
        print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("frame_cost", "revealed")}),
              file=sys.stderr, flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.case}-{args.frames}.json").write_text(json.dumps(rows, indent=1))
    if args.png:
        Path(args.png).mkdir(parents=True, exist_ok=True)
        write_strip(Path(args.png) / f"{args.case}-{args.frames}.png", originals, runs, revealed, references)
    print_table(args.case, args.frames, rows)
    print(f"\n({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
