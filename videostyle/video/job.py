"""A video job: source -> a runner (``chain.stylize_segment``) -> work folder -> writer.

The frames are stylized by :func:`chain.stylize_segment`, here in one chain over the
whole clip, or by Ray workers segment by segment (``video/ray.py``). Finished frames go
to a work folder (see ``workdir.py``) so a killed job resumes where it stopped; the output
file is written from that folder at the end, to a temporary name renamed on completion.

Everything that can be checked is checked before the work folder is touched: the output,
the work folder, the source, the styles, the weights and the memory the size needs. The
job then holds two locks until it ends, one on the output and one on the work folder, so
a second job on either is refused instead of mixing frames.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import SETTINGS, ClipConfig, EncodeConfig, SegmentConfig, StyleConfig, StyleSchedule, TemporalConfig
from ..engine.cancel import CancelToken
from ..engine.memory import reserved_buffers
from ..engine.optimize import Style, Stylizer
from ..engine.targets import TargetsFunction
from ..errors import BadOption, BadOutput, BadSource, DiskFull, S, SourceChanged
from ..io import VideoInfo, check_output, open_sink, open_source
from ..io.atomic import remove_stale_partials
from ..io.identity import FileIdentity, check_unchanged
from ..io.lock import JobLock, output_lock_path
from ..io.outputs import VIDEO_SUFFIXES, check_not_input, output_kind
from ..io.sources import source_files
from .chain import stylize_segment
from .keyframes import (
    ClipKeyframes,
    KeyframeImage,
    KeyframeRunner,
    KeyframeTargets,
    check_keyframe_options,
    keyframe_styles,
    prepare_keyframes,
    shown_keyframes,
)
from .loop import close_loop
from .masks import MaskFrames, check_mask_styles, read_mask
from .passes import check_passes, run_passes
from .report import NoFrames, Runner, RunReport, VideoCallback, VideoResult, encode_progress
from .targets import ClipTargets, scene_cuts
from .workdir import WorkDir, check_work_dir, default_work_dir


def stylize_video(source: str | Path, output: str | Path, styles: Sequence[np.ndarray | Style], *,
                  style: StyleConfig | None = None, temporal: TemporalConfig | None = None,
                  clip: ClipConfig | None = None, encode: EncodeConfig | None = None, force: bool = False,
                  work_dir: str | Path | None = None,
                  restart: bool = False, keep_work: bool = False, segments: SegmentConfig | None = None,
                  callback: VideoCallback | None = None, cancel: CancelToken | None = None,
                  schedule: StyleSchedule | None = None, mask: str | Path | None = None,
                  keyframes: Sequence[KeyframeImage] = (), passes: int = 1,
                  pass_iterations: int = 0) -> VideoResult:
    """Stylize a video file, GIF or image folder into ``output`` (.mp4/.gif/folder).

    Resumable: rerunning the same call after an interruption continues from the last
    finished frame (``restart=True`` discards it, once every input has been checked).
    Finished frames are kept in ``work_dir`` (default ``.OUTPUT.videostyle`` beside the
    output), which is removed after success unless ``keep_work``; only the tool's own
    files are ever deleted (see ``workdir.py``). A second job on the same output or work
    folder is refused while this one runs. ``segments`` with several workers (or a Ray
    address) stylizes segments of the clip on Ray workers (``video/ray.py``); this
    process keeps the work folder and writes the output either way. ``cancel`` stops the
    job at the next loss evaluation (or frame), keeping the finished frames. ``schedule``
    says which of ``styles`` (their weights are then the schedule's) and which strength hold
    when; ``mask`` is a region mask picture, video or folder of frames (``video/masks.py``);
    ``temporal.seamless_loop`` hands the end over to the start. ``keyframes`` are painted
    frames the output shows, their look carried along the motion both ways
    (``video/keyframes.py``; ``styles`` may then be empty); ``passes`` more than 1 adds
    Ruder et al.'s later passes (``video/passes.py``), each frame of those optimized
    ``pass_iterations`` steps from its blend (0: the blend is the frame). Returns a
    :class:`VideoResult`.
    """
    style = style or StyleConfig()
    temporal = temporal or TemporalConfig()
    clip = clip or ClipConfig()
    encode = encode or EncodeConfig()
    segments = segments or SegmentConfig()
    out = check_output(output, force=force, kinds=("video", "gif", "folder"))
    check_not_input(out, source_files(source))
    folder = output_kind(output) == "folder"  # frames.v2/ is a folder: the Path drops its slash
    work_path = Path(work_dir) if work_dir else default_work_dir(out)
    check_work_dir(work_path, out)
    even = out.suffix.lower() in VIDEO_SUFFIXES
    started = time.perf_counter()
    identity = FileIdentity.of(source)  # before the probe: a file replaced after it is caught at the end
    SETTINGS["passes"].check(passes)
    SETTINGS["pass_iterations"].check(pass_iterations)
    if pass_iterations and passes < 2:  # would be ignored: the first pass has its own budget
        raise BadOption(S.pass_iterations, f" {pass_iterations}: steps of the later passes; give ", S.passes,
                        " 2 or more (or drop it)")
    if passes > 1 and segments.distributed:
        raise BadOption(S.passes, ": later passes run on one worker; drop ", S.workers, " (or ", S.passes, ")")
    if not styles and not keyframes:
        raise BadOption(S.style, ": give at least one style, or keyframes (", S.keyframe, ")")
    with _open(source, clip, even) as frames_in, contextlib.ExitStack() as stack:
        info = frames_in.info
        keys = None
        if keyframes:
            check_keyframe_options(temporal=temporal, styles=len(styles), mask=mask)
            # the check reads the clip the job opened: the keyframe runner reads through its opener
            keys = prepare_keyframes(keyframes, info, frames_in, detect_cuts=temporal.detect_cuts)
        painted = [Style(image) for image in keyframe_styles(keys)] if keys is not None else []
        # checks the styles, the weights and the memory here
        # with keyframes, preserve_colors matches the styles' colours to the first keyframe's frame, whatever
        # frame a (resumed, distributed) run stylizes first: the same targets in every run
        stylizer = Stylizer([*styles, *painted], style, cancel=cancel, color_reference=_colour_reference(keys))
        stylizer.reserve_image_buffers(reserved_buffers(temporal))  # what each frame's temporal terms hold
        stylizer.check_memory(info.height, info.width)
        looks, masks = _looks(source, clip, even, info, styles, style, temporal, segments, schedule, mask,
                              cuts=keys.cuts if keys is not None and temporal.detect_cuts else None)
        if keys is not None:  # what the output shows at the keyframes, under the mask and the colours kept
            keys = shown_keyframes(keys, mask=masks, preserve_colors=style.preserve_colors)
        runtime = None
        if segments.distributed:
            from .ray import RayRuntime

            runtime = stack.enter_context(RayRuntime(segments, [*styles, *painted], style, temporal, info,
                                                     looks=looks))
            segments = dataclasses.replace(segments, workers=runtime.workers)
        settings = _settings(source, info, styles, style, temporal, clip, segments)
        if schedule is not None:
            settings["schedule"] = asdict(schedule)
        if masks is not None:
            settings["mask"] = masks.digest()
        if keys is not None:
            settings["keyframes"] = keys.record()
        output_lock = JobLock(output_lock_path(out), what=str(out),
                              advice="wait for it to finish, or choose another output")
        with output_lock, WorkDir(work_path, settings, restart=restart) as work:
            remove_stale_partials(out)  # of a job killed while writing the output
            check_passes(work, passes)
            try:
                runner: Runner
                frame_looks: TargetsFunction | None = looks
                if keys is not None:
                    weights = [s.weight if isinstance(s, Style) else 1.0 for s in styles]
                    frame_looks = KeyframeTargets(keys, info, styles=weights, base=looks)
                    if runtime is not None:  # its pieces on the workers
                        runner = runtime.keyframes(keys, frame_looks)
                    else:
                        runner = KeyframeRunner(stylizer, temporal, info, keys, looks=frame_looks,
                                                opener=lambda: _open(source, clip, even), loop=segments)
                elif runtime is not None:
                    runner = runtime
                else:
                    runner = LocalRunner(stylizer, temporal, info, looks=looks, loop=segments)
                run = RunReport(callback=callback, cancel=cancel)
                runner.run(frames_in, work, run)
                if passes > 1:
                    run_passes(stylizer, temporal, info, count=run.frames, passes=passes, work=work, report=run,
                               iterations=pass_iterations,
                               opener=lambda: _open(source, clip, even),
                               looks=frame_looks,
                               fixed=set(keys.indices) if keys is not None else None, loop=temporal.seamless_loop)
                _encode(source, out, work, run, info, clip, encode, force, even, folder, identity)
            except DiskFull as full:
                raise DiskFull(full.path, "the finished frames are kept, free space and rerun to resume",
                               midway=True) from full
            if not keep_work:
                work.remove()
    elapsed = time.perf_counter() - started
    return VideoResult(output=out, frames=run.frames, resumed=run.resumed, seconds=elapsed,
                       seconds_per_frame=run.seconds_per_frame(), scene_cuts=run.cuts, info=info,
                       cost_per_frame=run.cost_per_frame())


def _colour_reference(keys: ClipKeyframes | None) -> np.ndarray | None:
    """The frame whose colours preserve_colors keeps in the style pictures: with keyframes the
    first keyframe's original frame; without, the first frame stylized (the Stylizer's default)."""
    return keys.keyframes[0].original if keys is not None else None


def _open(source: str | Path, clip: ClipConfig, even: bool):
    return open_source(source, start=clip.start, frames=clip.frames, duration=clip.duration,
                       fps=clip.fps, size=clip.size, even=even)


class _Counted:
    """An iterator of frames that counts what it has given, and keeps the first and the last
    ``keep_last`` + 1 (``last[0]`` the newest)."""

    def __init__(self, frames: Iterable[np.ndarray], *, keep_last: int = 0) -> None:
        self.frames, self.count = iter(frames), 0
        self.first: np.ndarray | None = None
        self.last: deque[np.ndarray] = deque(maxlen=keep_last + 1)

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self.frames:
            self.count += 1
            if self.first is None:
                self.first = frame
            self.last.appendleft(frame)
            yield frame


def _looks(source: str | Path, clip: ClipConfig, even: bool, info: VideoInfo, styles: Sequence[np.ndarray | Style],
           style: StyleConfig, temporal: TemporalConfig, segments: SegmentConfig, schedule: StyleSchedule | None,
           mask: str | Path | None, *, cuts: Sequence[int] | None = None
           ) -> tuple[ClipTargets | None, MaskFrames | None]:
    """Check a schedule and a mask against the clip (before any work) and give each frame's look;
    ``cuts``: the scene cuts when already found (the keyframes' check finds them)."""
    if segments.distributed and temporal.seamless_loop:
        raise BadOption(S.workers, "/", S.ray_address, ": ", S.seamless_loop, " runs on one worker for now; drop ",
                        S.workers)
    if temporal.seamless_loop and segments.overlap == 0:  # it would end as it ends without a loop
        raise BadOption(S.seamless_loop, " restylizes the last ", S.overlap, " frames to lead into the first, and ",
                        S.overlap, " 0 leaves none to do it: give ", S.overlap,
                        f" 1 or more (default {SegmentConfig().overlap}), or drop ", S.seamless_loop)
    if schedule is None and mask is None:
        return None, None
    if schedule is not None and schedule.per_shot and not temporal.detect_cuts:
        raise BadOption(S.style_per_shot, " needs the scene cuts; drop ", S.detect_cuts)
    if schedule is not None:
        if schedule.styles != len(styles):
            raise ValueError(f"the schedule weighs {schedule.styles} styles and {len(styles)} are given")
        seconds = info.frame_count / info.fps if info.frame_count else info.duration
        if seconds:
            schedule.check_duration(seconds)
    masks = None
    if mask is not None:
        check_mask_styles(len(styles))
        if schedule is not None and (len(schedule.entries) > 1 or schedule.per_shot):
            raise BadOption(S.mask, ": a mask assigns each style a region, so it cannot be combined with a style "
                            "schedule (@T times or ", S.style_per_shot, ") yet; ", S.strength, " S@T works")
        masks = read_mask(mask, info.width, info.height, frames=info.frame_count or 10**9, styles=len(styles),
                          clip=clip)
    shots: Sequence[int] = ()
    if schedule is not None and schedule.per_shot and temporal.detect_cuts:
        if cuts is None:
            with _open(source, clip, even) as frames:  # the shots, before any work (as the Ray driver does)
                cuts = scene_cuts(frames)
        shots = cuts
    return ClipTargets(schedule, style, info.fps, cuts=shots, mask=masks, times=info.frame_durations), masks


class LocalRunner:
    """One chain over the whole clip in this process, from the first unfinished frame; with
    ``temporal.seamless_loop``, then the hand-over of its end to its start (``loop``'s overlap
    and bridge iterations)."""

    def __init__(self, stylizer: Stylizer, config: TemporalConfig, info: VideoInfo, *,
                 looks: ClipTargets | None = None, loop: SegmentConfig | None = None) -> None:
        self.stylizer, self.config, self.info, self.looks = stylizer, config, info, looks
        self.loop = loop or SegmentConfig()

    def run(self, frames: Iterable[np.ndarray], work: WorkDir, report: RunReport) -> None:
        report.resumed = work.finished_frames()
        report.total = self.info.frame_count
        state = work.chain_state(report.resumed, self.config.history) if report.resumed > 0 else None
        counted = _Counted(frames, keep_last=self.loop.overlap if self.config.seamless_loop else 0)
        for done in stylize_segment(self.stylizer, counted, config=self.config, begin=report.resumed, state=state,
                                    progress=report.step, looks=self.looks):
            report.check()
            if done.cut and done.index > 0:
                report.cuts.append(done.index)
            work.save(done.index, done.image, done.state, since_restart=done.since_restart,
                      keep_states=self.config.history + 1)
            report.frame_done(done.index, done.seconds, done.image, cost=done.cost, later=done.since_restart > 1)
        if counted.count == 0:
            raise NoFrames(self.info.path)
        if self.config.seamless_loop and counted.count >= 2:
            count = counted.count
            assert counted.first is not None
            first = counted.first
            close_loop(self.stylizer, self.config, self.loop, work, report, count=count, looks=self.looks,
                       original=lambda i: first if i == 0 else counted.last[count - 1 - i])
        report.end(counted.count)


def _encode(source: str | Path, out: Path, work: WorkDir, run: RunReport, info: VideoInfo, clip: ClipConfig,
            encode: EncodeConfig, force: bool, even: bool, folder: bool = False,
            identity: FileIdentity | None = None) -> None:
    """Write the finished frames from the work folder into the output.

    The source is read again for its audio and the side-by-side originals: it must still
    be the file the frames came from (``identity``), checked before and once the output is
    complete, before it is moved into place, so that no other file's audio is muxed."""
    count, callback = run.frames, run.callback
    durations = info.frame_durations[:count] if info.frame_durations else None
    audio = str(source) if info.has_audio else None
    rereads = audio is not None or encode.side_by_side
    advice = (f"nothing was written from it; the {count} finished frames are kept in {work.path}: put the "
              "original back and rerun to resume, or rerun with ", S.restart, " to stylize the file now there")

    def unchanged() -> None:
        if rereads:
            check_unchanged(source, identity, advice=advice)

    unchanged()
    originals = iter(_open(source, clip, even)) if encode.side_by_side else None
    target = f"{out}{os.sep}" if folder else out
    try:
        with open_sink(target, fps=info.fps, force=force, audio_from=audio, audio_start=clip.start,
                       audio_duration=count / info.fps, crf=encode.crf, loop=encode.loop,
                       frame_durations=durations, verify=unchanged) as sink:
            for index in range(count):
                frame = work.load_frame(index)
                if originals is not None:
                    frame = np.hstack([next(originals), frame])
                run.check()
                sink.write(frame)
                if callback is not None:
                    callback(encode_progress(index, count))
    except (BadOutput, BadSource) as failed:  # ffmpeg's own words, e.g. "No such file"
        if not isinstance(failed, SourceChanged | DiskFull):
            unchanged()  # a changed input is the better explanation
        raise


def _settings(source: str | Path, info: VideoInfo, styles: Sequence[np.ndarray | Style], style: StyleConfig,
              temporal: TemporalConfig, clip: ClipConfig, segments: SegmentConfig) -> dict:
    """Everything that shapes the frames, for the work folder's mismatch check."""
    digest = hashlib.sha256()
    for item in styles:
        s = item if isinstance(item, Style) else Style(item)
        digest.update(np.ascontiguousarray(s.image).tobytes())
        digest.update(f"{s.image.shape}:{s.weight}".encode())
    src = Path(source)
    stat = src.stat() if src.exists() else None
    settings = {"source": str(src.resolve()), "source_bytes": stat.st_size if stat else None,
                "source_mtime": stat.st_mtime if stat else None, "size": [info.width, info.height],
                "styles": digest.hexdigest(), "style": style.frame_settings(), "temporal": temporal.settings(),
                "clip": asdict(clip), "version": __version__}
    if segments.distributed:  # the split shapes the frames; where the workers run does not
        settings["segments"] = {"workers": segments.workers, "max_length": segments.max_length,
                                "overlap": segments.overlap, "bridge_iterations": segments.bridge_iterations,
                                "start_iterations": segments.segment_start_iterations(temporal)}
    return settings
