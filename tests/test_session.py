"""Live sessions driven by a generated video file standing in for the camera."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image
from synthetic import make_clip, stripes

from videostyle.cli import main
from videostyle.config import StyleConfig
from videostyle.io import probe
from videostyle.live.session import WebcamConfig, run_session


@pytest.fixture
def camera_clip(tmp_path):
    return make_clip(tmp_path / "camera.mp4", frames=80, size="96x72", fps=20)


def test_session_records_drops_stale_frames_and_reports(tmp_path, camera_clip):
    record = tmp_path / "session.mp4"
    config = WebcamConfig(camera=str(camera_clip), size=48, fps=4.0, first_iterations=8, max_iterations=6,
                          duration=3.0, record=str(record), record_fps=10, preview=False)
    stats = run_session([stripes()], style=StyleConfig(device="cpu", precision="fp32"), config=config)
    assert stats.ended_by == "duration"
    assert 2.9 <= stats.seconds < 6
    assert stats.frames_stylized >= 2
    assert stats.frames_captured > stats.frames_stylized  # newest-frame policy: stale frames dropped
    assert stats.max_latency_s < 2.5  # bounded: it never works through a backlog
    info = probe(record)
    assert info.frame_count and info.frame_count >= 20  # ~real time at 10 fps
    assert info.duration == pytest.approx(stats.seconds, abs=1.0)


def test_camera_loss_ends_the_session_and_keeps_the_recording(tmp_path):
    short = make_clip(tmp_path / "short.mp4", frames=10, size="64x48", fps=10)
    record = tmp_path / "s.gif"
    config = WebcamConfig(camera=str(short), size=32, iterations=2, fps=None, first_iterations=3,
                          record=str(record), preview=False, loop_file=False)
    stats = run_session([stripes()], style=StyleConfig(device="cpu", precision="fp32"), config=config)
    assert stats.ended_by == "camera"
    with Image.open(record) as gif:
        assert gif.n_frames >= 1


def test_sigint_mid_session_leaves_a_valid_recording(tmp_path, camera_clip):
    style = tmp_path / "style.png"
    Image.fromarray(stripes()).save(style)
    record = tmp_path / "rec.mp4"
    cmd = [sys.executable, "-m", "videostyle", "webcam", "--camera", str(camera_clip), "--style", str(style),
           "--size", "48", "--first-iterations", "5", "--device", "cpu", "--record", str(record),
           "--no-preview", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stats = json.loads(out)
    assert stats["ended_by"] == "interrupt"
    info = probe(record)
    assert info.frame_count and info.frame_count > 0


def test_missing_camera_is_exit_2_with_one_line(tmp_path, capsys):
    style = tmp_path / "style.png"
    Image.fromarray(stripes()).save(style)
    for camera in ("37", str(tmp_path / "no-such-camera.mp4")):
        capsys.readouterr()
        assert main(["webcam", "--camera", camera, "--style", str(style), "--no-preview", "--duration", "1"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("videostyle: error: camera") and "\n" not in err, err


def test_without_a_display_the_preview_is_refused_clearly(tmp_path, camera_clip, monkeypatch, capsys):
    if not sys.platform.startswith("linux"):
        pytest.skip("display detection is Linux-specific")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    style = tmp_path / "style.png"
    Image.fromarray(stripes()).save(style)
    assert main(["webcam", "--camera", str(camera_clip), "--style", str(style), "--duration", "1"]) == 2
    assert "--no-preview" in capsys.readouterr().err


def test_duration_ends_the_session_even_mid_frame(tmp_path, camera_clip):
    """A warm-up far longer than --duration is cut short: the session ends on time."""
    config = WebcamConfig(camera=str(camera_clip), size=48, first_iterations=5000, duration=2.0, preview=False)
    stats = run_session([stripes()], style=StyleConfig(device="cpu", precision="fp32"), config=config)
    assert stats.ended_by == "duration"
    assert stats.seconds < 3.0
    assert stats.frames_stylized == 0


def test_after_a_pause_the_flow_starts_at_the_last_stylized_frame(monkeypatch):
    """Frames seen while paused are shown, not stylized: the next flow must start from the
    frame the last result was made from, not from the last frame seen."""
    from videostyle.engine.flow import FlowStep
    from videostyle.live.camera import CapturedFrame
    from videostyle.live.session import _Session

    session = _Session([stripes()], StyleConfig(device="cpu", precision="fp32"),
                       WebcamConfig(camera="unused", preview=False, fps=None))
    pairs = []
    number_of = {}  # id of a frame's image -> its number

    def fake_flow_and_cut(originals, after, estimator):
        pairs.append((number_of[id(after)], number_of[id(originals[0])]))
        return FlowStep(flow="a flow", cut=False)

    def fake_next(frame, flow, **kwargs):
        if flow is None:
            pairs.append((number_of[id(frame)], None))
        session.paused = number_of[id(frame)] == 2  # pause after the second frame
        session.live.temporal.history.appendleft(np.zeros((8, 8, 3), np.float32))
        return session.live.temporal.history[0]

    monkeypatch.setattr("videostyle.live.policy.flow_and_cut", fake_flow_and_cut)
    session.live.temporal.next = fake_next

    class FakeCamera:
        ended, captured = False, 0

        def newest(self, after, timeout=None):
            number = (after or 0) + 1
            if number == 5:
                session.paused = False  # unpause while frames 3 and 4 were shown
            if number > 6:
                self.ended = True
                return None
            self.captured = number
            image = stripes(8, 8)
            number_of[id(image)] = number
            return CapturedFrame(image, number, time.monotonic())

    assert session._loop(FakeCamera(), None) == "camera"
    assert pairs == [(1, None), (2, 1), (5, 2), (6, 5)]


def test_help_says_what_iterations_defaults_to(capsys):
    with pytest.raises(SystemExit):
        main(["webcam", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default None)" not in text and "instead of adapting them to --fps" in text


def test_n_blends_into_the_next_style_over_a_second_instead_of_jumping():
    from synthetic import scene

    from videostyle.live.session import SWITCH_SECONDS, _Session

    a, b = stripes(), scene(64, 48, seed=2)
    session = _Session([a, b], StyleConfig(device="cpu", precision="fp32"),
                       WebcamConfig(camera="unused", preview=False, fps=None))
    assert session._look(0.0).weights == (1.0, 0.0)
    session._handle_key(ord("n"))
    assert session.switch is not None
    pressed = session.switch[1]
    halfway = session._look(pressed + SWITCH_SECONDS / 2).weights
    assert halfway == pytest.approx((0.5, 0.5))
    assert session._look(pressed + SWITCH_SECONDS * 1.5).weights == (0.0, 1.0) and session.switch is None
    # the stylizer is the same one throughout: the blend changes its targets, not its styles
    mid = session.live.stylizer.targets.blended(32, 32, halfway)
    ends = [session.live.stylizer.targets.blended(32, 32, w) for w in ((1.0, 0.0), (0.0, 1.0))]
    layer = next(iter(mid))
    expected = 0.5 * ends[0][layer] + 0.5 * ends[1][layer]
    assert float((mid[layer] - expected).abs().max()) < 1e-5 * float(expected.abs().max())


def test_one_style_has_no_look():
    from videostyle.live.session import _Session

    session = _Session([stripes()], StyleConfig(device="cpu", precision="fp32"),
                       WebcamConfig(camera="unused", preview=False, fps=None))
    session._handle_key(ord("n"))
    assert session._look(0.0) is None and session.switch is None
