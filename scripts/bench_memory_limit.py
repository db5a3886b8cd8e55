"""Does ``--max-memory`` hold? Peak resident memory of real ``videostyle`` runs against the limit
(issue 26).

    python scripts/bench_memory_limit.py [--cases image-1024,image-2048,image-2900,image-4096,video-1080]
                                         [--iterations N] [--work DIR]

Each case is ``videostyle image`` or ``videostyle video`` in a fresh process, as a user runs it:

* ``image-1024``, ``image-2048``, ``image-2900``: tubingen.jpg at ``--size`` 1024, 2048, 2900
  under ``--max-memory 2GB``;
* ``image-4096``: a 4096x3072 picture (tubingen.jpg enlarged, written to the work folder)
  at ``--size 4096`` under ``--max-memory 4GB``;
* ``video-1080``: two frames of a 1920x1080 clip (cockatoo.mp4 enlarged with the bundled
  ffmpeg) at ``--size 1920`` under ``--max-memory 2GB``.

The peak is the process's own (``ru_maxrss`` from ``wait4``: what the kernel saw, not a
sample) and the process tree's (the sum of the tree's resident memory, sampled every 0.1 s:
the decoder and encoder ffmpeg processes beside it). Peak memory does not depend on the
iteration count once L-BFGS holds all the curvature pairs its plan keeps, so each case runs
just enough iterations for that (the final scale's history plus two, from the plan the
package makes for it here; ``--iterations`` overrides): the times per iteration are as the
run measured them (the CLI's progress lines) and mean something only on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.machine import describe
from harness.media import media, need
from harness.report import print_table

REPO = Path(__file__).resolve().parents[1]
GiB = 2**30


@dataclass(frozen=True)
class Case:
    name: str
    command: str  # image or video
    size: int
    limit: str


CASES = {c.name: c for c in (Case("image-1024", "image", 1024, "2GB"), Case("image-2048", "image", 2048, "2GB"),
                             Case("image-2900", "image", 2900, "2GB"), Case("image-4096", "image", 4096, "4GB"),
                             Case("video-1080", "video", 1920, "2GB"))}


def tree_rss(root: int) -> int:
    """Bytes resident in process ``root`` and its descendants now (0 once gone)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def run(argv: list[str]) -> tuple[int, int, int, str, float]:
    """(exit code, the process's peak RSS, the tree's sampled peak, its stderr, seconds)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "videostyle", *argv], stdout=subprocess.DEVNULL,
                                   stderr=err, env=env, cwd=REPO)
        tree = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                tree[0] = max(tree[0], tree_rss(process.pid))
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        err.seek(0)
        text = err.read().decode(errors="replace")
    return process.returncode, usage.ru_maxrss * 1024, tree[0], text, time.perf_counter() - started


def plan_of(case: Case, width: int, height: int) -> tuple[int, int]:
    """(the L-BFGS pairs the final scale's plan keeps here (the full history when it runs
    whole), its tiles (0: whole)), as the package plans them on this machine now."""
    from videostyle.config import StyleConfig
    from videostyle.engine.optimize import LBFGS_HISTORY, Stylizer
    from videostyle.io import read_image

    stylizer = Stylizer([read_image(media("styles/starry_night.jpg"))],
                        StyleConfig(max_memory=limit_bytes(case)))
    stylizer.memory.reserve(_reserved(case))
    plan = stylizer.memory.plan(height, width)
    return (plan.history, len(plan.tiles)) if plan else (LBFGS_HISTORY, 0)


def limit_bytes(case: Case) -> int:
    """The case's ``--max-memory`` in bytes, read as the package reads it."""
    from videostyle.config import parse_bytes
    from videostyle.errors import S

    return parse_bytes(S.max_memory, case.limit)


def _reserved(case: Case) -> int:
    if case.command != "video":
        return 0
    from videostyle.config import TemporalConfig
    from videostyle.engine.memory import reserved_buffers

    return reserved_buffers(TemporalConfig())


