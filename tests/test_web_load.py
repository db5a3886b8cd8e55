"""``videostyle serve`` under load, the short form of ``scripts/load_web.py``: a few users at
once on loopback, one cancelling and one uploading garbage, through Gradio's HTTP API."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the web extra is not installed")
pytest.importorskip("gradio_client", reason="gradio_client (installed with gradio) is missing")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "load_web.py"


def load_script():
    spec = importlib.util.spec_from_file_location("load_web", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_web"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_few_users_at_once_each_get_their_own_job_once_in_order_and_memory_settles(tmp_path):
    figures = load_script().run_load(clients=5, cancel_every=3, garbage_every=4, size=32, frames=3,
                                     timeout=300, settle=3, work=tmp_path)
    assert figures["problems"] == [], "\n".join(figures["problems"])
    assert figures["good"] == 3 and figures["garbage"] == 1 and figures["cancelled"] == 1
    assert figures["cache_files"] > 0  # Gradio's copies were made, under the data dir (and gone at shutdown)
    assert figures["rss_growth_percent"] <= 10
