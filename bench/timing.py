"""Timing and where it was taken: stopwatches, per-item times, the CPU's flags, its load, the versions.

Every measured table names the machine it was measured on; ``environment()`` is that line (the command, the
commit, the CPU with its ``lscpu`` flags, the load average at the start and at the end, the libraries' versions).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import cv2

from bench.data import REPO

#: the 1-minute load average when the benchmarks started
LOAD_AT_START = os.getloadavg()[0]
#: the instruction-set flags that decide inference speed (LiteRT/XNNPACK kernels differ by them)
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


def warn_if_busy() -> None:
    """A warning on stderr when other work shared the cores as the benchmarks started."""
    if LOAD_AT_START > 0.5:
        print(f"bench: warning: load average {LOAD_AT_START:.2f} at the start: other work shares the cores, "
              "so the timings understate both sides", file=sys.stderr)


def cpu_flags() -> str:
    """The SIMD flags of this CPU that matter for inference speed, as ``lscpu`` lists them (``avx2 fma ... no avx512f``)."""
    try:
        flags = set(next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        return "unknown"
    have = [f for f in SIMD_FLAGS if f in flags]
    return " ".join(have) + ("" if "avx512f" in flags else " (no avx512f)")


def environment() -> str:
    """Where and how the figures were taken: CPU, load, versions, commit."""
    from bench.fer_side import fer_version

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    try:
        from importlib.metadata import version

        litert = version("ai-edge-litert")
    except Exception:  # noqa: BLE001 - only informative
        litert = "not installed"
    script = Path(sys.argv[0]).resolve()
    script = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return (f"`python {' '.join([str(script), *sys.argv[1:]])}` at commit {commit}, "
            f"{time.strftime('%Y-%m-%d %H:%M %Z')}  \n"
            f"{cpu}, {cores} cores (CPU flags: {cpu_flags()}), load average {LOAD_AT_START:.2f} at the start and {load} at the end; "
            f"Python {platform.python_version()}, "
            f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads), LiteRT {litert}, fer {fer_version()}")


class Stopwatch:
    """Seconds spent per named stage, summed over calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


def timed(work: Callable[[], object]) -> tuple[object, float]:
    """``work()``'s result and the seconds it took."""
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def best_ms_per_item(work: Callable[[], object], items: int, rounds: int = 3) -> float:
    """Milliseconds per item of the fastest of ``rounds`` runs of ``work`` (which handles ``items`` items)."""
    best = min(timed(work)[1] for _ in range(rounds))
    return 1000 * best / max(items, 1)


def ms_per_item(call: Callable[[], object], items: int, seconds: float, warm_up: int = 2, min_calls: int = 3) -> float:
    """Milliseconds per item of ``call()`` (which handles ``items`` items), after ``warm_up`` calls, called for at
    least ``seconds`` seconds and ``min_calls`` times."""
    for _ in range(warm_up):
        call()
    n, start = 0, time.perf_counter()
    while n < min_calls or time.perf_counter() - start < seconds:
        call()
        n += 1
    return (time.perf_counter() - start) / (n * items) * 1000
