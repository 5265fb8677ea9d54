"""Time ``cnnzoo.profile`` against fvcore's FlopCountAnalysis and torchinfo.summary on the same models, in one
run, and write the result into BENCHMARKS.md (between ``<!-- bench-profile:start -->`` and
``<!-- bench-profile:end -->``; other sections are kept).

    python benchmarks/bench_profile.py                       # all models, 3 repeats, writes BENCHMARKS.md
    python benchmarks/bench_profile.py --models resnet18 --repeats 1 --size 64 --no-write   # quick check

fvcore and torchinfo run real forward passes on the CPU (they need real tensors); ``profile`` runs on
``meta``. Each figure is the median of ``--repeats`` runs after one warm-up. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision

from cnnzoo.analysis import profile

START, END = "<!-- bench-profile:start -->", "<!-- bench-profile:end -->"
MODELS = ("vgg19", "resnet50", "googlenet", "mobilenet_v2", "densenet121")


def _build(name: str) -> torch.nn.Module:
    kw = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    return getattr(torchvision.models, name)(weights=None, **kw).eval()


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(models: list[str], size: int, repeats: int) -> list[dict]:
    from fvcore.nn import FlopCountAnalysis
    from torchinfo import summary

    rows = []
    for name in models:
        m = _build(name)
        x = torch.randn(1, 3, size, size)

        def fv(m=m, x=x) -> int:
            f = FlopCountAnalysis(m, x)
            f.unsupported_ops_warnings(False)
            f.uncalled_modules_warnings(False)
            return sum(
                v for k, v in f.by_operator().items() if k in ("conv", "linear", "matmul", "addmm", "bmm")
            )

        ours = _median_time(lambda m=m: profile(m, (3, size, size)), repeats)
        t_fv = _median_time(fv, repeats)
        t_ti = _median_time(lambda m=m: summary(m, input_size=(1, 3, size, size), verbose=0), repeats)
        rows.append(
            {
                "model": name,
                "ours_s": ours,
                "fvcore_s": t_fv,
                "torchinfo_s": t_ti,
                "macs_ours": profile(m, (3, size, size)).total_macs,
                "macs_fvcore": fv(),
            }
        )
        r = rows[-1]
        print(
            f"{name:14s} ours {ours:.3f}s  fvcore {t_fv:.3f}s ({t_fv / ours:.1f}x)  torchinfo {t_ti:.3f}s "
            f"({t_ti / ours:.1f}x)  MACs equal: {r['macs_ours'] == r['macs_fvcore']}",
            flush=True,
        )
    return rows


def markdown(rows: list[dict], size: int, repeats: int) -> str:
    lines = [
        f"### `cnnzoo.profile` vs fvcore vs torchinfo ({size}x{size}, batch 1, median of {repeats})",
        "",
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads. `profile` runs on `meta`; fvcore and torchinfo run real CPU "
        "forward passes. MACs: conv + linear + matmul.",
        "",
        "| model | profile (s) | fvcore (s) | ratio | torchinfo (s) | ratio | MACs equal |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['ours_s']:.3f} | {r['fvcore_s']:.3f} | {r['fvcore_s'] / r['ours_s']:.1f}x "
            f"| {r['torchinfo_s']:.3f} | {r['torchinfo_s'] / r['ours_s']:.1f}x | "
            f"{'yes' if r['macs_ours'] == r['macs_fvcore'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{START}\n{text}{END}"
    if START in old and END in old:
        new = old[: old.index(START)] + block + old[old.index(END) + len(END) :]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), help="torchvision model names")
    ap.add_argument("--size", type=int, default=224, help="input size (default 224)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "BENCHMARKS.md")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    rows = run(args.models, args.size, args.repeats)
    text = markdown(rows, args.size, args.repeats)
    print(text)
    if not args.no_write:
        write_section(args.out, text)
        print(f"updated {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
