"""Fake time for live sessions: a clock that advances as work is done, and a camera on it.

A session run on these does exactly what it would on a machine where every reading of the
clock costs ``tick`` seconds (about one loss evaluation per reading), whatever the real
machine's load: tests assert what a session does, never how fast this machine is.
"""

from __future__ import annotations

import numpy as np

from videostyle.live.camera import CapturedFrame


class FakeClock:
    """Monotonic seconds that pass only as they are read: each call advances ``tick``."""

    def __init__(self, tick: float, *, start: float = 1000.0) -> None:
        self.tick, self.now = tick, start

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class PacedCamera:
    """A camera on a :class:`FakeClock`: frame n (1-based) is taken at ``start + (n - 1) / fps``,
    cycling through ``images``; :meth:`newest` returns the newest taken so far, or waits (moves
    the clock on) for the next one, as :class:`videostyle.live.camera.Camera` does. With
    ``frames`` it ends after that many, as a file played without looping."""

    def __init__(self, clock: FakeClock, images: list[np.ndarray], *, fps: float, phase: float = 0.0,
                 frames: int | None = None) -> None:
        self.clock, self.images, self.fps, self.frames = clock, images, fps, frames
        self.start = clock.now - phase / fps  # phase in [0, 1): how far into a frame the session starts
        self.handed_out = 0  # frames returned by newest()

    def __enter__(self) -> PacedCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def _taken(self) -> int:
        taken = 1 + int((self.clock.now - self.start) * self.fps)
        return taken if self.frames is None else min(taken, self.frames)

    @property
    def captured(self) -> int:
        return self._taken()

    @property
    def ended(self) -> bool:
        return self.frames is not None and self.clock.now - self.start >= self.frames / self.fps

    def newest(self, after: int | None, *, timeout: float | None = None) -> CapturedFrame | None:
        number = self._taken()
        if number <= (after or 0):
            if self.ended:
                return None
            wait = (after or 0) / self.fps - (self.clock.now - self.start)  # until frame after + 1
            if timeout is not None and wait > timeout:
                self.clock.advance(timeout)
                return None
            self.clock.advance(wait + 1e-9)  # a hair past it: no rounding back to the last frame
            number = self._taken()
        self.handed_out += 1
        image = self.images[(number - 1) % len(self.images)]
        return CapturedFrame(image, number, self.start + (number - 1) / self.fps)
