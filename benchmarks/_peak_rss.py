"""Run a module (``-m NAME ARGS...``) or a script (``PATH ARGS...``) in this interpreter and print its peak
resident memory at exit (``peak RSS N MiB``, from ``getrusage``), so a benchmark that times whole processes
also states their memory: ``python benchmarks/_peak_rss.py -m cnnzoo summary alexnet``."""

from __future__ import annotations

import atexit
import resource
import runpy
import sys


def _report() -> None:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"peak RSS {kib / 1024:.0f} MiB", file=sys.stderr, flush=True)


def main() -> None:
    atexit.register(_report)
    args = sys.argv[1:]
    if args[:1] == ["-m"]:
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
