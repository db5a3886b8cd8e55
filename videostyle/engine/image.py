"""Still images: the simplest use of the engine, and the API behind ``videostyle image``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..config import StyleConfig
from .cancel import CancelToken
from .optimize import ProgressCallback, Stylizer
from .targets import FrameTargets, Style
from .tensors import fit_size, resize_frame, tensor_to_frame


def stylize_image(content: np.ndarray, styles: Sequence[np.ndarray | Style], *,
                  config: StyleConfig | None = None, size: int | None = None,
                  init: np.ndarray | None = None,
                  callback: ProgressCallback | None = None, cancel: CancelToken | None = None,
                  mask: np.ndarray | None = None) -> np.ndarray:
    """Stylize one picture and return it as (H, W, 3) uint8 RGB.

    ``content`` and the styles are (H, W, 3) uint8 RGB arrays (see ``videostyle.io.read_image``);
    ``size`` is the longest side of the output (None: the content's own size). ``cancel``
    stops the work at the next loss evaluation (:class:`~videostyle.engine.cancel.Cancelled`).
    ``mask`` ((H, W) in [0, 1], any size): white takes the first style, black the second, or
    with one style black keeps the photo (Gatys et al. 2017's per-region Grams).
    """
    w, h = fit_size(content.shape[1], content.shape[0], size)
    stylizer = Stylizer(styles, config or StyleConfig(), cancel=cancel)
    stylizer.check_memory(h, w)  # before the content is resized to that size
    targets = None if mask is None else FrameTargets(mask=mask)
    result = stylizer.stylize(resize_frame(content, w, h), init=init, callback=callback, targets=targets)
    return tensor_to_frame(result)
