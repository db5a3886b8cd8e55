"""Stylize the sample clip through ``videostyle serve`` as a new user would, time it, and
screenshot the page with the finished result (docs/web-app.png).

Starts the server on a free loopback port with a fresh data folder, opens the page in
Debian's headless Chromium (Playwright), uploads samples/clip.mp4, keeps the bundled style
and the standard preset, clicks Stylize and waits for the result. Prints the wall time from
opening the page and from the click; compare with ``videostyle demo``'s time for its mp4.

    python scripts/screenshot_web.py [--out docs/web-app.png] [--quality standard]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "web-app.png"))
    parser.add_argument("--quality", default="standard", choices=("preview", "standard", "best"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="videostyle-web-") as data, _server(Path(data)) as url, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        opened = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("#start-button", timeout=60_000)
        page.set_input_files("#video-input input[type=file]", str(REPO / "samples" / "clip.mp4"))
        _wait(page, lambda text: "clip.mp4" in text, 60)
        page.get_by_label(args.quality, exact=True).check()
        clicked = time.perf_counter()
        page.click("#start-button")
        final = _wait(page, lambda text: "finished" in text or text.startswith("Error"), 3600)
        page.locator("#result video").wait_for(timeout=60_000)
        done = time.perf_counter()
        time.sleep(2)  # let the player show its first frame
        page.screenshot(path=args.out, full_page=True)
        browser.close()
        print(final)
        print(f"from opening the page: {done - opened:.1f} s; from clicking Stylize: {done - clicked:.1f} s")
        print(f"screenshot: {args.out}", flush=True)
    return 0


def _wait(page, wanted, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = page.locator("#status textarea").input_value()
        if wanted(text):
            return text
        time.sleep(0.2)
    raise SystemExit(f"timed out; the status reads: {text}")


class _server:
    """``videostyle serve`` on a free loopback port, stopped (as by Ctrl-C) on exit."""

    def __init__(self, data: Path) -> None:
        self.data = data

    def __enter__(self) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen([sys.executable, "-m", "videostyle", "serve", "--port", str(port),
                                         "--data-dir", str(self.data / "data")], env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/"
        for _ in range(300):
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return url
            except OSError:
                time.sleep(0.3)
        raise SystemExit("the server did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()  # handled as Ctrl-C
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    sys.exit(main())
