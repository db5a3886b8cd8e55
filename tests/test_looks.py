"""Where and when (issue 17): style schedules, strength ramps, per-shot styles, region masks
and seamless loops; the schedule's math, its command line, and tiny jobs end to end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_text import raises_cli
from synthetic import blobs, make_clip, scene, stripes, write_rgb

from videostyle.cli import main
from videostyle.cli.parser import build_parser
from videostyle.config import ScheduleEntry, StyleConfig, StyleSchedule, style_weight_for_strength
from videostyle.engine.optimize import Stylizer
from videostyle.engine.targets import FrameTargets, StyleTargets, targets_at
from videostyle.errors import BadOption
from videostyle.video.targets import ClipTargets

FAST = ["--size", "32", "-n", "1", "--first-iterations", "1", "--device", "cpu", "-q"]


def two(start: float = 2.0, **kw) -> StyleSchedule:
    return StyleSchedule(entries=(ScheduleEntry(0.0, (1.0, 0.0)), ScheduleEntry(start, (0.0, 1.0))), **kw)


def record_targets(monkeypatch) -> list[FrameTargets | None]:
    """Every Stylizer.stylize call's ``targets``, in call order, while the calls still run."""
    seen: list[FrameTargets | None] = []
    stylize = Stylizer.stylize

    def recording(self, content, **kw):
        seen.append(kw.get("targets"))
        return stylize(self, content, **kw)

    monkeypatch.setattr(Stylizer, "stylize", recording)
    return seen


def test_a_transition_blends_in_equal_steps_and_holds_on_either_side():
    schedule = two(2.0, transition=1.0)
    assert schedule.weights_at(0.0) == (1.0, 0.0) and schedule.weights_at(1.99) == (1.0, 0.0)
    shares = [schedule.weights_at(2.0 + k / 4)[1] for k in range(5)]
    assert shares == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert schedule.weights_at(10.0) == (0.0, 1.0)
    assert two(2.0, transition=0).weights_at(2.0) == (0.0, 1.0)  # 0: a switch
    blend = StyleSchedule(entries=(ScheduleEntry(0.0, (3.0, 1.0)),))
    assert blend.weights_at(5.0) == (0.75, 0.25) and not blend.varies


def test_per_shot_takes_the_next_entry_at_each_cut_and_wraps():
    schedule = StyleSchedule(entries=(ScheduleEntry(0.0, (1.0, 0.0)), ScheduleEntry(0.0, (0.0, 1.0))),
                             per_shot=True)
    looks = ClipTargets(schedule, StyleConfig(), fps=10.0, cuts=[3, 6])
    assert [looks(i).weights for i in (0, 2, 3, 5, 6, 9)] == [(1.0, 0.0)] * 2 + [(0.0, 1.0)] * 2 + [(1.0, 0.0)] * 2


def test_a_strength_ramp_is_log_linear_in_the_style_weight_and_monotone():
    schedule = StyleSchedule(entries=(ScheduleEntry(0.0, (1.0,)),), strengths=((1.0, 0.25), (3.0, 0.75)))
    assert schedule.strength_at(0.0) == 0.25 and schedule.strength_at(2.0) == pytest.approx(0.5)
    assert schedule.strength_at(9.0) == 0.75
    weights = [targets_at(schedule, StyleConfig(), t / 10).style_weight for t in range(0, 40)]
    assert all(b >= a for a, b in zip(weights, weights[1:], strict=False))
    logs = [math.log(style_weight_for_strength(schedule.strength_at(t))) for t in (1.0, 1.5, 2.0, 2.5, 3.0)]
    steps = np.diff(logs)
    assert np.allclose(steps, steps[0])  # equal steps in log(weight) for equal steps in time
    with raises_cli(BadOption, "--style-weight"):
        targets_at(schedule, StyleConfig(style_weight=3.0), 0.0)


