"""Front-end-neutral requests: what a user asks for, as plain values, checked once before any work.

A request is built from plain values named as the settings are (``config.SETTINGS``): paths,
numbers, style specs ``IMAGE[:W][@T]``, strength keyframes ``S@T``, a preset's name. Making
one checks every value (a :class:`~videostyle.errors.BadOption` about its setting); running
it checks the files (the styles, the mask, the output) before any work, then calls the API
(``stylize_image``, ``stylize_video``, ``run_session``). The command line and the web page
only translate their input into a request and render its result and errors.

``image`` a picture; ``video`` a clip; ``live`` a camera; ``evaluate`` a clip's steadiness;
``demo`` the sample clip; ``specs`` style and strength specs and the one place they become a
schedule; ``shared`` what every stylizing request has.
"""

from .demo import DemoRequest, prepare_demo
from .evaluate import EvalRequest, run_eval
from .image import ImageRequest, ImageResult, run_image
from .live import LiveRequest, live_policy, live_stylizer, run_live
from .shared import StyleRequest
from .specs import KeyframeSpec, Strength, StyleSpec, parse_style_spec
from .video import VideoRequest, run_video

__all__ = [
    "DemoRequest", "EvalRequest", "ImageRequest", "ImageResult", "KeyframeSpec", "LiveRequest", "Strength",
    "StyleRequest",
    "StyleSpec", "VideoRequest", "live_policy", "live_stylizer", "parse_style_spec", "prepare_demo", "run_eval",
    "run_image", "run_live", "run_video",
]
