"""Print (or write into a markdown file) the table of models with pretrained weights.

    python scripts/weights_table.py                 # print the markdown table
    python scripts/weights_table.py --write         # into docs/pretrained.md
    python scripts/weights_table.py --write FILE

Rows come from ``cnnzoo.weights.table.ENTRIES`` (one per published checkpoint, grouped by model); with
``--write FILE`` the block between ``<!-- weights-table:start -->`` and ``<!-- weights-table:end -->`` is
replaced (appended if absent). Imports no torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _blocks import add_write_option, replace_block  # noqa: E402

from cnnzoo.weights.table import ENTRIES, default_entry, models_with_weights  # noqa: E402

START, END = "<!-- weights-table:start -->", "<!-- weights-table:end -->"
PAGE = Path(__file__).resolve().parents[1] / "docs" / "pretrained.md"


def table() -> str:
    lines = [
        "| model | weights (`weights=`) | acc@1 | acc@5 | eval input | options the weights need | source |",
        "|---|---|--:|--:|---|---|---|",
    ]
    for model in models_with_weights():
        best = default_entry(model)
        mine = [e for e in ENTRIES if e.model == model]
        rows = sorted(mine, key=lambda e: (e is not best, e.source, e.tag))
        for e in rows:
            acc1 = f"{e.acc1:.2f}" if e.acc1 is not None else "—"
            acc5 = f"{e.acc5:.2f}" if e.acc5 is not None else "—"
            r = e.record
            size = f"{r.resize}→{r.crop} {r.interpolation}" if r.resize else f"{r.input_size[-1]}"
            if r.mean == (0.5, 0.5, 0.5):
                size += ", mean/std 0.5"
            elif r.mean != (0.485, 0.456, 0.406):
                size += ", own mean/std"
            opts = ", ".join(f"`{k}={v!r}`" for k, v in r.model_kwargs.items()) or "—"
            where = "Hugging Face Hub" if e.hf_hub else e.location.split("/")[2]
            name = f"**{model}**" if e is best else model
            key = f"`{e.key}`" + (" (default)" if e is best and len(rows) > 1 else "")
            lines.append(f"| {name} | {key} | {acc1} | {acc5} | {size} | {opts} | {where} |")
    n_models = len(models_with_weights())
    return (
        "\n".join(lines)
        + f"\n\n{len(ENTRIES)} checkpoints of {n_models} models. Accuracy: the source's published "
        "ImageNet-1k validation top-1/top-5 (%), measured by torchvision or timm with these eval transforms "
        "(resize the shorter side, centre crop; mean/std: ImageNet's, or 0.5 where marked). "
        "`pretrained=True` loads the bold row.\n"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_write_option(ap, PAGE, "weights-table")
    args = ap.parse_args(argv)
    text = table()
    if args.write:
        replace_block(args.write, START, END, text)
        print(f"wrote {len(ENTRIES)} checkpoints into {args.write}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
