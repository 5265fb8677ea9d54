"""Start-up and memory of `cnnzoo summary` against `import torch` (issue #30): whole processes, alternating in
rounds, each under ``benchmarks/_peak_rss.py`` (peak resident memory at exit).

    python benchmarks/bench_startup.py        # 5 rounds, ~1 min on 2 quiet cores; writes BENCHMARKS.md
    python benchmarks/bench_startup.py --models alexnet resnet50 nasnet_a_large --rounds 3 --no-write

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


def main(argv: list[str] | None = None) -> int:
    from cnnzoo.timing import cpu_description, interleaved_processes, median, write_section

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["alexnet", "resnet50", "inception_v3", "nasnet_a_large"])
    ap.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds (default 5; the first warms up)"
    )
    ap.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # `import torch` under the same launcher: a one-line script that imports torch
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / "cnnzoo_import_torch.py"
    probe.write_text("import torch  # noqa: F401\n")
    commands = {"import torch": [sys.executable, PEAK, str(probe)]}
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
    rows, worst = [], (0.0, 0.0)
    for name, runs in kept.items():
        wall, rss = median([r.wall for r in runs]), median([_rss(r.output) for r in runs])
        spread = f"{min(r.wall for r in runs):.2f}-{max(r.wall for r in runs):.2f}"
        # paired: each run against the same round's `import torch`, so a slow stretch hits both sides
        over = median([r.wall - b.wall for r, b in zip(runs, kept["import torch"])])
        extra = "" if name == "import torch" else f"+{over:.2f} s, +{rss - base_rss:.0f} MiB"
        if name != "import torch":
            worst = (max(worst[0], over), max(worst[1], rss - base_rss))
        rows.append(f"| `{name}` | {wall:.2f} ({spread}) | {rss:.0f} | {extra} |")
    body = "\n".join(
        [
            f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `benchmarks/bench_startup.py` "
            f"({args.rounds} alternating rounds of whole processes, the first a warm-up). CPU: {cpu}.",
            "",
            "| command | median wall s (min-max) | peak RSS MiB | over `import torch` (median of rounds) |",
            "|---|---:|---:|---|",
            *rows,
            "",
            "Targets (issue #30): a summary <= `import torch` + 0.5 s and + 150 MB.",
            summary_line(
                "start-up: `cnnzoo summary MODEL` over `import torch`",
                f"**+{worst[0]:.2f} s, +{worst[1]:.0f} MiB** at most ({', '.join(args.models)})",
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
