"""What an outside probe of unusual inputs found (issue 26), each case a test: no silent wrong
result (refused, or honoured and said), no wrong or late error, help that shows only what a
command takes. The hostile-input table (test_hostile.py) holds the refusals that fit its
one-line, before-any-work, nothing-changed pattern; the web page's are in test_web_api.py."""

from __future__ import annotations

import os
import re
import shlex
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from cli_text import cli_text
from synthetic import scene, stripes, write_rgb

from videostyle.config import MIN_MEMORY, StyleConfig, human_bytes, parse_bytes
from videostyle.errors import BadOption


# -- sizes in human units (6) -------------------------------------------------------------------
@pytest.mark.parametrize(("count", "shown"), [
    (0, "0 bytes"), (1, "1 byte"), (700, "700 bytes"), (1024, "1 KB"), (1536, "1.5 KB"),
    (512 * 2**20, "512 MB"), (int(2.3 * 2**30), "2.3 GB"), (2**30 - 2**19, "1 GB"), (int(24.6 * 2**30), "25 GB"),
    (MIN_MEMORY, "256 MB"), (5 * 2**40, "5 TB"),
])
def test_a_byte_count_reads_in_human_units(count, shown):
    assert human_bytes(count) == shown


def test_a_small_size_is_never_zero_point_zero_of_a_large_unit():
    for count in (1, 10, 5 * 2**10, 3 * 2**20, 40 * 2**20, 900 * 2**20):
        figure = human_bytes(count).split()[0]
        assert float(figure) >= 1, human_bytes(count)


@pytest.mark.parametrize(("given", "shown"),
                         [("2GB", "2 GB"), ("512MB", "512 MB"), ("1.5G", "1.5 GB"), ("300m", "300 MB")])
def test_a_size_given_reads_back_as_given(given, shown):
    assert human_bytes(parse_bytes("max_memory", given)) == shown


def test_a_memory_limit_below_the_least_is_refused_in_human_units_not_bytes():
    with pytest.raises(BadOption) as refused:
        StyleConfig(max_memory=1024)
    assert cli_text(refused.value) == "--max-memory 1 KB: must be at least 256 MB"


# -- timelines: one ordering rule, no silent merge (1) ---------------------------------------
def _video(*argv: str):
    from videostyle.cli.options import video_request
    from videostyle.cli.parser import build_parser

    return video_request(build_parser().parse_args(["video", "in.mp4", "-o", "out.mp4", *argv]))


def test_a_style_back_at_an_earlier_time_is_refused_not_merged_into_that_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.png", "b.png", "c.png"):
        write_rgb(tmp_path / name, stripes(16, 16))
    with pytest.raises(BadOption) as refused:
        _video("-s", "a.png", "-s", "b.png@0.1", "-s", "c.png@0")
    assert cli_text(refused.value) == ("--style c.png@0: the times are out of order (0 s after 0.1 s); give the "
                                       "styles in time order, blends of one time together")
    # one time's styles given together are the documented blend, and stay so
    styles, schedule = _video("-s", "a.png", "-s", "c.png@0", "-s", "b.png@0.1").schedule()
    assert schedule is not None and [e.start for e in schedule.entries] == [0, 0.1]
    assert schedule.entries[0].weights == (1.0, 1.0, 0.0) and schedule.entries[1].weights == (0.0, 0.0, 1.0)


def test_the_page_reads_its_timeline_by_the_command_lines_rule(tmp_path):
    from videostyle.web.jobs import JobRequest
    from videostyle.web.words import page_message

    a, b = (Path(write_rgb(tmp_path / name, stripes(16, 16))) for name in ("a.png", "b.png"))
    with pytest.raises(BadOption) as refused:  # the page sorted this; the command line refuses it
        JobRequest(input=Path("in.mp4"), styles=((a, 1.0), (b, 1.0)), style_starts=(4.0, 0.0))
    assert page_message(refused.value).startswith("the style b.png@0: the times are out of order (0 s after 4 s)")
    assert str(tmp_path) not in page_message(refused.value)
    page = JobRequest(input=Path("in.mp4"), styles=((a, 1.0), (b, 1.0)), style_starts=(0.0, 4.0)).schedule()
    cli = _video("-s", str(a), "-s", f"{b}@4").schedule()[1]
    assert page == cli
    assert JobRequest(input=Path("in.mp4"), styles=((a, 1.0), (b, 1.0)), style_starts=(0.0, 0.0)).schedule() is None


