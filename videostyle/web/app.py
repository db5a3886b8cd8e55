"""The page of ``videostyle serve`` (Gradio): upload, pick a style, watch it work, download.

A thin layer: videos and pictures become :class:`jobs.JobRequest` s for the job queue
(which calls ``stylize_video`` / ``stylize_image``), and the webcam tab runs the browser's
frames through :class:`videostyle.live.LiveStylizer`, the policy of ``videostyle webcam``.
Every problem a user can cause reaches the page as one line in a status box.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from ..config import PRESETS, SETTINGS, ServeConfig, Setting, declared
from ..engine.cancel import Cancelled, CancelToken
from ..errors import BadOption, S, VideostyleError, echo
from ..io.images import STILL_SUFFIXES
from ..io.outputs import GIF_SUFFIXES, VIDEO_SUFFIXES
from ..jobs import LiveRequest, StyleSpec, live_policy, live_stylizer
from .jobs import DONE, FAILED, OUTPUTS, Job, JobQueue, JobRequest
from .status import describe
from .words import page_message

log = logging.getLogger(__name__)

POLL_S = 0.5  # how often a watching page looks at its job
CACHE_FOLDER = "cache"  # Gradio's copies of uploads, results and previews, under the data dir
CACHE_SWEEP_S, CACHE_AGE_S = 600, 6 * 3600  # every 10 minutes, Gradio's copies older than 6 hours go
OWNER_KEY = "videostyle-owner"  # where a browser keeps its owner token (localStorage)
OWNER_TOKEN = re.compile(r"[0-9a-f]{32}")
LIVE_SESSIONS = 4  # webcam sessions kept; the oldest is dropped beyond
DISPLAY_SIZE = 384  # smaller frames are scaled up to this (longest side) to be shown
PICTURE_DISPLAY_SIZE = 512  # ... and a stylized picture, beside its original
TRANSITION_SHOWN_S = 5  # the transition slider's end (a longer one is for the command line)
WEBCAM_SIZE_SHOWN = 480  # the webcam's working size slider's end
UPLOAD_TYPES = [*VIDEO_SUFFIXES, ".avi", *GIF_SUFFIXES, *STILL_SUFFIXES]
PICTURE_TYPES = list(STILL_SUFFIXES)
CSS = """
#status textarea, #image-status textarea, #webcam-stats textarea { font-family: ui-monospace, monospace; }
footer { display: none !important; }
"""


def build(queue: JobQueue, *, note: str = "") -> tuple[gr.Blocks, _Page]:
    """The page and its handlers; ``note`` (e.g. where it listens) is shown under the title."""
    page = _Page(queue)
    with gr.Blocks(title="videostyle", analytics_enabled=False, delete_cache=(CACHE_SWEEP_S, CACHE_AGE_S)) as demo:
        # who this browser is: a random token kept in its localStorage, so its jobs (and only
        # its jobs) resume after a reload or a server restart; the value is not a password,
        # the token's randomness is what keeps one user's jobs from another
        page.owner = gr.BrowserState(None, storage_key=OWNER_KEY, secret="videostyle")
        gr.Markdown("## videostyle: paint a clip, a GIF, a picture or your webcam\n"
                    "Gatys et al. neural style transfer, steadied for video along the optical flow "
                    f"(Ruder et al.). {note}")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                style = page.style_panel()
            with gr.Column(scale=2, min_width=420), gr.Tabs():
                with gr.Tab("Video / GIF", id="video"):
                    page.video_tab(style)
                with gr.Tab("Image", id="image"):
                    page.image_tab(style)
                with gr.Tab("Webcam", id="webcam"):
                    page.webcam_tab(style)
        demo.load(page.refresh_styles, inputs=style["chosen"], outputs=[style["gallery"], style["chosen"]])
        demo.load(owner_token, inputs=page.owner, outputs=page.owner, show_progress="hidden")
    return demo, page


def owner_token(known: object = None) -> str:
    """The browser's owner token: the one it keeps, or a new one."""
    return known if isinstance(known, str) and OWNER_TOKEN.fullmatch(known) else secrets.token_hex(16)


def _owner(token: object, request: gr.Request | None) -> str:
    """Whose job this is: the browser's token, or (an API client without one) its Gradio session."""
    if isinstance(token, str) and OWNER_TOKEN.fullmatch(token):
        return token
    session = getattr(request, "session_hash", None) if request is not None else None
    return f"session:{session}" if session else ""


