"""Settings declared once (config.SETTINGS): errors refer to declared settings, each front-end
words them itself, the command line's flags and the config dataclasses read the declarations,
and the requests build the same job from the command line and from the page."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest
from cli_text import cli_text
from synthetic import make_clip, scene, stripes, write_rgb

from videostyle import config
from videostyle.cli import main
from videostyle.cli.options import video_request
from videostyle.cli.parser import build_parser
from videostyle.cli.words import cli_flag
from videostyle.config import SETTINGS, StyleConfig, TemporalConfig, WebcamConfig, iteration_budgets
from videostyle.errors import BadOption, S, VideostyleError
from videostyle.web.words import page_message

PACKAGE = Path(__file__).resolve().parents[1] / "videostyle"
CONFIGS = (config.StyleConfig, config.TemporalConfig, config.ClipConfig, config.EncodeConfig, config.SegmentConfig,
           config.WebcamConfig, config.EvalConfig, config.ServeConfig, config.StyleSchedule)
# A flag spelled in a message, e.g. "--size" (a command line shown as an example aside)
FLAG = re.compile(r"(?<![\w-])--[a-z]")
SHOWN_COMMAND_LINES = ("ray start --head", "make_samples.py --out")
NO_FLAGS = ("engine", "video", "io", "live", "config.py", "errors.py", "web", "jobs")


def _references(tree: ast.AST) -> list[tuple[int, str]]:
    """Every ``S.name`` in a module's code: (line, name)."""
    return [(node.lineno, node.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "S"]


def test_every_setting_a_message_refers_to_is_declared():
    unknown, found = [], 0
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, name in _references(ast.parse(path.read_text())):
            found += 1
            if name not in SETTINGS:
                unknown.append(f"{path.relative_to(PACKAGE)}:{line}: S.{name}")
    assert found > 100, found  # the scan sees the references
    assert not unknown, unknown


def test_the_scan_catches_a_reference_to_no_setting():
    assert _references(ast.parse('raise BadOption(S.sise, " 8: must be at least 16")')) == [(1, "sise")]
    assert "sise" not in SETTINGS


def _strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module's code, docstrings (a string standing as a statement) left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


@pytest.mark.parametrize("where", NO_FLAGS)
def test_no_message_below_the_command_line_spells_a_flag(where):
    paths = [PACKAGE / where] if where.endswith(".py") else sorted((PACKAGE / where).rglob("*.py"))
    spelled = [f"{path.relative_to(PACKAGE)}:{line}: {text!r}" for path in paths for line, text in _strings(path)
               if FLAG.search(text) and not any(shown in text for shown in SHOWN_COMMAND_LINES)]
    assert not spelled, spelled


def test_every_field_of_the_settings_dataclasses_is_a_declared_setting():
    for kind in CONFIGS:
        for field in dataclasses.fields(kind):
            if field.name in ("entries", "strengths"):  # a schedule's structure, built from the style specs
                continue
            assert config.setting_name(kind, field.name) in SETTINGS, f"{kind.__name__}.{field.name}"


def test_the_dataclasses_take_their_defaults_from_the_declarations():
    assert StyleConfig().strength == SETTINGS["strength"].default
    assert config.ClipConfig().size == SETTINGS["size"].default_for("video")
    assert WebcamConfig().size == SETTINGS["size"].default_for("webcam")
    assert TemporalConfig().first_iterations == SETTINGS["first_iterations"].default_for("video")
    assert WebcamConfig().first_iterations == SETTINGS["first_iterations"].default_for("webcam")
    assert config.EncodeConfig().crf == SETTINGS["crf"].default
    assert config.StyleSchedule(entries=(config.ScheduleEntry(0.0, (1.0,)),)).transition == \
        SETTINGS["transition"].default
    assert TemporalConfig().mode == SETTINGS["temporal"].default  # a field named otherwise


@pytest.mark.parametrize("make, flag, label", [
    (lambda: StyleConfig(style_scale=0), "--style-scale 0: must be > 0", "the style scale 0: must be > 0"),
    (lambda: config.ClipConfig(size=8), "--size 8: must be at least 16", "Output size 8: must be at least 16"),
    (lambda: TemporalConfig(mode="jumpy"), "--temporal jumpy: choose one", "Temporal mode jumpy: choose one"),
    (lambda: config.SegmentConfig(max_length=1), "--max-segment-length 1:", "the max segment length setting 1:"),
])
def test_a_config_error_names_the_flag_on_the_command_line_and_the_label_on_the_page(make, flag, label):
    with pytest.raises(BadOption) as caught:
        make()
    assert cli_text(caught.value).startswith(flag) and page_message(caught.value).startswith(label)
    assert str(caught.value).startswith(flag[2:].replace("-", "_"))  # the Python API's own names


def test_an_error_raised_inside_the_engine_is_worded_by_each_front_end():
    from videostyle import stylize_image

    with pytest.raises(BadOption) as caught:
        stylize_image(scene(32, 24), [stripes(16, 16)], config=StyleConfig(device="cpu"), size=1)
    assert caught.value.setting == "size"
    assert cli_text(caught.value) == "--size 1: must be at least 2 pixels"
    assert page_message(caught.value) == "Output size 1: must be at least 2 pixels"


def test_the_command_line_prints_a_flag_on_by_default_as_its_no_form(tmp_path, capsys):
    assert (cli_flag("detect_cuts"), cli_flag("loop_file")) == ("--no-cut-detection", "--no-loop")
    assert (cli_flag("preview", "video"), cli_flag("preview", "webcam")) == ("--preview", "--no-preview")
    clip = make_clip(tmp_path / "in.mp4", frames=2, size="32x24")
    style, other = write_rgb(tmp_path / "s.png", stripes(16, 16)), write_rgb(tmp_path / "t.png", scene(16, 16))
    assert main(["video", str(clip), "-s", str(style), "-s", str(other), "-o", str(tmp_path / "o.mp4"),
                 "--style-per-shot", "--no-cut-detection"]) == 2
    assert capsys.readouterr().err.strip() == \
        "videostyle: error: --style-per-shot needs the scene cuts; drop --no-cut-detection"


# -- the command line reads the declarations --------------------------------------------------
CLI_ONLY = {"help", "version", "output", "quiet", "json", "progress"}  # presentation, not settings


def _commands():
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    return {name: sub for name, sub in choices.items()}


@pytest.mark.parametrize("command", ["image", "video", "eval", "demo", "webcam", "serve", "doctor"])
def test_every_flag_is_a_declared_setting_spelled_from_its_name(command):
    sub = _commands()[command]
    for action in sub._actions:
        if not action.option_strings or action.dest in CLI_ONLY:
            continue
        assert action.dest in SETTINGS, f"{command} {action.option_strings}: not declared"
        assert action.option_strings[0] == cli_flag(action.dest, command)
        help_text = action.help or ""
        assert "{default}" not in help_text and "None" not in help_text, (command, action.dest, help_text)


def test_defaults_and_help_come_from_the_declarations():
    commands = _commands()
    for command, size in (("image", 512), ("video", 320), ("webcam", 160)):
        args = commands[command].parse_args(["x", "-s", "a.png", "-o", "o.png"] if command != "webcam" else
                                            ["-s", "a.png"])
        assert args.size == size == SETTINGS["size"].default_for(command)
    help_of = {a.dest: a.help for a in commands["video"]._actions}
    assert f"(default {SETTINGS['transition'].default}; 0 switches at once)" in help_of["transition"]
    assert "seconds over which a --style IMAGE@T takes over" in help_of["transition"]


# -- the requests: one schedule, one preset merge, one mask check -----------------------------
def test_the_preset_is_merged_with_the_counts_given_in_one_place():
    preview = config.PRESETS["preview"]
    merged = iteration_budgets("preview", command="video", iterations=7)
    assert (merged.iterations, merged.first_iterations, merged.max_iterations) == (7, preview.first_iterations,
                                                                                   preview.max_iterations)
    plain = iteration_budgets(None, command="video")
    assert (plain.iterations, plain.first_iterations) == (TemporalConfig().iterations,
                                                          TemporalConfig().first_iterations)
    assert iteration_budgets(None, command="image").image_iterations == StyleConfig().iterations
    with pytest.raises(BadOption) as caught:
        iteration_budgets("fastest", command="video")
    assert cli_text(caught.value).startswith("--preset fastest: choose one of preview, standard, best")
    assert page_message(caught.value).startswith("Quality fastest")


def test_the_page_and_the_command_line_ask_for_the_same_schedule(tmp_path, monkeypatch):
    from videostyle.web.jobs import JobRequest

    monkeypatch.chdir(tmp_path)
    a, b = (write_rgb(tmp_path / name, stripes(16, 16)) for name in ("a.png", "b.png"))
    cli = video_request(build_parser().parse_args(
        ["video", "in.mp4", "-o", "o.mp4", "-s", "a.png", "-s", "b.png:0.5@2", "--transition", "0.5",
         "--strength", "0.1@0", "--strength", "0.6@3"])).schedule()
    page = JobRequest(input=Path("in.mp4"), styles=((a, 1.0), (b, 0.5)), style_starts=(0.0, 2.0), transition=0.5,
                      strength=0.6, strength_ramp=((0.0, 0.1), (3.0, 0.6))).schedule()
    assert cli[1] == page


@pytest.mark.parametrize("make", [
    lambda tmp: video_request(build_parser().parse_args(
        ["video", "in.mp4", "-o", "o.mp4", "-s", "a.png", "-s", "b.png", "-s", "c.png", "--mask", "m.png"])),
    lambda tmp: __import__("videostyle.jobs", fromlist=["ImageRequest"]).ImageRequest(
        content="p.png", output="o.png", style=("a.png", "b.png", "c.png"), mask="m.png"),
    lambda tmp: __import__("videostyle.web.jobs", fromlist=["JobRequest"]).JobRequest(
        input=Path("x.mp4"), styles=tuple((Path(n), 1.0) for n in "abc"), mask=Path("m.png")),
])
def test_a_mask_with_three_styles_is_refused_when_the_request_is_made(make, tmp_path):
    with pytest.raises(BadOption) as caught:
        make(tmp_path)
    assert cli_text(caught.value).startswith("--mask: give one or two styles with a mask")
    assert not list(tmp_path.iterdir())  # before any work


def test_the_request_refuses_a_bad_value_before_reading_any_file(tmp_path):
    from videostyle.jobs import ImageRequest, LiveRequest, VideoRequest

    for make, flag in ((lambda: ImageRequest(content="missing.png", output="o.png", style=("s.png@2",)), "--style"),
                       (lambda: VideoRequest(input="missing.mp4", output="o.mp4", style=("s.png",),
                                             long_term="2,x"), "--long-term"),
                       (lambda: LiveRequest(style=("s.png",), init="photo.png"), "--init"),
                       (lambda: VideoRequest(input="missing.mp4", output="o.mp4", style=("s.png",),
                                             max_memory="lots"), "--max-memory")):
        with pytest.raises(VideostyleError) as caught:
            make()
        assert cli_text(caught.value).startswith(flag), cli_text(caught.value)


def test_errors_say_which_setting_they_are_about():
    error = BadOption(S.mask, ": masks do not work in tiles yet; use a smaller ", S.size)
    assert error.settings == ["mask", "size"] and error.setting == "mask"
    assert str(error) == "mask: masks do not work in tiles yet; use a smaller size"
    assert error.replace("tiles", "pieces").render(lambda n: n.upper()) == \
        "MASK: masks do not work in pieces yet; use a smaller SIZE"
