"""From parsed arguments to the settings of ``videostyle.config`` and the engine's inputs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import (
    DEFAULT_STRENGTH,
    INITS,
    PRESETS,
    ClipConfig,
    EncodeConfig,
    Preset,
    ScheduleEntry,
    SegmentConfig,
    StyleConfig,
    StyleSchedule,
    TemporalConfig,
    check_number,
    parse_bytes,
)
from ..errors import BadOption, VideostyleError

if TYPE_CHECKING:
    from ..engine.optimize import Style


def _preset(args: argparse.Namespace) -> Preset | None:
    name = getattr(args, "preset", None)
    return None if name is None else PRESETS[name]


def image_iterations(args: argparse.Namespace) -> int:
    """A still's budget: --iterations, else the preset's, else StyleConfig's default."""
    preset = _preset(args)
    if isinstance(args.iterations, int):  # a video's "auto" is no still's count
        return args.iterations
    return preset.image_iterations if preset else StyleConfig().iterations


def style_config(args: argparse.Namespace) -> StyleConfig:
    """The optimization settings of every command (``iterations``: a still's budget)."""
    return StyleConfig(
        content_weight=args.content_weight, strength=plain_strength(args), style_weight=args.style_weight,
        tv_weight=args.tv_weight,
        content_layers=layers(args.content_layers), style_layers=layers(args.style_layers),
        optimizer=args.optimizer, iterations=image_iterations(args), learning_rate=args.learning_rate,
        scales=args.scales, style_scale=args.style_scale, preserve_colors=args.preserve_colors,
        init=args.init if args.init in ("content", "noise") else "content", seed=args.seed,
        pooling=args.pooling, weights=args.weights, device=args.device, precision=args.precision,
        tile=getattr(args, "tile", None),
        max_memory=None if getattr(args, "max_memory", None) is None else parse_bytes("--max-memory", args.max_memory))


def parse_strength(spec: str) -> tuple[float, float | None]:
    """``S`` or ``S@T`` -> (strength, time or None)."""
    value, sep, when = str(spec).partition("@")
    try:
        strength = float(value)
        seconds = float(when) if sep else None
    except ValueError:
        raise BadOption(f"--strength {spec}: give a number from 0 to 1, or S@T with T in seconds "
                        "(e.g. 0.5@3)") from None
    check_number("--strength", strength, at_least=0, at_most=1)
    if seconds is not None:
        check_number(f"--strength {spec}: the time", seconds, at_least=0)
    return strength, seconds


def plain_strength(args: argparse.Namespace) -> float:
    """The one --strength of a run without keyframes (the first keyframe's value with them)."""
    specs = args.strength or []
    parsed = [parse_strength(spec) for spec in specs]
    if len(parsed) > 1 and any(t is None for _, t in parsed):
        raise BadOption("--strength: give one value, or S@T keyframes only (e.g. --strength 0@0 --strength 0.5@3)")
    if not getattr(args, "schedules", False) and any(t is not None for _, t in parsed):
        raise BadOption(f"--strength {specs[0]}: a time (@T) works with `videostyle video` only")
    return parsed[0][0] if parsed else DEFAULT_STRENGTH


def parse_timed_style(spec: str) -> tuple[str, float, float | None]:
    """``path[:weight][@seconds]`` -> (path, weight, seconds or None); a file named with an @
    is that file (as with the colon, see :func:`parse_style_spec`)."""
    head, sep, when = spec.rpartition("@")
    if not sep or not head or Path(spec).is_file():
        return (*parse_style_spec(spec), None)
    try:
        seconds = float(when)
    except ValueError:
        if Path(parse_style_spec(head)[0]).is_file():
            raise BadOption(f"--style {spec}: the time {when!r} is not a number; give IMAGE@SECONDS, "
                            f"e.g. {head}@2") from None
        return (*parse_style_spec(spec), None)
    check_number(f"--style {spec}: the time", seconds, at_least=0)
    return (*parse_style_spec(head), seconds)


def style_schedule(args: argparse.Namespace) -> tuple[list[str], StyleSchedule | None]:
    """The distinct style files and the schedule over them (None: one blend, as before)
    from --style IMAGE[:W][@T], --transition, --strength S@T and --style-per-shot."""
    check_number("--transition", getattr(args, "transition", 1.0), at_least=0)
    parsed = [parse_timed_style(spec) for spec in args.style]
    strengths = [parse_strength(spec) for spec in (args.strength or [])]
    keyed = tuple((t, s) for s, t in strengths if t is not None)
    per_shot = bool(getattr(args, "style_per_shot", False))
    timed = any(t is not None for _, _, t in parsed)
    if not (timed or keyed or per_shot):
        return [spec for spec in args.style], None
    paths: list[str] = []
    for path, _, _ in parsed:
        if path not in paths:
            paths.append(path)
    entries: list[ScheduleEntry] = []
    if per_shot:
        for path, weight, _ in parsed:
            weights = [0.0] * len(paths)
            weights[paths.index(path)] = weight
            entries.append(ScheduleEntry(0.0, tuple(weights)))
        if timed:
            raise BadOption("--style-per-shot: each shot takes the next style; drop the @T times")
    else:
        groups: dict[float, list[float]] = {}
        order: list[float] = []
        last = 0.0
        for path, weight, when in parsed:
            seconds = last if when is None else when
            if seconds not in groups:
                if order and seconds < order[-1]:
                    raise BadOption(f"--style {path}@{seconds:g}: the times are out of order ({seconds:g} s "
                                    f"after {order[-1]:g} s); give each --style in time order")
                groups[seconds], last = [0.0] * len(paths), seconds
                order.append(seconds)
            groups[seconds][paths.index(path)] += weight
        entries = [ScheduleEntry(t, tuple(groups[t])) for t in order]
    transition = getattr(args, "transition", 1.0)
    return paths, StyleSchedule(entries=tuple(entries), transition=transition, strengths=keyed, per_shot=per_shot)


