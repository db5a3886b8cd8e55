"""The package's architecture, checked from its source: imports point one way, no cycles,
the light layers stay light, and ``--help`` never imports torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "videostyle"

# The layers, lowest first. A module may import its own layer and the layers below it. cli and
# web are the front-ends; the one crossing between them is cli's `serve` command starting the
# page. They make requests (jobs), which run file jobs (video) and the camera loop (live),
# independent of each other.
RANK = {"errors": 0, "config": 1, "io": 2, "samples": 3, "engine": 3, "video": 4, "live": 4, "jobs": 5, "cli": 6,
        "web": 6}
ALLOWED_ACROSS = {("cli", "web")}
NO_TORCH = {"config", "errors", "io", "samples"}
NO_CV2 = {"config", "errors"}
HEAVY = ("torch", "cv2", "numpy", "PIL", "tqdm")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, anywhere in its source (lazy imports count too)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            for alias in node.names:  # from . import x: x may be a module
                if f"{target}.{alias.name}" in MODULES:
                    out.add(f"{target}.{alias.name}")
    return out


MODULES = _modules()
GRAPH = {name: {i for i in _imports(name, path) if i.startswith("videostyle")} for name, path in MODULES.items()}
EXTERNAL = {name: {i.split(".")[0] for i in _imports(name, path) if not i.startswith("videostyle")}
            for name, path in MODULES.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_has_a_layer():
    unknown = sorted(m for m in MODULES if _layer(m) not in RANK and m != "videostyle"
                     and m != "videostyle.__main__")
    assert not unknown, f"give these a layer in RANK: {unknown}"


def test_imports_point_down_only():
    upward = []
    for module, targets in GRAPH.items():
        mine = _layer(module)
        if mine is None or mine not in RANK:
            continue
        for target in targets:
            theirs = _layer(target)
            if theirs is None or theirs == mine:
                continue
            if (mine, theirs) in ALLOWED_ACROSS:
                continue
            if RANK[theirs] >= RANK[mine]:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that point up or across: " + ", ".join(sorted(upward))


def test_nothing_imports_the_front_ends():
    bad = [f"{m} -> {t}" for m, targets in GRAPH.items() for t in targets
           if _layer(t) in ("cli", "web") and _layer(m) not in ("cli", "web") and m != "videostyle.__main__"]
    assert not bad, bad


def test_no_import_cycles():
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, trail: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt not in MODULES or nxt == node:
                continue
            if state.get(nxt) == 1:
                cycle.extend(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, trail + [nxt]):
                return True
        state[node] = 2
        return False

    for module in sorted(MODULES):
        if state.get(module) is None and visit(module, [module]):
            break
    # the package __init__ re-exports lazily (importlib), so it is no edge; a package's own
    # __init__ importing its modules is not a cycle either
    assert not cycle, " -> ".join(cycle)


@pytest.mark.parametrize("layer", sorted(NO_TORCH))
def test_the_light_layers_import_no_torch(layer):
    heavy = {m: EXTERNAL[m] & {"torch"} for m in MODULES if _layer(m) == layer}
    assert not any(heavy.values()), heavy
    if layer in NO_CV2:
        opencv = {m: EXTERNAL[m] & {"cv2", "numpy"} for m in MODULES if _layer(m) == layer}
        assert not any(opencv.values()), opencv


def test_a_layer_rule_that_is_broken_is_caught(tmp_path):
    """The checks above can fail: an upward import in a copy of a module is reported."""
    fake = "videostyle.engine.fake"
    GRAPH[fake] = {"videostyle.video.job"}
    try:
        with pytest.raises(AssertionError, match="engine.fake -> videostyle.video.job"):
            test_imports_point_down_only()
    finally:
        del GRAPH[fake]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], *[[c, "--help"] for c in
                                  ("image", "video", "eval", "demo", "webcam", "serve")]])
def test_help_and_version_import_nothing_heavy(argv):
    code = ("import sys, runpy\nsys.argv = ['videostyle', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('videostyle', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip(), done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_python_dash_m_videostyle_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "videostyle", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("videostyle ")
