"""Region masks for a video or still job (the mask setting): read, fitted to the output, checked.

A mask is the user's (a segmentation tool's output, a green-screen key, a drawing): a
picture used for every frame (a still format, or a GIF of one frame), or a video / folder
of frames that follows the output frames one to one (read with the clip's own start, rate,
frames and duration). Each is made grey and fitted to the output; white is 1, and a
transparent pixel is 0 (a cut-out's background keeps the second style, or the photo). A
mask of the output's shape is resized; one of another shape is scaled to cover the output
and its centre kept, as the frames of a folder are (no stretching), with a warning.
Everything is checked before any work: that it can be read, that a video mask is as long
as the clip, and that with two styles it has both regions (a mask of one value would leave
one style unused).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import ClipConfig
from ..errors import BadInput, BadOption, S, VideostyleError, VideostyleWarning
from ..io import open_source, read_image
from ..io.images import cover_frame, is_picture

TRANSPARENT = 0  # the grey a mask's transparent pixel reads as: not the first style's region
SAME_SHAPE_PX = 2  # a mask that fits the output's width within this many px of its height has its shape:
# an output's sides are rounded (to even numbers for H.264), so a mask made for the source is off by a pixel or two


@dataclass(frozen=True, eq=False)
class MaskFrames:
    """A job's mask: ``frames`` (N, H, W) uint8 grey at the output's size, one for every
    output frame, or one for them all."""

    path: str
    frames: np.ndarray

    def at(self, index: int) -> np.ndarray:
        """Frame ``index``'s mask as (H, W) float32 in [0, 1] (white = 1)."""
        frame = self.frames[0] if len(self.frames) == 1 else self.frames[index]
        return frame.astype(np.float32) / 255.0

    def digest(self) -> str:
        """A hash of the mask's content, for the work folder's settings."""
        return hashlib.sha256(np.ascontiguousarray(self.frames).tobytes()).hexdigest()


def check_mask_styles(styles: int) -> None:
    """A mask splits the picture between two styles (white the first, black the second) or,
    with one, between the style and the photo: refuse any other count."""
    if styles > 2:
        raise BadOption(S.mask, ": give one or two styles with a mask (white the first, black the second), "
                                f"not {styles}")


def read_mask(path: str | Path, width: int, height: int, *, frames: int = 1, styles: int = 1,
              clip: ClipConfig | None = None) -> MaskFrames:
    """Read ``path`` as a mask for ``frames`` output frames of ``width`` x ``height``.

    Raises BadOption with more than two ``styles``, and BadInput (one line naming the mask
    setting and the file) when it is neither a picture nor
    a video, when a video mask has fewer frames than the clip, and, with two ``styles``,
    when it is all one value.
    """
    check_mask_styles(styles)
    grey = _Fitter(path, width, height)
    still = is_picture(path)
    try:
        if still:
            greys = [grey(read_image(path, background=TRANSPARENT))]
        else:
            clip = clip or ClipConfig(size=None)
            with open_source(path, start=clip.start, frames=clip.frames or frames, duration=clip.duration,
                             fps=clip.fps, background=TRANSPARENT) as source:
                greys = []
                for frame in source:
                    greys.append(grey(frame))
                    if len(greys) >= frames:
                        break
    except VideostyleError as exc:
        raise BadInput(S.mask, f" {path}: not a picture or a video videostyle can read ({exc})") from exc
    if not greys:
        raise BadInput(S.mask, f" {path}: holds no frames; give a picture, a video or a folder of frames")
    if not still and len(greys) < frames:
        raise BadInput(S.mask, f" {path}: has {len(greys)} frame(s) and the clip {frames}; a video mask follows "
                       "the frames one to one, so give one at least as long as the clip (or a picture)")
    stack = np.stack(greys)
    if styles == 2 and int(stack.min()) == int(stack.max()):
        raise BadInput(S.mask, f" {path}: is all one value ({int(stack.min())}), so one of the two styles would "
                       "have no region; white takes the first style, black the second")
    if grey.covered is not None:  # said once the mask is accepted: a refused one needs no warning
        w, h = grey.covered
        warnings.warn(f"the mask {Path(path).name} is {w}x{h} and the output {width}x{height}, another shape: the "
                      "mask is scaled to cover the output and its centre is used (no stretching); give a mask of "
                      "the output's shape to place it exactly", VideostyleWarning, stacklevel=2)
    return MaskFrames(path=str(path), frames=stack)


class _Fitter:
    """A mask's frames as (H, W) uint8 grey at the output's ``width`` x ``height``: resized
    when of the output's shape, else scaled to cover it with the centre kept (never
    stretched); ``covered`` holds the size of the first frame so fitted."""

    def __init__(self, path: str | Path, width: int, height: int) -> None:
        self.path, self.width, self.height = path, width, height
        self.covered: tuple[int, int] | None = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        fitted_height, fitted_width = h * self.width / w, w * self.height / h
        if min(abs(fitted_height - self.height), abs(fitted_width - self.width)) > SAME_SHAPE_PX:
            self.covered = self.covered or (w, h)
            frame = cover_frame(frame, self.width, self.height)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if grey.shape != (self.height, self.width):
            shrinking = grey.shape[0] * grey.shape[1] > self.width * self.height
            grey = cv2.resize(grey, (self.width, self.height),
                              interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        return grey
