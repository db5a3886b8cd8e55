"""Gatys et al. losses as plain functions.

Departures from the paper, on purpose:

* Content and style losses are *relative*: each layer's squared error is divided by the
  squared norm of its target. Every term then starts near 1 whatever the image size, the
  layer's depth or the weights file (caffe 0-255 vs torchvision activations differ by
  ~100x), so one set of default weights works everywhere.
* Gram matrices are divided by the number of positions (H*W), so a style is the same
  statistic at 64 px and at 1024 px.
* Several styles are blended by mixing their Gram matrices with the blend weights
  (one target per layer) rather than summing one loss per style: the same minimum, half
  the work.
"""

from __future__ import annotations

import torch


def gram_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype Gram matrices of ``dtype`` features are multiplied in: their own, but float16's
    in float32 (a sum over all positions of activations in the thousands overflows it)."""
    return torch.float32 if dtype == torch.float16 else dtype


def positions(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, HW, C): a view of channels_last features (the network's layout), a
    copy of anything else (a crop of them)."""
    b, c, h, w = features.shape
    return features.permute(0, 2, 3, 1).reshape(b, h * w, c)


def gram_sum(flat: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_p f_p f_pᵀ over (B, P, C) features (positions by channels, see :func:`positions`),
    each position weighted by ``weights`` (B, P, 1) when given: float32 (B, C, C).

    One matmul in the Gram dtype (:func:`gram_dtype`), the products accumulated in float32.
    Sums over disjoint sets of positions add up to the sum over their union: a tiled picture's
    Gram matrix is the sum of its tiles'.
    """
    flat = flat.to(gram_dtype(flat.dtype))
    left = flat if weights is None else flat * weights
    return torch.bmm(left.transpose(1, 2), flat).float()


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of (B, C, H, W) features, in float32, divided by H*W -> (B, C, C).

    bfloat16 features are multiplied in bfloat16 (the products accumulate in float32;
    the result is rounded once); float16 ones in float32 (see :func:`gram_dtype`).
    """
    return _Gram.apply(features.to(gram_dtype(features.dtype)))


class _Gram(torch.autograd.Function):
    """G = FᵀF / HW over F = (HW, C), and dL/dF = F (dL/dG + dL/dGᵀ) / HW: one matmul each
    way, on the channels_last features as they are. A float32 bmm over (C, HW) copies the
    features to float32 and the transposed layout, and its backward is two matmuls and a
    sum. One loss evaluation (1 CPU thread, CPU seconds) against that: 0.65x the time at
    256x192 and 0.57x at 640x480; the same matmuls in float32 give 0.75x and 0.66x."""

    @staticmethod
    def forward(ctx, features: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(features)
        flat = positions(features)
        return gram_sum(flat).div_(flat.shape[1])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (features,) = ctx.saved_tensors
        b, c, h, w = features.shape
        flat = positions(features)
        symmetric = ((grad + grad.transpose(1, 2)) / (h * w)).to(flat.dtype)
        return torch.bmm(flat, symmetric).view(b, h, w, c).permute(0, 3, 1, 2)


def masked_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Gatys et al. 2017's Gram matrix of one region: Σ_p m_p f_p f_pᵀ / Σ_p m_p over (B, C, H, W)
    features and a (B, 1, H', W') mask in [0, 1] (averaged down to H x W), float32 (B, C, C).

    Linear in the mask, so soft edges blend and two complementary regions' unnormalized Grams
    add up to the whole picture's; 0 for an empty region.
    """
    f = features.float()
    m = region_at(mask, *f.shape[-2:])
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    weights = m.reshape(b, 1, h * w)
    return (flat * weights) @ flat.transpose(1, 2) / weights.sum((1, 2), keepdim=True).clamp_min(1e-12)


def region_at(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A (B, 1, H', W') mask averaged down to a layer's (height, width) (VGG's pools floor)."""
    if mask.shape[-2:] == (height, width):
        return mask.float()
    return torch.nn.functional.adaptive_avg_pool2d(mask.float(), (height, width))


def relative_error(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """‖value − target‖² / ‖target‖² (a scalar; 0 when equal, 1 when value is zero)."""
    return (value.float() - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels of (B, C, H, W); 0 for a flat image."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


def total_variation_into(image: torch.Tensor, grad: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight`` · :func:`total_variation` of ``image`` (not tracked by autograd), its gradient
    added into ``grad`` (the image's shape) in place: one image-sized temporary at a time
    where autograd keeps several."""
    value = image.new_zeros(())
    for dim in (-1, -2):
        length = image.shape[dim]
        diff = image.narrow(dim, 1, length - 1) - image.narrow(dim, 0, length - 1)
        flat = diff.view(-1)
        value = value + torch.dot(flat, flat) / flat.numel()
        diff.mul_(2 * weight / flat.numel())
        grad.narrow(dim, 1, length - 1).add_(diff)
        grad.narrow(dim, 0, length - 1).sub_(diff)
        del diff, flat
    return weight * value


def temporal_loss(image: torch.Tensor, warped_previous: torch.Tensor,
                  mask: torch.Tensor) -> torch.Tensor:
    """Ruder et al.'s short-term consistency: mean over pixels of mask·(x − warped)².

    ``image`` and ``warped_previous`` are (B, 3, H, W); ``mask`` is (B, 1, H, W) in [0, 1]
    with 0 where the warp is unreliable (occlusions, motion boundaries, outside).
    The squared difference is summed over the channels, averaged over the pixels.
    """
    return (mask * (image - warped_previous).pow(2)).sum(1).mean()


def blend_grams(grams: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
    """Weighted mean of Gram matrices; ``weights`` are normalized to sum to 1."""
    total = float(sum(weights))
    return sum((w / total) * g for g, w in zip(grams, weights, strict=True))  # type: ignore[return-value]


def style_distance(features: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor]) -> float:
    """Mean over layers of ‖G(x) − G_s‖_F / ‖G_s‖_F: how far an image is from a style.

    A diagnostic (not squared, so it reads as a fraction): 0 means the same Gram
    statistics as the style, ~1 means as far as an image with no texture at all.
    """
    dists = [relative_error(gram_matrix(features[name]), target).sqrt().item()
             for name, target in target_grams.items()]
    return sum(dists) / len(dists)
