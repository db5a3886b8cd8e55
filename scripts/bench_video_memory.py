"""Peak memory of a large video frame under --max-memory (issue 16): where it goes.

    python scripts/bench_video_memory.py [--size 3840x2160] [--max-memory 6GB]

Two frames (tubingen.jpg from ../shared/media, the second panned by 16 px) through the video
engine (``TemporalStylizer`` in flow mode, as ``videostyle video`` runs them), one iteration
each, one scale; prints the process's resident memory (now, and the peak so far) after each
step and the tile plan. The peak is ``ru_maxrss``: on CPU what the limit has to hold.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
from harness.machine import describe, peak_rss_bytes, rss_mb
from harness.media import media, need

from videostyle.config import StyleConfig, TemporalConfig, parse_bytes
from videostyle.engine.flow import flow_between
from videostyle.engine.optimize import Stylizer
from videostyle.engine.temporal import TemporalStylizer
from videostyle.io import read_image


def resident() -> str:
    return f"now {(rss_mb() or 0) / 1024:.2f} GiB, peak {peak_rss_bytes() / 2**30:.2f} GiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="3840x2160")
    parser.add_argument("--max-memory", default="6GB")
    parser.add_argument("--content", default=str(media("content/tubingen.jpg")))
    parser.add_argument("--style", default=str(media("styles/starry_night.jpg")))
    args = parser.parse_args(argv)
    need(args.content, args.style)
    width, height = (int(v) for v in args.size.split("x"))
    started = time.perf_counter()

    def say(what: str) -> None:
        print(f"{time.perf_counter() - started:7.1f} s  {what}: {resident()}", flush=True)

    say("start")
    photo = cv2.resize(read_image(args.content), (width + 16, height),
                       interpolation=cv2.INTER_CUBIC)
    frames = [np.ascontiguousarray(photo[:, 16:]), np.ascontiguousarray(photo[:, :-16])]
    style = read_image(args.style)
    stylizer = Stylizer([style], StyleConfig(max_memory=parse_bytes("--max-memory", args.max_memory), scales=1))
    temporal = TemporalStylizer(stylizer, TemporalConfig())
    print(describe(stylizer))
    plan = stylizer.memory.plan(height, width)
    estimate = stylizer.memory.needed(height, width) / 2**30
    print(f"{width}x{height} under --max-memory {args.max_memory}: {len(plan.tiles) if plan else 'no'} tiles, "
          f"estimate {estimate:.2f} GiB besides the {stylizer.memory.held / 2**30:.2f} GiB held before", flush=True)
    say("ready")
    temporal.next(frames[0], iterations=1)
    say("frame 1 (1 iteration)")
    flow = flow_between(frames[0], frames[1])
    say("flow")
    temporal.next(frames[1], flow, iterations=1)
    say("frame 2 (1 iteration, from frame 1 warped along the flow)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
