"""Check: is `videostyle eval`'s independent flow a fair judge? E_warp under three flows.

    python scripts/check_eval_flow.py ORIGINAL [NAME=STYLIZED ...] [--frames 24] [--start 0] [--json OUT]
    python scripts/check_eval_flow.py samples/clip.mp4 demo=videostyle-demo/demo.mp4 --exact

For the original clip itself and each stylized video (made from ORIGINAL with the same
``--start``/``--frames``), E_warp as ``videostyle eval`` computes it under

* ``independent``: eval's default (DIS medium as shipped, no variational refinement), a
  flow the optimizer never computes;
* ``same``: the optimizer's own flow (DIS medium + variational refinement), the old measure;
* ``deepflow``: a third method, DeepFlow (Weinzaepfel et al. 2013) from opencv-contrib.

The mask is the same formula (Sundaram/Ruder forward-backward check) on each flow. Where no
flow is favoured (the original clip, an independent-mode result) a fair judge agrees with
DeepFlow; flow mode reads steadier under "same" because its loss optimized along that flow.

DeepFlow needs opencv-contrib-python, which is not a dependency and must not replace the
project's opencv-python: install it aside and put it first on the path for this script only,

    pip install --target /tmp/cv2-contrib --no-deps opencv-contrib-python==<opencv-python's version>
    PYTHONPATH=/tmp/cv2-contrib:. python scripts/check_eval_flow.py ...

Without it the deepflow column is left out.

``--exact`` (ORIGINAL must be the bundled samples/clip.mp4, a known pan and zoom rendered by
videostyle/samples.py): also E_warp along the exact flow of that pan, masked where the pan
leaves the frame and around the crossing boat: the truth the flows are estimates of.
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np
from harness.media import media, need, read_frames
from harness.report import print_table, progress, write_json

from videostyle.engine.flow import warp
from videostyle.samples import CLIP_FRAMES, CLIP_SIZE
from videostyle.video.metrics import evaluate_videos


class DeepFlow:
    """DeepFlow from opencv-contrib's optflow module, with its default settings."""

    name = "deepflow"
    description = "DeepFlow (opencv-contrib optflow, default settings)"

    def __init__(self) -> None:
        self._flow = cv2.optflow.createOptFlow_DeepFlow()  # type: ignore[attr-defined]

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow from RGB uint8 frame ``a`` to ``b``: a(p) ≈ b(p + flow(p))."""
        gray_a, gray_b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b))
        return self._flow.calc(gray_a, gray_b, None)


def _sample_view(t: int, scene: tuple[int, int] = (1024, 768)) -> tuple[float, float, float, float]:
    """(crop width, crop height, x0, y0) in the scene of samples.render_clip_frames' frame t."""
    w, h = scene
    s = t / (CLIP_FRAMES - 1)
    crop_w = w * (0.62 - 0.06 * s)
    return crop_w, crop_w * CLIP_SIZE[1] / CLIP_SIZE[0], (w - crop_w) * (0.1 + 0.8 * s), h * 0.2


def exact_e_warp(path: str) -> float:
    """E_warp of ``path`` (36 frames at the sample clip's size) along the sample pan's exact flow."""
    frames = [f.astype(np.float32) / 255 for f in read_frames(path)]
    out_w, out_h = CLIP_SIZE
    u, v = np.meshgrid(np.arange(out_w, dtype=np.float32), np.arange(out_h, dtype=np.float32))
    terms = []
    for t in range(1, len(frames)):
        (cw, ch, x0, y0), (pw, ph, px0, py0) = _sample_view(t), _sample_view(t - 1)
        pu, pv = (u * cw / out_w + x0 - px0) * out_w / pw, (v * ch / out_h + y0 - py0) * out_h / ph
        mask = ((pu >= 0) & (pu <= out_w - 1) & (pv >= 0) & (pv <= out_h - 1)).astype(np.float32)
        for k in (t, t - 1):  # the boat (samples.py draws it at bx, by): its own motion, left out
            bx, by = int(out_w * (0.9 - 0.8 * k / (CLIP_FRAMES - 1))), int(out_h * 0.82)
            mask[max(0, by - 18): by + 8, max(0, bx - 16): bx + 16] = 0
        flow = np.stack([pu - u, pv - v], axis=-1).astype(np.float32)
        diff = np.sum((frames[t] - warp(frames[t - 1], flow)) ** 2, axis=2)
        terms.append(float(np.sum(mask * diff) / (3 * np.sum(mask))))
    return float(np.mean(terms))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("original", nargs="?", default=str(media("cockatoo.mp4")))
    parser.add_argument("stylized", nargs="*", help="NAME=PATH of videos (or frame folders) made from ORIGINAL")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--start", type=float, default=0.0)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--exact", action="store_true", help="ORIGINAL is samples/clip.mp4: add its exact flow")
    args = parser.parse_intermixed_args(argv)
    runs = [item.split("=", 1) for item in args.stylized]
    need(args.original, *(path for _, path in runs))

    judges: list = ["independent", "same"]
    if hasattr(cv2, "optflow"):
        judges.append(DeepFlow())
    else:
        print("(no cv2.optflow: install opencv-contrib-python aside, see the docstring, for the deepflow column)",
              file=sys.stderr)
    names = [j if isinstance(j, str) else j.name for j in judges] + (["exact"] if args.exact else [])
    rows: dict[str, dict[str, float]] = {}
    methods: dict[str, str] = {}
    for judge in judges:
        for name, path in runs or [("the original clip", args.original)]:
            report = evaluate_videos(args.original, path, start=args.start, frames=args.frames, flow=judge)
            methods[report["flow"]] = report["flow_method"]
            rows.setdefault(name, {})[report["flow"]] = report["e_warp"]
            rows.setdefault("the original clip", {})[report["flow"]] = report["e_warp_original"]
            progress({"output": name, "flow": report["flow"], "e_warp": report["e_warp"],
                      "e_warp_original": report["e_warp_original"]})
    if args.exact:
        for name, path in [("the original clip", args.original), *runs]:
            rows[name]["exact"] = exact_e_warp(path)
        methods["exact"] = "the sample clip's known pan (videostyle/samples.py), boat and borders masked"
    third = "deepflow" in names
    table = []
    for name, row in rows.items():
        cells = [f"{row[n]:.5f}" for n in names]
        if third:
            cells += [f"{row['independent'] / row['deepflow']:.2f}", f"{row['same'] / row['deepflow']:.2f}"]
        table.append([name, *cells])
    print_table(["output", *names, *(["independent / deepflow", "same / deepflow"] if third else [])], table,
                title=f"{args.original}, frames {args.frames or 'all'} from {args.start:g} s; E_warp under each flow:")
    print("\nflows: " + "; ".join(f"{n}: {m}" for n, m in methods.items()))
    if args.json:
        write_json(args.json, {"rows": rows, "flows": methods})
    return 0


if __name__ == "__main__":
    sys.exit(main())
