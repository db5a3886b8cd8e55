"""`videostyle eval` against an independent E_warp on a clip whose motion is known exactly.

The clip is a texture seen through a window that moves by whole pixels, so the true flow
is a constant and the pixels that stay inside the frame are the reliable ones; the
independent implementation below needs no optical flow at all.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from cli_text import raises_cli
from synthetic import scene

from videostyle.cli import main
from videostyle.config import DEFAULT_EVAL_FLOW, EVAL_FLOWS
from videostyle.engine.flow import FlowEstimator, flow_between, warp
from videostyle.errors import BadOption
from videostyle.video.metrics import evaluate_videos, flow_judge, warping_error

SIZE = (96, 72)  # (width, height)
SHIFT = (2, 1)  # (dx, dy) pixels per frame: frame_t(p) = frame_{t-1}(p + SHIFT)
FRAMES = 6


def texture(width: int, height: int, seed: int = 5) -> np.ndarray:
    """Multi-scale coloured noise: rich enough for optical flow to lock on; uint8 RGB."""
    rng = np.random.default_rng(seed)
    layers = [cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), sigma)
              for sigma in (1.0, 3.0, 8.0)]
    mixed = sum(layer / layer.max() for layer in layers) / len(layers)
    return (255 * (mixed - mixed.min()) / np.ptp(mixed)).astype(np.uint8)


def translated_frames(canvas: np.ndarray) -> list[np.ndarray]:
    w, h = SIZE
    dx, dy = SHIFT
    return [np.ascontiguousarray(canvas[t * dy: t * dy + h, t * dx: t * dx + w]) for t in range(FRAMES)]


def write_lossless(path: Path, frames: list[np.ndarray]) -> Path:
    """RGB frames into a lossless H.264 (RGB) file, so what eval decodes is what we wrote."""
    h, w = frames[0].shape[:2]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", "10", "-i", "-", "-c:v", "libx264rgb", "-qp", "0", str(path)]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)
    return path


def independent_e_warp(stylized: list[np.ndarray], gap: int = 1) -> float:
    """Lai et al.'s E_warp with the true flow: pixel p of frame t came from p + gap·SHIFT in
    frame t-gap; reliable where that point lies inside the frame."""
    dx, dy = gap * SHIFT[0], gap * SHIFT[1]
    terms = []
    for prev, cur in zip(stylized, stylized[gap:], strict=False):
        prev_f, cur_f = prev.astype(np.float64) / 255, cur.astype(np.float64) / 255
        h, w = cur.shape[:2]
        warped = prev_f[dy:, dx:]  # (h - dy, w - dx, 3): prev(p + SHIFT) for the reliable p
        diff = (cur_f[: h - dy, : w - dx] - warped) ** 2
        terms.append(diff.sum() / (3 * diff.shape[0] * diff.shape[1]))
    return float(np.mean(terms))


def run_eval(capsys, original: Path, stylized: Path, *extra: str) -> dict:
    capsys.readouterr()
    assert main(["eval", str(original), str(stylized), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def original(tmp_path) -> tuple[Path, list[np.ndarray]]:
    w, h = SIZE
    frames = translated_frames(texture(w + FRAMES * SHIFT[0], h + FRAMES * SHIFT[1]))
    return write_lossless(tmp_path / "original.mkv", frames), frames


def test_eval_agrees_with_the_true_flow_formula_on_a_flickering_clip(tmp_path, capsys, original):
    path, frames = original
    rng = np.random.default_rng(0)
    flicker = [np.clip(f.astype(np.int16) + rng.normal(0, 12, f.shape).round(), 0, 255).astype(np.uint8)
               for f in frames]
    stylized = write_lossless(tmp_path / "stylized.mkv", flicker)
    expected = independent_e_warp(flicker)
    assert expected > 1e-3  # the flicker is there to be measured
    report = run_eval(capsys, path, stylized)
    assert report["frames"] == FRAMES and report["size"] == list(SIZE)
    assert report["e_warp"] == pytest.approx(expected, rel=0.10)


def test_eval_with_a_gap_compares_frames_further_apart(tmp_path, capsys, original):
    path, frames = original
    # a look that drifts a little every frame: the error grows with the distance between frames
    drifting = [np.clip(f.astype(np.int16) + 6 * t, 0, 255).astype(np.uint8) for t, f in enumerate(frames)]
    stylized = write_lossless(tmp_path / "drifting.mkv", drifting)
    one, two = (run_eval(capsys, path, stylized, "--gap", str(g)) for g in (1, 2))
    assert one["e_warp"] == pytest.approx(independent_e_warp(drifting, 1), rel=0.10)
    assert two["e_warp"] == pytest.approx(independent_e_warp(drifting, 2), rel=0.10)
    assert two["gap"] == 2 and two["e_warp"] > 2 * one["e_warp"]


def test_eval_of_a_clip_that_moves_with_the_scene_is_near_zero(tmp_path, capsys, original):
    path, frames = original
    repainted = [255 - f for f in frames]  # a different look that follows the motion exactly
    stylized = write_lossless(tmp_path / "steady.mkv", repainted)
    report = run_eval(capsys, path, stylized)
    flicker_level = independent_e_warp(
        [np.clip(f.astype(np.int16) + 12, 0, 255).astype(np.uint8) if i % 2 else f
         for i, f in enumerate(repainted)])
    assert independent_e_warp(repainted) == 0
    assert report["e_warp"] < 0.05 * flicker_level
    assert report["e_warp_original"] < 0.05 * flicker_level


def test_eval_refuses_a_missing_file(tmp_path, capsys, original):
    path, _ = original
    capsys.readouterr()
    assert main(["eval", str(path), str(tmp_path / "nope.mp4")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope.mp4" in err and "\n" not in err


def test_eval_refuses_videos_of_different_lengths_or_shapes_naming_both(tmp_path, capsys, original):
    path, frames = original
    shorter = write_lossless(tmp_path / "shorter.mkv", frames[:4])
    side_by_side = write_lossless(tmp_path / "wide.mkv", [np.hstack([f, f]) for f in frames])
    for other, words in ((shorter, f"has {FRAMES} frames and"), (side_by_side, "aspect ratio")):
        capsys.readouterr()
        assert main(["eval", str(path), str(other)]) == 2
        err = capsys.readouterr().err.strip()
        assert str(path) in err and str(other) in err and words in err and "\n" not in err, err


def test_eval_compares_a_stylized_range_with_that_range_of_the_original(tmp_path, capsys, original):
    _, moving = original
    still_then_moving = [moving[0]] * 3 + moving[1:4]  # frames 0-2 hold still, then the texture moves
    path = write_lossless(tmp_path / "still-then-moving.mkv", still_then_moving)
    later = write_lossless(tmp_path / "later.mkv", [255 - f for f in still_then_moving[2:6]])
    right = run_eval(capsys, path, later, "--start", "0.2", "--frames", "4")  # 10 fps: frames 2..5
    assert right["frames"] == 4
    wrong = run_eval(capsys, path, later, "--frames", "4")  # frames 0..3: not what was stylized
    assert right["e_warp"] < 0.2 * wrong["e_warp"], (right, wrong)


# -- which flow judges ----------------------------------------------------------------------
def old_e_warp(original: list[np.ndarray], stylized: list[np.ndarray]) -> tuple[float, float]:
    """E_warp of ``stylized`` and of ``original`` as eval computed them before the independent
    flow (the optimizer's FlowEstimator and its reliability mask), written out here."""
    estimator = FlowEstimator()
    terms: tuple[list[float], list[float]] = ([], [])
    for t in range(1, len(original)):
        flow = flow_between(original[t - 1], original[t], estimator)
        for out, seq in zip(terms, (stylized, original), strict=True):
            cur, prev = (seq[i].astype(np.float32) / 255 for i in (t, t - 1))
            diff = np.sum((cur - warp(prev, flow.backward)) ** 2, axis=2)
            out.append(float(np.sum(flow.mask * diff) / (3 * np.sum(flow.mask))))
    return float(np.mean(terms[0])), float(np.mean(terms[1]))


def noisy(frames: list[np.ndarray], sigma: float = 12, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.clip(f.astype(np.int16) + rng.normal(0, sigma, f.shape).round(), 0, 255).astype(np.uint8)
            for f in frames]


def test_the_default_flow_is_not_the_optimizers(tmp_path, original, monkeypatch):
    path, frames = original
    judge = flow_judge()
    assert judge.name == DEFAULT_EVAL_FLOW == "independent" and not isinstance(judge, FlowEstimator)
    scene_pair = (scene(96, 72, seed=3), np.roll(scene(96, 72, seed=3), (1, 2), axis=(0, 1)))
    assert np.abs(judge(*scene_pair) - FlowEstimator()(*scene_pair)).max() > 0.05  # another flow, not a copy
    np.testing.assert_array_equal(flow_judge("same")(*scene_pair), FlowEstimator()(*scene_pair))

    def optimizers_flow(*_args):
        raise AssertionError("the default eval used the optimizer's flow")

    monkeypatch.setattr(FlowEstimator, "__call__", optimizers_flow)
    report = evaluate_videos(path, write_lossless(tmp_path / "noisy.mkv", noisy(frames)))
    assert report["flow"] == "independent" and "no variational refinement" in report["flow_method"]
    assert warping_error(frames, noisy(frames)).flow == "independent"
    with pytest.raises(AssertionError, match="optimizer's flow"):
        warping_error(frames, frames, flow="same")


@pytest.mark.parametrize("flow", EVAL_FLOWS)
def test_a_look_that_follows_a_pure_shift_scores_near_zero_and_flicker_or_flips_raise_it(tmp_path, original,
                                                                                           flow):
    path, frames = original
    repainted = [255 - f for f in frames]
    flickering = noisy(repainted)
    flipped = [np.ascontiguousarray(np.fliplr(f)) for f in repainted]  # moves the other way
    reports = {name: evaluate_videos(path, write_lossless(tmp_path / f"{name}.mkv", seq), flow=flow)
               for name, seq in (("steady", repainted), ("flicker", flickering), ("flipped", flipped))}
    assert all(r["flow"] == flow for r in reports.values())
    steady, flicker = reports["steady"]["e_warp"], reports["flicker"]["e_warp"]
    assert steady < 0.05 * flicker and reports["steady"]["e_warp_original"] < 0.05 * flicker
    assert flicker == pytest.approx(independent_e_warp(flickering), rel=0.10)
    assert reports["flipped"]["e_warp"] > 20 * steady + 1e-3


def test_flow_same_reproduces_the_old_measure(tmp_path, original):
    path, frames = original
    flickering = noisy(frames)
    report = evaluate_videos(path, write_lossless(tmp_path / "noisy.mkv", flickering), flow="same")
    old_stylized, old_original = old_e_warp(frames, flickering)
    assert report["flow"] == "same" and "DIS" in report["flow_method"]
    assert report["e_warp"] == pytest.approx(old_stylized, rel=1e-6)
    assert report["e_warp_original"] == pytest.approx(old_original, rel=1e-6, abs=1e-12)
    assert warping_error(frames, flickering, flow="same").e_warp == pytest.approx(old_stylized, rel=1e-6)


@pytest.mark.parametrize("gap", [1, 2])
def test_the_per_pair_values_average_to_the_reported_e_warp(tmp_path, original, gap):
    path, frames = original
    drifting = [np.clip(f.astype(np.int16) + 6 * t, 0, 255).astype(np.uint8) for t, f in enumerate(noisy(frames))]
    report = evaluate_videos(path, write_lossless(tmp_path / "drift.mkv", drifting), gap=gap)
    pairs = report["per_pair"]
    assert [p["frame"] for p in pairs] == list(range(gap, FRAMES))
    assert np.mean([p["e_warp"] for p in pairs]) == pytest.approx(report["e_warp"], rel=1e-12)
    assert np.mean([p["e_warp_original"] for p in pairs]) == pytest.approx(report["e_warp_original"], abs=1e-15)
    assert len({round(p["e_warp"], 8) for p in pairs}) > 1  # the terms themselves, not the mean repeated
    json.dumps(report)  # what --json prints


def test_an_unknown_flow_is_refused_naming_the_choices(original):
    path, frames = original
    with raises_cli(BadOption, "--flow deepflow: choose one of independent, same"):
        evaluate_videos(path, path, flow="deepflow")
    with raises_cli(BadOption, "--flow"):
        warping_error(frames, frames, flow="")


def test_the_eval_command_names_its_flow_and_takes_flow_same(tmp_path, capsys, original):
    path, frames = original
    stylized = write_lossless(tmp_path / "s.mkv", noisy(frames))
    default = run_eval(capsys, path, stylized)
    same = run_eval(capsys, path, stylized, "--flow", "same")
    assert default["flow"] == "independent" and same["flow"] == "same"
    assert len(default["per_pair"]) == default["frames"] - 1
    assert main(["eval", str(path), str(stylized), "--flow", "same"]) == 0
    assert "flow: same" in capsys.readouterr().out
    assert main(["eval", str(path), str(stylized), "--flow", "deepflow"]) == 2
