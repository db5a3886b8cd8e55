"""Helpers for the tests that drive the web page's handlers in this process (gradio required)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import pytest

from videostyle.web.app import _Page
from videostyle.web.jobs import JobQueue


@contextmanager
def open_page(folder: Path) -> Iterator[_Page]:
    """The page's handlers over a job queue in ``folder``, on the CPU in fp32."""
    with JobQueue(folder / "data", device="cpu", precision="fp32") as queue:
        yield _Page(queue)


def until_refused(updates: Iterable) -> tuple[list, str]:
    """The updates a handler yields before it raises its error, and the error's message."""
    shown = []
    with pytest.raises(gr.Error) as refused:
        for update in updates:
            shown.append(update)
    return shown, refused.value.message
