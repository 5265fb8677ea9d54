"""Timing that survives a shared machine: calls (and whole processes) timed in interleaved rounds, and the
CPU they ran on. One module, used by :mod:`cnnzoo.deploy.bench`, :mod:`cnnzoo.deploy.quantize` and the
``benchmarks/`` scripts; it imports nothing heavy (no torch).

A figure timed alone on a shared or turbo-boosting machine drifts by 20-40% within a minute. Contenders
timed one after the other see different spells; called once each per round, in a rotating order, they see
the same ones, so their *ratios* are stable even when the absolute figures are not.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: The instruction-set extensions that decide which low-precision kernels a CPU runs natively.
KEY_FLAGS = ("amx_bf16", "amx_int8", "amx_tile", "avx512_bf16", "avx512_vnni", "avx_vnni", "avx512f", "avx2")


def time_callable(fn: Callable[[], Any], warmup: int, repeats: int) -> list[float]:
    """Seconds taken by each of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def interleaved_times(runners: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each call when every runner is called once per round, ``rounds`` times.

    Timing the backends one after the other lets a slow spell of a shared machine (a virtual CPU's neighbours,
    turbo and thermal states) fall on one backend only, and the ratios between backends swing by 20-40% from
    run to run. Interleaved, every backend sees the same spells; the starting backend rotates each round so
    none is always the one that follows, e.g., a cache-flushing large model."""
    names = list(runners)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for k in range(len(names)):
            n = names[(r + k) % len(names)]
            t0 = time.perf_counter()
            runners[n]()
            times[n].append(time.perf_counter() - t0)
    return times


@dataclass
class ProcessTime:
    """One whole-process run: wall seconds, CPU seconds (user + sys of the process and its children), exit
    status and the last line it printed."""

    wall: float
    cpu: float
    returncode: int
    output: str

    @property
    def last_line(self) -> str:
        lines = [ln for ln in self.output.splitlines() if ln.strip()]
        return lines[-1] if lines else ""


def run_process(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 600) -> ProcessTime:
    """Run ``argv`` to its end and measure it (wall clock and the CPU time of the children it adds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ProcessTime(wall, cpu, r.returncode, r.stdout + r.stderr)


def interleaved_processes(
    commands: dict[str, Sequence[str] | Callable[[int], Sequence[str]]],
    rounds: int,
    env: dict[str, str] | None = None,
    progress: Callable[[str, int, ProcessTime], None] | None = None,
    timeout: float = 600,
) -> dict[str, list[ProcessTime]]:
    """Each command run as a whole process once per round, in rotating order, ``rounds`` times (start-up,
    imports and data loading included: what a user waits for). A command may be a function of the round
    number (e.g. a fresh output folder each time); ``progress(name, round, result)`` is called after each;
    a process still running after ``timeout`` seconds is killed (``subprocess.TimeoutExpired``)."""
    names = list(commands)
    out: dict[str, list[ProcessTime]] = {n: [] for n in names}
    for r in range(rounds):
        for k in range(len(names)):
            n = names[(r + k) % len(names)]
            cmd = commands[n]
            res = run_process(cmd(r) if callable(cmd) else cmd, env=env, timeout=timeout)
            out[n].append(res)
            if progress is not None:
                progress(n, r, res)
    return out


def write_section(path: str | os.PathLike[str], name: str, body: str, title: str) -> None:
    """Put ``body`` into the Markdown file ``path`` between ``<!-- name:start -->`` and ``<!-- name:end -->``
    (a new ``## title`` section at the end when the markers are absent; the rest of the file is kept),
    written atomically."""
    from pathlib import Path

    p = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = p.read_text() if p.is_file() else "# cnnzoo benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n{block}\n"
    from .outputs import write_atomic

    write_atomic(p, text, "benchmark report")


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (the mean of the middle two for an even count)."""
    v = sorted(values)
    if not v:
        raise ValueError("median of no values")
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


def cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_description() -> str:
    """One line for a speed table: model, cores this process may use, and the key flags it has."""
    flags = cpu_flags()
    have = [f for f in KEY_FLAGS if f in flags]
    amx = "AMX" if any(f.startswith("amx") for f in flags) else "no AMX"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu_model()}, {cores} cores, {amx}; flags: {', '.join(have) or 'none of ' + ', '.join(KEY_FLAGS)}"
    )


__all__ = [
    "KEY_FLAGS",
    "ProcessTime",
    "cpu_description",
    "cpu_flags",
    "cpu_model",
    "interleaved_processes",
    "interleaved_times",
    "median",
    "run_process",
    "time_callable",
    "write_section",
]
