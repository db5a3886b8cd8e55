"""What a picture is optimized towards: the styles' Gram matrices per output size, their
blends and region masks, computed once per size and kept (:class:`StyleTargets`), and one
frame's choice among them (:class:`FrameTargets`, from a schedule by :func:`targets_at`).

The Gram matrices of each style are computed once per output size and mixed per frame, so
a schedule costs a weighted sum of a few small matrices per frame; a job without one never
builds a :class:`FrameTargets` and runs on the styles' fixed blend.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..config import StyleConfig, StyleSchedule, check_number, style_weight_for_strength
from ..errors import BadOption, S
from . import losses
from .color import match_color
from .memory import allocation_failures
from .tensors import frame_to_tensor, resize_frame
from .tiles import tiled_grams
from .tiling import TilePlan
from .vgg import VGG19Features

# VGG19 pools four times before relu5_1: a picture thinner than 2**4 px has no pixel left
# there (max_pool2d fails at 15 px, works at 16: measured)
MIN_NETWORK_SIDE = 16
BLEND_CACHE = 8  # blended targets kept: a transition makes a new blend each frame

Grams = dict[str, torch.Tensor]
"""Gram matrices by layer, {layer: (1, C, C) float32}."""


@dataclass(frozen=True)
class Style:
    """A style image, (H, W, 3) uint8 RGB, and its blend weight."""

    image: np.ndarray
    weight: float = 1.0


def as_styles(styles: Sequence[np.ndarray | Style]) -> list[Style]:
    """Style images (uint8 RGB) or :class:`Style`, as Styles: at least one, each weight above 0."""
    found = [s if isinstance(s, Style) else Style(s) for s in styles]
    if not found:
        raise ValueError("at least one style image is needed")
    for style in found:
        check_number("style blend weight", style.weight, above=0)
    return found


@dataclass(frozen=True, eq=False)
class FrameTargets:
    """What one picture is optimized towards when it is not the styles' fixed blend (a
    schedule, a region mask).

    ``weights``: blend weights over the styles (None: their own weights); ``style_weight``:
    the style loss weight (None: the config's); ``mask``: (H, W) float32 in [0, 1], any size
    (resized to each scale): white takes style 0 and black style 1, or with one style black
    has no style loss (Gatys et al. 2017's per-region Grams).
    """

    weights: tuple[float, ...] | None = None
    style_weight: float | None = None
    mask: np.ndarray | None = None


TargetsFunction = Callable[[int], "FrameTargets | None"]
"""Maps a frame's index in the clip to its targets (None: the styles' fixed blend)."""


def targets_at(schedule: StyleSchedule, config: StyleConfig, seconds: float, shot: int = 0,
               mask: np.ndarray | None = None) -> FrameTargets:
    """The targets of the frame at ``seconds`` into the clip, in shot ``shot`` (0-based): the
    schedule's blend and strength there, and the frame's region ``mask``."""
    strength = schedule.strength_at(seconds)
    if strength is not None and config.style_weight is not None:
        raise BadOption(S.strength, " S@T and ", S.style_weight,
                        ": give one of them (the keyframes set the style weight)")
    style_weight = None if strength is None else style_weight_for_strength(strength)
    return FrameTargets(weights=schedule.weights_at(seconds, shot), style_weight=style_weight, mask=mask)


@dataclass(frozen=True)
class GramTargets:
    """What a picture's style terms aim at, at one size: the blend's Grams, or each region's
    (mask (1, 1, H, W), its style's Grams); and the style loss weight."""

    style_weight: float
    grams: Grams | None = None
    regions: list[tuple[torch.Tensor, Grams]] | None = None


def mask_tensor(mask: np.ndarray, height: int, width: int, device: torch.device) -> torch.Tensor:
    """An (h, w) mask in [0, 1] as (1, 1, height, width) float32 on ``device``: averaged over
    each output pixel's area when it shrinks, bilinear when it grows."""
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None].to(device)
    if m.shape[-2:] != (height, width):
        if m.shape[-2] >= height and m.shape[-1] >= width:
            m = torch.nn.functional.adaptive_avg_pool2d(m, (height, width))
        else:
            m = torch.nn.functional.interpolate(m, size=(height, width), mode="bilinear", align_corners=False)
    return m.clamp(0, 1)


class StyleTargets:
    """The styles' Gram matrices for one job, per output size, each computed once.

    ``styles`` are the job's (see :func:`as_styles`); ``vgg`` and ``dtype`` the network and its compute dtype;
    ``plan`` says how a picture of a size is tiled (a style image too large to run whole has
    its Grams summed over tiles). ``color_reference`` (uint8 RGB): the picture whose colours
    ``preserve_colors`` keeps, matched into each style before its Grams are taken.
    """

    def __init__(self, styles: list[Style], config: StyleConfig, vgg: VGG19Features, *,
                 dtype: torch.dtype | None, device: torch.device,
                 plan: Callable[[int, int], TilePlan | None], color_reference: np.ndarray | None = None) -> None:
        self.styles, self.config, self.vgg = list(styles), config, vgg
        self.dtype, self.device, self.plan = dtype, device, plan
        self.color_reference = color_reference
        self._fixed: dict[tuple[int, int], Grams] = {}
        self._per_style: dict[tuple[int, int], list[Grams]] = {}
        self._blends: OrderedDict[tuple, Grams] = OrderedDict()

    def style_size(self, style: Style, height: int, width: int) -> tuple[int, int]:
        """The (width, height) a style image is seen at for an H x W output: its longest side
        ``style_scale`` times the output's, and its shortest at least MIN_NETWORK_SIDE (a
        1000x2 strip is scaled up rather than vanishing in the network's pools)."""
        style_h, style_w = style.image.shape[:2]
        longest = self.config.style_scale * max(height, width)
        scale = max(longest / max(style_w, style_h), MIN_NETWORK_SIDE / min(style_w, style_h))
        return max(MIN_NETWORK_SIDE, round(style_w * scale)), max(MIN_NETWORK_SIDE, round(style_h * scale))

    def sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """The (width, height) each style is seen at for an H x W output."""
        return [self.style_size(style, height, width) for style in self.styles]

    def fixed(self, height: int, width: int) -> Grams:
        """The styles' blend (their own weights) for an output of this size (cached)."""
        key = (height, width)
        if key not in self._fixed:
            grams = self.per_style(height, width)
            weights = [s.weight for s in self.styles]
            self._fixed[key] = grams[0] if len(self.styles) == 1 else self._blend(grams, weights)
        return self._fixed[key]

    def per_style(self, height: int, width: int) -> list[Grams]:
        """Each style's own Grams for an output of this size (cached)."""
        key = (height, width)
        if key not in self._per_style:
            grams_per_style = []
            for style in self.styles:
                w, h = self.style_size(style, height, width)
                with allocation_failures(f"taking the Gram matrices of a style image seen at {w}x{h}",
                                         "use a smaller ", S.style_scale, " or ", S.size):
                    image = frame_to_tensor(resize_frame(style.image, w, h), self.device)
                    if self.config.preserve_colors and self.color_reference is not None:
                        image = match_color(image, frame_to_tensor(self.color_reference, self.device))
                    grams_per_style.append(self._grams(image))
                    del image
            self._per_style[key] = grams_per_style
        return self._per_style[key]

    def blended(self, height: int, width: int, weights: Sequence[float]) -> Grams:
        """The styles' Grams mixed with these weights (one per style), for a scheduled frame;
        the last few blends are kept, so a frame held at one blend computes it once."""
        if len(weights) != len(self.styles):
            raise ValueError(f"{len(weights)} blend weights for {len(self.styles)} styles")
        key = (height, width, tuple(float(w) for w in weights))
        if key in self._blends:
            self._blends.move_to_end(key)
            return self._blends[key]
        targets = self._blend(self.per_style(height, width), key[2])
        self._blends[key] = targets
        if len(self._blends) > BLEND_CACHE:
            self._blends.popitem(last=False)
        return targets

    def at(self, height: int, width: int, frame: FrameTargets | None = None) -> GramTargets:
        """What an H x W picture's style terms aim at: the fixed blend, or ``frame``'s blend,
        style weight or regions."""
        frame = frame or FrameTargets()
        weight = self.config.effective_style_weight if frame.style_weight is None else frame.style_weight
        if frame.mask is not None:
            return GramTargets(weight, regions=self.regions(frame.mask, height, width))
        grams = self.fixed(height, width) if frame.weights is None else self.blended(height, width, frame.weights)
        return GramTargets(weight, grams=grams)

    def regions(self, mask: np.ndarray, height: int, width: int) -> list[tuple[torch.Tensor, Grams]]:
        """(region mask (1, 1, H, W), its style's Grams) per region: white takes style 0, black
        style 1; with one style, black has none."""
        if len(self.styles) > 2:
            raise BadOption(S.mask, f": give one or two styles with a mask, not {len(self.styles)}")
        grams = self.per_style(height, width)
        white = mask_tensor(mask, height, width, self.device)
        if len(self.styles) == 1:
            return [(white, grams[0])]
        return [(white, grams[0]), (1 - white, grams[1])]

    @torch.no_grad()
    def distance(self, image: torch.Tensor | np.ndarray, *, style: int | None = None,
                 mask: np.ndarray | None = None) -> float:
        """Gram style distance of ``image`` to the (blended) style at the image's size.

        See :func:`losses.style_distance`: mean over the style layers of the relative
        Frobenius distance; computed in float32 for a stable yardstick. ``style``: to that
        one of the styles alone; ``mask`` ((H, W) in [0, 1]): of that region only (its
        Gram per unit of area, as the masked loss sees it).
        """
        x = frame_to_tensor(image, self.device) if isinstance(image, np.ndarray) else image
        h, w = x.shape[-2:]
        targets = self.fixed(h, w) if style is None else self.per_style(h, w)[style]
        features = self.vgg(x.float(), self.config.style_layers)
        if mask is None:
            return losses.style_distance(features, targets)
        region = mask_tensor(mask, h, w, self.device)
        dists = [losses.relative_error(losses.masked_gram(features[n], region), t).sqrt().item()
                 for n, t in targets.items()]
        return sum(dists) / len(dists)

    def _blend(self, grams_per_style: list[Grams], weights: Sequence[float]) -> Grams:
        used = [(g, w) for g, w in zip(grams_per_style, weights, strict=True) if w > 0]
        return {layer: losses.blend_grams([g[layer] for g, _ in used], [w for _, w in used])
                for layer in self.config.style_layers}

    @torch.no_grad()
    def _grams(self, image: torch.Tensor) -> Grams:
        # whole, or in tiles when a style picture is too large to run whole
        return tiled_grams(self.vgg, self.dtype, image, self.config.style_layers, self.plan(*image.shape[-2:]))
