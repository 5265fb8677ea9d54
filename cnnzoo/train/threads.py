"""How many CPU threads a training run uses: measured on the machine it runs on, not assumed.

A small network's steps are too short to split (LeNet-5 at batch 16: a few hundred microseconds of
arithmetic a step), so one thread can beat several; a ResNet's convolutions split well. Which wins depends
on the CPU, the network, the batch and torch's kernels, so :func:`choose_threads` times a few training
steps (forward and backward of a copy of the model on random inputs of the run's batch shape) at each
candidate count (1, 2, 4... up to the cores this process may use), in 7 interleaved rounds of at least
40 ms each, and keeps the fastest. (Six steps a round were too few: on a 2-core AMD EPYC they timed one
thread 1% faster than two for LeNet-5 at batch 16, where longer rounds time two threads 15-20% faster, as
whole training steps do.) The answer is stored per machine, torch version, model, input and batch size in
``~/.cache/cnnzoo/threads.json`` (``$XDG_CACHE_HOME`` honoured), so a rerun of the same command uses the
same count and repeats its result bit for bit (the count changes the order of float sums); ``--threads``
overrides it, and a resumed run keeps the count it started with.

Large models are not measured: above :data:`MEASURE_BELOW_MACS` multiply-accumulates per image a step
takes long enough that every core helps, and torch's default (all of them) is used.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

#: Models above this many MACs per image train on all cores without a measurement.
MEASURE_BELOW_MACS = 20e6
#: Part of the cache key: a new way of measuring replaces the answers of the old one.
PROBE = "probe2"


def cache_file() -> Path:
    """``$XDG_CACHE_HOME/cnnzoo/threads.json`` (default ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cnnzoo" / "threads.json"


def candidates(cores: int) -> list[int]:
    """1, 2, 4, ... up to ``cores``, and ``cores`` itself."""
    out, n = [], 1
    while n < cores:
        out.append(n)
        n *= 2
    return [*out, cores]


def cores_available() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def time_steps(
    model: nn.Module,
    input_shape: tuple[int, ...],
    counts: list[int],
    steps: int = 6,
    rounds: int = 7,
    memory_format: torch.memory_format = torch.contiguous_format,
    min_seconds: float = 0.04,
) -> dict[int, float]:
    """Median seconds per training step (forward + backward of ``model`` on random inputs of
    ``input_shape``) at each thread count of ``counts``, timed in ``rounds`` interleaved rounds after one
    warm-up round; a round runs at least ``steps`` steps and, where the warm-up timed them faster, as many
    as fill ``min_seconds`` (short rounds are noise). Leaves the global RNG and the thread count as it found
    them."""
    probe = copy.deepcopy(model).train().to(memory_format=memory_format)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(input_shape, generator=gen).contiguous(memory_format=memory_format)
    before = torch.get_num_threads()
    times: dict[int, list[float]] = {n: [] for n in counts}
    fill = 0
    try:
        with torch.random.fork_rng(devices=[]):  # dropout draws must not move the run's own random stream
            for r in range(rounds + 1):
                for n in counts:
                    torch.set_num_threads(n)
                    t0 = time.perf_counter()
                    for _ in range(steps):
                        out = probe(x)
                        main = out[0] if isinstance(out, (tuple, list)) else out
                        main.float().square().mean().backward()
                        probe.zero_grad(set_to_none=True)
                    spent = time.perf_counter() - t0
                    if r:  # round 0 warms up caches and kernels, and sizes the rounds
                        times[n].append(spent / steps)
                    else:
                        fill = max(fill, math.ceil(min_seconds / max(spent / steps, 1e-9)))
                if not r:
                    steps = min(max(steps, fill), 1000)
    finally:
        torch.set_num_threads(before)
    return {n: sorted(v)[len(v) // 2] for n, v in times.items()}


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _store(path: Path, key: str, entry: dict[str, Any]) -> None:
    """Add ``entry`` under ``key`` (atomic replace; a read-only or full cache only costs the next run a
    new measurement)."""
    try:
        data = _load_cache(path)
        data[key] = entry
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass


def choose_threads(
    model: nn.Module,
    model_name: str,
    input_size: tuple[int, int, int],
    batch_size: int,
    macs: int,
    memory_format: torch.memory_format = torch.contiguous_format,
) -> tuple[int, str]:
    """The thread count to train ``model`` with, and a sentence saying how it was chosen (see the module
    docstring). ``macs``: multiply-accumulates per image (large models skip the measurement)."""
    from ..timing import cpu_description

    cores = cores_available()
    if cores <= 1:
        return 1, "1 CPU core"
    if macs >= MEASURE_BELOW_MACS:
        return cores, f"{cores} threads (all cores: {macs / 1e6:.0f} M MACs per image splits well)"
    layout = "cl" if memory_format == torch.channels_last else "nchw"
    key = f"{cpu_description()} | torch {torch.__version__} | {model_name} {list(input_size)}"
    key += f" b{batch_size} {layout} {PROBE}"
    path = cache_file()
    hit = _load_cache(path).get(key)
    if isinstance(hit, dict) and isinstance(hit.get("threads"), int) and 1 <= hit["threads"] <= cores:
        return hit["threads"], f"{hit['threads']} thread(s), measured earlier on this machine ({path})"
    counts = candidates(cores)
    per_step = time_steps(model, (batch_size, *input_size), counts, memory_format=memory_format)
    best = min(per_step, key=lambda n: per_step[n])
    ms = {str(n): round(t * 1e3, 3) for n, t in per_step.items()}
    _store(path, key, {"threads": best, "ms_per_step": ms})
    timing = ", ".join(f"{n}: {t * 1e3:.2f} ms" for n, t in per_step.items())
    return best, f"{best} thread(s), measured now (forward + backward per step: {timing}; kept in {path})"
