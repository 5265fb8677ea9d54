"""``cnnzoo samples DATA --out DIR [--n N] [--split test|train]``: a few images of a data source as PNGs."""

from __future__ import annotations

import argparse

from ..options import Split
from ._args import command, positive_int

ORDER = 95


_SAMPLES_HELP = "write a few images of a data source as PNG files (inputs for explain, predict, serve)"
_SAMPLES = (
    "Write the first N images of a data source's fixed test (or train) split as PNG files "
    "named NN_CLASS.png, e.g. `cnnzoo samples digits --out digits` gives the digit images the README's "
    "explain examples use. DATA is any source `cnnzoo train --data` takes, or `photos`: the labelled "
    "ImageNet photos shipped with PyPI's foolbox (NN_CLASS.jpg), for `cnnzoo predict` and `explain` "
    "with a pretrained model."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "samples", run, _SAMPLES_HELP, _SAMPLES)
    p.add_argument("data", help="data source: digits, fashion-mnist, mnist:DIR, folder:DIR, ..., or photos")
    p.add_argument("--out", required=True, help="folder to write the PNG files into (created if missing)")
    p.add_argument("--n", type=positive_int, default=8, help="how many images (default: 8)")
    p.add_argument("--split", choices=Split.values(), default="test", help="which split (default: test)")


def run(args: argparse.Namespace) -> int:
    from ..data.samples import write_samples

    paths = write_samples(args.data, args.out, n=args.n, split=args.split)
    for path in paths:
        print(path)
    return 0
