"""What the command line shows while work runs: iteration and frame bars (tqdm on a
terminal, a line per step in a log), the frame preview window, the closing summary line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from tqdm import tqdm

from ..errors import S
from ..video.report import clock

if TYPE_CHECKING:
    from ..engine.optimize import Progress
    from ..video.report import VideoProgress, VideoResult


HEARTBEAT = 30.0  # seconds: in a log, a line at least this often while work runs (a tile pass is shorter)


class IterationBar:
    """Optimizer progress: a tqdm bar on a terminal, a line per 10% of the steps in a log,
    and in a log a line at least every HEARTBEAT seconds, so a slow scale (a large picture
    in tiles, whose one evaluation takes minutes) still shows it is alive.

    Each shows the scale's seconds per iteration once timed (within its first evaluation
    when it runs in tiles), and a tiled scale also gets one line with that figure and the
    scale's time left."""

    def __init__(self, *, quiet: bool, desc: str = "stylizing") -> None:
        self.bar: tqdm | None = None
        self.quiet, self.desc = quiet, desc
        self.live = sys.stderr.isatty()
        self._scale = 0
        self._logged = -1
        self._said: float | None = None  # elapsed at the last line written to a log
        self._estimated = 0  # the last scale whose time left was said

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        label = self.desc if p.scales == 1 else f"{self.desc} (scale {p.scale}/{p.scales})"
        if p.tiles:
            label += f", tiled ({p.tiles} tiles)"
            self._estimate(label, p)
        if not self.live:
            self._log(label, p)
            return
        if self.bar is None or p.scale != self._scale:
            self.close()
            self._scale = p.scale
            self.bar = tqdm(total=p.iterations, desc=label, unit="it", dynamic_ncols=True, leave=False)
        self.bar.n = p.iteration
        self.bar.set_postfix_str(_status(p), refresh=False)
        self.bar.refresh()

    def _log(self, label: str, p: Progress) -> None:
        """A line when a scale begins, per 10% of its steps, and at least every HEARTBEAT seconds."""
        due = p.scale != self._scale or self._said is None or p.elapsed - self._said >= HEARTBEAT
        if p.scale != self._scale:
            self._scale, self._logged = p.scale, -1
        tenth = 10 * p.iteration // max(1, p.iterations)
        if not p.partial and tenth > self._logged:  # the loss is read only when logged
            self._logged, due = tenth, True
        if due:
            self._said = p.elapsed
            print(f"{label}: iteration {p.iteration}/{p.iterations}, {_status(p)}, {p.elapsed:.0f} s",
                  file=sys.stderr, flush=True)

    def _estimate(self, label: str, p: Progress) -> None:
        """Once per tiled scale, as soon as it is timed: seconds per iteration and the time left."""
        if self._estimated == p.scale or p.seconds_per_iteration is None:
            return
        self._estimated = p.scale
        left = p.seconds_per_iteration * max(0, p.iterations - p.iteration)
        line = f"{label}: about {p.seconds_per_iteration:.1f} s per iteration, {clock(left)} left at this scale"
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _status(p: Progress) -> str:
    """What a line or the bar shows besides the iteration: the loss terms after an evaluation
    (reading them waits for the device), the tile under way inside one, and the time per
    iteration once known."""
    of = "style Grams, " if p.stage == "style" else ""
    parts = [f"{of}tile pass {p.tile}/{p.tile_passes}" if p.partial else terms(p)]
    if p.seconds_per_iteration is not None:
        parts.append(f"{p.seconds_per_iteration:.1f} s/iteration")
    return ", ".join(part for part in parts if part)


def terms(p: Progress) -> str:
    """The loss terms as ``content=… style=…`` (reading them waits for the device)."""
    return " ".join(f"{k}={v:.3g}" for k, v in p.terms.items())


class FramePreview:
    """Shows each finished frame of a video job in a window; q or Esc closes it for good."""

    def __init__(self) -> None:
        from ..io.preview import PreviewWindow, require_display

        require_display("drop ", S.preview, " (the frames are written all the same)")
        self.window: PreviewWindow | None = PreviewWindow()

    def __call__(self, p: VideoProgress) -> None:
        if self.window is None or p.image is None:
            return
        total = f"/{p.frames}" if p.frames else ""
        if self.window.show(p.image, caption=f"frame {p.finished}{total}") in (ord("q"), 27):
            self.close()

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None


def both(*callbacks: Callable[[VideoProgress], None] | None) -> Callable[[VideoProgress], None]:
    """One progress callback that calls each of ``callbacks`` that is not None."""
    chosen = [c for c in callbacks if c is not None]

    def call(p: VideoProgress) -> None:
        for callback in chosen:
            callback(p)

    return call


