"""What each command does with its parsed arguments: build the settings, call the API,
print the result. Heavy modules (torch, the engine) are imported here, after parsing."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ..config import DEMO_SIZE, EvalConfig, ServeConfig, StyleConfig
from ..errors import BadOption
from .exits import EXIT_INTERRUPTED, EXIT_OK, Terminated
from .options import (
    parse_auth,
    read_styles,
    refuse_init_image,
    segment_config,
    style_config,
    style_paths,
    style_schedule,
    video_configs,
)
from .parser import WEB_EXTRA
from .progress import FrameBar, FramePreview, IterationBar, JsonFrames, both, print_video_result, video_summary

CHECKOUT_SAMPLES = Path(__file__).resolve().parents[2] / "samples"  # absent in an installed package
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run_image(args: argparse.Namespace) -> int:
    from ..engine.image import stylize_image
    from ..io import check_output, read_image, write_image
    from ..io.atomic import check_not_input

    out = check_output(args.output, force=args.force, kinds=("image",))  # before minutes of work, not after
    starts = [] if args.init in ("content", "noise") else [args.init]
    masks = [args.mask] if args.mask else []
    check_not_input(out, [args.content, *style_paths(args.style), *starts, *masks])
    config = style_config(args)
    content = read_image(args.content)
    styles = read_styles(args.style)
    init = None if args.init in ("content", "noise") else read_image(args.init)
    mask = None
    if args.mask:
        from ..engine.tensors import fit_size
        from ..video.masks import read_mask

        if len(styles) > 2:
            raise BadOption(f"--mask: give one or two styles with a mask (white the first, black the second), "
                            f"not {len(styles)}")
        mask = read_mask(args.mask, *fit_size(content.shape[1], content.shape[0], args.size),
                         styles=len(styles)).at(0)
    bar = IterationBar(quiet=args.quiet or args.json)
    started = time.perf_counter()
    try:
        result = stylize_image(content, styles, config=config, size=args.size, init=init, callback=bar, mask=mask)
    finally:
        bar.close()
    written = write_image(args.output, result, force=args.force)
    if args.json:
        print(json.dumps({"event": "done", "output": str(written), "size": [result.shape[1], result.shape[0]],
                          "iterations": config.iterations, "seconds": time.perf_counter() - started}))
    elif not args.quiet:
        print(f"wrote {args.output} ({result.shape[1]}x{result.shape[0]})")
    return EXIT_OK


def run_video(args: argparse.Namespace) -> int:
    from ..video.job import stylize_video

    refuse_init_image(args)
    temporal, clip, encode = video_configs(args)
    segments = segment_config(args)
    if segments.distributed:
        from ..video.ray import import_ray

        import_ray(segments.workers)  # before any work: without Ray, say how to get it
    style = style_config(args)
    from ..io import check_output
    from ..io.atomic import check_not_input

    check_not_input(check_output(args.output, force=args.force, kinds=("video", "gif", "folder")),
                    [*style_paths(args.style), *([args.mask] if args.mask else [])])
    paths, schedule = style_schedule(args)
    styles = read_styles(paths)
    machine = args.progress == "json"
    bar = JsonFrames() if machine else FrameBar(quiet=args.quiet or args.json)
    preview = FramePreview() if args.preview else None
    try:
        result = stylize_video(args.input, args.output, styles, style=style, temporal=temporal, clip=clip,
                               encode=encode, force=args.force, work_dir=args.work_dir, restart=args.restart,
                               keep_work=args.keep_work, segments=segments, callback=both(bar, preview),
                               schedule=schedule, mask=args.mask)
    except KeyboardInterrupt as stop:
        if isinstance(bar, FrameBar):
            bar.close()
        if isinstance(stop, Terminated):
            raise  # main says which signal, with its exit code
        print("videostyle: interrupted; finished frames are kept: run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if isinstance(bar, FrameBar):
            bar.close()
        if preview is not None:
            preview.close()
    if args.json or machine:
        print(json.dumps(video_summary(result)))
    elif not args.quiet:
        print_video_result(result)
    return EXIT_OK


def run_eval(args: argparse.Namespace) -> int:
    from ..video.metrics import evaluate_videos

    config = EvalConfig(gap=args.gap, start=args.start, frames=args.frames, flow=args.flow)
    report = evaluate_videos(args.original, args.stylized, gap=config.gap, start=config.start, frames=config.frames,
                             flow=config.flow)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"E_warp stylized: {report['e_warp']:.5f}")
        print(f"E_warp original: {report['e_warp_original']:.5f} (reference)")
        gap = f", frame t against t-{report['gap']}" if report["gap"] > 1 else ""
        print(f"frames: {report['frames']} at {report['size'][0]}x{report['size'][1]}{gap}")
        print(f"flow: {report['flow']} ({report['flow_method']})")
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    from ..config import ClipConfig, TemporalConfig
    from ..engine.devices import resolve_compute
    from ..errors import BadInput, BadOutput
    from ..io import read_image
    from ..video.job import stylize_video

    style = StyleConfig(device=args.device)
    temporal = TemporalConfig(iterations=args.iterations, max_iterations=args.max_iterations,
                              first_iterations=args.first_iterations)
    clip = ClipConfig(size=DEMO_SIZE)
    resolve_compute(style.device, style.precision)  # before anything is written
    out_dir = Path(args.output_dir)
    if args.samples:
        samples = Path(args.samples)
    elif (CHECKOUT_SAMPLES / "clip.mp4").is_file():
        samples = CHECKOUT_SAMPLES
    else:  # an installed package has no samples/ folder: render the same files
        samples = out_dir / ".samples"
    clip_path, style_path = samples / "clip.mp4", samples / "style.jpg"
    if samples != out_dir / ".samples" and not (clip_path.is_file() and style_path.is_file()):
        raise BadInput(f"{samples}: sample clip.mp4/style.jpg not found; pass --samples DIR "
                       "(python scripts/make_samples.py --out DIR makes them)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadOutput(f"{out_dir}: cannot create the output folder ({exc.strerror or exc})") from exc
    if not (clip_path.is_file() and style_path.is_file()):
        from ..samples import write_samples

        write_samples(samples)
    work = out_dir / ".work"
    styles = [read_image(style_path)]
    for name in ("demo.mp4", "demo.gif"):  # the GIF reuses the mp4's finished frames
        bar = FrameBar(quiet=args.quiet)
        try:
            result = stylize_video(clip_path, out_dir / name, styles, style=style, temporal=temporal,
                                   clip=clip, force=args.force, work_dir=work, keep_work=name.endswith("mp4"),
                                   callback=bar)
        finally:
            bar.close()
        if not args.quiet:
            print_video_result(result, reused=name.endswith("gif"))
    return EXIT_OK


def run_webcam(args: argparse.Namespace) -> int:
    import dataclasses

    from ..config import WebcamConfig
    from ..io import check_output
    from ..live.session import run_session

    refuse_init_image(args)
    fixed = args.iterations is not None  # a fixed count overrides the --fps target
    if not fixed:
        args.iterations = WebcamConfig().iterations
    config = WebcamConfig(
        camera=args.camera, size=args.size, fps=None if fixed else args.fps,
        iterations=args.iterations, max_iterations=args.max_iterations,
        first_iterations=args.first_iterations, duration=args.duration, record=args.record,
        record_fps=args.record_fps, preview=not args.no_preview, loop_file=not args.no_loop, force=args.force)
    style = style_config(args)
    if args.record:
        from ..io.atomic import check_not_input

        check_not_input(check_output(args.record, force=args.force, kinds=("video", "gif")),
                        [args.camera, *style_paths(args.style)])
    styles = read_styles(args.style)
    status = None if (args.quiet or args.json) else (lambda text: print(text, file=sys.stderr))
    stats = run_session(styles, style=style, config=config, status=status)
    if args.json:
        print(json.dumps(dataclasses.asdict(stats)))
    else:
        print(f"frames captured: {stats.frames_captured}")
        print(f"frames stylized: {stats.frames_stylized}")
        print(f"mean fps: {stats.mean_fps:.2f}")
        print(f"mean latency: {stats.mean_latency_s:.2f} s (max {stats.max_latency_s:.2f} s)")
        if stats.recorded:
            print(f"recorded: {stats.recorded}")
    return EXIT_OK


def _listen_address(args: argparse.Namespace) -> tuple[str, int]:
    """--host/--port, else the environment's GRADIO_SERVER_NAME/GRADIO_SERVER_PORT (containers,
    hosted Spaces), else the defaults."""
    defaults = ServeConfig()
    host = args.host or os.environ.get("GRADIO_SERVER_NAME") or defaults.host
    if args.port is not None:
        return host, args.port
    text = os.environ.get("GRADIO_SERVER_PORT")
    if not text:
        return host, defaults.port
    try:
        return host, int(text)
    except ValueError:
        raise BadOption(f"GRADIO_SERVER_PORT={text!r}: not a port number; give --port") from None


def _check_port_free(host: str, port: int) -> None:
    """Refuse a busy port before anything is printed or created."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise BadOption(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                            "another program (or another videostyle serve) uses it: pass another --port") from None


