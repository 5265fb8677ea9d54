"""``cnnzoo summary MODEL|SPEC`` (the per-layer table) and ``cnnzoo compare MODEL...`` (totals side by
side)."""

from __future__ import annotations

import argparse
import json
import re
from typing import TYPE_CHECKING

from ..errors import CnnzooError
from ._args import command

if TYPE_CHECKING:
    from ..analysis.profile import Profile

ORDER = 20  # summary; compare follows it (ORDER 30 in the project's plan: both live in this module)

_SPEC_HELP = """\
MODEL is a registered name (see `cnnzoo list`) or a network in the lecture notation, e.g.
  cnnzoo summary vgg16
  cnnzoo summary "conv 8 3x3 s1 same; conv 16 5x5 s2 same; flatten; dense 512; dense 4" --input 3x32x32
  cnnzoo summary "conv11-96/s4/p0, maxpool3/s2" --input 3x227x227 --format md
Spec tokens (separated by , or ;): convK-N (N KxK filters, 'same' padding), `conv N KxK s2 p0`,
maxpool[K][/sS/pP] (default 2x2 stride 2), avgpool, gap, fc-N / dense-N, flatten, relu, bn, LRN,
dropout-P, softmax; options /sS stride, /pP padding, /dD dilation, /gG groups, same, valid.

Columns: output shape (no batch), parameters, MACs (multiply-accumulates of conv/linear/matmul;
FLOPs = 2 x MACs), activation bytes (float32 output of each layer, input included), receptive
field and jump (effective stride). "doesn't fit" marks a layer where (N - F + 2P)/S + 1 is not whole.
"""


_SUMMARY = "Print the per-layer accounting of a model or of a spec in the lecture notation."

_COMPARE_HELP = "totals of several models side by side (and a MACs-vs-accuracy chart)"
_COMPARE = (
    "Compare parameters, MACs, activation memory and receptive field of several models, each "
    "at its default input size (or --input). --plot draws the lectures' chart: x = G-MACs, y = the "
    "paper's top-1 accuracy, marker area ~ parameters; models without a paper accuracy are drawn as "
    "hollow markers on a strip below the axis, labelled 'no paper figure'."
)


_SUMMARY_HELP = "per-layer table: shapes, parameters, MACs, memory, receptive field"


def register(sub: argparse._SubParsersAction) -> None:
    from ..options import SummaryFormat

    p = command(sub, "summary", run_summary, _SUMMARY_HELP, _SUMMARY, epilog=_SPEC_HELP, raw=True)
    p.add_argument("model", metavar="MODEL|SPEC", help="registered model name or lecture-notation spec")
    p.add_argument("--input", metavar="CxHxW", help="input size (default: the model's, e.g. 3x224x224)")
    p.add_argument("--format", choices=SummaryFormat.values(), default="table", help="output format")
    p.add_argument("--strict", action="store_true", help="fail (exit 2) when a layer doesn't fit")
    p.add_argument(
        "--batch", type=int, default=1, metavar="N", help="batch size for MACs and memory (default 1)"
    )

    c = command(sub, "compare", run_compare, _COMPARE_HELP, _COMPARE)
    c.add_argument("models", nargs="+", metavar="MODEL", help="registered model names or specs")
    c.add_argument("--input", metavar="CxHxW", help="input size for every model (default: each model's own)")
    c.add_argument("--plot", metavar="FILE.png", help="write the chart to this PNG file")
    c.add_argument("--json", action="store_true", help="print one JSON object")


def _is_spec(text: str) -> bool:
    """A spec, not a model name: several tokens, options after '/', or one token that starts with a layer
    kind of the notation (``maxpool3/s2``, ``gap``, ``fc-10``)."""
    from ..models.spec import _KINDS

    t = text.strip().lower()
    head = re.match(r"[a-z]+", t)
    return bool(re.search(r"[,;\s/]", t)) or (head is not None and head.group(0) in _KINDS)


def _load(target: str, input_arg: str | None, batch: int = 1) -> tuple[Profile, dict]:
    """Profile a registered model (at its default or the given input) or a spec; returns the profile and the
    registry info as a dict (empty for specs)."""
    from ..analysis import build_from_spec, profile
    from ..factory import create_model
    from ..registry import is_model, model_info
    from ..sizes import parse_input_size

    if is_model(target):
        info = model_info(target)
        size = parse_input_size(input_arg) if input_arg is not None else info.input_size
        from ..meta import meta_device

        with meta_device():  # shapes only; no torch._dynamo import (cnnzoo.meta)
            model = create_model(target)
        # profiled outside the device block: its forward makes no new tensors, and every op of it would
        # pass through one more Python mode (NASNet-A Large: thousands of calls)
        return profile(model, size, batch_size=batch, name=target), info.as_dict()
    if _is_spec(target):
        size = parse_input_size(input_arg) if input_arg is not None else None
        if size is None:
            raise CnnzooError(f"give --input CxHxW to summarise the spec {target!r}, e.g. --input 3x224x224.")
        from ..meta import meta_device

        with meta_device():  # a summary needs shapes only: a 10 GB spec costs no memory
            model = build_from_spec(target, in_chans=size[0], input_size=size[1:])
        return profile(model, size, batch_size=batch, name="spec"), {}
    create_model(target)  # raises UnknownModelError with close names
    raise AssertionError("unreachable")


