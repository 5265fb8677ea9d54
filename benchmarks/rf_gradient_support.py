"""Gradient-support check of the theoretical receptive field, for every registered model.

For each model, at two small square input sizes, the gradient of the centre unit of each stage's output
(:func:`cnnzoo.analysis.erf.default_erf_layers`) and of the last feature map is taken with respect to the
input (random weights, eval mode, float64, 2 random inputs). Its support — the pixels with a non-zero
gradient — must lie inside the unit's theoretical field as :func:`cnnzoo.analysis.profile` computes it
(Luo et al., NeurIPS 2016, use the same gradient to measure the *effective* field); on networks without
dead units it fills the field's bounding box exactly. Layers whose field covers the whole input check
nothing, so the table counts only the layers whose field is smaller than the input ("informative").

    python benchmarks/rf_gradient_support.py                 # every model, writes BENCHMARKS.md
    python benchmarks/rf_gradient_support.py --models resnet18,vgg16 --no-write

The figures are counts, not timings; the time column is only to size the run (2 shared CPU cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

START, END = "<!-- rf-gradient-support:start -->", "<!-- rf-gradient-support:end -->"


def _trunk_min(model: torch.nn.Module, in_chans: int) -> int:
    from cnnzoo.analysis import profile
    from cnnzoo.analysis.erf import FEATURES, _Upto

    return profile(_Upto(model, FEATURES), (in_chans, 224, 224)).min_input_size


def check_model(name: str, sizes_over: tuple[int, int], samples: int) -> list[dict]:
    from cnnzoo import create_model, model_info
    from cnnzoo.analysis.erf import FEATURES, default_erf_layers, effective_receptive_field

    c = model_info(name).input_size[0]
    torch.manual_seed(0)
    with torch.device("meta"):
        meta = create_model(name)
    lo = max(_trunk_min(meta, c), 32)
    model = create_model(name)
    layers = [*default_erf_layers(model), FEATURES]
    rows = []
    for s in (lo + sizes_over[0], lo + sizes_over[1]):
        t = time.perf_counter()
        try:
            r = effective_receptive_field(model, layers, (c, s, s), samples=samples, batch_size=samples)
        except Exception as e:  # noqa: BLE001 - reported in the table, never hidden
            rows.append({"model": name, "size": s, "error": f"{type(e).__name__}: {str(e)[:80]}"})
            continue
        info = [x for x in r.layers if max(x.theory.rf) < s]
        outside = [x.layer for x in r.layers if x.within_theory is False]
        rows.append(
            {
                "model": name,
                "size": s,
                "layers": len(r.layers),
                "informative": len(info),
                "inside": sum(1 for x in info if x.within_theory),
                "filled": sum(1 for x in info if x.fills_theory),
                "outside": outside,
                "global_context": [x.layer for x in r.layers if x.theory.global_context],
                "unknown_position": sum(1 for x in r.layers if x.theory.start is None),
                "seconds": time.perf_counter() - t,
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    head = (
        "| model | input | stage layers | informative (RF < input) | support inside RF | fills RF "
        "| outside RF | s |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['size']} | - | - | - | - | error: {r['error']} | - |")
            continue
        out = ", ".join(r["outside"]) or "-"
        if r["global_context"]:
            out += " (global context: " + ", ".join(r["global_context"]) + ")"
        lines.append(
            f"| {r['model']} | {r['size']} | {r['layers']} | {r['informative']} "
            f"| {r['inside']}/{r['informative']} | {r['filled']}/{r['informative']} | {out} "
            f"| {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", help="comma-separated names (default: every registered model)")
    ap.add_argument("--samples", type=int, default=2, help="random inputs per size (default 2)")
    ap.add_argument("--budget", type=float, default=900.0, help="stop starting models after this many s")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)

    from degradation import write_section

    from cnnzoo.registry import list_models

    torch.set_num_threads(args.threads)
    if args.models:
        names = args.models.split(",")
    else:  # one model of each family first, so that a budget-limited run still covers every family
        from cnnzoo.registry import model_info

        every = list(list_models())
        firsts: dict[str, str] = {}
        for n in every:
            firsts.setdefault(model_info(n).family, n)
        names = list(firsts.values()) + [n for n in every if n not in firsts.values()]
    t0 = time.perf_counter()
    rows: list[dict] = []
    skipped: list[str] = []
    for n in names:
        if time.perf_counter() - t0 > args.budget:
            skipped.append(n)
            continue
        rows += check_model(n, (0, 29), args.samples)
        print(table(rows[-2:]).splitlines()[-2:], flush=True)
    ok = [r for r in rows if "error" not in r]

    def under_counted(r: dict) -> list[str]:  # outside the field at a layer not flagged as global context
        return [x for x in r["outside"] if x not in r["global_context"]]

    bad = sorted({r["model"] for r in ok if under_counted(r)})
    flagged = sorted({r["model"] for r in ok if r["outside"] and not under_counted(r)})
    partial = sorted(
        {r["model"] for r in ok if r["inside"] == r["informative"] and r["filled"] < r["informative"]}
    )
    import platform

    cpu = platform.processor() or platform.machine()
    body = (
        f"Gradient support vs the theoretical receptive field of `cnnzoo.profile` "
        f"(`python benchmarks/rf_gradient_support.py`; random weights, eval mode, float64, "
        f"{args.samples} N(0,1) inputs per size; the smallest input the trunk takes and 29 pixels more; "
        f"{len({r['model'] for r in rows})} of {len(names)} models checked in "
        f"{time.perf_counter() - t0:.0f} s on {cpu}, {args.threads} threads).\n\n"
        f"Support outside the theoretical field at a layer the profile does not flag (it under-counts): "
        f"{', '.join(bad) or 'none'}.\n"
        f"Outside only at layers the profile flags as global context (an SE gate or other pooled context "
        f"reads the whole map; the field reported is the convolutional path's, by design): "
        f"{', '.join(flagged) or 'none'}.\n"
        f"Support inside but not filling the field's box (dead units, max-pool routing or a field the "
        f"profile over-counts): {', '.join(partial) or 'none'}.\n"
        + (f"Not run (time budget): {', '.join(skipped)}.\n" if skipped else "")
        + "\n"
        + table(rows)
    )
    print(body)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", START, END, body, "Receptive field: gradient support check")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
