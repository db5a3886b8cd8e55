"""A picture: the request, its checks and its run (``videostyle image``, the page's Image tab)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import INITS, declared
from ..errors import S
from .shared import StyleRequest, check_size, read_styles
from .specs import check_name, style_files, untimed_styles

if TYPE_CHECKING:
    import numpy as np

    from ..engine.cancel import CancelToken


@dataclass(frozen=True, kw_only=True)
class ImageRequest(StyleRequest):
    """Stylize ``content`` into ``output`` (.png, .jpg, ...) at ``size`` (the longest side;
    None: the content's own), with an optional region ``mask``; ``init`` may name a picture
    to start from."""

    COMMAND: ClassVar[str] = "image"

    content: str | Path
    output: str | Path
    size: int | None = declared("size", "image")
    mask: str | Path | None = declared("mask")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_name("the content", self.content, give="a picture to stylize")
        check_name("the output", self.output, give="a file to write, e.g. painted.png")
        check_name(S.mask, self.mask, give="a mask picture, or leave it out")
        check_size(self.size)
        styles = untimed_styles(self.style)
        if self.mask is not None:
            from ..video.masks import check_mask_styles

            check_mask_styles(len(styles))

    @property
    def start_image(self) -> str | None:
        """The picture to start from, when ``init`` names one."""
        return None if self.init in INITS else self.init


@dataclass(frozen=True)
class ImageResult:
    """A finished picture: where it was written, the picture (H, W, 3) uint8 RGB, the
    iterations it got and the seconds it took."""

    output: Path
    image: np.ndarray
    iterations: int
    seconds: float


def run_image(request: ImageRequest, *, callback: Any = None, cancel: CancelToken | None = None) -> ImageResult:
    """Check every input and the output (before any work), stylize, write the picture.

    ``callback`` gets the optimizer's progress; ``cancel`` stops the work at the next loss
    evaluation.
    """
    from .. import stylize_image
    from ..io import check_output, read_image, write_image
    from ..io.outputs import check_not_input

    r = request
    out = check_output(r.output, force=r.force, kinds=("image",))  # before minutes of work, not after
    starts = [r.start_image] if r.start_image else []
    masks = [r.mask] if r.mask is not None else []
    check_not_input(out, [r.content, *style_files(r.style), *starts, *masks])
    config = r.style_config()
    content = read_image(r.content)
    styles = read_styles(untimed_styles(r.style))
    init = read_image(r.start_image) if r.start_image else None
    mask = None
    if r.mask is not None:
        from ..io import fit_size
        from ..video.masks import read_mask

        mask = read_mask(r.mask, *fit_size(content.shape[1], content.shape[0], r.size), styles=len(styles)).at(0)
    started = time.perf_counter()
    result = stylize_image(content, styles, config=config, size=r.size, init=init, callback=callback, mask=mask,
                           cancel=cancel)
    written = write_image(r.output, result, force=r.force)
    return ImageResult(output=written, image=result, iterations=config.iterations,
                       seconds=time.perf_counter() - started)