def run_serve(args: argparse.Namespace) -> int:
    auth = parse_auth(args.auth)
    host, port = _listen_address(args)
    limits = ServeConfig(host=host, port=port, data_dir=args.data_dir, max_upload_mb=args.max_upload_mb,
                         max_seconds=args.max_seconds, max_size=args.max_size, root_path=args.root_path)
    try:
        from ..web.app import serve
    except ImportError as exc:
        raise BadOption(f"serve needs the web extra ({exc.name or exc} is missing): {WEB_EXTRA}") from None
    _check_port_free(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}{limits.root_path}"
    if host in LOOPBACK:
        note = "Served on this machine only."
        print(f"videostyle: serving on {url} (this machine only; --host 0.0.0.0 shares it with the network)",
              file=sys.stderr)
    else:
        note = ""
        print(f"videostyle: warning: serving on {url}: anyone who can reach this machine can upload files and "
              f"use its {'CPU' if args.device == 'cpu' else 'GPU or CPU'}"
              + ("" if auth else "; pass --auth USER:PASSWORD to require a password"), file=sys.stderr)
    serve(host=host, port=port, data_dir=args.data_dir, auth=auth, limits=limits, device=args.device,
          precision=args.precision, note=note)
    return EXIT_OK


def run_doctor(args: argparse.Namespace) -> int:
    """What a bug report needs: versions, the device and precision a job would use, ffmpeg."""
    from .doctor import environment

    report = environment(device=args.device)
    if args.json:
        print(json.dumps(report))
    else:
        width = max(map(len, report))
        for key, value in report.items():
            print(f"{key:<{width}}  {value}")
    return EXIT_OK


RUNNERS = {"doctor": run_doctor, "image": run_image, "video": run_video, "eval": run_eval, "demo": run_demo,
           "webcam": run_webcam, "serve": run_serve}
