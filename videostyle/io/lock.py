"""Job locks: an OS-level lock a job holds on a file for its whole run.

``fcntl.flock`` on a small file holding the owner's pid, taken without waiting: a second
videostyle job that asks for the same lock is refused at once, with the pid of the job
that holds it. The operating system drops the lock when its process ends, however it
ends (``kill -9`` included), so a lock file left behind never blocks a later job.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..errors import BadOutput, Part
from .atomic import write_error

try:
    import fcntl
except ImportError:  # not POSIX: no locking, as before
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = ".videostyle-lock"


def output_lock_path(out: Path) -> Path:
    """The lock file that guards output ``out``: hidden, beside it."""
    return out.parent / f".{out.name}{LOCK_SUFFIX}"


class JobLock:
    """An exclusive, non-blocking lock on ``path`` (created if needed), held until
    :meth:`release` or the end of the ``with`` block, which also removes the file.

    ``what`` names the guarded thing in the refusal, e.g. ``"out.mp4"``; ``advice`` says
    what to do instead.
    """

    def __init__(self, path: Path, *, what: str, advice: Part | tuple[Part, ...]) -> None:
        self.path, self.what = Path(path), what
        self.advice = advice if isinstance(advice, tuple) else (advice,)
        self._fd: int | None = None

    def __enter__(self) -> JobLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock or raise BadOutput saying which job (pid) holds it."""
        if fcntl is None:
            return
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise write_error(self.path, exc) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_pid(fd)
                os.close(fd)
                pid = f" (pid {holder})" if holder else ""
                raise BadOutput(f"{self.what}: another videostyle job{pid} is writing there; ", *self.advice) from None
            # The holder before us removes the file as it releases it: make sure we locked
            # the file that is there now, not one that was just unlinked.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock (safe to call twice)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still holding it: no one can have locked this file meanwhile
        os.close(fd)

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
