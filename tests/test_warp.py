"""The Lanczos warp that carries stylized frames along the flow (CPU and device paths)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from synthetic import blobs, stripes

from videostyle.engine.flow import warp as bilinear_warp
from videostyle.engine.tensors import frame_to_tensor
from videostyle.engine.warp import backward_warp, lanczos_warp_torch


def _texture() -> torch.Tensor:
    return frame_to_tensor(np.concatenate([stripes(64, 24), blobs(64, 24)], axis=0))  # (1, 3, 48, 64)


def _smooth_flow(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flow = (rng.random((h, w, 2)).astype(np.float32) - 0.5) * 8
    return cv2.GaussianBlur(flow, (0, 0), 6)


def laplacian_variance(image: torch.Tensor) -> float:
    gray = image[0].mean(0).numpy().astype(np.float64)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def test_device_path_equals_opencv_lanczos_within_its_weight_tables():
    image, flow = _texture(), _smooth_flow()
    on_cpu = backward_warp(image, flow)  # OpenCV INTER_LANCZOS4
    on_device = lanczos_warp_torch(image, flow)  # the gathers a GPU runs
    assert on_cpu.shape == on_device.shape == image.shape
    assert (on_cpu - on_device).abs().max() < 0.03
    assert (on_cpu - on_device).abs().mean() < 2e-3


def test_whole_pixel_shift_is_exact_and_flat_stays_flat():
    image = _texture()
    flow = np.zeros((48, 64, 2), np.float32)
    flow[..., 0] = 3  # out(x) = image(x + 3)
    for warp in (backward_warp, lanczos_warp_torch):
        shifted = warp(image, flow)
        assert torch.allclose(shifted[..., :-3], image[..., 3:], atol=1e-5)
        flat = warp(torch.full((1, 3, 48, 64), 0.4), _smooth_flow())
        assert torch.allclose(flat, torch.tensor(0.4), atol=1e-5)


def test_repeated_half_pixel_warps_keep_far_more_detail_than_bilinear():
    """What flow mode does to a stroke over 10 frames of a slow pan."""
    image = _texture()
    flow = np.full((48, 64, 2), 0.5, np.float32)
    back = -flow
    sharp, soft = image, image[0].permute(1, 2, 0).numpy()
    for _ in range(5):
        sharp = backward_warp(backward_warp(sharp, flow), back)
        soft = bilinear_warp(bilinear_warp(soft, flow), back)
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    original = laplacian_variance(image[inner])
    kept_sharp = laplacian_variance(sharp[inner]) / original
    kept_soft = laplacian_variance(torch.from_numpy(soft).permute(2, 0, 1)[None][inner]) / original
    assert kept_sharp > 0.5
    assert kept_sharp > 3 * kept_soft


def test_bilinear_kernel_matches_opencv_on_every_path():
    from videostyle.engine.warp import bilinear_warp_torch

    image, flow = _texture(), _smooth_flow(seed=1)
    reference = torch.from_numpy(bilinear_warp(image[0].permute(1, 2, 0).numpy(), flow)).permute(2, 0, 1)[None]
    assert torch.allclose(backward_warp(image, flow, kernel="bilinear"), reference, atol=1e-6)
    assert (bilinear_warp_torch(image, flow) - reference).abs().max() < 1e-2  # OpenCV: 1/32 px tables
