"""Output safety: refuse to overwrite without --force, write to a temporary name, rename."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import BadOutput

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")
GIF_SUFFIXES = (".gif",)


def output_kind(path: str | Path) -> str:
    """``video``, ``gif``, ``image`` or ``folder`` (a trailing slash, existing dir or no suffix)."""
    text = str(path)
    p = Path(text)
    if text.endswith(("/", os.sep)) or p.is_dir() or not p.suffix:
        return "folder"
    suffix = p.suffix.lower()
    for kind, suffixes in (("video", VIDEO_SUFFIXES), ("gif", GIF_SUFFIXES), ("image", IMAGE_SUFFIXES)):
        if suffix in suffixes:
            return kind
    raise BadOutput(f"{p}: unknown output format {suffix!r}; use .mp4, .gif, .png or a folder/")


def check_output(path: str | Path, *, force: bool, kinds: tuple[str, ...] | None = None) -> Path:
    """Check that ``path`` may be written (before any work is done); returns it as a Path."""
    out = Path(path)
    kind = output_kind(path)
    if kinds is not None and kind not in kinds:
        raise BadOutput(f"{out}: a {kind} output is not possible here; use one of: {', '.join(kinds)}")
    if out.exists() and not force:
        raise BadOutput(f"{out}: already exists; pass --force to overwrite it")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise BadOutput(f"{parent}: output folder does not exist (or is not a folder); create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadOutput(f"{parent}: output folder is not writable")
    return out


@contextlib.contextmanager
def atomic_path(out: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``out`` to write; it replaces ``out`` only on success."""
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}{out.suffix}")
    try:
        yield partial
        if out.is_dir():  # --force on a folder output: os.replace cannot overwrite a full folder
            shutil.rmtree(out)
        os.replace(partial, out)
    finally:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        elif partial.exists():
            partial.unlink()
