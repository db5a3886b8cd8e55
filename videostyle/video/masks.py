"""Region masks for a video or still job (the mask setting): read, fitted to the output, checked.

A mask is the user's (a segmentation tool's output, a green-screen key, a drawing): an
image used for every frame, or a video / folder of frames that follows the output frames
one to one (read with the clip's own start, rate, frames and duration). Each is made
grey and resized to the output; white is 1. Everything is checked before any work: that it
can be read, that a video mask is as long as the clip, and that with two styles it has both
regions (a mask of one value would leave one style unused).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import ClipConfig
from ..errors import BadInput, BadOption, S, VideostyleError
from ..io import open_source, read_image
from ..io.images import STILL_SUFFIXES


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


def is_still(path: str | Path) -> bool:
    """Whether a mask path names one picture (not a video, GIF, folder or glob)."""
    p = Path(path)
    return p.is_file() and p.suffix.lower() in STILL_SUFFIXES


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
    try:
        if is_still(path):
            greys = [_grey(read_image(path), width, height)]
        else:
            clip = clip or ClipConfig(size=None)
            with open_source(path, start=clip.start, frames=clip.frames or frames, duration=clip.duration,
                             fps=clip.fps) as source:
                greys = []
                for frame in source:
                    greys.append(_grey(frame, width, height))
                    if len(greys) >= frames:
                        break
    except VideostyleError as exc:
        raise BadInput(S.mask, f" {path}: not a picture or a video videostyle can read ({exc})") from exc
    if not greys:
        raise BadInput(S.mask, f" {path}: holds no frames; give a picture, a video or a folder of frames")
    if not is_still(path) and len(greys) < frames:
        raise BadInput(S.mask, f" {path}: has {len(greys)} frame(s) and the clip {frames}; a video mask follows "
                       "the frames one to one, so give one at least as long as the clip (or a picture)")
    stack = np.stack(greys)
    if styles == 2 and int(stack.min()) == int(stack.max()):
        raise BadInput(S.mask, f" {path}: is all one value ({int(stack.min())}), so one of the two styles would "
                       "have no region; white takes the first style, black the second")
    return MaskFrames(path=str(path), frames=stack)


def _grey(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if grey.shape != (height, width):
        shrinking = grey.shape[0] * grey.shape[1] > width * height
        grey = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return grey
