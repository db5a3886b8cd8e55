"""Device and precision: resolved once here, used everywhere else.

This is the only module that asks torch which accelerators exist. ``auto`` prefers CUDA,
then Apple's MPS, then the CPU. On the CPU, precision ``auto`` is decided by a timing
(see :mod:`engine.calibrate`), not by the CPU's flags.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import DEVICE_CHOICES, PRECISION_CHOICES
from ..errors import BadOption, S
from .calibrate import cpu_precision


@dataclass(frozen=True)
class Compute:
    """Where and how the loss network runs.

    ``dtype`` is the dtype the VGG pass runs in (None: plain float32), its weights cast
    once. Losses and the optimized image always stay float32.
    """

    device: torch.device
    dtype: torch.dtype | None

    @property
    def name(self) -> str:
        """Human-readable summary, e.g. ``cpu (bf16)``."""
        precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]
        return f"{self.device} ({precision})"


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|mps`` (or ``cuda:N``) into a device that exists here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise BadOption(S.device, f" {name}: unknown device; choose one of {', '.join(DEVICE_CHOICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise BadOption(S.device, f" {name}: no CUDA GPU is visible to torch; use ", S.device, " cpu or auto")
    if kind == "cuda" and ":" in name:
        index, count = int(name.split(":")[1]), torch.cuda.device_count()
        if index >= count:
            raise BadOption(S.device, f" {name}: torch sees {count} CUDA GPU{'s' if count != 1 else ''} "
                            f"(cuda:0 to cuda:{count - 1})")
    if kind == "mps" and not _mps_available():
        raise BadOption(S.device, f" {name}: Apple MPS is not available here; use ", S.device, " cpu or auto")
    return torch.device(name)


def resolve_precision(device: torch.device, name: str = "auto") -> torch.dtype | None:
    """Pick the dtype the loss network runs in on ``device``.

    ``auto``: on CUDA, bfloat16 where the GPU supports it, else float16. On a CPU with
    bf16 kernels (AVX-512), whichever of bf16 and fp32 a short timed convolution finds
    faster, bf16 only by a margin (timed on one thread, once per CPU and torch version,
    then read from the user's cache: :func:`calibrate.cpu_precision`): having bf16
    instructions does not make them fast, and without AMX bf16 ran 1.6-1.8x slower.
    float32 elsewhere. The result looks the same either way.
    """
    if name not in PRECISION_CHOICES:
        raise BadOption(S.precision, f" {name}: choose one of {', '.join(PRECISION_CHOICES)}")
    if name == "fp32":
        return None
    if name == "bf16":
        return torch.bfloat16
    if name == "fp16":
        if device.type == "cpu":
            raise BadOption(S.precision, " fp16: not supported on the CPU; use bf16 or fp32")
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_bf16_kernels() and cpu_precision().choice == "bf16":
        return torch.bfloat16
    return None


def resolve_compute(device: str = "auto", precision: str = "auto") -> Compute:
    """Resolve both settings at once (what the CLI and the API call)."""
    dev = resolve_device(device)
    return Compute(device=dev, dtype=resolve_precision(dev, precision))


def prepare(compute: Compute, *, bounded: bool = False) -> None:
    """Process-wide settings that make the loss network fast on ``compute.device``; cheap
    to call again. A job's pictures keep one size, so the fastest kernels are found once:
    cuDNN's autotuner on CUDA, and on the CPU memory that stays mapped between evaluations
    (see :func:`keep_freed_memory`), unless the job is ``bounded`` (it has a memory limit)
    or the process is (``ulimit -v``, where kept blocks hold address space): then freed
    memory goes back to the system (see :func:`return_freed_memory`)."""
    if compute.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    elif compute.device.type == "cpu":
        if bounded or address_space_left() is not None:
            return_freed_memory()
        else:
            keep_freed_memory()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -3, -4, -8  # glibc's mallopt() parameters
_INT_MAX = 2**31 - 1
_DEFAULT_TRIM, _DEFAULT_MMAP_MAX = 128 * 1024, 65536  # glibc's own defaults
# Under a limit, a tensor this large or larger is a mapping of its own, unmapped when freed.
# Measured (2048x1536, --max-memory 2GB, 12-15 tiles, fp32 image buffers and bf16 activations;
# /proc/self/status VmHWM and mallinfo2): with freed blocks kept the heap grew to 2.26 GiB
# while at most 1.23 GiB of it was in use at once (tiles and Gram-pass tiles of several shapes
# leave holes the next shape does not fit), peak RSS 2.46 GiB over a 2 GiB limit; with this
# threshold the peak was 1.45 GiB, the heap 0.13 GiB (its speed not timed: a shared machine).
RETURN_THRESHOLD = 2**20
_allocator_lock = threading.Lock()
_allocator_mode: str | None = None  # "keep" or "return", once set


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed blocks for reuse instead of unmapping them (for this
    process from now on; False where the C library is not glibc).

    A CPU tensor over 32 MB is a fresh mmap by default, and the kernel zeroes each of its
    pages on first touch: measured 19 ms to allocate and fill a 39 MB activation at
    640x480 against 1.5 ms for a reused one, and an evaluation allocates a hundred of
    them: kept, an evaluation takes 0.84x the time at 640x480 (1 thread, CPU seconds;
    1.00x at 256x192, where no tensor reaches 32 MB). All threads share one arena, so a
    worker thread's large tensors are reused too (a thread arena cannot hold more than
    64 MB); that holds for threads started after the first call. Freed memory stays with
    the process; :func:`free_memory` counts it as free. Up to 2 GB at the top of the heap
    is kept (mallopt takes an int); more is returned to the system. The price is the
    heap's holes: see :func:`return_freed_memory` for a job with a memory limit.
    """
    return _set_allocator("keep", ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _INT_MAX), (_M_ARENA_MAX, 1)))


