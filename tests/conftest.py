"""Shared fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import scene, stripes

import videostyle  # noqa: F401 -- first, so its OpenMP wait policy is set before a test imports torch


@pytest.fixture
def content_image() -> np.ndarray:
    return scene()


@pytest.fixture
def style_image() -> np.ndarray:
    return stripes()


@pytest.fixture(autouse=True, scope="session")
def precision_cache(tmp_path_factory):
    """The suite never times the machine (tests assert behaviour, not speed) and never
    writes to the user's cache: ``--precision auto`` on the CPU reads a cache in a temporary
    folder (subprocesses too, through XDG_CACHE_HOME), seeded with the answer the CPU's
    flags gave before a timing decided it. tests/test_calibrate.py covers the timing."""
    from videostyle.engine import calibrate, devices

    folder = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        path = calibrate.cache_dir()
        assert path is not None
        bf16_ms = 1.0 if devices.cpu_has_bf16_kernels() else 4.0  # per the flags, as before
        calibrate._write(path / calibrate.CACHE_FILE, calibrate.machine_key(), 2.0, bf16_ms)
        yield folder
