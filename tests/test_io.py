"""Frame sources and sinks on tiny media generated in tmp_path (no files from ../shared)."""

from __future__ import annotations

import re
import subprocess
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import synthetic
from cli_text import raises_cli
from PIL import Image, ImageOps

from videostyle.errors import BadInput, BadOption, BadOutput, BadSource, VideostyleWarning
from videostyle.io import check_output, open_sink, open_source, probe, read_image, write_image
from videostyle.io.ffmpeg import ffmpeg_exe

FFMPEG = ffmpeg_exe()


def make_clip(path: Path, *, seconds: float = 2.0, **options) -> Path:
    """The shared test clip, measured in seconds here (2 s unless told)."""
    return synthetic.make_clip(path, seconds=seconds, **options)


def report(path: Path) -> str:
    """ffmpeg's description of a file (its stderr for ``-i``)."""
    return subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def report_duration(path: Path) -> float:
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", report(path)).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def report_fps(path: Path) -> float:
    return float(re.search(r"Video: .*?([\d.]+) fps", report(path))[1])


def synthetic_frames(count: int, width: int = 32, height: int = 24) -> list[np.ndarray]:
    """Frames that differ from one another: a bright bar moving over a gradient."""
    base = np.zeros((height, width, 3), np.uint8)
    base[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    base[..., 2] = np.linspace(255, 0, height, dtype=np.uint8)[:, None]
    frames = []
    for i in range(count):
        frame = base.copy()
        frame[:, (i * 3) % width: (i * 3) % width + 3] = 255
        frames.append(frame)
    return frames


def gif_blocks(data: bytes) -> tuple[bool, list[bool], list[int]]:
    """(has a global colour table, each image's local-table flag, each frame's delay in cs)."""
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    local, delays = [], []
    while data[pos] != 0x3B:
        if data[pos] == 0x21:  # extension: label, then sub-blocks
            if data[pos + 1] == 0xF9:
                delays.append(int.from_bytes(data[pos + 4: pos + 6], "little"))
            pos += 2
        else:  # image descriptor, optional local table, LZW code size, then sub-blocks
            image_flags = data[pos + 9]
            local.append(bool(image_flags & 0x80))
            pos += 10 + (3 * 2 ** ((image_flags & 7) + 1) if image_flags & 0x80 else 0) + 1
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    return bool(flags & 0x80), local, delays


def leftovers(folder: Path, *keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# -- video files ----------------------------------------------------------------------------
def test_mp4_round_trip_keeps_count_size_and_rate(tmp_path):
    out = tmp_path / "out.mp4"
    frames = synthetic_frames(7)
    with open_sink(out, fps=12) as sink:
        for frame in frames:
            sink.write(frame)
    assert sink.frames_written == 7
    with open_source(out) as source:
        got = list(source)
        assert (source.info.width, source.info.height, source.info.fps) == (32, 24, 12)
    assert len(got) == 7 and got[0].shape == (24, 32, 3) and got[0].dtype == np.uint8
    assert np.abs(got[3].astype(int) - frames[3]).mean() < 12
    assert probe(out).frame_count == 7


def test_audio_is_kept_with_the_same_duration_and_rate(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=2, audio=True)
    out = tmp_path / "out.mp4"
    with open_source(clip) as source:
        info = source.info
        frames = list(source)
    assert info.has_audio and len(frames) == 20
    with open_sink(out, fps=info.fps, audio_from=str(clip), audio_duration=len(frames) / info.fps) as sink:
        for frame in frames:
            sink.write(frame)
    assert re.search(r"Stream #0:\d+.*: Audio: aac", report(out))
    assert report_fps(out) == pytest.approx(report_fps(clip))
    assert abs(report_duration(out) - report_duration(clip)) <= 1 / info.fps + 1e-6
    assert probe(out).frame_count == 20


def test_uneven_frame_durations_give_a_variable_rate_mp4_with_those_times(tmp_path):
    """A GIF's delays (10 ms steps, here 37 frames in runs and singles) become the mp4's
    timestamps exactly; the last frame keeps its own duration."""
    rng = np.random.default_rng(4)
    delays = [int(d) for d in rng.choice([20, 40, 100, 500, 1000], size=37)] + [70, 70, 70]
    out = tmp_path / "vfr.mp4"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every delay fits: no warning
        with open_sink(out, fps=10, frame_durations=[d / 1000 for d in delays]) as sink:
            for frame in synthetic_frames(len(delays)):
                sink.write(frame)
    starts, duration = synthetic.frame_times(out)
    expected = np.cumsum([0, *delays])[:-1] / 1000
    assert len(starts) == len(delays) and np.abs(np.array(starts) - expected).max() < 1e-3, starts
    assert duration == pytest.approx(sum(delays) / 1000, abs=0.011)


def test_even_frame_durations_give_a_constant_rate(tmp_path):
    out = tmp_path / "cfr.mp4"
    with open_sink(out, fps=8, frame_durations=[0.125] * 5) as sink:
        for frame in synthetic_frames(5):
            sink.write(frame)
    starts, duration = synthetic.frame_times(out)
    assert starts == pytest.approx([0, 0.125, 0.25, 0.375, 0.5]) and report_fps(out) == 8


def test_a_timing_too_irregular_to_keep_is_the_average_rate_with_a_warning(tmp_path, monkeypatch):
    from videostyle.io import sinks

    monkeypatch.setattr(sinks, "MAX_TIMING_EXPRESSION", 40)
    out = tmp_path / "avg.mp4"
    delays = [0.1, 0.5, 0.1, 1.0]
    with pytest.warns(VideostyleWarning, match="average rate"), \
            open_sink(out, fps=len(delays) / sum(delays), frame_durations=delays) as sink:
        for frame in synthetic_frames(4):
            sink.write(frame)
    starts, duration = synthetic.frame_times(out)
    assert len(starts) == 4 and duration == pytest.approx(1.7, abs=0.01)


@pytest.fixture
def two_tracks(tmp_path) -> Path:
    """A 1 s clip with two audio tracks: 440 Hz (say, the film) and 1000 Hz (a commentary)."""
    clip = tmp_path / "two-tracks.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=10",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000",
                    "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=8000",
                    "-map", "0:v", "-map", "1:a", "-map", "2:a", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", str(clip)], check=True)
    return clip


def _tone(path: Path, track: int) -> float:
    """The loudest frequency (Hz) of audio track ``track``."""
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", f"0:a:{track}", "-ac", "1",
                          "-ar", "8000", "-f", "s16le", "-"], capture_output=True, check=True).stdout
    samples = np.frombuffer(pcm, np.int16).astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / 8000)[spectrum.argmax()])


