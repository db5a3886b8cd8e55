"""The README and docs/ stay true to the code: every flag of the parser is in docs/cli.md, every
command has its generated option table there, links and pictures resolve, the README stays a
front page, and CI runs the README's test command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import make_cli_doc  # scripts/ (pytest's pythonpath)

from videostyle.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
CLI_DOC = ROOT / "docs" / "cli.md"
TEST_COMMAND = 'pip install -e ".[test,web]" && python -m pytest -q'


def _flags(parser: argparse.ArgumentParser) -> dict[str, set[str]]:
    """{command: its option strings}, "" for the top level's."""
    found = {"": {s for a in parser._actions for s in a.option_strings if s not in ("-h", "--help")}}
    for name, sub in make_cli_doc._subcommands(parser).items():
        found[name] = {s for a in sub._actions for s in a.option_strings if s not in ("-h", "--help")}
    return found


def _mentions(text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def test_every_flag_of_every_command_is_in_the_cli_reference():
    text = CLI_DOC.read_text()
    flags = _flags(build_parser())
    assert len(flags) == 8 and sum(map(len, flags.values())) > 100  # the seven commands and the top level
    missing = sorted(f"{cmd or 'videostyle'} {flag}" for cmd, names in flags.items() for flag in names
                     if not _mentions(text, flag))
    assert not missing, f"not in docs/cli.md (run python scripts/make_cli_doc.py): {missing}"


def test_every_command_has_its_section_and_generated_table():
    text = CLI_DOC.read_text()
    commands = make_cli_doc._subcommands(build_parser())
    assert set(commands) == {"image", "video", "eval", "demo", "webcam", "serve", "doctor"}
    for name in commands:
        assert f"## `videostyle {name}`" in text
        assert f"<!-- options: {name} -->" in text
    make_cli_doc.render(text, build_parser())  # raises SystemExit on a command without a block


def test_the_flag_check_sees_a_missing_flag():
    assert _mentions("| `--size PX` | ... |", "--size")
    assert not _mentions("| `--size-limit PX` |", "--size")
    assert not _mentions("--no-preview", "-n")


def _slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", path.read_text(), flags=re.M)}


def test_links_and_pictures_resolve():
    broken = []
    for page in [README, *DOCS]:
        text = page.read_text()
        targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'<img src="([^"]+)"', text)
        for target in targets:
            if re.match(r"[a-z]+:", target):  # http:, mailto:
                continue
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve() if file else page
            if not path.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


def test_the_readme_is_a_front_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines: move reference and figures to docs/"


def test_ci_runs_the_readmes_test_command():
    assert TEST_COMMAND in README.read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    install, test = TEST_COMMAND.split(" && ")
    assert install in ci and test in ci
