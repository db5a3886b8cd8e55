"""A style measure the optimizer never sees: colour and filter-bank texture statistics.

The Gram distance (``Stylizer.style_distance``) is computed by the very VGG19 the optimizer
descends, so a result can look close to the painting *to that network* without being so.
:func:`texture_distance` instead compares hand-made statistics (no learned weights):

- colour: the mean and covariance of the pixels in CIELAB;
- texture: a bank of Gabor filters on the lightness (wavelengths 4, 8 and 16 px, four
  orientations each), and of their response magnitudes the means, the standard deviations
  and the correlations between filters (how strokes of one size and direction co-occur).

Each group's distance is ‖s(x) − s(style)‖ / ‖s(style)‖ and the measure is their mean:
0 for the painting itself, larger the further a picture's colours and strokes are from it.
The style is resized so its longest side matches the picture's, as the optimizer sees it
(``style_scale`` 1), so stroke sizes compare at the same scale.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

WAVELENGTHS = (4.0, 8.0, 16.0)  # px
ORIENTATIONS = 4


@cache
def _bank() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(even, odd) Gabor kernels, zero-mean, one pair per wavelength and orientation."""
    kernels = []
    for wavelength in WAVELENGTHS:
        sigma = 0.56 * wavelength  # one octave of bandwidth
        size = int(2 * round(2.5 * sigma) + 1)
        for k in range(ORIENTATIONS):
            theta = np.pi * k / ORIENTATIONS
            even = cv2.getGaborKernel((size, size), sigma, theta, wavelength, 1.0, 0, cv2.CV_32F)
            odd = cv2.getGaborKernel((size, size), sigma, theta, wavelength, 1.0, np.pi / 2, cv2.CV_32F)
            even -= even.mean()
            norm = float(np.abs(even).sum())
            kernels.append((even / norm, odd / norm))
    return tuple(kernels)


def texture_statistics(image: np.ndarray) -> dict[str, np.ndarray]:
    """The statistics of an RGB uint8 picture: colour mean and covariance (CIELAB, in units
    of 100), and the Gabor magnitudes' means, standard deviations and correlations."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    # OpenCV's 8-bit Lab: L in 0..255 for 0..100, a and b offset by 128
    pixels = (lab.reshape(-1, 3) - (0.0, 128.0, 128.0)) * (100 / 255, 1.0, 1.0) / 100
    lightness = pixels[:, 0].reshape(image.shape[:2])
    magnitudes = []
    for even, odd in _bank():
        re = cv2.filter2D(lightness, cv2.CV_32F, even, borderType=cv2.BORDER_REFLECT)
        im = cv2.filter2D(lightness, cv2.CV_32F, odd, borderType=cv2.BORDER_REFLECT)
        magnitudes.append(np.sqrt(re * re + im * im).ravel())
    m = np.stack(magnitudes)  # (filters, positions)
    std = m.std(axis=1)
    return {"colour_mean": pixels.mean(axis=0), "colour_cov": np.cov(pixels.T).ravel(),
            "texture_mean": m.mean(axis=1), "texture_std": std,
            "texture_corr": np.corrcoef(m).ravel() if np.all(std > 0) else np.eye(len(m)).ravel()}


def _at_scale_of(style: np.ndarray, image: np.ndarray) -> np.ndarray:
    scale = max(image.shape[:2]) / max(style.shape[:2])
    size = (max(8, round(style.shape[1] * scale)), max(8, round(style.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(style, size, interpolation=interpolation)


def texture_distance(image: np.ndarray, style: np.ndarray) -> float:
    """How far an RGB uint8 picture's colours and strokes are from a painting's (0: the
    same statistics). Independent of the network the optimizer uses; see the module."""
    ours, theirs = texture_statistics(image), texture_statistics(_at_scale_of(style, image))
    parts = [float(np.linalg.norm(ours[k] - theirs[k])) / max(float(np.linalg.norm(theirs[k])), 1e-6) for k in theirs]
    return float(np.mean(parts))


__all__ = ["texture_distance", "texture_statistics"]