@pytest.mark.parametrize(("make", "word"), [
    (lambda: two(0.0), "out of order"),
    (lambda: StyleSchedule(entries=(ScheduleEntry(1.0, (1.0,)),)), "first style must start at 0"),
    (lambda: two(2.0, transition=-1), "--transition"),
    (lambda: two(2.0, transition=math.nan), "--transition"),
    (lambda: two(2.0, strengths=((2.0, 0.1), (1.0, 0.2))), "out of order"),
    (lambda: two(2.0, strengths=((0.0, 1.5),)), "--strength"),
    (lambda: two(2.0, per_shot=True), "--style-per-shot"),
])
def test_bad_schedules_are_refused(make, word):
    with raises_cli(BadOption, word):
        make()


def test_times_past_the_end_are_refused():
    with pytest.raises(BadOption, match="clip's end"):
        two(2.0).check_duration(2.0)
    with pytest.raises(BadOption, match="clip's end"):
        two(1.0, strengths=((0.0, 0.0), (5.0, 0.5))).check_duration(3.0)
    two(1.0, strengths=((0.0, 0.0), (3.0, 0.5))).check_duration(3.0)


def test_the_command_line_builds_the_schedule(tmp_path, monkeypatch):
    from videostyle.cli.options import video_request

    monkeypatch.chdir(tmp_path)
    for name in ("a.png", "b.png", "c@2.png"):
        write_rgb(tmp_path / name, stripes(16, 16))

    def parse(*extra: str):
        request = video_request(build_parser().parse_args(["video", "in.mp4", "-o", "o.mp4", *extra]))
        styles, schedule = request.schedule()
        return ([s.path for s in styles], schedule), request.style_config()

    request = video_request(build_parser().parse_args(["video", "in.mp4", "-o", "o.mp4", "--style", "a.png:0.7",
                                                       "--style", "b.png:0.3"]))
    styles, schedule = request.schedule()
    assert schedule is None and [(s.path, s.weight) for s in styles] == [("a.png", 0.7), ("b.png", 0.3)]  # as before
    (paths, schedule), config = parse("--style", "a.png", "--style", "b.png:3@2", "--style", "a.png@4",
                                      "--transition", "0.5", "--strength", "0@0", "--strength", "0.5@3")
    assert paths == ["a.png", "b.png"]
    assert [(e.start, e.weights) for e in schedule.entries] == [(0.0, (1.0, 0.0)), (2.0, (0.0, 3.0)),
                                                                (4.0, (1.0, 0.0))]
    assert schedule.transition == 0.5 and schedule.strengths == ((0.0, 0.0), (3.0, 0.5))
    assert config.strength == 0.0
    (paths, schedule), _ = parse("--style", "c@2.png")  # a file named with an @ is that file
    assert paths == ["c@2.png"] and schedule is None
    (_, schedule), _ = parse("--style", "a.png", "--style", "b.png", "--style-per-shot")
    assert schedule.per_shot and len(schedule.entries) == 2
    (_, schedule), config = parse("--style", "a.png", "--strength", "0.3")
    assert schedule is None and config.strength == 0.3


def test_blended_targets_are_the_fixed_blend_and_an_unscheduled_run_never_blends(monkeypatch):
    stylizer = Stylizer([stripes(32, 32), blobs(32, 32)], StyleConfig(device="cpu", precision="fp32"))
    fixed = stylizer.targets.fixed(32, 32)
    for layer, gram in stylizer.targets.blended(32, 32, (0.5, 0.5)).items():
        assert torch.allclose(gram, fixed[layer])
    single = stylizer.targets.blended(32, 32, (1.0, 0.0))
    assert all(torch.equal(single[n], stylizer.targets.per_style(32, 32)[0][n]) for n in single)
    calls = []
    monkeypatch.setattr(StyleTargets, "blended", lambda self, *a: calls.append(a))
    stylizer.stylize(scene(32, 32), iterations=1)
    assert not calls


