"""Keyframes (painted frames carried along the motion both ways) and multi-pass, on tiny
lossless clips: image folders of a panning texture, so the motion is known to the pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_text import raises_cli
from PIL import Image
from synthetic import blobs, panning_texture, scene, stripes, write_rgb

from videostyle.cli import main
from videostyle.config import ClipConfig, StyleConfig, TemporalConfig
from videostyle.errors import BadInput, BadOption
from videostyle.jobs import VideoRequest
from videostyle.jobs.specs import KeyframeSpec, parse_keyframe
from videostyle.video.job import stylize_video
from videostyle.video.keyframes import (
    ClipKeyframes,
    Keyframe,
    KeyframeImage,
    KeyframeTargets,
    Piece,
    edge_layout,
    edge_match,
    meeting_share,
    plan_pieces,
    step_share,
)
from videostyle.video.originals import ClipFrames

FAST = StyleConfig(device="cpu", precision="fp32")
FEW = TemporalConfig(iterations=2, first_iterations=4)
STEP = 2  # px the panning texture moves per frame (leftwards)
GREEN = np.array([20, 230, 40], np.uint8)


def clip_folder(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir()
    for i, frame in enumerate(frames):
        write_rgb(folder / f"f_{i + 1:03d}.png", frame)
    return folder


def painted(frame: np.ndarray, tint: tuple[int, int, int], mark: tuple[int, int] | None = None) -> np.ndarray:
    """A 'painting' of ``frame``: its colours pulled towards ``tint``, with a green square at ``mark`` (x, y)."""
    image = (0.55 * frame + 0.45 * np.array(tint)).astype(np.uint8)
    if mark is not None:
        x, y = mark
        image[y - 4:y + 4, x - 4:x + 4] = GREEN
    return image


def green_x(frame: np.ndarray) -> float | None:
    """Mean column of the clearly green pixels (the mark), or None."""
    f = frame.astype(int)
    green = (f[..., 1] - (f[..., 0] + f[..., 2]) / 2) > 90
    return float(np.nonzero(green)[1].mean()) if green.sum() >= 6 else None


def read_folder(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("frame_*.png"))]


def run(clip: Path, out: Path, keys: list[KeyframeImage], **options) -> list[np.ndarray]:
    options.setdefault("styles", [])
    styles = options.pop("styles")
    stylize_video(clip, f"{out}/", styles, style=FAST, temporal=options.pop("temporal", FEW),
                  clip=ClipConfig(size=None), keyframes=keys, **options)
    return read_folder(out)


@pytest.fixture(scope="module")
def pan(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    frames = panning_texture(frames=10, step=STEP)
    return clip_folder(tmp_path_factory.mktemp("pan") / "clip", frames), frames


# -- what a user writes ----------------------------------------------------------------------
def test_keyframe_specs_parse_seconds_and_frame_numbers():
    assert parse_keyframe("2.5:a.png") == KeyframeSpec("a.png", seconds=2.5)
    assert parse_keyframe("#10:dir/b:c.png") == KeyframeSpec("dir/b:c.png", frame=10)
    assert parse_keyframe(KeyframeSpec("x.png", frame=1)).frame == 1
    for bad, words in (("a.png", "give T:IMAGE"), ("two:a.png", "neither seconds nor #N"),
                       ("#0:a.png", "numbered from #1"), ("-1:a.png", "must be >= 0"), (":a.png", "give T:IMAGE"),
                       ("2: ", "the name is empty")):
        with raises_cli(BadOption, f"--keyframe .*{words}"):
            parse_keyframe(bad)


def test_a_clip_with_keyframes_needs_no_style_and_one_without_needs_one(tmp_path):
    assert VideoRequest(input="in.mp4", output="o.mp4", style=[], keyframe=["1:k.png"]).style == ()
    with raises_cli(BadOption, r"--style: give at least one style, or keyframes \(--keyframe\)"):
        VideoRequest(input="in.mp4", output="o.mp4", style=[])
    with raises_cli(BadOption, "--passes 0: must be at least 1"):
        VideoRequest(input="in.mp4", output="o.mp4", style=["s.png"], passes=0)


# -- the pieces and the meeting ----------------------------------------------------------------
def keys_at(count: int, *indices: int, cuts: tuple[int, ...] = ()) -> ClipKeyframes:
    blank = np.zeros((4, 4, 3), np.uint8)
    return ClipKeyframes(tuple(Keyframe(i, blank, f"k{i}") for i in indices), count, cuts)


def test_pieces_go_outwards_from_keyframes_and_meet_between_them_shot_by_shot():
    plan = plan_pieces(keys_at(20, 4, 9, cuts=(12,)))
    assert plan == [Piece("outward", 4, -1), Piece("between", 4, 9), Piece("outward", 9, 12), Piece("fresh", 12, 20)]
    assert plan[0].frames == [3, 2, 1, 0] and plan[1].frames == [5, 6, 7, 8] and plan[2].frames == [10, 11]
    made = sorted(i for piece in plan for i in piece.frames)
    assert made == sorted(set(range(20)) - {4, 9})  # every other frame once
    assert plan_pieces(keys_at(3, 0, 1, 2)) == []


def test_the_meeting_closes_the_gap_in_equal_steps_where_the_backward_chain_holds():
    before = np.zeros((2, 2), np.float32)
    trust = np.array([[1.0, 1.0], [0.0, 0.5]], np.float32)
    shares = []
    for t in (0.25, 0.5, 0.75):
        after = meeting_share(before, t, trust)
        w = step_share(before, after)
        assert np.allclose(before + w * (1 - before), after)  # the blend reaches that share
        before = after
        shares.append(after.copy())
    assert np.allclose([s[0, 0] for s in shares], [0.25, 0.5, 0.75])  # the time share where trusted
    assert np.all(shares[-1][1, 0] == 0)  # never pushed towards a draft that does not follow the pixel
    assert all(np.all(b >= a) for a, b in zip(shares, shares[1:], strict=False))  # never back
    assert np.all(step_share(np.ones((1, 1)), np.ones((1, 1))) == 1)  # unreliable warp: the draft alone


def test_targets_blend_the_keyframes_by_time_and_the_nearest_holds_outside():
    from videostyle.io import VideoInfo

    info = VideoInfo(path="x", width=4, height=4, fps=10.0, frame_count=30, duration=3.0, has_audio=False)
    looks = KeyframeTargets(keys_at(30, 10, 20), info)
    assert looks(0).weights == (1.0, 0.0) and looks(29).weights == (0.0, 1.0)
    assert np.allclose(looks(15).weights, (0.5, 0.5)) and np.allclose(looks(12).weights, (0.8, 0.2))
    with_style = KeyframeTargets(keys_at(30, 10, 20), info, styles=[2.0, 2.0])
    assert np.allclose(with_style(15).weights, (0.25, 0.25, 0.25, 0.25))


def test_clip_frames_gives_any_frame_reading_backwards_in_bounded_windows(pan):
    folder, frames = pan
    from videostyle.io import open_source

    with ClipFrames(lambda: open_source(folder, size=None), frame_bytes=frames[0].nbytes,
                    window_bytes=3 * frames[0].nbytes) as originals:
        originals.step = -1
        for i in range(9, -1, -1):
            assert np.array_equal(originals[i], frames[i])
        assert len(originals._frames) <= 8 and originals.reads >= 2
        originals.step = 1
        assert np.array_equal(originals[9], frames[9])


def test_the_edge_layout_ignores_colours_but_not_the_picture():
    photo = scene(96, 72)
    recoloured = (255 - photo) // 2 + np.array([0, 60, 0], np.uint8)
    assert edge_match(edge_layout(photo), edge_layout(recoloured)) > 0.9
    assert edge_match(edge_layout(photo), edge_layout(blobs(96, 72))) < 0.45


# -- runs ----------------------------------------------------------------------------------------
def test_keyframes_are_the_output_at_their_frames_and_their_mark_follows_the_motion_backwards(tmp_path, pan):
    folder, frames = pan
    early = painted(frames[4], (40, 40, 200), mark=(24, 24))  # frame #5, with a green mark
    late = painted(frames[8], (200, 40, 40))  # frame #9, painted at twice the size
    big = np.asarray(Image.fromarray(late).resize((128, 96), Image.LANCZOS))
    keys = [KeyframeImage(big, "late.png", seconds=8 / 24), KeyframeImage(early, "early.png", frame=5)]
    out = run(folder, tmp_path / "out", keys, keep_work=True)
    from videostyle.io.images import resize_frame

    assert len(out) == 10
    assert np.array_equal(out[4], early)
    assert np.array_equal(out[8], resize_frame(big, 64, 48))
    # before the first keyframe its mark sits where the texture was: STEP px further right per frame back
    for t in (3, 2, 1, 0):
        x = green_x(out[t])
        assert x is not None and abs(x - (23.5 + STEP * (4 - t))) <= 2, (t, x)
    x = green_x(out[5])  # and it goes on forwards, fading towards the late keyframe, which has none
    assert x is not None and abs(x - (23.5 - STEP)) <= 2, x
    assert green_x(out[7]) is None and green_x(out[9]) is None
    # the look moves from the early keyframe's to the late one's in between
    redness = [float(f[..., 0].mean() - f[..., 2].mean()) for f in out]
    assert redness[4] < redness[5] < redness[6] < redness[7] < redness[8]
    assert redness[0] < 0 < redness[9]  # before the first and after the last the nearest holds
    assert not list((tmp_path / ".out.videostyle").glob("draft_*")), "the backward drafts are spent"


def test_a_keyframe_run_resumes_where_it_stopped_and_makes_the_same_frames(tmp_path, pan):
    folder, frames = pan
    keys = [KeyframeImage(painted(frames[1], (40, 200, 40)), "a.png", frame=2),
            KeyframeImage(painted(frames[7], (200, 40, 200)), "b.png", frame=8)]
    whole = run(folder, tmp_path / "whole", keys)
    seen = []

    def stop_midway(p):
        if p.step is None:
            seen.append(p.frame)
            if len(seen) == 6:  # both keyframes, the lead-in, and one frame between
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(folder, tmp_path / "again", keys, callback=stop_midway)
    work = tmp_path / ".again.videostyle"
    assert 0 < len(list(work.glob("frame_*.png"))) < 10
    again = run(folder, tmp_path / "again", keys)
    for t, (a, b) in enumerate(zip(whole, again, strict=True)):
        assert np.array_equal(a, b), t


# -- refused before any work -------------------------------------------------------------------
@pytest.fixture
def keyframe_files(tmp_path, pan):
    folder, frames = pan
    files = {"good": write_rgb(tmp_path / "good.png", painted(frames[4], (200, 40, 40))),
             "square": write_rgb(tmp_path / "square.png", painted(frames[4][:, :48], (200, 40, 40))),
             "other": write_rgb(tmp_path / "other.png", scene(64, 48, seed=3)),
             "early": write_rgb(tmp_path / "early.png", painted(frames[0], (200, 40, 40))),
             "style": write_rgb(tmp_path / "style.png", stripes())}
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    files["broken"] = str(tmp_path / "broken.png")
    return folder, files


def test_hostile_keyframes_are_refused_in_one_line_before_any_work(tmp_path, keyframe_files, capsys):
    folder, f = keyframe_files
    out = tmp_path / "o.mp4"
    cases = [
        (["--keyframe", f"5:{f['good']}"], "lies after the clip's end"),
        (["--keyframe", f"#11:{f['good']}"], "lies after the clip's end"),
        (["--keyframe", f"#5:{f['good']}", "--keyframe", f"{4 / 24 + 0.01}:{f['early']}"], "both fall on frame #5"),
        (["--keyframe", f"#5:{f['square']}"], "another shape than the clip's 64x48"),
        (["--keyframe", f"#5:{f['broken']}"], "broken.png"),
        (["--keyframe", f"#5:{tmp_path / 'missing.png'}"], "no such file"),
        (["--keyframe", f"#5:{f['other']}"], "does not look like frame #5 .*edges"),
        (["--keyframe", f"#9:{f['early']}"], "looks like frame #1 .* rather than frame #9"),
        (["--keyframe", f"#5:{f['good']}", "--workers", "2"], "one worker"),
        (["--keyframe", f"#5:{f['good']}", "--temporal", "warm"], "drop --temporal warm"),
        (["--keyframe", f"#5:{f['good']}", "--seamless-loop"], "--seamless-loop do not work together"),
        (["--keyframe", f"#5:{f['good']}", "--preserve-colors"], "--preserve-colors cannot apply"),
        (["--keyframe", f"#5:{f['good']}", "--mask", f['good']], "--mask do not work together"),
        (["--style", f["style"], "--passes", "2", "--seamless-loop"], "--passes"),
    ]
    for args, words in cases:
        capsys.readouterr()
        code = main(["video", str(folder), "-o", str(out), "--size", "64", "--device", "cpu", "--quiet", *args])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0, (args, err)
        assert err.startswith("videostyle: error: ") and __import__("re").search(words, err), (args, err)
        assert "--keyframe" in err or "--passes" in err or "--workers" in err, err
        assert not out.exists() and not (tmp_path / ".o.mp4.videostyle").exists(), args


def test_the_check_names_the_file_and_what_was_compared(tmp_path, keyframe_files):
    folder, f = keyframe_files
    from videostyle.io import read_image

    with raises_cli(BadInput, r"--keyframe .*other\.png: does not look like frame #5 \(0\.\d\d s\) \(correlation "
                              r"of the edges' layout .*: -?0\.\d\d, at least 0\.45 expected"):
        run(folder, tmp_path / "o", [KeyframeImage(read_image(f["other"]), f["other"], frame=5)])


# -- multi-pass ----------------------------------------------------------------------------------
def test_a_second_pass_reuses_the_first_and_resumes_midway_to_the_same_frames(tmp_path, pan):
    folder, _ = pan
    styles = [stripes()]
    first = run(folder, tmp_path / "one", [], styles=styles, keep_work=True)
    events: list[str] = []

    def record(p):
        if p.step is None:
            events.append(p.stage)

    two = run(folder, tmp_path / "one", [], styles=styles, passes=2, force=True, callback=record)
    assert "stylize" not in events and events.count("pass 2") == 10  # pass 1's frames were reused
    assert any(not np.array_equal(a, b) for a, b in zip(first, two, strict=True))
    from videostyle.video.metrics import warping_error

    originals = panning_texture(frames=10, step=STEP)
    assert warping_error(originals, two).e_warp < warping_error(originals, first).e_warp

    whole = run(folder, tmp_path / "whole", [], styles=styles, passes=2)
    stops = []

    def stop_in_pass_two(p):
        if p.step is None and p.stage == "pass 2":
            stops.append(p.frame)
            if len(stops) == 4:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(folder, tmp_path / "cut", [], styles=styles, passes=2, callback=stop_in_pass_two)
    with raises_cli(BadOption, r"--passes 1: the work folder .* holds frames of pass 2; give --passes 2"):
        run(folder, tmp_path / "cut", [], styles=styles, passes=1)
    resumed = run(folder, tmp_path / "cut", [], styles=styles, passes=2)
    for t, (a, b) in enumerate(zip(whole, resumed, strict=True)):
        assert np.array_equal(a, b), t


def test_passes_keep_the_keyframes(tmp_path, pan):
    folder, frames = pan
    key = painted(frames[4], (200, 40, 40))
    out = run(folder, tmp_path / "o", [KeyframeImage(key, "k.png", frame=5)], passes=3)
    assert np.array_equal(out[4], key)
