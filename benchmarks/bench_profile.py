"""Time ``cnnzoo.profile`` against fvcore's FlopCountAnalysis and torchinfo.summary on the same models, in one
run, and write the result into BENCHMARKS.md (between ``<!-- bench-profile:start -->`` and
``<!-- bench-profile:end -->``; other sections are kept).

    python benchmarks/bench_profile.py                       # all models, 3 repeats, writes BENCHMARKS.md
    python benchmarks/bench_profile.py --models resnet18 --repeats 1 --size 64 --no-write   # quick check

fvcore and torchinfo run real forward passes on the CPU (they need real tensors); ``profile`` runs on
``meta``. The three tools are timed in interleaved rounds (each called once per round, the starting one
rotating), after one warm-up call each; each figure is the median of ``--repeats`` rounds, so a slow spell of
this shared machine falls on all three alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import BENCHMARKS_MD, cpu_line, summary_line, write_section  # noqa: E402

from cnnzoo.analysis import profile  # noqa: E402
from cnnzoo.timing import interleaved_times  # noqa: E402

START, END = "<!-- bench-profile:start -->", "<!-- bench-profile:end -->"
MODELS = ("vgg19", "resnet50", "googlenet", "mobilenet_v2", "densenet121")


def _build(name: str) -> torch.nn.Module:
    kw = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    return getattr(torchvision.models, name)(weights=None, **kw).eval()


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

        runners = {
            "ours": lambda m=m: profile(m, (3, size, size)),
            "fvcore": fv,
            "torchinfo": lambda m=m: summary(m, input_size=(1, 3, size, size), verbose=0),
        }
        for fn in runners.values():  # warm-up
            fn()
        times = {k: statistics.median(v) for k, v in interleaved_times(runners, repeats).items()}
        ours, t_fv, t_ti = times["ours"], times["fvcore"], times["torchinfo"]
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
        f"### `cnnzoo.profile` vs fvcore vs torchinfo ({size}x{size}, batch 1, median of {repeats} "
        "interleaved rounds)",
        "",
        f"torch {torch.__version__}; CPU: {cpu_line()}. `profile` runs on `meta`; fvcore and torchinfo run "
        "real CPU forward passes. MACs: conv + linear + matmul. `python benchmarks/bench_profile.py`",
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
    ratios = ", ".join(f"{r['model']} {r['fvcore_s'] / r['ours_s']:.1f}x" for r in rows)
    equal = all(r["macs_ours"] == r["macs_fvcore"] for r in rows)
    lines.append(
        summary_line(
            f"`profile` vs fvcore `FlopCountAnalysis` at {size}x{size} (interleaved)",
            f"{ratios} faster; MACs {'equal on all' if equal else 'DIFFER'}",
            "faster, MACs equal",
            cpu_line(),
        )
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), help="torchvision model names")
    ap.add_argument("--size", type=int, default=224, help="input size (default 224)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=BENCHMARKS_MD)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    rows = run(args.models, args.size, args.repeats)
    text = markdown(rows, args.size, args.repeats)
    print(text)
    if not args.no_write:
        write_section(args.out, START, END, text, "Profile vs fvcore and torchinfo")
        print(f"updated {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
