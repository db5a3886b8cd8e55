"""videostyle: Gatys et al. neural style transfer for images, videos, GIFs and webcams.

The public API is importable from here; names load on first use, so that
``videostyle.io`` (frames, sources, sinks) stays free of torch.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__version__ = "0.1.0"

# Set before anything loads torch (libgomp reads it once): OpenMP threads that wait at the
# end of a parallel op sleep instead of spinning. A spinning thread holds the core its
# descheduled peer needs, so on a busy machine every op waits for a time slice: a loss
# evaluation at 96 px on a 2-core machine under a load of 10 took 2.1 s with libgomp's
# default spin, 0.14 s passive, 0.12 s on one thread. A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# oneDNN keeps the kernels it builds for each input shape, 1024 of them by default: in bf16
# each new shape (a tile's, a scale's) added 16-23 MiB that no tensor holds, 0.3-0.4 GiB for
# a large picture's tiles and scales, past its --max-memory. 128 hold a whole picture's own
# (its pass and its style's): measured +74, +23, +16 MiB for the first three shapes, then
# 5-10 MiB per shape, the job's own small state (1024: +23 MiB each). Read once, when oneDNN
# builds its first kernel; a user's own setting wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "128")

_EXPORTS = {
    "StyleConfig": "config",
    "Style": "engine.targets",
    "Stylizer": "engine.optimize",
    "Progress": "engine.optimize",
    "stylize_image": "engine.image",
    "TemporalConfig": "config",
    "TemporalStylizer": "engine.temporal",
    "ClipConfig": "config",
    "StyleSchedule": "config",
    "ScheduleEntry": "config",
    "FrameTargets": "engine.targets",
    "SegmentConfig": "config",
    "stylize_segment": "video.chain",
    "plan_segments": "video.plan",
    "Segment": "video.plan",
    "SegmentState": "video.chain",
    "SegmentFrame": "video.chain",
    "stylize_video": "video.job",
    "VideoProgress": "video.report",
    "VideoResult": "video.report",
    "WebcamConfig": "config",
    "run_session": "live.session",
    "evaluate_videos": "video.metrics",
    "warping_error": "video.metrics",
    "VideostyleError": "errors",
    "VideostyleWarning": "errors",
}

# old names kept importable, with a DeprecationWarning: old name -> the name that replaced it
_DEPRECATED = {"Look": "FrameTargets"}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        import warnings

        warnings.warn(f"videostyle.{name} is deprecated; use videostyle.{_DEPRECATED[name]}", DeprecationWarning,
                      stacklevel=2)
        return __getattr__(_DEPRECATED[name])
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'videostyle' has no attribute {name!r}")