def test_a_scheduled_clip_gives_each_frame_its_look_and_resume_sees_a_changed_schedule(tmp_path, monkeypatch,
                                                                                     capsys):
    make_clip(tmp_path / "in.mp4", frames=6, size="48x32")  # 10 fps: 0.6 s
    write_rgb(tmp_path / "a.png", stripes(32, 32))
    write_rgb(tmp_path / "b.png", blobs(32, 32))
    monkeypatch.chdir(tmp_path)
    seen = record_targets(monkeypatch)
    argv = ["video", "in.mp4", "-o", "out.mp4", "--style", "a.png", "--style", "b.png@0.1",
            "--transition", "0.3", "--strength", "0.2@0", "--strength", "0.6@0.5", "--keep-work", *FAST]
    assert main(argv) == 0
    assert [look.weights[1] for look in seen] == pytest.approx([0, 0, 1 / 3, 2 / 3, 1, 1], abs=1e-6)
    strengths = [look.style_weight for look in seen]
    assert strengths == sorted(strengths) and strengths[0] < strengths[-1]
    capsys.readouterr()
    changed = [*argv[:7], "b.png@0.2", *argv[8:]]
    assert main([*changed, "--force"]) == 2
    assert "--style" in capsys.readouterr().err
    assert main([*argv[:9], "0.5", *argv[10:], "--force"]) == 2
    assert "--transition" in capsys.readouterr().err


def test_a_mask_gives_each_region_its_own_painting(tmp_path):
    """Half/half mask, two paintings: each half's Gram distance to its own painting is below its
    distance to the other (at 48 px, 20 iterations)."""
    from videostyle.engine.image import stylize_image

    a, b = stripes(48, 48), blobs(48, 48, seed=3)
    mask = np.zeros((36, 48), np.float32)
    mask[:, :24] = 1
    config = StyleConfig(device="cpu", precision="fp32", iterations=20, strength=0.8)
    result = stylize_image(scene(48, 36), [a, b], config=config, mask=mask)
    judge = Stylizer([a, b], config)
    left = [judge.style_distance(result, style=s, mask=mask) for s in (0, 1)]
    right = [judge.style_distance(result, style=s, mask=1 - mask) for s in (0, 1)]
    assert left[0] < left[1] and right[1] < right[0], (left, right)


def test_video_masks_follow_the_frames_and_bad_ones_are_refused(tmp_path):
    from videostyle.config import ClipConfig
    from videostyle.errors import BadInput
    from videostyle.video.masks import read_mask

    make_clip(tmp_path / "mask.mp4", frames=4, size="48x32")
    masks = read_mask(tmp_path / "mask.mp4", 24, 16, frames=4, styles=2, clip=ClipConfig(size=None))
    assert masks.frames.shape == (4, 16, 24) and masks.at(3).min() >= 0 and masks.at(3).max() <= 1
    with pytest.raises(BadInput, match="4 frame"):
        read_mask(tmp_path / "mask.mp4", 24, 16, frames=6, styles=1)
    write_rgb(tmp_path / "white.png", np.full((8, 12, 3), 255, np.uint8))  # the output's shape
    assert read_mask(tmp_path / "white.png", 24, 16, frames=6, styles=1).at(5).min() == 1.0
    with pytest.raises(BadInput, match="all one value"):
        read_mask(tmp_path / "white.png", 24, 16, styles=2)
    (tmp_path / "notes.png").write_text("not a picture")
    with raises_cli(BadInput, "--mask"):
        read_mask(tmp_path / "notes.png", 24, 16)


