"""An error as the command line words it: its settings as flags (``S.size`` -> ``--size``)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest

from videostyle.cli.words import cli_flag
from videostyle.errors import VideostyleError


def cli_text(exc: VideostyleError, command: str | None = None) -> str:
    """``exc`` as ``videostyle`` prints it (after ``videostyle: error:``)."""
    return exc.render(lambda name: cli_flag(name, command))


@contextlib.contextmanager
def raises_cli(kind: type[VideostyleError], match: str) -> Iterator[pytest.ExceptionInfo]:
    """``pytest.raises(kind, match=...)``, matched against the command line's wording."""
    with pytest.raises(kind) as caught:
        yield caught
    assert re.search(match, cli_text(caught.value)), cli_text(caught.value)
