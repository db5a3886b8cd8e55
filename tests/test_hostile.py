"""Hostile input, table-driven, over every command.

Each case must end with exit code 2 and exactly one line on stderr (``videostyle: error:
...``), never a traceback, before any optimization (the optimizer is never entered), and
must leave the folder it ran in exactly as it was: no file changed or deleted, no output and
no half-written output, no work folder. The cases run
in-process (``main(argv)``) in one folder of small files made once; each is checked
against a digest of that folder's tree taken just before it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from guards import tree
from PIL import Image
from synthetic import huge_png, make_clip, make_cover_audio, make_thumbnail_first, scene, stripes, write_rgb

from videostyle.cli import main
from videostyle.engine.vgg import CONV_NAMES
from videostyle.video.workdir import MARKER_FILE


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """The user's folder: good inputs, bad inputs, existing outputs, folders of their own."""
    folder = tmp_path_factory.mktemp("hostile")
    write_rgb(folder / "content.png", scene(48, 36))
    write_rgb(folder / "style.png", stripes(32, 32))
    write_rgb(folder / "tiny.png", np.zeros((1, 1, 3), np.uint8))
    write_rgb(folder / "existing.png", scene(16, 12))
    jpeg = (folder / "content.png").read_bytes()
    Image.open(folder / "content.png").save(folder / "photo.jpg")
    (folder / "truncated.jpg").write_bytes((folder / "photo.jpg").read_bytes()[:300])
    (folder / "notes.txt").write_text("my notes\n")
    (folder / "notes.jpg").write_text("not a picture\n")
    (folder / "notes.mp4").write_text("not a video\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "empty.mp4").write_bytes(b"")
    make_clip(folder / "clip.mp4", frames=3, size="48x32")
    make_clip(folder / "clip4.mp4", frames=4, size="48x32")
    make_clip(folder / "wide.mp4", frames=3, size="64x24")
    make_clip(folder / "existing.mp4", frames=1, size="32x24")
    whole = (folder / "clip.mp4").read_bytes()  # the index is at the end: half a file is unreadable
    (folder / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    for name in ("frames", "emptydir", "mine"):
        (folder / name).mkdir()
    for i in range(3):
        write_rgb(folder / "frames" / f"f{i}.png", scene(48, 36, seed=i))
    (folder / "mine" / "holiday.jpg").write_bytes(jpeg)
    _work_folder(folder / "damaged-work", settings=b'{"source": "clip.mp4", "sty')
    _work_folder(folder / "other-work", settings=json.dumps({"version": "0", "styles": "x", "source": "y"}).encode())
    _weights_files(folder)
    os.link(folder / "clip.mp4", folder / "linked.mp4")  # a hard link: the same file by inode
    (folder / "userframes").mkdir()
    for i in range(3):
        write_rgb(folder / "userframes" / f"frame_{i + 1:05d}.png", scene(48, 36, seed=i))
    make_cover_audio(folder / "song.m4a")
    make_clip(folder / "tiny-side.mp4", frames=3, size="8x2")
    huge_png(folder / "huge.png", 40000, 40000)  # a solid-colour bomb: tiny file, 4.8 GB decoded
    write_rgb(folder / "white.png", np.full((36, 48, 3), 255, np.uint8))  # a mask of one value
    write_rgb(folder / "painted.png", scene(48, 32))  # a keyframe of clip.mp4's shape
    return folder


def _work_folder(path: Path, *, settings: bytes) -> None:
    """A work folder of an interrupted job: marker, one finished frame, the given settings."""
    path.mkdir()
    (path / MARKER_FILE).write_text(json.dumps({"created_folder": True}))
    write_rgb(path / "frame_00001.png", scene(32, 22))
    (path / "settings.json").write_bytes(settings)


def _weights_files(folder: Path) -> None:
    torch.save({"features.0.weight": argparse.Namespace(evil=True)}, folder / "pickle.pth")  # not plain tensors
    torch.save([torch.zeros(3)], folder / "list.pth")
    wrong = {}
    for index, _ in enumerate(CONV_NAMES):  # sixteen convs, every one the wrong shape
        wrong[f"features.{2 * index}.weight"] = torch.zeros(4, 4, 1, 1)
        wrong[f"features.{2 * index}.bias"] = torch.zeros(4)
    torch.save(wrong, folder / "shapes.pth")
    (folder / "text.pth").write_text("weights, honestly\n")


def image(*extra: str, content: str = "content.png", style: str = "style.png", out: str = "out.png") -> list[str]:
    return ["image", content, "--style", style, "-o", out, "--size", "32", "-n", "1", "--device", "cpu", "-q",
            *extra]


def video(*extra: str, source: str = "clip.mp4", out: str = "out.mp4") -> list[str]:
    return ["video", source, "--style", "style.png", "-o", out, "--size", "32", "-n", "1",
            "--first-iterations", "1", "--device", "cpu", "-q", *extra]


def webcam(*extra: str) -> list[str]:
    return ["webcam", "--camera", "clip.mp4", "--style", "style.png", "--no-preview", "--duration", "1",
            "--size", "32", "--device", "cpu", "-q", *extra]


# (id, argv, a word the message must hold)
CASES = [
    # -- image: inputs
    ("image-missing-content", image(content="missing.png"), "missing.png"),
    ("image-text-content", image(content="notes.jpg"), "notes.jpg"),
    ("image-empty-content", image(content="empty.png"), "empty"),
    ("image-1px-content", image(content="tiny.png"), "too small"),
    ("image-folder-content", image(content="frames"), "frames"),
    ("image-truncated-jpeg", image(content="truncated.jpg"), "truncated"),
    ("image-missing-style", image(style="missing.png"), "missing.png"),
    ("image-text-style", image(style="notes.jpg"), "notes.jpg"),
    ("image-style-weight-word", image(style="style.png:abc"), "not a number"),
    ("image-style-weight-nan", image(style="style.png:nan"), "finite"),
    ("image-style-weight-inf", image(style="style.png:inf"), "finite"),
    ("image-style-weight-zero", image(style="style.png:0"), "> 0"),
    ("image-style-weight-negative", image(style="style.png:-2"), "> 0"),
    ("image-init-missing", image("--init", "missing.png"), "missing.png"),
    ("image-output-no-suffix", image(out="out"), "out"),
    ("image-tile-not-a-multiple-of-16", image("--tile", "50"), "--tile"),
    ("image-tile-word", image("--tile", "big"), "--tile"),
    ("image-max-memory-unit", image("--max-memory", "4XB"), "--max-memory"),
    ("image-max-memory-tiny", image("--max-memory", "1KB"), "--max-memory"),
    ("image-max-memory-nan", image("--max-memory", "nanGB"), "--max-memory"),
    ("image-max-memory-zero", image("--max-memory", "0"), "at least 256 MB"),
    ("image-max-memory-negative", image("--max-memory", "-1GB"), "--max-memory"),
    ("image-max-memory-word", image("--max-memory", "abc"), "--max-memory"),
    ("image-max-memory-exponent", image("--max-memory", "1e99TB"), "--max-memory"),
    ("image-max-memory-overflow", image("--max-memory", "9" * 400 + "TB"), "too large"),
    ("image-preset-unknown", image("--preset", "ultra"), "--preset"),
    ("image-json-with-value", image("--json", "yes"), "yes"),
    ("image-init-text", image("--init", "notes.jpg"), "notes.jpg"),
    ("image-huge-content", image(content="huge.png"), "40000x40000"),
    ("image-huge-style", image(style="huge.png"), "megapixels"),
    ("image-style-weights-overflow", image("--style", "style.png:1e308", style="style.png:1e308"), "add up"),
    ("image-style-scale-huge", image("--style-scale", "10000"), "--style-scale"),
    # -- image: numbers
    ("image-style-weight-nan-option", image("--style-weight", "nan"), "--style-weight"),
    ("image-style-weight-negative-option", image("--style-weight", "-1"), "--style-weight"),
    ("image-style-weight-inf-option", image("--style-weight", "inf"), "--style-weight"),
    ("image-strength-nan", image("--strength", "nan"), "--strength"),
    ("image-strength-above-one", image("--strength", "2"), "--strength"),
    ("image-strength-negative", image("--strength", "-0.1"), "--strength"),
    ("image-content-weight-inf", image("--content-weight", "inf"), "--content-weight"),
    ("image-content-weight-nan", image("--content-weight", "nan"), "--content-weight"),
    ("image-tv-weight-nan", image("--tv-weight", "nan"), "--tv-weight"),
    ("image-tv-weight-negative", image("--tv-weight", "-0.5"), "--tv-weight"),
    ("image-style-scale-nan", image("--style-scale", "nan"), "--style-scale"),
    ("image-style-scale-zero", image("--style-scale", "0"), "--style-scale"),
    ("image-learning-rate-nan", image("--optimizer", "adam", "--learning-rate", "nan"), "--learning-rate"),
    ("image-iterations-negative", image("--iterations", "-1"), "--iterations"),
    ("image-iterations-word", image("--iterations", "abc"), "--iterations"),
    ("image-iterations-fraction", image("--iterations", "1.5"), "--iterations"),
    ("image-scales-negative", image("--scales", "-1"), "--scales"),
    ("image-size-zero", image("--size", "0"), "--size"),
    ("image-size-negative", image("--size", "-5"), "--size"),
    ("image-size-word", image("--size", "abc"), "--size"),
    ("image-size-too-big-for-memory", image("--size", "20000"), "largest size that fits"),
    ("image-seed-word", image("--seed", "abc"), "--seed"),
    # -- image: network
    ("image-no-style-layers", image("--style-layers", ","), "--style-layers"),
    ("image-no-content-layers", image("--content-layers", ","), "--content-layers"),
    ("image-unknown-style-layer", image("--style-layers", "relu9_9"), "relu9_9"),
    ("image-unknown-content-layer", image("--content-layers", "conv9"), "conv9"),
    ("image-pooling", image("--pooling", "median"), "--pooling"),
    ("image-optimizer", image("--optimizer", "sgd"), "--optimizer"),
    ("image-weights-pickle", image("--weights", "pickle.pth"), "pickle.pth"),
    ("image-weights-list", image("--weights", "list.pth"), "list.pth"),
    ("image-weights-wrong-shapes", image("--weights", "shapes.pth"), "shape"),
    ("image-weights-text", image("--weights", "text.pth"), "text.pth"),
    ("image-weights-missing", image("--weights", "missing.pth"), "missing.pth"),
    ("image-weights-folder", image("--weights", "frames"), "frames"),
    ("image-device-cuda", image("--device", "cuda"), "--device"),
    ("image-device-cuda-1", image("--device", "cuda:1"), "--device"),
    ("image-device-unknown", image("--device", "tpu"), "--device"),
    ("image-precision-fp16-cpu", image("--precision", "fp16"), "fp16"),
    ("image-precision-unknown", image("--precision", "fp8"), "--precision"),
    ("video-max-memory-overflow", video("--max-memory", "9" * 400 + "GB"), "too large"),
    ("video-max-memory-tiny", video("--max-memory", "1KB"), "--max-memory"),
    ("video-precision-unknown", video("--precision", "FP32"), "--precision"),
    ("image-unknown-option", image("--bogus"), "--bogus"),
    ("image-no-style", ["image", "content.png", "-o", "out.png"], "--style"),
    ("image-no-output", ["image", "content.png", "--style", "style.png"], "--output"),
    # -- image: outputs, checked before the work
    ("image-output-mp4", image(out="out.mp4"), "out.mp4"),
    ("image-output-gif", image(out="out.gif"), "out.gif"),
    ("image-output-folder", image(out="outdir/"), "outdir"),
    ("image-output-exists", image(out="existing.png"), "--force"),
    ("image-output-no-folder", image(out="nodir/out.png"), "nodir"),
    ("image-output-unknown-format", image(out="out.xyz"), "out.xyz"),
    ("image-output-under-a-file", image(out="notes.txt/out.png"), "notes.txt"),
    ("image-output-is-the-content", image("--force", out="content.png"), "is the input"),
    ("image-output-is-the-style", image("--force", out="style.png"), "is the input"),
    ("image-output-is-the-init", image("--force", "--init", "existing.png", out="existing.png"), "is the input"),
    ("image-output-holds-the-content", image("--force", content="frames/f0.png", out="frames/"), "frames"),
    # -- video: inputs
    ("video-missing", video(source="missing.mp4"), "missing.mp4"),
    ("video-text", video(source="notes.mp4"), "notes.mp4"),
    ("video-empty", video(source="empty.mp4"), "empty"),
    ("video-truncated", video(source="truncated.mp4"), "truncated.mp4"),
    ("video-empty-folder", video(source="emptydir"), "no images"),
    ("video-unmatched-glob", video(source="nothing*.png"), "nothing*.png"),
    ("video-style-weight-word", video("--style", "style.png:abc"), "not a number"),
    ("video-init-image", video("--init", "content.png"), "--init"),
    ("video-weights-list", video("--weights", "list.pth"), "list.pth"),
    ("video-output-is-the-source", video("--force", out="clip.mp4"), "is the input"),
    ("video-output-is-a-hard-link-of-the-source", video("--force", out="linked.mp4"), "is the input"),
    ("video-output-is-the-style", video("--force", out="style.png"), "style.png"),
    ("video-output-is-the-frame-folder", video("--force", source="userframes", out="userframes/"),
     "is the input"),
    ("video-output-holds-the-glob", video("--force", source="userframes/*.png", out="userframes/"), "holds the input"),
    ("video-output-inside-the-frame-folder", video(source="userframes", out="userframes/out/"),
     "inside the input folder"),
    ("video-cover-art-audio", video(source="song.m4a"), "audio with a still picture"),
    ("video-huge-style", video("--style", "huge.png"), "40000x40000"),
    ("video-style-scale-huge", video("--style-scale", "10000"), "--style-scale"),
    ("video-output-a-device", video("--force", out="/dev/null"), "device"),
    ("video-tiny-side", video(source="tiny-side.mp4"), "too small"),
    # -- video: numbers
    ("video-fps-nan", video("--fps", "nan"), "--fps"),
    ("video-fps-zero", video("--fps", "0"), "--fps"),
    ("video-fps-negative", video("--fps", "-5"), "--fps"),
    ("video-start-nan", video("--start", "nan"), "--start"),
    ("video-start-negative", video("--start", "-1"), "--start"),
    ("video-start-inf", video("--start", "inf"), "--start"),
    ("video-start-past-the-end", video("--start", "60"), "--start 60: past the end"),
    ("video-fps-tiny", video("--fps", "1e-9"), "--fps"),
    ("video-fps-huge", video("--fps", "1e9"), "--fps"),
    ("video-duration-tiny", video("--duration", "1e-9"), "--duration"),
    ("video-frames-huge", video("--frames", str(10**20)), "--frames"),
    ("video-long-term-huge", video("--long-term", "99999999999999999999"), "--long-term"),
    ("video-duration-inf", video("--duration", "inf"), "--duration"),
    ("video-duration-zero", video("--duration", "0"), "--duration"),
    ("video-frames-zero", video("--frames", "0"), "--frames"),
    ("video-frames-negative", video("--frames", "-3"), "--frames"),
    ("video-quality-high", video("--quality", "99"), "--crf"),
    ("video-crf-word", video("--crf", "high"), "--crf"),
    ("video-crf-high", video("--crf", "52"), "--crf"),
    ("video-progress-unknown", video("--progress", "xml"), "--progress"),
    ("video-preset-unknown", video("--preset", "fastest"), "--preset"),
    ("video-quality-negative", video("--quality", "-1"), "--crf"),
    ("video-loop-negative", video("--loop", "-5", out="out.gif"), "--loop"),
    ("video-loop-huge", video("--loop", "70000", out="out.gif"), "--loop"),
    ("video-temporal-weight-nan", video("--temporal-weight", "nan"), "--temporal-weight"),
    ("video-temporal-weight-negative", video("--temporal-weight", "-1"), "--temporal-weight"),
    ("video-detail-boost-nan", video("--detail-boost", "nan"), "--detail-boost"),
    ("video-detail-boost-below-one", video("--detail-boost", "0.5"), "--detail-boost"),
    ("video-warp-kernel", video("--warp-kernel", "cubic"), "--warp-kernel"),
    ("video-first-iterations-negative", video("--first-iterations", "-1"), "--first-iterations"),
    ("video-iterations-negative", video("--iterations", "-1"), "--iterations"),
    ("video-long-term-word", video("--long-term", "2,x"), "--long-term"),
    ("video-long-term-one", video("--long-term", "1"), "--long-term"),
    ("video-long-term-unordered", video("--long-term", "4,2"), "--long-term"),
    ("video-temporal-mode", video("--temporal", "bogus"), "--temporal"),
    ("video-style-weight-inf", video("--style-weight", "inf"), "--style-weight"),
    ("video-strength-inf", video("--strength", "inf"), "--strength"),
    ("video-size-small", video("--size", "8"), "--size"),
    ("video-size-too-big-for-memory", video("--size", "20000"), "largest size that fits"),
    # -- video: outputs and work folders
    ("video-output-image", video(out="out.png"), "out.png"),
    ("video-output-exists", video(out="existing.mp4"), "--force"),
    ("video-output-no-folder", video(out="nodir/out.mp4"), "nodir"),
    ("video-output-unknown-format", video(out="out.xyz"), "out.xyz"),
    ("video-output-folder-holding-other-files", video("--force", out="mine/"),
     "mine: folder holds files other than frame_*.png (holiday.jpg)"),
    ("video-work-dir-file", video("--work-dir", "notes.txt"), "is a file"),
    ("video-work-dir-users-folder", video("--work-dir", "mine"), "not a videostyle work folder"),
    ("video-work-dir-users-folder-restart", video("--work-dir", "mine", "--restart"), "nothing was touched"),
    ("video-work-dir-dot", video("--work-dir", "."), "not a videostyle work folder"),
    ("video-work-dir-dot-restart", video("--work-dir", ".", "--restart"), "not a videostyle work folder"),
    ("video-work-dir-is-output", video("--work-dir", "outdir", out="outdir/"), "is the output"),
    ("video-work-dir-damaged-settings", video("--work-dir", "damaged-work"), "--restart"),
    ("video-work-dir-other-settings", video("--work-dir", "other-work"), "--style"),
    # -- webcam
    ("webcam-fps-nan", webcam("--fps", "nan"), "--fps"),
    ("webcam-fps-zero", webcam("--fps", "0"), "--fps"),
    ("webcam-record-fps-nan", webcam("--record-fps", "nan"), "--record-fps"),
    ("webcam-record-fps-zero", webcam("--record-fps", "0"), "--record-fps"),
    ("webcam-duration-nan", webcam("--duration", "nan"), "--duration"),
    ("webcam-duration-negative", webcam("--duration", "-1"), "--duration"),
    ("webcam-max-iterations-zero", webcam("--max-iterations", "0"), "--max-iterations"),
    ("webcam-first-iterations-negative", webcam("--first-iterations", "-1"), "--first-iterations"),
    ("webcam-iterations-zero", webcam("--iterations", "0"), "--iterations"),
    ("webcam-init-image", webcam("--init", "content.png"), "--init"),
    ("webcam-record-image", webcam("--record", "out.png"), "out.png"),
    ("webcam-record-exists", webcam("--record", "existing.mp4"), "--force"),
    ("webcam-record-no-folder", webcam("--record", "nodir/r.mp4"), "nodir"),
    ("webcam-record-unknown-format", webcam("--record", "r.xyz"), "r.xyz"),
    ("webcam-camera-missing", ["webcam", "--camera", "missing.mp4", "--style", "style.png", "--no-preview"],
     "missing.mp4"),
    ("webcam-camera-text-file", ["webcam", "--camera", "notes.txt", "--style", "style.png", "--no-preview"],
     "notes.txt"),
    ("webcam-size-small", webcam("--size", "8"), "--size"),
    ("webcam-size-too-big-for-memory", webcam("--size", "20000"), "largest size that fits"),
    ("webcam-style-weight-inf", webcam("--style-weight", "inf"), "--style-weight"),
    ("webcam-strength-nan", webcam("--strength", "nan"), "--strength"),
    ("webcam-style-missing", webcam("--style", "missing.png"), "missing.png"),
    ("webcam-device-unknown", webcam("--device", "tpu"), "--device"),
    # -- eval
    ("eval-missing-original", ["eval", "missing.mp4", "clip.mp4"], "missing.mp4"),
    ("eval-missing-stylized", ["eval", "clip.mp4", "missing.mp4"], "missing.mp4"),
    ("eval-text-stylized", ["eval", "clip.mp4", "notes.mp4"], "notes.mp4"),
    ("eval-empty-stylized", ["eval", "clip.mp4", "empty.mp4"], "empty.mp4"),
    ("eval-empty-folder", ["eval", "clip.mp4", "emptydir"], "emptydir"),
    ("eval-gap-zero", ["eval", "clip.mp4", "clip.mp4", "--gap", "0"], "--gap"),
    ("eval-gap-negative", ["eval", "clip.mp4", "clip.mp4", "--gap", "-1"], "--gap"),
    ("eval-gap-longer-than-the-clip", ["eval", "clip.mp4", "clip.mp4", "--gap", "10"], "frames"),
    ("eval-different-frame-counts", ["eval", "clip.mp4", "clip4.mp4"], "clip4.mp4"),
    ("eval-different-aspect-ratios", ["eval", "clip.mp4", "wide.mp4"], "wide.mp4"),
    ("eval-no-second-video", ["eval", "clip.mp4"], "stylized"),
    ("eval-start-nan", ["eval", "clip.mp4", "clip.mp4", "--start", "nan"], "--start"),
    ("eval-start-negative", ["eval", "clip.mp4", "clip.mp4", "--start", "-1"], "--start"),
    ("eval-frames-zero", ["eval", "clip.mp4", "clip.mp4", "--frames", "0"], "--frames"),
    ("eval-flow-unknown", ["eval", "clip.mp4", "clip.mp4", "--flow", "deepflow"], "--flow"),
    ("eval-gap-huge", ["eval", "clip.mp4", "clip.mp4", "--gap", "99999999999999999999"], "--gap"),
    ("eval-frames-huge", ["eval", "clip.mp4", "clip.mp4", "--frames", "99999999999999999999"], "--frames"),
    ("eval-start-overflows-to-inf", ["eval", "clip.mp4", "clip.mp4", "--start", "1e400"], "--start"),
    ("serve-data-dir-file", ["serve", "--data-dir", "notes.txt", "--port", "1"], "--data-dir notes.txt"),
    ("serve-data-dir-under-a-file", ["serve", "--data-dir", "notes.txt/data", "--port", "1"], "notes.txt"),
    # -- demo
    ("demo-device-unknown", ["demo", "--device", "tpu"], "--device"),
    ("demo-device-cuda", ["demo", "--device", "cuda"], "--device"),
    ("demo-iterations-negative", ["demo", "--iterations", "-1"], "--iterations"),
    ("demo-first-iterations-word", ["demo", "--first-iterations", "abc"], "--first-iterations"),
    ("demo-samples-missing", ["demo", "--samples", "missing-dir"], "missing-dir"),
    ("demo-output-dir-is-a-file", ["demo", "--output-dir", "notes.txt"], "notes.txt"),
    # -- where and when (issue 17): schedules, strength ramps, masks
    ("video-style-time-past-end", video("--style", "style.png@99"), "clip's end"),
    ("video-style-times-out-of-order", video("--style", "content.png@0.2", "--style", "style.png@0.1"),
     "out of order"),
    ("video-style-time-back-to-an-earlier-group", video("--style", "content.png@0.1", "--style", "photo.jpg@0"),
     "--style photo.jpg@0: the times are out of order (0 s after 0.1 s)"),
    ("video-style-time-word", video("--style", "content.png@soon"), "not a number"),
    ("video-style-time-negative", video("--style", "content.png@-1"), ">= 0"),
    ("video-style-time-nan", video("--style", "content.png@nan"), "finite"),
    ("video-transition-negative", video("--transition", "-1"), "--transition"),
    ("video-transition-nan", video("--transition", "nan"), "--transition"),
    ("video-strength-time-past-end", video("--strength", "0@0", "--strength", "0.5@99"), "clip's end"),
    ("video-strength-times-out-of-order", video("--strength", "0.5@0.2", "--strength", "0@0.1"), "out of order"),
    ("video-strength-plain-and-keyframes", video("--strength", "0.5", "--strength", "0.2@0.1"), "--strength"),
    ("video-strength-time-word", video("--strength", "0.5@later"), "--strength"),
    ("video-strength-keyframe-above-one", video("--strength", "2@0.1"), "--strength"),
    ("video-strength-keyframes-and-style-weight", video("--strength", "0@0", "--strength", "1@0.1",
                                                        "--style-weight", "3"), "--style-weight"),
    ("video-seamless-loop-without-overlap", video("--seamless-loop", "--overlap", "0", out="out.gif"),
     "--overlap 0 leaves none"),
    ("video-per-shot-with-times", video("--style", "content.png@0.1", "--style-per-shot"), "--style-per-shot"),
    ("video-per-shot-without-cuts", video("--style-per-shot", "--no-cut-detection"), "--no-cut-detection"),
    ("video-passes-zero", video("--passes", "0"), "--passes 0"),
    ("video-passes-negative", video("--passes", "-1"), "--passes -1"),
    ("video-passes-word", video("--passes", "abc"), "--passes"),
    ("video-passes-with-workers", video("--passes", "2", "--workers", "2"), "--passes"),
    ("video-pass-iterations-negative", video("--passes", "2", "--pass-iterations", "-1"), "--pass-iterations -1"),
    ("video-pass-iterations-without-passes", video("--pass-iterations", "3"), "--pass-iterations 3"),
    ("video-keyframe-no-time", video("--keyframe", "nonsense"), "T:IMAGE"),
    ("video-keyframe-time-word", video("--keyframe", "soon:painted.png"), "neither seconds nor #N"),
    ("video-keyframe-missing", video("--keyframe", "99:missing.png"), "missing.png"),
    ("video-keyframe-frame-zero", video("--keyframe", "#0:painted.png"), "numbered from #1"),
    ("video-keyframe-folder", video("--keyframe", "0:frames"), "folder"),
    ("video-keyframe-text-picture", video("--keyframe", "0:notes.jpg"), "notes.jpg"),
    ("video-keyframe-a-clip", video("--keyframe", "0:clip4.mp4"), "clip4.mp4"),
    ("video-keyframe-other-shape", video("--keyframe", "0:content.png"), "another shape"),
    ("video-keyframe-past-end", video("--keyframe", "99:painted.png"), "--keyframe 99:painted.png: lies after"),
    ("video-keyframe-frame-past-end", video("--keyframe", "#99:painted.png"), "lies after the clip's end"),
    ("video-keyframes-on-one-frame", video("--keyframe", "0:painted.png", "--keyframe", "#1:painted.png"),
     "both fall on frame #1"),
    ("video-keyframe-independent", video("--keyframe", "0:painted.png", "--temporal", "independent"),
     "--temporal independent"),
    ("video-keyframe-mask-two-styles", video("--style", "content.png", "--keyframe", "0:painted.png", "--mask",
                                             "white.png"), "one style at most"),
    ("video-mask-missing", video("--mask", "missing.png"), "missing.png"),
    ("video-mask-text-picture", video("--mask", "notes.jpg"), "--mask"),
    ("video-mask-text-video", video("--mask", "notes.mp4"), "--mask"),
    ("video-mask-shorter-than-the-clip", video("--mask", "clip.mp4", source="clip4.mp4"), "3 frame"),
    ("video-mask-one-value-two-styles", video("--style", "content.png", "--mask", "white.png"), "all one value"),
    ("video-mask-three-styles", video("--style", "content.png", "--style", "photo.jpg", "--mask", "content.png"),
     "one or two"),
    ("video-mask-with-a-schedule", video("--style", "content.png@0.1", "--mask", "content.png"), "--mask"),
    ("image-style-time", image(style="style.png@1"), "video"),
    ("image-strength-time", image("--strength", "0.5@1"), "video"),
    ("image-mask-text", image("--mask", "notes.jpg"), "--mask"),
    ("image-mask-one-value-two-styles", image("--style", "content.png", "--mask", "white.png"), "all one value"),
    # -- empty names (issue 26): '' is the current folder to the file system; refused as empty
    ("image-style-empty", image(style=""), "--style '': the name is empty"),
    ("image-style-spaces", image(style="  "), "--style '  ': the name is empty"),
    ("image-style-empty-beside-a-good-one", image("--style", ""), "--style '': the name is empty"),
    ("image-init-empty", image("--init", ""), "--init '': the name is empty"),
    ("image-mask-empty", image("--mask", ""), "--mask '': the name is empty"),
    ("image-weights-empty", image("--weights", ""), "--weights '': the name is empty"),
    ("image-content-empty", image(content=""), "the content '': the name is empty"),
    ("image-output-empty", image(out=""), "the output '': the name is empty"),
    ("video-style-empty", video("--style", "", "--style", "content.png@0.1"), "--style '': the name is empty"),
    ("video-input-empty", video(source=""), "the input '': the name is empty"),
    ("video-mask-empty", video("--mask", ""), "--mask '': the name is empty"),
    ("video-work-dir-empty", video("--work-dir", ""), "--work-dir '': the name is empty"),
    ("webcam-camera-empty", webcam("--camera", ""), "--camera '': the name is empty"),
    ("webcam-record-empty", webcam("--record", ""), "--record '': the name is empty"),
    ("eval-original-empty", ["eval", "", "clip.mp4"], "the original '': the name is empty"),
    ("image-style-name-too-long", image(style="x" * 10_000), "the name is too long"),
    ("image-output-name-too-long", image(out="x" * 10_000 + ".png"), "the name is too long"),
    ("video-mask-path-too-long", video("--mask", "x/" * 3000), "the name is too long"),
    # -- no command
    ("no-command", [], "COMMAND"),
    ("unknown-command", ["paint"], "paint"),
]


@pytest.fixture
def optimizations(monkeypatch) -> list[int]:
    """Counts every entry into the optimizer: a refusal must come before any."""
    return _count_optimizations(monkeypatch)


def _count_optimizations(monkeypatch) -> list[int]:
    from videostyle.engine.optimize import Stylizer

    entered: list[int] = []
    optimize = Stylizer._optimize

    def counted(self, *args, **kwargs):
        entered.append(1)
        return optimize(self, *args, **kwargs)

    monkeypatch.setattr(Stylizer, "_optimize", counted)
    return entered


@pytest.mark.parametrize(("argv", "word"), [pytest.param(argv, word, id=name) for name, argv, word in CASES])
def test_hostile_input_is_one_line_exit_2_before_any_work_and_changes_nothing(media, capsys, optimizations,
                                                                               argv, word):
    before = tree(media)
    capsys.readouterr()
    cwd = os.getcwd()
    os.chdir(media)  # relative paths, as typed
    try:
        code = main(argv)
    finally:
        os.chdir(cwd)
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err + captured.out
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("videostyle: error: "), err
    assert word in lines[0], lines[0]
    assert not optimizations, f"refused only after {len(optimizations)} optimizer run(s): {lines[0]}"
    assert tree(media) == before


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting is refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_a_refused_camera_url_is_our_one_line_only(media, capfd, optimizations, scheme):
    """OpenCV's ffmpeg writes "[tcp @ 0x...] Connection ... refused" to the process's stderr
    itself, past Python (capfd sees it, capsys would not): it is folded into our line."""
    url = f"{scheme}://127.0.0.1:{_closed_port()}/stream"
    before = tree(media)
    capfd.readouterr()
    code = _in(media, ["webcam", "--camera", url, "--style", "style.png", "--no-preview", "--duration", "1",
                       "--size", "32", "--device", "cpu", "-q"])
    captured = capfd.readouterr()
    lines = (captured.err + captured.out).strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(f"videostyle: error: camera {url}: "), lines
    assert "Connection refused" in lines[0] and "@ 0x" not in lines[0], lines
    assert not optimizations and tree(media) == before


def test_the_before_any_work_check_can_fail(media, tmp_path, capsys, optimizations):
    """A good run does enter the optimizer, so the check above can see late refusals."""
    cwd = os.getcwd()
    os.chdir(media)
    try:
        assert main(image(out=str(tmp_path / "good-out.png"))) == 0
    finally:
        os.chdir(cwd)
    assert optimizations


def test_the_table_is_large_and_covers_every_command():
    commands = {argv[0] if argv else "" for _, argv, _ in CASES}
    assert len(CASES) >= 60 and {"image", "video", "webcam", "eval", "demo"} <= commands
    assert len({name for name, _, _ in CASES}) == len(CASES)


def test_a_relative_name_with_a_colon_is_a_file_not_a_protocol(media, tmp_path, capsys):
    """ffmpeg is given file:/absolute paths: 'my:clip.mp4' in and 'a:b.gif' out both work."""
    os.link(media / "clip.mp4", tmp_path / "my:clip.mp4")
    write_rgb(tmp_path / "my:style.png", stripes(32, 32))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = main(["video", "my:clip.mp4", "--style", "my:style.png", "-o", "a:b.gif", "--size", "32", "-n", "1",
                     "--first-iterations", "1", "--device", "cpu", "-q"])
    finally:
        os.chdir(cwd)
    assert code == 0, capsys.readouterr().err
    with Image.open(tmp_path / "a:b.gif") as gif:
        assert gif.n_frames == 3


def test_warnings_are_one_line_each(media, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_rgb(folder / "a1.png", scene(48, 36))
    write_rgb(folder / "a2.png", scene(36, 48))
    capsys.readouterr()
    assert main(["video", str(folder), "--style", str(media / "style.png"), "-o", str(tmp_path / "o.gif"),
                 "--size", "32", "-n", "1", "--first-iterations", "1", "--device", "cpu", "-q"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("videostyle: warning: ") and "centre" in err[0], err



# -- results, not refusals: what the probe found -------------------------------------------
def _in(folder: Path, argv: list[str]) -> int:
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return main(argv)
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("name", ["clip [HD].mp4", "what?.mp4", "clip[1].mp4", "a*b.mp4"])
def test_an_existing_file_with_glob_characters_is_that_file(tmp_path, name):
    from videostyle.io import open_source

    make_clip(tmp_path / name, frames=2, size="48x32")
    make_clip(tmp_path / "clip1.mp4", frames=5, size="32x24")  # what the glob clip[1].mp4 matches
    make_clip(tmp_path / "whatx.mp4", frames=5, size="32x24")
    with open_source(tmp_path / name) as source:
        frames = list(source)
    assert len(frames) == 2 and frames[0].shape == (32, 48, 3)


def test_a_glob_is_a_glob_when_no_file_has_that_name(tmp_path):
    from videostyle.io import open_source

    for i in range(3):
        write_rgb(tmp_path / f"f{i}.png", scene(16, 12, seed=i))
    with open_source(str(tmp_path / "f[0-1].png")) as source:
        assert len(list(source)) == 2


def _ffmpeg(*args: str) -> None:
    import subprocess

    from videostyle.io.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def test_the_probe_reads_streams_not_metadata_or_the_file_name(tmp_path):
    """A comment, or the name, saying "Duration: 1:02:03" or "rotation of 90 degrees" is text."""
    from videostyle.io import probe

    clip = make_clip(tmp_path / "plain.mp4", frames=12, size="48x32")
    lying = tmp_path / "Duration: 1:02:03, rotation of 90 degrees.mp4"
    _ffmpeg("-i", str(clip), "-c", "copy", "-metadata", "comment=Duration: 1:02:03\n  Duration: 9:00:00.00",
            "-metadata", "title=rotation of 90 degrees", "-metadata:s:v:0", "comment=rotation of 90 degrees",
            str(lying))
    info = probe(lying)
    assert info.duration is not None and abs(info.duration - 1.2) < 0.05
    assert (info.width, info.height, info.rotation, info.frame_count) == (48, 32, 0, 12)
    turned = tmp_path / "turned.mp4"
    _ffmpeg("-display_rotation", "90", "-i", str(clip), "-c", "copy", str(turned))
    assert (probe(turned).width, probe(turned).height, probe(turned).rotation) == (32, 48, 90)


def test_a_thumbnail_before_the_clip_is_skipped_and_the_clip_decoded(tmp_path, media):
    from videostyle.io import open_source, probe

    mkv = make_thumbnail_first(tmp_path / "thumb-first.mkv", make_clip(tmp_path / "c.mp4", frames=4, size="48x32"))
    info = probe(mkv)
    assert (info.width, info.height, info.fps, info.frame_count) == (48, 32, 10, 4)
    with open_source(mkv) as source:
        frames = list(source)
    assert len(frames) == 4 and frames[0].shape == (32, 48, 3)
    assert frames[0].std() > 20  # the test pattern, not the plain red thumbnail


def test_audio_with_cover_art_is_not_a_video(media):
    from videostyle.errors import BadSource
    from videostyle.io import probe

    with pytest.raises(BadSource, match="audio with a still picture"):
        probe(media / "song.m4a")


def test_non_square_pixels_give_frames_at_the_display_aspect(tmp_path, capsys):
    """48x32 stored with SAR 4:3 is 64x32 on screen."""
    from videostyle.io import open_source

    sar = make_clip(tmp_path / "sar.mp4", frames=3, size="48x32", extra=("-vf", "setsar=4/3"))
    with open_source(sar) as source:
        assert (source.info.width, source.info.height) == (64, 32)
        assert list(source)[0].shape == (32, 64, 3)
    make_clip(tmp_path / "square.mp4", frames=3, size="64x32")
    make_clip(tmp_path / "narrow.mp4", frames=3, size="48x32")
    assert _in(tmp_path, ["eval", "sar.mp4", "square.mp4"]) == 0  # the same picture on screen
    assert _in(tmp_path, ["eval", "sar.mp4", "narrow.mp4"]) == 2
    assert "narrow.mp4" in capsys.readouterr().err


def test_the_decoder_dying_mid_job_is_a_run_time_failure_with_the_frames_kept(tmp_path, media, capsys,
                                                                              monkeypatch):
    """A stand-in for the OOM killer: the decoding ffmpeg is killed after four frames."""
    import signal

    from videostyle.io import sources

    make_clip(tmp_path / "long.mp4", frames=12, size="240x160")
    original = sources.VideoFileSource.__iter__

    def killed_after_four(self):
        for index, frame in enumerate(original(self)):
            if index == 3:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait()
            yield frame

    monkeypatch.setattr(sources.VideoFileSource, "__iter__", killed_after_four)
    os.link(media / "style.png", tmp_path / "style.png")
    capsys.readouterr()
    # frames larger than a pipe's buffer: the decoder cannot have finished ahead of us
    code = _in(tmp_path, video("--work-dir", "work", "--size", "160", source="long.mp4"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1, err
    assert len(err) == 1 and "decoder" in err[0] and "SIGKILL" in err[0] and "long.mp4" in err[0], err
    assert not (tmp_path / "out.mp4").exists()
    kept = sorted(p.name for p in (tmp_path / "work").glob("frame_*.png"))
    assert 1 <= len(kept) < 12, kept


def test_a_thin_style_is_scaled_up_to_what_the_network_needs(media, tmp_path, capsys):
    write_rgb(tmp_path / "thin.png", stripes(1000, 2))
    code = main(image(content=str(media / "content.png"), style=str(tmp_path / "thin.png"),
                      out=str(tmp_path / "out.png")))
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out.png").is_file()


def test_a_folder_output_named_with_a_dot_is_a_folder(media, tmp_path, capsys):
    code = _in(media, video(out=str(tmp_path / "frames.v2") + "/"))
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "frames.v2").iterdir()) == [f"frame_{i:05d}.png" for i in (1, 2, 3)]


def test_a_link_to_a_device_as_output_is_refused_before_any_work(media, tmp_path, capsys, optimizations):
    """As a link to /dev/stdout is in a terminal (under pytest stdout is a plain file)."""
    link = tmp_path / "out.mp4"
    link.symlink_to("/dev/null")
    capsys.readouterr()
    assert _in(media, video("--force", out=str(link))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "device" in err[0] and not optimizations, err
    assert link.is_symlink()


def test_a_full_temporary_folder_for_a_gif_is_the_disk_full_line(media, tmp_path, capsys, monkeypatch):
    """The GIF sink spools frames in TMPDIR; writes there are buffered, so ENOSPC can come
    from the flush before the palette pass or from closing the spool."""
    import errno
    import tempfile
    import types

    from videostyle.io import sinks

    class FullSpool:
        def __init__(self, *args, **kwargs):
            self.file = tempfile.TemporaryFile()  # noqa: SIM115

        def write(self, data):
            return len(data)  # buffered: the disk is found full later

        def flush(self):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def seek(self, *args):
            return self.file.seek(*args)

        def close(self):
            self.file.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(sinks, "tempfile", types.SimpleNamespace(TemporaryFile=FullSpool,
                                                                 gettempdir=tempfile.gettempdir))
    capsys.readouterr()
    code = _in(media, video("--work-dir", str(tmp_path / "work"), out=str(tmp_path / "out.gif")))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "disk full writing" in err[0] and "kept" in err[0], err
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "out.gif").exists() and list((tmp_path / "work").glob("frame_*.png"))


# -- the input changed while a job ran -------------------------------------------------------
def _delete(path: Path, other: Path) -> None:
    path.unlink()


def _replace(path: Path, other: Path) -> None:
    os.replace(other, path)  # a new download saved over it: another inode


def _rewrite(path: Path, other: Path) -> None:
    with open(path, "r+b") as fh:  # the same inode, cut short
        fh.truncate(path.stat().st_size // 2)


@pytest.mark.parametrize("stage", ["stylize", "encode"])
@pytest.mark.parametrize(("change", "said"), [(_delete, "was deleted"), (_replace, "was replaced by another file"),
                                              (_rewrite, "was rewritten")])
def test_an_input_changed_mid_job_lends_no_audio_and_keeps_the_frames(tmp_path, media, capsys, monkeypatch,
                                                                      stage, change, said):
    """The source is deleted, replaced by another clip with its own audio, or truncated in
    place, while frames are stylized or while the output is encoded (after the first check,
    before the output is moved into place): one line naming the input, exit 1, no output,
    the finished frames kept."""
    from videostyle.io import sinks

    source = make_clip(tmp_path / "clip.mp4", frames=4, size="48x32", audio=True)
    other = make_clip(tmp_path / "other.mp4", frames=4, size="48x32", audio=True, extra=("-crf", "40"))
    os.link(media / "style.png", tmp_path / "style.png")
    if stage == "encode":
        write = sinks.VideoSink.write

        def changed_on_the_first_write(self, frame):
            if self.frames_written == 0:
                change(source, other)
            return write(self, frame)

        monkeypatch.setattr(sinks.VideoSink, "write", changed_on_the_first_write)
        argv = video("--work-dir", "work")
    else:  # after the second frame: the decoder already holds the file open
        from videostyle.video import job

        save = job.WorkDir.save

        def changed_after_two(self, index, *args, **kwargs):
            save(self, index, *args, **kwargs)
            if index == 1:
                change(source, other)

        monkeypatch.setattr(job.WorkDir, "save", changed_after_two)
        argv = video("--work-dir", "work")
    capsys.readouterr()
    code = _in(tmp_path, argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1, err
    assert len(err) == 1 and "clip.mp4: the input " + said in err[0] and "kept" in err[0], err
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob(".out.mp4.partial*"))
    assert len(list((tmp_path / "work").glob("frame_*.png"))) == 4


def test_a_resume_from_another_file_is_refused_before_any_work(tmp_path, media, capsys, monkeypatch):
    """A job stopped after two frames; clip.mp4 is then replaced by another clip: the rerun
    names the input and enters the optimizer not once."""
    from videostyle.video import job

    make_clip(tmp_path / "clip.mp4", frames=4, size="48x32", audio=True)
    os.link(media / "style.png", tmp_path / "style.png")
    save = job.WorkDir.save

    def stopped_after_two(self, index, *args, **kwargs):
        save(self, index, *args, **kwargs)
        if index == 1:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(job.WorkDir, "save", stopped_after_two)
        assert _in(tmp_path, video("--work-dir", "work")) == 130
    assert len(list((tmp_path / "work").glob("frame_*.png"))) == 2
    os.replace(make_clip(tmp_path / "new.mp4", frames=4, size="48x32", audio=True, extra=("-crf", "40")),
               tmp_path / "clip.mp4")
    entered = _count_optimizations(monkeypatch)
    capsys.readouterr()
    assert _in(tmp_path, video("--work-dir", "work")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "changed: the input file" in err[0] and "--restart" in err[0], err
    assert not entered and len(list((tmp_path / "work").glob("frame_*.png"))) == 2
