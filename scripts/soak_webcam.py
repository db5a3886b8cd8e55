"""Soak: a long ``videostyle webcam`` session on a file camera keeps its memory flat.

    python scripts/soak_webcam.py [--duration 600] [--size 64] [--camera CLIP] [--style IMG]
                                  [--marks 60,300,600] [--json]

Runs ``videostyle webcam --camera CLIP --no-preview --duration N`` in its own process (a
generated 64x48 test-pattern clip by default, looped at its real pace) and samples that
process's resident memory (VmRSS from /proc) every second. Prints RSS at each mark (1, 5 and
10 minutes by default), the peak, and the growth from the first mark to the last; exits 1
when the growth is over ``--max-growth`` percent (default 10) or the session fails.
Linux only (it reads /proc).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.machine import load, rss_mb
from harness.media import SAMPLES, pattern_clip
from harness.serve import checkout_env, videostyle_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of session (default 600)")
    parser.add_argument("--size", type=int, default=64, help="working size (default 64)")
    parser.add_argument("--camera", help="a video file as the camera (default: a generated 64x48 clip)")
    parser.add_argument("--style", default=str(SAMPLES / "style.jpg"))
    parser.add_argument("--marks", default="60,300,600", help="seconds at which RSS is reported")
    parser.add_argument("--max-growth", type=float, default=10.0, help="percent, first mark to last (default 10)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    marks = [float(m) for m in args.marks.split(",") if float(m) <= args.duration]

    with tempfile.TemporaryDirectory(prefix="videostyle-soak-") as tmp:
        camera = Path(args.camera) if args.camera else pattern_clip(Path(tmp) / "camera.mp4", size="64x48",
                                                                    seconds=4.0, fps=10)
        cmd = videostyle_command("webcam", "--camera", camera, "--no-preview", "--duration", f"{args.duration:g}",
                                 "--size", args.size, "--style", args.style, "--device", "cpu", "--quiet", "--json")
        started = time.monotonic()
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=checkout_env())
        samples: list[tuple[float, float]] = []
        at_marks: dict[float, float] = {}
        deadline = started + args.duration + 120  # a hung session is stopped, not waited for forever
        while process.poll() is None and time.monotonic() < deadline:
            now = time.monotonic() - started
            rss = rss_mb(process.pid)
            if rss is not None:
                samples.append((now, rss))
                for mark in marks:
                    if mark not in at_marks and now >= mark - 0.5:
                        at_marks[mark] = rss
            time.sleep(1.0)
        if process.poll() is None:
            process.kill()
        out, err = process.communicate(timeout=30)
    if samples:  # a mark at the very end: the last sample before the process left
        for mark in marks:
            at_marks.setdefault(mark, samples[-1][1])
    try:
        summary = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except json.JSONDecodeError:
        summary = {}
    first, last = (at_marks[marks[0]], at_marks[marks[-1]]) if marks and at_marks else (0.0, 0.0)
    growth = (last - first) / first * 100 if first else 0.0
    figures = {"command": "videostyle " + " ".join(cmd[3:]), "exit": process.returncode, "load": load(),
               "rss_mb": {f"{m:g}s": round(at_marks.get(m, 0.0), 1) for m in marks},
               "peak_mb": round(max((r for _, r in samples), default=0.0), 1), "growth_percent": round(growth, 1),
               "frames_stylized": summary.get("frames_stylized"), "session": summary}
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{figures['command']}: exit {process.returncode}")
        for mark in marks:
            print(f"  RSS at {mark:g} s: {at_marks.get(mark, 0.0):.1f} MB")
        print(f"  peak {figures['peak_mb']} MB; growth from {marks[0]:g} s to {marks[-1]:g} s: {growth:+.1f}%")
        if summary:
            print(f"  session: {json.dumps(summary)}")
    if process.returncode != 0:
        print(err.strip()[-2000:], file=sys.stderr)
        return 1
    return 0 if growth <= args.max_growth else 1


if __name__ == "__main__":
    sys.exit(main())
