"""Keyframes: painted frames the output shows as they are, and their look carried along the
motion, backwards as well as forwards (the keyframe setting).

A keyframe is a painted version of one frame of the clip (by hand, by ``videostyle image``,
by any other tool), any size of the clip's aspect. Before any work
(:func:`prepare_keyframes`) each is placed on its frame and checked against it; the clip is
decoded once for that, and for its scene cuts.

The run (:class:`KeyframeRunner`), shot by shot (a scene cut ends every propagation):

* at a keyframe's frame the output is the keyframe, resized to the output;
* the style targets are Gram matrices of the keyframes (they join the Stylizer's styles):
  between two keyframes they blend by the distance in time, before the first and after the
  last the nearest holds (:class:`KeyframeTargets`); with styles given as well, the styles
  and the keyframes weigh half each;
* before a shot's first keyframe, a chain runs backwards from it to the shot's start, and
  after its last, forwards to the shot's end: each frame starts from its neighbour's result
  warped along the flow and is held there by the masked temporal loss (the chain of
  ``chain.stylize_segment``, fed the frames in reverse);
* between keyframes K_a and K_b, a chain runs backwards from K_b (its results are *drafts*),
  then the output chain forwards from K_a: each frame starts from the previous output warped
  along the flow, blended towards the backward draft, and is held there where the forward
  flow is reliable (elsewhere it is free, as in any chain). The draft's share
  (:func:`meeting_share`) grows with the time from K_a to K_b, per pixel where the backward
  chain could follow the pixel from K_b (:func:`backward_confidence`); a pixel the forward
  warp cannot follow (revealed, at a motion boundary) starts at its time's share. The share
  grows in equal steps, so the look moves from K_a's to K_b's without a seam in time, and
  the last frame before K_b is one step from K_b itself (``chain._share``'s argument).
  Holding the revealed pixels to the draft alone, as the segment bridge does, made the pair
  after K_a 7.7x the default run's E_warp (cockatoo.mp4, 96 px): the draft is another
  painting there.

A shot without a keyframe is one forward chain from its first frame, its targets the time
blend of the keyframes. Under a region mask, with ``preserve_colors``, the keyframes are shown
by the rule every frame follows (:func:`shown_keyframes`); with ``seamless_loop`` the loop's
closing (``loop.py``) restylizes only frames after the last keyframe.

Resume: every finished frame, draft and its float state is kept in the work folder; a rerun
continues each piece where it stopped and makes the same frames.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import functools
import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch

from ..config import SegmentConfig, TemporalConfig
from ..engine.color import keep_luminance
from ..engine.flow import FlowEstimator, FlowResult, flow_between, warp
from ..engine.optimize import Stylizer
from ..engine.targets import FrameTargets, TargetsFunction
from ..engine.temporal import TemporalStylizer
from ..engine.tensors import float_to_frame, frame_to_tensor, resize_frame, tensor_to_frame
from ..engine.warp import backward_warp
from ..errors import BadInput, BadOption, S
from ..io import VideoInfo
from .chain import SegmentFrame, SegmentState, stylize_segment
from .loop import close_loop
from .masks import MaskFrames
from .originals import ClipFrames
from .report import NoFrames, RunReport
from .targets import scene_cuts
from .workdir import WorkDir

# The keyframe check (measured on cockatoo.mp4, realshort.mp4 and newtonscradle.gif at
# 160 px, 8 stylizations by `videostyle image` at strengths 0.5-1 in three paintings):
# both pictures as luminance at EDGE_SIDE px (long side), blurred by EDGE_BLUR px, and the
# correlation of their gradient magnitudes: where the edges are, whatever their colours or
# sign. A stylization against its own frame: 0.74-0.96; against a frame 15+ frames away in
# the same clip: at most 0.65 (cockatoo: 0.57); against another clip: at most 0.21. Each
# keyframe matched its own frame best of all the clip's frames; frames within EDGE_MARGIN of
# the best are the ones the picture barely changes over (cockatoo's bird turning its head
# at frame 38: 1 frame either side; a still pendulum scene: any).
EDGE_SIDE = 32
EDGE_BLUR = 0.7
EDGE_FLOOR = 0.45  # below: another shot or another picture
EDGE_MARGIN = 0.15  # a frame this much better matched than the one given: the wrong time
ASPECT_TOLERANCE = 0.01  # relative, beyond a pixel of rounding on either picture's short side
STYLE_SHARE = 0.5  # with styles given as well: the styles' share of the targets, the keyframes' the rest
CONFIDENCE_SIDE = 128  # px: the backward chain's confidence is kept at this long side (it is smooth)
FLOW_AHEAD = 2  # flows computed ahead of the optimizer in the meeting chain


@dataclass(frozen=True, eq=False)
class KeyframeImage:
    """A painted frame as given: the picture, (h, w, 3) uint8 RGB of any size, where it sits
    (``seconds`` into the output clip, or its 1-based ``frame``: exactly one), and ``name``,
    the file as the user knows it (for messages)."""

    image: np.ndarray
    name: str
    seconds: float | None = None
    frame: int | None = None

    @property
    def when(self) -> str:
        """Its time as the user wrote it: ``2.5`` or ``#10`` (as ``jobs.specs.KeyframeSpec.when``)."""
        return f"#{self.frame}" if self.frame is not None else f"{self.seconds:g}"


