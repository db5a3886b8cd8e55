"""What a user writes for the styles and the strength, as values: ``IMAGE[:W][@T]`` style specs,
``S[@T]`` strength keyframes, comma lists; and the one place they become a style schedule.

A request is given specs as text (the command line) or as :class:`StyleSpec` and
:class:`Strength` values (the web page); both end here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import SETTINGS, ScheduleEntry, StyleSchedule, What, check_number, parse_bytes
from ..errors import BadOption, S, VideostyleError, echo


@dataclass(frozen=True)
class StyleSpec:
    """A style image, its blend weight, and the second of the clip from which it holds (None:
    with the style before it, from 0 for the first)."""

    path: str
    weight: float = 1.0
    at: float | None = None


@dataclass(frozen=True)
class Strength:
    """A strength, and the second of the clip it is reached at (None: throughout)."""

    value: float
    at: float | None = None


StyleText = str | Path | StyleSpec
StrengthText = str | float | Strength


def _is_file(name: str) -> bool:
    """Whether a file has this very name; False for a name the system refuses (too long)."""
    try:
        return Path(name).is_file()
    except OSError:
        return False


def parse_style_spec(spec: str) -> tuple[str, float]:
    """``path[:weight]`` -> (path, weight).

    A file that exists under the whole name is taken as it is (``my:style.png``,
    ``C:/art/b.jpg``). Otherwise what follows the last colon is the blend weight, a finite
    number > 0; when what precedes it is a file, a weight that is not a number is an error.
    """
    path, sep, weight = spec.rpartition(":")
    if not sep or not path or _is_file(spec):
        return spec, 1.0
    try:
        value = float(weight)
    except ValueError:
        if _is_file(path):
            raise BadOption(S.style, f" {echo(spec)}: the blend weight {echo(weight)!r} is not a number; "
                                     f"give IMAGE:WEIGHT, e.g. {path}:0.5") from None
        return spec, 1.0  # a colon in a file name: the read says whether it exists
    check_number((S.style, f" {echo(spec)}: the blend weight"), value, above=0)
    return path, value


def parse_timed_style(spec: str) -> tuple[str, float, float | None]:
    """``path[:weight][@seconds]`` -> (path, weight, seconds or None); a file named with an @
    is that file (as with the colon, see :func:`parse_style_spec`)."""
    head, sep, when = spec.rpartition("@")
    if not sep or not head or _is_file(spec):
        return (*parse_style_spec(spec), None)
    try:
        seconds = float(when)
    except ValueError:
        if _is_file(parse_style_spec(head)[0]):
            raise BadOption(S.style, f" {echo(spec)}: the time {echo(when)!r} is not a number; give IMAGE@SECONDS, "
                                     f"e.g. {echo(head)}@2") from None
        return (*parse_style_spec(spec), None)
    check_number((S.style, f" {echo(spec)}: the time"), seconds, at_least=0)
    return (*parse_style_spec(head), seconds)


def check_name(what: What, name: object, *, give: str) -> None:
    """Refuse a file name the file system cannot take, as such, before any work: an empty one
    (``''`` or spaces: read as the current folder, it would be taken for a folder, or for a
    start image ignored, and a later message would blame another file) and one too long (a
    part over the system's limit, 255 bytes on most). ``give`` says what to give instead."""
    if not isinstance(name, str | Path):
        return
    parts = what if isinstance(what, tuple) else (what,)
    text = str(name)
    if isinstance(name, str) and not name.strip():
        raise BadOption(*parts, f" {name!r}: the name is empty; give {give}")
    longest_part, longest_path = _name_limits()
    over = [part for part in Path(text).parts if len(os.fsencode(part)) > longest_part]
    if over or len(os.fsencode(text)) > longest_path:
        limit = f"{longest_part} bytes a name" if over else f"{longest_path} bytes a path"
        raise BadOption(*parts, f" {echo(text)}: the name is too long for the file system (at most {limit}); "
                                f"give {give}")


def _name_limits() -> tuple[int, int]:
    """The file system's longest name and path in bytes (255 and 4096 where it does not say)."""
    try:
        return os.pathconf(".", "PC_NAME_MAX"), os.pathconf(".", "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):
        return 255, 4096


def parse_style(spec: StyleText) -> StyleSpec:
    """A style spec as a value: ``IMAGE[:W][@T]`` text parsed, a :class:`StyleSpec` checked."""
    give = "a style image, e.g. painting.jpg"
    if isinstance(spec, StyleSpec):  # named by its file's name: the path may be a server's
        check_name(S.style, spec.path, give=give)
        check_number((S.style, f" {Path(spec.path).name}: the blend weight"), spec.weight, above=0)
        if spec.at is not None:
            check_number((S.style, f" {Path(spec.path).name}: the time"), spec.at, at_least=0)
        return spec
    parsed = StyleSpec(*parse_timed_style(str(spec)))
    check_name(S.style, parsed.path, give=give)
    return parsed


def style_files(specs: Sequence[StyleText]) -> list[str]:
    """The files named by style specs (for the output-is-an-input check); a spec that does
    not parse stands for itself (it is refused with its own message when read)."""
    files = []
    for spec in specs:
        try:
            files.append(parse_style(spec).path)
        except VideostyleError:
            files.append(str(spec))
    return files


def parse_strength(spec: StrengthText) -> Strength:
    """``S`` or ``S@T`` (or a number, or a :class:`Strength`) -> a checked :class:`Strength`."""
    if isinstance(spec, Strength):
        strength = spec
    elif isinstance(spec, int | float) and not isinstance(spec, bool):
        strength = Strength(float(spec))
    else:
        value, sep, when = str(spec).partition("@")
        try:
            strength = Strength(float(value), float(when) if sep else None)
        except ValueError:
            raise BadOption(S.strength, f" {echo(str(spec))}: give a number from 0 to 1, or S@T with T in seconds "
                                        "(e.g. 0.5@3)") from None
    SETTINGS["strength"].check(strength.value)
    if strength.at is not None:
        check_number((S.strength, f" {echo(str(spec))}: the time"), strength.at, at_least=0)
    return strength


def plain_strength(specs: Sequence[StrengthText], *, timed: bool) -> float:
    """The one strength of a run without keyframes (the first keyframe's with them; the
    declared default without any). ``timed``: whether keyframes (S@T) are allowed."""
    parsed = [parse_strength(spec) for spec in specs]
    if len(parsed) > 1 and any(s.at is None for s in parsed):
        raise BadOption(S.strength, ": give one value, or S@T keyframes only (e.g. ", S.strength, " 0@0 ",
                        S.strength, " 0.5@3)")
    if not timed and any(s.at is not None for s in parsed):
        raise BadOption(S.strength, f" {specs[0]}: a time (@T) works with `videostyle video` only")
    return parsed[0].value if parsed else SETTINGS["strength"].default


def untimed_styles(specs: Sequence[StyleText]) -> list[StyleSpec]:
    """Style specs of a picture or a live session: a time (@T) is refused."""
    parsed = [parse_style(spec) for spec in specs]
    for spec, given in zip(parsed, specs, strict=True):
        if spec.at is not None:
            raise BadOption(S.style, f" {given}: a time (@T) works with `videostyle video` only")
    return parsed


def style_schedule(specs: Sequence[StyleText], *, transition: float, strengths: Sequence[StrengthText] = (),
                   per_shot: bool = False) -> tuple[list[StyleSpec], StyleSchedule | None]:
    """The styles to load and the schedule over them (None: one blend throughout, as before),
    from style specs with times, the transition, strength keyframes and a style per shot.

    Without a schedule the styles are the specs, each with its weight; with one they are the
    distinct files (weight 1), and the schedule's entries weigh them: the specs of one time
    are blended, a spec without a time holds with the one before it (from 0 for the first).
    """
    SETTINGS["transition"].check(transition)
    parsed = [parse_style(spec) for spec in specs]
    keyed = tuple((s.at, s.value) for s in map(parse_strength, strengths) if s.at is not None)
    timed = any(spec.at is not None for spec in parsed)
    if not (timed or keyed or per_shot):
        return parsed, None
    paths = list(dict.fromkeys(spec.path for spec in parsed))
    if per_shot:
        if timed:
            raise BadOption(S.style_per_shot, ": each shot takes the next style; drop the @T times")
        entries = [ScheduleEntry(0.0, tuple(spec.weight if path == spec.path else 0.0 for path in paths))
                   for spec in parsed]
    else:
        entries = [ScheduleEntry(t, weights) for t, weights in timeline(parsed, specs, paths)]
    schedule = StyleSchedule(entries=tuple(entries), transition=transition, strengths=keyed, per_shot=per_shot)
    return [StyleSpec(path) for path in paths], schedule


@dataclass(frozen=True)
class KeyframeSpec:
    """A painted frame and where it sits: ``seconds`` into the output clip, or its ``frame``
    (1-based: #1 is the first frame, as a folder output numbers them); exactly one is given."""

    path: str
    seconds: float | None = None
    frame: int | None = None

    @property
    def when(self) -> str:
        """Its time as the user wrote it: ``2.5`` or ``#10``."""
        return f"#{self.frame}" if self.frame is not None else f"{self.seconds:g}"


KeyframeText = str | KeyframeSpec


def parse_keyframe(spec: KeyframeText) -> KeyframeSpec:
    """``T:IMAGE`` (T in seconds) or ``#N:IMAGE`` (the N-th frame) -> a checked :class:`KeyframeSpec`."""
    if isinstance(spec, KeyframeSpec):
        parsed, shown = spec, f"{spec.when}:{Path(spec.path).name}"  # a server's path: named by its file name
    else:
        when, sep, path = str(spec).partition(":")
        shown = str(spec)
        if not sep or not path or not when.strip():
            raise BadOption(S.keyframe, f" {spec}: give T:IMAGE, T in seconds of the output clip or #N for its "
                                        "N-th frame (e.g. 2.5:painted.png or #10:painted.png)")
        when = when.strip()
        try:
            parsed = (KeyframeSpec(path, frame=int(when[1:])) if when.startswith("#")
                      else KeyframeSpec(path, seconds=float(when)))
        except ValueError:
            raise BadOption(S.keyframe, f" {spec}: the time {when!r} is neither seconds nor #N (a frame "
                                        "number); e.g. 2.5:painted.png or #10:painted.png") from None
    if (parsed.seconds is None) == (parsed.frame is None):
        raise ValueError("a keyframe has either seconds or a frame")
    check_name((S.keyframe, f" {parsed.when}:"), parsed.path, give="the painted frame's picture file")
    if parsed.frame is not None:
        if isinstance(parsed.frame, bool) or not isinstance(parsed.frame, int) or parsed.frame < 1:
            raise BadOption(S.keyframe, f" {shown}: frames are numbered from #1 (the first)")
    elif parsed.seconds is not None:
        check_number((S.keyframe, f" {shown}: the time"), parsed.seconds, at_least=0)
    return parsed


def keyframe_specs(specs: Sequence[KeyframeText]) -> list[KeyframeSpec]:
    """Keyframe specs as values, in the order given (seconds and frame numbers are put in
    one order once the clip's rate is known: ``video/keyframes.py`` does that)."""
    return [parse_keyframe(spec) for spec in specs]


def timeline(parsed: Sequence[StyleSpec], given: Sequence[StyleText],
             paths: Sequence[str]) -> list[tuple[float, tuple[float, ...]]]:
    """The one ordering rule of a timeline, the command line's and the page's: the styles in
    the order given, each at its time or, without one, at the time of the one before (0 for
    the first); a style at the time of the one before is blended with it, and a time earlier
    than the one before is refused, never sorted or merged with an earlier group. Returns
    (seconds, a weight per path) in time order."""
    groups: dict[float, list[float]] = {}
    last = 0.0
    for spec, text in zip(parsed, given, strict=True):
        seconds = last if spec.at is None else spec.at
        if seconds < last:
            shown = f"{Path(spec.path).name}@{seconds:g}" if isinstance(text, StyleSpec) else echo(str(text))
            raise BadOption(S.style, f" {shown}: the times are out of order ({seconds:g} s after {last:g} s); "
                                     "give the styles in time order, blends of one time together")
        if seconds not in groups:
            groups[seconds], last = [0.0] * len(paths), seconds
        groups[seconds][paths.index(spec.path)] += spec.weight
    return [(t, tuple(weights)) for t, weights in groups.items()]


def check_blend(specs: Sequence[StyleSpec]) -> None:
    """Refuse blend weights whose sum overflows (each is finite, their sum need not be)."""
    if not math.isfinite(sum(spec.weight for spec in specs)):
        raise BadOption(S.style, ": the blend weights add up to more than a number can hold "
                        f"({' + '.join(f'{spec.weight:g}' for spec in specs)}); give weights like 0.7 and 0.3")


def names(text: str | Sequence[str]) -> tuple[str, ...]:
    """A comma list (``relu4_2,relu3_1``) as a tuple; a sequence as it is."""
    if isinstance(text, str):
        return tuple(name.strip() for name in text.split(",") if name.strip())
    return tuple(text)


def offsets(text: str | Sequence[int]) -> tuple[int, ...]:
    """Frame offsets (``2,4``) as a tuple of whole numbers."""
    if not isinstance(text, str):
        return tuple(text)
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise BadOption(S.long_term, f" {echo(text)}: give frame offsets as whole numbers, e.g. 2,4") from None


def memory_bytes(value: int | str | None) -> int | None:
    """The memory a job may use: bytes, or text such as ``4GB``."""
    return parse_bytes(S.max_memory, value) if isinstance(value, str) else value
