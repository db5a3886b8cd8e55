"""Reading and writing pictures: still images, frame sources and frame sinks.

No torch here: frames are numpy (H, W, 3) uint8 RGB arrays.
"""

from .atomic import atomic_path, write_atomic
from .images import fit_size, read_image, resize_frame, write_image
from .outputs import check_output, output_kind
from .sinks import FrameSink, GifSink, PngSink, VideoSink, open_sink
from .sources import FrameSource, VideoInfo, natural_key, open_source, probe

__all__ = [
    "FrameSink", "FrameSource", "GifSink", "PngSink", "VideoInfo", "VideoSink", "atomic_path", "check_output",
    "fit_size", "natural_key", "open_sink", "open_source", "output_kind", "probe", "read_image", "resize_frame",
    "write_atomic", "write_image",
]
