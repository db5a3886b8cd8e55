"""The web app's jobs: a queue run by one worker thread per device, the data directory, cancel, resume.

No Gradio here: the page (``app.py``) is a thin layer over this module, and this module is
a thin layer over the public API (``stylize_video``, ``stylize_image``). Layout of the
data directory::

    styles/              the style gallery: the bundled sample and uploaded style images
    jobs/<key>/          one per input + frame-shaping settings: input.<ext> (the upload),
                         work/ (finished frames: what a cancelled or interrupted job resumes from)
    results/<id>/<name>  the finished output of job <id>: what the page plays and downloads

``key`` and ``id`` are hashes of the request's owner, the upload's bytes, the style images'
bytes and the settings (``id`` also of the upload's name), so the same user submitting the
same job again (after a cancel, a crash or a server restart) lands in the same folders and
resumes at the first unfinished frame, and a finished job is simply shown again; another
user who uploads the same bytes gets a job of their own, never the first one's name, progress
or result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import SETTINGS, ServeConfig, StyleSchedule, check_choice, declared
from ..engine.cancel import Cancelled, CancelToken
from ..errors import BadInput, BadOption, BadSource, S, VideostyleError
from ..io.images import STILL_SUFFIXES
from ..io.outputs import GIF_SUFFIXES
from ..jobs import ImageRequest, KeyframeSpec, Strength, StyleSpec, VideoRequest, run_image, run_video
from .words import page_message

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = ServeConfig().data_dir
OUTPUTS = ("mp4", "gif")
CHECKOUT_STYLE = Path(__file__).resolve().parents[2] / "samples" / "style.jpg"  # absent when installed
BUNDLED_STYLE = "sample-swirls.jpg"


@dataclass(frozen=True)
class JobRequest:
    """What the page asks for: the upload, the styles and every setting that shapes the result,
    named as the settings are (see ``config.SETTINGS``; the page's own fields aside). Checked
    when made, through the request it becomes (:meth:`video_request`, :meth:`image_request`)."""

    input: Path  # the uploaded file, wherever the web framework put it
    styles: tuple[tuple[Path, float], ...]  # style image and blend weight
    name: str | None = None  # the upload's own file name, for messages and the download (default: input's)
    strength: float = declared("strength")
    preserve_colors: bool = declared("preserve_colors")
    preset: str = declared("preset", "page")  # the page's Quality
    size: int = declared("size", "video")  # longest side of the output; never more than the upload's
    start: float = declared("start")  # seconds
    duration: float | None = declared("duration")  # seconds; None: to the end
    temporal: str = declared("temporal")
    output: str = OUTPUTS[0]  # "mp4" or "gif" for clips; pictures give a PNG
    side_by_side: bool = declared("side_by_side")
    iterations: int | None = None  # per frame (or for a picture); None: the preset's
    first_iterations: int | None = None  # first frame of a clip; None: the preset's
    # where and when (clips only; see StyleSchedule): each style's start time in seconds (in
    # the order of ``styles``; (): all of them blended throughout), the transition between
    # them, (seconds, strength) keyframes of a strength ramp, a new style per shot, a loop
    style_starts: tuple[float, ...] = ()
    transition: float = declared("transition")
    strength_ramp: tuple[tuple[float, float], ...] = ()
    per_shot: bool = declared("style_per_shot")
    seamless_loop: bool = declared("seamless_loop")
    mask: Path | None = None  # a region mask picture or clip: white takes the first style, black the second
    # painted frames of the clip and their times in seconds (see video/keyframes.py); styles may then be none
    keyframes: tuple[tuple[float, Path], ...] = ()
    owner: str = field(default="", repr=False)  # who asks (the page: a token kept in the browser); part of the keys

    def __post_init__(self) -> None:
        if not self.styles and not self.keyframes:
            raise BadOption("choose at least one style, or upload keyframes")
        check_choice("output", self.output, OUTPUTS)
        for name in ("iterations", "first_iterations"):  # the page's fields start at 1 (empty: the preset's)
            if getattr(self, name) is not None:
                SETTINGS[name].check(getattr(self, name), at_least=1)
        if self.style_starts and len(self.style_starts) != len(self.styles):
            raise BadOption(f"style start times: {len(self.style_starts)} given for {len(self.styles)} styles; "
                            "give one each (or none)")
        self.video_request(input=self.input, output=Path(f"result.{self.output}"))  # checks every setting

    def style_specs(self, *, timed: bool = True) -> tuple[StyleSpec, ...]:
        """The styles as specs, in the order chosen, each at its start time: a timeline read by
        the command line's rule (``jobs.specs.timeline``), so times out of order are refused,
        never sorted. Without times, or all at 0, the styles are blended throughout."""
        starts: tuple[float | None, ...] = (self.style_starts if timed and any(self.style_starts)
                                            else (None,) * len(self.styles))
        return tuple(StyleSpec(str(path), weight, start) for (path, weight), start in zip(self.styles, starts,
                                                                                          strict=True))

    def strength_specs(self) -> tuple[Strength, ...]:
        """The strength ramp's keyframes, or the one strength."""
        return tuple(Strength(value, at) for at, value in self.strength_ramp) or (Strength(self.strength),)

    def video_request(self, *, input: Path, output: Path, size: int | None = None, duration: float | None = None,
                      mask: Path | None = None, work_dir: Path | None = None, device: str = declared("device"),
                      precision: str = declared("precision"),
                      keyframes: tuple[tuple[float, Path], ...] | None = None) -> VideoRequest:
        """The clip job this asks for (``size``, ``duration``, ``mask``, ``keyframes``: the
        job's own, where they differ from the request's)."""
        keys = self.keyframes if keyframes is None else keyframes
        return VideoRequest(
            input=input, output=output, style=self.style_specs(), strength=self.strength_specs(), preset=self.preset,
            # the page's per-frame count is also the cap of a frame, as it always was (the work folder's record)
            iterations=self.iterations, max_iterations=self.iterations, first_iterations=self.first_iterations,
            preserve_colors=self.preserve_colors, size=self.size if size is None else size, start=self.start,
            duration=self.duration if duration is None else duration, temporal=self.temporal,
            side_by_side=self.side_by_side, transition=self.transition, style_per_shot=self.per_shot,
            seamless_loop=self.seamless_loop, mask=self.mask if mask is None else mask, work_dir=work_dir,
            keyframe=tuple(KeyframeSpec(str(path), seconds=at) for at, path in keys),
            keep_work=True, force=True, device=device, precision=precision)

    def image_request(self, *, input: Path, output: Path, size: int, mask: Path | None, device: str,
                      precision: str) -> ImageRequest:
        """The picture job this asks for (the clip-only fields left out)."""
        return ImageRequest(content=input, output=output, style=self.style_specs(timed=False),
                            strength=(self.strength,), preset=self.preset, iterations=self.iterations,
                            preserve_colors=self.preserve_colors, size=size, mask=mask, force=True, device=device,
                            precision=precision)

    def schedule(self) -> StyleSchedule | None:
        """The styles' timeline, the strength ramp and per-shot styles as the video job's
        schedule; None for one blend throughout (as the CLI without ``@T``)."""
        return self.video_request(input=self.input, output=Path(f"result.{self.output}")).schedule()[1]

    @property
    def display_name(self) -> str:
        return Path(self.name or self.input.name).name


QUEUED, RUNNING, DONE, CANCELLED, FAILED = "queued", "running", "done", "cancelled", "failed"


@dataclass
class Job:
    """One job and its progress, written by the worker thread and read by the page."""

    id: str
    kind: str  # "video" or "image"
    request: JobRequest
    input: Path  # the upload's copy in the job folder
    work: Path  # the video work folder (finished frames)
    output: Path
    size: int  # the longest side actually used
    duration: float | None  # seconds of the clip to stylize: the request's, capped when the length is unknown
    state: str = QUEUED
    stage: str = "stylize"  # "stylize" or "encode"
    frames: int | None = None
    finished: int = 0  # frames done, resumed ones included
    resumed: int = 0
    iteration: int = 0  # within the current frame (or the picture)
    iterations: int = 0
    step_seconds: float = 0.0  # time into the current frame (or the picture)
    seconds_per_frame: float | None = None
    preview: np.ndarray | None = None  # the newest finished frame, (H, W, 3) uint8 RGB
    previews: int = 0  # counts new previews, so a page can tell that one arrived
    message: str = ""  # why it failed
    seconds: float | None = None  # wall time of a finished run
    cancel: CancelToken = field(default_factory=CancelToken, repr=False)  # checked at every loss evaluation
    mask: Path | None = None  # the request's mask, copied beside the input
    keyframes: tuple[tuple[float, Path], ...] = ()  # the request's keyframes, copied beside the input

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)