def test_every_audio_track_of_the_source_is_kept(tmp_path, two_tracks):
    assert len(re.findall(r"Stream #0:\d+.*: Audio:", report(two_tracks))) == 2
    assert probe(two_tracks).audio_streams == 2
    out = tmp_path / "out.mp4"
    with open_sink(out, fps=10, audio_from=str(two_tracks), audio_duration=1.0) as sink:
        for frame in synthetic_frames(10):
            sink.write(frame)
    assert len(re.findall(r"Stream #0:\d+.*: Audio: aac", report(out))) == 2
    assert _tone(out, 0) == pytest.approx(440, abs=5) and _tone(out, 1) == pytest.approx(1000, abs=5)


def test_silent_source_gives_a_silent_mp4(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=0.5)
    out = tmp_path / "out.mp4"
    with open_sink(out, fps=10, audio_from=str(clip)) as sink:
        for frame in synthetic_frames(5):
            sink.write(frame)
    assert "Audio:" not in report(out) and probe(out).frame_count == 5


def test_odd_sized_frames_are_written_as_an_even_mp4(tmp_path):
    out = tmp_path / "odd.mp4"
    with open_sink(out, fps=10) as sink:
        for frame in synthetic_frames(2, width=33, height=25):
            sink.write(frame)
    info = probe(out)
    assert info.width % 2 == 0 and info.height % 2 == 0 and info.frame_count == 2


