"""``videostyle`` in a child process, importing this checkout: the web server on a free
loopback port (load and screenshot checks) and the CLI (soak runs)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

from harness.machine import rss_mb
from harness.media import REPO

HOST = "127.0.0.1"  # loopback only: a benchmark never serves the network


def videostyle_command(*args: object) -> list[str]:
    """``python -m videostyle ARGS`` with this interpreter."""
    return [sys.executable, "-m", "videostyle", *(str(a) for a in args)]


def checkout_env(set_: Mapping[str, str] | None = None, unset: Iterable[str] = ()) -> dict[str, str]:
    """This process's environment with the checkout first on PYTHONPATH (so the child runs
    this tree's code, not an installed copy), ``set_`` added and ``unset`` removed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.update(set_ or {})
    for name in unset:
        env.pop(name, None)
    return env


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Server:
    """``videostyle serve`` in its own process on a free loopback port, with ``data`` as
    its data folder and ``args`` added to its command line. Its output goes to ``log``
    (read back with :meth:`output`) or nowhere. As a context manager it waits until the
    page answers and stops the server (SIGTERM, handled as Ctrl-C) on exit."""

    def __init__(self, data: Path, *, args: Iterable[object] = (), env: Mapping[str, str] | None = None,
                 log: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}/"
        self.log: IO[str] | None = open(log, "w+") if log else None  # noqa: SIM115 -- closed in stop()
        sink = self.log or subprocess.DEVNULL
        self.process = subprocess.Popen(
            videostyle_command("serve", "--host", HOST, "--port", self.port, "--data-dir", data, *args),
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT if self.log else subprocess.DEVNULL,
            env=dict(env) if env is not None else checkout_env())
        self.text = ""

    def __enter__(self) -> Server:
        try:
            self.wait_up()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_up(self, timeout: float = 120.0) -> None:
        """Return once the page answers 200; RuntimeError if the server exits or is silent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"the server did not answer within {timeout:g} s")

    def rss(self) -> float:
        """The server's resident memory in MB (0 once it has exited)."""
        return rss_mb(self.process.pid) or 0.0

    def output(self) -> str:
        """What the server has printed so far (empty without a log)."""
        if self.log is None or self.log.closed:
            return self.text
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> str:
        """Stop the server (SIGTERM, then kill after 30 s) and return its output; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None and not self.log.closed:
            self.text = self.output()
            self.log.close()
        return self.text
