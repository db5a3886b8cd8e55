"""A script's view of ``videostyle serve``: one bad job and one good one through gradio_client.

    python scripts/gradio_client_demo.py [--url http://127.0.0.1:7860/] [--size 48] [--json]

Without ``--url`` it starts ``videostyle serve`` in its own process on a free 127.0.0.1 port
with a fresh data folder, and stops it at the end. It then submits, as any Python script
would with ``gradio_client``:

1. a bad job: a text file named ``holiday.mp4``. The server refuses it and the client
   *raises* (``gradio_client.exceptions.AppError``); the script prints the exception, which
   names the file as it was uploaded.
2. a good job: a small generated clip with the bundled style, every optional field (the
   iterations, the timeline, the strength ramp, the mask) left out. The script prints the
   final status line and where the client downloaded the result.

Exits 0 when the bad job raised and the good one gave a result file, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from harness.media import pattern_clip
from harness.serve import Server

STYLE = "sample-swirls.jpg"  # the style every server's gallery starts with
API = "/stylize_video"


def stylize(client, clip: Path, *, size: int, quality: str = "preview") -> tuple:
    """Submit ``clip`` with only the fields a caller must give; returns the outputs (status,
    preview, video, GIF, download). Raises the server's refusal as an exception."""
    from gradio_client import handle_file

    return client.predict(upload=handle_file(str(clip)), chosen=[STYLE], weights="", strength=0.5, colors=False,
                          quality=quality, start=0, duration=0, size=size, temporal="flow", output="mp4",
                          side=False, api_name=API)


def run_demo(*, url: str | None = None, size: int = 48, frames: int = 3, work: Path | None = None,
             timeout: float = 600.0) -> dict:
    """Submit the bad job and the good one; returns what happened to each. ``work`` (default:
    a new temporary folder, kept) holds the uploads, the downloads and, without ``url``, the
    server's data folder and log."""
    from gradio_client import Client

    root = work or Path(tempfile.mkdtemp(prefix="videostyle-client-"))
    root.mkdir(parents=True, exist_ok=True)
    bad = root / "holiday.mp4"
    bad.write_text("not a video, whatever its name says\n")
    good = pattern_clip(root / "clip.mp4", size=f"{size}x{size * 3 // 4 // 2 * 2}", frames=frames)
    downloads = root / "downloads"
    downloads.mkdir(exist_ok=True)
    server = None if url else Server(root / "data", args=("--device", "cpu", "--max-seconds", "10"),
                                     log=root / "server.log")
    report: dict = {"work": str(root)}
    try:
        if server is not None:
            server.wait_up(timeout)
            url = server.url
        report["url"] = url
        client = Client(str(url), verbose=False, download_files=str(downloads))
        try:
            stylize(client, bad, size=size)
            report["bad"] = {"raised": False}
        except Exception as exc:  # noqa: BLE001 -- what a caller sees is the point
            report["bad"] = {"raised": True, "type": f"{type(exc).__module__}.{type(exc).__name__}",
                             "message": str(exc)}
        status, _, video, _, download = stylize(client, good, size=size)
        result = download or video
        report["good"] = {"status": status, "result": str(result) if result else None,
                          "exists": bool(result) and Path(str(result)).is_file()}
        client.close()
    finally:
        log = server.stop() if server is not None else ""
    report["server_traceback"] = "Traceback" in log
    report["ok"] = report["bad"]["raised"] and report["good"]["exists"] and not report["server_traceback"]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running `videostyle serve` (default: start one on a free loopback port)")
    parser.add_argument("--size", type=int, default=48, help="output size of the good job (default 48)")
    parser.add_argument("--frames", type=int, default=3, help="frames of the good job's clip (default 3)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args(argv)
    report = run_demo(url=args.url, size=args.size, frames=args.frames)
    if args.json:
        print(json.dumps(report))
    else:
        bad, good = report["bad"], report["good"]
        print(f"server: {report['url']}")
        if bad["raised"]:
            print(f"bad job raised {bad['type']}: {bad['message']}")
        else:
            print("bad job: no exception (a script could not tell it failed)")
        print(f"good job: {good['status']}")
        print(f"result: {good['result']}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