class _Page:
    """The handlers, holding the queue and the webcam sessions."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self.live: OrderedDict[str, tuple[LiveRequest, Any]] = OrderedDict()
        self.owner: gr.BrowserState | None = None  # set by build()
        self.stepping = threading.Lock()  # held while a webcam frame is stylized
        self.stopping = CancelToken()  # the server's: cancels a webcam frame in progress at shutdown

    def stop(self, timeout: float = 10.0) -> None:
        """Shutting down: abandon the webcam frame in progress and wait for it to unwind."""
        self.stopping.cancel("shutdown")
        if self.stepping.acquire(timeout=timeout):
            self.stepping.release()

    # -- the style panel ----------------------------------------------------------------------
    def style_panel(self) -> dict[str, Any]:
        names = self.queue.gallery.names()
        gallery = gr.Gallery(value=self._gallery(), label="Style gallery", columns=3, height=230,
                             allow_preview=False, elem_id="gallery")
        chosen = gr.CheckboxGroup(names, value=names[:1], label="Styles to use", elem_id="styles",
                                  info="several at once are blended")
        weights = gr.Textbox("", label="Blend weights", placeholder="e.g. 0.7, 0.3 in the order above (empty: equal)",
                             elem_id="weights")
        add = gr.UploadButton("Add style images…", file_count="multiple", file_types=PICTURE_TYPES, size="sm")
        added = gr.Textbox(label="Style uploads", visible=False, interactive=False, elem_id="style-note")
        declared_strength = SETTINGS["strength"]
        strength = gr.Slider(lowest(declared_strength), float(declared_strength.at_most or 1),
                             value=declared_strength.default, step=0.05, label=declared_strength.label,
                             info="0 keeps the photo, 1 is the strongest look", elem_id="strength")
        colors = gr.Checkbox(label=SETTINGS["preserve_colors"].label, elem_id="colors")
        quality = gr.Radio(list(PRESETS), value=declared("preset", "page"), label=SETTINGS["preset"].label,
                           elem_id="quality",
                           info="iterations: " + "; ".join(f"{name}: {q.describe()}" for name, q in PRESETS.items()))
        add.upload(self.add_styles, inputs=[add, chosen], outputs=[gallery, chosen, added])
        return {"gallery": gallery, "chosen": chosen, "weights": weights, "strength": strength,
                "colors": colors, "quality": quality}

    def _gallery(self) -> list[tuple[str, str]]:
        return [(str(self.queue.gallery.path(name)), name) for name in self.queue.gallery.names()]

    def refresh_styles(self, chosen: list[str]):
        names = self.queue.gallery.names()
        return self._gallery(), gr.update(choices=names, value=[n for n in chosen if n in names] or names[:1])

    def add_styles(self, files: list[str] | None, chosen: list[str]):
        added, problems = [], []
        for file in files or []:
            try:
                added.append(self.queue.gallery.add(Path(file)))
            except VideostyleError as exc:
                problems.append(f"Error: {page_message(exc)}")
        names = self.queue.gallery.names()
        note = "\n".join(problems + ([f"added: {', '.join(added)}"] if added else []))
        return (self._gallery(), gr.update(choices=names, value=list(dict.fromkeys(chosen + added))),
                gr.update(value=note, visible=bool(note)))

    def _styles(self, chosen: list[str], weights: str, *, optional: bool = False) -> tuple[tuple[Path, float], ...]:
        if not chosen and not optional:
            raise BadOption("choose at least one style from the gallery")
        chosen = [name for name in self.queue.gallery.names() if name in chosen]  # the order shown
        values = [w for w in weights.replace(";", ",").split(",") if w.strip()] if weights else []
        if not values:
            return tuple((self.queue.gallery.path(name), 1.0) for name in chosen)
        if len(values) != len(chosen):
            raise BadOption(f"blend weights: {len(values)} given for {len(chosen)} chosen styles; give one each")
        try:
            numbers = [float(w) for w in values]
        except ValueError:
            raise BadOption(f"blend weights {echo(weights)!r}: give numbers, e.g. 0.7, 0.3") from None
        return tuple((self.queue.gallery.path(name), w) for name, w in zip(chosen, numbers, strict=True))

    # -- video / GIF ----------------------------------------------------------------------------
    def video_tab(self, style: dict[str, Any]) -> None:
        limits = self.queue.limits
        upload = gr.File(label=f"Clip, GIF or picture (up to {limits.max_upload_mb:g} MB)", file_types=UPLOAD_TYPES,
                         elem_id="video-input")
        with gr.Row():
            start = gr.Number(declared("start"), label=f"{SETTINGS['start'].label} (s)",
                              minimum=SETTINGS["start"].at_least, elem_id="start")
            duration = gr.Number(0, label=f"{SETTINGS['duration'].label} (s)", minimum=0, elem_id="duration",
                                 info=f"0: to the end; at most {limits.max_seconds:g} s")
            size = size_slider("video", limits.max_size, elem_id="size")
        with gr.Row():
            temporal_mode = SETTINGS["temporal"]
            temporal = gr.Dropdown(list(temporal_mode.choices), value=temporal_mode.default, label=temporal_mode.label,
                                   info="flow: each frame starts from the last one moved along the motion")
            output = gr.Radio(list(OUTPUTS), value=OUTPUTS[0], label="Output", elem_id="output")
            side = gr.Checkbox(label=f"{SETTINGS['side_by_side'].label} (original | stylized)", elem_id="side")
        with gr.Accordion("Iterations (optional: they override the quality preset)", open=False), gr.Row():
            iterations = gr.Number(None, label="per frame", minimum=1, precision=0, elem_id="iterations")
            first = gr.Number(None, label="first frame", minimum=1, precision=0, elem_id="first-iterations")
        with gr.Accordion("Where and when (optional): a timeline of styles, keyframes, a strength ramp, a mask, "
                          "a loop", open=False):
            with gr.Row():
                starts = gr.Textbox("", label="Timeline: start time of each chosen style (s)", elem_id="style-starts",
                                    placeholder="e.g. 0, 4 in the order above, in time order (empty: blended)")
                declared_transition = SETTINGS["transition"]
                transition = gr.Slider(lowest(declared_transition), TRANSITION_SHOWN_S,
                                       value=declared_transition.default, step=0.25,
                                       label=f"{declared_transition.label} (s)", elem_id="transition",
                                       info="how long each new style takes to blend in")
            with gr.Row():
                ramp_from = gr.Slider(0, 1, value=0, step=0.05, label="Strength ramp: strength at 0 s",
                                      elem_id="ramp-from")
                ramp_over = gr.Number(0, label="Strength ramp: reaches the style strength at (s)", minimum=0,
                                      info="0: no ramp", elem_id="ramp-over")
            with gr.Row():
                per_shot = gr.Checkbox(label=SETTINGS["style_per_shot"].label, elem_id="per-shot")
                loop = gr.Checkbox(label=f"{SETTINGS['seamless_loop'].label} (the end hands over to the start)",
                                   elem_id="loop")
                mask = gr.File(label=f"{SETTINGS['mask'].label}: a picture or clip, white takes the first style, "
                                     "black the second", file_types=UPLOAD_TYPES, elem_id="mask")
            with gr.Row():
                keyframes = gr.File(label=f"{SETTINGS['keyframe'].label}: painted frames of this clip, any size of its "
                                          "shape (the result shows each at its time and carries its look both ways)",
                                    file_count="multiple", file_types=PICTURE_TYPES, elem_id="keyframes")
                keyframe_times = gr.Textbox("", label=f"{SETTINGS['keyframe'].label}: the time of each (s)",
                                            elem_id="keyframe-times",
                                            placeholder="e.g. 0.5, 1.9 in the order of the pictures (styles optional)")
        with gr.Row():
            go = gr.Button("Stylize", variant="primary", elem_id="start-button")
            stop = gr.Button("Cancel", variant="stop", elem_id="cancel-button")
        status = gr.Textbox(label="Status", interactive=False, lines=2, elem_id="status")
        with gr.Row():
            preview = gr.Image(label="Newest finished frame", interactive=False, height=260, elem_id="preview")
            video = gr.Video(label="Result", interactive=False, height=260, elem_id="result", autoplay=True, loop=True)
            gif = gr.Image(label="Result", interactive=False, height=260, visible=False, type="filepath",
                           elem_id="result-gif")
        download = gr.File(label="Download", interactive=False, elem_id="download")
        job_id = gr.State(None)

        upload.change(self.inspect, inputs=upload, outputs=status)
        settings = [upload, style["chosen"], style["weights"], style["strength"], style["colors"], style["quality"],
                    start, duration, size, temporal, output, side, iterations, first,
                    starts, transition, ramp_from, ramp_over, per_shot, loop, mask, keyframes, keyframe_times,
                    *self._owner_input()]
        outputs = {"job": job_id, "status": status, "preview": preview, "video": video, "gif": gif,
                   "download": download}
        def run(upload, chosen, weights, strength, colors, quality, start, duration, size, temporal, output, side,
                iterations=None, first=None, starts="", transition=None, ramp_from=0.0,
                ramp_over=0.0, per_shot=False, loop=False, mask=None, keyframes=None, keyframe_times="",
                owner=None, request: gr.Request | None = None) -> Iterator[dict]:
            # a plain function, not a partial: Gradio passes the request only to what it can inspect; the
            # optional fields default to None or their controls' values, so an API client may leave them out
            when = WhereAndWhen(starts, transition, ramp_from, ramp_over, per_shot, loop, mask, keyframes,
                                keyframe_times)
            yield from self.run_video(outputs, upload, chosen, weights, strength, colors, quality, start, duration,
                                      size, temporal, output, side, iterations, first, owner, request, when)

        go.click(run, inputs=settings, outputs=list(outputs.values()), api_name="stylize_video",
                 concurrency_limit=None, show_progress="hidden")
        stop.click(self.cancel, inputs=job_id, outputs=status, api_name="cancel_video",
                   concurrency_limit=None, show_progress="hidden")

    def inspect(self, upload: str | None) -> str:
        """What an upload is, as soon as it arrives (or why it cannot be used)."""
        if not upload:
            return ""
        from ..io import probe, read_image

        path, name = Path(upload), Path(upload).name
        try:
            if path.suffix.lower() in PICTURE_TYPES:
                image = read_image(path)
                return f"{name}: a picture, {image.shape[1]}x{image.shape[0]}"
            info = probe(path)
        except VideostyleError as exc:
            return f"Error: {page_message(exc, (str(path), name))}"
        count = f"{info.frame_count} frames" if info.frame_count else "frames"
        length = f", {info.duration:.1f} s" if info.duration else ""
        audio = ", with audio" if info.has_audio else ""
        return f"{name}: {info.width}x{info.height}, {count} at {info.fps:.3g} fps{length}{audio}"

    def _owner_input(self) -> list:
        return [self.owner] if self.owner is not None else []

    def run_video(self, out: dict[str, Any], upload, chosen, weights, strength, colors, quality, start, duration,
                  size, temporal, output, side, iterations, first, owner=None,
                  request: gr.Request | None = None, when: WhereAndWhen | None = None) -> Iterator[dict]:
        try:
            if not upload:
                raise BadOption("upload a clip, a GIF or a picture first")
            styles = self._styles(chosen, weights, optional=bool(when and when.keyframes))
            job_request = JobRequest(
                input=Path(upload), styles=styles, strength=float(strength),
                preserve_colors=bool(colors), preset=quality, size=int(size), start=float(start or 0),
                duration=float(duration) if duration else None, temporal=temporal, output=output,
                side_by_side=bool(side), iterations=int(iterations) if iterations else None,
                first_iterations=int(first) if first else None, owner=_owner(owner, request),
                **(when or WhereAndWhen()).request_fields(len(styles), float(strength)))
            job = self.queue.submit(job_request)
        except VideostyleError as exc:
            yield from refuse(out, page_message(exc))
            return
        yield {out["job"]: job.id, out["download"]: None, out["preview"]: None,
               out["gif"]: gr.update(value=None, visible=False), out["video"]: gr.update(value=None, visible=True)}
        yield from self._watch(job, out)

    def _watch(self, job: Job, out: dict[str, Any]) -> Iterator[dict]:
        """Follow ``job`` until it ends: status line, newest frame, then the result."""
        shown = -1
        while True:
            update: dict = {out["status"]: describe(job, self.queue.ahead(job))}
            if job.previews != shown and job.preview is not None:
                shown = job.previews
                update[out["preview"]] = enlarged(job.preview)
            if not job.active:
                break
            yield update
            time.sleep(POLL_S)
        if job.state == DONE:
            result = str(self.queue.download(job))
            update[out["download"]] = result
            if "gif" in out and result.endswith(".gif"):
                update[out["gif"]] = gr.update(value=result, visible=True)
                update[out["video"]] = gr.update(value=None, visible=False)
            elif "video" in out and not result.endswith(".png"):
                update[out["video"]] = gr.update(value=result, visible=True)
            elif "result" in out and job.preview is not None:  # a picture: shown as large as the original
                update[out["result"]] = enlarged(job.preview, PICTURE_DISPLAY_SIZE)
        yield update
        if job.state == FAILED:
            raise failure(job.message)

    def cancel(self, job_id: str | None) -> str:
        job = self.queue.cancel(job_id) if job_id else None
        if job is None:
            return "nothing to cancel"
        return f"{job.request.display_name}: cancelling…" if job.active else describe(job)

    # -- image ------------------------------------------------------------------------------
    def image_tab(self, style: dict[str, Any]) -> None:
        upload = gr.File(label="Picture", file_types=PICTURE_TYPES, elem_id="image-input")
        size = size_slider("image", self.queue.limits.max_size, elem_id="image-size")
        with gr.Row():
            go = gr.Button("Stylize", variant="primary", elem_id="image-start")
            stop = gr.Button("Cancel", variant="stop", elem_id="image-cancel")
        status = gr.Textbox(label="Status", interactive=False, elem_id="image-status")
        with gr.Row():
            original = gr.Image(label="Original", interactive=False, type="filepath", elem_id="image-original")
            result = gr.Image(label="Stylized", interactive=False, format="png", elem_id="image-result")
        download = gr.File(label="Download", interactive=False, elem_id="image-download")
        job_id = gr.State(None)

        def show(upload: str | None):
            text = self.inspect(upload)
            return text, (upload if upload and not text.startswith("Error") else None)

        upload.change(show, inputs=upload, outputs=[status, original])
        outputs = {"job": job_id, "status": status, "preview": result, "result": result, "download": download}
        settings = [upload, style["chosen"], style["weights"], style["strength"], style["colors"], style["quality"],
                    size, *self._owner_input()]
        def run(upload, chosen, weights, strength, colors, quality, size, owner=None,
                request: gr.Request | None = None) -> Iterator[dict]:
            yield from self.run_image(outputs, upload, chosen, weights, strength, colors, quality, size, owner,
                                      request)

        go.click(run, inputs=settings, outputs=list(outputs.values()), api_name="stylize_image",
                 concurrency_limit=None, show_progress="hidden")
        stop.click(self.cancel, inputs=job_id, outputs=status, api_name="cancel_image",
                   concurrency_limit=None, show_progress="hidden")

    def run_image(self, out: dict[str, Any], upload, chosen, weights, strength, colors, quality,
                  size, owner=None, request: gr.Request | None = None) -> Iterator[dict]:
        try:
            if not upload:
                raise BadOption("upload a picture first")
            if Path(upload).suffix.lower() not in PICTURE_TYPES:
                raise BadOption(f"{Path(upload).name}: not a picture; clips and GIFs go in the Video / GIF tab")
            job_request = JobRequest(input=Path(upload), styles=self._styles(chosen, weights),
                                     strength=float(strength), preserve_colors=bool(colors), preset=quality,
                                     size=int(size), owner=_owner(owner, request))
            job = self.queue.submit(job_request)
        except VideostyleError as exc:
            yield from refuse(out, page_message(exc))
            return
        yield {out["job"]: job.id, out["result"]: None, out["download"]: None}
        yield from self._watch(job, out)

    # -- webcam -----------------------------------------------------------------------------
    def webcam_tab(self, style: dict[str, Any]) -> None:
        gr.Markdown("Your browser's camera, stylized live as `videostyle webcam` does it: always the newest "
                    "frame, as many iterations as hold the target rate, each frame started from the last one "
                    "moved along the motion. The first frame takes a few seconds to warm up.")
        with gr.Row():
            size = gr.Slider(lowest(SETTINGS["size"]), WEBCAM_SIZE_SHOWN, value=declared("size", "webcam"), step=16,
                             label="Working size (px)", elem_id="webcam-size")
            fps = gr.Slider(0.5, 10, value=declared("fps", "webcam"), step=0.5,
                            label="Target stylized frames per second", elem_id="webcam-fps")
        with gr.Row():
            camera = gr.Image(sources=["webcam"], streaming=True, label="Camera", elem_id="webcam-in")
            painted = gr.Image(label="Stylized", interactive=False, elem_id="webcam-out")
        stats = gr.Textbox(label="Live", interactive=False, elem_id="webcam-stats")
        inputs = [camera, style["chosen"], style["weights"], style["strength"], style["colors"], size, fps]
        camera.stream(self.webcam_step, inputs=inputs, outputs=[painted, stats], stream_every=0.1,
                      concurrency_limit=1, time_limit=3600, show_progress="hidden")

    def webcam_step(self, frame: np.ndarray | None, chosen, weights, strength, colors, size, fps,
                    request: gr.Request):
        """One browser frame (the newest: Gradio keeps only the last one sent) through the live policy."""
        arrived = time.monotonic()
        if frame is None or self.stopping.cancelled:
            return gr.skip(), gr.skip()
        try:
            live = self._live_session(request.session_hash or "", chosen, weights, strength, colors, fps)
        except VideostyleError as exc:
            return gr.skip(), f"Error: {page_message(exc)}"
        from ..io import fit_size, resize_frame

        w, h = fit_size(frame.shape[1], frame.shape[0], int(size))
        try:
            with self.stepping:
                result = live.step(resize_frame(np.ascontiguousarray(frame[..., :3]), w, h), captured_at=arrived)
        except Cancelled:
            return gr.skip(), "the server is shutting down"
        count = len(live.iterations)
        figures = live.caption() or f"warmed up in {live.latencies[-1]:.1f} s"
        line = (f"{figures} · {live.iterations[-1]} iterations a frame · {count} frame{'s' if count != 1 else ''} "
                "stylized")
        if self.queue.busy():
            line += " · sharing the machine with a running job"
        return enlarged(result), line

    def _live_session(self, key: str, chosen, weights, strength, colors, fps):
        styles = self._styles(chosen, weights)
        request = LiveRequest(style=tuple(StyleSpec(str(path), weight) for path, weight in styles),
                              strength=(float(strength),), preserve_colors=bool(colors), fps=float(fps),
                              device=self.queue.device, precision=self.queue.precision)
        known = self.live.get(key)
        if known is not None and known[1].fps == request.fps:
            if known[0] != request:  # new style or strength: carry on from the current picture
                known[1].stylizer = live_stylizer(request, cancel=self.stopping)
                self.live[key] = (request, known[1])
            self.live.move_to_end(key)
            return known[1]
        live = live_policy(request, live_stylizer(request, cancel=self.stopping))
        self.live[key] = (request, live)
        while len(self.live) > LIVE_SESSIONS:
            self.live.popitem(last=False)
        return live


@dataclass(frozen=True)
class WhereAndWhen:
    """The page's "Where and when" fields as they arrive from the browser."""

    starts: str | None = None  # "0, 4": each chosen style's start time, in the gallery's order
    transition: float | None = declared("transition")
    ramp_from: float | None = 0.0
    ramp_over: float | None = 0.0  # seconds; 0: no ramp
    per_shot: bool | None = False
    loop: bool | None = False
    mask: str | None = None  # the uploaded mask's path
    keyframes: list[str] | None = None  # the uploaded keyframes' paths
    keyframe_times: str | None = None  # "0.5, 1.9": each keyframe's time, in the order uploaded

    def keyframe_fields(self) -> tuple[tuple[float, Path], ...]:
        """The keyframes as (seconds, picture), one time each (the order the pictures came in)."""
        files = [Path(p) for p in self.keyframes or []]
        values = [v for v in (self.keyframe_times or "").replace(";", ",").split(",") if v.strip()]
        try:
            times = [float(v) for v in values]
        except ValueError:
            raise BadOption(S.keyframe, f" times {self.keyframe_times!r}: give seconds, e.g. 0.5, 1.9") from None
        if len(times) != len(files):
            raise BadOption(S.keyframe, f": {len(times)} time(s) given for {len(files)} picture(s); give one each, "
                            "in the order the pictures were uploaded")
        return tuple(zip(times, files, strict=True))

    def request_fields(self, styles: int, strength: float) -> dict[str, Any]:
        """JobRequest's schedule fields (see ``JobRequest.schedule``) for ``styles`` chosen styles."""
        values = [v for v in (self.starts or "").replace(";", ",").split(",") if v.strip()]
        try:
            starts = tuple(float(v) for v in values)
        except ValueError:
            raise BadOption(f"style start times {echo(self.starts or '')!r}: give seconds, e.g. 0, 4") from None
        if starts and len(starts) != styles:
            raise BadOption(f"style start times: {len(starts)} given for {styles} chosen styles; give one each "
                            "(in the order above) or none")
        over = float(self.ramp_over or 0)
        ramp = ((0.0, float(self.ramp_from or 0)), (over, strength)) if over > 0 else ()
        transition = declared("transition") if self.transition is None else self.transition
        return {"style_starts": starts, "transition": float(transition),
                "strength_ramp": ramp, "per_shot": bool(self.per_shot), "seamless_loop": bool(self.loop),
                "mask": Path(self.mask) if self.mask else None, "keyframes": self.keyframe_fields()}


