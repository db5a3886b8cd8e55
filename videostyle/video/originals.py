"""The clip's original frames in any order, for the runs that do not walk a clip once from its
start (keyframe propagation runs backwards, multi-pass runs both ways).

A source decodes forwards only, and a long clip does not fit in memory, so
:class:`ClipFrames` keeps one window of frames, at most :data:`WINDOW_BYTES`, and reads
the next window when asked for a frame outside it: further on, by decoding on; before it,
by opening the source again and decoding up to it. A backward walk over n frames thus
decodes about n²/(2·window) frames: nothing at the clip sizes the tool runs at (a 320x180
window holds ~2,900 frames), and a bounded amount of memory at any size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

WINDOW_BYTES = 512 * 2**20  # frames kept in memory at once
MIN_WINDOW = 8  # frames, whatever their size: a chain's context and the frames beside it


class ClipFrames:
    """Frame ``index`` of a clip on request (``frames[i]``), read through ``opener`` (a callable
    returning an open source: a context manager that iterates (H, W, 3) uint8 frames).
    ``step`` hints at the walk's direction (+1 forward, -1 backward), so that a window is
    read ahead of it. A context manager: the open source is closed on exit."""

    def __init__(self, opener: Callable[[], Any], *, frame_bytes: int, window_bytes: int = WINDOW_BYTES) -> None:
        self.opener = opener
        self.window = max(MIN_WINDOW, window_bytes // max(1, frame_bytes))
        self.step = 1
        self._frames: dict[int, np.ndarray] = {}
        self._stack = contextlib.ExitStack()
        self._reader: Iterator[np.ndarray] | None = None
        self._position = 0  # index of the frame the reader gives next
        self.reads = 0  # times the source was opened (for tests)

    def __enter__(self) -> ClipFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def __getitem__(self, index: int) -> np.ndarray:
        if index not in self._frames:
            lo = index if self.step > 0 else index - self.window + 1
            self._load(max(0, lo), max(0, lo) + self.window)
        if index not in self._frames:
            raise IndexError(f"frame {index} is past the clip's end")
        return self._frames[index]

    def _load(self, lo: int, hi: int) -> None:
        """Keep frames lo..hi-1 (those the clip has)."""
        if self._reader is None or lo < self._position:
            self._stack.close()
            self._stack = contextlib.ExitStack()
            self._reader = iter(self._stack.enter_context(self.opener()))
            self._position = 0
            self.reads += 1
        frames: dict[int, np.ndarray] = {}
        for frame in self._reader:
            index = self._position
            self._position += 1
            if index >= lo:
                frames[index] = frame
            if self._position >= hi:
                break
        self._frames = frames
