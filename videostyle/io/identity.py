"""Whether an input file is still the one a job started reading.

A video job reads its source twice: frames at the start, and again at the end for the
audio it muxes back (and the originals shown side by side). A file deleted, replaced
(a new download saved over it) or rewritten in between must not lend its audio to the
other file's frames: the job records the file's identity when it opens it and checks it
before reading it again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import Part, SourceChanged


@dataclass(frozen=True)
class FileIdentity:
    """A file as the file system tells it apart: its inode on its device, size and mtime."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | Path) -> FileIdentity | None:
        """The identity of the file at ``path`` now; None when there is no file there."""
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if not os.path.isfile(path):
            return None
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def check_unchanged(path: str | Path, recorded: FileIdentity | None, *, advice: tuple[Part, ...]) -> None:
    """Raise :class:`SourceChanged` naming ``path`` unless it is still the file ``recorded``
    (None: nothing was recorded, e.g. an image folder, and nothing is checked)."""
    if recorded is None:
        return
    now = FileIdentity.of(path)
    if now == recorded:
        return
    if now is None:
        what = "was deleted"
    elif (now.device, now.inode) != (recorded.device, recorded.inode):
        what = "was replaced by another file"
    elif now.size != recorded.size:
        what = f"was rewritten ({recorded.size} bytes, now {now.size})"
    else:
        what = "was modified"
    raise SourceChanged(f"{path}: the input {what} while the job ran; ", *advice)
