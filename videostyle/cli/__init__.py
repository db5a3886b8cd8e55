"""The command line: a thin layer over the Python API, and the only code that prints, draws
bars or exits.

``parser`` the options (their choices and defaults come from ``videostyle.config``);
``options`` parsed arguments -> settings; ``commands`` what each command does; ``progress``
bars, preview and summaries; ``main`` the entry point (errors -> one line, exit codes).
"""

from .main import main
from .options import parse_style_spec
from .parser import build_parser

__all__ = ["build_parser", "main", "parse_style_spec"]
