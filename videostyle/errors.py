"""Errors that videostyle raises on purpose.

Every error a user can cause derives from :class:`VideostyleError`; the CLI prints its
message on one line and exits with code 2. Messages name the file and the problem and,
where it helps, what to do next. Warnings (the work goes on, but the user should know)
are issued with :func:`warnings.warn` as :class:`VideostyleWarning`; the CLI prints each
as one line ``videostyle: warning: ...``.
"""

from __future__ import annotations


class VideostyleError(Exception):
    """Base class: a problem the user can fix (bad file, bad option, busy output)."""


class BadInput(VideostyleError):
    """An input file (image, video, weights) is missing, unreadable or unsuitable."""


class BadSource(BadInput):
    """A frame source (video, GIF, image folder, camera) cannot be opened or read."""


class BadOutput(VideostyleError):
    """An output cannot be written: exists without --force, unwritable folder, bad format."""


class BadOption(VideostyleError):
    """An option value is out of range or inconsistent with another option."""


class DiskFull(BadOutput):
    """The disk (or quota) filled up while writing ``path``; nothing half-written is left behind.

    ``advice`` says what to do next; a video job replaces it to say the finished frames are kept.
    """

    def __init__(self, path: object, advice: str = "nothing was written; free space and run again") -> None:
        super().__init__(f"disk full writing {path}; {advice}")
        self.path = path


class VideostyleWarning(UserWarning):
    """Something the user should know that does not stop the job (a rule applied, a short file)."""
