"""A live session: the request, its checks and its run (``videostyle webcam``, the page's
Webcam tab)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import WebcamConfig, declared
from ..errors import S
from .shared import StyleRequest, read_styles
from .specs import check_name, style_files, untimed_styles

if TYPE_CHECKING:
    from ..engine.cancel import CancelToken


@dataclass(frozen=True, kw_only=True)
class LiveRequest(StyleRequest):
    """Stylize ``camera`` (an index, a device, a stream URL or a video file) live. The
    iterations per frame adapt to hold ``fps`` stylized frames a second, at most
    ``max_iterations``; ``iterations`` fixes them instead. The styles are switched with n/p."""

    COMMAND: ClassVar[str] = "webcam"

    camera: str = declared("camera")
    size: int = declared("size", "webcam")
    fps: float | None = declared("fps", "webcam")
    max_iterations: int = declared("max_iterations", "webcam")
    first_iterations: int = declared("first_iterations", "webcam")
    duration: float | None = declared("duration")
    record: str | Path | None = declared("record")
    record_fps: float = declared("record_fps")
    preview: bool = declared("preview", "webcam")
    loop_file: bool = declared("loop_file")
    paint: str = declared("paint", "webcam")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_name(S.camera, self.camera, give="a camera index (0), a device, a stream URL or a video file")
        check_name(S.record, self.record, give="a .mp4 or .gif to record to, or leave it out")
        self.refuse_init_image()
        untimed_styles(self.style)
        self.webcam_config()

    def webcam_config(self) -> WebcamConfig:
        """The session's budget and outputs: a fixed count overrides the rate target."""
        fixed = self.iterations is not None
        return WebcamConfig(
            camera=self.camera, size=self.size, fps=None if fixed else self.fps,
            iterations=int(self.iterations) if fixed else declared("iterations", self.COMMAND),  # type: ignore[arg-type]
            max_iterations=self.max_iterations, first_iterations=self.first_iterations, duration=self.duration,
            record=None if self.record is None else str(self.record), record_fps=self.record_fps,
            preview=self.preview, loop_file=self.loop_file, force=self.force, paint=self.paint)


def run_live(request: LiveRequest, *, status: Any = None) -> Any:
    """Check the styles and the recording's output (before the camera opens), then run the
    session until quit, Ctrl-C, ``duration`` or camera loss; returns its ``SessionStats``.
    ``status`` gets a line now and then."""
    from .. import run_session
    from ..io import check_output
    from ..io.outputs import check_not_input

    r = request
    if r.record is not None:
        check_not_input(check_output(r.record, force=r.force, kinds=("video", "gif")),
                        [r.camera, *style_files(r.style)])
    styles = read_styles(untimed_styles(r.style))
    return run_session(styles, style=r.style_config(), config=r.webcam_config(), status=status)


def live_stylizer(request: LiveRequest, *, cancel: CancelToken | None = None) -> Any:
    """A stylizer for a stream someone else captures and shows (the page's webcam tab): the
    request's styles and settings; its ``LiveStylizer`` takes frames one at a time."""
    from .. import Stylizer

    return Stylizer(read_styles(untimed_styles(request.style)), request.style_config(), cancel=cancel)


def live_policy(request: LiveRequest, stylizer: Any) -> Any:
    """The live policy (``live.LiveStylizer``) with the request's budget, over ``stylizer``."""
    from ..live.policy import LiveStylizer

    config = request.webcam_config()
    return LiveStylizer(stylizer, fps=config.fps, iterations=config.iterations,
                        max_iterations=config.max_iterations, first_iterations=config.first_iterations,
                        paint=config.paint)
