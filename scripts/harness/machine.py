"""The machine a benchmark ran on, and how long things took there.

Figures from a benchmark mean something only next to the machine that made them: every
script prints :func:`describe` first. Timers measure wall and CPU seconds together, so a
run on a machine shared with other jobs can report CPU seconds (``--threads 1``: no
spin-waiting), and synchronize an accelerator before reading the clock.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def _synchronize(device: Any) -> None:
    if device is not None:
        from videostyle.engine.devices import synchronize

        synchronize(device)


def set_threads(threads: int | None) -> None:
    """torch's intra-op threads (None: leave torch's choice)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def processor() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    """The load averages over 1, 5 and 15 minutes: how busy the machine was."""
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def describe(stylizer: Any = None) -> str:
    """One line: device and precision (of ``stylizer`` when given), the accelerator's or
    CPU's name, torch, threads, cores (and the spare ones a job uses for flow), the load."""
    import torch

    parts = []
    if stylizer is not None:
        from videostyle.engine.devices import spare_cores

        compute = stylizer.compute
        name = torch.cuda.get_device_name(stylizer.device) if stylizer.device.type == "cuda" else processor()
        parts.append(f"device {compute.name} ({name})")
        if stylizer.device.type == "cuda":
            parts.append(f"cudnn.benchmark {torch.backends.cudnn.benchmark}")
        parts.append(f"{spare_cores(compute)} spare core(s)")
    else:
        parts.append(processor())
    parts += [f"torch {torch.__version__}", f"{torch.get_num_threads()} threads", f"{os.cpu_count()} cores", load()]
    return "machine: " + ", ".join(parts)


class Timer:
    """Wall and CPU seconds of a block: ``with Timer() as t: ...``, then ``t.wall``,
    ``t.cpu`` or ``t.seconds(clock)``. With ``device`` the accelerator is synchronized at
    both ends, so queued work is counted."""

    def __init__(self, device: Any = None) -> None:
        self.device = device
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Timer:
        _synchronize(self.device)
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        _synchronize(self.device)
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu

    def elapsed(self) -> tuple[float, float]:
        """(wall, CPU) seconds since the block began, read inside it."""
        return time.perf_counter() - self._wall, time.process_time() - self._cpu

    def seconds(self, clock: str = "wall") -> float:
        """``wall`` or ``cpu`` seconds (the names of :data:`CLOCKS`)."""
        return {"wall": self.wall, "cpu": self.cpu}[clock]


def median_seconds(fn: Callable[[], object], repeats: int, *, device: Any = None, clock: str = "wall") -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after one warm-up call."""
    import statistics

    fn()
    times = []
    for _ in range(repeats):
        with Timer(device) as timer:
            fn()
        times.append(timer.seconds(clock))
    return statistics.median(times)


def rss_mb(pid: int | None = None) -> float | None:
    """Resident memory (VmRSS) of process ``pid`` (default: this one) in MB, None once it
    is gone. Linux only: it reads /proc."""
    try:
        for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peak_rss_bytes() -> int:
    """The most resident memory this process has held so far (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
