"""The page's words: what it calls each setting (its declared label, see ``config.SETTINGS``),
and errors worded so, so that the page never tells a user to pass a flag."""

from __future__ import annotations

from ..config import SETTINGS
from ..errors import VideostyleError


def page_words(setting: str) -> str:
    """What the page calls a setting (``size`` -> ``Output size``)."""
    declared = SETTINGS.get(setting)
    return declared.page_label if declared is not None else f"the {setting.replace('_', ' ')} setting"


def page_message(exc: VideostyleError, replace: tuple[str, str] | None = None) -> str:
    """``exc`` for the page: settings in the page's words; ``replace`` = (server path, what
    the user calls that file)."""
    return (exc.replace(*replace) if replace else exc).render(page_words)
