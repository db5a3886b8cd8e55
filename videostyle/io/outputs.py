"""The outputs videostyle writes: which kind a name stands for (its suffix), and the checks
made before any work: that it may be written, and that it is none of the inputs."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from ..errors import BadOutput, S

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")
GIF_SUFFIXES = (".gif",)
FRAME_NAME = re.compile(r"frame_\d+\.png")  # what a PNG folder output holds


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
        raise BadOutput(f"{out}: {kind} outputs are not possible here; use one of: {', '.join(kinds)}")
    if out.exists() and not (out.is_file() or out.is_dir()):
        what = f"{out} -> {out.resolve()}" if out.is_symlink() else str(out)
        raise BadOutput(f"{what}: is a device or special file, not a file or folder videostyle can write; "
                        "give an output file name")
    if out.exists() and not force:
        raise BadOutput(f"{out}: already exists; pass ", S.force, " to overwrite it")
    if kind == "folder":
        check_frame_folder(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise BadOutput(f"{parent}: output folder does not exist (or is not a folder); create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadOutput(f"{parent}: output folder is not writable")
    return out


def check_frame_folder(out: Path) -> None:
    """Refuse to replace a folder that holds anything but ``frame_*.png`` files (the user's
    notes, photos, a subfolder): only a frame folder videostyle wrote is replaced."""
    if not out.is_dir():
        return
    others = sorted(p.name for p in out.iterdir() if not (FRAME_NAME.fullmatch(p.name) and p.is_file()))
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise BadOutput(f"{out}: folder holds files other than frame_*.png ({shown}); ", S.force, " replaces only "
                        "frame folders, choose a new folder")


def check_not_input(out: Path, inputs: Iterable[str | Path]) -> None:
    """Refuse an output that is one of the inputs (by name, through a link, or a hard link:
    the same inode), lies inside an input folder, or is a folder that holds an input:
    writing it (forced) would replace or delete what is being read."""
    target = Path(os.path.abspath(out)).resolve()
    for item in inputs:
        source = Path(item)
        if not source.exists():
            continue
        real = source.resolve()
        same = target == real
        if not same and out.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(out, source)
        if same:
            raise BadOutput(f"{out}: is the input {source} (the same file); writing it would destroy the input: "
                            "choose another output")
        if real in target.parents and source.is_dir():
            raise BadOutput(f"{out}: lies inside the input folder {source}; choose an output outside it")
        if target in real.parents:
            raise BadOutput(f"{out}: holds the input {source}; writing the output would replace it: "
                            "choose another output")
