"""What every benchmark script shares: the machine's description and writing its section of BENCHMARKS.md.

A section sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; other sections are kept. Headline
figures are marked with :func:`summary_line` (an HTML comment inside the section, invisible on the page), and
``scripts/bench_summary.py`` collects them into the README's summary table, so that table is written by the
scripts too, never by hand.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_line() -> str:
    """``MODEL, N threads, flags`` of this CPU (from /proc/cpuinfo): ``AMD EPYC, 2 threads, avx2 ...``."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path("/proc/cpuinfo").read_text()
        model = re.search(r"^model name\s*:\s*(.+)$", text, re.M).group(1).strip()
        flags = set(re.search(r"^flags\s*:\s*(.+)$", text, re.M).group(1).split())
    except (OSError, AttributeError):
        pass
    try:
        import torch

        threads = torch.get_num_threads()
    except ImportError:
        threads = os.cpu_count() or 1
    isa = [f for f in ISA_FLAGS if f in flags]
    if "amx_bf16" not in flags:
        isa.append("no AMX")
    return f"{model}, {threads} threads, {' '.join(isa)}"


def summary_line(what: str, measured: str, target: str = "", cpu: str = "") -> str:
    """A headline figure for the README's summary table (an invisible comment in BENCHMARKS.md); ``cpu``
    (e.g. :func:`cpu_line`) for speed figures."""
    raw = (what, measured, target, cpu)
    cells = [" ".join(c.replace("|", "/").replace("-->", "->").split()) for c in raw]
    return "<!-- summary: " + " | ".join(cells) + " -->"


def write_section(path: Path, start: str, end: str, body: str, title: str) -> None:
    """Replace the text between ``start`` and ``end`` in ``path`` (appending the section under ``## title``
    if absent); written atomically."""
    text = path.read_text() if path.is_file() else "# cnnzoo benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n{block}\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
