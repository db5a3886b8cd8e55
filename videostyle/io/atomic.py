"""Atomic writes: write to a temporary name, rename.

Every file videostyle writes goes through :func:`write_atomic` or :func:`atomic_path`: it
is written under a hidden temporary name in the same folder (``.NAME.partial-PID.SUFFIX``),
flushed and fsynced, renamed over the final name, and the folder is fsynced so that the
rename survives a power cut. A reader (or a resumed job) sees the old file or the whole
new one, never half of one. A full disk is a :class:`DiskFull` error and leaves nothing
half-written behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import BadOutput, DiskFull

PARTIAL_INFIX = ".partial-"  # what every temporary name holds: .NAME.partial-PID.SUFFIX
_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def partial_path(out: Path) -> Path:
    """The hidden temporary sibling ``out`` is written under before the rename (the suffix
    is kept so that encoders pick the right format)."""
    return out.with_name(f".{out.name}{PARTIAL_INFIX}{os.getpid()}{out.suffix}")


def partial_pattern(name: str) -> re.Pattern[str]:
    """Matches the temporary names of ``name`` written by any process (group 1: its pid)."""
    return re.compile(rf"\.{re.escape(name)}{re.escape(PARTIAL_INFIX)}(\d+).*")


def remove_stale_partials(out: Path) -> None:
    """Remove the temporary files of ``out`` left by processes that no longer run (a job
    killed while writing it); those of a running process are left alone."""
    pattern = partial_pattern(out.name)
    with contextlib.suppress(OSError):
        for item in out.parent.iterdir():
            match = pattern.fullmatch(item.name)
            if match and not _running(int(match.group(1))):
                discard(item)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. no permission to signal it: it exists
        return True
    return True


def write_error(path: Path, exc: OSError) -> BadOutput:
    """The error to raise when writing ``path`` failed with ``exc``: DiskFull for a full
    disk or quota, BadOutput naming the OS's reason otherwise."""
    if exc.errno in _DISK_FULL:
        return DiskFull(path)
    return BadOutput(f"{path}: cannot write ({exc.strerror or exc})")


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (temporary name, fsync, rename,
    fsync of the folder). On any failure ``path`` is as it was and no temporary is left."""
    path = Path(path)
    partial = partial_path(path)
    try:
        write_synced(partial, data)
        os.replace(partial, path)
        fsync_folder(path.parent)
    except OSError as exc:
        discard(partial)
        raise write_error(path, exc) from exc
    except BaseException:
        discard(partial)
        raise


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file ``path`` and fsync it (the one place bytes reach a disk)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def replace_atomic(partial: Path, out: Path) -> None:
    """Move a finished temporary file or folder into place: its data fsynced, renamed over
    ``out`` (a folder ``out`` is removed first: os.replace cannot overwrite a full folder;
    callers check that such a folder holds only what they may replace), the rename fsynced."""
    try:
        if partial.is_dir():
            for item in partial.iterdir():
                _fsync_file(item)
            fsync_folder(partial)
        else:
            _fsync_file(partial)
        if out.is_dir() and partial.is_dir():
            shutil.rmtree(out)
        os.replace(partial, out)
        fsync_folder(out.parent)
    except OSError as exc:
        raise write_error(out, exc) from exc


@contextlib.contextmanager
def atomic_path(out: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``out`` to write; it replaces ``out`` (durably, see
    :func:`replace_atomic`) only when the block ends without an exception, and is removed
    whatever happens."""
    partial = partial_path(out)
    try:
        yield partial
        replace_atomic(partial, out)
    except OSError as exc:
        raise write_error(out, exc) from exc
    finally:
        discard(partial)


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (a no-op where folders cannot be fsynced)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def discard(path: Path) -> None:
    """Remove a temporary file or folder if it is there; never raises."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
