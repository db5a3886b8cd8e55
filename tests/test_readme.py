"""The README's Python example runs as printed, on small generated files."""

from __future__ import annotations

import re
from pathlib import Path

from synthetic import blobs, make_clip, scene, stripes

from videostyle.io import write_image

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_example() -> str:
    text = README.read_text()
    start = text.index("## Python API")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end != -1 else len(text)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "the README's Python API section has no python example"
    return blocks[0]


def test_the_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    write_image(tmp_path / "photo.jpg", scene(96, 72))
    write_image(tmp_path / "starry.jpg", blobs(64, 64))
    write_image(tmp_path / "b.jpg", stripes(64, 64))
    make_clip(tmp_path / "clip.mp4", frames=4)
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_example(), str(README), "exec"), {"__name__": "readme_example"})
    assert (tmp_path / "out.png").is_file() and (tmp_path / "out.mp4").is_file()
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].split()[0] == "3"  # the segment loop printed its last frame (index 3)
