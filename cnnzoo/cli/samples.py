"""``cnnzoo samples DATA --out DIR [--n N] [--split test|train] [--layout files|folders] [--classes A,B]
[--per-class K]``: images of a data source as PNGs, flat or in class folders."""

from __future__ import annotations

import argparse

from ..options import Split
from ._args import call_with_args, command, positive_int

ORDER = 95


_SAMPLES_HELP = "write images of a data source as PNG files or class folders (for transfer, predict, serve)"
_SAMPLES = (
    "Write the first N images of a data source's fixed test (or train) split as PNG files "
    "named NN_CLASS.png, e.g. `cnnzoo samples digits --out digits` gives the digit images the README's "
    "explain examples use; or, with --layout folders, as class folders OUT/CLASS/NNNNN.png that "
    "`--data folder:OUT` reads, e.g. a 4-class transfer task: `cnnzoo samples fashion-mnist --layout "
    "folders --split train --classes 0,2,4,6 --per-class 40 --out looks/train` and the same with "
    "--split test --per-class 15 --out looks/val. DATA is any source `cnnzoo train --data` takes, or "
    "`photos`: the labelled ImageNet photos shipped with PyPI's foolbox (NN_CLASS.jpg), for `cnnzoo "
    "predict` and `explain` with a pretrained model."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "samples", run, _SAMPLES_HELP, _SAMPLES)
    p.add_argument("data", help="data source: digits, fashion-mnist, mnist:DIR, folder:DIR, ..., or photos")
    p.add_argument("--out", required=True, help="folder to write into (created if missing)")
    p.add_argument("--n", type=positive_int, default=8, help="how many images in all (default: 8)")
    p.add_argument("--split", choices=Split.values(), default="test", help="which split (default: test)")
    p.add_argument(
        "--layout",
        choices=("files", "folders"),
        default="files",
        help="files: OUT/NN_CLASS.png (default); folders: OUT/CLASS/NNNNN.png, one folder per class",
    )
    p.add_argument(
        "--classes", help="comma-separated class names or indices to keep, in this order (default: all)"
    )
    p.add_argument(
        "--per-class", type=positive_int, help="the first K images of each class instead of --n in all"
    )


def run(args: argparse.Namespace) -> int:
    from ..data.samples import write_samples

    classes = [c for c in args.classes.split(",") if c.strip()] if args.classes else None
    paths = call_with_args(write_samples, args, args.data, args.out, classes=classes)
    if args.layout == "folders":
        folders = sorted({p.parent.name for p in paths})
        print(
            f"wrote {len(paths)} images into {len(folders)} class folders of {args.out}: {', '.join(folders)}"
        )
    else:
        for path in paths:
            print(path)
    return 0
