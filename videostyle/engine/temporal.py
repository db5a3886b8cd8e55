"""Frame-to-frame stylization (Ruder, Dosovitskiy & Brox 2016), shared by video and webcam.

:class:`TemporalStylizer` keeps the previous stylized frame in float and starts each new
frame from it, in one of three modes:

* ``flow`` (default): the previous result warped along the optical flow to the new frame,
  and a temporal loss holding the pixels the warp can be trusted for near it; pixels it
  cannot be trusted for (occlusions, motion boundaries, entering the frame) are left free.
* ``warm``: the previous result as it is (texture stays put while the camera moves).
* ``independent``: every frame from its content (flickers).

A scene cut (or the first frame) restarts from the content with the first-frame budget.

Long-term consistency (``long_term=(2, 4)``, Ruder et al. section 3.3): the temporal loss
also holds pixels to the results of frames t-2, t-4 warped along the flow from those
frames, where frame t-1 cannot vouch for them (e.g. a region that was hidden for a frame
and reappears). Each pixel follows the most recent frame that reliably sees it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..config import TemporalConfig
from .changed import paint_frame
from .flow import FlowResult
from .lbfgs import Curvature
from .memory import reserved_buffers
from .optimize import EarlyStop, ProgressCallback, Stylizer
from .targets import FrameTargets
from .tensors import frame_to_tensor
from .terms import TemporalTerm
from .vgg import LAYER_NAMES
from .warp import backward_warp

# ``iterations="auto"``: a later frame ends once an iteration lowers its loss by less than
# AUTO_STOP_DECREASE of it, after at least AUTO_MIN_ITERATIONS, and at most ``max_iterations``.
# Chosen on scripts/bench_speed.py (docs/benchmarks.md, "Evaluations per frame"): 0.002 ran
# nearly to the ceiling everywhere; 0.004 saved little more and softened the strokes; a
# minimum that grows with the share of occluded pixels changed nothing measurable, because
# frames with much new content keep lowering their loss and run on by themselves.
AUTO_STOP_DECREASE = 0.003
AUTO_MIN_ITERATIONS = 3

_REMEMBERED = object()  # next(previous_targets=...) not given: the last call's targets


class TemporalStylizer:
    """Stylizes a stream of frames, each starting from the previous result.

    Call :meth:`restore` to continue from saved float results (resume), then :meth:`next`
    per frame. Frames are (H, W, 3) uint8 RGB; results are float32 (H, W, 3) in [0, 1] so
    that nothing is lost to 8-bit rounding between frames. The results the next frames
    start from stay on the stylizer's device as (1, 3, H, W) tensors: one copy to the host
    per finished frame.
    ``since_restart`` counts the frames since the last (re)start, that one included: a
    resumed job needs it to restore exactly the results an uninterrupted one would hold.
    """

    def __init__(self, stylizer: Stylizer, config: TemporalConfig | None = None) -> None:
        self.stylizer = stylizer
        self.config = config or TemporalConfig()
        self.history: deque[torch.Tensor] = deque(maxlen=self.config.history)  # newest first
        self.since_restart = 0
        self.curvature = Curvature()  # with carry_curvature: the last later frame's pairs
        self.last_targets: FrameTargets | None = None  # the last frame's (after restore: the styles' own)
        self.painted = "whole"  # how the last frame was optimized: "whole" or "changed"
        stylizer.reserve_image_buffers(reserved_buffers(self.config))

    @property
    def previous(self) -> torch.Tensor | None:
        """The last result, (1, 3, H, W) float32 on the device, or None before the first frame."""
        return self.history[0] if self.history else None

    def restore(self, results: Sequence[np.ndarray], since_restart: int) -> None:
        """Continue after frames whose float results are ``results`` (newest first; empty:
        start afresh), the newest being ``since_restart`` frames after the last restart."""
        device = self.stylizer.device
        self.history = deque((frame_to_tensor(r, device) for r in results[: self.config.history]),
                             maxlen=self.config.history)
        self.since_restart = since_restart if results else 0
        self.last_targets = None

    def next(self, frame: np.ndarray, flow: FlowResult | None = None, *, cut: bool = False,
             iterations: int | None = None, callback: ProgressCallback | None = None,
             long_flows: Mapping[int, FlowResult] | None = None,
             toward: tuple[np.ndarray, float] | None = None, targets: FrameTargets | None = None,
             stop: EarlyStop | None = None, previous_targets: FrameTargets | None | object = _REMEMBERED
             ) -> np.ndarray:
        """Stylize ``frame`` given the flow from the previous frame to it; returns the
        result as (H, W, 3) float32 in [0, 1].

        ``flow`` is needed in ``flow`` mode for every frame but the first; ``cut`` marks a
        scene cut (restart from the content). ``iterations`` overrides the budget (exactly
        that many), which is otherwise ``first_iterations`` for a (re)start and
        ``config.iterations`` for the rest, or, with that "auto", an early stop at most
        ``max_iterations`` in (see AUTO_STOP_DECREASE).
        ``long_flows`` maps an offset j of ``config.long_term`` to the flow from frame t-j.
        ``toward`` = (another stylization of this frame, (H, W, 3) uint8 or float in [0, 1];
        its share a in [0, 1]) blends the start and the temporal target towards it: flow mode
        only, used to hand one segment over to the next (see ``video.chain.stylize_bridge``).
        ``targets``: this frame's when a schedule or a mask sets them (``engine/targets.py``).
        ``stop`` ends each L-BFGS pass early by the caller's rule (e.g. a live warm-up's time
        limit), in place of the "auto" early stop.

        With ``paint="changed"`` or ``"coarse"`` (flow mode) a later frame is painted where it
        is new or changed (``engine/changed.py``), ``iterations`` then capping each of its
        passes (with ``"coarse"``, a frame needing work all over mostly at half size); it is
        painted whole when its targets differ from the previous frame's (``previous_targets``,
        by default the last call's: a resumed chain gives them, so that its first frame
        decides as the uninterrupted one did), with a hand-over blend (``toward``), long-term
        consistency, a region mask, or a picture too large to run whole.
        """
        cfg = self.config
        restart = self.previous is None or (cut and cfg.detect_cuts)
        content = frame_to_tensor(frame, self.stylizer.device)
        before = self.last_targets if previous_targets is _REMEMBERED else previous_targets
        self.last_targets = targets
        self.painted = "whole"
        init, extra_loss, scales, layer_scale = None, None, None, None
        if iterations is not None:
            budget = iterations
        elif restart:
            budget = cfg.first_iterations
        elif cfg.iterations is not None:
            budget = cfg.iterations
        else:
            budget = cfg.max_iterations
            stop = stop or EarlyStop(AUTO_STOP_DECREASE, AUTO_MIN_ITERATIONS)
        if not restart and self._paints_changed(flow, toward, targets, before, content):
            assert flow is not None and self.previous is not None
            result = paint_frame(self.stylizer, content, self.previous, flow, temporal_weight=cfg.temporal_weight,
                                 warp_kernel=cfg.warp_kernel, layer_scale=self._detail_scale(), targets=targets,
                                 callback=callback, iterations=budget, stop=stop, most_iterations=iterations,
                                 coarse=cfg.paint == "coarse")
            self.painted = "changed"
            self.history.appendleft(result)
            self.since_restart += 1
            return result[0].permute(1, 2, 0).cpu().numpy()  # (H, W, 3) float32
        if not restart:
            scales = 1  # coarse-to-fine only helps a frame that starts from scratch
            if cfg.mode == "warm":
                init = self.previous
            elif cfg.mode == "flow":
                if flow is None:
                    raise ValueError("flow mode needs the flow from the previous frame")
                init, extra_loss = self._flow_start(flow, long_flows or {}, toward)
                layer_scale = self._detail_scale()
        carried = None if restart or not cfg.carry_curvature else self.curvature
        result = self.stylizer.stylize(content, init=init, iterations=budget, extra_loss=extra_loss,
                                       callback=callback, scales=scales, style_layer_scale=layer_scale,
                                       stop=stop, curvature=carried, targets=targets)
        if restart:
            self.history.clear()
            self.since_restart = 0
            self.curvature = Curvature()
        self.history.appendleft(result)
        self.since_restart += 1
        return result[0].permute(1, 2, 0).cpu().numpy()  # (H, W, 3) float32

    def _paints_changed(self, flow: FlowResult | None, toward: object, targets: FrameTargets | None,
                        before: FrameTargets | None | object, content: torch.Tensor) -> bool:
        """Whether this later frame is painted where it changed rather than whole (see :meth:`next`)."""
        cfg = self.config
        if cfg.paint == "whole" or cfg.mode != "flow" or flow is None or toward is not None or cfg.long_term:
            return False
        if targets is not None and targets.mask is not None:
            return False
        if self.stylizer.memory.plan(*content.shape[-2:]) is not None:  # tiled: the exact whole loss
            return False
        return same_targets(targets, before)

    def _detail_scale(self) -> dict[str, float] | None:
        """Style layer factors for a warped start: every resampling blurs the finest strokes
        a little, so the layers before pool2, which see them, weigh ``detail_boost`` times
        more and the frame's few iterations go where the blur is. On cockatoo.mp4 (160 px,
        24 frames) a factor of 3 raised the detail kept after the first frame from 0.77x to
        0.81x the first frame's at the same E_warp."""
        boost = self.config.detail_boost
        fine = LAYER_NAMES[: LAYER_NAMES.index("pool2")]
        scale = {layer: boost for layer in self.stylizer.config.style_layers if layer in fine}
        return scale if boost != 1 and scale else None

    def _flow_start(self, flow: FlowResult, long_flows: Mapping[int, FlowResult],
                    toward: tuple[np.ndarray, float] | None = None):
        """The previous result warped onto this frame as the start, and the temporal loss
        that keeps the reliable pixels close to it (and, with long-term consistency, close
        to earlier results where the previous one cannot vouch for them)."""
        assert self.previous is not None
        device = self.previous.device
        kernel = self.config.warp_kernel
        warped = backward_warp(self.previous, flow.backward, kernel=kernel).clamp(0, 1)  # (1, 3, H, W)
        sources = [(warped, _mask_tensor(flow.mask, device))]
        for offset in self.config.long_term:
            # only results since the last restart: nothing is carried across a scene cut
            if offset in long_flows and offset <= min(len(self.history), self.since_restart):
                earlier = long_flows[offset]
                sources.append((backward_warp(self.history[offset - 1], earlier.backward, kernel=kernel).clamp(0, 1),
                                _mask_tensor(earlier.mask, device)))
        target, mask = combine_warps(sources)
        # Ruder et al. start every pixel from the warped previous result; unreliable pixels
        # (~20% per frame on a shaky handheld clip) are only freed from the temporal loss.
        # Starting those from the content instead measured worse on cockatoo.mp4: E_warp
        # 0.00128 vs 0.00079, and a weaker style (Gram distance 0.186 vs 0.157).
        weight = self.config.temporal_weight
        if toward is not None:
            # Ruder et al.'s multi-pass blend: where the flow is reliable, the warped previous
            # result mixed with this frame's other stylization at share a; elsewhere the other
            # stylization alone. The start and the temporal target are that blend, everywhere.
            own = frame_to_tensor(toward[0], device)  # (1, 3, H, W)
            share = float(toward[1])
            warped = mask * ((1 - share) * target + share * own) + (1 - mask) * own
            target, mask = warped, torch.ones_like(mask)

        return warped, (TemporalTerm(weight, target, mask) if weight > 0 else None)


