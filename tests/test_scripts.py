"""The benchmark scripts still load against the package and answer ``--help``, and their shared
harness (scripts/harness) says what is missing instead of failing deep inside a run.

A script's imports and its parser are where a change to the package breaks it first (a moved
module, a renamed config); the benchmarks themselves are too slow for the suite."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from harness.media import need, read_frames
from harness.report import markdown_table, write_json
from synthetic import make_clip

SCRIPTS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "scripts").glob("*.py"))


def test_the_scripts_are_all_here():
    assert len(SCRIPTS) >= 17 and "bench_image" in SCRIPTS and "make_cli_doc" in SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_loads_and_answers_help(name, capsys):
    module = importlib.import_module(name)
    with pytest.raises(SystemExit) as done:
        module.main(["--help"])
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_a_missing_medium_is_one_line_naming_it(tmp_path):
    present = tmp_path / "here.jpg"
    present.write_bytes(b"x")
    need(present, None)  # present, and None (an option not given), pass
    with pytest.raises(SystemExit) as refused:
        need(present, tmp_path / "cockatoo.mp4")
    message = str(refused.value.code)
    assert message.startswith(f"{tmp_path / 'cockatoo.mp4'}: not found") and "\n" not in message


def test_a_table_escapes_its_cells_and_json_holds_numpy_values(tmp_path):
    import numpy as np

    table = markdown_table(("flag", "value"), [("--device", "auto|cpu"), ("n", 3)])
    assert table.splitlines() == ["| flag | value |", "| --- | --- |", "| --device | auto\\|cpu |", "| n | 3 |"]
    path = write_json(tmp_path / "deep" / "result.json", {"e_warp": np.float32(0.5), (1, 2): np.arange(2)})
    assert json.loads(path.read_text()) == {"e_warp": 0.5, "(1, 2)": [0, 1]}


def test_read_frames_reads_a_clip(tmp_path):
    frames = read_frames(make_clip(tmp_path / "clip.mp4", frames=3))
    assert len(frames) == 3 and frames[0].ndim == 3 and frames[0].dtype.name == "uint8"
