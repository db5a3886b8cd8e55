"""The importable API the README shows, and the layering it promises."""

from __future__ import annotations

import subprocess
import sys

import pytest

import videostyle

# Run in a fresh interpreter: each public name, loaded through the package's lazy __getattr__,
# is the very object its module in _EXPORTS defines (not a stale or shadowed one). Prints the
# names that are not.
RESOLVE = """
import importlib, sys, videostyle
exports = dict(videostyle._EXPORTS, **dict(arg.split("=") for arg in sys.argv[1:]))
wrong = []
for name, module_name in exports.items():
    module = importlib.import_module(f"videostyle.{module_name}")
    try:
        value = getattr(videostyle, name) if name in videostyle._EXPORTS else getattr(module, name)
    except AttributeError:
        wrong.append(name)
        continue
    if value is not getattr(module, name, None) or getattr(value, "__module__", None) != module.__name__:
        wrong.append(name)
print(sorted(wrong))
"""


def _wrongly_exported(*extra: str) -> str:
    done = subprocess.run([sys.executable, "-c", RESOLVE, *extra], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_every_public_name_imports_from_the_package():
    assert _wrongly_exported() == "[]"
    assert videostyle.__all__ == ["__version__", *videostyle._EXPORTS]
    assert videostyle.__version__.count(".") == 2 and all(p.isdigit() for p in videostyle.__version__.split("."))


def test_a_name_exported_from_the_wrong_module_is_caught():
    """The check above can fail: a name that its module does not define, or only imports, is reported."""
    assert _wrongly_exported("Stylizer=config", "ClipConfig=video.job") == "['ClipConfig', 'Stylizer']"


def test_the_old_name_look_still_imports_and_says_what_replaced_it():
    with pytest.warns(DeprecationWarning, match="use videostyle.FrameTargets"):
        assert videostyle.Look is videostyle.FrameTargets


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Stylise'"):
        videostyle.Stylise  # noqa: B018


def test_io_does_not_pull_in_torch():
    code = "import sys, videostyle.io; raise SystemExit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