def test_start_frames_fps_and_size(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=2)  # 20 frames of 64x48 at 10 fps
    cases = [
        (dict(start=0.5), 15, (64, 48)),
        (dict(frames=3), 3, (64, 48)),
        (dict(duration=0.5), 5, (64, 48)),
        (dict(fps=5), 10, (64, 48)),
        (dict(size=32), 20, (32, 24)),
        (dict(start=1.0, frames=4, fps=20, size=16), 4, (16, 12)),
    ]
    for options, count, size in cases:
        with open_source(clip, **options) as source:
            frames = list(source)
            assert len(frames) == count, options
            assert frames[0].shape == (size[1], size[0], 3), options
            assert (source.info.width, source.info.height) == size, options
            assert source.info.frame_count == count, options


def test_even_makes_odd_inputs_even(tmp_path):
    clip = make_clip(tmp_path / "odd.mp4", seconds=0.2, size="161x97", extra=("-pix_fmt", "yuv444p"))
    for size, expected in ((None, (160, 96)), (161, (160, 96)), (100, (100, 60))):
        with open_source(clip, size=size, even=True) as source:
            frames = list(source)
            assert (source.info.width, source.info.height) == expected, size
            assert frames[0].shape == (expected[1], expected[0], 3) and len(frames) == 2, size
    with open_source(clip) as source:
        assert (source.info.width, source.info.height) == (161, 97)


def test_rotation_metadata_is_applied(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=0.3)
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([FFMPEG, "-v", "error", "-display_rotation", "90", "-i", str(clip), "-c", "copy",
                    str(rotated)], check=True)
    info = probe(rotated)
    assert (info.width, info.height) == (48, 64) and info.rotation in (90, 270)
    with open_source(rotated, size=32) as source:
        frames = list(source)
        assert (source.info.width, source.info.height) == (24, 32)
        assert frames[0].shape == (32, 24, 3) and len(frames) == 3


def test_4_2_0_chroma_is_decoded_smoothly_not_in_2x2_blocks(tmp_path):
    """A colour ramp (red to blue, constant luma-ish) stored losslessly in yuv420p must come
    back as a ramp: blocky chroma (each sample repeated over 2 pixels) flickers on moving
    pictures and doubles their measured warping error."""
    x = np.linspace(0, 255, 64)
    ramp = np.stack([x, np.full_like(x, 128), 255 - x], axis=1)[None].repeat(48, 0).astype(np.uint8)
    clip = tmp_path / "ramp.mp4"
    cmd = [FFMPEG, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x48", "-r", "10", "-i", "-",
           "-frames:v", "2", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p", str(clip)]
    subprocess.run(cmd, input=ramp.tobytes() * 2, check=True)
    with open_source(clip) as source:
        red = next(iter(source))[24, 8:56, 0].astype(float)
    steps = np.abs(np.diff(red))
    within_pairs, across_pairs = steps[0::2].mean(), steps[1::2].mean()
    assert within_pairs > 0.5 * across_pairs  # blocky decoding gives ~0 within a pair


def test_variable_frame_rate_comes_out_at_a_constant_rate(tmp_path):
    clip = tmp_path / "vfr.mkv"
    # 10 frames: the first five 0.1 s apart, the rest 0.3 s apart (2 s in all)
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=10",
                    "-frames:v", "10", "-vf", "setpts='if(lt(N,5),N*0.1,0.5+(N-5)*0.3)/TB'",
                    "-fps_mode", "vfr", "-c:v", "libx264", str(clip)], check=True)
    with open_source(clip, fps=10) as source:
        frames = list(source)
    assert 18 <= len(frames) <= 21  # about 2 s at 10 fps: frames shown longer are repeated


