"""Re-render the bundled samples (see ``videostyle/samples.py``): nothing copied, nothing downloaded.

    python scripts/make_samples.py [--out samples]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.media import SAMPLES

from videostyle.samples import write_samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the bundled sample pictures and clip.")
    parser.add_argument("--out", default=str(SAMPLES))
    args = parser.parse_args(argv)
    for path in write_samples(Path(args.out)):
        print(f"{path}: {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
