"""Errors that videostyle raises on purpose.

Every error a user can cause derives from :class:`VideostyleError`; the CLI prints its
message on one line and exits with code 2. Messages name the file and the problem and,
where it helps, what to do next. Warnings (the work goes on, but the user should know)
are issued with :func:`warnings.warn` as :class:`VideostyleWarning`; the CLI prints each
as one line ``videostyle: warning: ...``.

A message names the settings it is about by reference, never in one front-end's spelling:
it is built from parts, text and :class:`SettingRef` (written ``S.size``)::

    raise BadOption(S.size, f" {size}: must be at least 16")
    raise BadOption(S.mask, ": masks do not work in tiles yet; use a smaller ", S.size)

so the error knows which settings it is about (:attr:`VideostyleError.settings`), and each
front-end words them itself (:meth:`VideostyleError.render`): the command line as its flags
(``--size``), the web page as its labels ("Output size"). ``str()`` gives the settings'
own names, as the Python API spells them (``size``).
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SettingRef:
    """A reference to a setting (its declared name, see ``config.SETTINGS``) inside a message."""

    name: str

    def __str__(self) -> str:
        return self.name


class _SettingRefs:
    """``S.size`` -> ``SettingRef("size")``: short to write inside a message."""

    def __getattr__(self, name: str) -> SettingRef:
        if name.startswith("_"):
            raise AttributeError(name)
        return SettingRef(name)


S = _SettingRefs()

Part = str | SettingRef
Words = Callable[[str], str]
"""Maps a setting's name to what a front-end calls it (``size`` -> ``--size``)."""


def render(parts: Iterable[Part], words: Words = str) -> str:
    """Text from parts, each setting referred to spelled as ``words(name)``."""
    return "".join(words(p.name) if isinstance(p, SettingRef) else str(p) for p in parts)


ECHO_LIMIT = 60  # characters of a user's text a message repeats


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """A user's text as a message repeats it: whole when short, else its start and how long
    it is (a 10,000-character value is not sent back whole)."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()}… ({len(text):,} characters)"


class VideostyleError(Exception):
    """Base class: a problem the user can fix (bad file, bad option, busy output).

    Built from parts (text and :class:`SettingRef`); :attr:`settings` lists the settings
    the message refers to, :attr:`setting` the first (the one it is about), and
    :meth:`render` words them for a front-end.
    """

    # bad usage, input, option or output (2); a failure at run time that is not the input's
    # fault, with the finished work kept (1): a full disk mid-job, workers lost
    exit_code: int = 2

    def __init__(self, *parts: Part) -> None:
        super().__init__(*parts)
        self.parts: tuple[Part, ...] = parts

    @property
    def settings(self) -> list[str]:
        """The settings the message refers to, in order, each once, e.g. ``["mask", "size"]``."""
        return list(dict.fromkeys(p.name for p in self.parts if isinstance(p, SettingRef)))

    @property
    def setting(self) -> str | None:
        """The setting this error is about (the first one it refers to), or None."""
        names = self.settings
        return names[0] if names else None

    def render(self, words: Words = str) -> str:
        """The message with each setting referred to spelled as ``words(name)``."""
        return render(self.parts, words)

    def __str__(self) -> str:
        return self.render()

    def replace(self, old: str, new: str) -> VideostyleError:
        """A copy of this error with ``old`` replaced by ``new`` in its text (not in its
        settings), e.g. a server's path by the name the user knows the file by."""
        copy = _copy.copy(self)
        copy.parts = tuple(p.replace(old, new) if isinstance(p, str) else p for p in self.parts)
        copy.args = copy.parts
        return copy


class BadInput(VideostyleError):
    """An input file (image, video, weights) is missing, unreadable or unsuitable."""


class BadSource(BadInput):
    """A frame source (video, GIF, image folder, camera) cannot be opened or read."""


class BadOutput(VideostyleError):
    """An output cannot be written: exists without ``force``, unwritable folder, bad format."""


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


class OutOfMemory(VideostyleError):
    """An allocation failed while the work ran (the memory check let the size through, but
    the machine had less than it said, or something else took it): a run-time failure."""

    exit_code = 1


# what an allocation failure says, by where it happened: Python's MemoryError, torch's CPU
# allocator ("DefaultCPUAllocator: can't allocate memory: you tried to allocate N bytes"),
# CUDA's and MPS's ("CUDA out of memory. Tried to allocate 2.00 GiB"), oneDNN's
_ALLOCATION_FAILURES = ("can't allocate memory", "cannot allocate memory", "out of memory",
                        "failed to allocate", "not enough memory")


def is_allocation_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed allocation (MemoryError, or torch's RuntimeError saying so)."""
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(text in str(exc).lower() for text in _ALLOCATION_FAILURES)


def allocation_bytes(exc: BaseException) -> int | None:
    """The bytes the failed allocation ``exc`` asked for, as its message says (None: unsaid)."""
    import re

    text = str(exc)
    if found := re.search(r"allocate (\d+) bytes", text):
        return int(found.group(1))
    if found := re.search(r"allocate (\d+(?:\.\d+)?) ([KMGT])iB", text):
        return int(float(found.group(1)) * 1024 ** (" KMGT".index(found.group(2))))
    return None
