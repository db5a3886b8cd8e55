"""What is fastest on this CPU, measured rather than read from its flags.

CPU flags say which instructions a chip has, not how fast it runs them: an Intel Xeon with
AVX-512 BF16 but no AMX ran ``image`` at 256 px 1.6-1.8x slower in bf16 than in fp32
(11.4 s against 7.3 s for 20 iterations), while a Xeon with AMX runs the same convolution
about 7x faster in bf16 (1 thread, 32x32: 7.5 ms against 53 ms). So ``--precision auto``
on the CPU times one convolution shaped like the network's middle layers in both precisions
the first time, keeps the figures in a small JSON file in the user's cache folder (one entry
per CPU model and flags, torch version and thread count), and picks bf16 only when it wins
by :data:`BF16_MARGIN`.

The timing runs on one thread, in a thread of its own (torch's OpenMP thread count is per
thread, so the caller's is untouched). One thread measures what the core does with each
precision; a whole-machine measurement on a busy machine measures the scheduler instead:
with both threads of a 2-core machine under a load of 10 (and OpenMP spinning, see
videostyle/__init__.py), the same convolution took about 100 ms in either precision (a
ratio of 1.05 where the core's is 7), and that verdict would have been kept for good.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

CACHE_FILE = "precision.json"  # under the cache folder (see cache_dir)
CACHE_FORMAT = 1
BF16_MARGIN = 1.10  # bf16 is chosen only when fp32 takes at least this many times as long
REPEATS = 3  # timed runs per precision after one untimed one (kernel set-up); the best counts
MEASURE_THREADS = 1  # see the module's docstring
CHANNELS, SIDE = 256, 32  # one 3x3 256->256 convolution on 32x32 (conv3_x at 128 px, conv4_x at 256 px)
WORKLOAD = f"3x3 conv {CHANNELS}->{CHANNELS} at {SIDE}x{SIDE} (forward and input gradient)"

Timer = Callable[[], float]
"""Seconds, as ``time.perf_counter``; tests give a scripted one."""
Workload = Callable[[torch.dtype], Callable[[], object]]
"""Sets up the timed work in a dtype and returns it as a function to run (see
:func:`conv_workload`)."""


@dataclass(frozen=True)
class PrecisionTiming:
    """The loss network's two CPU precisions timed on this machine.

    ``fp32_ms``/``bf16_ms``: the best of :data:`REPEATS` runs of :data:`WORKLOAD` on
    ``threads`` threads; ``cached``: read from ``path`` rather than measured by this
    process; ``path``: the cache file (None: no writable cache folder).
    """

    fp32_ms: float
    bf16_ms: float
    threads: int
    cached: bool
    path: Path | None

    @property
    def choice(self) -> str:
        """``"bf16"`` when it is faster by :data:`BF16_MARGIN`, else ``"fp32"``."""
        return "bf16" if self.fp32_ms >= BF16_MARGIN * self.bf16_ms else "fp32"

    @property
    def source(self) -> str:
        """Where the figures came from, for ``doctor``."""
        if not self.cached:
            return f"measured now, cached in {self.path}" if self.path else "measured now (no writable cache folder)"
        return f"cached in {self.path}"


def conv_workload(dtype: torch.dtype) -> Callable[[], object]:
    """One forward pass and input gradient of a 3x3 convolution, laid out as the network
    runs it (channels_last input and weights in ``dtype``, weights made once). The values
    do not change the time (no zeros are skipped, and these are far from subnormal)."""
    layout = torch.channels_last
    x = torch.full((1, CHANNELS, SIDE, SIDE), 0.5, dtype=dtype).contiguous(memory_format=layout)
    w = torch.full((CHANNELS, CHANNELS, 3, 3), 0.01, dtype=dtype).contiguous(memory_format=layout)
    bias = torch.zeros(CHANNELS, dtype=dtype)
    upstream = torch.ones(1, CHANNELS, SIDE, SIDE, dtype=dtype).contiguous(memory_format=layout)

    def run() -> object:
        torch.nn.functional.conv2d(x, w, bias, padding=1)  # (1, C, SIDE, SIDE)
        # the input gradient as engine/gatys.py computes it (no weight gradient)
        return torch.ops.aten.convolution_backward(upstream, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                                                   [True, False, False])[0]

    return run


def time_workload(dtype: torch.dtype, *, threads: int = MEASURE_THREADS, timer: Timer = time.perf_counter,
                  workload: Workload = conv_workload, repeats: int = REPEATS) -> float:
    """Milliseconds of ``workload`` in ``dtype`` on ``threads`` threads: the best of
    ``repeats`` timed runs after one untimed one. Runs in a thread of its own, so the
    caller's thread count stays as it is."""
    result: list[float] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            torch.set_num_threads(threads)
            run_once = workload(dtype)
            run_once()  # first call: kernel selection and JIT, not typical
            best = float("inf")
            for _ in range(repeats):
                start = timer()
                run_once()
                best = min(best, timer() - start)
            result.append(best * 1000)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    before = torch.get_num_threads()
    worker = threading.Thread(target=run, name="videostyle-calibrate", daemon=True)
    worker.start()
    worker.join()
    if torch.get_num_threads() != before:  # a torch whose thread count is process-wide
        torch.set_num_threads(before)
    if failure:
        raise failure[0]
    return result[0]


