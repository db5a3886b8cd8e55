"""The video pipeline end to end on tiny generated clips (no files from ../shared)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import synthetic
from PIL import Image
from synthetic import blobs, broken_videos, make_clip, panning_texture, stripes

from videostyle.cli import main
from videostyle.config import ClipConfig, StyleConfig, TemporalConfig
from videostyle.errors import BadOption
from videostyle.io import open_source, probe
from videostyle.io.ffmpeg import ffmpeg_exe
from videostyle.video.job import stylize_video
from videostyle.video.metrics import warping_error

FAST = StyleConfig(device="cpu", precision="fp32")
FEW = TemporalConfig(iterations=2, first_iterations=6)


def write_gif(path: Path, frames: list[np.ndarray], durations_ms: list[int]) -> Path:
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations_ms, loop=0)
    return path


@pytest.fixture
def style_file(tmp_path) -> str:
    path = tmp_path / "style.png"
    Image.fromarray(stripes()).save(path)
    return str(path)


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


# -- formats --------------------------------------------------------------------------------
def test_mp4_with_audio_keeps_sound_duration_and_fps(tmp_path, style_file):
    clip = make_clip(tmp_path / "in.mp4", frames=10, audio=True)
    out = tmp_path / "out.mp4"
    code = run_cli("video", clip, "--style", style_file, "-o", out, "--size", 64, "--iterations", 2,
                   "--first-iterations", 4, "--device", "cpu", "--quiet")
    assert code == 0
    source, result = probe(clip), probe(out)
    assert result.has_audio
    assert result.fps == pytest.approx(source.fps, rel=1e-3)
    assert result.frame_count == 10
    assert abs(result.duration - source.duration) <= 1.0 / source.fps + 1e-6
    assert not list(tmp_path.glob(".out.mp4.videostyle")), "work folder removed after success"
    assert abs(audio_seconds(out) - 10 / source.fps) <= 1.0 / source.fps


def audio_seconds(path: Path) -> float:
    """Length of a file's decoded audio track (not the container's duration)."""
    rate = 8000
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(rate),
                          "-f", "s16le", "-"], capture_output=True, check=True).stdout
    return len(pcm) / 2 / rate


def test_a_trimmed_range_keeps_the_matching_stretch_of_audio(tmp_path, style_file):
    clip = make_clip(tmp_path / "in.mp4", frames=30, audio=True)  # 3 s at 10 fps
    assert audio_seconds(clip) == pytest.approx(3.0, abs=0.1)
    out = tmp_path / "out.mp4"
    assert run_cli("video", clip, "--style", style_file, "-o", out, "--size", 48, "--start", "1", "--frames", 8,
                   "--iterations", 1, "--first-iterations", 2, "--device", "cpu", "--quiet") == 0
    assert probe(out).frame_count == 8
    assert abs(audio_seconds(out) - 0.8) <= 0.1  # 8 frames at 10 fps, within one frame


def test_gif_in_gif_out_keeps_frame_count_and_durations(tmp_path, style_file):
    frames = panning_texture(frames=5)
    durations = [100, 200, 100, 300, 100]
    gif = write_gif(tmp_path / "in.gif", frames, durations)
    out = tmp_path / "out.gif"
    assert run_cli("video", gif, "--style", style_file, "-o", out, "--iterations", 1, "--size", 32,
                   "--first-iterations", 1, "--device", "cpu", "--quiet") == 0
    with Image.open(out) as image:
        assert image.n_frames == 5
        got = []
        for i in range(image.n_frames):
            image.seek(i)
            got.append(image.info["duration"])
        assert got == durations
        assert image.info.get("loop") == 0


def test_gif_to_mp4_keeps_each_frames_delay(tmp_path, style_file):
    """Delays of 0.1/0.5/0.1/1.0 s: the mp4 shows each frame as long as the GIF does."""
    gif = write_gif(tmp_path / "in.gif", panning_texture(frames=4), [100, 500, 100, 1000])
    out = tmp_path / "out.mp4"
    assert run_cli("video", gif, "--style", style_file, "-o", out, "--iterations", 1, "--size", 48,
                   "--first-iterations", 1, "--device", "cpu", "--quiet") == 0
    starts, duration = synthetic.frame_times(out)
    assert starts == pytest.approx([0, 0.1, 0.6, 0.7], abs=1e-3) and duration == pytest.approx(1.7, abs=0.01)


def test_folder_output_and_side_by_side(tmp_path, style_file):
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    out = tmp_path / "frames"
    assert run_cli("video", clip, "--style", style_file, "-o", f"{out}/", "--size", 64, "--iterations", 1,
                   "--first-iterations", 2, "--side-by-side", "--device", "cpu", "--quiet") == 0
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 3
    assert Image.open(pngs[0]).size == (128, 48)


# -- temporal coherence ---------------------------------------------------------------------
def test_flow_mode_is_steadier_than_independent(tmp_path, style_file):
    frames = panning_texture(frames=4, step=2)  # flow's E_warp is 0.07x independent's here (0.06x with 6 frames)
    folder = tmp_path / "src"
    folder.mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"f{i}.png")
    styles = [blobs()]
    errors = {}
    for mode in ("flow", "independent"):
        out = tmp_path / mode
        temporal = TemporalConfig(mode=mode, iterations=8, first_iterations=20)
        stylize_video(folder, f"{out}/", styles, style=FAST, temporal=temporal, clip=ClipConfig(size=None))
        stylized = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(out.glob("*.png"))]
        errors[mode] = warping_error(frames, stylized).e_warp
    assert errors["flow"] < 0.7 * errors["independent"], errors


def two_shots(folder: Path, frames_each: int) -> Path:
    """An image folder: a panning texture, then a cut to green and blue stripes."""
    a = panning_texture(frames=frames_each)
    b = [np.ascontiguousarray(np.flipud(stripes(64, 48, colors=((20, 200, 40), (10, 10, 120)))))] * frames_each
    folder.mkdir()
    for i, f in enumerate(a + b):
        Image.fromarray(f).save(folder / f"f{i:02d}.png")
    return folder


def test_scene_cut_is_detected(tmp_path):
    folder = two_shots(tmp_path / "src", 3)
    result = stylize_video(folder, tmp_path / "o.gif", [blobs()], style=FAST, temporal=FEW,
                           clip=ClipConfig(size=None))
    assert result.scene_cuts == [3]


def test_no_cut_is_reported_without_cut_detection(tmp_path):
    folder = two_shots(tmp_path / "src", 2)
    temporal = TemporalConfig(iterations=1, first_iterations=1, detect_cuts=False)
    result = stylize_video(folder, tmp_path / "o.gif", [blobs()], style=FAST, temporal=temporal,
                           clip=ClipConfig(size=32))
    assert result.scene_cuts == []


# -- resume ---------------------------------------------------------------------------------
def _cli_cmd(clip: Path, style: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "videostyle", "video", str(clip), "--style", style, "-o", str(out),
            "--size", "64", "--iterations", "3", "--first-iterations", "8", "--device", "cpu", "--quiet"]


def test_killed_job_resumes_and_equals_an_uninterrupted_run(tmp_path, style_file):
    clip = make_clip(tmp_path / "in.mp4", frames=8)
    out = tmp_path / "killed"
    work = tmp_path / ".killed.videostyle"
    proc = subprocess.Popen(_cli_cmd(clip, style_file, Path(f"{out}/")))
    deadline = time.time() + 120
    while time.time() < deadline and len(list(work.glob("frame_*.png"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(work.glob("frame_*.png")))
    assert 3 <= done_before < 8, "the kill must land mid-job"
    assert not out.exists(), "no output from a killed job"

    assert run_cli(*_cli_cmd(clip, style_file, Path(f"{out}/"))[3:]) == 0  # the rerun and the fresh run: in
    fresh = tmp_path / "fresh"  # this process (only the killed job needs its own)
    assert run_cli(*_cli_cmd(clip, style_file, Path(f"{fresh}/"))[3:]) == 0
    resumed_frames = sorted(out.glob("*.png"))
    fresh_frames = sorted(fresh.glob("*.png"))
    assert len(resumed_frames) == len(fresh_frames) == 8
    for a, b in zip(resumed_frames, fresh_frames, strict=True):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))), a.name


def test_changed_settings_are_refused_not_mixed(tmp_path, style_file):
    clip = make_clip(tmp_path / "in.mp4", frames=4)
    out = tmp_path / "o.mp4"
    calls = []

    def stop_after_two(p):
        calls.append(p)
        if p.step is None and p.finished == 2:
            raise KeyboardInterrupt

    styles = [stripes()]
    with pytest.raises(KeyboardInterrupt):
        stylize_video(clip, out, styles, style=FAST, temporal=FEW, clip=ClipConfig(size=64),
                      callback=stop_after_two)
    assert not out.exists()
    code = run_cli("video", clip, "--style", style_file, "-o", out, "--size", 64, "--iterations", 5,
                   "--device", "cpu", "--quiet")
    assert code == 2
    assert not out.exists()


# -- bad input ------------------------------------------------------------------------------
def test_bad_inputs_exit_2_with_one_line(tmp_path, style_file, capsys):
    good = make_clip(tmp_path / "good.mp4", frames=6)
    text, empty, truncated = broken_videos(tmp_path, good, keep=1 / 3)
    base = ["--style", style_file, "--size", "64", "--iterations", "1", "--first-iterations", "1",
            "--device", "cpu", "--quiet"]
    cases = [
        [tmp_path / "missing.mp4", "-o", tmp_path / "a.mp4"],
        [text, "-o", tmp_path / "b.mp4"],
        [empty, "-o", tmp_path / "c.mp4"],
        [good, "-o", tmp_path / "no-such-dir" / "d.mp4"],
        [good, "-o", tmp_path / "e.mp4", "--frames", "0"],
    ]
    for case in cases:
        capsys.readouterr()
        assert run_cli("video", *case, *base) == 2, case
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith("videostyle: error:"), err
    # a truncated file is read as far as it goes, or refused clearly: never a traceback
    assert run_cli("video", truncated, "-o", tmp_path / "t.mp4", *base) in (0, 2)


def test_existing_output_is_refused_without_force_and_untouched(tmp_path, style_file):
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    args = ["video", clip, "--style", style_file, "-o", out, "--size", 64, "--iterations", 1,
            "--first-iterations", 1, "--device", "cpu", "--quiet"]
    assert run_cli(*args) == 2
    assert out.read_bytes() == b"precious"
    assert run_cli(*args, "--force") == 0
    assert probe(out).frame_count == 2


def test_odd_sized_input_becomes_an_even_mp4(tmp_path, style_file):
    clip = make_clip(tmp_path / "odd.mp4", frames=2, size="161x97")
    out = tmp_path / "out.mp4"
    assert run_cli("video", clip, "--style", style_file, "-o", out, "--size", 161, "--iterations", 1,
                   "--first-iterations", 1, "--device", "cpu", "--quiet") == 0
    info = probe(out)
    assert info.width % 2 == 0 and info.height % 2 == 0 and info.frame_count == 2


def test_zero_frame_video_is_refused(tmp_path, style_file):
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    out = tmp_path / "out.mp4"
    assert run_cli("video", clip, "--style", style_file, "-o", out, "--start", 60, "--iterations", 1,
                   "--device", "cpu", "--quiet") == 2
    assert not out.exists()


def test_unwritable_output_location(tmp_path, style_file):
    """A folder that cannot hold the output (here a file in the way: root can write anywhere)."""
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    assert run_cli("video", clip, "--style", style_file, "-o", blocker / "o.mp4", "--iterations", 1,
                   "--device", "cpu", "--quiet") == 2
    assert blocker.read_text() == "a file, not a folder"


def test_open_source_yields_what_probe_says(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=5)
    with open_source(clip, size=32) as source:
        frames = list(source)
        assert len(frames) == 5 and frames[0].shape == (source.info.height, source.info.width, 3)


def test_progress_in_a_log_gives_frames_and_eta(tmp_path, style_file, capsys):
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    capsys.readouterr()
    assert run_cli("video", clip, "--style", style_file, "-o", tmp_path / "o.gif", "--size", 48,
                   "--iterations", 1, "--first-iterations", 2, "--device", "cpu") == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    assert "frame 1/3" in err and "frame 3/3" in err and "ETA" in err, err


def test_a_restart_uses_an_explicit_budget_when_given():
    """The webcam restarts after a cut with its per-frame cap, not the long first-frame budget."""
    from videostyle.engine.optimize import Stylizer
    from videostyle.engine.temporal import TemporalStylizer

    frames = panning_texture(frames=2)
    temporal = TemporalStylizer(Stylizer([stripes()], FAST), TemporalConfig(iterations=2, first_iterations=9))
    seen: list[int] = []
    temporal.next(frames[0], callback=lambda p: seen.append(p.iterations))
    assert set(seen) == {9}
    seen.clear()
    temporal.next(frames[1], cut=True, iterations=3, callback=lambda p: seen.append(p.iterations))
    assert set(seen) == {3}


def test_ctrl_c_keeps_finished_frames_and_says_how_to_resume(tmp_path, style_file, capsys, monkeypatch):
    from videostyle.video import job as video

    clip = make_clip(tmp_path / "in.mp4", frames=3)
    out = tmp_path / "o.mp4"
    args = ["video", clip, "--style", style_file, "-o", out, "--size", 48, "--iterations", 1,
            "--first-iterations", 2, "--device", "cpu", "--quiet"]
    stylize_segment = video.stylize_segment

    def ctrl_c_on_the_second_frame(*args, **kwargs):
        for done in stylize_segment(*args, **kwargs):
            yield done
            if done.index == 0:
                raise KeyboardInterrupt

    monkeypatch.setattr(video, "stylize_segment", ctrl_c_on_the_second_frame)
    capsys.readouterr()
    assert run_cli(*args) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert not out.exists()
    assert len(list((tmp_path / ".o.mp4.videostyle").glob("frame_*.png"))) == 1
    monkeypatch.undo()
    assert run_cli(*[a for a in args if a != "--quiet"]) == 0
    assert "1 resumed from an earlier run" in capsys.readouterr().out
    assert probe(out).frame_count == 3


def test_progress_carries_each_finished_frame_as_written(tmp_path, style_file):
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    shown = []

    def collect(p):
        if p.image is not None:
            shown.append(p.image)

    stylize_video(clip, f"{tmp_path / 'out'}/", [stripes()], style=FAST, temporal=FEW, clip=ClipConfig(size=48),
                  callback=collect)
    written = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "out").glob("*.png"))]
    assert len(shown) == len(written) == 3
    for a, b in zip(shown, written, strict=True):
        assert np.array_equal(a, b)


def test_preview_shows_frames_until_q_and_the_job_goes_on(tmp_path, style_file, monkeypatch):
    from videostyle.io import preview

    monkeypatch.setenv("DISPLAY", ":99")
    shown, closed = [], []

    def fake_show(self, frame, *, caption=None):
        shown.append((frame.shape, caption))
        return ord("q") if len(shown) == 2 else preview.KEY_NONE

    monkeypatch.setattr(preview.PreviewWindow, "show", fake_show)
    monkeypatch.setattr(preview.PreviewWindow, "close", lambda self: closed.append(True))
    clip = make_clip(tmp_path / "in.mp4", frames=4)
    out = tmp_path / "o.mp4"
    assert run_cli("video", clip, "--style", style_file, "-o", out, "--size", 48, "--iterations", 1,
                   "--first-iterations", 2, "--device", "cpu", "--quiet", "--preview") == 0
    assert [caption for _, caption in shown] == ["frame 1/4", "frame 2/4"]
    assert closed and probe(out).frame_count == 4


def test_preview_without_a_display_is_refused_before_any_work(tmp_path, style_file, monkeypatch, capsys):
    if not sys.platform.startswith("linux"):
        pytest.skip("display detection is Linux-specific")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    capsys.readouterr()
    assert run_cli("video", clip, "--style", style_file, "-o", tmp_path / "o.mp4", "--preview", "--quiet") == 2
    assert "drop --preview" in capsys.readouterr().err
    assert not (tmp_path / ".o.mp4.videostyle").exists()


# -- long-term consistency ------------------------------------------------------------------
def test_combine_warps_lets_each_pixel_follow_the_most_recent_reliable_frame():
    import torch

    from videostyle.engine.temporal import combine_warps

    h, w = 4, 6
    recent, older, oldest = (torch.full((1, 3, h, w), v) for v in (0.1, 0.5, 0.9))
    m1 = torch.zeros(1, 1, h, w)
    m1[..., :2] = 1  # frame t-1 vouches for the left third
    m2 = torch.zeros(1, 1, h, w)
    m2[..., 1:4] = 1  # t-2 overlaps it, and adds the middle
    m4 = torch.ones(1, 1, h, w)
    m4[..., 0, :] = 0  # t-4 covers everything but the top row
    target, mask = combine_warps([(recent, m1), (older, m2), (oldest, m4)])
    assert torch.allclose(target[..., :2], torch.tensor(0.1))
    assert torch.allclose(target[..., 2:4], torch.tensor(0.5))
    assert torch.allclose(target[..., 1:, 4:], torch.tensor(0.9))
    assert torch.allclose(target[..., 0, 4:], torch.tensor(0.0))
    expected_mask = torch.ones(1, 1, h, w)
    expected_mask[..., 0, 4:] = 0
    assert torch.equal(mask, expected_mask)
    single_target, single_mask = combine_warps([(recent, m1)])
    assert torch.equal(single_mask, m1) and torch.allclose(single_target[..., :2], torch.tensor(0.1))


def test_long_term_offsets_are_checked(tmp_path, style_file, capsys):
    for bad in ((1, 2), (4, 2), (2, 2)):
        with pytest.raises(BadOption):
            TemporalConfig(long_term=bad)
    clip = make_clip(tmp_path / "in.mp4", frames=2)
    capsys.readouterr()
    assert run_cli("video", clip, "--style", style_file, "-o", tmp_path / "o.mp4", "--long-term", "2,x") == 2
    assert "--long-term" in capsys.readouterr().err


def _two_shots(folder: Path) -> Path:
    """Four frames of one panning shot, then five of another: a scene cut at frame 4."""
    first = panning_texture(frames=4)
    second = [np.ascontiguousarray(np.flipud(f)[:, :, ::-1]) for f in panning_texture(frames=5, step=3)]
    folder.mkdir()
    for i, f in enumerate(first + second):
        Image.fromarray(f).save(folder / f"f{i:02d}.png")
    return folder


def test_long_term_resume_equals_an_uninterrupted_run_across_a_scene_cut(tmp_path):
    source = _two_shots(tmp_path / "src")
    temporal = TemporalConfig(iterations=2, first_iterations=5, long_term=(2, 4))
    clip = ClipConfig(size=None)

    def run(out: Path, stop_after: int | None = None):
        def stop(p):
            if stop_after is not None and p.step is None and p.finished == stop_after:
                raise KeyboardInterrupt

        return stylize_video(source, f"{out}/", [blobs()], style=FAST, temporal=temporal, clip=clip,
                             callback=stop)

    fresh = run(tmp_path / "fresh")
    assert fresh.scene_cuts == [4]
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", stop_after=6)  # two frames after the cut
    resumed = run(tmp_path / "resumed")
    assert resumed.resumed == 6
    a = sorted((tmp_path / "fresh").glob("*.png"))
    b = sorted((tmp_path / "resumed").glob("*.png"))
    assert len(a) == len(b) == 9
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(np.asarray(Image.open(x)), np.asarray(Image.open(y))), x.name


def test_long_term_history_starts_again_at_a_cut():
    from videostyle.engine.optimize import Stylizer
    from videostyle.engine.temporal import TemporalStylizer

    frames = panning_texture(frames=3)
    temporal = TemporalStylizer(Stylizer([stripes()], FAST),
                                TemporalConfig(iterations=1, first_iterations=2, long_term=(2,)))
    temporal.next(frames[0])
    temporal.next(frames[1], flow=None, cut=True)
    assert len(temporal.history) == 1 and temporal.since_restart == 1
