"""Nothing lost: the work folder, job locks, damaged work folders and a full disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from guards import small_disk, tree
from PIL import Image
from synthetic import make_clip, stripes, write_rgb

from videostyle.cli import main
from videostyle.config import ClipConfig, StyleConfig, TemporalConfig
from videostyle.errors import BadOutput, DiskFull, S
from videostyle.io import probe
from videostyle.video.job import stylize_video
from videostyle.video.workdir import LOCK_FILE, MARKER_FILE, WorkDir, changed_options, is_own_file

FAST = ["--size", "32", "--iterations", "1", "--first-iterations", "2", "--device", "cpu", "--quiet"]
STYLE = StyleConfig(device="cpu", precision="fp32")
FEW = TemporalConfig(iterations=1, first_iterations=2)


@pytest.fixture
def files(tmp_path):
    """A folder as a user has it: a clip, a style image and notes of their own."""
    folder = tmp_path / "project"
    folder.mkdir()
    make_clip(folder / "in.mp4", frames=3, size="48x32")
    write_rgb(folder / "style.png", stripes(32, 32))
    (folder / "notes.txt").write_text("mine\n")
    return folder


def run(capsys, folder: Path, *args) -> tuple[int, str]:
    """``videostyle ARGS`` run from ``folder``; (exit code, stderr)."""
    capsys.readouterr()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        code = main([str(a) for a in args])
    finally:
        os.chdir(cwd)
    return code, capsys.readouterr().err.strip()


def video(*extra) -> list[str]:
    return ["video", "in.mp4", "--style", "style.png", *FAST, *extra]


def stop_after(frames: int):
    """A progress callback that interrupts the job once ``frames`` frames are finished."""
    def callback(p):
        if p.step is None and p.stage == "stylize" and p.finished == frames:
            raise KeyboardInterrupt
    return callback


def interrupted_job(folder: Path, out: Path, frames: int = 2) -> Path:
    """Run a job on ``folder``/in.mp4 and interrupt it after ``frames``; returns its work folder."""
    with pytest.raises(KeyboardInterrupt):
        stylize_video(folder / "in.mp4", out, [stripes(32, 32)], style=STYLE, temporal=FEW,
                      clip=ClipConfig(size=32), callback=stop_after(frames))
    return out.parent / f".{out.name}.videostyle"


# -- the tool deletes only what it created ---------------------------------------------------
@pytest.mark.parametrize("restart", [False, True])
def test_work_dir_dot_is_refused_and_nothing_is_touched(files, capsys, restart):
    before = tree(files)
    code, err = run(capsys, files, *video("-o", "out.mp4", "--work-dir", ".", *(["--restart"] if restart else [])))
    assert code == 2 and "\n" not in err and "not a videostyle work folder" in err
    assert tree(files) == before


def test_a_folder_of_the_users_files_is_refused_untouched(files, capsys):
    mine = files / "mine"
    mine.mkdir()
    (mine / "frame_00001.png").write_bytes(b"my own frame dump")
    (mine / "holiday.jpg").write_bytes(b"a photo")
    before = tree(files)
    code, err = run(capsys, files, *video("-o", "out.mp4", "--work-dir", "mine", "--restart"))
    assert code == 2 and "mine" in err and "nothing was touched" in err
    assert tree(files) == before


def test_a_work_dir_that_is_a_file_is_refused(files, capsys):
    before = tree(files)
    code, err = run(capsys, files, *video("-o", "out.mp4", "--work-dir", "notes.txt"))
    assert code == 2 and "is a file" in err
    assert tree(files) == before


def test_a_new_work_dir_is_made_and_removed_after_success(files, capsys):
    code, err = run(capsys, files, *video("-o", "out.mp4", "--work-dir", "work"))
    assert code == 0, err
    assert not (files / "work").exists()
    assert sorted(tree(files)) == ["in.mp4", "notes.txt", "out.mp4", "style.png"]


def test_an_empty_folder_given_is_used_and_left_in_place(files, capsys):
    (files / "empty").mkdir()
    code, err = run(capsys, files, *video("-o", "out.mp4", "--work-dir", "empty"))
    assert code == 0, err
    assert (files / "empty").is_dir() and not any((files / "empty").iterdir())


def test_cleanup_removes_only_the_tools_own_files(files, capsys):
    code, _ = run(capsys, files, *video("-o", "out.mp4", "--work-dir", "work", "--keep-work"))
    work = files / "work"
    assert code == 0 and (work / MARKER_FILE).is_file() and (work / "frame_00003.png").is_file()
    assert not (work / LOCK_FILE).exists()
    (work / "my-notes.txt").write_text("I keep notes here")
    code, _ = run(capsys, files, *video("-o", "out2.mp4", "--work-dir", "work", "--restart"))
    assert code == 0
    assert sorted(p.name for p in work.iterdir()) == ["my-notes.txt"]


def test_restart_deletes_nothing_before_the_inputs_are_checked(files, capsys):
    work = interrupted_job(files, files / "out.mp4")
    assert (work / "frame_00002.png").is_file()
    before = tree(files)
    for bad in (["--style-weight", "nan"], ["--weights", "notes.txt"], ["--size", "20000"]):
        code, err = run(capsys, files, *video("-o", "out.mp4", "--restart", *bad))
        assert code == 2 and "\n" not in err, bad
        assert tree(files) == before, bad
    code, err = run(capsys, files, "video", "missing.mp4", "--style", "style.png", *FAST, "-o", "out.mp4",
                    "--restart")
    assert code == 2 and tree(files) == before


def test_a_failed_run_leaves_no_work_folder_behind(files, capsys):
    before = tree(files)
    code, err = run(capsys, files, *video("-o", "out.mp4", "--start", "60"))
    assert code == 2 and "--start 60: past the end" in err  # refused before any work (issue 18)
    assert tree(files) == before


def test_a_killed_jobs_temporary_output_is_cleaned_up_by_the_next_job(files, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = files / f".out.mp4.partial-{dead.pid}.mp4"  # what kill -9 during the encoding leaves
    stale.write_bytes(b"half a video")
    alive = files / f".out.mp4.partial-{os.getppid()}.mp4"  # a running process's: not ours to judge
    alive.write_bytes(b"being written")
    code, err = run(capsys, files, *video("-o", "out.mp4"))
    assert code == 0, err
    assert not stale.exists() and alive.read_bytes() == b"being written"


def test_a_changed_setting_is_named_by_its_option(files, capsys):
    interrupted_job(files, files / "out.mp4")
    before = tree(files)
    code, err = run(capsys, files, *video("-o", "out.mp4", "--style-weight", "5", "--temporal", "warm"))
    assert code == 2 and "--style-weight" in err and "--temporal" in err and "--restart" in err, err
    assert tree(files) == before
    assert changed_options({"clip": {"size": 32}, "styles": "a"}, {"clip": {"size": 48}, "styles": "b"}) == [
        S.size, S.style]


def test_finished_frames_are_found_in_any_order_and_only_own_names_count(tmp_path):
    with WorkDir(tmp_path / "w", {"size": [4, 3]}) as work:
        frame = np.zeros((3, 4, 3), np.uint8)
        for index in (5, 0, 2):  # finished out of order, as segments would finish them
            work.save(index, frame, frame.astype(np.float32), since_restart=1, keep_states=99)
        assert work.finished() == {0, 2, 5}
        assert sorted(set(range(7)) - work.finished()) == [1, 3, 4, 6]
        assert work.finished_frames() == 1  # where a job that goes in order resumes
        work.remove()
    assert is_own_file("frame_00001.png") and is_own_file("state_00012.npz") and is_own_file(".videostyle-lock")
    assert is_own_file(".frame_00001.png.partial-123.png") and is_own_file("settings.json")
    for foreign in ("frame_1.png", "frame_00001.jpg", "my-settings.json", ".DS_Store", "notes.txt", "frames"):
        assert not is_own_file(foreign), foreign


# -- damage found on resume ------------------------------------------------------------------
@pytest.mark.parametrize("damaged", ["frame", "state"])
def test_a_damaged_last_frame_is_redone_and_the_result_is_unchanged(files, damaged):
    fresh = files / "fresh"
    stylize_video(files / "in.mp4", f"{fresh}/", [stripes(32, 32)], style=STYLE, temporal=FEW, clip=ClipConfig(size=32))
    out = files / "resumed"
    work = interrupted_job(files, Path(f"{out}/"), frames=2)
    victim = work / ("frame_00002.png" if damaged == "frame" else "state_00002.npz")
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # as after a power cut
    result = stylize_video(files / "in.mp4", f"{out}/", [stripes(32, 32)], style=STYLE, temporal=FEW,
                           clip=ClipConfig(size=32))
    assert result.resumed == 1  # frame 2 was stylized again
    for a, b in zip(sorted(fresh.glob("*.png")), sorted(out.glob("*.png")), strict=True):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))), a.name


def test_a_damaged_settings_file_says_to_restart(files, capsys):
    work = interrupted_job(files, files / "out.mp4")
    (work / "settings.json").write_bytes(b'{"source": "in.mp4", "sty')
    code, err = run(capsys, files, *video("-o", "out.mp4"))
    assert code == 2 and "settings.json" in err and "--restart" in err and "\n" not in err
    code, err = run(capsys, files, *video("-o", "out.mp4", "--restart"))
    assert code == 0, err
    assert probe(files / "out.mp4").frame_count == 3 and not work.exists()


# -- one job at a time -----------------------------------------------------------------------
def test_a_second_job_on_the_same_output_or_work_folder_is_refused(files, capsys):
    cmd = [sys.executable, "-m", "videostyle", *video("-o", "out.mp4"), "--first-iterations", "100000"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    first = subprocess.Popen(cmd, cwd=files, env=env, stderr=subprocess.PIPE)
    try:
        lock = files / ".out.mp4.videostyle-lock"
        deadline = time.time() + 120
        while time.time() < deadline and not (files / ".out.mp4.videostyle" / LOCK_FILE).exists():
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            time.sleep(0.1)
        assert lock.exists()
        while lock.read_text().strip() != str(first.pid):  # the pid is written just after the lock is taken
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.05)
        code, err = run(capsys, files, *video("-o", "out.mp4", "--force"))
        assert code == 2 and f"another videostyle job (pid {first.pid})" in err, err
        code, err = run(capsys, files, *video("-o", "other.mp4", "--work-dir", ".out.mp4.videostyle"))
        assert code == 2 and f"pid {first.pid}" in err and "--work-dir" in err, err
        code, err = run(capsys, files, *video("-o", "out.mp4", "--work-dir", "elsewhere"))
        assert code == 2 and f"pid {first.pid}" in err and not (files / "elsewhere").exists()
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert not (files / "out.mp4").exists() and not (files / "other.mp4").exists()
    # the OS dropped the killed job's locks: the next job runs
    code, err = run(capsys, files, *video("-o", "out.mp4"))
    assert code == 0, err
    assert sorted(tree(files)) == ["in.mp4", "notes.txt", "out.mp4", "style.png"]


def test_work_folder_lock_is_held_while_open_and_released_after(tmp_path):
    with WorkDir(tmp_path / "w", {"a": 1}) as work:
        assert (work.path / LOCK_FILE).exists()
        with pytest.raises(BadOutput, match=f"pid {os.getpid()}"), WorkDir(tmp_path / "w", {"a": 1}):
            pass
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [MARKER_FILE, "settings.json"]  # kept
    with WorkDir(tmp_path / "w", {"a": 1}) as work:
        work.remove()
    assert not (tmp_path / "w").exists()
    with pytest.raises(RuntimeError), WorkDir(tmp_path / "w", {"a": 1}):
        raise RuntimeError("failed before any frame was finished")
    assert not (tmp_path / "w").exists()


# -- a full disk -----------------------------------------------------------------------------
def test_disk_full_during_a_video_keeps_the_finished_frames_and_resumes(files, tmp_path, monkeypatch, capsys):
    with small_disk(tmp_path / "small", monkeypatch) as disk:
        out = disk.path / "out.mp4"

        def fill_after_first(p):
            if p.step is None and p.stage == "stylize" and p.finished == 1:
                disk.fill()

        with pytest.raises(DiskFull) as caught:
            stylize_video(files / "in.mp4", out, [stripes(32, 32)], style=STYLE, temporal=FEW,
                          clip=ClipConfig(size=32), callback=fill_after_first)
        message = str(caught.value)
        assert message.startswith("disk full writing") and "\n" not in message
        assert "the finished frames are kept, free space and rerun to resume" in message
        work = disk.path / ".out.mp4.videostyle"
        assert sorted(p.name for p in work.glob("frame_*")) == ["frame_00001.png"]
        assert not [p for p in disk.path.rglob("*partial*")] and not out.exists()
        disk.free()
        result = stylize_video(files / "in.mp4", out, [stripes(32, 32)], style=STYLE, temporal=FEW,
                               clip=ClipConfig(size=32))
        assert result.resumed == 1 and probe(out).frame_count == 3


def test_disk_full_during_an_image_is_one_line_and_no_partial_file(files, tmp_path, monkeypatch, capsys):
    with small_disk(tmp_path / "small", monkeypatch) as disk:
        disk.fill()
        before = tree(disk.path)
        code, err = run(capsys, files, "image", "style.png", "--style", "style.png", "-o", disk.path / "out.png",
                        "--size", "32", "--iterations", "1", "--device", "cpu", "--quiet")
        assert code == 2 and err.startswith("videostyle: error: disk full writing") and "\n" not in err, err
        assert tree(disk.path) == before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_a_job_with_one_line_as_ctrl_c_does(files, signum):
    cmd = [sys.executable, "-m", "videostyle", *video("-o", "out.mp4"), "--first-iterations", "100000"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    job = subprocess.Popen(cmd, cwd=files, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (files / ".out.mp4.videostyle" / LOCK_FILE).exists():
            assert job.poll() is None, job.stderr.read() if job.stderr else ""
            time.sleep(0.1)
        time.sleep(0.5)  # into the first frame's optimization
        job.send_signal(signum)
        _, err = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    assert job.returncode == 128 + signum, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"stopped by {signal.Signals(signum).name}" in lines[0], err
    assert "Traceback" not in err and not (files / "out.mp4").exists()
