"""``videostyle serve`` in a real browser: Debian's headless Chromium, driven by Playwright.

The server runs in its own process on a free loopback port and is stopped at the end. The
test skips only where there is no Chromium and VIDEOSTYLE_REQUIRE_BROWSER is not 1 (CI
sets it, so there a missing browser fails). Set VIDEOSTYLE_WEB_SCREENSHOT=path.png to keep
the screenshot of the finished job.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from synthetic import make_clip

from videostyle.io import probe

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("VIDEOSTYLE_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("VIDEOSTYLE_REQUIRE_BROWSER") == "1"
START_TIMEOUT_S = 90
JOB_TIMEOUT_S = 180

if not CHROMIUM.exists() and not REQUIRED:
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; CI sets VIDEOSTYLE_REQUIRE_BROWSER=1)",
                allow_module_level=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``videostyle serve`` on a free loopback port; yields its URL."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        pytest.fail('the web extra is not installed: pip install -e ".[test,web]"')
    data = tmp_path_factory.mktemp("web") / "data"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(data.parent / "server.log", "w+")  # noqa: SIM115 -- closed below
    process = subprocess.Popen([sys.executable, "-m", "videostyle", "serve", "--host", "127.0.0.1",
                                "--port", str(port), "--data-dir", str(data), "--device", "cpu", "--max-seconds", "10"],
                               stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, process, log)
        log.seek(0)
        assert f"serving on http://127.0.0.1:{port} (this machine only" in log.read()
        yield url
    finally:
        process.terminate()  # SIGTERM, handled as Ctrl-C: the job queue is closed, frames kept
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.seek(0)
        output = log.read()
        log.close()
        assert "Traceback" not in output, output


def _wait_until_up(url: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the server did not answer within {START_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('playwright is not installed: pip install -e ".[test,web]"')
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])  # a test camera
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                  permissions=["camera"])
    tab = context.new_page()
    tab.goto(server)
    tab.wait_for_selector("#start-button", timeout=30_000)
    yield tab
    context.close()


# -- helpers: what a person does on the page --------------------------------------------------
def status(page) -> str:
    return page.locator("#status textarea").input_value()


def wait_for_status(page, wanted, timeout: float = JOB_TIMEOUT_S, on_poll=None) -> list[str]:
    """Poll the status box until ``wanted(text)``; returns every text seen on the way.

    ``on_poll(text)`` runs at every poll, for checks that must happen while the job runs."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = status(page)
        if on_poll is not None:
            on_poll(text)
        if not seen or seen[-1] != text:
            seen.append(text)
        if wanted(text):
            return seen
        time.sleep(0.1)
    pytest.fail(f"status never matched; seen: {seen}")


def upload(page, path: Path) -> str:
    page.set_input_files("#video-input input[type=file]", str(path))
    return wait_for_status(page, lambda text: path.name in text, timeout=30)[-1]


def settings(page, *, size: int, duration: float, iterations: int, first: int) -> None:
    page.fill("#size input[type=number]", str(size))
    page.keyboard.press("Enter")
    page.fill("#duration input", str(duration))
    page.get_by_text("Iterations (optional").click()
    page.fill("#iterations input", str(iterations))
    page.fill("#first-iterations input", str(first))
    page.get_by_label("sample-swirls.jpg").check()  # the bundled style


def download(page, tmp_path: Path) -> Path:
    link = page.locator("#download a").first
    link.wait_for(timeout=30_000)
    response = page.request.get(link.get_attribute("href"))
    assert response.ok
    path = tmp_path / "downloaded.mp4"
    path.write_bytes(response.body())
    return path


def frame_number(text: str) -> int:
    found = re.search(r"frame (\d+) of", text)
    return int(found.group(1)) if found else 0


def finished(text: str) -> bool:
    return "finished" in text or text.startswith("Error")


# -- the tests --------------------------------------------------------------------------------
def test_stylize_the_sample_clip_watch_it_and_download_it(page, tmp_path):
    assert upload(page, REPO / "samples" / "clip.mp4") == "clip.mp4: 192x108, 36 frames at 12 fps, 3.0 s, with audio"
    settings(page, size=48, duration=1.0, iterations=1, first=2)
    page.click("#start-button")
    previews: list[bool] = []  # was the newest finished frame shown while the job ran?
    seen = wait_for_status(page, finished, on_poll=lambda text: previews.append(
        not finished(text) and page.locator("#preview img").count() > 0))
    assert seen[-1].startswith("clip.mp4: finished, 12 frames"), seen
    progress = {text for text in seen if " of 12" in text and "finished" not in text}
    assert len(progress) >= 2, seen  # the progress text changed while it ran
    assert any(previews), "no preview image appeared while the job ran"
    page.locator("#result video").wait_for(timeout=30_000)  # plays in the page
    info = probe(download(page, tmp_path))
    assert info.frame_count == 12 and info.fps == pytest.approx(12, rel=1e-3) and info.has_audio
    shot = Path(os.environ.get("VIDEOSTYLE_WEB_SCREENSHOT", tmp_path / "web-app.png"))
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_cancel_a_running_job_and_see_it_kept(page):
    upload(page, REPO / "samples" / "clip.mp4")
    settings(page, size=64, duration=3, iterations=3, first=2)
    page.click("#start-button")
    wait_for_status(page, lambda text: frame_number(text) >= 3 or finished(text))
    page.click("#cancel-button")
    seen = wait_for_status(page, lambda text: "cancelled" in text or finished(text), timeout=60)
    assert "clip.mp4: cancelled after" in seen[-1] and "of 36 frames" in seen[-1], seen
    assert "start the same job again to resume" in seen[-1]


