"""Write the README's benchmark summary from the headline figures the benchmark scripts left in BENCHMARKS.md.

    python scripts/bench_summary.py            # print the table
    python scripts/bench_summary.py --write    # replace README.md's <!-- bench-summary --> section

Each script in ``benchmarks/`` marks its headline figures with ``benchmarks/_report.py:summary_line`` (an HTML
comment inside its section of BENCHMARKS.md); this collects them in the file's order, so the README's table is
never typed by hand and changes only when a benchmark is re-run.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from _blocks import replace_block  # noqa: E402

START, END = "<!-- bench-summary:start -->", "<!-- bench-summary:end -->"
LINE = re.compile(r"^<!-- summary: (.*) -->$", re.M)


def table(benchmarks_md: Path) -> str:
    rows = [[c.strip() for c in m.split(" | ")] for m in LINE.findall(benchmarks_md.read_text())]
    if not rows:
        raise SystemExit(f"{benchmarks_md} has no summary lines; run the scripts in benchmarks/ first")
    out = [
        "Headline figures, written by the scripts in `benchmarks/` (full tables, commands and machines in "
        "[BENCHMARKS.md](BENCHMARKS.md)):",
        "",
        "| what | measured | target | machine |",
        "|---|---|---|---|",
    ]
    out += ["| " + " | ".join((r + ["", "", "", ""])[:4]) + " |" for r in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite README.md's summary section")
    ap.add_argument("--benchmarks", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = ap.parse_args(argv)
    text = table(args.benchmarks)
    if not args.write:
        print(text)
        return 0
    replace_block(args.readme, START, END, text)
    print(f"wrote the benchmark summary into {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