def test_early_break_stops_the_decoder(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=2)
    with open_source(clip) as source:
        for index, _ in enumerate(source):
            if index == 2:
                break
        process = getattr(source, "_process", None)
    assert process is None or process.poll() is not None


# -- GIFs -----------------------------------------------------------------------------------
def test_gif_write_has_one_palette_every_frame_its_duration_and_loops(tmp_path):
    out = tmp_path / "out.gif"
    frames = synthetic_frames(5)
    frames[2] = frames[1].copy()  # a repeated frame must stay a frame of its own
    durations = [0.1, 0.2, 0.1, 0.3, 0.05]
    with open_sink(out, fps=10, frame_durations=durations) as sink:
        for frame in frames:
            sink.write(frame)
    has_global, local, delays = gif_blocks(out.read_bytes())
    assert has_global and local == [False] * 5
    assert delays == [10, 20, 10, 30, 5]
    with Image.open(out) as image:
        assert image.n_frames == 5 and image.info.get("loop") == 0


def test_gif_write_without_durations_uses_fps(tmp_path):
    out = tmp_path / "out.gif"
    with open_sink(out, fps=20) as sink:
        for frame in synthetic_frames(3):
            sink.write(frame)
    assert gif_blocks(out.read_bytes())[2] == [5, 5, 5]


def test_gif_read_yields_every_frame_with_its_duration(tmp_path):
    path = tmp_path / "in.gif"
    frames = [Image.fromarray(f) for f in synthetic_frames(4)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[100, 250, 100, 400], loop=0)
    with open_source(path) as source:
        got = list(source)
        info = source.info
    assert info.is_gif and len(got) == 4 and info.frame_count == 4
    assert info.frame_durations == pytest.approx((0.1, 0.25, 0.1, 0.4))
    assert got[0].shape == (24, 32, 3)
    with open_source(path, start=0.3) as source:
        assert len(list(source)) == 2 and source.info.frame_durations == pytest.approx((0.1, 0.4))


# -- image folders and globs ----------------------------------------------------------------
def _numbered_images(folder: Path) -> None:
    folder.mkdir()
    for number in (10, 2, 1):  # written out of order; value = number, to check the order read
        Image.fromarray(np.full((12, 16, 3), number * 10, np.uint8)).save(folder / f"img{number}.png")
    (folder / "notes.txt").write_text("not an image")


def test_image_folder_is_read_in_natural_order(tmp_path):
    _numbered_images(tmp_path / "frames")
    with open_source(tmp_path / "frames", size=8) as source:
        frames = list(source)
        assert (source.info.width, source.info.height, source.info.frame_count) == (8, 6, 3)
    assert [int(f[0, 0, 0]) for f in frames] == [10, 20, 100]


def test_ppm_pgm_and_upper_case_frames_are_read_in_natural_order(tmp_path):
    """Frame dumps from ffmpeg and from research datasets are often PPM/PGM."""
    folder = tmp_path / "dump"
    folder.mkdir()
    for number, name in ((1, "f1.ppm"), (2, "f2.PGM"), (3, "f3.pnm"), (10, "f10.PPM"), (4, "f4.pbm")):
        value = 255 if name.endswith("pbm") else number * 10
        grey = name.lower().endswith((".pgm", ".pbm"))
        assert cv2.imwrite(str(folder / name.lower()), np.full((12, 16) if grey else (12, 16, 3), value, np.uint8))
        (folder / name.lower()).rename(folder / name)
    (folder / "README.txt").write_text("dataset notes")
    with open_source(folder) as source:
        frames = list(source)
    assert [int(f[0, 0, 0]) for f in frames] == [10, 20, 30, 255, 100]
    assert all(f.shape == (12, 16, 3) for f in frames)


