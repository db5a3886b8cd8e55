"""One loss evaluation against the machine's own peak.

The peak is what torch reaches here, in the same run, on the two shapes the network is
made of: a square matmul and a 3x3 256->256 convolution (channels_last), in the engine's
precision (bf16 where the hardware is fast at it); the larger of the two is "the peak".
An evaluation is VGG19 forward to the deepest layer and backward to the image, its FLOPs
counted from the layer shapes (``videostyle.engine.vgg.evaluation_flops``) and its time
taken through ``Stylizer.stylize`` at one scale, L-BFGS included. Rounds alternate the peak
and the evaluations, so a neighbour's load shifts both alike, and the figures are medians.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from harness.machine import Timer, median_seconds
from harness.report import print_table

Size = tuple[int, int]  # (width, height)


def parse_sizes(text: str) -> list[Size]:
    """``"256x192,640x480"`` -> [(256, 192), (640, 480)] as (width, height)."""
    sizes = []
    for part in text.split(","):
        w, _, h = part.strip().lower().partition("x")
        sizes.append((int(w), int(h)))
    return sizes


def peak_shapes(device: torch.device) -> tuple[int, tuple[int, int]]:
    """(matmul side, conv height and width) large enough to fill ``device``: 8192² and
    256x256 on CUDA, 2048² and 48x64 elsewhere."""
    return (8192, (256, 256)) if device.type == "cuda" else (2048, (48, 64))


def measure_peak(device: torch.device, dtype: torch.dtype, *, matmul: int | None = None,
                 conv_hw: tuple[int, int] | None = None, clock: str = "wall") -> dict[str, Any]:
    """GFLOP/s torch reaches here on a ``matmul``² matmul and a 3x3 256->256 conv at
    ``conv_hw``, channels_last, in ``dtype``; ``peak`` is the larger. Sizes default to
    :func:`peak_shapes`."""
    default_mm, default_hw = peak_shapes(device)
    matmul, (h, w) = matmul or default_mm, conv_hw or default_hw
    a = torch.randn(matmul, matmul, device=device).to(dtype)
    b = torch.randn(matmul, matmul, device=device).to(dtype)
    mm = 2 * matmul**3 / median_seconds(lambda: a @ b, 5, device=device, clock=clock) / 1e9
    x = torch.randn(1, 256, h, w, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
    k = torch.randn(256, 256, 3, 3, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
    conv_flops = 2 * 9 * 256 * 256 * h * w
    conv_seconds = median_seconds(lambda: torch.nn.functional.conv2d(x, k, padding=1), 20, device=device, clock=clock)
    conv = conv_flops / conv_seconds / 1e9
    return {"matmul": mm, "conv": conv, "peak": max(mm, conv), "matmul_size": matmul, "conv_hw": (h, w)}


def time_evaluations(stylizer: Any, image: np.ndarray, iterations: int, clock: str = "wall") -> float:
    """Seconds per loss evaluation of one ``stylize`` call at one scale."""
    evaluations: list[object] = []
    with Timer(stylizer.device) as timer:
        stylizer.stylize(image, iterations=iterations, scales=1, callback=evaluations.append)
    return timer.seconds(clock) / len(evaluations)


def evaluation_gflop(stylizer: Any, size: Size) -> float:
    """GFLOP of one evaluation of a picture of ``size`` (width, height) with ``stylizer``'s layers."""
    from videostyle.engine.vgg import evaluation_flops

    config = stylizer.config
    return evaluation_flops(size[1], size[0], config.content_layers + config.style_layers) / 1e9


@dataclass
class EvaluationRounds:
    """The peaks and the seconds per evaluation of each size, one entry per round."""

    precision: str
    peaks: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[Size, list[float]] = field(default_factory=dict)
    shares: dict[Size, list[float]] = field(default_factory=dict)  # of that round's peak


def evaluation_rounds(stylizer: Any, images: dict[Size, np.ndarray], *, rounds: int, iterations: int,
                      clock: str = "wall") -> EvaluationRounds:
    """Warm every size up once (style targets, kernels, memory), then ``rounds`` times: the
    peak, then each size's seconds per evaluation and its share of that peak."""
    dtype = stylizer.compute.dtype or torch.float32
    precision = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    for image in images.values():
        stylizer.stylize(image, iterations=1, scales=1)
    result = EvaluationRounds(precision, seconds={s: [] for s in images}, shares={s: [] for s in images})
    for _ in range(rounds):
        peak = measure_peak(stylizer.device, dtype, clock=clock)
        result.peaks.append(peak)
        for size, image in images.items():
            seconds = time_evaluations(stylizer, image, iterations, clock)
            result.seconds[size].append(seconds)
            result.shares[size].append(evaluation_gflop(stylizer, size) / seconds / peak["peak"])
    return result


def print_evaluation_rounds(stylizer: Any, rounds: EvaluationRounds) -> None:
    """The peak line and the markdown table: size, GFLOP, s/evaluation, GFLOP/s, share of the peak."""
    first = rounds.peaks[0]
    (h, w), side = first["conv_hw"], first["matmul_size"]

    def median(key: str) -> float:
        return statistics.median(p[key] for p in rounds.peaks)

    print(f"peak ({rounds.precision}), median of {len(rounds.peaks)}: matmul {side}² {median('matmul'):.0f} GFLOP/s, "
          f"conv 3x3 256->256 at {h}x{w} {median('conv'):.0f} GFLOP/s; peak = the larger, {median('peak'):.0f} GFLOP/s")
    rows = []
    for size, seconds in rounds.seconds.items():
        gflop, s = evaluation_gflop(stylizer, size), statistics.median(seconds)
        rows.append((f"{size[0]}x{size[1]}", f"{gflop:.0f}", f"{s:.4f}", f"{gflop / s:.0f}",
                     f"{statistics.median(rounds.shares[size]):.0%}"))
    print_table(("size", "GFLOP / evaluation", "s / evaluation", "GFLOP/s", "share of the peak"), rows)