# -- what a message repeats of a user's text is bounded -----------------------------------------
def test_a_long_value_is_not_echoed_back_whole(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_rgb(tmp_path / "a.png", stripes(16, 16))
    for argv in (["-s", "a.png@" + "x" * 10_000], ["-s", "a.png", "--strength", "y" * 10_000],
                 ["-s", "a.png", "--long-term", "z" * 10_000], ["-s", "a.png", "--max-memory", "9" * 5000 + "XB"]):
        with pytest.raises(BadOption) as refused:
            _video(*argv)
        message = cli_text(refused.value)
        assert len(message) < 300 and "characters)" in message, message[:400]


# -- masks: alpha, another shape, a still GIF (2, 4) ------------------------------------------
def _rgba_half(width: int = 48, height: int = 36, *, mark: int = 0) -> np.ndarray:
    """White everywhere, opaque on the left half and transparent on the right: a cut-out."""
    rgba = np.full((height, width, 4), 255, np.uint8)
    rgba[:, width // 2:, 3] = 0
    rgba[0, mark, :3] = 0  # frames of a GIF must differ, or Pillow stores one
    return rgba


def _left_right(mask) -> tuple[float, float]:
    frame = mask.at(0)
    width = frame.shape[1]
    return float(frame[:, : width // 2 - 2].mean()), float(frame[:, width // 2 + 2:].mean())


def test_a_transparent_pixel_of_a_mask_is_black_in_a_picture_a_folder_and_a_gif(tmp_path):
    from PIL import Image

    from videostyle.video.masks import read_mask

    Image.fromarray(_rgba_half(), "RGBA").save(tmp_path / "cutout.png")
    left, right = _left_right(read_mask(tmp_path / "cutout.png", 48, 36, styles=2))
    assert left > 0.99 and right < 0.01
    (tmp_path / "frames").mkdir()
    for i in range(3):
        Image.fromarray(_rgba_half(mark=i), "RGBA").save(tmp_path / "frames" / f"m{i}.png")
    left, right = _left_right(read_mask(tmp_path / "frames", 48, 36, frames=3, styles=2))
    assert left > 0.99 and right < 0.01
    gif = [Image.fromarray(_rgba_half(mark=i), "RGBA") for i in range(3)]
    gif[0].save(tmp_path / "cutout.gif", save_all=True, append_images=gif[1:], duration=100, loop=0, disposal=2)
    masks = read_mask(tmp_path / "cutout.gif", 48, 36, frames=3, styles=2)
    assert len(masks.frames) == 3
    left, right = _left_right(masks)
    assert left > 0.99 and right < 0.01


def test_a_mask_of_another_shape_is_fitted_without_stretching_and_said(tmp_path):
    from videostyle.errors import VideostyleWarning
    from videostyle.video.masks import read_mask

    square = np.zeros((64, 64, 3), np.uint8)
    square[16:48, 16:48] = 255  # a white square in the middle
    write_rgb(tmp_path / "square.png", square)
    with pytest.warns(VideostyleWarning, match=r"square.png is 64x64 and the output 96x48, another shape.*no stretch"):
        frame = read_mask(tmp_path / "square.png", 96, 48, styles=2).at(0)
    rows, cols = np.nonzero(frame > 0.5)
    assert np.ptp(rows) == np.ptp(cols)  # still a square: stretched it would be twice as wide as tall
    write_rgb(tmp_path / "same.png", np.repeat(square, 2, axis=1))  # 128x64: the output's shape
    write_rgb(tmp_path / "source.png", np.repeat(square, 3, axis=1)[:, :96][:64])  # 96x64, the source's 3:2
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", VideostyleWarning)
        read_mask(tmp_path / "same.png", 96, 48, styles=2)
        read_mask(tmp_path / "source.png", 32, 20, styles=2)  # the source's shape, at 32 px rounded to even sides


def test_a_refused_mask_is_refused_without_a_warning_about_its_shape(tmp_path):
    import warnings

    from videostyle.errors import BadInput, VideostyleWarning
    from videostyle.video.masks import read_mask

    write_rgb(tmp_path / "white.png", np.full((64, 64, 3), 255, np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", VideostyleWarning)
        with pytest.raises(BadInput, match="all one value"):
            read_mask(tmp_path / "white.png", 96, 48, styles=2)


def test_a_gif_of_one_frame_is_a_mask_picture_for_every_frame(tmp_path):
    from PIL import Image

    from videostyle.video.masks import read_mask

    half = np.zeros((36, 48), np.uint8)
    half[:, :24] = 255
    Image.fromarray(half).save(tmp_path / "still.gif")
    masks = read_mask(tmp_path / "still.gif", 48, 36, frames=5, styles=2)
    assert len(masks.frames) == 1 and masks.at(4)[:, :20].min() == 1.0 and masks.at(4)[:, 28:].max() == 0.0


# -- a stopped picture says what is true (9) ----------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_picture_says_no_picture_was_written_not_that_frames_are_kept(tmp_path, monkeypatch, capsys,
                                                                               signum):
    import videostyle
    from videostyle.cli import main

    def stopped(*args, **kwargs):
        os.kill(os.getpid(), signum)  # as `kill` or Ctrl-C would, in the middle of the work
        time.sleep(30)
        raise AssertionError("the signal did not stop the job")

    monkeypatch.setattr(videostyle, "stylize_image", stopped)
    monkeypatch.chdir(tmp_path)
    write_rgb(tmp_path / "photo.png", scene(32, 24))
    write_rgb(tmp_path / "style.png", stripes(16, 16))
    code = main(["image", "photo.png", "-s", "style.png", "-o", "out.png", "--size", "32", "-q"])
    err = capsys.readouterr().err.strip()
    name = signal.Signals(signum).name
    assert code == (128 + signum if signum != signal.SIGINT else 130), err
    assert err in (f"videostyle: stopped by {name}; no picture was written (a picture is written only once it "
                   "is finished)",
                   "videostyle: interrupted; no picture was written (a picture is written only once it is finished)")
    assert "frames" not in err and "resume" not in err and not (tmp_path / "out.png").exists()


# -- each command's help shows what it takes, and one example (10) -----------------------------
def _help(command: str) -> tuple[str, set[str]]:
    """``videostyle COMMAND --help`` as printed, and the command's own flags."""
    import contextlib
    import io

    from videostyle.cli.parser import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    text = io.StringIO()
    with contextlib.redirect_stdout(text), pytest.raises(SystemExit):
        parser.parse_args([command, "--help"])
    return text.getvalue(), {s for a in sub._actions for s in a.option_strings}


COMMANDS = ("image", "video", "eval", "demo", "webcam", "serve", "doctor")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_commands_help_names_only_its_own_flags_and_ends_with_one_example(command):
    text, flags = _help(command)
    unwrapped = " ".join(re.sub(r"-\n\s+", "-", text).split())  # argparse wraps lines, also at a hyphen
    unwrapped = unwrapped.replace("ray start --head", "")  # a command line shown, not a flag of this one
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", unwrapped))
    assert named <= flags, f"{command} --help names flags it does not take: {sorted(named - flags)}"
    examples = [line for line in text.splitlines() if line.startswith("example: ")]
    assert len(examples) == 1 and examples[0].startswith(f"example: videostyle {command}")
    argv = shlex.split(examples[0].removeprefix("example: videostyle "))
    from videostyle.cli.parser import build_parser

    build_parser().parse_args(argv)  # the example is a command line the parser takes


@pytest.mark.parametrize("command", ["image", "webcam"])
def test_the_help_of_a_command_without_times_advertises_none(command):
    text, _ = _help(command)
    assert "@T" not in text and "S@T" not in text and "video:" not in text, text
    assert "a frame" not in text or command == "webcam"  # a picture's help speaks of the picture only


def test_the_video_help_shows_the_times_it_takes():
    text, _ = _help("video")
    assert "IMAGE[:WEIGHT][@T]" in text and "S[@T]" in text and "content|noise|IMAGE" not in text


def test_a_picture_too_large_for_the_memory_limit_is_refused_in_human_units(tmp_path, monkeypatch, capsys):
    from videostyle.cli import main

    monkeypatch.chdir(tmp_path)
    write_rgb(tmp_path / "photo.png", scene(48, 36))
    write_rgb(tmp_path / "style.png", stripes(32, 32))
    code = main(["image", "photo.png", "-s", "style.png", "-o", "out.png", "--size", "20000", "--max-memory", "300MB",
                 "--device", "cpu", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err, err
    assert re.search(r"needs about \d+(\.\d)? [KMGTP]B on cpu .* and --max-memory 300 MB leaves (nothing|\d+(\.\d)? "
                     r"[KMG]B) beside the \d+(\.\d)? [MG]B this process holds", err), err
    assert "0.0 GB" not in err and not re.search(r"\d{7,}", err), err