def make_inputs(work: Path) -> dict[str, Path]:
    """The 4096x3072 picture and the 1920x1080 clip, made once in ``work``."""
    import cv2
    import imageio_ffmpeg

    picture = work / "tubingen-4096x3072.png"
    if not picture.exists():
        photo = cv2.imread(str(media("content/tubingen.jpg")))
        cv2.imwrite(str(picture), cv2.resize(photo, (4096, 3072), interpolation=cv2.INTER_CUBIC))
    clip = work / "cockatoo-1920x1080.mp4"
    if not clip.exists():
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(media("cockatoo.mp4")),
                        "-frames:v", "4", "-vf", "scale=1920:1080", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                        str(clip)], check=True)
    return {"picture": picture, "clip": clip}


def arguments(case: Case, inputs: dict[str, Path], work: Path, iterations: int) -> list[str]:
    style = str(media("styles/starry_night.jpg"))
    common = ["--max-memory", case.limit, "--size", str(case.size), "-s", style, "--force"]
    if case.command == "image":
        content = inputs["picture"] if case.size == 4096 else media("content/tubingen.jpg")
        return ["image", str(content), "-o", str(work / f"{case.name}.png"), *common, "--iterations", str(iterations)]
    return ["video", str(inputs["clip"]), "-o", str(work / f"{case.name}.mp4"), *common, "--frames", "2",
            "--iterations", str(iterations), "--first-iterations", str(iterations), "--restart"]


def final_scale_figures(stderr: str) -> tuple[str | None, str]:
    """(tiles, seconds per iteration) of the last scale, from the CLI's progress lines (a
    video's say neither: None and -)."""
    if "iteration" not in stderr:
        return None, "-"
    scales = re.findall(r"scale (\d+)/(\d+)", stderr)
    last = f"scale {scales[-1][0]}/{scales[-1][1]}" if scales else None
    lines = [line for line in stderr.splitlines() if last is None or last in line]
    per = [m.group(1) for line in lines if (m := re.search(r"([\d.]+) s/iteration", line))]
    tiled = [m.group(1) for line in lines if (m := re.search(r"tiled \((\d+) tiles\)", line))]
    return (tiled[-1] if tiled else "0"), (per[-1] if per else "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated, of: " + ", ".join(CASES))
    parser.add_argument("--iterations", type=int, default=None,
                        help="per scale (default: the final scale's L-BFGS history plus 2)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the made inputs and the outputs")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]}; choose from {', '.join(CASES)}")
    need(media("content/tubingen.jpg"), media("styles/starry_night.jpg"), media("cockatoo.mp4"))
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_memory_limit-"))
    work.mkdir(parents=True, exist_ok=True)
    inputs = make_inputs(work)
    print(describe(), flush=True)
    rows = []
    for name in names:
        case = CASES[name]
        height = case.size * 9 // 16 if case.command == "video" else case.size * 3 // 4
        history, planned = plan_of(case, case.size, height)
        iterations = args.iterations or history + 2
        argv_ = arguments(case, inputs, work, iterations)
        print(f"{name}: videostyle {' '.join(argv_)}", flush=True)
        code, peak, tree, stderr, seconds = run(argv_)
        tiles, per_iteration = final_scale_figures(stderr)
        tiles = tiles if tiles is not None else f"{planned} (planned)"
        limit = limit_bytes(case)
        row = (name, f"{case.size}x{height}", case.limit, f"{peak / GiB:.2f} GiB", f"{tree / GiB:.2f} GiB",
               "yes" if peak <= limit and tree <= limit else "NO", tiles, per_iteration, iterations,
               f"{seconds:.0f}", code)
        rows.append(row)
        print("  " + " | ".join(str(v) for v in row), flush=True)
        if code != 0:
            print("  " + "\n  ".join(stderr.strip().splitlines()[-3:]), flush=True)
    how = (f"{args.iterations} per scale, as asked: fewer than the history holds peak lower" if args.iterations
           else "the final scale's history + 2 per scale")
    print(f"\npeak memory does not depend on the iteration count once the L-BFGS history is full: iterations "
          f"{how}; times are this machine's, under its load ({describe().split(', load ')[-1]})")
    print_table(("case", "output", "--max-memory", "peak RSS", "tree peak", "under", "tiles (last scale)",
                 "s/iteration (last scale)", "iterations", "seconds", "exit"), rows)
    return 0 if all(r[5] == "yes" and r[-1] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
