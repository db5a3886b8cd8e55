"""Command-line options that several benchmarks take, with the same names, defaults and help."""

from __future__ import annotations

import argparse

from harness.media import media

STYLE = "styles/starry_night.jpg"  # The Starry Night: the painting most figures are measured with
CLIP = "cockatoo.mp4"  # 1280x720, 20 fps, camera shake: the clip most figures are measured on


def benchmark_parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser described by the first line of a script's docstring."""
    first = next((line.strip() for line in (doc or "").splitlines() if line.strip()), "")
    return argparse.ArgumentParser(description=first)


def add_clip_options(parser: argparse.ArgumentParser, *, size: int, frames: int) -> None:
    """``--input`` (a clip), ``--style``, ``--size`` and ``--frames``, defaulting to the shared
    media's cockatoo.mp4 and The Starry Night."""
    parser.add_argument("--input", default=str(media(CLIP)), help="the clip (default: %(default)s)")
    parser.add_argument("--style", default=str(media(STYLE)), help="the painting (default: %(default)s)")
    parser.add_argument("--size", type=int, default=size, help="longest side of the frames (default %(default)s)")
    parser.add_argument("--frames", type=int, default=frames, help="frames of the clip (default %(default)s)")