@dataclass(frozen=True, eq=False)
class Keyframe:
    """A keyframe on its frame: ``index`` (0-based), ``image`` (H, W, 3) uint8 RGB at the
    output's size (what the output shows there), ``name`` its file; ``original``: the clip's
    frame there; ``painted``: the keyframe as given (resized) when ``image`` is not it (under a
    mask or ``preserve_colors``, see :func:`shown_keyframes`)."""

    index: int
    image: np.ndarray
    name: str
    original: np.ndarray | None = None
    painted: np.ndarray | None = None

    @property
    def look(self) -> np.ndarray:
        """The picture whose style statistics are the keyframe's target: the keyframe as given."""
        return self.image if self.painted is None else self.painted

    @property
    def state(self) -> np.ndarray:
        """The keyframe as a chain's float state, (H, W, 3) float32 in [0, 1]."""
        return self.image.astype(np.float32) / 255.0


@dataclass(frozen=True, eq=False)
class ClipKeyframes:
    """What the check before any work found: the keyframes in time order, the clip's frame
    ``count`` and its scene ``cuts`` (indices of the frames that start a shot)."""

    keyframes: tuple[Keyframe, ...]
    count: int
    cuts: tuple[int, ...] = ()

    @property
    def indices(self) -> list[int]:
        return [k.index for k in self.keyframes]

    def record(self) -> list[list]:
        """For the work folder's settings: each keyframe's frame and a digest of its picture."""
        import hashlib

        return [[k.index, hashlib.sha256(np.ascontiguousarray(k.image).tobytes()).hexdigest()]
                for k in self.keyframes]

    def shots(self) -> list[tuple[int, int]]:
        """(start, stop) of every shot."""
        bounds = [0, *(c for c in self.cuts if 0 < c < self.count), self.count]
        return list(itertools.pairwise(bounds))


# -- the check before any work ---------------------------------------------------------------
def edge_layout(frame: np.ndarray) -> np.ndarray:
    """Where a picture's edges are, whatever their colours: the gradient magnitude of its
    luminance at EDGE_SIDE px (long side), zero mean and unit norm, flattened."""
    grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    h, w = grey.shape
    scale = EDGE_SIDE / max(h, w)
    small = cv2.resize(grey, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), EDGE_BLUR)
    magnitude = np.hypot(cv2.Sobel(small, cv2.CV_32F, 1, 0), cv2.Sobel(small, cv2.CV_32F, 0, 1)).ravel()
    magnitude -= magnitude.mean()
    norm = float(np.linalg.norm(magnitude))
    return magnitude / norm if norm > 0 else magnitude


def edge_match(a: np.ndarray, b: np.ndarray) -> float:
    """The correlation of two :func:`edge_layout` s (1: the same edges)."""
    return float(a.astype(np.float32) @ b.astype(np.float32)) if a.shape == b.shape else 0.0


