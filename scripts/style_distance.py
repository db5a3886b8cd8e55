"""Gram style distance of pictures to a style image (how stylized they are).

    python scripts/style_distance.py STYLE IMAGE [IMAGE ...] [--size PX]

For each image: mean over relu1_1..relu5_1 of ‖G(x) − G(style)‖_F / ‖G(style)‖_F, the
style taken at the image's size (the measure behind ``Stylizer.style_distance``). The
first IMAGE is the reference (e.g. the content); the others are also printed as a ratio
to it.
"""

from __future__ import annotations

import argparse
import sys

from harness.media import need

from videostyle.config import StyleConfig
from videostyle.engine.optimize import Stylizer
from videostyle.engine.tensors import fit_size, resize_frame
from videostyle.io import read_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("style")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--size", type=int, help="resize every image to this longest side first")
    args = parser.parse_args(argv)
    need(args.style, *args.images)
    judge = Stylizer([read_image(args.style)], StyleConfig(precision="fp32"))
    reference = None
    for path in args.images:
        image = read_image(path)
        if args.size:
            image = resize_frame(image, *fit_size(image.shape[1], image.shape[0], args.size))
        distance = judge.style_distance(image)
        reference = reference or distance
        print(f"{path}: style distance {distance:.4f} ({distance / reference:.3f}x the first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