def test_a_text_file_renamed_mp4_is_a_message_then_a_good_job_runs(page, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("shopping list: eggs, paint\n" * 40)
    assert upload(page, fake).startswith("Error: notes.mp4: not a video ffmpeg can read")
    page.click("#start-button")
    error = wait_for_status(page, lambda text: text.startswith("Error: notes.mp4"))[-1]
    assert "\n" not in error and str(tmp_path) not in error
    assert "Traceback" not in page.content()

    page.locator("#video-input button[aria-label='Clear']").click()
    clip = make_clip(tmp_path / "tone.mp4", frames=5, size="64x48", fps=10, audio=True)
    upload(page, clip)
    settings(page, size=48, duration=1, iterations=1, first=2)
    page.click("#start-button")
    done = wait_for_status(page, finished)[-1]
    assert done.startswith("tone.mp4: finished, 5 frames"), done


def test_the_webcam_tab_streams_the_browser_camera_through_the_live_loop(page):
    page.get_by_role("tab", name="Webcam").click()
    page.fill("#webcam-size input[type=number]", "32")
    page.keyboard.press("Enter")
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#webcam-in button[aria-label='capture photo']").click()  # start streaming
    stats = page.locator("#webcam-stats textarea")
    deadline = time.monotonic() + 90
    while not re.search(r"\d fps, latency \d+\.\d\d s", stats.input_value()) and time.monotonic() < deadline:
        time.sleep(0.2)
    line = stats.input_value()
    assert re.search(r"fps, latency .* iterations a frame · \d+ frames stylized", line), line
    assert page.locator("#webcam-out img").count() == 1
    page.locator("#webcam-in button[aria-label='capture photo']").click()  # stop


def test_two_users_with_the_same_bytes_each_see_only_their_own_job(browser, server, tmp_path):
    """The hash-keyed resume is per browser: the second user's job is their own (their name,
    their progress, their result), and the first user, back after a reload, gets theirs again.
    Gradio's copies of the uploads and results stay under the data dir, none in the system
    temp dir's gradio folder."""
    token = os.urandom(4).hex()
    alice_clip = make_clip(tmp_path / f"alice-{token}.mp4", frames=4, size="48x32", fps=10)
    bob_clip = tmp_path / "bob" / f"bob-{token}.mp4"
    bob_clip.parent.mkdir()
    bob_clip.write_bytes(alice_clip.read_bytes())

    def user():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.goto(server)
        tab.wait_for_selector("#start-button", timeout=30_000)
        return context, tab

    def run(tab, clip: Path) -> tuple[list[str], str]:
        upload(tab, clip)
        settings(tab, size=32, duration=1, iterations=1, first=1)
        tab.click("#start-button")
        seen = wait_for_status(tab, lambda text: text.startswith(clip.name) and finished(text))
        link = tab.locator("#download a").first
        link.wait_for(timeout=30_000)
        href = link.get_attribute("href") or ""
        assert "/data/cache/" in href, href  # Gradio's copy of the result: under the data dir
        return seen, href

    alice, alice_tab = user()
    bob, bob_tab = user()
    try:
        seen, alice_result = run(alice_tab, alice_clip)
        assert seen[-1].startswith(f"alice-{token}.mp4: finished, 4 frames"), seen
        seen, bob_result = run(bob_tab, bob_clip)
        assert seen[-1].startswith(f"bob-{token}.mp4: finished, 4 frames"), seen
        assert not any("alice" in text for text in seen) and f"bob-{token}-videostyle.mp4" in bob_result
        alice_tab.reload()  # the same browser after a reload: its finished job again, at once
        alice_tab.wait_for_selector("#start-button", timeout=30_000)
        seen, again = run(alice_tab, alice_clip)
        assert again == alice_result and not any(" of 4" in text for text in seen[1:-1]), seen
    finally:
        alice.close()
        bob.close()
    system_cache = Path(tempfile.gettempdir()) / "gradio"
    assert not [p for p in system_cache.rglob(f"*{token}*")] if system_cache.is_dir() else True