def layers(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def parse_style_spec(spec: str) -> tuple[str, float]:
    """``path[:weight]`` -> (path, weight).

    A file that exists under the whole name is taken as it is (``my:style.png``,
    ``C:/art/b.jpg``). Otherwise what follows the last colon is the blend weight, a finite
    number > 0; when what precedes it is a file, a weight that is not a number is an error.
    """
    path, sep, weight = spec.rpartition(":")
    if not sep or not path or Path(spec).is_file():
        return spec, 1.0
    try:
        value = float(weight)
    except ValueError:
        if Path(path).is_file():
            raise BadOption(f"--style {spec}: the blend weight {weight!r} is not a number; "
                            f"give IMAGE:WEIGHT, e.g. {path}:0.5") from None
        return spec, 1.0  # a colon in a file name: the read says whether it exists
    check_number(f"--style {spec}: the blend weight", value, above=0)
    return path, value


def refuse_init_image(args: argparse.Namespace) -> None:
    """Video and webcam frames start from the content (or noise), then from the previous
    frame: a start image would apply to one frame only, so it is refused, not ignored."""
    if args.init not in INITS:
        raise BadOption(f"--init {args.init}: a start image works with `videostyle image` only; "
                        f"video and webcam frames start from {' or '.join(INITS)}, then from the previous frame")


def style_paths(specs: list[str]) -> list[str]:
    """The files named by --style PATH[:WEIGHT][@T] (for the output-is-an-input check)."""
    paths = []
    for spec in specs:
        try:
            paths.append(str(parse_timed_style(spec)[0]))
        except VideostyleError:
            paths.append(spec)  # refused with its own message when read
    return paths


def read_styles(specs: list[str]) -> list[Style]:
    import math

    from ..engine.optimize import Style
    from ..io import read_image

    for spec in specs:
        if parse_timed_style(spec)[2] is not None:
            raise BadOption(f"--style {spec}: a time (@T) works with `videostyle video` only")
    parsed = [parse_style_spec(spec) for spec in specs]
    if not math.isfinite(sum(weight for _, weight in parsed)):
        raise BadOption("--style: the blend weights add up to more than a number can hold "
                        f"({' + '.join(f'{w:g}' for _, w in parsed)}); give weights like 0.7 and 0.3")
    return [Style(read_image(path), weight) for path, weight in parsed]


def video_configs(args: argparse.Namespace) -> tuple[TemporalConfig, ClipConfig, EncodeConfig]:
    """A video job's settings: per-frame budgets (--iterations, else the preset's, else the
    defaults), what is read, how it is written."""
    preset, default = _preset(args), TemporalConfig()
    iterations = args.iterations if args.iterations is not None else (
        preset.iterations if preset else default.iterations)  # None and "auto": auto
    first = args.first_iterations if args.first_iterations is not None else (
        preset.first_iterations if preset else default.first_iterations)
    most = args.max_iterations if args.max_iterations is not None else (
        preset.max_iterations if preset else default.max_iterations)
    temporal = TemporalConfig(mode=args.temporal, iterations=iterations, max_iterations=most,
                              seamless_loop=args.seamless_loop,
                              first_iterations=first, temporal_weight=args.temporal_weight,
                              detect_cuts=not args.no_cut_detection, long_term=offsets(args.long_term),
                              detail_boost=args.detail_boost, warp_kernel=args.warp_kernel)
    clip = ClipConfig(size=args.size, start=args.start, frames=args.frames, duration=args.duration, fps=args.fps)
    encode = EncodeConfig(crf=args.crf, loop=args.loop, side_by_side=args.side_by_side)
    return temporal, clip, encode


def segment_config(args: argparse.Namespace):

    return SegmentConfig(workers=args.workers, address=args.ray_address, max_length=args.max_segment_length,
                         overlap=args.overlap)


def offsets(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise BadOption(f"--long-term {text}: give frame offsets as whole numbers, e.g. 2,4") from None


def parse_auth(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    user, sep, password = text.partition(":")
    if not (sep and user and password):
        raise BadOption("--auth: give USER:PASSWORD, both not empty")
    return user, password
