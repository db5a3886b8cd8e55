"""videostyle: Gatys et al. neural style transfer for images, videos, GIFs and webcams.

The public API is importable from here; names load on first use, so that
``videostyle.io`` (frames, sources, sinks) stays free of torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "StyleConfig": "config",
    "Style": "optimize",
    "Stylizer": "optimize",
    "Progress": "optimize",
    "stylize_image": "image",
    "TemporalConfig": "config",
    "TemporalStylizer": "temporal",
    "ClipConfig": "config",
    "SegmentConfig": "config",
    "stylize_segment": "segment",
    "plan_segments": "segment",
    "Segment": "segment",
    "SegmentState": "segment",
    "SegmentFrame": "segment",
    "stylize_video": "video",
    "VideoProgress": "video",
    "VideoResult": "video",
    "WebcamConfig": "config",
    "run_session": "webcam",
    "evaluate_videos": "metrics",
    "warping_error": "metrics",
    "VideostyleError": "errors",
    "VideostyleWarning": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'videostyle' has no attribute {name!r}")
