"""The command line: a thin layer over the Python API, and the only code that prints, draws
bars or exits.

``parser`` the flags (read from the settings' declarations in ``videostyle.config``);
``words`` each setting's flag, for help and errors; ``options`` parsed arguments -> a request
(``videostyle.jobs``); ``commands`` what each command does; ``progress`` bars, preview and
summaries; ``main`` the entry point (errors -> one line, exit codes).
"""

from typing import Any

from .main import main
from .parser import build_parser

__all__ = ["build_parser", "main", "parse_style_spec"]


def __getattr__(name: str) -> Any:
    # loaded on first use: the requests (videostyle.jobs) are not needed to parse, nor for --help
    if name == "parse_style_spec":
        from ..jobs.specs import parse_style_spec

        return parse_style_spec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
