"""Print (or write into docs/models.md) the table of every registered model: ours vs the paper.

    python scripts/model_table.py                 # print the markdown table
    python scripts/model_table.py --write         # into docs/models.md (a few minutes on 2 cores)
    python scripts/model_table.py --write FILE

Rows come from ``cnnzoo.list_models()`` and ``cnnzoo.profile`` at each model's default input (built on the
``meta`` device, so this allocates no weights). With ``--write`` the block between
``<!-- model-table:start -->`` and ``<!-- model-table:end -->`` is replaced (appended if absent).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from _blocks import add_write_option, replace_block  # noqa: E402

import cnnzoo
from cnnzoo.analysis.units import si
from cnnzoo.errors import CnnzooError

START, END = "<!-- model-table:start -->", "<!-- model-table:end -->"
PAGE = Path(__file__).resolve().parents[1] / "docs" / "models.md"


def _pct(x: float | None) -> str:
    """A paper's error as the paper gave it (LeNet-5's 0.95, AlexNet's 37.5): up to two decimals."""
    return "—" if x is None else f"{x:.2f}".rstrip("0").rstrip(".")


def row(name: str) -> str:
    """One model's row: ours computed now, the paper's from the registry's card."""
    info = cnnzoo.model_info(name)
    try:
        with torch.device("meta"):
            model = cnnzoo.create_model(name)
        p = cnnzoo.profile(model, info.input_size, name=name)
        params, macs = f"{p.total_params:,}", si(p.total_macs)
    except (CnnzooError, RuntimeError, NotImplementedError) as e:  # a model that cannot run on meta
        params = macs = f"error: {str(e).splitlines()[0][:60]}"
    err = (
        "—"
        if info.paper_top1 is None and info.paper_top5 is None
        else f"{_pct(info.paper_top1)} / {_pct(info.paper_top5)}"
    )
    paper_params = "—" if info.paper_params is None else f"{info.paper_params:,}"
    paper_macs = "—" if info.paper_macs is None else si(info.paper_macs)
    return (
        f"| {name} | {info.family} | {info.year} | {'x'.join(map(str, info.input_size))} | {params} "
        f"| {paper_params} | {macs} | {paper_macs} | {err} |"
    )


def table(pattern: str = "*") -> str:
    head = (
        "| model | family | year | input | params (ours) | params (paper) | MACs (ours) | MACs (paper) "
        "| paper top-1 / top-5 error (%) |"
    )
    names = cnnzoo.list_models(pattern)
    lines = [head, "|---|---|---|---|--:|--:|--:|--:|---|", *(row(name) for name in names)]
    families = {cnnzoo.model_info(name).family for name in names}
    return (
        "\n".join(lines)
        + f"\n\n{len(names)} models in {len(families)} families. MACs = multiply-accumulates (FLOPs = 2 x "
        "MACs), at each model's default input. —: the paper gives no such figure (LeNet-5's paper counts "
        "*connections*, which include biases, subsampling and the RBF units, not MACs: "
        "`LeNet5.connections()`). Where ours and the paper's differ, `cnnzoo.model_info(NAME).figures_note` "
        "says why.\n"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_write_option(ap, PAGE, "model-table")
    ap.add_argument("--pattern", default="*", help="only models matching this fnmatch pattern")
    args = ap.parse_args(argv)
    text = table(args.pattern)
    if args.write:
        replace_block(args.write, START, END, text)
        print(f"wrote {len(text.splitlines()) - 4} models into {args.write}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
