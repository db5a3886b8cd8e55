"""The web app's job queue without a browser: order, cancel, resume, refused paths and uploads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from cli_text import cli_text
from synthetic import make_clip, scene, stripes, write_rgb

from videostyle.config import ClipConfig, ServeConfig, StyleConfig, TemporalConfig
from videostyle.errors import BadInput, BadOption, BadSource
from videostyle.io import probe
from videostyle.web import jobs
from videostyle.web.jobs import CANCELLED, DONE, FAILED, JobQueue, JobRequest, inside, safe_name
from videostyle.web.status import describe


@pytest.fixture
def queue(tmp_path):
    with JobQueue(tmp_path / "data", device="cpu", precision="fp32") as q:
        yield q


@pytest.fixture
def style(tmp_path) -> Path:
    return Path(write_rgb(tmp_path / "style.png", stripes()))


def request(path: Path, style: Path, **settings) -> JobRequest:
    tiny = {"size": 48, "iterations": 1, "first_iterations": 2, "preset": "preview"}
    return JobRequest(input=path, styles=((style, 1.0),), **{**tiny, **settings})


def wait_done(queue: JobQueue, job, timeout: float = 120) -> None:
    assert queue.wait(job, timeout=timeout), describe(job)


# -- order and places -------------------------------------------------------------------------
def test_jobs_run_one_at_a_time_in_submission_order_and_see_their_place(queue, tmp_path, style, monkeypatch):
    gate = threading.Event()
    order: list[str] = []

    def run(job):
        order.append(job.request.display_name)
        gate.wait(10)
        return DONE, ""

    monkeypatch.setattr(queue, "_run", run)
    pictures = [Path(write_rgb(tmp_path / f"p{i}.png", scene(32, 24, seed=i))) for i in range(3)]
    submitted = [queue.submit(request(p, style)) for p in pictures]
    deadline = time.monotonic() + 10
    while submitted[0].state != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [queue.ahead(j) for j in submitted] == [0, 1, 2]
    assert describe(submitted[2], queue.ahead(submitted[2])) == "p2.png: queued, 2 jobs ahead"
    assert describe(submitted[1], queue.ahead(submitted[1])) == "p1.png: queued, 1 job ahead"
    assert queue.submit(request(pictures[1], style)) is submitted[1]  # the same job is not queued twice
    gate.set()
    for job in submitted:
        wait_done(queue, job)
    assert order == ["p0.png", "p1.png", "p2.png"]


def test_a_queued_job_can_be_cancelled_before_it_starts(queue, tmp_path, style, monkeypatch):
    gate = threading.Event()
    monkeypatch.setattr(queue, "_run", lambda job: (gate.wait(10), (DONE, ""))[1])
    first = queue.submit(request(Path(write_rgb(tmp_path / "a.png", scene(32, 24))), style))
    second = queue.submit(request(Path(write_rgb(tmp_path / "b.png", scene(32, 24, seed=5))), style))
    assert queue.cancel(second.id).state == CANCELLED
    gate.set()
    wait_done(queue, first)
    assert first.state == DONE and second.state == CANCELLED


# -- real jobs: picture, clip, cancel, resume -------------------------------------------------
def test_a_picture_job_writes_a_png_beside_nothing_else(queue, tmp_path, style):
    job = queue.submit(request(Path(write_rgb(tmp_path / "photo.jpg", scene(40, 30))), style, size=400))
    wait_done(queue, job)
    assert job.state == DONE, job.message
    assert job.size == 40  # never larger than the upload
    assert queue.download(job).name == "photo-videostyle.png"
    assert job.preview is not None and job.preview.shape == (30, 40, 3)


def test_cancel_keeps_finished_frames_and_the_same_job_resumes(queue, tmp_path, style):
    clip = make_clip(tmp_path / "clip.mp4", frames=8, size="64x48", fps=10, audio=True)
    job = queue.submit(request(clip, style))
    deadline = time.monotonic() + 120
    while job.finished < 2 and job.active and time.monotonic() < deadline:
        time.sleep(0.02)
    queue.cancel(job.id)
    wait_done(queue, job)
    assert job.state == CANCELLED
    kept = sorted(p.name for p in job.work.glob("frame_*.png"))
    assert len(kept) >= 2
    assert "cancelled after" in describe(job) and "resume" in describe(job)
    assert not job.output.exists()

    again = queue.submit(request(clip, style))
    assert again.id == job.id and again is not job
    wait_done(queue, again)
    assert again.state == DONE, again.message
    assert again.resumed >= len(kept)
    info = probe(queue.download(again))
    assert info.frame_count == 8 and info.has_audio
    assert describe(again).startswith("clip.mp4: finished, 8 frames")


def test_a_finished_job_survives_a_server_restart(tmp_path, style):
    picture = Path(write_rgb(tmp_path / "photo.png", scene(32, 24)))
    with JobQueue(tmp_path / "data", device="cpu", precision="fp32") as first:
        job = first.submit(request(picture, style))
        wait_done(first, job)
    with JobQueue(tmp_path / "data", device="cpu", precision="fp32") as second:
        again = second.submit(request(picture, style))
        assert again.state == DONE and again.output == job.output  # shown again, not redone


def test_two_users_with_the_same_bytes_never_see_each_others_name_or_result(queue, tmp_path, style):
    """The hash-keyed resume is per owner (the page's browser token): the second user gets a
    job, frames and result of their own, under the name they uploaded."""
    pixels = scene(32, 24)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    alice = Path(write_rgb(tmp_path / "a" / "alice-holiday.png", pixels))
    bob = Path(write_rgb(tmp_path / "b" / "bob-secret.png", pixels))
    assert alice.read_bytes() == bob.read_bytes()
    first = queue.submit(request(alice, style, owner="alice-token"))
    wait_done(queue, first)
    second = queue.submit(request(bob, style, owner="bob-token"))
    assert second is not first and second.id != first.id and second.work != first.work
    wait_done(queue, second)
    assert second.state == DONE and second.resumed == 0
    assert describe(second).startswith("bob-secret.png: finished") and "alice" not in describe(second)
    assert queue.download(second).name == "bob-secret-videostyle.png"
    assert queue.download(second).parent != queue.download(first).parent
    same_name = queue.submit(request(alice, style, owner="bob-token"))  # the same name too: still bob's own
    assert same_name.id not in (first.id, second.id)
    queue.cancel(same_name.id)
    wait_done(queue, same_name)
    # one user's two names for the same bytes are two jobs, each shown under its own name
    renamed = Path(write_rgb(tmp_path / "a" / "renamed.png", pixels))
    third = queue.submit(request(renamed, style, owner="alice-token"))
    assert third.id != first.id and third.request.display_name == "renamed.png"
    wait_done(queue, third)
    assert queue.download(third).name == "renamed-videostyle.png"
    # and the same user asking again is shown the finished job
    assert queue.submit(request(alice, style, owner="alice-token")) is first


def test_the_same_owner_resumes_after_a_cancel_and_a_restart(tmp_path, style):
    clip = make_clip(tmp_path / "clip.mp4", frames=6, size="48x32", fps=10)
    with JobQueue(tmp_path / "data", device="cpu", precision="fp32") as first:
        job = first.submit(request(clip, style, owner="alice-token"))
        deadline = time.monotonic() + 120
        while job.finished < 2 and job.active and time.monotonic() < deadline:
            time.sleep(0.02)
        first.cancel(job.id)
        wait_done(first, job)
        kept = len(list(job.work.glob("frame_*.png")))
        assert job.state == CANCELLED and kept >= 2
    with JobQueue(tmp_path / "data", device="cpu", precision="fp32") as second:
        other = second.submit(request(clip, style, owner="bob-token"))  # another user: from scratch
        mine = second.submit(request(clip, style, owner="alice-token"))
        assert mine.id == job.id and other.id != job.id
        wait_done(second, other)
        wait_done(second, mine)
        assert other.state == DONE and other.resumed == 0
        assert mine.state == DONE and mine.resumed >= kept


# -- what is refused --------------------------------------------------------------------------
def test_download_names_cannot_escape_the_data_directory(queue, tmp_path, style):
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("..\\..\\boot.ini") == "boot.ini"
    assert safe_name(".hidden.mp4") == "hidden.mp4"
    assert safe_name("../..") == "upload"
    for parts in (("..", "x"), ("/etc/passwd",), ("a", "..", "..", "b")):
        with pytest.raises(BadInput):
            inside(queue.root / "results", *parts)
    job = queue.submit(request(Path(write_rgb(tmp_path / "p.png", scene(32, 24))), style, name="../../../evil.png"))
    assert job.output.is_relative_to(queue.root / "results")
    assert job.output.name == "evil-videostyle.png"
    wait_done(queue, job)
    job.output = queue.root.parent / "outside.png"  # a tampered record is refused, not served
    with pytest.raises(BadInput):
        queue.download(job)


@pytest.mark.parametrize(("content", "expected"), [
    (b"this is not a video\n" * 20, "not a video ffmpeg can read"),
    (b"", "file is empty"),
    (b"GIF89a\x10\x00\x10\x00\x80\x00\x00" + b"\x00" * 10, "no frames could be decoded"),  # a corrupt GIF
])
def test_a_bad_upload_is_one_clear_line_naming_the_upload(queue, tmp_path, style, content, expected):
    suffix = ".gif" if content.startswith(b"GIF") else ".mp4"
    upload = tmp_path / "gradio-tmp" / f"upload{suffix}"
    upload.parent.mkdir()
    upload.write_bytes(content)
    with pytest.raises(BadSource) as caught:
        queue.submit(request(upload, style, name=f"holiday{suffix}"))
    message = str(caught.value)
    assert message.startswith(f"holiday{suffix}: ") and expected in message, message
    assert "\n" not in message and str(tmp_path) not in message
    assert not any((queue.root / "jobs").iterdir())  # nothing kept of a refused upload


def test_upload_size_and_duration_limits(tmp_path, style):
    clip = make_clip(tmp_path / "long.mp4", frames=30, size="64x48", fps=10)
    with (JobQueue(tmp_path / "data", limits=ServeConfig(max_upload_mb=0.001)) as small,
          pytest.raises(BadInput, match="over this server's upload limit")):
        small.submit(request(clip, style))
    with JobQueue(tmp_path / "data", limits=ServeConfig(max_seconds=1.0)) as short:
        with pytest.raises(BadOption, match="3 s of video is over this server's limit of 1 s"):
            short.submit(request(clip, style))
        assert short.submit(request(clip, style, duration=0.5)).frames == 5  # trimmed: accepted
        with pytest.raises(BadOption, match="past the end"):
            short.submit(request(clip, style, start=10.0))


def test_a_bad_style_upload_is_refused_and_the_bundled_style_is_offered(queue, tmp_path):
    assert queue.gallery.names()[0] == jobs.BUNDLED_STYLE
    text = tmp_path / "style.jpg"
    text.write_text("not a picture")
    with pytest.raises(BadInput, match=r"^mine\.jpg: not an image"):
        queue.gallery.add(text, "mine.jpg")
    added = queue.gallery.add(Path(write_rgb(tmp_path / "s.png", stripes())), "../my style.png")
    assert added.startswith("my_style-") and added in queue.gallery.names()
    with pytest.raises(BadInput):
        queue.gallery.path("../../etc/passwd")


def test_a_job_failing_inside_the_engine_is_a_message_and_the_queue_goes_on(queue, tmp_path, style, monkeypatch):
    picture = Path(write_rgb(tmp_path / "p.png", scene(32, 24)))
    monkeypatch.setattr(queue, "_run_image", lambda job: 1 / 0)
    job = queue.submit(request(picture, style))
    wait_done(queue, job)
    assert job.state == FAILED and describe(job).startswith("Error: internal error (ZeroDivisionError")
    monkeypatch.undo()
    again = queue.submit(request(picture, style))
    wait_done(queue, again)
    assert again.state == DONE


@pytest.mark.parametrize("make", [
    lambda: StyleConfig(strength=7),
    lambda: StyleConfig(device="tpu"),
    lambda: TemporalConfig(first_iterations=-1),
    lambda: ClipConfig(start=float("nan")),
    lambda: JobRequest(input=Path("x.mp4"), styles=((Path("s.jpg"), 1.0),), size=8),
    lambda: JobRequest(input=Path("x.mp4"), styles=((Path("s.jpg"), 1.0),), duration=-1),
])
def test_the_page_names_settings_in_its_own_words_never_as_flags(make):
    from videostyle.errors import VideostyleError
    from videostyle.web.words import page_message

    with pytest.raises(VideostyleError) as raised:
        make()
    assert "--" in cli_text(raised.value)  # the CLI's spelling ...
    shown = page_message(raised.value)
    assert "--" not in shown and shown  # ... and the page's


def test_a_failed_job_tells_the_page_what_to_change_without_flags(tmp_path):
    from videostyle.errors import BadOption, S
    from videostyle.web.words import page_message

    message = page_message(BadOption(S.size, " 8: must be at least 16; rerun with ", S.restart))
    assert message.startswith("Output size 8") and "--" not in message and "fresh start" in message


# -- where and when: a timeline, a strength ramp, a mask, a loop --------------------------------
def test_the_page_timeline_becomes_the_jobs_schedule():
    from videostyle.config import ScheduleEntry
    from videostyle.web.app import WhereAndWhen

    a, b = (Path("a.png"), 1.0), (Path("b.png"), 0.5)
    fields = WhereAndWhen(starts="0, 2", transition=0.5, ramp_from=0.1, ramp_over=3).request_fields(2, 0.6)
    schedule = JobRequest(input=Path("x.mp4"), styles=(a, b), **fields).schedule()
    assert schedule is not None
    assert schedule.entries == (ScheduleEntry(0.0, (1.0, 0.0)), ScheduleEntry(2.0, (0.0, 0.5)))
    assert schedule.transition == 0.5 and schedule.strengths == ((0.0, 0.1), (3.0, 0.6))
    both = JobRequest(input=Path("x.mp4"), styles=(a, b), **WhereAndWhen(starts="0, 0").request_fields(2, 0.5))
    assert both.schedule() is None  # one blend throughout: the job runs exactly as without a timeline
    shots = JobRequest(input=Path("x.mp4"), styles=(a, b), per_shot=True).schedule()
    assert shots is not None and shots.per_shot and [e.weights for e in shots.entries] == [(1.0, 0.0), (0.0, 0.5)]


@pytest.mark.parametrize("fields, expected", [
    ({"starts": "0"}, "1 given for 2 chosen styles"),
    ({"starts": "0, soon"}, "give seconds"),
    ({"starts": "1, 2"}, "must start at 0"),
])
def test_a_bad_timeline_is_one_line(fields, expected):
    from videostyle.web.app import WhereAndWhen
    from videostyle.web.words import page_message

    styles = ((Path("a.png"), 1.0), (Path("b.png"), 1.0))
    with pytest.raises(BadOption) as raised:
        JobRequest(input=Path("x.mp4"), styles=styles, **WhereAndWhen(**fields).request_fields(2, 0.5))
    assert expected in str(raised.value) and "\n" not in page_message(raised.value)


def test_a_scheduled_masked_clip_runs_and_each_setting_is_its_own_job(queue, tmp_path, style):
    import numpy as np

    from videostyle.io import read_image
    from videostyle.web.app import WhereAndWhen

    clip = make_clip(tmp_path / "clip.mp4", frames=6, size="64x48", fps=10)
    other = Path(write_rgb(tmp_path / "other.png", scene(64, 48, seed=3)))
    two = ((style, 1.0), (other, 1.0))
    timed = queue.submit(JobRequest(input=clip, styles=two, size=48, iterations=1, first_iterations=2,
                                    preset="preview", output="gif",
                                    **WhereAndWhen(starts="0, 0.3", transition=0.2).request_fields(2, 0.5)))
    wait_done(queue, timed)
    assert timed.state == DONE, timed.message
    half = np.zeros((48, 64, 3), np.uint8)
    half[:, :32] = 255
    mask = Path(write_rgb(tmp_path / "half.png", half))
    masked = queue.submit(JobRequest(input=clip, styles=two, size=48, iterations=1, first_iterations=2,
                                     preset="preview", output="gif", mask=mask))
    wait_done(queue, masked)
    assert masked.state == DONE, masked.message
    assert masked.id != timed.id and masked.mask is not None and masked.mask.parent == masked.input.parent
    mask.unlink()  # the job keeps its own copy: the upload may be gone when it resumes
    assert masked.mask.is_file()
    photo = queue.submit(JobRequest(input=Path(write_rgb(tmp_path / "p.png", scene(64, 48))), styles=two,
                                    size=48, iterations=2, preset="preview", mask=masked.mask))
    wait_done(queue, photo)
    assert photo.state == DONE, photo.message
    assert read_image(queue.download(photo)).shape == (36, 48, 3)


def test_keyframes_uploaded_with_their_times_run_without_a_style(queue, tmp_path, style):
    import numpy as np

    from videostyle.io import open_source
    from videostyle.web.app import WhereAndWhen
    from videostyle.web.words import page_message

    clip = make_clip(tmp_path / "clip.mp4", frames=6, size="64x48", fps=10)
    with open_source(clip, size=64) as source:
        frames = list(source)
    painted = (0.5 * frames[3] + np.array([100, 0, 0])).astype(np.uint8)  # a red 'painting' of frame #4
    key = write_rgb(tmp_path / "key.png", painted)
    fields = WhereAndWhen(keyframes=[key], keyframe_times="0.3").request_fields(0, 0.5)
    assert fields["keyframes"] == ((0.3, Path(key)),)
    job = queue.submit(JobRequest(input=clip, styles=(), size=64, iterations=1, first_iterations=2,
                                  preset="preview", output="gif", **fields))
    wait_done(queue, job)
    assert job.state == DONE, job.message
    assert [p.parent for _, p in job.keyframes] == [job.input.parent]  # kept beside the input for a resume
    for bad, expected in (({"keyframes": [key], "keyframe_times": ""}, "0 time(s) given for 1 picture"),
                          ({"keyframes": [key], "keyframe_times": "soon"}, "give seconds")):
        with pytest.raises(BadOption) as raised:
            WhereAndWhen(**bad).request_fields(0, 0.5)
        message = page_message(raised.value)
        assert expected in message and "Keyframes" in message and "--" not in message
    with pytest.raises(BadOption, match="choose at least one style, or upload keyframes"):
        JobRequest(input=clip, styles=())
    photo = Path(write_rgb(tmp_path / "p.png", scene(64, 48)))
    with pytest.raises(BadOption) as refused:
        queue.submit(JobRequest(input=photo, styles=((style, 1.0),), keyframes=((0.0, Path(key)),)))
    assert "painted frames of a clip" in page_message(refused.value)