def test_mixed_sizes_are_scaled_to_cover_and_centre_cropped_with_one_warning(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(np.full((24, 32, 3), 50, np.uint8)).save(folder / "a1.png")  # 4:3, sets the size
    tall = np.zeros((64, 32, 3), np.uint8)  # 1:2: its middle is white, its ends black
    tall[16:48] = 255
    Image.fromarray(tall).save(folder / "a2.png")
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(folder / "a3.png")  # 4:3, twice as big
    rule = r"a2.png is 32x64.*cover 32x24 and its centre is kept"
    with pytest.warns(VideostyleWarning, match=rule) as caught, open_source(folder) as source:
        frames = list(source)
    assert len(caught) == 1
    assert [f.shape for f in frames] == [(24, 32, 3)] * 3
    assert (frames[1] == 255).all()  # the centre of the tall one: not stretched, no black bars
    assert (frames[2] == 90).all()


def test_glob_pattern(tmp_path):
    _numbered_images(tmp_path / "frames")
    with open_source(f"{tmp_path}/frames/img*.png", frames=2) as source:
        assert [int(f[0, 0, 0]) for f in source] == [10, 20]


def test_empty_folder_and_unmatched_glob_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadSource, match="empty"):
        open_source(tmp_path / "empty")
    with pytest.raises(BadSource, match=r"nothing\*"):
        open_source(f"{tmp_path}/nothing*.png")


# -- bad inputs -----------------------------------------------------------------------------
def test_bad_video_files_are_refused_in_one_line(tmp_path):
    good = make_clip(tmp_path / "good.mp4", seconds=1)
    text, empty, truncated = synthetic.broken_videos(tmp_path, good)
    for path, words in ((tmp_path / "missing.mp4", "no such file"), (text, "not a video"),
                        (empty, "empty"), (truncated, "not a video")):
        with pytest.raises(BadSource) as caught:
            open_source(path)
        message = str(caught.value)
        assert str(path) in message and words in message and "\n" not in message, message


@pytest.mark.filterwarnings("ignore::videostyle.errors.VideostyleWarning")  # the warning has a test of its own
def test_truncated_file_with_index_first_is_read_as_far_as_it_goes(tmp_path):
    good = make_clip(tmp_path / "good.mp4", seconds=4, extra=("-movflags", "+faststart"))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    try:
        with open_source(truncated) as source:
            frames = list(source)
    except BadSource as error:  # refusing it clearly is fine too
        assert "\n" not in str(error)
    else:
        assert 0 < len(frames) < 40


def test_a_truncated_video_warns_with_both_frame_counts(tmp_path):
    good = make_clip(tmp_path / "good.mp4", seconds=4, extra=("-movflags", "+faststart"))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    counts = r"ends after (\d+) frames, its header announces 40"
    with pytest.warns(VideostyleWarning, match=counts) as caught, open_source(truncated) as source:
        frames = list(source)
    assert str(len(frames)) in str(caught[0].message)


def test_a_video_whose_audio_outlasts_it_gives_no_warning(tmp_path):
    clip = tmp_path / "long-audio.mp4"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=10:duration=1",
                    "-f", "lavfi", "-i", "sine=duration=3", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", str(clip)], check=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_source(clip) as source:
            assert len(list(source)) == 10


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    stored = np.zeros((6, 10, 3), np.uint8)
    stored[:3, :5] = (255, 0, 0)  # a red top-left quarter, so every turn and flip shows
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = orientation
    png = tmp_path / "photo.png"  # lossless, to compare exactly with Pillow's own transpose
    image.save(png, exif=exif.tobytes())
    with Image.open(png) as reference:
        assert np.array_equal(read_image(png), np.asarray(ImageOps.exif_transpose(reference).convert("RGB")))


def test_a_portrait_phone_jpeg_comes_out_upright(tmp_path):
    stored = np.zeros((30, 40, 3), np.uint8)  # stored landscape, as a phone's sensor writes it
    stored[:, :20] = 255  # the left half white: after turning 90° clockwise, the top half
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    image.save(tmp_path / "portrait.jpg", exif=exif.tobytes(), quality=95)
    upright = read_image(tmp_path / "portrait.jpg")
    assert upright.shape == (40, 30, 3)
    assert upright[:15].mean() > 200 and upright[25:].mean() < 50


