"""The page's handlers without a browser: style choices, upload checks, error lines."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from synthetic import stripes, write_rgb

gr = pytest.importorskip("gradio", reason="the web extra is not installed")

from web_page import open_page, until_refused  # noqa: E402

from videostyle.errors import BadOption  # noqa: E402
from videostyle.web.app import _owner, build, enlarged, owner_token, use_cache  # noqa: E402
from videostyle.web.jobs import BUNDLED_STYLE  # noqa: E402


@pytest.fixture
def page(tmp_path):
    with open_page(tmp_path) as handlers:
        yield handlers


def test_the_page_builds_with_the_bundled_style(page):
    demo, handlers = build(page.queue)
    assert demo is not None and handlers.queue is page.queue
    gallery = page._gallery()
    assert gallery[0][1] == BUNDLED_STYLE and Path(gallery[0][0]).is_file()


def test_blend_weights_follow_the_gallery_order(page, tmp_path):
    other = page.queue.gallery.add(Path(write_rgb(tmp_path / "b.png", stripes())))
    styles = page._styles([other, BUNDLED_STYLE], "0.7, 0.3")
    assert [(path.name, weight) for path, weight in styles] == [(BUNDLED_STYLE, 0.7), (other, 0.3)]
    assert [w for _, w in page._styles([BUNDLED_STYLE, other], "")] == [1.0, 1.0]
    for chosen, weights, message in (([], "", "choose at least one style"),
                                     ([BUNDLED_STYLE, other], "1", "1 given for 2 chosen"),
                                     ([BUNDLED_STYLE], "lots", "give numbers")):
        with pytest.raises(BadOption, match=message):
            page._styles(chosen, weights)


def test_an_upload_is_described_or_refused_in_one_line(page, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert page.inspect(str(text)).startswith("Error: notes.mp4: not a video ffmpeg can read")
    picture = write_rgb(tmp_path / "p.png", stripes(40, 30))
    assert page.inspect(picture) == "p.png: a picture, 40x30"
    assert page.inspect(None) == ""



def test_starting_without_an_upload_or_with_a_bad_one_is_a_status_line_then_an_error(page, tmp_path):
    out = {"status": "status"}
    shown, error = until_refused(page.run_video(out, None, [BUNDLED_STYLE], "", 0.5, False, "preview", 0, 0, 64,
                                                 "flow", "mp4", False, None, None))
    assert shown == [{"status": "Error: upload a clip, a GIF or a picture first"}]
    assert error == "upload a clip, a GIF or a picture first"
    empty = tmp_path / "empty.gif"
    empty.write_bytes(b"")
    (update,), error = until_refused(page.run_video(out, str(empty), [BUNDLED_STYLE], "", 0.5, False, "preview", 0,
                                                     0, 64, "flow", "gif", False, None, None))
    assert update["status"] == f"Error: {error}" == "Error: empty.gif: file is empty (0 bytes)"


def test_small_results_are_enlarged_for_the_page_and_large_ones_kept():
    assert enlarged(np.zeros((27, 48, 3), np.uint8)).shape == (216, 384, 3)
    big = np.zeros((400, 600, 3), np.uint8)
    assert enlarged(big) is big


def test_a_browser_keeps_its_owner_token_and_a_client_without_one_is_its_session():
    token = owner_token(None)
    assert len(token) == 32 and owner_token(token) == token and owner_token(None) != token
    assert owner_token("../../x") != "../../x" and owner_token(7) != 7  # junk from a client: a fresh token
    session = type("Request", (), {"session_hash": "abc123"})()
    assert _owner(token, session) == token
    assert _owner(None, session) == "session:abc123" and _owner("junk", None) == ""


def test_gradio_cache_goes_under_the_data_dir_emptied_of_an_earlier_run(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    leftover = tmp_path / "data" / "cache" / "0123abcd" / "old-upload.mp4"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"x")
    cache = use_cache(tmp_path / "data")
    from gradio.utils import get_upload_folder

    assert cache == tmp_path / "data" / "cache" and cache.is_dir() and not leftover.exists()
    assert os.environ["GRADIO_TEMP_DIR"] == str(cache) and get_upload_folder() == str(cache)