# -- the data directory -----------------------------------------------------------------------
def safe_name(name: str, *, fallback: str = "upload") -> str:
    """A file name that stays where it is put: the last path part, only letters, digits,
    ``._-``, no leading dot, at most 80 characters."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._-")[:80]
    return cleaned or fallback


def inside(root: Path, *parts: str) -> Path:
    """``root / parts`` resolved, refused (BadInput) unless it stays inside ``root``."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if path == base or not path.is_relative_to(base):
        raise BadInput(f"{'/'.join(parts)}: not a file of this server's data directory")
    return path


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _key(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _copy_once(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` unless it is there: a resumed job needs the very same
    file (its size and time are part of the work folder's settings check)."""
    if target.exists():
        return
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


class StyleGallery:
    """The style images on offer: the bundled sample first, then uploads, kept in ``styles/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        bundled = folder / BUNDLED_STYLE
        if not bundled.exists():
            if CHECKOUT_STYLE.is_file():
                _copy_once(CHECKOUT_STYLE, bundled)
            else:  # an installed package has no samples/ folder: render the same painting
                from ..samples import CONTENT_SIZE, render_painting, write_jpeg

                write_jpeg(bundled, render_painting(*CONTENT_SIZE))

    def names(self) -> list[str]:
        files = sorted(p.name for p in self.folder.iterdir() if p.suffix.lower() in STILL_SUFFIXES + GIF_SUFFIXES)
        return sorted(files, key=lambda name: name != BUNDLED_STYLE)

    def path(self, name: str) -> Path:
        path = inside(self.folder, name)
        if not path.is_file():
            raise BadInput(f"style {name}: not in the gallery")
        return path

    def add(self, upload: Path, name: str | None = None) -> str:
        """Check an uploaded style image and add it; returns its gallery name."""
        from ..io import read_image

        shown = Path(name or upload.name).name
        _readable(lambda: read_image(upload), upload, shown)
        stem = Path(safe_name(shown, fallback="style")).stem
        target = f"{stem}-{file_digest(upload)[:8]}{upload.suffix.lower()}"
        _copy_once(upload, self.folder / target)
        return target


def _first_frame(path: Path, start: float) -> np.ndarray | None:
    """Decode one small frame: a header can look fine in front of a body that is not."""
    from ..io import open_source

    with open_source(path, start=start, frames=1, size=32) as source:
        return next(iter(source), None)


def _check_mask(path: Path, shown: str) -> None:
    """Refuse a mask upload that is neither a picture nor a clip, before the job is queued,
    naming it as uploaded (its fit to the clip is checked when the job starts)."""
    from ..io import probe, read_image
    from ..io.images import is_picture

    try:
        read_image(path) if is_picture(path) else probe(path)
    except VideostyleError as exc:
        reason = exc.replace(str(path), shown)
        raise BadInput(S.mask, f" {shown}: not a picture or a video videostyle can read ({reason})") from None


def _readable(check, path: Path, shown: str):
    """Run ``check()``; a VideostyleError's message names the upload as the user knows it."""
    try:
        return check()
    except VideostyleError as exc:
        raise exc.replace(str(path), shown) from None


# -- the queue --------------------------------------------------------------------------------
class JobQueue:
    """Runs jobs one at a time, in the order submitted, on one worker thread for ``device``.

    A context manager: leaving it cancels the running job (its frames are kept) and stops
    the worker. ``submit`` checks a request as the CLI checks its inputs (VideostyleError
    with a one-line message) before anything is queued.
    """

    def __init__(self, data_dir: str | Path = DEFAULT_DATA_DIR, *, limits: ServeConfig | None = None,
                 device: str = "auto", precision: str = "auto") -> None:
        self.root = Path(data_dir).resolve()
        self.limits = limits or ServeConfig()
        self.device, self.precision = device, precision
        for sub in ("jobs", "results"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.gallery = StyleGallery(self.root / "styles")
        self._jobs: dict[str, Job] = {}
        self._waiting: deque[Job] = deque()
        self._running: Job | None = None
        self._closed = False
        self._changed = threading.Condition()
        self._worker = threading.Thread(target=self._work, name=f"videostyle-jobs-{device}", daemon=True)
        self._worker.start()

    def __enter__(self) -> JobQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the page calls ----------------------------------------------------------------
    def submit(self, request: JobRequest) -> Job:
        """Check and queue a job; the same job again returns the one already queued,
        running or finished, or queues it anew (resuming) after a cancel or failure."""
        job = self._prepare(request)
        with self._changed:
            if self._closed:
                raise BadOption("the server is shutting down")
            known = self._jobs.get(job.id)
            if known is not None and (known.active or (known.state == DONE and known.output.is_file())):
                return known
            self._jobs[job.id] = job
            if job.output.is_file():  # finished before (maybe before a restart): nothing to do
                job.state, job.finished = DONE, job.frames or 0
                return job
            self._waiting.append(job)
            self._changed.notify_all()
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def ahead(self, job: Job) -> int:
        """How many jobs run before this one starts (0 once it runs)."""
        with self._changed:
            if job.state != QUEUED:
                return 0
            waiting = list(self._waiting)
            before = waiting.index(job) if job in waiting else 0
            return before + (self._running is not None)

    def cancel(self, job_id: str) -> Job | None:
        """Stop a job: a queued one leaves the queue, a running one stops within one
        optimizer step. Finished frames are kept for a resubmission to resume from."""
        with self._changed:
            job = self._jobs.get(job_id)
            if job is None or not job.active:
                return job
            job.cancel.cancel()
            if job in self._waiting:
                self._waiting.remove(job)
                job.state = CANCELLED
            self._changed.notify_all()
        return job

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        """Wait until ``job`` is no longer queued or running; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: not job.active, timeout=timeout)

    def download(self, job: Job) -> Path:
        """The finished output of ``job``, checked to lie in this server's results folder."""
        path = inside(self.root / "results", job.id, job.output.name)
        if job.state != DONE or not path.is_file():
            raise BadInput(f"{job.output.name}: no finished result (yet)")
        return path

    def busy(self) -> bool:
        return self._running is not None

    def close(self, timeout: float = 30.0) -> None:
        with self._changed:
            self._closed = True
            for job in self._waiting:
                job.state = CANCELLED
            self._waiting.clear()
            if self._running is not None:
                self._running.cancel.cancel("shutdown")
            self._changed.notify_all()
        self._worker.join(timeout)

    # -- checks ---------------------------------------------------------------------------------
    def _prepare(self, request: JobRequest) -> Job:
        name = request.display_name
        upload = request.input
        if not upload.is_file():
            raise BadInput(f"{name}: no such file (was the upload finished?)")
        megabytes = upload.stat().st_size / 1e6
        if megabytes > self.limits.max_upload_mb:
            raise BadInput(f"{name}: {megabytes:.0f} MB is over this server's upload limit of "
                           f"{self.limits.max_upload_mb:g} MB")
        if request.size > self.limits.max_size:
            raise BadOption(S.size, f" {request.size}: this server makes outputs of at most {self.limits.max_size} px")
        kind = "image" if upload.suffix.lower() in STILL_SUFFIXES else "video"
        styles = [(self._style_digest(path), weight) for path, weight in request.styles]
        shaping = {k: v for k, v in asdict(request).items()
                   if k not in ("input", "name", "styles", "side_by_side", "owner", "mask", "keyframes")}
        shaping["quality"] = shaping.pop("preset")  # its name when the keys were first made: old jobs resume
        if request.mask is not None:
            if not request.mask.is_file():
                raise BadInput(f"{request.mask.name}: no such mask file (was the upload finished?)")
            shaping["mask"] = file_digest(request.mask)
        if request.keyframes:
            if kind == "image":
                raise BadOption(S.keyframe, ": keyframes are painted frames of a clip; upload a clip or a GIF")
            for _, path in request.keyframes:
                if not path.is_file():
                    raise BadInput(S.keyframe, f" {path.name}: no such file (was the upload finished?)")
            shaping["keyframes"] = [(at, file_digest(path)) for at, path in request.keyframes]
        if kind == "image":
            shaping.update(start=0.0, duration=None, temporal=None, output="png")
        # the owner keeps one user's frames, name and result from another who uploads the same bytes;
        # the name keeps one user's two names for the same bytes apart (the frames they may share)
        frames_key = _key({"input": file_digest(upload), "styles": styles, "kind": kind, "version": __version__,
                           "owner": request.owner, **shaping})
        job_id = _key({"frames": frames_key, "side_by_side": request.side_by_side and kind == "video", "name": name})
        folder = self.root / "jobs" / frames_key
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / f"input{upload.suffix.lower() or '.bin'}"
        _copy_once(upload, copy)
        mask = None
        if request.mask is not None:  # kept beside the input: a resumed job reads the same one
            mask = folder / f"mask{request.mask.suffix.lower() or '.bin'}"
            _copy_once(request.mask, mask)
        keyframes = []
        for number, (at, path) in enumerate(request.keyframes, start=1):  # beside the input, as the mask
            copied = folder / f"keyframe{number}{path.suffix.lower() or '.bin'}"
            _copy_once(path, copied)
            keyframes.append((at, copied))
        try:
            if mask is not None and request.mask is not None:
                _check_mask(mask, request.mask.name)
            longest, frames, duration = self._check_input(kind, copy, name, request)
        except VideostyleError:
            if not (folder / "work").exists():  # a refused upload leaves nothing behind
                shutil.rmtree(folder, ignore_errors=True)
            raise
        suffix = "png" if kind == "image" else request.output
        output = inside(self.root / "results", job_id, f"{Path(safe_name(name)).stem}-videostyle.{suffix}")
        output.parent.mkdir(parents=True, exist_ok=True)
        return Job(id=job_id, kind=kind, request=request, input=copy, work=folder / "work", output=output,
                   size=min(request.size, longest), duration=duration, frames=frames, mask=mask,
                   keyframes=tuple(keyframes))

    def _check_input(self, kind: str, copy: Path, name: str,
                     request: JobRequest) -> tuple[int, int | None, float | None]:
        """Probe the upload as the CLI would; returns its longest side in pixels, about how
        many frames the job will stylize, and the duration to ask for (the request's, or the
        limit where the clip does not tell its length)."""
        from ..io import probe, read_image

        if kind == "image":
            image = _readable(lambda: read_image(copy), copy, name)
            return max(image.shape[:2]), 1, None
        info = _readable(lambda: probe(copy), copy, name)
        length = info.duration or (info.frame_count or 0) / info.fps
        if length and request.start >= length:
            raise BadOption(f"{name}: ", S.start, f" {request.start:g} s is past the end of the clip ({length:.1f} s)")
        selected = max(0.0, length - request.start)
        if request.duration is not None:
            selected = min(selected, request.duration)
        if selected > self.limits.max_seconds:
            raise BadOption(f"{name}: {selected:.0f} s of video is over this server's limit of "
                            f"{self.limits.max_seconds:g} s; set a shorter duration")
        if _readable(lambda: _first_frame(copy, request.start), copy, name) is None:
            raise BadSource(f"{name}: no frames could be decoded from {request.start:g} s on")
        if not length:
            return max(info.width, info.height), None, min(request.duration or math.inf, self.limits.max_seconds)
        return max(info.width, info.height), round(selected * info.fps), request.duration

    def _style_digest(self, path: Path) -> str:
        from ..io import read_image

        _readable(lambda: read_image(path), path, path.name)
        return file_digest(path)

    # -- the worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._waiting or self._closed)
                if self._closed:
                    return
                job = self._waiting.popleft()
                job.state, self._running = RUNNING, job
                self._changed.notify_all()
            started = time.perf_counter()
            state, message = self._run(job)
            with self._changed:
                job.seconds = time.perf_counter() - started
                job.state, job.message, self._running = state, message, None
                self._changed.notify_all()

    def _run(self, job: Job) -> tuple[str, str]:
        """Run one job; returns its final state and, for a failure, the message."""
        try:
            if job.kind == "image":
                self._run_image(job)
            else:
                self._run_video(job)
            return DONE, ""
        except Cancelled:
            return CANCELLED, ""
        except VideostyleError as exc:
            if job.mask is not None and job.request.mask is not None:  # the name the user uploaded it as
                exc = exc.replace(str(job.mask), job.request.mask.name)
            return FAILED, page_message(exc, (str(job.input), job.request.display_name))
        except Exception as exc:  # a bug must not take the server down: log it, tell the page
            log.exception("job %s failed", job.id)
            return FAILED, f"internal error ({type(exc).__name__}: {exc}); the server log has the details"

    def _run_video(self, job: Job) -> None:
        request = job.request.video_request(input=job.input, output=job.output, size=job.size,
                                            duration=job.duration, mask=job.mask, work_dir=job.work,
                                            device=self.device, precision=self.precision, keyframes=job.keyframes)
        run_video(request, callback=lambda p: _video_progress(job, p), cancel=job.cancel)

    def _run_image(self, job: Job) -> None:
        def progress(p) -> None:
            job.iteration, job.iterations, job.step_seconds = p.iteration, p.iterations, p.elapsed

        request = job.request.image_request(input=job.input, output=job.output, size=job.size, mask=job.mask,
                                            device=self.device, precision=self.precision)
        result = run_image(request, callback=progress, cancel=job.cancel)
        job.finished, job.preview, job.previews = 1, result.image, job.previews + 1


def _video_progress(job: Job, p) -> None:
    """A ``stylize_video`` callback: note the progress in ``job``."""
    job.stage, job.frames = p.stage, p.frames
    if p.stage == "encode":
        job.finished = p.frame + 1
        return
    job.finished, job.resumed, job.seconds_per_frame = p.finished, p.resumed, p.seconds_per_frame
    if p.step is not None:
        job.iteration, job.iterations, job.step_seconds = p.step.iteration, p.step.iterations, p.step.elapsed
    if p.image is not None:
        job.preview, job.previews = p.image, job.previews + 1


# -- what the page shows ----------------------------------------------------------------------
