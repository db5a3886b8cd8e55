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

from videostyle.cli import main

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
