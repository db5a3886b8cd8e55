"""Helpers for the safety tests: a digest of a folder tree, and a disk that can be filled up."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from videostyle.io import atomic

_WRITE_SYNCED = atomic.write_synced


def tree(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` (hidden ones too) -> a digest of its content."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        name = str(path.relative_to(folder))
        found[name] = "folder" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


class SmallDisk:
    """A folder whose disk can be made full and freed again.

    Where the tests run as root and may mount (as in CI), it is a real 1 MB tmpfs and
    :meth:`fill` writes a filler file until the kernel says ENOSPC. Elsewhere it is a plain
    folder and :meth:`fill` makes the atomic-write helper fail with OSError(ENOSPC), the
    error the kernel would give. Either way the code under test sees a full disk.
    """

    def __init__(self, path: Path, *, tmpfs: bool, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path, self.tmpfs, self.monkeypatch = path, tmpfs, monkeypatch
        self.filler = path.parent / f"{path.name}-filler" if not tmpfs else path / "filler"

    def fill(self) -> None:
        """From now on, writing in this folder fails with ENOSPC."""
        if not self.tmpfs:
            def full(path: Path, data: bytes) -> None:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

            self.monkeypatch.setattr(atomic, "write_synced", full)
            return
        with contextlib.suppress(OSError), open(self.filler, "ab", buffering=0) as fh:
            while True:
                fh.write(b"\0" * 4096)

    def free(self) -> None:
        """Make room again."""
        if not self.tmpfs:
            self.monkeypatch.setattr(atomic, "write_synced", _WRITE_SYNCED)
            return
        self.filler.unlink(missing_ok=True)


def _can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@contextlib.contextmanager
def small_disk(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallDisk]:
    """A :class:`SmallDisk` at ``path`` (a tmpfs when possible), unmounted afterwards."""
    path.mkdir()
    mounted = False
    if _can_mount():
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
                                capture_output=True)
        mounted = result.returncode == 0
    try:
        yield SmallDisk(path, tmpfs=mounted, monkeypatch=monkeypatch)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
