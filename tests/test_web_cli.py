"""``videostyle serve`` on the command line: the extra, the address it binds, --auth."""

from __future__ import annotations

import subprocess
import sys

import pytest

from videostyle.cli import main


def test_help_does_not_import_gradio():
    code = ("import sys\nfrom videostyle.cli import main\n"
            "for argv in (['--help'], ['serve', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "raise SystemExit('gradio' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_without_the_web_extra_serve_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if not installed: import gradio fails
    monkeypatch.delitem(sys.modules, "videostyle.web.app", raising=False)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and 'pip install "videostyle[web]"' in err, err


@pytest.mark.parametrize("auth", ["nopassword", ":secret", "user:"])
def test_auth_needs_a_user_and_a_password(auth, capsys):
    assert main(["serve", "--auth", auth]) == 2
    assert "USER:PASSWORD" in capsys.readouterr().err


@pytest.fixture
def launched(monkeypatch):
    """Replace the server by a recorder of what it was asked to do."""
    app = pytest.importorskip("videostyle.web.app", reason="the web extra (gradio) is not installed")
    calls: list[dict] = []
    monkeypatch.setattr(app, "serve", lambda **kwargs: calls.append(kwargs))
    return calls


def test_loopback_by_default_and_says_so(launched, capsys, tmp_path):
    assert main(["serve", "--data-dir", str(tmp_path)]) == 0
    assert launched[0]["host"] == "127.0.0.1" and launched[0]["port"] == 7860 and launched[0]["auth"] is None
    err = capsys.readouterr().err
    assert "serving on http://127.0.0.1:7860 (this machine only" in err and "warning" not in err


def test_all_interfaces_is_a_warning_that_suggests_auth(launched, capsys, tmp_path):
    assert main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)]) == 0
    assert "warning: serving on http://0.0.0.0:7860" in capsys.readouterr().err
    assert main(["serve", "--host", "0.0.0.0", "--auth", "ann:s3cret:x", "--max-upload-mb", "20",
                 "--data-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "--auth" not in err
    assert launched[1]["auth"] == ("ann", "s3cret:x") and launched[1]["limits"].max_upload_mb == 20


def test_the_gradio_environment_variables_choose_the_address_when_no_option_does(launched, monkeypatch, tmp_path,
                                                                                   capsys):
    import socket

    with socket.socket() as s:  # a port that is free now
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    monkeypatch.setenv("GRADIO_SERVER_NAME", "127.0.0.1")
    monkeypatch.setenv("GRADIO_SERVER_PORT", str(free))
    assert main(["serve", "--data-dir", str(tmp_path), "--root-path", "/vs"]) == 0
    assert launched[-1]["port"] == free and launched[-1]["limits"].root_path == "/vs"
    assert f"http://127.0.0.1:{free}/vs" in capsys.readouterr().err
    assert main(["serve", "--data-dir", str(tmp_path), "--port", str(free)]) == 0  # an option wins
    monkeypatch.setenv("GRADIO_SERVER_PORT", "http")
    assert main(["serve", "--data-dir", str(tmp_path)]) == 2
    assert main(["serve", "--data-dir", str(tmp_path), "--port", str(free), "--root-path", "vs"]) == 2


def test_a_busy_port_is_one_line_before_anything_is_made(launched, tmp_path, capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        data = tmp_path / "data"
        assert main(["serve", "--data-dir", str(data), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"--port {port}" in err and "serving" not in err
    assert not data.exists() and not launched
