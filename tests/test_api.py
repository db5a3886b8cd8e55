"""The importable API the README shows, and the layering it promises."""

from __future__ import annotations

import subprocess
import sys

import pytest

import videostyle


@pytest.mark.parametrize("name", videostyle.__all__)
def test_every_public_name_imports_from_the_package(name):
    assert getattr(videostyle, name) is not None


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Stylise'"):
        videostyle.Stylise  # noqa: B018


def test_io_does_not_pull_in_torch():
    code = "import sys, videostyle.io; raise SystemExit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