def frame_at(seconds: float, info: VideoInfo) -> int:
    """The index of the frame shown at ``seconds`` into the clip (a GIF's own frame times)."""
    if info.frame_durations:
        starts = [0.0, *itertools.accumulate(info.frame_durations)]
        return max(0, bisect.bisect_right(starts, seconds + 1e-9) - 1)
    return math.floor(seconds * info.fps + 1e-6)


def seconds_of(index: int, info: VideoInfo) -> float:
    """Frame ``index``'s start time in the clip."""
    if info.frame_durations and index <= len(info.frame_durations):
        return float(sum(info.frame_durations[:index]))
    return index / info.fps


def prepare_keyframes(given: Sequence[KeyframeImage], info: VideoInfo, frames: Iterable[np.ndarray], *,
                      detect_cuts: bool = True) -> ClipKeyframes:
    """Place each keyframe on its frame and check it, before any work: raises BadOption for a
    time outside the clip or two keyframes on one frame, BadInput for a picture of another
    aspect, or one that does not look like its frame (another shot, the wrong time), naming
    the file and what was compared. ``frames`` (the clip's, at the output size) are decoded
    once for the check, the clip's length and its scene cuts."""
    width, height = info.width, info.height
    placed = []
    for key in given:
        _check_aspect(key, width, height)
        index = key.frame - 1 if key.frame is not None else frame_at(float(key.seconds or 0.0), info)
        placed.append((index, key))
    placed.sort(key=lambda item: item[0])
    for (a, first), (b, second) in itertools.pairwise(placed):
        if a == b:
            raise BadOption(S.keyframe, f" {first.when}:{first.name} and {second.when}:{second.name}: both fall "
                            f"on frame #{a + 1}; give one keyframe per frame")
    layouts: list[np.ndarray] = []
    wanted = {index for index, _ in placed}
    originals: dict[int, np.ndarray] = {}

    def laid_out(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for frame in frames:
            if len(layouts) in wanted:
                originals[len(layouts)] = frame
            layouts.append(edge_layout(frame).astype(np.float16))  # 1.2 KB a frame at EDGE_SIDE 32
            yield frame

    walk = laid_out(frames)  # one decode for the layouts and the cuts
    cuts = scene_cuts(walk) if detect_cuts else []
    collections.deque(walk, maxlen=0)  # the rest, when the cuts did not read it
    count = len(layouts)
    if count == 0:
        raise NoFrames(info.path)
    keyframes = []
    for index, key in placed:
        if index >= count:
            raise BadOption(S.keyframe, f" {key.when}:{key.name}: lies after the clip's end ({count} frames, "
                            f"{seconds_of(count, info):.2f} s); give a time inside the clip")
        image = resize_frame(key.image, width, height)
        _check_likeness(key, index, edge_layout(image), layouts, info)
        keyframes.append(Keyframe(index=index, image=np.ascontiguousarray(image), name=key.name,
                                  original=originals.get(index)))
    return ClipKeyframes(keyframes=tuple(keyframes), count=count, cuts=tuple(cuts))


def _check_aspect(key: KeyframeImage, width: int, height: int) -> None:
    h, w = key.image.shape[:2]
    expected = w * height / width
    slack = ASPECT_TOLERANCE + 1 / min(width, height) + 1 / min(w, h)
    if abs(h / expected - 1) > slack:
        raise BadInput(S.keyframe, f" {key.name}: is {w}x{h}, another shape than the clip's {width}x{height} "
                       f"frames (aspect {w / h:.3f} against {width / height:.3f}); paint it on a frame of this clip "
                       "at any size of its shape")


def _check_likeness(key: KeyframeImage, index: int, layout: np.ndarray, layouts: Sequence[np.ndarray],
                    info: VideoInfo) -> None:
    """Refuse a keyframe whose edges are not its frame's (another shot) or are clearly
    another frame's (the wrong time)."""
    matches = [edge_match(layout, other) for other in layouts]
    own = matches[index]
    best = int(np.argmax(matches))
    where = f"frame #{index + 1} ({seconds_of(index, info):.2f} s)"
    compared = f"correlation of the edges' layout (luminance gradients at {EDGE_SIDE} px, colours ignored)"
    if matches[best] >= EDGE_FLOOR and matches[best] - own > EDGE_MARGIN:
        raise BadInput(S.keyframe, f" {key.name}: looks like frame #{best + 1} ({seconds_of(best, info):.2f} s) "
                       f"rather than {where} ({compared}: {matches[best]:.2f} against {own:.2f}); give the time "
                       "of the frame it was painted from")
    if own < EDGE_FLOOR:
        raise BadInput(S.keyframe, f" {key.name}: does not look like {where} ({compared}: {own:.2f}, at least "
                       f"{EDGE_FLOOR:g} expected; no frame of the clip scores more than {matches[best]:.2f}); is it "
                       "a frame of another shot or another clip?")


def shown_keyframes(clip: ClipKeyframes, *, mask: MaskFrames | None = None,
                    preserve_colors: bool = False) -> ClipKeyframes:
    """The pictures the output shows at the keyframes, by the rules every frame follows:
    under a region ``mask`` the keyframe where the mask is white and the original frame where
    it is black (blended where it is grey); with ``preserve_colors`` the keyframe's luminance
    in the original frame's colours (YIQ, as ``engine.color.keep_luminance``), so that the
    keyframe does not flash its own colours for one frame in a clip that keeps the original's.
    The keyframes' style targets stay the keyframes as given (:attr:`Keyframe.look`)."""
    if mask is None and not preserve_colors:
        return clip
    keyframes = []
    for key in clip.keyframes:
        if key.original is None:
            raise ValueError(f"keyframe {key.name} has no original frame to be shown with")
        shown = key.image.astype(np.float32)
        original = key.original.astype(np.float32)
        if mask is not None:
            white = mask.at(key.index)[..., None]
            shown = (white * shown + (1 - white) * original).astype(np.float32)
        image = np.clip(shown + 0.5, 0, 255).astype(np.uint8)
        if preserve_colors:
            image = tensor_to_frame(keep_luminance(frame_to_tensor(image), frame_to_tensor(key.original)))
        keyframes.append(dataclasses.replace(key, image=np.ascontiguousarray(image), painted=key.look))
    return dataclasses.replace(clip, keyframes=tuple(keyframes))


# -- the targets -------------------------------------------------------------------------------
class KeyframeTargets:
    """Frame index -> its the :class:`FrameTargets` over the Stylizer's styles: the job's ``styles`` first
    (their weights, or ``base``'s schedule), then one per keyframe. The keyframes' weights
    blend by time between the two around the frame (of its shot, when the shot has any),
    the nearest holding before the first and after the last."""

    def __init__(self, clip: ClipKeyframes, info: VideoInfo, *, styles: Sequence[float] = (),
                 base: TargetsFunction | None = None) -> None:
        self.clip, self.info, self.base = clip, info, base
        total = float(sum(styles))
        self.style_weights = tuple(w / total for w in styles) if styles else ()
        self.times = [seconds_of(k.index, info) for k in clip.keyframes]
        self.shot_starts = [start for start, _ in clip.shots()]

    def keyframe_weights(self, index: int) -> tuple[float, ...]:
        """The keyframes' blend at frame ``index`` (one weight per keyframe, summing to 1)."""
        shot = bisect.bisect_right(self.shot_starts, index) - 1
        start = self.shot_starts[shot]
        stop = self.shot_starts[shot + 1] if shot + 1 < len(self.shot_starts) else self.clip.count
        mine = [j for j, k in enumerate(self.clip.keyframes) if start <= k.index < stop]
        mine = mine or list(range(len(self.clip.keyframes)))
        t = seconds_of(index, self.info)
        weights = [0.0] * len(self.clip.keyframes)
        if t <= self.times[mine[0]]:
            weights[mine[0]] = 1.0
        elif t >= self.times[mine[-1]]:
            weights[mine[-1]] = 1.0
        else:
            for a, b in itertools.pairwise(mine):
                if self.times[a] <= t < self.times[b]:
                    share = (t - self.times[a]) / (self.times[b] - self.times[a])
                    weights[a], weights[b] = 1.0 - share, share
                    break
        return tuple(weights)

    def __call__(self, index: int) -> FrameTargets:
        keys = self.keyframe_weights(index)
        base = self.base(index) if self.base is not None else None
        mask = base.mask if base is not None else None  # white: the blend below; black: the original
        if not self.style_weights:
            return FrameTargets(weights=keys, mask=mask, blend_in_mask=mask is not None)
        styles = base.weights if base is not None and base.weights is not None else self.style_weights
        total = float(sum(styles))
        weights = (*(STYLE_SHARE * w / total for w in styles), *((1 - STYLE_SHARE) * w for w in keys))
        return FrameTargets(weights=weights, style_weight=base.style_weight if base is not None else None,
                            mask=mask, blend_in_mask=mask is not None)


# -- the pieces of a run ---------------------------------------------------------------------
@dataclass(frozen=True)
class Piece:
    """One chain of a keyframe run. ``fresh``: frames ``start``..``stop``-1 forwards from the
    content (a shot without keyframes). ``outward``: from keyframe frame ``start`` towards
    ``stop`` (exclusive), forwards or backwards (``stop`` < ``start``). ``between``: the
    frames strictly between keyframe frames ``start`` and ``stop``."""

    kind: str
    start: int
    stop: int

    @property
    def frames(self) -> list[int]:
        """The frames this piece makes, in the order it makes them (drafts aside)."""
        if self.kind == "fresh":
            return list(range(self.start, self.stop))
        step = 1 if self.stop > self.start else -1
        if self.kind == "outward":
            return list(range(self.start + step, self.stop, step))
        return list(range(self.start + 1, self.stop))


def plan_pieces(clip: ClipKeyframes) -> list[Piece]:
    """The chains of a keyframe run, shot by shot: each shot's keyframes outwards to its ends,
    and the frames between two of them; a shot without keyframes from its start."""
    pieces = []
    keys = clip.indices
    for start, stop in clip.shots():
        mine = [k for k in keys if start <= k < stop]
        if not mine:
            pieces.append(Piece("fresh", start, stop))
            continue
        pieces.append(Piece("outward", mine[0], start - 1))
        pieces.extend(Piece("between", a, b) for a, b in itertools.pairwise(mine))
        pieces.append(Piece("outward", mine[-1], stop))
    return [p for p in pieces if p.frames]


# -- the meeting of two propagations ---------------------------------------------------------
def meeting_share(before: np.ndarray, time_share: float, confidence: np.ndarray) -> np.ndarray:
    """The backward draft's share in this frame, (H, W) in [0, 1], from ``before``, its share
    in the previous output warped onto this frame (0 where that warp is unreliable):
    the time share where the backward chain followed the pixel from the later keyframe
    (``confidence`` 1), what it was where it did not (0), never less than it was."""
    return before + confidence * np.maximum(time_share - before, 0.0)


def step_share(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The draft's share in this frame's blend with the warped previous output that takes the
    draft's total share from ``before`` to ``after``: (after - before) / (1 - before)."""
    room = 1.0 - before
    return np.where(room > 1e-6, (after - before) / np.maximum(room, 1e-6), 1.0).clip(0.0, 1.0)


def backward_confidence(flow: FlowResult, later: np.ndarray) -> np.ndarray:
    """Where a backward chain carries the later keyframe's paint into this frame: the
    reliability of its warp (``flow`` from the frame after to this one) times the frame
    after's confidence ``later`` warped here, (H, W) float32."""
    carried = later if later.shape == flow.mask.shape else cv2.resize(
        later, flow.mask.shape[::-1], interpolation=cv2.INTER_LINEAR)
    return flow.mask * warp(np.ascontiguousarray(carried, dtype=np.float32), flow.backward)


def _small(mask: np.ndarray) -> np.ndarray:
    """A confidence kept at CONFIDENCE_SIDE px (long side), as uint8."""
    h, w = mask.shape
    scale = min(1.0, CONFIDENCE_SIDE / max(h, w))
    small = cv2.resize(mask, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)


def _full(small: np.ndarray, height: int, width: int) -> np.ndarray:
    return cv2.resize(small.astype(np.float32) / 255.0, (width, height), interpolation=cv2.INTER_LINEAR)


def warp_result(result: np.ndarray, flow: FlowResult, kernel: str) -> np.ndarray:
    """A float result (H, W, 3) warped onto the next frame as a chain warps it."""
    tensor = torch.from_numpy(np.ascontiguousarray(result, dtype=np.float32)).permute(2, 0, 1)[None]
    return backward_warp(tensor, flow.backward, kernel=kernel).clamp(0, 1)[0].permute(1, 2, 0).numpy()


# -- the run -----------------------------------------------------------------------------------
class Originals(Protocol):
    """The clip's frames by index (``originals.ClipFrames``); ``step`` hints at the walk's direction."""

    step: int

    def __getitem__(self, index: int) -> np.ndarray: ...


class FrameStore(Protocol):
    """What a piece reads and writes of the work folder (``WorkDir``; a Ray worker's copy)."""

    def finished(self) -> set[int]: ...
    def drafts(self) -> set[int]: ...
    def save(self, index: int, frame: np.ndarray | None, state: np.ndarray | None, *, since_restart: int = 0,
             draft: bool = False) -> None: ...
    def load_state(self, index: int) -> tuple[np.ndarray, int] | None: ...
    def load_draft(self, index: int) -> np.ndarray | None: ...
    def load_frame(self, index: int) -> np.ndarray: ...
    def discard_state(self, index: int) -> None: ...
    def discard_draft(self, index: int) -> None: ...
    def draft_path(self, index: int) -> Path: ...


def save_keyframes(clip: ClipKeyframes, work: WorkDir, report: RunReport) -> None:
    """Write the keyframes not yet in the work folder as finished frames (they are the output there)."""
    for key in clip.keyframes:
        if key.index not in work.finished():
            work.save(key.index, key.image, None)
            report.frame_done(key.index, 0.0, key.image)


def piece_span(piece: Piece) -> range:
    """The frames a piece reads, of the clip and of the work folder: its own and its keyframes."""
    if piece.kind == "fresh":
        return range(piece.start, piece.stop)
    if piece.kind == "between":
        return range(piece.start, piece.stop + 1)
    if piece.stop > piece.start:
        return range(piece.start, piece.stop)
    return range(piece.stop + 1, piece.start + 1)


class KeyframeRunner:
    """Makes every unfinished frame of a keyframe run into the work folder (see the module's
    docstring); ``opener`` opens the clip again (a backward chain reads it out of order)."""

    def __init__(self, stylizer: Stylizer, config: TemporalConfig, info: VideoInfo, clip: ClipKeyframes, *,
                 looks: KeyframeTargets, opener: Callable[[], object], loop: SegmentConfig | None = None) -> None:
        self.stylizer, self.config, self.info, self.clip, self.looks = stylizer, config, info, clip, looks
        self.opener = opener
        self.loop = loop or SegmentConfig()  # with config.seamless_loop: the closing's overlap and iterations
        self.keys = {k.index: k for k in clip.keyframes}

    def run(self, frames: Iterable[np.ndarray], work: WorkDir, report: RunReport) -> None:
        report.total = self.clip.count
        report.resumed = len(work.finished() & set(range(self.clip.count)))
        with ClipFrames(self.opener, frame_bytes=self.info.width * self.info.height * 3) as originals:
            save_keyframes(self.clip, work, report)
            for piece in plan_pieces(self.clip):
                self.run_piece(piece, originals=originals, work=work, report=report)
            if self.config.seamless_loop:
                originals.step = -1  # the closing reads the last frames backwards
                close_loop(self.stylizer, self.config, self.loop, work, report, count=self.clip.count,
                           original=originals.__getitem__, looks=self.looks, fixed=self.keys)
        report.end(self.clip.count)

    def run_piece(self, piece: Piece, *, originals: Originals, work: FrameStore, report: RunReport) -> None:
        """Make the unfinished frames of one piece (the keyframes are saved already), reading
        the clip's frames from ``originals`` and the pieces' progress from ``work``, where its
        frames go: a piece needs nothing of another (a Ray worker runs one on its own)."""
        self.originals, self.work, self.report = originals, work, report
        report.check()
        if piece.kind == "between":
            self._between(piece)
        else:
            self._chain(piece.frames, anchor=None if piece.kind == "fresh" else piece.start)

    # -- chains --------------------------------------------------------------------------------
    def _chain(self, order: list[int], *, anchor: int | None, draft: bool = False) -> None:
        """Make the frames ``order`` (in that order) as one chain from keyframe ``anchor`` (None:
        from the content), resuming after the last one made (finished, or drafted)."""
        made = self.work.drafts() if draft else self.work.finished()
        todo = next((n for n, index in enumerate(order) if index not in made), None)
        if todo is None:
            return
        context = [] if anchor is None else [anchor]
        state = None if anchor is None else SegmentState((self.keys[anchor].state,), 1)
        if todo > 0:
            resumed = self._state_before(order, todo, anchor)
            if resumed is None:
                todo = 0  # its states were not kept: the chain is made again from its start
            else:
                context, state = resumed
        run = order[todo:]
        sequence = context + run
        step = 1 if len(order) < 2 or order[1] > order[0] else -1
        if anchor is not None:
            step = 1 if order[0] > anchor else -1
        self.originals.step = step
        keep = self.config.history + 1
        frames = (self.originals[i] for i in sequence)
        for done in stylize_segment(self.stylizer, frames, config=self.config, begin=len(context), state=state,
                                    progress=lambda j, p: self.report.step(sequence[j], p),
                                    looks=lambda j: self.looks(sequence[j])):
            self.report.check()
            index = sequence[done.index]
            self._save(index, done, draft=draft)
            position = done.index - keep
            if position >= 0 and sequence[position] not in self.keys:
                self.work.discard_state(sequence[position])

    def _state_before(self, order: list[int], todo: int, anchor: int | None
                      ) -> tuple[list[int], SegmentState] | None:
        """(context frames in chain order, the chain's state) before ``order[todo]``, read
        back from the work folder; None when it was not kept."""
        chain = ([] if anchor is None else [anchor]) + order[:todo]
        results, since = [], 0
        for back, index in enumerate(reversed(chain)):
            if back >= self.config.history or (since and back >= since):
                break
            saved = (self.keys[index].state, 1) if index in self.keys else self.work.load_state(index)
            if saved is None:
                if back == 0:
                    return None
                break
            if back == 0:
                since = saved[1]
                if since > len(chain):  # another chain's state
                    return None
            results.append(saved[0])
        return chain[-len(results):], SegmentState(tuple(results), since)

    def _save(self, index: int, done: SegmentFrame, *, draft: bool) -> None:
        self.work.save(index, done.image, done.state, since_restart=done.since_restart, draft=draft)
        if not draft:
            if done.cut:
                self.report.cuts.append(index)
            self.report.frame_done(index, done.seconds, done.image, cost=done.cost, later=done.since_restart > 1)

    # -- between two keyframes -----------------------------------------------------------------
    def _between(self, piece: Piece) -> None:
        a, b = piece.start, piece.stop
        inner = piece.frames
        finished = self.work.finished()
        if all(i in finished for i in inner):
            return
        if not any(i in finished for i in inner):
            self._chain(inner[::-1], anchor=b, draft=True)
        confidence = self._backward_confidence(a, b)
        self._meet(a, b, confidence)
        for index in inner:
            self.work.discard_draft(index)

    def _backward_confidence(self, a: int, b: int) -> dict[int, np.ndarray]:
        """Frame -> where the backward chain from keyframe ``b`` carries its paint (small uint8)."""
        self.originals.step = -1
        estimator = FlowEstimator()
        later = np.ones((self.info.height, self.info.width), np.float32)
        confidence = {}
        for index in range(b - 1, a, -1):
            flow = flow_between(self.originals[index + 1], self.originals[index], estimator)
            later = backward_confidence(flow, later)
            confidence[index] = _small(later)
        return confidence

    def _meet(self, a: int, b: int, confidence: dict[int, np.ndarray]) -> None:
        """The output chain from keyframe ``a`` to ``b``, each frame blended towards its
        backward draft (see the module's docstring); resumes after the last frame finished."""
        # the start is a blend towards the backward draft, which no flow carries exactly: painted
        # "where changed" (paint="changed") it would be served as it is, never optimized
        cfg = dataclasses.replace(self.config, mode="flow", long_term=(), detect_cuts=False, paint="whole")
        height, width = self.info.height, self.info.width
        finished = self.work.finished()
        share = np.zeros((height, width), np.float32)  # the draft's share in the previous output
        result = self.keys[a].state
        t_a, t_b = seconds_of(a, self.info), seconds_of(b, self.info)
        temporal = TemporalStylizer(self.stylizer, cfg)
        self.originals.step = 1
        resumed = False
        for index, flow in _flows_ahead(self.originals, range(a + 1, b)):
            # the draft's share carries along reliable pixels; elsewhere (revealed, at a motion
            # boundary) nothing is carried and the pixel gets the share of its time
            warped_share = (flow.mask * warp(share, flow.backward)).astype(np.float32)
            time_share = (seconds_of(index, self.info) - t_a) / (t_b - t_a)
            share_now = meeting_share(warped_share, time_share, _full(confidence[index], height, width))
            if index in finished:  # made before: follow its share, continue from its state
                share = share_now
                continue
            if not resumed and index - 1 != a:
                saved = self.work.load_state(index - 1)
                result = saved[0] if saved is not None else self.work.load_frame(index - 1) / np.float32(255)
            resumed = True
            draft = self.work.load_draft(index)
            if draft is None:
                raise BadInput(f"{self.work.draft_path(index)}: a draft of an unfinished frame is missing or "
                               "damaged; rerun with ", S.restart, " to stylize the clip again")
            w = step_share(warped_share, share_now)[..., None]
            guide = (1 - w) * warp_result(result, flow, cfg.warp_kernel) + w * (draft.astype(np.float32) / 255)
            # the guide is the start, and the temporal target where the flow is reliable (the
            # rest is free, as in a chain): a still "flow" over the guide says exactly that
            temporal.restore([guide.astype(np.float32)], 2)
            still = FlowResult(backward=np.zeros_like(flow.backward), forward=np.zeros_like(flow.forward),
                               mask=flow.mask)
            started = time.perf_counter()
            result = temporal.next(self.originals[index], still, callback=functools.partial(self.report.step, index),
                                   targets=self.looks(index))
            image = float_to_frame(result)
            self.work.save(index, image, result, since_restart=index - a + 1)
            self.report.frame_done(index, time.perf_counter() - started, image)
            if index - 2 > a:
                self.work.discard_state(index - 2)
            share = share_now
            self.report.check()

def _flows_ahead(originals: Originals, indices: Iterable[int]) -> Iterator[tuple[int, FlowResult]]:
    """(index, flow from the frame before) for ``indices`` in order, each computed a few
    frames ahead in a worker thread."""
    estimator = FlowEstimator()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flow") as pool:
        pending: list[tuple[int, Future[FlowResult]]] = []
        for index in indices:
            before, frame = originals[index - 1], originals[index]
            pending.append((index, pool.submit(flow_between, before, frame, estimator)))
            if len(pending) > FLOW_AHEAD:
                done, job = pending.pop(0)
                yield done, job.result()
        for done, job in pending:
            yield done, job.result()


def keyframe_styles(clip: ClipKeyframes) -> list[np.ndarray]:
    """The keyframes as style pictures (their Gram matrices become the targets)."""
    return [k.look for k in clip.keyframes]


def check_keyframe_options(*, temporal: TemporalConfig, styles: int, mask: object) -> None:
    """Refuse, before any work, what keyframes do not work with (yet)."""
    if temporal.mode != "flow":
        raise BadOption(S.keyframe, ": keyframes are carried along the optical flow; drop ", S.temporal, " ",
                        temporal.mode)
    if mask is not None and styles > 1:
        raise BadOption(S.mask, f": with keyframes a mask splits each frame between their look (white) and the "
                        f"original (black), so give one style at most, not {styles}")