def run_summary(args: argparse.Namespace) -> int:
    if args.batch < 1:
        raise CnnzooError(f"--batch must be a positive integer, got {args.batch}.")
    prof, _ = _load(args.model, args.input, args.batch)
    if args.strict and prof.doesnt_fit:
        r = prof.doesnt_fit[0]
        raise CnnzooError(
            f"layer {r.name!r} doesn't fit ({r.note.removeprefix('doesn' + chr(39) + 't fit: ')}); "
            "change its padding or stride, or drop --strict."
        )
    if args.format == "json":
        prof.min_input_size  # noqa: B018 - the JSON carries it: run the search here, in the open
        print(prof.to_json())
    elif args.format == "csv":
        print(prof.to_csv(), end="")
    elif args.format == "md":
        print(prof.to_markdown(), end="")
    else:
        print(prof.to_table(), end="")
    return 0


def _compare_rows(targets: list[str], input_arg: str | None) -> list[dict]:
    from ..analysis.result import squash

    rows = []
    for t in targets:
        prof, info = _load(t, input_arg)
        top1 = info.get("paper_top1")
        rows.append(
            {
                "model": t,
                "input": list(prof.input_size),
                "total_params": prof.total_params,
                "total_macs": prof.total_macs,
                "activation_bytes": prof.activation_bytes,
                "receptive_field": squash(prof.receptive_field),
                "paper_params": info.get("paper_params"),
                "paper_macs": info.get("paper_macs"),
                "paper_top1_error": top1,
                "paper_top5_error": info.get("paper_top5"),
            }
        )
    return rows


def run_compare(args: argparse.Namespace) -> int:
    if args.plot:
        from ..outputs import FIGURE_SUFFIXES, check_output_file

        check_output_file(args.plot, "chart", FIGURE_SUFFIXES)
    rows = _compare_rows(args.models, args.input)
    if args.plot:
        plot_compare(rows, args.plot)
    if args.json:
        print(json.dumps({"models": rows, "plot": args.plot}))
        return 0
    head = ["model", "input", "params", "G-MACs", "act. MiB", "RF", "paper top-1 err"]
    body = [
        [
            r["model"],
            "x".join(map(str, r["input"])),
            f"{r['total_params']:,}",
            f"{r['total_macs'] / 1e9:.2f}",
            f"{r['activation_bytes'] / 2**20:.1f}",
            str(r["receptive_field"]),
            "-" if r["paper_top1_error"] is None else f"{r['paper_top1_error']}%",
        ]
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    for cells in [head, *body]:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))
    if args.plot:
        print(f"chart written to {args.plot}")
    return 0


def plot_compare(rows: list[dict], path: str) -> None:
    """The lectures' comparison chart (Canziani et al. 2016, Fig. 2 style): x = G-MACs, y = paper top-1
    accuracy (100 - error), marker area proportional to parameters. Models without a paper figure sit as
    hollow markers on a strip below the lowest accuracy, labelled "(no paper figure)"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    known = [100 - r["paper_top1_error"] for r in rows if r["paper_top1_error"] is not None]
    floor = (min(known) - 5) if known else 50.0
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in rows:
        x = r["total_macs"] / 1e9
        size = 20 + 400 * r["total_params"] / max(q["total_params"] for q in rows)
        if r["paper_top1_error"] is None:
            ax.scatter([x], [floor], s=size, facecolors="none", edgecolors="grey")
            ax.annotate(
                f"{r['model']} (no paper figure)",
                (x, floor),
                fontsize=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
        else:
            y = 100 - r["paper_top1_error"]
            ax.scatter([x], [y], s=size, alpha=0.6)
            ax.annotate(r["model"], (x, y), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("G-MACs per image (multiply-accumulates; FLOPs = 2 x MACs)")
    ax.set_ylabel("paper top-1 accuracy (%)")
    ax.set_title("Accuracy vs compute; marker area ~ parameters")
    ax.grid(alpha=0.3)
    from ..outputs import save_figure

    try:
        save_figure(fig, path, "chart", dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
