"""The command line's words for the settings: each setting's flag, derived from its declared
name (``max_memory`` -> ``--max-memory``), a flag that is on by default as its ``--no-`` form,
and the few flags spelled otherwise. Errors and help text are rendered with these."""

from __future__ import annotations

from ..config import FLAG, SETTINGS
from ..errors import Words, render

# flags that are not spelled --NAME (or --no-NAME for a setting on by default)
FLAGS = {"detect_cuts": "--no-cut-detection", "loop_file": "--no-loop"}
ALIASES = {"crf": ("--quality",), "style": ("-s",), "iterations": ("-n",), "force": ("-f",)}
DEFAULT = "{default}"


def cli_flag(name: str, command: str | None = None) -> str:
    """The flag that sets ``name`` in ``command``: ``size`` -> ``--size``, ``preview`` ->
    ``--no-preview`` for the webcam (where it is on by default)."""
    if name in FLAGS:
        return FLAGS[name]
    setting = SETTINGS.get(name)
    on = setting is not None and setting.kind == FLAG and setting.default_for(command) is True
    return ("--no-" if on else "--") + name.replace("_", "-")


def cli_words(command: str | None = None) -> Words:
    """``cli_flag`` for one command: what ``VideostyleError.render`` takes."""
    return lambda name: cli_flag(name, command)


def help_text(name: str, command: str | None = None) -> str:
    """A setting's help for ``--help`` in ``command``: its parts in flags, its default filled in
    (escaped for argparse, which formats help with %)."""
    setting = SETTINGS[name]
    text = render(setting.help_for(command), cli_words(command)).replace("%", "%%")
    return text.replace(DEFAULT, setting.shown_default(command))
