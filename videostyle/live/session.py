"""The live loop: newest camera frame -> a bounded amount of optimization -> display/record.

Gatys optimization is far slower than a camera, so the session stays live by (1) always
taking the newest frame (stale ones are dropped by :class:`camera.Camera`), (2) spending
a bounded number of iterations per frame, adapted to hold a target rate, and (3) starting
each frame from the flow-warped previous result, so a few iterations keep the look once
the first frame has converged. That policy is :class:`live.LiveStylizer`, shared with the
web app's webcam tab; this module adds the camera, keys, preview window and recording.

Every time the session reads (its deadline, latencies, the recording's pace, the style
blend) comes from one injectable clock, and the camera from an injectable opener, so a
test can run a whole session in fake time and assert what it does, not how fast.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import StyleConfig, WebcamConfig, declared
from ..engine.cancel import Cancelled, CancelToken
from ..engine.optimize import Progress, Stylizer
from ..engine.targets import FrameTargets, Style
from ..errors import S
from ..io.preview import PreviewWindow, draw_caption, require_display
from .camera import Camera, CapturedFrame, FrameFeed
from .policy import WARM_UP_SECONDS, Clock, LiveStylizer, warming_up_caption

STRENGTH_STEP = 0.1  # +/- raise or lower the strength by this
STYLE_WEIGHT_STEP = 1.5  # ... or, when a raw style weight was given, multiply or divide it by this
# n/p: the next style's share of the targets grows from 0 to 1 over this, as a schedule's transition
SWITCH_SECONDS = declared("transition")
WARM_UP_SHARE = 0.25  # with a duration, the first frame's warm-up takes at most this share of it


@dataclass(frozen=True)
class SessionStats:
    """What a session reports at exit."""

    frames_captured: int
    frames_stylized: int
    seconds: float
    mean_fps: float  # stylized frames per second of session
    mean_latency_s: float  # capture to display, mean over stylized frames
    max_latency_s: float
    mean_iterations: float
    recorded: str | None
    ended_by: str  # "duration", "quit", "interrupt" or "camera"
    # full-frame-equivalent evaluations per stylized frame after the first (None: none yet)
    mean_cost: float | None = None


StatusCallback = Callable[[str], None]
CameraOpener = Callable[[WebcamConfig], AbstractContextManager[FrameFeed]]
"""Opens the session's frame source from its settings (default: :func:`open_camera`)."""


def open_camera(config: WebcamConfig) -> Camera:
    """The camera, stream or video file named by ``config.camera``, at the working size."""
    return Camera(config.camera, size=config.size, loop_file=config.loop_file)


def warm_up_seconds(config: WebcamConfig) -> float:
    """How long the first frame may converge: WARM_UP_SECONDS, and with a ``duration`` at
    most WARM_UP_SHARE of it, so that a short session on a slow machine still shows
    stylized frames (the warm-up used to race the deadline, and lose on a busy machine)."""
    if config.duration is None:
        return WARM_UP_SECONDS
    return min(WARM_UP_SECONDS, WARM_UP_SHARE * config.duration)


def run_session(styles: Sequence[np.ndarray | Style], *, style: StyleConfig | None = None,
                config: WebcamConfig | None = None, status: StatusCallback | None = None,
                clock: Clock = time.monotonic, camera: CameraOpener = open_camera) -> SessionStats:
    """Run a live session until quit, Ctrl-C, ``duration`` or camera loss.

    Several ``styles`` are switched with n/p in the preview (the first is used headless).
    The recording, if any, is finalized whatever ends the session. ``clock`` (seconds,
    monotonic) and ``camera`` replace the real time and camera, e.g. in tests: the frames'
    ``time`` must then be on ``clock``.
    """
    config = config or WebcamConfig()
    style = style or StyleConfig()
    if config.preview:
        require_display("run with ", S.preview, ", and ", S.record, " out.mp4 to keep the result")
    session = _Session(list(styles), style, config, clock=clock, camera=camera)
    # checked before the camera opens: a square of the working size bounds any camera's frame
    session.live.stylizer.check_memory(config.size, config.size)
    return session.run(status)


