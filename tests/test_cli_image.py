"""`videostyle image`: the command a user runs, and every bad input the issue names."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from synthetic import scene, stripes, write_rgb

from videostyle.cli import main, parse_style_spec
from videostyle.io import read_image

FAST = ["--size", "48", "--iterations", "3", "--device", "cpu", "--quiet"]


@pytest.fixture
def files(tmp_path):
    content = write_rgb(tmp_path / "content.png", scene())
    style = write_rgb(tmp_path / "style.png", stripes())
    return tmp_path, content, style


def run(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.strip()


def test_image_command_writes_the_requested_size(files, capsys):
    tmp, content, style = files
    out = tmp / "out.png"
    code, _ = run(capsys, "image", content, "--style", style, "-o", out, *FAST)
    assert code == 0
    assert read_image(out).shape == (36, 48, 3)


def test_style_weights_parse_and_windows_like_paths_survive():
    assert parse_style_spec("a.jpg:0.7") == ("a.jpg", 0.7)
    assert parse_style_spec("a.jpg") == ("a.jpg", 1.0)
    assert parse_style_spec("C:/art/b.jpg") == ("C:/art/b.jpg", 1.0)


@pytest.mark.parametrize("kind", ["missing", "text", "empty", "tiny"])
def test_bad_content_is_exit_2_with_one_line_naming_the_file(files, capsys, kind):
    tmp, _, style = files
    bad = tmp / f"{kind}.jpg"
    if kind == "text":
        bad.write_text("this is not a picture\n")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "tiny":
        write_rgb(bad.with_suffix(".png"), np.zeros((1, 1, 3), np.uint8))
        bad = bad.with_suffix(".png")
    code, err = run(capsys, "image", bad, "--style", style, "-o", tmp / "o.png", *FAST)
    assert code == 2
    assert err.startswith("videostyle: error:") and str(bad) in err and "\n" not in err
    assert not (tmp / "o.png").exists()


def test_a_bad_style_file_is_named(files, capsys):
    tmp, content, _ = files
    bad = tmp / "style.jpg"
    bad.write_text("nope")
    code, err = run(capsys, "image", content, "--style", bad, "-o", tmp / "o.png", *FAST)
    assert code == 2 and str(bad) in err


@pytest.mark.parametrize("variant", ["gray", "rgba", "16bit"])
def test_unusual_style_formats_work(files, capsys, variant):
    tmp, content, _ = files
    base = stripes()
    path = tmp / f"style-{variant}.png"
    if variant == "gray":
        cv2.imwrite(str(path), cv2.cvtColor(base, cv2.COLOR_RGB2GRAY))
    elif variant == "rgba":
        rgba = np.dstack([base[..., ::-1], np.full(base.shape[:2], 200, np.uint8)])
        cv2.imwrite(str(path), rgba)
    else:
        cv2.imwrite(str(path), base[..., ::-1].astype(np.uint16) * 257)
    out = tmp / "o.png"
    code, err = run(capsys, "image", content, "--style", path, "-o", out, *FAST)
    assert code == 0, err
    assert read_image(out).shape == (36, 48, 3)


def test_existing_output_is_refused_untouched_without_force(files, capsys):
    tmp, content, style = files
    out = tmp / "out.png"
    out.write_bytes(b"my earlier masterpiece")
    code, err = run(capsys, "image", content, "--style", style, "-o", out, *FAST)
    assert code == 2 and "--force" in err
    assert out.read_bytes() == b"my earlier masterpiece"
    code, _ = run(capsys, "image", content, "--style", style, "-o", out, *FAST, "--force")
    assert code == 0 and read_image(out).shape == (36, 48, 3)


def test_an_interrupted_write_leaves_no_half_written_output(files, capsys, monkeypatch):
    tmp, content, style = files
    out = tmp / "out.png"
    out.write_bytes(b"old")

    def dies_mid_write(fd):  # Ctrl-C between writing the temporary file and its rename
        os.ftruncate(fd, os.fstat(fd).st_size // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr("videostyle.io.atomic.os.fsync", dies_mid_write)
    code, _ = run(capsys, "image", content, "--style", style, "-o", out, *FAST, "--force")
    monkeypatch.undo()
    assert code == 130
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp.iterdir()) == ["content.png", "out.png", "style.png"]


def test_bad_option_values_are_exit_2(files, capsys):
    tmp, content, style = files
    for bad in (["--iterations", "-1"], ["--scales", "-1"], ["--style-layers", "relu9_9"]):
        code, err = run(capsys, "image", content, "--style", style, "-o", tmp / "o.png", *FAST, *bad)
        assert code == 2 and "\n" not in err, bad


def test_progress_in_a_log_is_plain_lines_not_a_redrawn_bar(files, capsys):
    tmp, content, style = files
    args = [a for a in FAST if a != "--quiet"]
    code, err = run(capsys, "image", content, "--style", style, "-o", tmp / "o.png", *args)
    assert code == 0
    lines = err.splitlines()
    assert "\r" not in err
    assert any(line.startswith("stylizing: iteration 3/3") for line in lines), err