def failure(message: str) -> gr.Error:
    """A job refused or failed, as an error the caller gets: an API client (gradio_client)
    raises it, so a script tells failure from success; the page has shown the line in its
    status box already, so no pop-up repeats it there."""
    return gr.Error(message, visible=False, print_exception=False)


def refuse(out: dict[str, Any], message: str) -> Iterator[dict]:
    """The status line ``Error: message``, then the error itself (see :func:`failure`)."""
    yield {out["status"]: f"Error: {message}"}
    raise failure(message)


def lowest(setting: Setting) -> float:
    """The smallest value a control offers for ``setting``: its declared lower bound."""
    return float(setting.at_least if setting.at_least is not None else setting.above or 0)


def size_slider(command: str, largest: int, *, elem_id: str) -> gr.Slider:
    """The output size control: the declared range and default (for ``command``: a clip's or
    a picture's), never above this server's ``largest``."""
    size = SETTINGS["size"]
    return gr.Slider(lowest(size), largest, value=min(size.default_for(command), largest), step=16,
                     label=f"{size.label} (px)", info="longest side; never more than the upload's", elem_id=elem_id)


def enlarged(frame: np.ndarray, longest: int = DISPLAY_SIZE) -> np.ndarray:
    """A small result scaled up for the page (as the CLI's preview window does); large ones as they are."""
    from ..io import fit_size, resize_frame

    if max(frame.shape[:2]) >= longest:
        return frame
    return resize_frame(frame, *fit_size(frame.shape[1], frame.shape[0], longest))