class _Recorder:
    """Writes what is shown at the session's real pace: each shown frame is repeated
    until the next one, at ``rate`` frames per second."""

    def __init__(self, path: str, rate: float, force: bool, start: float) -> None:
        from ..io import open_sink

        self.rate, self.start = rate, start
        self.sink = open_sink(path, fps=rate, force=force)
        self.written = 0
        self.last: np.ndarray | None = None

    def show(self, frame: np.ndarray, now: float) -> None:
        if self.last is None:
            self.last = frame  # the first picture also covers the moments before it
        self._fill(now)
        self.last = frame

    def _fill(self, now: float) -> None:
        due = int((now - self.start) * self.rate)
        while self.last is not None and self.written < due:
            self.sink.write(self.last)
            self.written += 1

    def close(self, now: float) -> None:
        self._fill(now)
        if self.written == 0 and self.last is not None:
            self.sink.write(self.last)
        self.sink.close()


class _Session:
    def __init__(self, styles: list[np.ndarray | Style], style: StyleConfig, config: WebcamConfig, *,
                 clock: Clock = time.monotonic, camera: CameraOpener = open_camera) -> None:
        self.styles, self.style, self.config = styles, style, config
        self.clock, self.open_camera = clock, camera
        self.style_index = 0
        self.switch: tuple[int, float] | None = None  # (the style switched from, when) while n/p blends
        # ends the session, mid-frame too: q (reason "quit") or the duration (its deadline, on clock)
        self.over = CancelToken(clock=clock)
        self.live = LiveStylizer(self._stylizer(), fps=config.fps, iterations=config.iterations,
                                 max_iterations=config.max_iterations, first_iterations=config.first_iterations,
                                 warm_up_seconds=warm_up_seconds(config), clock=clock, paint=config.paint)
        self.paused = False
        self.recorder: _Recorder | None = None
        self.shown: np.ndarray | None = None
        self.camera: FrameFeed | None = None
        self.window: PreviewWindow | None = None

    def _stylizer(self) -> Stylizer:
        """One Stylizer over every style (each one's Grams computed once per size); a frame's
        :meth:`_look` says which of them, or which blend during a switch, it is optimized to."""
        return Stylizer(list(self.styles), self.style, cancel=self.over)

    def _look(self, now: float) -> FrameTargets | None:
        """The current style alone, or, within SWITCH_SECONDS of an n/p press, the blend from
        the last one to it (a transition instead of a jump); None with one style."""
        if len(self.styles) == 1:
            return None
        weights = [0.0] * len(self.styles)
        share = 1.0
        if self.switch is not None:
            before, at = self.switch
            share = min(1.0, max(0.0, (now - at) / SWITCH_SECONDS))
            if share >= 1.0:
                self.switch = None
            else:
                weights[before] = 1.0 - share
        weights[self.style_index] += share
        return FrameTargets(weights=tuple(weights))

    def run(self, status: StatusCallback | None) -> SessionStats:
        cfg = self.config
        started = self.clock()
        self.over.deadline = None if cfg.duration is None else started + cfg.duration
        ended_by = "camera"
        try:
            with self.open_camera(cfg) as camera:
                self.camera = camera
                if cfg.record:
                    self.recorder = _Recorder(cfg.record, cfg.record_fps, cfg.force, started)
                try:
                    ended_by = self._loop(camera, status)
                except KeyboardInterrupt:
                    ended_by = "interrupt"
                captured = camera.captured
        finally:
            if self.recorder is not None:
                self.recorder.close(self.clock())
            if self.window is not None:
                self.window.close()
        seconds = self.clock() - started
        latencies, iterations = self.live.latencies, self.live.iterations
        return SessionStats(
            frames_captured=captured, frames_stylized=len(latencies), seconds=seconds,
            mean_fps=len(latencies) / seconds if seconds else 0.0,
            mean_latency_s=float(np.mean(latencies)) if latencies else 0.0,
            max_latency_s=max(latencies, default=0.0),
            mean_iterations=float(np.mean(iterations)) if iterations else 0.0,
            recorded=cfg.record, ended_by=ended_by,
            mean_cost=float(np.mean(self.live.costs[1:])) if len(self.live.costs) > 1 else None)

    def _ended_by(self) -> str | None:
        """"quit" or "duration" once the session is over, else None."""
        if not self.over.cancelled:
            return None
        return "duration" if self.over.reason == "deadline" else self.over.reason

    def _loop(self, camera: FrameFeed, status: StatusCallback | None) -> str:
        previous: CapturedFrame | None = None  # the newest frame taken from the camera
        while True:
            ended_by = self._ended_by()
            if ended_by is not None:
                return ended_by
            captured = camera.newest(previous.number if previous else None, timeout=0.5)
            if captured is None:
                if camera.ended:
                    return "camera"
                continue
            if previous is None:
                self._present(draw_caption(captured.image.copy(), "warming up"))
            if self.paused:
                self._show(self.shown if self.shown is not None else captured.image)
                previous = captured
                continue
            try:
                self._stylize(captured)
            except Cancelled:  # the duration or q during a frame: the frame is dropped
                return self._ended_by() or "quit"
            previous = captured
            latencies = self.live.latencies
            if status is not None and len(latencies) % 10 == 1:
                done = len(latencies)
                status(f"{done} frame{'s' if done != 1 else ''} stylized, {camera.captured} captured, "
                       f"latency {latencies[-1]:.2f} s")

    def _stylize(self, captured: CapturedFrame) -> None:
        """One frame through the shared live policy (:class:`live.LiveStylizer`)."""
        warming_up = self._warming_up(captured) if self.live.warming_up else None

        # the stylizer checks self.over at every loss evaluation, so a long frame cannot overrun
        # the duration or q
        result = self.live.step(captured.image, captured_at=captured.time, callback=warming_up,
                                targets=self._look(self.clock()))
        self._show(result)

    def _warming_up(self, captured: CapturedFrame) -> Callable[[Progress], None]:
        """While the first frame converges, show the live camera with a progress overlay."""
        def show(p: Progress) -> None:
            if self.camera is None or (self.recorder is None and not self.config.preview):
                return
            live = self.camera.newest(None, timeout=0) or captured
            frame = draw_caption(live.image.copy(), warming_up_caption(p))
            self._present(frame)
        return show

    def _show(self, frame: np.ndarray) -> None:
        self.shown = frame
        self._present(frame)

    def _present(self, frame: np.ndarray) -> None:
        now = self.clock()
        if self.recorder is not None:
            self.recorder.show(frame, now)
        if self.config.preview:
            self._preview(frame)

    def _preview(self, frame: np.ndarray) -> None:
        if self.window is None:
            self.window = PreviewWindow(display_size=self.config.display_size)
        self._handle_key(self.window.show(frame, caption=self.live.caption()))

    def _handle_key(self, key: int) -> None:
        if key in (ord("q"), 27):
            self.over.cancel("quit")
        elif key == ord(" "):
            self.paused = not self.paused
        elif key == ord("s") and self.shown is not None:
            name = time.strftime("videostyle-snapshot-%Y%m%d-%H%M%S.png")
            from ..io import write_image

            write_image(Path(name), self.shown, force=True)
        elif key in (ord("n"), ord("p")) and len(self.styles) > 1:
            step = 1 if key == ord("n") else -1
            self.switch = (self.style_index, self.clock())
            self.style_index = (self.style_index + step) % len(self.styles)
        elif key in (ord("+"), ord("="), ord("-")):
            self.style = _stronger(self.style, up=key != ord("-"))
            self.live.stylizer = self._stylizer()


def _stronger(style: StyleConfig, *, up: bool) -> StyleConfig:
    """The style settings one +/- key press away: a step of the strength, or a factor on a raw
    style weight when the user gave one."""
    if style.style_weight is not None:
        factor = STYLE_WEIGHT_STEP if up else 1 / STYLE_WEIGHT_STEP
        return dataclasses.replace(style, style_weight=style.style_weight * factor)
    strength = style.strength + (STRENGTH_STEP if up else -STRENGTH_STEP)
    return dataclasses.replace(style, strength=round(min(1.0, max(0.0, strength)), 3))
