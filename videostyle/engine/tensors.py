"""Conversions between the two frame formats, and resizing.

In ``io`` a frame is a numpy (H, W, 3) uint8 RGB array; in the engine it is a torch
(1, 3, H, W) float32 tensor in [0, 1]. ``frame_to_tensor`` and ``tensor_to_frame`` cross
between them; ``float_to_frame`` rounds a float result (the state a chain keeps) to what
is written. ``fit_size`` and ``resize_frame`` are io's, re-exported for the engine.
"""

from __future__ import annotations

import numpy as np
import torch

from ..io.images import fit_size, resize_frame

__all__ = ["fit_size", "float_to_frame", "frame_to_tensor", "resize_frame", "resize_tensor",
           "tensor_to_frame"]


def frame_to_tensor(frame: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 RGB (or float32 in [0, 1]) -> (1, 3, H, W) float32 in [0, 1]."""
    array = np.ascontiguousarray(frame)
    tensor = torch.from_numpy(array).to(device)
    tensor = tensor.float() / 255.0 if array.dtype == np.uint8 else tensor.float()
    return tensor.permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_frame(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float in [0, 1] -> (H, W, 3) uint8 RGB (rounded, clamped)."""
    array = image.detach()[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)
    return np.ascontiguousarray(array.cpu().numpy())


def float_to_frame(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> (H, W, 3) uint8 RGB (rounded, clamped)."""
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


def resize_tensor(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize (B, C, H, W): antialiased bilinear to shrink, bicubic to enlarge."""
    if image.shape[-2:] == (height, width):
        return image
    shrinking = height * width < image.shape[-2] * image.shape[-1]
    mode = "bilinear" if shrinking else "bicubic"
    return torch.nn.functional.interpolate(image, size=(height, width), mode=mode,
                                           align_corners=False, antialias=shrinking)
