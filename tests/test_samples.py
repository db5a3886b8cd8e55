"""The bundled samples: rendered by our own code, and the demo that uses them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from videostyle.cli import main
from videostyle.io import probe, read_image
from videostyle.jobs import demo
from videostyle.samples import write_samples

CHECKOUT = Path(__file__).resolve().parents[1] / "samples"


def test_rendering_reproduces_the_committed_samples(tmp_path):
    content, style, clip = write_samples(tmp_path)
    for rendered in (content, style):
        committed = read_image(CHECKOUT / rendered.name).astype(np.int16)
        assert np.abs(read_image(rendered).astype(np.int16) - committed).mean() < 2.0, rendered.name
    info = probe(clip)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (192, 108, 36, True)


def test_demo_renders_its_samples_when_installed_without_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "CHECKOUT_SAMPLES", tmp_path / "not-here")
    out = tmp_path / "demo"
    assert main(["demo", "--output-dir", str(out), "--iterations", "1", "--first-iterations", "2",
                     "--device", "cpu"]) == 0
    assert probe(out / "demo.mp4").frame_count == 36 and probe(out / "demo.mp4").has_audio
    assert probe(out / "demo.gif").frame_count == 36
    printed = capsys.readouterr().out
    assert "demo.mp4" in printed and "demo.gif" in printed
    # a second run does not overwrite the results without --force
    assert main(["demo", "--output-dir", str(out), "--iterations", "1", "--first-iterations", "2"]) == 2