def print_video_result(result: VideoResult, *, reused: bool = False) -> None:
    spf = f", {result.seconds_per_frame:.2f} s/frame" if result.seconds_per_frame else ""
    if reused:
        resumed = " (the same frames)"
    else:
        resumed = f", {result.resumed} resumed from an earlier run" if result.resumed else ""
    cuts = f", scene cuts at frames {', '.join(str(c + 1) for c in result.scene_cuts)}" if result.scene_cuts else ""
    cost = (f", {result.cost_per_frame:.1f} full-frame evaluations per later frame"
            if result.cost_per_frame is not None else "")
    print(f"wrote {result.output}: {result.frames} frames {result.info.width}x{result.info.height} "
          f"in {result.seconds:.0f} s{spf}{cost}{resumed}{cuts}")


class FrameBar:
    """Frame progress: a tqdm bar on a terminal (the postfix shows the iteration within the
    frame), a line per finished frame with the ETA in a log."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.live = sys.stderr.isatty()
        self.bar: tqdm | None = None
        self.stage = ""

    def __call__(self, p: VideoProgress) -> None:
        if self.quiet:
            return
        if not self.live:
            self._log(p)
            return
        if self.bar is None or p.stage != self.stage:
            self.close()
            self.stage = p.stage
            desc = {"stylize": "stylizing", "encode": "writing"}.get(p.stage, p.stage)  # or "pass 2", ...
            self.bar = tqdm(total=p.frames, desc=desc, unit="frame", dynamic_ncols=True, initial=p.resumed)
        self.bar.n = p.frame + 1 if p.stage == "encode" else p.finished
        parts = []
        if p.step is not None:
            parts.append(f"frame {p.frame + 1} it {p.step.iteration}/{p.step.iterations}")
        if p.seconds_per_frame:
            parts.append(f"{p.seconds_per_frame:.1f} s/frame")
        if p.cost_per_frame is not None:
            parts.append(f"{p.cost_per_frame:.1f} evaluations/frame")
        self.bar.set_postfix_str(", ".join(parts), refresh=False)
        self.bar.refresh()

    def _log(self, p: VideoProgress) -> None:
        if p.stage != self.stage:
            self.stage = p.stage
            if p.stage == "stylize" and p.resumed:
                print(f"resuming after {p.resumed} finished frames", file=sys.stderr, flush=True)
            elif p.stage == "encode":
                print(f"writing {p.frames} frames", file=sys.stderr, flush=True)
            elif p.stage != "stylize":
                print(f"{p.stage}: {p.frames} frames", file=sys.stderr, flush=True)
        if p.stage == "encode" or p.step is not None:
            return
        total = f"/{p.frames}" if p.frames else ""
        line = f"frame {p.finished}{total}" if p.stage == "stylize" else f"{p.stage}: frame {p.finished}{total}"
        if p.cost is not None:
            line += f", {p.cost:.1f} full-frame evaluations"
        if p.seconds_per_frame:
            line += f", {p.seconds_per_frame:.1f} s/frame"
            if p.frames:
                line += f", ETA {clock(p.seconds_per_frame * (p.frames - p.finished))}"
        print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None




class JsonFrames:
    """``--progress json``: one JSON object per finished frame on stdout (index, frames,
    evaluations, its cost in full-frame-equivalent evaluations, seconds, eta), for job runners;
    the summary object comes from the command."""

    def __init__(self) -> None:
        self.evaluations = 0
        self.started: float | None = None

    def __call__(self, p: VideoProgress) -> None:
        import time

        if p.stage == "encode":
            return
        if p.step is not None:
            if not p.step.partial:
                self.evaluations += 1  # the optimizer reports once per loss evaluation, and per tile within one
            if self.started is None:
                self.started = time.perf_counter() - p.step.elapsed
            return
        now = time.perf_counter()
        record = {"event": "frame", "index": p.frame, "frames": p.frames, "finished": p.finished,
                  "evaluations": self.evaluations,
                  "cost": None if p.cost is None else round(p.cost, 3),
                  "seconds": round(now - self.started, 3) if self.started is not None else None,
                  "seconds_per_frame": p.seconds_per_frame, "eta": p.eta}
        if p.stage != "stylize":
            record["stage"] = p.stage  # a later pass (multi-pass)
        print(json.dumps(record), flush=True)
        self.evaluations, self.started = 0, now


def video_summary(result: VideoResult) -> dict:
    """A finished video job as a JSON-ready dict (``--json``, ``--progress json``)."""
    return {"event": "done", "output": str(result.output), "frames": result.frames, "resumed": result.resumed,
            "seconds": result.seconds, "seconds_per_frame": result.seconds_per_frame,
            "scene_cuts": result.scene_cuts, "size": [result.info.width, result.info.height],
            "cost_per_frame": None if result.cost_per_frame is None else round(result.cost_per_frame, 3)}
