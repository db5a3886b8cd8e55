"""The style measure without a network: zero for the painting, larger for other pictures,
and it sees a stylization move towards the painting."""

from __future__ import annotations

import numpy as np
from harness.texture import texture_distance, texture_statistics  # scripts/ (pytest's pythonpath)
from synthetic import blobs, scene, stripes

from videostyle.config import StyleConfig
from videostyle.engine.optimize import Stylizer
from videostyle.engine.tensors import float_to_frame


def test_the_painting_itself_is_at_zero_and_other_pictures_are_not():
    style = stripes(96, 96)
    assert texture_distance(style, style) < 1e-6
    assert texture_distance(blobs(96, 96), style) > 0.3
    turned = np.ascontiguousarray(style[:, ::-1])  # the same colours, strokes at 90 degrees
    assert texture_distance(turned, style) > 0.05
    assert texture_distance(turned, style) < texture_distance(blobs(96, 96), style)


def test_statistics_have_fixed_shapes_for_any_size():
    a, b = texture_statistics(scene(64, 48)), texture_statistics(scene(96, 32))
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}
    flat = np.zeros((40, 40, 3), np.uint8)  # no texture: correlations undefined, still finite
    assert all(np.all(np.isfinite(v)) for v in texture_statistics(flat).values())


def test_a_stylization_moves_towards_the_painting():
    style, photo = stripes(64, 64), scene(64, 48)
    stylizer = Stylizer([style], StyleConfig(device="cpu", precision="fp32", strength=1.0))
    result = float_to_frame(stylizer.stylize(photo, iterations=30, scales=1)[0].permute(1, 2, 0).cpu().numpy())
    assert texture_distance(result, style) < 0.8 * texture_distance(photo, style)
