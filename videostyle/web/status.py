"""What the page says about a job: its state in a line or two."""

from __future__ import annotations

from ..video.report import clock
from .jobs import CANCELLED, DONE, FAILED, QUEUED, Job


def describe(job: Job, ahead: int = 0) -> str:
    """One or two lines on where ``job`` stands, for a person watching the page."""
    name = job.request.display_name
    if job.state == QUEUED:
        return f"{name}: queued, {ahead} job{'s' if ahead != 1 else ''} ahead" if ahead else f"{name}: queued, next"
    if job.state == FAILED:
        return f"Error: {job.message}"
    if job.state == CANCELLED:
        if job.kind == "image":
            return f"{name}: cancelled."
        return (f"{name}: cancelled after {job.finished} of {job.frames or '?'} frames. The finished frames "
                "are kept: start the same job again to resume.")
    if job.state == DONE:
        took = f" in {clock(job.seconds)}" if job.seconds is not None else ""
        count = f", {job.frames} frames" if job.kind == "video" and job.frames else ""
        return f"{name}: finished{count}{took}. Result: {job.output.name}"
    if job.kind == "image":
        return f"{name}: stylizing, iteration {job.iteration} of {job.iterations or '?'}{_eta_in_frame(job)}"
    total = job.frames or "?"
    if job.stage == "encode":
        return f"{name}: writing {job.output.suffix[1:]}, frame {job.finished} of {total}"
    line = f"{name}: frame {min(job.finished + 1, job.frames or job.finished + 1)} of {total}"
    if job.iterations:
        line += f", iteration {job.iteration}/{job.iterations}"
    if job.seconds_per_frame and job.frames:
        left = job.seconds_per_frame * (job.frames - job.finished)
        line += f" · {job.seconds_per_frame:.1f} s/frame · ETA {clock(left)}"
    else:
        line += (" (the first frame converges longer)" if job.finished == 0 else "") + _eta_in_frame(job)
    if job.resumed:
        line += f" · {job.resumed} frames resumed"
    return line


def _eta_in_frame(job: Job) -> str:
    if job.iteration < 2 or not job.iterations:
        return ""
    left = job.step_seconds / job.iteration * (job.iterations - job.iteration)
    return f" · ETA {clock(left)}"
