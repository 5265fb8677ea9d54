"""What every benchmark script shares: the machine's description and writing its section of BENCHMARKS.md.

A section sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; other sections are kept. Headline
figures are marked with :func:`summary_line` (an HTML comment inside the section, invisible on the page), and
``scripts/bench_summary.py`` collects them into the README's summary table, so that table is written by the
scripts too, never by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
#: Run a whole process under this launcher (``python PEAK_RSS -m cnnzoo ...``) to get its peak memory line.
PEAK_RSS = str(ROOT / "benchmarks" / "_peak_rss.py")
_RSS = re.compile(r"peak RSS ([0-9]+) MiB")


def peak_rss_mib(output: str) -> float:
    """The peak resident memory that :data:`PEAK_RSS` printed into a process's ``output`` (NaN if none)."""
    m = _RSS.findall(output)
    return float(m[-1]) if m else float("nan")


def cpu_line() -> str:
    """The CPU of a speed figure: model, cores, AMX or not, the flags that matter (:mod:`cnnzoo.timing`)."""
    from cnnzoo.timing import cpu_description

    return cpu_description()


def summary_line(what: str, measured: str, target: str = "", cpu: str = "") -> str:
    """A headline figure for the README's summary table (an invisible comment in BENCHMARKS.md); ``cpu``
    (e.g. :func:`cpu_line`) for speed figures."""
    raw = (what, measured, target, cpu)
    cells = [" ".join(c.replace("|", "/").replace("-->", "->").split()) for c in raw]
    return "<!-- summary: " + " | ".join(cells) + " -->"


def write_section(path: Path, start: str, end: str, body: str, title: str) -> None:
    """Replace the text between the markers ``start`` (``<!-- NAME:start -->``) and ``end`` in ``path``
    (appending the section under ``## title`` if absent), atomically: :func:`cnnzoo.timing.write_section`."""
    from cnnzoo.timing import write_section as write

    m = re.fullmatch(r"<!-- (.+):start -->", start)
    if m is None or end != f"<!-- {m.group(1)}:end -->":
        raise ValueError(f"markers must be <!-- NAME:start --> and <!-- NAME:end -->, got {start!r}, {end!r}")
    write(path, m.group(1), body, title)
