"""What each command does with its parsed arguments: make the request, run it, print the
result. Heavy modules (torch, the engine) are imported here, after parsing."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from ..config import ServeConfig
from ..errors import BadOption, S
from .exits import EXIT_INTERRUPTED, EXIT_OK, Terminated, left_behind
from .options import demo_request, eval_request, image_request, live_request, parse_auth, video_request
from .parser import WEB_EXTRA
from .progress import FrameBar, FramePreview, IterationBar, JsonFrames, both, print_video_result, video_summary
from .words import cli_flag

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run_image(args: argparse.Namespace) -> int:
    from ..jobs import run_image

    request = image_request(args)
    bar = IterationBar(quiet=args.quiet or args.json)
    try:
        result = run_image(request, callback=bar)
    finally:
        bar.close()
    height, width = result.image.shape[:2]
    if args.json:
        print(json.dumps({"event": "done", "output": str(result.output), "size": [width, height],
                          "iterations": result.iterations, "seconds": result.seconds}))
    elif not args.quiet:
        print(f"wrote {args.output} ({width}x{height})")
    return EXIT_OK


def run_video(args: argparse.Namespace) -> int:
    from ..jobs import run_video

    request = video_request(args)
    machine = args.progress == "json"
    bar = JsonFrames() if machine else FrameBar(quiet=args.quiet or args.json)
    preview = FramePreview() if args.preview else None
    try:
        result = run_video(request, callback=both(bar, preview))
    except KeyboardInterrupt as stop:
        if isinstance(bar, FrameBar):
            bar.close()
        if isinstance(stop, Terminated):
            raise  # main says which signal, with its exit code
        print(f"videostyle: interrupted; {left_behind('video')}", file=sys.stderr)
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
    from ..jobs import run_eval

    report = run_eval(eval_request(args))
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
    from ..jobs import prepare_demo, run_video

    for request in prepare_demo(demo_request(args)):
        bar = FrameBar(quiet=args.quiet)
        try:
            result = run_video(request, callback=bar)
        finally:
            bar.close()
        if not args.quiet:
            print_video_result(result, reused=str(request.output).endswith("gif"))
    return EXIT_OK


def run_webcam(args: argparse.Namespace) -> int:
    from ..jobs import run_live

    request = live_request(args)
    status = None if (args.quiet or args.json) else (lambda text: print(text, file=sys.stderr))
    stats = run_live(request, status=status)
    if args.json:
        print(json.dumps(dataclasses.asdict(stats)))
    else:
        print(f"frames captured: {stats.frames_captured}")
        print(f"frames stylized: {stats.frames_stylized}")
        print(f"mean fps: {stats.mean_fps:.2f}")
        print(f"mean latency: {stats.mean_latency_s:.2f} s (max {stats.max_latency_s:.2f} s)")
        if stats.mean_cost is not None:
            print(f"full-frame evaluations per frame: {stats.mean_cost:.2f}")
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
        raise BadOption(f"GRADIO_SERVER_PORT={text!r}: not a port number; give ", S.port) from None


def _check_port_free(host: str, port: int) -> None:
    """Refuse a busy port before anything is printed or created."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise BadOption(S.port, f" {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                            "another program (or another videostyle serve) uses it: pass another ", S.port) from None


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
        print(f"videostyle: serving on {url} (this machine only; {cli_flag('host')} 0.0.0.0 shares it with the "
              "network)", file=sys.stderr)
    else:
        note = ""
        print(f"videostyle: warning: serving on {url}: anyone who can reach this machine can upload files and "
              f"use its {'CPU' if args.device == 'cpu' else 'GPU or CPU'}"
              + ("" if auth else f"; pass {cli_flag('auth')} USER:PASSWORD to require a password"), file=sys.stderr)
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
