"""How benchmarks show and keep their figures: markdown tables (the form docs/benchmarks.md
quotes), progress lines as JSON on stderr, and results as JSON files."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table; cells are shown with ``str`` (format numbers before), ``|`` escaped."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def print_table(header: Sequence[object], rows: Iterable[Sequence[object]], *, title: str | None = None) -> None:
    """Print :func:`markdown_table`, after a blank line and ``title`` when given."""
    if title:
        print(f"\n{title}\n")
    print(markdown_table(header, rows), flush=True)


def plain(value: Any) -> Any:
    """``value`` as JSON can hold it: numpy scalars and arrays, paths, tuples-as-keys and
    dataclasses become numbers, lists, strings and objects."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k if isinstance(k, str | int | float) else str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` (see :func:`plain`) as indented JSON, making the folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plain(data), indent=1))
    return path


def progress(row: Any) -> None:
    """One JSON line on stderr: a figure as soon as it is measured, apart from the tables on stdout."""
    print(json.dumps(plain(row)), file=sys.stderr, flush=True)