# -- launching --------------------------------------------------------------------------------
def serve(*, host: str, port: int, data_dir: str | Path, auth: tuple[str, str] | None = None,
          limits: ServeConfig | None = None, device: str = "auto", precision: str = "auto", note: str = "",
          block: bool = True):
    """Start the page on ``host:port``; blocks until Ctrl-C unless ``block`` is False (then
    returns the Blocks and the queue, for tests)."""
    queue = JobQueue(data_dir, limits=limits, device=device, precision=precision)
    cache = use_cache(queue.root)
    demo, page = build(queue, note=note)
    demo.queue(default_concurrency_limit=1)
    theme = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                           font_mono=["ui-monospace", "monospace"])  # no web fonts: it works offline
    try:
        demo.launch(server_name=host, server_port=port, auth=auth, max_file_size=int(queue.limits.max_upload_mb * 1e6),
                    allowed_paths=[str(queue.root / "results"), str(queue.root / "styles")],
                    show_error=False, quiet=True, ssr_mode=False, prevent_thread_lock=True, inbrowser=False,
                    theme=theme, css=CSS, footer_links=[], mcp_server=False,
                    root_path=queue.limits.root_path or None)
    except OSError as exc:
        queue.close()
        shutil.rmtree(cache, ignore_errors=True)
        raise BadOption(f"cannot listen on {host}:{port} ({exc}); pass another ", S.port) from None
    if not block:
        return demo, queue
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # kill, systemd, docker stop: shut down as Ctrl-C does
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        page.stop()  # a webcam frame, and the running job, stop within a step; finished frames stay
        queue.close()
        demo.close()
        shutil.rmtree(cache, ignore_errors=True)  # Gradio's copies; the jobs' own files stay in jobs/, results/
    return demo, queue


def use_cache(root: Path) -> Path:
    """Point Gradio's upload cache (GRADIO_TEMP_DIR: every upload, result and preview it hands
    out) at ``root/cache``, emptied first: copies an earlier run left there are no use to
    anyone (each job keeps its own copy of its upload in jobs/, its result in results/).
    Gradio reads the variable when components are made and when files are handed out, so
    it is set for the life of the process."""
    cache = root / CACHE_FOLDER
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(cache)
    return cache


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