def return_freed_memory() -> bool:
    """Make glibc's malloc give freed memory back to the system (for this process from now
    on; False where the C library is not glibc): what a job with a memory limit needs.

    Each block of RETURN_THRESHOLD or more (every activation that matters) is a mapping of
    its own, unmapped when it is freed, so the process's resident memory follows what its
    tensors hold; the heap keeps only small blocks and is trimmed now of what
    :func:`keep_freed_memory` kept.
    """
    done = _set_allocator("return", ((_M_MMAP_THRESHOLD, RETURN_THRESHOLD), (_M_MMAP_MAX, _DEFAULT_MMAP_MAX),
                                     (_M_TRIM_THRESHOLD, _DEFAULT_TRIM), (_M_ARENA_MAX, 1)))
    libc = _glibc()
    if done and libc is not None:
        libc.malloc_trim(0)
    return done


def allocator_mode() -> str | None:
    """``keep`` or ``return`` (see :func:`keep_freed_memory`), None before either was set."""
    return _allocator_mode


def _set_allocator(mode: str, options: tuple[tuple[int, int], ...]) -> bool:
    global _allocator_mode
    with _allocator_lock:
        if _allocator_mode != mode:
            libc = _glibc()
            if libc is None:
                return False
            for option, value in options:
                libc.mallopt(option, value)
            _allocator_mode = mode
    return True


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError on musl
    except (OSError, AttributeError):
        return None
    return libc


def allocator_free_bytes() -> int:
    """Bytes malloc holds freed and ready for reuse (0 where unknown)."""
    libc = _glibc() if _allocator_mode == "keep" else None
    info = getattr(libc, "mallinfo2", None) if libc is not None else None
    if info is None:
        return 0
    info.restype = _Mallinfo2
    return int(info().fordblks)


def free_memory(device: torch.device) -> int | None:
    """Bytes a job may still allocate on ``device`` (None when unknown).

    CUDA: free GPU memory plus what torch has cached but not used. CPU and MPS (which
    shares the system's memory): available RAM, within the container's limit if one is set
    and within the address space the process may still map (``ulimit -v``), plus on the CPU
    what malloc keeps for reuse (see :func:`keep_freed_memory`).
    """
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + cached)
    ram = available_ram()
    room = address_space_left()
    if room is not None:
        ram = room if ram is None else min(ram, room)
    if ram is not None and device.type == "cpu":
        ram += allocator_free_bytes()
    return ram


def address_space_left() -> int | None:
    """Bytes of address space this process may still map under its limit (``ulimit -v``,
    RLIMIT_AS) less what it has mapped (VmSize); None without a limit. Under such a limit an
    allocation fails when the mappings would pass it, however much RAM is free."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return None
    if limit == resource.RLIM_INFINITY or limit < 0:
        return None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(0, limit - int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return None


def available_ram() -> int | None:
    """Available RAM in bytes: /proc/meminfo's MemAvailable (else sysconf's free pages),
    capped by a cgroup v2 memory limit; None when the system does not say."""
    ram: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                ram = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    if ram is None:
        try:
            ram = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            ram = min(ram, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return ram


def spare_cores(compute: Compute) -> int:
    """CPU cores the loss network leaves free for other work (optical flow): all but torch's
    threads when it runs on the CPU, all but the one feeding an accelerator. At least 1:
    a job that needs the work gets a core even when none is spare."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = torch.get_num_threads() if compute.device.type == "cpu" else 1
    return max(1, cores - busy)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels (for honest timings on accelerators)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def cpu_has_bf16_kernels() -> bool:
    """Whether oneDNN has bf16 kernels for this CPU (x86 with AVX-512; AVX-512 BF16 and AMX
    make them faster, but only a timing says whether faster than fp32)."""
    checker = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(checker()) if checker is not None else False
    except RuntimeError:
        return False

