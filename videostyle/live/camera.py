"""Live frame sources for webcam sessions: a capture thread that keeps only the newest frame.

A source is a camera index (``0``), a device path (``/dev/video0``), a stream URL, or a
video file played at its real pace (for demos and tests on machines without a camera).
Stale frames are dropped, never queued: the session always works on the newest picture.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..errors import BadSource, S
from ..io.ffmpeg import ffmpeg_reason
from ..io.images import fit_size, resize_frame

OPEN_TIMEOUT_S = 10.0  # how long to wait for a camera's first frame


@dataclass(frozen=True)
class CapturedFrame:
    """The newest picture: (H, W, 3) uint8 RGB, its sequence number and capture time."""

    image: np.ndarray
    number: int  # 1-based count of frames captured so far
    time: float  # time.monotonic() when it was captured (a session's own clock, when it has one)


class FrameFeed(Protocol):
    """What a live session reads frames from: a :class:`Camera`, or a test's fake one."""

    captured: int  # frames captured so far
    ended: bool  # the source has ended (or failed): no newer frame will come

    def newest(self, after: int | None, *, timeout: float | None = None) -> CapturedFrame | None: ...


class Camera:
    """Captures frames in a background thread, keeping only the newest one.

    Use as a context manager; :meth:`newest` waits for a frame newer than the one the
    caller has. ``size`` is the longest side frames are resized to on capture.
    """

    def __init__(self, source: str, *, size: int | None = None, loop_file: bool = True) -> None:
        self.source = source
        self.size = size
        self.loop_file = loop_file
        self.captured = 0
        self.ended = False
        self.error: str | None = None
        self._latest: CapturedFrame | None = None
        self._condition = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> Camera:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Open the source and start capturing; raises BadSource if it cannot be opened."""
        reader = _open_reader(self.source, size=self.size, loop=self.loop_file)
        self._thread = threading.Thread(target=self._run, args=(reader,), name="camera", daemon=True)
        self._thread.start()
        if self.newest(None, timeout=OPEN_TIMEOUT_S) is None:
            self.close()
            raise BadSource(f"camera {self.source}: opened but sent no picture within {OPEN_TIMEOUT_S:.0f} s"
                            + (f" ({self.error})" if self.error else ""))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- frames -----------------------------------------------------------------------------
    def newest(self, after: int | None, *, timeout: float | None = None) -> CapturedFrame | None:
        """The newest frame with number > ``after`` (None: any), waiting up to ``timeout``
        seconds; None when none came (timeout, or the source ended)."""
        threshold = after or 0
        with self._condition:
            self._condition.wait_for(
                lambda: (self._latest is not None and self._latest.number > threshold) or self.ended,
                timeout=timeout)
            latest = self._latest
        return latest if latest is not None and latest.number > threshold else None

    def _run(self, reader: _Reader) -> None:
        try:
            while not self._stop.is_set():
                image = reader.read()
                if image is None:
                    break
                if self.size is not None:
                    w, h = fit_size(image.shape[1], image.shape[0], self.size)
                    image = resize_frame(image, w, h)
                with self._condition:
                    self.captured += 1
                    self._latest = CapturedFrame(image, self.captured, time.monotonic())
                    self._condition.notify_all()
        except Exception as exc:  # camera loss mid-session ends the session, it is not a crash
            self.error = str(exc)
        finally:
            reader.close()
            with self._condition:
                self.ended = True
                self._condition.notify_all()


class _Reader:
    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _CvReader(_Reader):
    """A camera index, device path or stream URL through OpenCV."""

    def __init__(self, source: str) -> None:
        target: int | str = int(source) if source.isdigit() else source
        with _stderr_kept() as said:  # OpenCV's ffmpeg writes its complaints to fd 2 itself
            self.capture = cv2.VideoCapture(target)
            opened = self.capture.isOpened()
        if not opened:
            self.capture.release()
            ffmpeg_lines = "\n".join(line for line in said().splitlines() if _FFMPEG_LINE.match(line))
            if isinstance(target, int):
                what = "no camera with that index (or no permission)"
            elif ffmpeg_lines:  # e.g. "Connection refused", "No such file or directory"
                what = f"cannot open that {'stream' if '://' in source else 'device'} ({ffmpeg_reason(ffmpeg_lines)})"
            else:
                what = "cannot open that device or stream (or no permission)"
            raise BadSource(f"camera {source}: {what}; check ", S.camera, ", e.g. 0 for the first camera, "
                            "a stream URL, or a video file")

    def read(self) -> np.ndarray | None:
        ok, frame = self.capture.read()
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok else None

    def close(self) -> None:
        self.capture.release()


_FFMPEG_LINE = re.compile(r"\[[\w,.-]+ @ 0x[0-9a-f]+\] ")  # "[tcp @ 0x55d0...] Connection ... refused"


@contextlib.contextmanager
def _stderr_kept() -> Iterator[Callable[[], str]]:
    """Send this process's stderr (file descriptor 2, where the ffmpeg inside OpenCV and
    OpenCV's own warnings write, past Python) to a temporary file for the ``with`` block;
    yields a function that returns what was written, once the block has ended. The caller
    folds what matters into its one-line error: the user never sees ffmpeg's
    ``[tcp @ 0x...]`` lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    log = tempfile.TemporaryFile()  # noqa: SIM115 -- closed below
    text: list[str] = []
    try:
        os.dup2(log.fileno(), 2)
        try:
            yield lambda: "".join(text)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
    finally:
        os.close(saved)
        log.seek(0)
        text.append(log.read().decode(errors="replace"))
        log.close()


class _FileReader(_Reader):
    """A video file played at its real pace, as a camera would deliver it; with ``loop``
    it starts over at the end, like a camera that never stops."""

    def __init__(self, path: str, *, size: int | None, loop: bool) -> None:
        from ..io import open_source

        self.source = open_source(path, size=size)  # ffmpeg scales: less to pipe and resize
        self.loop = loop
        self.frames = iter(self.source)
        self.interval = 1.0 / self.source.info.fps
        self.next_due = time.monotonic()

    def read(self) -> np.ndarray | None:
        frame = next(self.frames, None)
        if frame is None and self.loop:
            self.frames = iter(self.source)  # a new decoder; the file is not probed again
            frame = next(self.frames, None)
        delay = self.next_due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.next_due += self.interval
        return frame

    def close(self) -> None:
        self.source.close()


def _open_reader(source: str, *, size: int | None, loop: bool) -> _Reader:
    if source.isdigit() or "://" in source or source.startswith("/dev/"):
        return _CvReader(source)
    if not Path(source).exists():
        raise BadSource(f"camera {source}: no such file or camera; give a camera index (0), a device "
                        "path, a stream URL or a video file")
    return _FileReader(source, size=size, loop=loop)