def same_targets(targets: FrameTargets | None, before: FrameTargets | None | object) -> bool:
    """Whether two frames are optimized towards the same targets (None: the styles' own blend)."""
    if targets is None or before is None or not isinstance(before, FrameTargets):
        return targets is None and before is None
    return (targets.weights == before.weights and targets.style_weight == before.style_weight
            and targets.mask is None and before.mask is None)


def _mask_tensor(mask: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W) float mask -> (1, 1, H, W) on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32)).to(device)[None, None]


def combine_warps(sources: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge warped earlier results into one target and one mask (Ruder et al.'s c_long).

    ``sources`` are (warped (1, 3, H, W), mask (1, 1, H, W) in {0, 1}), the most recent
    frame first. Each pixel takes the most recent source whose mask holds it: source j's
    weight is max(c_j - sum of the earlier masks, 0). The weights do not overlap, so
    Σ_j c_long_j·(x - w_j)² equals mask·(x - target)² with target = Σ c_long_j·w_j and
    mask = Σ c_long_j: one loss term however many frames are followed.
    """
    first_warp, first_mask = sources[0]
    target = first_warp * first_mask
    covered = first_mask.clone()
    for warped, mask in sources[1:]:
        weight = (mask - covered).clamp(0, 1)
        target = target + warped * weight
        covered = covered + weight
    return target, covered.clamp(0, 1)
