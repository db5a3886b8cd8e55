"""A clip: the request, its checks and its run (``videostyle video`` and ``demo``, the page's
Video / GIF tab)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import (
    SETTINGS,
    ClipConfig,
    EncodeConfig,
    Preset,
    SegmentConfig,
    StyleSchedule,
    TemporalConfig,
    declared,
    iteration_budgets,
)
from ..errors import S
from .shared import StyleRequest, read_styles
from .specs import (
    KeyframeSpec,
    KeyframeText,
    StyleSpec,
    check_name,
    keyframe_specs,
    offsets,
    style_files,
    style_schedule,
)

if TYPE_CHECKING:
    from ..engine.cancel import CancelToken


@dataclass(frozen=True, kw_only=True)
class VideoRequest(StyleRequest):
    """Stylize the clip ``input`` (a video file, GIF, folder of frames or glob) into
    ``output`` (.mp4, .gif or folder/). Style specs may carry times (``IMAGE@T``) and the
    strength keyframes (``S@T``); with ``style_per_shot`` each scene cut takes the next style.
    Every field is a setting of the same name (see ``config.SETTINGS``)."""

    COMMAND: ClassVar[str] = "video"
    TIMED: ClassVar[bool] = True
    KEYFRAMED: ClassVar[bool] = True

    input: str | Path
    output: str | Path
    # what is read
    size: int | None = declared("size", "video")
    start: float = declared("start")
    frames: int | None = declared("frames")
    duration: float | None = declared("duration")
    fps: float | None = declared("fps")
    # how it is written
    crf: int = declared("crf")
    loop: int = declared("loop")
    side_by_side: bool = declared("side_by_side")
    # how frames are tied together; None iterations: the preset's
    temporal: str = declared("temporal")
    first_iterations: int | None = None
    max_iterations: int | None = None
    temporal_weight: float = declared("temporal_weight")
    detail_boost: float = declared("detail_boost")
    warp_kernel: str = declared("warp_kernel")
    detect_cuts: bool = declared("detect_cuts")
    long_term: str | Sequence[int] = declared("long_term")  # a tuple or "2,4"
    seamless_loop: bool = declared("seamless_loop")
    paint: str = declared("paint")
    # workers
    workers: int | None = declared("workers")
    ray_address: str | None = declared("ray_address")
    max_segment_length: int = declared("max_segment_length")
    overlap: int = declared("overlap")
    # where and when
    transition: float = declared("transition")
    style_per_shot: bool = declared("style_per_shot")
    mask: str | Path | None = declared("mask")
    keyframe: Sequence[KeyframeText] | None = ()  # T:IMAGE texts or KeyframeSpec s
    passes: int = declared("passes")
    pass_iterations: int = declared("pass_iterations")
    # the work folder
    work_dir: str | Path | None = declared("work_dir")
    restart: bool = declared("restart")
    keep_work: bool = declared("keep_work")

    def __post_init__(self) -> None:
        object.__setattr__(self, "keyframe", tuple(self.keyframe or ()))
        super().__post_init__()
        check_name("the input", self.input, give="a video file, a GIF or a folder of frames")
        check_name("the output", self.output, give="a file or folder to write, e.g. painted.mp4")
        check_name(S.mask, self.mask, give="a mask picture, clip or folder, or leave it out")
        check_name(S.work_dir, self.work_dir, give="a folder, or leave it out for one beside the output")
        self.refuse_init_image()
        SETTINGS["passes"].check(self.passes)
        SETTINGS["pass_iterations"].check(self.pass_iterations)
        self.keyframes()  # each spec checked now
        for settings in (self.temporal_config, self.clip_config, self.encode_config, self.segment_config):
            settings()  # each checks its fields
        styles, _ = self.schedule()
        if self.mask is not None:
            from ..video.masks import check_mask_styles

            check_mask_styles(len(styles))

    def style_optional(self) -> bool:
        return bool(self.keyframe)

    def keyframes(self) -> list[KeyframeSpec]:
        """The keyframes as checked values (their pictures are read by :func:`run_video`)."""
        return keyframe_specs(self.keyframe or ())

    def budgets(self) -> Preset:
        return iteration_budgets(self.preset, command=self.COMMAND, iterations=self.iterations,
                                 first_iterations=self.first_iterations, max_iterations=self.max_iterations)

    def temporal_config(self) -> TemporalConfig:
        """How frames are tied together, with the per-frame budgets."""
        budgets = self.budgets()
        return TemporalConfig(mode=self.temporal, iterations=budgets.iterations, max_iterations=budgets.max_iterations,
                              first_iterations=budgets.first_iterations, temporal_weight=self.temporal_weight,
                              detail_boost=self.detail_boost, warp_kernel=self.warp_kernel,
                              detect_cuts=self.detect_cuts, long_term=offsets(self.long_term),
                              seamless_loop=self.seamless_loop, paint=self.paint)

    def clip_config(self) -> ClipConfig:
        return ClipConfig(size=self.size, start=self.start, frames=self.frames, duration=self.duration, fps=self.fps)

    def encode_config(self) -> EncodeConfig:
        return EncodeConfig(crf=self.crf, loop=self.loop, side_by_side=self.side_by_side)

    def segment_config(self) -> SegmentConfig:
        return SegmentConfig(workers=self.workers, address=self.ray_address, max_length=self.max_segment_length,
                             overlap=self.overlap)

    def schedule(self) -> tuple[list[StyleSpec], StyleSchedule | None]:
        """The styles to load and the schedule over them (None: one blend throughout)."""
        return style_schedule(self.style, transition=self.transition, strengths=self.strength or (),
                              per_shot=self.style_per_shot)


def run_video(request: VideoRequest, *, callback: Any = None, cancel: CancelToken | None = None) -> Any:
    """Check every input and the output (before any work), then stylize the clip with
    ``stylize_video``; returns its ``VideoResult``. ``callback`` gets a ``VideoProgress`` per
    step; ``cancel`` stops the job, keeping the finished frames."""
    from .. import stylize_video
    from ..io import check_output
    from ..io.outputs import check_not_input

    r = request
    segments = r.segment_config()
    if segments.distributed:
        from ..video.ray import import_ray

        import_ray(segments.workers)  # before any work: without Ray, say how to get it
    masks = [r.mask] if r.mask is not None else []
    keyframes = r.keyframes()
    check_not_input(check_output(r.output, force=r.force, kinds=("video", "gif", "folder")),
                    [*style_files(r.style), *masks, *(k.path for k in keyframes)])
    specs, schedule = r.schedule()
    styles = read_styles(specs)
    return stylize_video(r.input, r.output, styles, style=r.style_config(), temporal=r.temporal_config(),
                         clip=r.clip_config(), encode=r.encode_config(), force=r.force, work_dir=r.work_dir,
                         restart=r.restart, keep_work=r.keep_work, segments=segments, callback=callback,
                         cancel=cancel, schedule=schedule, mask=r.mask, keyframes=read_keyframes(keyframes),
                         passes=r.passes, pass_iterations=r.pass_iterations)


def read_keyframes(specs: Sequence[KeyframeSpec]) -> list:
    """The keyframes' pictures, each named by its file (``KeyframeImage`` s); an unreadable
    one is refused naming the keyframe setting and the file."""
    from ..errors import BadInput, S
    from ..io import read_image
    from ..video.keyframes import KeyframeImage

    read = []
    for spec in specs:
        try:
            image = read_image(spec.path)
        except BadInput as error:
            raise BadInput(S.keyframe, f" {spec.when}:", *error.parts) from error
        read.append(KeyframeImage(image=image, name=spec.path, seconds=spec.seconds, frame=spec.frame))
    return read