def test_zero_frame_video_is_refused(tmp_path):
    zero = tmp_path / "zero.mp4"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=10",
                    "-frames:v", "0", "-c:v", "libx264", str(zero)], check=True)
    with pytest.raises(BadSource, match="no frames could be decoded"):
        open_source(zero)


def test_start_past_the_end_is_refused_naming_the_option(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=0.5)
    with raises_cli(BadOption, "--start 60: past the end"):
        open_source(clip, start=60)


def test_bad_options_are_refused(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=0.2)
    for options in (dict(frames=0), dict(fps=0), dict(fps=-5), dict(size=0), dict(duration=0),
                    dict(start=-1)):
        with pytest.raises(BadOption):
            open_source(clip, **options)


# -- outputs --------------------------------------------------------------------------------
def test_existing_output_is_refused_without_force_and_untouched(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(BadOutput, match="already exists"):
        open_sink(out, fps=10)
    assert out.read_bytes() == b"precious"
    with open_sink(out, fps=10, force=True) as sink:
        sink.write(synthetic_frames(1)[0])
    assert probe(out).frame_count == 1


def test_missing_or_blocked_output_folder_is_refused(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    for path in (tmp_path / "no-such-dir" / "o.mp4", blocker / "o.gif", f"{tmp_path}/no-such-dir/frames/"):
        with pytest.raises(BadOutput):
            check_output(path, force=True)
        with pytest.raises(BadOutput):
            open_sink(path, fps=10)
    with pytest.raises(BadOutput):
        open_sink(tmp_path / "o.xyz", fps=10)
    assert blocker.read_text() == "a file, not a folder"


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "frames/"])
def test_exception_inside_the_block_leaves_no_output_and_no_temporary(tmp_path, name):
    with pytest.raises(RuntimeError), open_sink(f"{tmp_path}/{name}", fps=10) as sink:
        for frame in synthetic_frames(3):
            sink.write(frame)
        raise RuntimeError("interrupted")
    assert leftovers(tmp_path) == []


def test_png_folder_sink(tmp_path):
    out = tmp_path / "frames"
    with open_sink(f"{out}/", fps=10) as sink:
        for frame in synthetic_frames(3):
            sink.write(frame)
    assert sorted(p.name for p in out.iterdir()) == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    assert np.array_equal(read_image(out / "frame_00002.png"), synthetic_frames(3)[1])
    assert leftovers(tmp_path, "frames") == []


# -- still images ---------------------------------------------------------------------------
def test_read_image_converts_grey_alpha_and_16_bit(tmp_path):
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((4, 5), 77, np.uint8))
    assert read_image(grey).shape == (4, 5, 3) and (read_image(grey) == 77).all()

    rgba = tmp_path / "rgba.png"
    pixels = np.zeros((4, 5, 4), np.uint8)
    pixels[..., 0] = 200  # red, in RGBA order for PIL
    pixels[:2, ..., 3] = 255  # top half opaque, bottom half transparent
    Image.fromarray(pixels, "RGBA").save(rgba)
    image = read_image(rgba)
    assert image.shape == (4, 5, 3)
    assert tuple(image[0, 0]) == (200, 0, 0) and tuple(image[3, 0]) == (255, 255, 255)

    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), np.full((4, 5, 3), 65535, np.uint16))
    image = read_image(deep)
    assert image.dtype == np.uint8 and (image == 255).all()


def test_read_image_refuses_bad_files(tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tiny)
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for path in (tiny, text, empty, tmp_path / "missing.png"):
        with pytest.raises(BadInput) as caught:
            read_image(path)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_write_image_is_atomic_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "out.png"
    frame = synthetic_frames(1)[0]
    write_image(out, frame)
    assert np.array_equal(read_image(out), frame)
    with pytest.raises(BadOutput, match="already exists"):
        write_image(out, frame)
    write_image(out, frame, force=True)
    write_image(tmp_path / "out.jpg", frame)
    assert leftovers(tmp_path, "out.png", "out.jpg") == []
