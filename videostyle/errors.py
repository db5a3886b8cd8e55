"""Errors that videostyle raises on purpose.

Every error a user can cause derives from :class:`VideostyleError`; the CLI prints its
message on one line and exits with code 2. Messages name the file and the problem and,
where it helps, what to do next. Warnings (the work goes on, but the user should know)
are issued with :func:`warnings.warn` as :class:`VideostyleWarning`; the CLI prints each
as one line ``videostyle: warning: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# How a message names a setting: its command-line spelling (config.option_name), the one
# spelling every front-end knows how to rewrite. The CLI shows it as is; the web page
# replaces each with its own words (VideostyleError.phrase), so it never asks for a flag.
SETTING = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")


class VideostyleError(Exception):
    """Base class: a problem the user can fix (bad file, bad option, busy output).

    The message names the settings it is about as ``--name`` (see :data:`SETTING`) and the
    file it is about by path; :attr:`settings` lists the former, :meth:`phrase` rewrites
    them for a front-end that has no flags.
    """

    # bad usage, input, option or output (2); a failure at run time that is not the input's
    # fault, with the finished work kept (1): a full disk mid-job, workers lost
    exit_code: int = 2

    @property
    def settings(self) -> list[str]:
        """The settings the message names, e.g. ``["size", "restart"]``."""
        return SETTING.findall(str(self))

    def phrase(self, spell: Callable[[str], str]) -> str:
        """The message with each ``--name`` replaced by ``spell(name)``."""
        return SETTING.sub(lambda m: spell(m.group(1)), str(self))


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

    def __init__(self, path: object, advice: str = "nothing was written; free space and run again",
                 *, midway: bool = False) -> None:
        super().__init__(f"disk full writing {path}; {advice}")
        self.path = path
        if midway:  # the job ran out of space after it had started: a run-time failure
            self.exit_code = 1


class DecoderFailed(BadSource):
    """The ffmpeg decoding the source died mid-job (killed, out of memory): a run-time
    failure, the finished frames are kept."""

    exit_code = 1


class SourceChanged(BadSource):
    """The source file was deleted, replaced or rewritten while a job read it: a run-time
    failure, the finished frames are kept; nothing of the other file is used."""

    exit_code = 1


class VideostyleWarning(UserWarning):
    """Something the user should know that does not stop the job (a rule applied, a short file)."""