def test_a_seamless_loop_restylizes_the_end_from_the_start_and_resumes_the_same(tmp_path, monkeypatch):
    from videostyle.config import TemporalConfig
    from videostyle.video.job import stylize_video
    from videostyle.video.workdir import WorkDir

    make_clip(tmp_path / "in.mp4", frames=5, size="48x32")
    style, clip_kw = [stripes(32, 32)], {}
    cfg = StyleConfig(device="cpu", precision="fp32")
    plain = TemporalConfig(iterations=1, first_iterations=2)
    looped = TemporalConfig(iterations=1, first_iterations=2, seamless_loop=True)
    from videostyle.config import ClipConfig

    clip = ClipConfig(size=32)
    stylize_video(tmp_path / "in.mp4", tmp_path / "a", style, style=cfg, temporal=plain, clip=clip, **clip_kw)
    stylize_video(tmp_path / "in.mp4", tmp_path / "b", style, style=cfg, temporal=looped, clip=clip,
                  keep_work=True, work_dir=tmp_path / "work")
    read = [sorted(Path(tmp_path / name).glob("*.png")) for name in ("a", "b")]
    import cv2

    frames = [[cv2.imread(str(p)).astype(int) for p in names] for names in read]
    assert np.array_equal(frames[0][0], frames[1][0])  # the start is the chain's
    assert not np.array_equal(frames[0][-1], frames[1][-1])  # the end was handed over
    drafts = WorkDir(tmp_path / "work", {}).drafts()
    assert drafts == {1, 2, 3, 4}  # the chain's own results, kept for a rerun
    gap_plain = np.abs(frames[0][-1] - frames[0][0]).mean()
    gap_loop = np.abs(frames[1][-1] - frames[1][0]).mean()
    assert gap_loop < gap_plain  # the last frame is closer to the first (the clip is a slow pan)


def test_a_loop_is_refused_with_workers_before_any_work(tmp_path):
    from videostyle.config import SegmentConfig, TemporalConfig
    from videostyle.video.job import stylize_video

    make_clip(tmp_path / "in.mp4", frames=3, size="48x32")
    for kwargs in ({"temporal": TemporalConfig(seamless_loop=True)},):
        with raises_cli(BadOption, "--workers"):
            stylize_video(tmp_path / "in.mp4", tmp_path / "out.mp4", [stripes(16, 16)],
                          style=StyleConfig(device="cpu"), segments=SegmentConfig(workers=2), **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_per_shot_styles_switch_at_the_cut_found_before_any_work(tmp_path, monkeypatch):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(6):  # two shots: a house, then blue blotches
        write_rgb(frames / f"f{i}.png", scene(48, 32, seed=i) if i < 3 else blobs(48, 32, seed=7))
    write_rgb(tmp_path / "a.png", stripes(32, 32))
    write_rgb(tmp_path / "b.png", blobs(32, 32))
    monkeypatch.chdir(tmp_path)
    seen = record_targets(monkeypatch)
    assert main(["video", "frames", "-o", "out/", "--style", "a.png", "--style", "b.png", "--style-per-shot",
                 *FAST]) == 0
    assert [look.weights for look in seen] == [(1.0, 0.0)] * 3 + [(0.0, 1.0)] * 3


def test_the_loop_end_blends_the_last_frame_towards_the_first_even_where_the_flow_is_unsure(monkeypatch):
    """Where the flow calls the warp unreliable, a bridge frame keeps its own draft; the last
    frame of a loop must not, or the wrap pair shows the chain's paint beside frame 1's."""
    from videostyle.engine.flow import FlowResult
    from videostyle.video import chain

    h, w = 32, 48
    still = np.zeros((h, w, 2), np.float32)
    monkeypatch.setattr(chain, "flow_between", lambda a, b, estimator=None: FlowResult(
        backward=still, forward=still, mask=np.zeros((h, w), np.float32)))  # nothing vouched for
    stylizer = Stylizer([stripes(32, 32)], StyleConfig(device="cpu", precision="fp32"))
    first = np.full((h, w, 3), 0.8, np.float32)
    drafts = [np.full((h, w, 3), 0, np.uint8), np.full((h, w, 3), 40, np.uint8)]
    frames = [scene(w, h, seed=k) for k in range(3)]
    done = list(chain.stylize_loop_end(stylizer, frames, drafts, first, iterations=0, indices=[9, 8]))
    share = 1 / (len(drafts) + 1)
    expected = (1 - share) * 0.8 + share * 0.0  # the last frame: frame 1's warp, a third of its draft
    assert np.allclose(done[0].state, expected, atol=1e-4)
    assert np.allclose(done[1].state[..., 0], 40 / 255, atol=1e-4)  # further in: the bridge's usual rule
