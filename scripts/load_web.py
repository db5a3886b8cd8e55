"""Load test: ``videostyle serve`` with many users at once, on loopback only.

    python scripts/load_web.py [--clients 20] [--cancel-every 5] [--garbage-every 7]
                               [--size 32] [--frames 3] [--timeout 1200] [--json]

Starts ``videostyle serve`` in its own process on a free 127.0.0.1 port (never any other
address) with a fresh data dir, then drives it through Gradio's HTTP API (gradio_client),
one client (one session) per simulated user. Each user uploads a tiny generated clip
(32-48 px, 3-4 frames; some users upload the very same bytes under other names), watches
its job's status stream, and: every ``--cancel-every``-th user cancels while queued or
running, every ``--garbage-every``-th user uploads random bytes named .mp4 instead. The
users join one after another (each waits until its job is queued), so the order the server
received them is known.

Checked: every good job finishes exactly once, in the order submitted, under its own
user's file name, with one result file each; every garbage upload is refused with one
``Error:`` line and no job; every cancelled job says so; nothing was written to the system
temp dir's gradio folder; and the server's RSS, after the load and a settle, is within
``--max-growth`` percent (default 10) of its idle figure (measured after one warm-up job,
so the model is loaded in both). Prints the figures; exits 1 on any failed check. Every
wait is bounded: the whole run stops by itself after ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.media import pattern_clip
from harness.serve import HOST, Server, checkout_env


@dataclass
class User:
    index: int
    upload: Path
    kind: str  # "good", "cancel" or "garbage"
    statuses: list[str] = field(default_factory=list)
    queued_at: float | None = None  # when its first status came back
    finished_at: float | None = None
    result: str | None = None
    error: str | None = None

    @property
    def last(self) -> str:
        return self.statuses[-1] if self.statuses else ""


def settings(upload: Path, *, size: int, iterations: int = 1, first: int = 2) -> dict:
    from gradio_client import handle_file

    return {"upload": handle_file(str(upload)), "chosen": ["sample-swirls.jpg"], "weights": "", "strength": 0.5,
            "colors": False, "quality": "preview", "start": 0, "duration": 0, "size": size, "temporal": "flow",
            "output": "mp4", "side": False, "iterations": iterations, "first": first, "mask": None}


def run_user(url: str, user: User, *, size: int, joined: threading.Event, deadline: float) -> None:
    """One user: upload, watch the status stream to the end, cancel if that is its part."""
    from gradio_client import Client

    try:
        client = Client(url, verbose=False, download_files=False)
        job = client.submit(**settings(user.upload, size=size), api_name="/stylize_video")
        cancelled, seen = False, 0
        while not job.done() or len(job.outputs()) > seen:
            if time.monotonic() > deadline:
                job.cancel()
                user.error = "timed out"
                break
            for output in job.outputs()[seen:]:
                seen += 1
                user.statuses.append(output[0] or "")
                if user.queued_at is None:
                    user.queued_at = time.monotonic()
                    joined.set()
                download = output[4]
                if isinstance(download, dict):  # gradio_client without downloads: the FileData
                    download = download.get("path")
                if download:
                    user.result = str(download)
            if user.kind == "cancel" and not cancelled and seen and "Error" not in user.last:
                user.statuses.append(client.predict(api_name="/cancel_video"))
                cancelled = True
            time.sleep(0.1)
        user.finished_at = time.monotonic()
        client.close()
    except Exception as exc:  # noqa: BLE001 -- every failure is a finding, reported with the user
        user.error = f"{type(exc).__name__}: {exc}"
    finally:
        joined.set()


def files_under(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def run_load(*, clients: int = 20, cancel_every: int = 5, garbage_every: int = 7, size: int = 32,
             frames: int = 3, timeout: float = 1200.0, settle: float = 15.0, max_growth: float = 10.0,
             work: Path | None = None) -> dict:
    """Run the load test; returns its figures, with ``problems`` (empty when every check held)."""
    started = time.monotonic()
    deadline = started + timeout
    with tempfile.TemporaryDirectory(prefix="videostyle-load-") as tmp:
        root = work or Path(tmp)
        data = root / "data"
        clips = root / "clips"
        clips.mkdir(parents=True, exist_ok=True)
        users: list[User] = []
        for i in range(clients):
            kind = ("garbage" if garbage_every and i % garbage_every == garbage_every - 1 else
                    "cancel" if cancel_every and i % cancel_every == cancel_every - 1 else "good")
            upload = clips / f"user{i:02d}-clip.mp4"
            if kind == "garbage":
                upload.write_bytes(os.urandom(2048))
            elif i % 4 == 3 and users:  # the same bytes as an earlier user, under this user's name
                upload.write_bytes(users[i - 1].upload.read_bytes() if users[i - 1].kind != "garbage"
                                   else users[0].upload.read_bytes())
            else:
                side = 32 + 16 * (i % 2)
                pattern_clip(upload, size=f"{side}x{side * 3 // 4 // 2 * 2}", frames=frames + i % 2,
                             pattern=("testsrc", "testsrc2", "smptebars")[i % 3])
            users.append(User(i, upload, kind))
        warm = clips / "warmup.mp4"
        pattern_clip(warm, size="32x24", frames=2)

        server_tmp = root / "tmp"
        server_tmp.mkdir(exist_ok=True)
        # the server's own "system temp dir" (TMPDIR), shared with no one, so checked exactly;
        # GRADIO_TEMP_DIR unset: serve chooses its own, under the data dir
        env = checkout_env({"GRADIO_ANALYTICS_ENABLED": "False", "TMPDIR": str(server_tmp)}, unset=("GRADIO_TEMP_DIR",))
        server = Server(data, args=("--device", "cpu", "--max-seconds", "10"), env=env, log=root / "server.log")
        problems: list[str] = []
        figures: dict = {"clients": clients, "host": HOST}
        try:
            server.wait_up()
            figures["rss_started_mb"] = round(server.rss(), 1)
            warmup = User(-1, warm, "good")
            run_user(server.url, warmup, size=size, joined=threading.Event(), deadline=deadline)
            if "finished" not in warmup.last:
                problems.append(f"warm-up job: {warmup.error or warmup.last}")
            time.sleep(settle)
            figures["rss_idle_mb"] = idle = round(server.rss(), 1)

            threads, peak = [], idle
            load_started = time.monotonic()
            for user in users:
                joined = threading.Event()
                thread = threading.Thread(target=run_user, args=(server.url, user),
                                          kwargs={"size": size, "joined": joined, "deadline": deadline}, daemon=True)
                thread.start()
                threads.append(thread)
                joined.wait(max(1.0, min(60.0, deadline - time.monotonic())))  # queued before the next joins
                peak = max(peak, server.rss())
            for thread in threads:
                while thread.is_alive() and time.monotonic() < deadline:
                    thread.join(1.0)
                    peak = max(peak, server.rss())
            figures["load_seconds"] = round(time.monotonic() - load_started, 1)
            figures["rss_peak_mb"] = round(peak, 1)
            time.sleep(settle)  # let the server settle: sessions closed, frames and previews dropped
            figures["rss_after_mb"] = after = round(server.rss(), 1)
            growth = (after - idle) / idle * 100 if idle else 0.0
            figures["rss_growth_percent"] = round(growth, 1)
            if growth > max_growth:
                problems.append(f"server RSS {after} MB after the load is {growth:+.1f}% of its idle {idle} MB")
            problems += check(users, data)
            figures["cache_files"] = sum(1 for p in (data / "cache").rglob("*") if p.is_file())
        finally:
            output = server.stop()
        if "Traceback" in output:
            problems.append("the server log has a traceback:\n" + output[-3000:])
        stray = files_under(server_tmp / "gradio")
        if stray:
            problems.append(f"{len(stray)} files under the server's system temp dir's gradio folder, e.g. {stray[0]}")
        if (data / "cache").exists():
            problems.append("the server's Gradio cache was left behind after shutdown")
        kinds = [u.kind for u in users]
        figures.update(good=kinds.count("good"), cancelled=kinds.count("cancel"), garbage=kinds.count("garbage"),
                       seconds=round(time.monotonic() - started, 1), problems=problems,
                       statuses={u.index: u.last for u in users})
    return figures


def check(users: list[User], data: Path) -> list[str]:
    """What must hold of the users' views and the data dir once the load is over."""
    problems = []
    for user in users:
        name = user.upload.name
        if user.error:
            problems.append(f"user {user.index} ({user.kind}): {user.error}")
            continue
        if user.kind == "garbage":
            refused = [s for s in user.statuses if s.startswith("Error: ")]
            if not refused or "\n" in refused[0] or "Traceback" in refused[0] or user.result:
                problems.append(f"user {user.index}: garbage not refused in one line: {user.statuses[-3:]}, "
                                f"result {user.result}")
        elif user.kind == "cancel" and not any(": finished" in s for s in user.statuses):
            if "cancel" not in " ".join(user.statuses[-3:]):
                problems.append(f"user {user.index}: cancel not confirmed: {user.statuses[-3:]}")
        else:
            finals = [s for s in user.statuses if ": finished" in s]
            if not finals or not user.result:
                problems.append(f"user {user.index}: no result: {user.statuses[-3:]}")
            elif not finals[-1].startswith(f"{name}: finished") or Path(user.result).name != (
                    f"{Path(name).stem}-videostyle.mp4"):
                problems.append(f"user {user.index}: shown another name or result: {finals[-1]!r}, {user.result}")
            if any(": finished" in s and not s.startswith(name) for s in user.statuses):
                problems.append(f"user {user.index}: saw a status of another user's file")
    good = [u for u in users if any(": finished" in s for s in u.statuses) and not u.error]
    order = [u.index for u in sorted(good, key=lambda u: u.finished_at or 0.0)]
    if order != [u.index for u in good]:
        problems.append(f"good jobs finished out of order: {order}")
    results = [p for p in (data / "results").rglob("*.mp4")]
    wanted = len(good) + 1  # and the warm-up's
    if len(good) < sum(1 for u in users if u.kind == "good"):
        problems.append("some good jobs did not finish")
    if len(results) != wanted:
        problems.append(f"{len(results)} result files for {wanted} good jobs (each should finish exactly once)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--cancel-every", type=int, default=5, help="every N-th user cancels (0: none)")
    parser.add_argument("--garbage-every", type=int, default=7, help="every N-th user uploads garbage (0: none)")
    parser.add_argument("--size", type=int, default=32, help="output size of each job (default 32)")
    parser.add_argument("--frames", type=int, default=3, help="frames of each clip (3 or 4 by user; default 3)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="the whole run, in seconds (default 1200)")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds to let the server settle")
    parser.add_argument("--max-growth", type=float, default=10.0, help="percent of the idle RSS (default 10)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    figures = run_load(clients=args.clients, cancel_every=args.cancel_every, garbage_every=args.garbage_every,
                       size=args.size, frames=args.frames, timeout=args.timeout, settle=args.settle,
                       max_growth=args.max_growth)
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{figures['clients']} users on {HOST}: {figures['good']} good, {figures['cancelled']} cancelling, "
              f"{figures['garbage']} garbage; load {figures.get('load_seconds')} s, all {figures['seconds']} s")
        print(f"server RSS: started {figures.get('rss_started_mb')} MB, idle after a warm-up job "
              f"{figures.get('rss_idle_mb')} MB, peak {figures.get('rss_peak_mb')} MB, after the load "
              f"{figures.get('rss_after_mb')} MB ({figures.get('rss_growth_percent')}%)")
        print(f"Gradio cache files under the data dir at the end: {figures.get('cache_files')}")
        for problem in figures["problems"]:
            print(f"PROBLEM: {problem}")
        print("all checks held" if not figures["problems"] else f"{len(figures['problems'])} problems")
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
