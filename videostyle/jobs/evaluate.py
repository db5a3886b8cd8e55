"""How steady a stylized clip is: the request and its run (``videostyle eval``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import EvalConfig, declared


@dataclass(frozen=True, kw_only=True)
class EvalRequest:
    """Compare ``stylized`` with the ``original`` it was made from: frame t against t - ``gap``,
    in the part of the original (from ``start`` seconds, ``frames`` long) that was stylized,
    judged by the ``flow``."""

    original: str | Path
    stylized: str | Path
    gap: int = declared("gap")
    start: float = declared("start")
    frames: int | None = declared("frames")
    flow: str = declared("flow")

    def __post_init__(self) -> None:
        from .specs import check_name

        check_name("the original", self.original, give="the video that was stylized")
        check_name("the stylized video", self.stylized, give="the stylized video")
        self.config()

    def config(self) -> EvalConfig:
        return EvalConfig(gap=self.gap, start=self.start, frames=self.frames, flow=self.flow)


def run_eval(request: EvalRequest) -> dict:
    """The temporal warping error of both clips (see ``video.metrics.evaluate_videos``)."""
    from ..video.metrics import evaluate_videos

    config = request.config()
    return evaluate_videos(request.original, request.stylized, gap=config.gap, start=config.start,
                           frames=config.frames, flow=config.flow)