def cache_dir() -> Path | None:
    """``$XDG_CACHE_HOME/videostyle``, else ``~/.cache/videostyle``; None when neither is
    known (a relative XDG_CACHE_HOME is ignored, as the XDG spec says)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "videostyle"
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        return None
    return home / ".cache" / "videostyle" if home.is_absolute() else None


def machine_key(threads: int = MEASURE_THREADS) -> str:
    """What the figures depend on: the CPU's model and flags, torch's version and build's
    CPU capability, and the thread count they are measured on."""
    model, flags = _cpu_identity()
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")()
    digest = hashlib.sha1(flags.encode()).hexdigest()[:12]
    return f"{model} | flags {digest} | torch {torch.__version__} {capability} | {threads} thread{'s' * (threads != 1)}"


def cpu_precision(*, timer: Timer = time.perf_counter, workload: Workload = conv_workload,
                  cache: Path | None | Literal["default"] = "default", refresh: bool = False) -> PrecisionTiming:
    """The fp32 and bf16 timings for this machine: from the cache file when it holds them
    (``refresh`` measures again), else measured now and stored; never fails for want of a
    cache (``cache``: a folder, None for none, "default" for :func:`cache_dir`).

    With the default timer and workload the answer is also kept for the process, so only
    the first call reads the file.
    """
    folder = cache_dir() if isinstance(cache, str) else cache
    path = folder / CACHE_FILE if folder is not None else None
    memo_key = str(path)
    plain = timer is time.perf_counter and workload is conv_workload
    if plain and not refresh and memo_key in _memo:
        return _memo[memo_key]
    key = machine_key()
    entry = None if refresh or path is None else _read(path).get(key)
    if entry is not None:
        timing = PrecisionTiming(float(entry["fp32_ms"]), float(entry["bf16_ms"]), int(entry["threads"]),
                                 cached=True, path=path)
    else:
        fp32 = time_workload(torch.float32, timer=timer, workload=workload)
        bf16 = time_workload(torch.bfloat16, timer=timer, workload=workload)
        stored = path is not None and _write(path, key, fp32, bf16)
        timing = PrecisionTiming(fp32, bf16, MEASURE_THREADS, cached=False, path=path if stored else None)
    if plain:
        _memo[memo_key] = timing
    return timing


def cpu_model() -> str:
    """The CPU's model name, e.g. ``Intel(R) Xeon(R) Processor``."""
    return _cpu_identity()[0]


_memo: dict[str, PrecisionTiming] = {}
_cache_lock = threading.Lock()


def _cpu_identity() -> tuple[str, str]:
    """(model name, flags) from /proc/cpuinfo, else what ``platform`` says."""
    model, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            name, _, value = line.partition(":")
            name = name.strip()
            if name == "model name" and not model:
                model = value.strip()
            elif name in ("flags", "Features") and not flags:
                flags = " ".join(sorted(value.split()))
            if model and flags:
                break
    except OSError:
        pass
    return model or platform.processor() or platform.machine() or "unknown CPU", flags


def _read(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("entries"), dict):
        return {}
    good = {}
    for key, entry in data["entries"].items():
        try:
            if float(entry["fp32_ms"]) > 0 and float(entry["bf16_ms"]) > 0 and int(entry["threads"]) > 0:
                good[key] = entry
        except (KeyError, TypeError, ValueError):
            continue
    return good


def _write(path: Path, key: str, fp32_ms: float, bf16_ms: float) -> bool:
    """Add this machine's entry to the cache file (atomically: a reader sees the old file or
    the new one); False when it cannot be written."""
    entry = {"fp32_ms": round(fp32_ms, 3), "bf16_ms": round(bf16_ms, 3), "threads": MEASURE_THREADS,
             "workload": WORKLOAD, "cpu": cpu_model(), "torch": torch.__version__,
             "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    with _cache_lock:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            entries = _read(path)
            entries[key] = entry
            partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
            try:
                partial.write_text(json.dumps({"format": CACHE_FORMAT, "entries": entries}, indent=1) + "\n")
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
        except OSError:
            return False
    return True
