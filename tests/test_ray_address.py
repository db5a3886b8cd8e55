"""``--ray-address`` of a head that is not there: one line within seconds, not minutes of
Ray's retries (issue 18). Only loopback is touched: a port bound and closed again, a name
under ``.invalid`` (which never resolves), and a resolver that hangs (faked)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import ray  # part of the [test] extra: the Ray tests are never skipped
from cli_text import cli_text
from guards import tree
from synthetic import make_clip, stripes, write_rgb

from videostyle.cli import main
from videostyle.errors import BadOption
from videostyle.video import ray as ray_transport
from videostyle.video.ray import check_reachable

QUICK = 15.0  # seconds: what "at once" means for a user (Ray alone retries for ~150 s)


def unused_port() -> int:
    """A loopback port that nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused(address: str, **kwargs: float) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(BadOption) as caught:
        check_reachable(address, **kwargs)
    return cli_text(caught.value), time.monotonic() - started


def test_a_port_where_nothing_listens_is_refused_at_once():
    address = f"127.0.0.1:{unused_port()}"
    message, seconds = refused(address)
    assert seconds < QUICK
    assert message.startswith(f"--ray-address {address}: nothing answers there")
    assert "ray start --head" in message and "\n" not in message


def test_a_name_that_does_not_resolve_is_refused_at_once():
    message, seconds = refused("nohost.invalid:1")
    assert seconds < QUICK
    assert message.startswith("--ray-address nohost.invalid:1: cannot look up nohost.invalid")
    assert "ray start --head" in message and "Errno" not in message and "\n" not in message


def test_a_resolver_that_hangs_is_given_up_after_the_timeout(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: release.wait(30) and [])
    try:
        message, seconds = refused("slow.invalid:6379", timeout=0.3)
    finally:
        release.set()
    assert seconds < 2
    assert "cannot look up slow.invalid (no answer within 0.3 s)" in message


def test_a_listening_head_and_addresses_without_a_port_pass(monkeypatch):
    with socket.socket() as head:
        head.bind(("127.0.0.1", 0))
        head.listen()
        port = head.getsockname()[1]
        check_reachable(f"127.0.0.1:{port}")
        check_reachable(f"ray://127.0.0.1:{port}")  # Ray client addresses too
        check_reachable(f"localhost:{port}")

    def no_lookup(*args, **kwargs):
        raise AssertionError("an address without a port is Ray's to find")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    check_reachable("auto")


def test_the_video_command_says_it_in_one_line_before_any_work(tmp_path: Path, capsys, monkeypatch):
    clip = make_clip(tmp_path / "clip.mp4", frames=3, size="48x32")
    write_rgb(tmp_path / "style.png", stripes(32, 32))
    address = f"127.0.0.1:{unused_port()}"
    inits = []
    monkeypatch.setattr(ray_transport.RayRuntime, "_start_actors",
                        lambda self: inits.append(self))  # would be reached only after ray.init
    before = tree(tmp_path)
    capsys.readouterr()
    started = time.monotonic()
    code = main(["video", str(clip), "--style", str(tmp_path / "style.png"), "-o", str(tmp_path / "out.mp4"),
                 "--size", "32", "--iterations", "1", "--first-iterations", "1", "--device", "cpu",
                 "--workers", "2", "--ray-address", address])
    seconds = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"videostyle: error: --ray-address {address}: "), err
    assert "ray start --head" in lines[0]
    assert seconds < QUICK
    assert not inits and not ray.is_initialized()
    assert tree(tmp_path) == before  # no output, no work folder
