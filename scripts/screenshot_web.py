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
import sys
import tempfile
import time
from pathlib import Path

from harness.machine import describe
from harness.media import REPO, SAMPLES
from harness.serve import Server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "web-app.png"))
    parser.add_argument("--quality", default="standard", choices=("preview", "standard", "best"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    print(describe(), flush=True)
    with tempfile.TemporaryDirectory(prefix="videostyle-web-") as data, Server(Path(data) / "data") as server, \
            sync_playwright() as playwright:
        url = server.url
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        opened = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("#start-button", timeout=60_000)
        page.set_input_files("#video-input input[type=file]", str(SAMPLES / "clip.mp4"))
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


if __name__ == "__main__":
    sys.exit(main())
