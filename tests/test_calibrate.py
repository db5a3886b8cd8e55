"""``--precision auto`` on the CPU: decided by a timing, kept per machine, shown by doctor.

No test here times the machine: a fake machine's workload advances a fake clock by what
each precision "costs", so the figures and the choice are exact.
"""

from __future__ import annotations

import json

import pytest
import torch

from videostyle.engine import calibrate, devices


class FakeMachine:
    """A timer and a workload: running the workload in a dtype advances the timer by that
    dtype's cost (seconds); ``hiccups`` (a run index -> extra seconds) disturb some runs."""

    def __init__(self, fp32: float, bf16: float, hiccups: dict[int, float] | None = None) -> None:
        self.now = 100.0
        self.cost = {torch.float32: fp32, torch.bfloat16: bf16}
        self.hiccups = hiccups or {}
        self.runs = 0
        self.threads_seen: list[int] = []

    def timer(self) -> float:
        return self.now

    def workload(self, dtype: torch.dtype):
        def run() -> None:
            self.threads_seen.append(torch.get_num_threads())
            self.now += self.cost[dtype] + self.hiccups.get(self.runs, 0.0)
            self.runs += 1
        return run


def measure(machine: FakeMachine, folder, **kwargs) -> calibrate.PrecisionTiming:
    return calibrate.cpu_precision(timer=machine.timer, workload=machine.workload, cache=folder, **kwargs)


@pytest.mark.parametrize(("fp32", "bf16", "choice"), [
    (0.0530, 0.0075, "bf16"),  # AMX: bf16 7x faster
    (0.0073, 0.0114, "fp32"),  # AVX-512 BF16 without AMX: bf16 1.6x slower (issue 26)
    (0.0100, 0.0095, "fp32"),  # bf16 ahead by 5%: within the margin, fp32 stays
    (0.0100, 0.0090, "bf16"),  # ahead by 11%
])
def test_auto_picks_what_the_timing_finds_faster(tmp_path, fp32, bf16, choice):
    timing = measure(FakeMachine(fp32, bf16), tmp_path)
    assert timing.fp32_ms == pytest.approx(fp32 * 1000) and timing.bf16_ms == pytest.approx(bf16 * 1000)
    assert timing.choice == choice


def test_the_best_run_counts_and_the_first_is_not_timed(tmp_path):
    # run 0 (fp32's untimed first run) and run 2 (a timed one) are slowed down by other work
    machine = FakeMachine(0.010, 0.005, hiccups={0: 5.0, 2: 1.0})
    timing = measure(machine, tmp_path)
    assert (timing.fp32_ms, timing.bf16_ms) == (pytest.approx(10.0), pytest.approx(5.0))
    assert machine.runs == 2 * (1 + calibrate.REPEATS)


def test_timed_once_then_read_from_the_cache(tmp_path):
    machine = FakeMachine(0.0073, 0.0114)
    first = measure(machine, tmp_path)
    assert not first.cached and first.path == tmp_path / calibrate.CACHE_FILE and first.path.is_file()
    assert "measured now" in first.source
    runs = machine.runs
    again = measure(machine, tmp_path)
    assert machine.runs == runs  # nothing timed
    assert again.cached and again.choice == "fp32"
    assert again.fp32_ms == pytest.approx(first.fp32_ms, abs=1e-3)
    assert again.bf16_ms == pytest.approx(first.bf16_ms, abs=1e-3)
    assert "cached in" in again.source
    stored = json.loads(first.path.read_text())["entries"]
    assert list(stored) == [calibrate.machine_key()]
    refreshed = measure(FakeMachine(0.010, 0.005), tmp_path, refresh=True)
    assert not refreshed.cached and refreshed.choice == "bf16"


def test_another_torch_version_or_cpu_is_timed_again(tmp_path, monkeypatch):
    measure(FakeMachine(0.0073, 0.0114), tmp_path)
    monkeypatch.setattr(torch, "__version__", "9.9.9")
    machine = FakeMachine(0.010, 0.005)
    assert not measure(machine, tmp_path).cached and machine.runs > 0
    monkeypatch.setattr(calibrate, "_cpu_identity", lambda: ("Another CPU", "fpu sse avx512f"))
    machine = FakeMachine(0.010, 0.005)
    assert not measure(machine, tmp_path).cached and machine.runs > 0
    # each machine keeps its own entry
    assert len(json.loads((tmp_path / calibrate.CACHE_FILE).read_text())["entries"]) == 3


def test_the_key_names_the_cpu_torch_and_threads(monkeypatch):
    monkeypatch.setattr(calibrate, "_cpu_identity", lambda: ("Some Xeon", "avx512_bf16 avx512f"))
    key = calibrate.machine_key()
    assert "Some Xeon" in key and torch.__version__ in key and "1 thread" in key
    monkeypatch.setattr(calibrate, "_cpu_identity", lambda: ("Some Xeon", "amx_bf16 avx512_bf16 avx512f"))
    assert calibrate.machine_key() != key  # same model, other flags


