"""A live preview window (OpenCV HighGUI), shared by video jobs and webcam sessions."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from ..errors import BadOption, Part
from .images import fit_size, resize_frame

WINDOW_TITLE = "videostyle"
KEY_NONE = -1


def require_display(*hint: Part) -> None:
    """Raise BadOption when no display can show a window (``hint`` says what to do instead)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise BadOption("no display found (DISPLAY is not set); ", *hint)


def draw_caption(frame: np.ndarray, text: str, *, corner: str = "top") -> np.ndarray:
    """Draw ``text`` on a dark band at the top or bottom of an RGB frame (in place)."""
    h, w = frame.shape[:2]
    scale = max(0.3, w / 640)
    band = max(12, int(22 * scale))
    y0 = 0 if corner == "top" else h - band
    frame[y0:y0 + band] = (frame[y0:y0 + band] * 0.4).astype(frame.dtype)
    cv2.putText(frame, text, (4, y0 + band - max(3, band // 4)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return frame


class PreviewWindow:
    """Shows (H, W, 3) uint8 RGB frames enlarged to ``display_size`` (longest side).

    A context manager; :meth:`show` returns the key pressed meanwhile (``KEY_NONE`` if
    none), so callers can react to q, space and so on.
    """

    def __init__(self, *, display_size: int = 480, title: str = WINDOW_TITLE) -> None:
        self.display_size, self.title = display_size, title
        self._opened = False

    def __enter__(self) -> PreviewWindow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def show(self, frame: np.ndarray, *, caption: str | None = None) -> int:
        """Display ``frame`` (with ``caption`` on a band at the bottom, drawn at display size)
        and poll the keyboard for 1 ms; returns the key code or KEY_NONE."""
        big = resize_frame(frame, *fit_size(frame.shape[1], frame.shape[0], self.display_size))
        if caption:
            big = draw_caption(big, caption, corner="bottom")
        cv2.imshow(self.title, cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
        self._opened = True
        key = cv2.waitKey(1)
        return KEY_NONE if key < 0 else key & 0xFF

    def close(self) -> None:
        """Close the window (safe to call when it never opened)."""
        if self._opened:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
            self._opened = False
