"""Write the option tables of docs/cli.md from the argument parser, so the reference is --help's.

docs/cli.md is hand-written notes around generated blocks: the list of commands sits between
``<!-- commands -->`` and ``<!-- /commands -->``, and each command's options between
``<!-- options: COMMAND -->`` and ``<!-- /options -->``. This script rewrites what is inside
those markers from ``videostyle.cli.parser.build_parser()`` (help text, metavars, choices and
defaults as ``--help`` prints them) and keeps everything else. Run it after changing an option:

    PYTHONPATH=. python scripts/make_cli_doc.py            # rewrite docs/cli.md
    PYTHONPATH=. python scripts/make_cli_doc.py --check    # exit 1 if docs/cli.md is out of date

tests/test_docs.py checks that every flag of the parser appears in docs/cli.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
BLOCK = re.compile(r"(<!-- (commands|options: (?P<command>[\w-]+)) -->\n)(.*?)(<!-- /(commands|options) -->)", re.S)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _command_help(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _spelling(action: argparse.Action) -> str:
    """``--size PX`` or ``--style``, ``-s IMAGE[:WEIGHT][@T]``, or ``content`` for a positional."""
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    if action.nargs == 0:  # a switch
        value = ""
    elif action.metavar:
        value = f" {action.metavar}"
    elif action.choices:
        value = " " + "|".join(str(c) for c in action.choices)
    else:
        value = f" {action.dest.upper()}"
    value = value.replace("|", "\\|")  # a table cell, even inside backticks
    names = sorted(action.option_strings, key=lambda s: (not s.startswith("--"), s))
    return ", ".join(f"`{n}`" for n in names[:-1]) + (", " if len(names) > 1 else "") + f"`{names[-1]}{value}`"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help:
        return ""
    text = parser._get_formatter()._expand_help(action)  # %(default)s and friends, as --help shows them
    if action.choices and action.metavar:  # the metavar hides the choices: name them
        text += f" (one of: {', '.join(map(str, action.choices))})"
    return text


def options_table(parser: argparse.ArgumentParser) -> Iterator[str]:
    """Markdown: the command's description, then a table of its arguments per group."""
    if parser.description:
        yield _cell(parser.description)
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if a.help != argparse.SUPPRESS
                   and not isinstance(a, argparse._HelpAction)]
        if not actions:
            continue
        yield ""
        yield f"**{group.title}**"
        yield ""
        yield "| option | meaning |"
        yield "| --- | --- |"
        for action in actions:
            yield f"| {_spelling(action)} | {_cell(_help(parser, action))} |"


def commands_table(parser: argparse.ArgumentParser) -> Iterator[str]:
    yield "| command | what it does |"
    yield "| --- | --- |"
    for name, text in _command_help(parser).items():
        yield f"| [`videostyle {name}`](#videostyle-{name}) | {_cell(text)} |"


def render(text: str, parser: argparse.ArgumentParser, doc: Path = DOC) -> str:
    """``text`` with every generated block rewritten; SystemExit naming a command without a block
    or a block without a command."""
    commands = _subcommands(parser)
    seen: set[str] = set()

    def block(match: re.Match[str]) -> str:
        name = match.group("command")
        if name is None:
            body = commands_table(parser)
        elif name in commands:
            seen.add(name)
            body = options_table(commands[name])
        else:
            raise SystemExit(f"{doc}: a block for {name!r}, which is not a command of the parser")
        return match.group(1) + "\n".join(body) + "\n" + match.group(5)

    out = BLOCK.sub(block, text)
    missing = sorted(set(commands) - seen)
    if missing:
        raise SystemExit(f"{doc}: no '<!-- options: NAME -->' block for {', '.join(missing)}: add one")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not what the parser gives")
    parser.add_argument("--doc", type=Path, default=DOC, help="the file (default docs/cli.md)")
    args = parser.parse_args(argv)
    from videostyle.cli.parser import build_parser

    text = args.doc.read_text()
    new = render(text, build_parser(), args.doc)
    if args.check:
        if new != text:
            print(f"{args.doc}: out of date; run python scripts/make_cli_doc.py", file=sys.stderr)
            return 1
        print(f"{args.doc}: up to date")
        return 0
    if new != text:
        args.doc.write_text(new)
        print(f"{args.doc}: rewritten")
    else:
        print(f"{args.doc}: already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
