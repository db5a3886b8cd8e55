"""Shared fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import scene, stripes


@pytest.fixture
def content_image() -> np.ndarray:
    return scene()


@pytest.fixture
def style_image() -> np.ndarray:
    return stripes()
