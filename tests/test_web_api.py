"""The page as a script sees it (issue 26): through gradio_client, a refused or failed job is an
exception, not a success whose text says "Error"; the optional inputs may be left out; an
error names an upload as the user named it, never the server's path; what a message repeats
of a user's text is bounded; and the page reads a timeline by the command line's rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic import make_clip, stripes, write_rgb

gr = pytest.importorskip("gradio", reason="the web extra is not installed")
pytest.importorskip("gradio_client", reason="gradio_client (installed with gradio) is missing")

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
from web_page import open_page, until_refused  # noqa: E402

from videostyle.web.app import WhereAndWhen  # noqa: E402
from videostyle.web.jobs import BUNDLED_STYLE, FAILED, JobQueue, JobRequest  # noqa: E402
from videostyle.web.status import describe  # noqa: E402

API = "/stylize_video"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``videostyle serve`` in its own process on a free loopback port."""
    from harness.serve import Server

    root = tmp_path_factory.mktemp("api")
    server = Server(root / "data", args=("--device", "cpu", "--max-seconds", "10"), log=root / "server.log")
    try:
        server.wait_up()
        yield server
    finally:
        log = server.stop()
        assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def client(server):
    client = Client(server.url, verbose=False, download_files=False)
    yield client
    client.close()


def required(clip: Path, **fields) -> dict:
    """The fields a caller must give (the rest are optional), tiny settings."""
    return {"upload": handle_file(str(clip)), "chosen": [BUNDLED_STYLE], "weights": "", "strength": 0.5,
            "colors": False, "quality": "preview", "start": 0, "duration": 0, "size": 32, "temporal": "flow",
            "output": "mp4", "side": False, **fields}


# -- through gradio_client ----------------------------------------------------------------------
def test_a_refused_job_raises_in_the_client_naming_the_upload_and_a_good_one_returns_its_result(server, tmp_path):
    from gradio_client_demo import run_demo  # scripts/

    report = run_demo(url=server.url, size=32, frames=2, work=tmp_path)
    bad, good = report["bad"], report["good"]
    assert bad["raised"] and bad["type"] == "gradio_client.exceptions.AppError", bad
    assert bad["message"].startswith("holiday.mp4: not a video") and str(tmp_path) not in bad["message"]
    assert "data" not in bad["message"].split(":")[0]
    assert good["exists"] and good["status"].startswith("clip.mp4: finished"), good
    assert Path(good["result"]).name == "clip-videostyle.mp4"


def test_the_optional_inputs_are_optional_in_the_api(client):
    endpoint = client.view_api(return_format="dict", print_info=False)["named_endpoints"][API]
    optional = {p["parameter_name"] for p in endpoint["parameters"] if p["parameter_has_default"]}
    needed = {p["parameter_name"] for p in endpoint["parameters"] if not p["parameter_has_default"]}
    assert {"mask", "iterations", "first", "starts", "ramp_over", "loop"} <= optional
    assert needed == {"upload"}


def test_a_mask_that_is_no_picture_is_refused_naming_the_upload_not_the_servers_path(client, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=2, size="32x24")
    mask = tmp_path / "my-mask.png"
    mask.write_text("a shopping list\n")
    with pytest.raises(AppError) as refused:
        client.predict(**required(clip, mask=handle_file(str(mask))), api_name=API)
    message = str(refused.value)
    assert message.startswith("Region mask my-mask.png: not a picture or a video"), message
    assert "/" not in message.split("(")[0] and "cache" not in message and str(tmp_path) not in message


def test_a_long_timeline_is_not_echoed_back_whole(client, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=2, size="32x24")
    with pytest.raises(AppError) as refused:
        client.predict(**required(clip, starts="0, 4x" * 2000), api_name=API)
    assert "style start times" in str(refused.value) and len(str(refused.value)) < 300, str(refused.value)[:500]


# -- the handlers, in this process ------------------------------------------------------------
@pytest.fixture
def page(tmp_path):
    with open_page(tmp_path) as handlers:
        yield handlers



def _video_updates(page, clip: Path, chosen: list[str], when: WhereAndWhen):
    out = {name: name for name in ("job", "status", "preview", "video", "gif", "download")}
    return page.run_video(out, str(clip), chosen, "", 0.5, False, "preview", 0, 0, 32, "flow", "mp4", False, 1, 2,
                          when=when)


def test_the_page_refuses_a_timeline_out_of_order_as_the_command_line_does(page, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=2, size="32x24")
    other = page.queue.gallery.add(Path(write_rgb(tmp_path / "zebra.png", stripes(32, 32))))
    shown, error = until_refused(_video_updates(page, clip, [BUNDLED_STYLE, other], WhereAndWhen(starts="4, 0")))
    assert error.startswith(f"the style {other}@0: the times are out of order (0 s after 4 s)"), error
    assert shown[-1]["status"] == f"Error: {error}"


def test_a_job_that_fails_when_it_runs_is_an_error_naming_the_mask_as_uploaded(page, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=3, size="32x24")
    short = make_clip(tmp_path / "short-mask.mp4", frames=2, size="32x24")  # a frame short of the clip
    shown, error = until_refused(_video_updates(page, clip, [BUNDLED_STYLE], WhereAndWhen(mask=str(short))))
    assert "short-mask.mp4: has 2 frame(s) and the clip 3" in error, error
    assert str(page.queue.root) not in error and "/jobs/" not in error
    assert shown[-1]["status"] == f"Error: {error}"


def test_the_queue_names_a_failing_mask_as_uploaded(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=3, size="32x24")
    short = make_clip(tmp_path / "short-mask.mp4", frames=2, size="32x24")
    style = Path(write_rgb(tmp_path / "style.png", stripes()))
    with JobQueue(tmp_path / "data", device="cpu", precision="fp32") as queue:
        job = queue.submit(JobRequest(input=clip, styles=((style, 1.0),), size=32, iterations=1, first_iterations=2,
                                      preset="preview", mask=short))
        assert queue.wait(job, timeout=120), describe(job)
    assert job.state == FAILED and "short-mask.mp4: has 2 frame(s)" in job.message, job.message
    assert str(queue.root) not in job.message
