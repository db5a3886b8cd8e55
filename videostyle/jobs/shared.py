"""What every stylizing request shares: the styles and the optimization settings, as plain
values named as the settings are (see ``config.SETTINGS``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from ..config import INITS, SETTINGS, Preset, StyleConfig, declared, iteration_budgets
from ..errors import BadOption, S
from .specs import (
    StrengthText,
    StyleSpec,
    StyleText,
    check_blend,
    check_name,
    memory_bytes,
    names,
    parse_style,
    plain_strength,
)

Request = TypeVar("Request", bound="StyleRequest")


@dataclass(frozen=True, kw_only=True)
class StyleRequest:
    """The styles (``IMAGE[:W][@T]`` specs or :class:`StyleSpec` s), the strength (``S`` or
    ``S@T`` keyframes), a quality preset and the settings of :class:`StyleConfig`. Checked
    when made: a bad value is a :class:`BadOption` about its setting, before any work."""

    COMMAND: ClassVar[str] = "image"  # whose declared defaults apply

    style: Sequence[StyleText]  # may be empty (or None, read as empty) for a clip with keyframes
    strength: Sequence[StrengthText] | None = ()  # () or None: the declared default
    preset: str | None = None  # None: the command's declared budgets
    iterations: int | str | None = None  # None: the preset's
    style_weight: float | None = declared("style_weight")
    content_weight: float = declared("content_weight")
    tv_weight: float = declared("tv_weight")
    style_scale: float = declared("style_scale")
    preserve_colors: bool = declared("preserve_colors")
    content_layers: str | Sequence[str] = declared("content_layers")  # a tuple or "relu4_2,relu3_1"
    style_layers: str | Sequence[str] = declared("style_layers")
    pooling: str = declared("pooling")
    optimizer: str = declared("optimizer")
    learning_rate: float = declared("learning_rate")
    scales: int = declared("scales")
    init: str = declared("init")  # content, noise, or (a picture only) an image to start from
    seed: int | None = declared("seed")
    device: str = declared("device")
    precision: str = declared("precision")
    weights: str | None = declared("weights")
    tile: int | None = declared("tile")
    max_memory: int | str | None = declared("max_memory")  # bytes, or text such as 4GB
    force: bool = declared("force")

    @classmethod
    def from_values(cls: type[Request], values: Mapping[str, Any]) -> Request:
        """A request from values named as its fields (e.g. a parsed command line's); others are
        left out."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})

    def __post_init__(self) -> None:
        object.__setattr__(self, "style", tuple(self.style or ()))
        object.__setattr__(self, "strength", tuple(self.strength or ()))
        if not self.style and not self.style_optional():
            if self.COMMAND == "video":
                raise BadOption(S.style, ": give at least one style, or keyframes (", S.keyframe, ")")
            raise BadOption(S.style, ": give at least one style")
        for spec in self.style:
            parse_style(spec)  # an empty name, a bad weight or time: refused before any file is read
        check_name(S.init, self.init, give=f"{' or '.join(INITS)}, or a picture to start from")
        check_name(S.weights, self.weights, give="a vgg19-*.pth file, or leave it out for the original VGG19")
        self.style_config()  # every setting checked now, before any work

    def style_optional(self) -> bool:
        """Whether this request may go without a style (a clip with keyframes)."""
        return False

    def budgets(self) -> Preset:
        """The iterations: the ones given, else the preset's, else the command's defaults."""
        return iteration_budgets(self.preset, command=self.COMMAND, iterations=self.iterations)

    def style_config(self) -> StyleConfig:
        """The optimization settings (``iterations``: a still's budget)."""
        strength = plain_strength(self.strength or (), timed=self.COMMAND == "video")
        return StyleConfig(
            content_weight=self.content_weight, strength=strength,
            style_weight=self.style_weight, tv_weight=self.tv_weight, content_layers=names(self.content_layers),
            style_layers=names(self.style_layers), optimizer=self.optimizer, iterations=self.budgets().image_iterations,
            learning_rate=self.learning_rate, scales=self.scales, style_scale=self.style_scale,
            preserve_colors=self.preserve_colors, init=self.init if self.init in INITS else INITS[0], seed=self.seed,
            pooling=self.pooling, weights=self.weights, device=self.device, precision=self.precision, tile=self.tile,
            max_memory=memory_bytes(self.max_memory))

    def refuse_init_image(self) -> None:
        """Video and webcam frames start from the content (or noise), then from the previous
        frame: a start image would apply to one frame only, so it is refused, not ignored."""
        if self.init not in INITS:
            raise BadOption(S.init, f" {self.init}: a start image works with `videostyle image` only; "
                                    f"video and webcam frames start from {' or '.join(INITS)}, then from the "
                                    "previous frame")


def read_styles(specs: Sequence[StyleSpec]) -> list:
    """The style images of checked specs, with their weights (``Style`` s)."""
    from .. import Style
    from ..io import read_image

    check_blend(specs)
    return [Style(read_image(spec.path), spec.weight) for spec in specs]


def check_size(size: int | None) -> None:
    """The output size, checked through its declaration."""
    SETTINGS["size"].check(size)
