"""Re-render the bundled samples (see ``videostyle/samples.py``): nothing copied, nothing downloaded.

    python scripts/make_samples.py [--out samples]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from videostyle.samples import write_samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the bundled sample pictures and clip.")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "samples"))
    args = parser.parse_args(argv)
    for path in write_samples(Path(args.out)):
        print(f"{path}: {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
