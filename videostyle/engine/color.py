"""Colour helpers for the ``preserve_colors`` setting (Gatys et al. 2017, "Controlling Perceptual
Factors in Neural Style Transfer"): colour matching of the style, and luminance-only output.
"""

from __future__ import annotations

import torch

# RGB -> YIQ (NTSC); Y is luminance, I and Q carry the colour.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114],
                            [0.596, -0.274, -0.322],
                            [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> YIQ."""
    return _apply(_RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) YIQ -> RGB."""
    return _apply(_YIQ_TO_RGB, image)


def keep_luminance(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylized image's luminance with the content's colour (I, Q), clamped to [0, 1]."""
    yiq = torch.cat([rgb_to_yiq(stylized)[:, :1], rgb_to_yiq(content)[:, 1:]], dim=1)
    return yiq_to_rgb(yiq).clamp(0, 1)


def match_color(source: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Affine colour transfer: ``source`` (1, 3, H, W) gets ``reference``'s RGB mean and
    covariance (the "colour histogram matching" variant of Gatys et al. 2017)."""
    src = source[0].reshape(3, -1)  # (3, N)
    ref = reference[0].reshape(3, -1)
    src_mean, ref_mean = src.mean(1, keepdim=True), ref.mean(1, keepdim=True)
    eye = 1e-5 * torch.eye(3, device=source.device)
    src_cov = torch.cov(src) + eye
    ref_cov = torch.cov(ref) + eye
    transform = _sqrtm(ref_cov) @ torch.linalg.inv(_sqrtm(src_cov))
    out = transform @ (src - src_mean) + ref_mean
    return out.reshape_as(source).clamp(0, 1)


def _sqrtm(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
