"""How OpenMP's wait policy and torch's thread count change a loss evaluation: run it on a
QUIET machine (the figures on a busy one are the reason for the default, see below).

videostyle sets OMP_WAIT_POLICY=PASSIVE before torch loads (videostyle/__init__.py): on a
busy 2-core machine (load ~10) libgomp's default spin-wait made a 96 px evaluation 2.1 s
against 0.14 s passive. What passive waiting costs on a quiet machine (threads sleep
between ops and must be woken) was not measurable there; this script measures it.

Each case runs in a fresh process (libgomp reads the policy once) and prints seconds per
loss evaluation (median of the iterations of one stylize call) per size and precision:

    python scripts/bench_threads.py [--sizes 96,256] [--iterations 15]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CASE = r"""
import json, sys, time
import numpy as np, torch
sys.path.insert(0, "tests")
from synthetic import scene, stripes
from videostyle.config import StyleConfig
from videostyle.engine.optimize import Stylizer
threads, size, precision, iterations = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
torch.set_num_threads(threads)
stylizer = Stylizer([stripes()], StyleConfig(device="cpu", precision=precision))
image = scene(size, size * 3 // 4)
stylizer.stylize(image, iterations=2)
stamps = []
stylizer.stylize(image, iterations=iterations, callback=lambda p: stamps.append(time.perf_counter()))
print(json.dumps(float(np.median(np.diff(stamps)))))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="96,256")
    parser.add_argument("--iterations", type=int, default=15)
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    print(f"{cores} cores, load average {os.getloadavg()[0]:.1f} (should be near 0)")
    print(f"{'policy':>8} {'threads':>7} {'size':>5} {'precision':>9} {'s/eval':>8}")
    for policy in ("PASSIVE", "ACTIVE", "default"):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if policy != "default":
            env["OMP_WAIT_POLICY"] = policy
        for threads in sorted({1, cores}):
            for size in (int(s) for s in args.sizes.split(",")):
                for precision in ("fp32", "bf16"):
                    # not through `import videostyle` first: the policy is exactly what env says
                    out = subprocess.run([sys.executable, "-c", CASE, str(threads), str(size), precision,
                                          str(args.iterations)], env=env, capture_output=True, text=True)
                    figure = f"{json.loads(out.stdout):8.3f}" if out.returncode == 0 else "  failed"
                    print(f"{policy:>8} {threads:>7} {size:>5} {precision:>9} {figure}", flush=True)


if __name__ == "__main__":
    main()