@pytest.mark.parametrize("bad", ["{not json", json.dumps({"format": 0, "entries": {}}),
                                 json.dumps({"format": 1, "entries": {"k": {"fp32_ms": "x"}}})])
def test_a_damaged_cache_file_is_timed_again_and_rewritten(tmp_path, bad):
    (tmp_path / calibrate.CACHE_FILE).write_text(bad)
    timing = measure(FakeMachine(0.010, 0.005), tmp_path)
    assert not timing.cached and timing.choice == "bf16"
    assert measure(FakeMachine(1.0, 1.0), tmp_path).cached


def test_an_unwritable_cache_never_fails_the_run(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    timing = measure(FakeMachine(0.010, 0.005), blocker / "videostyle")  # a folder inside a file
    assert timing.choice == "bf16" and not timing.cached and timing.path is None
    assert "no writable cache folder" in timing.source
    assert list(tmp_path.iterdir()) == [blocker]  # nothing left behind
    assert measure(FakeMachine(0.010, 0.005), None).path is None  # no cache folder at all


def test_the_cache_lives_in_the_users_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert calibrate.cache_dir() == tmp_path / "xdg" / "videostyle"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # ignored (XDG spec): never under the cwd
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert calibrate.cache_dir() == tmp_path / "home" / ".cache" / "videostyle"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert calibrate.cache_dir() == tmp_path / "home" / ".cache" / "videostyle"


def test_timing_runs_on_one_thread_without_changing_the_callers(tmp_path):
    before = torch.get_num_threads()
    machine = FakeMachine(0.010, 0.005)
    measure(machine, tmp_path)
    assert set(machine.threads_seen) == {calibrate.MEASURE_THREADS}
    assert torch.get_num_threads() == before


def test_the_real_workload_runs_in_both_precisions():
    """The convolution itself (its speed is not looked at): the input gradient of a 3x3
    convolution of 0.01 everywhere, under a gradient of ones, is 9 * 256 * 0.01 inside."""
    for dtype in (torch.float32, torch.bfloat16):
        grad = calibrate.conv_workload(dtype)()
        assert grad.shape == (1, calibrate.CHANNELS, calibrate.SIDE, calibrate.SIDE) and grad.dtype == dtype
        inside = grad[..., 1:-1, 1:-1].float()
        assert torch.allclose(inside, torch.full_like(inside, 9 * calibrate.CHANNELS * 0.01), rtol=0.01)


def test_resolve_precision_auto_follows_the_timing_on_a_cpu_with_bf16_kernels(monkeypatch):
    cpu = torch.device("cpu")
    timings = {"bf16": calibrate.PrecisionTiming(10.0, 5.0, 1, cached=True, path=None),
               "fp32": calibrate.PrecisionTiming(7.3, 11.4, 1, cached=True, path=None)}
    monkeypatch.setattr(devices, "cpu_has_bf16_kernels", lambda: True)
    for choice, timing in timings.items():
        monkeypatch.setattr(devices, "cpu_precision", lambda timing=timing: timing)
        assert devices.resolve_precision(cpu, "auto") == (torch.bfloat16 if choice == "bf16" else None)

    def never() -> calibrate.PrecisionTiming:
        raise AssertionError("timed although the CPU has no bf16 kernels")

    monkeypatch.setattr(devices, "cpu_has_bf16_kernels", lambda: False)
    monkeypatch.setattr(devices, "cpu_precision", never)
    assert devices.resolve_precision(cpu, "auto") is None
    # the GPU rules are untouched and never time the CPU
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert devices.resolve_precision(torch.device("cuda"), "auto") is torch.bfloat16
    assert devices.resolve_precision(torch.device("mps"), "auto") is None


def test_doctor_shows_the_figures_the_choice_and_where_they_came_from(tmp_path, monkeypatch):
    from videostyle.cli import doctor

    machine = FakeMachine(0.0073, 0.0114)
    measured = measure(machine, tmp_path)
    cached = measure(machine, tmp_path)
    monkeypatch.setattr(devices, "cpu_has_bf16_kernels", lambda: True)
    monkeypatch.setattr(calibrate, "cpu_precision", lambda: measured)
    monkeypatch.setattr(devices, "cpu_precision", lambda: measured)
    report = doctor.environment(device="cpu")
    assert report["precision"] == "fp32"
    line = report["precision auto"]
    assert line.startswith("fp32: fp32 7.3 ms, bf16 11.4 ms") and f"measured now, cached in {tmp_path}" in line
    assert report["threads"].startswith(f"{torch.get_num_threads()} (OMP_WAIT_POLICY=")
    monkeypatch.setattr(calibrate, "cpu_precision", lambda: cached)
    assert "cached in" in doctor.environment(device="cpu")["precision auto"]
    assert doctor._precision_auto(torch.device("cuda")).startswith("not timed on cuda")


def test_openmp_threads_wait_passively_unless_the_user_says_otherwise(tmp_path):
    """Set when videostyle is imported, before torch loads libgomp (which reads it once)."""
    import os
    import subprocess
    import sys

    code = "import videostyle, os, torch; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "PASSIVE"
    run = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "active"},
                         capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "active"
