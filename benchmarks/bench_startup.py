"""Start-up and memory of `cnnzoo summary` against `import torch` (issue #30): whole processes, alternating in
rounds, each under ``benchmarks/_peak_rss.py`` (peak resident memory at exit).

    python benchmarks/bench_startup.py        # 5 rounds, ~2 min on 2 quiet cores; writes BENCHMARKS.md
    python benchmarks/bench_startup.py --models alexnet resnet50 nasnet_a_large --rounds 3 --no-write

By default the models are alexnet and resnet50 (the lectures' examples) and the 3 registered models whose
summary takes longest, found by timing every registered model's summary in one process first (after a
warm-up): "any registered model" is checked on the slowest, not on a list chosen by hand.

Targets: ``cnnzoo summary MODEL`` <= ``import torch`` + 0.5 s wall and + 150 MB peak RSS, for any registered
model (the summary builds and profiles on the meta device without importing ``torch._dynamo``:
:mod:`cnnzoo.meta`).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _report import PEAK_RSS as PEAK  # noqa: E402
from _report import peak_rss_mib as _rss  # noqa: E402
from _report import summary_line  # noqa: E402

NOGC = "import torch (collector off)"


def slowest(k: int, env: dict[str, str]) -> list[tuple[float, str]]:
    """The ``k`` registered models whose ``cnnzoo summary`` takes longest in one process (seconds, name),
    slowest first: each summary timed once after one warm-up summary, output discarded."""
    import json
    import subprocess

    code = (
        "import contextlib, io, json, time\n"
        "import cnnzoo\n"
        "from cnnzoo.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['summary', 'alexnet'])\n"
        "out = []\n"
        "for n in cnnzoo.list_models():\n"
        "    t = time.perf_counter()\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(['summary', n])\n"
        "    out.append((time.perf_counter() - t, n))\n"
        "print(json.dumps(sorted(out, reverse=True)))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    if r.returncode:
        raise SystemExit(f"timing the summaries failed: {r.stderr.strip().splitlines()[-1:]}")
    return [(float(t), n) for t, n in json.loads(r.stdout.strip().splitlines()[-1])[:k]]


def main(argv: list[str] | None = None) -> int:
    from cnnzoo.timing import cpu_description, interleaved_processes, median, write_section

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--models", nargs="+", help="default: alexnet, resnet50 and the 3 slowest summaries, measured"
    )
    ap.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds (default 5; the first warms up)"
    )
    ap.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    chosen = ""
    if not args.models:
        slow = slowest(3, env)
        args.models = ["alexnet", "resnet50", *(n for _, n in slow if n not in ("alexnet", "resnet50"))]
        chosen = (
            "The models: alexnet, resnet50 and the registered models with the slowest summaries, timed in "
            "one process over all of them first: "
            + ", ".join(f"{n} {t:.2f} s" for t, n in slow)
            + " (in-process, after imports)."
        )
        print(chosen)
    # `import torch` under the same launcher: a one-line script that imports torch
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / "cnnzoo_import_torch.py"
    probe.write_text("import torch  # noqa: F401\n")
    # and with the garbage collector off, as cnnzoo's commands import it (cnnzoo.cli._args): the stricter
    # baseline, so that the figure shows what the collector's absence gives and what the rest costs
    probe_nogc = probe.with_name("cnnzoo_import_torch_nogc.py")
    probe_nogc.write_text("import gc\n\ngc.disable()\nimport torch  # noqa: E402, F401\n")
    commands = {
        "import torch": [sys.executable, PEAK, str(probe)],
        NOGC: [sys.executable, PEAK, str(probe_nogc)],
    }
    for m in args.models:
        commands[f"cnnzoo summary {m}"] = [sys.executable, PEAK, "-m", "cnnzoo", "summary", m]
    cpu = cpu_description()
    print(f"CPU: {cpu}\n{args.rounds} rounds, whole processes, alternating (round 1 is a warm-up)\n")

    def show(name: str, r: int, res) -> None:  # noqa: ANN001
        print(
            f"round {r + 1}  {name:<32} wall {res.wall:6.2f} s  RSS {_rss(res.output):5.0f} MiB", flush=True
        )

    results = interleaved_processes(commands, args.rounds, env=env, progress=show)
    if any(r.returncode for runs in results.values() for r in runs):
        print("a run failed; nothing written", file=sys.stderr)
        return 1
    kept = {k: v[1:] if len(v) > 1 else v for k, v in results.items()}  # round 1 warms the file cache
    base_rss = median([_rss(r.output) for r in kept["import torch"]])
    rows, worst, worst_nogc = [], (-9.0, 0.0), -9.0
    for name, runs in kept.items():
        wall, rss = median([r.wall for r in runs]), median([_rss(r.output) for r in runs])
        spread = f"{min(r.wall for r in runs):.2f}-{max(r.wall for r in runs):.2f}"
        # paired: each run against the same round's `import torch`, so a slow stretch hits both sides
        over = median([r.wall - b.wall for r, b in zip(runs, kept["import torch"])])
        over_nogc = median([r.wall - b.wall for r, b in zip(runs, kept[NOGC])])
        base = name in ("import torch", NOGC)
        extra = f"{over:+.2f} s, {rss - base_rss:+.0f} MiB" if name != "import torch" else ""
        extra_nogc = f"{over_nogc:+.2f} s" if not base else ""
        if not base:
            worst = (max(worst[0], over), max(worst[1], rss - base_rss))
            worst_nogc = max(worst_nogc, over_nogc)
        rows.append(f"| `{name}` | {wall:.2f} ({spread}) | {rss:.0f} | {extra} | {extra_nogc} |")
    body = "\n".join(
        [
            f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `benchmarks/bench_startup.py` "
            f"({args.rounds} alternating rounds of whole processes, the first a warm-up). CPU: {cpu}.",
            "",
            "| command | median wall s (min-max) | peak RSS MiB | over `import torch` (median of rounds) | "
            "over `import torch` with the collector off |",
            "|---|---:|---:|---|---|",
            *rows,
            "",
            *([chosen, ""] if chosen else []),
            "Targets (issue #30): a summary <= `import torch` + 0.5 s and + 150 MB. cnnzoo's commands import "
            "torch with the cyclic garbage collector off and then freeze what was imported "
            "(`cnnzoo.cli._args.imports_without_gc`); the last column compares with an `import torch` that "
            f"does the same: at most {worst_nogc:+.2f} s.",
            summary_line(
                "start-up: `cnnzoo summary MODEL` over `import torch`",
                f"**{worst[0]:+.2f} s, {worst[1]:+.0f} MiB** at most ({', '.join(args.models)}); "
                f"{worst_nogc:+.2f} s over a collector-off `import torch`",
                "<= +0.5 s, <= +150 MB",
                cpu,
            ),
        ]
    )
    print("\n" + body)
    if not args.no_write:
        write_section(args.out, "startup", body, "Start-up and memory: cnnzoo summary vs import torch")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
