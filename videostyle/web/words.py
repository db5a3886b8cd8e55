"""Errors in the page's words.

Engine and job errors name the settings they are about as command-line flags (see
``videostyle.errors.SETTING``); :func:`page_message` rewrites each into what the page calls
it, so the page never tells a user to pass a flag.
"""

from __future__ import annotations

from ..errors import VideostyleError

# the page's words for the settings an error may name; anything else reads "the NAME setting"
PAGE_WORDS = {
    "size": "Output size", "start": "Start", "duration": "Duration", "strength": "Strength",
    "preset": "Quality", "temporal": "Temporal mode", "style": "the style", "iterations": "Quality",
    "first-iterations": "Quality", "style-weight": "Strength", "device": "the server's device",
    "precision": "the server's precision", "restart": "a fresh start (delete the job's folder in the data folder)",
    "force": "a new job", "work-dir": "the job's folder in the data folder", "frames": "Duration",
    "fps": "the clip's frame rate", "style-scale": "the style scale",
}


def page_words(setting: str) -> str:
    """What the page calls a setting (``size`` -> ``Output size``)."""
    return PAGE_WORDS.get(setting, f"the {setting.replace('-', ' ')} setting")


def page_message(exc: VideostyleError, replace: tuple[str, str] | None = None) -> str:
    """``exc`` for the page: settings in the page's words; ``replace`` = (server path, what
    the user calls that file)."""
    text = exc.phrase(page_words)
    return text.replace(*replace) if replace else text
