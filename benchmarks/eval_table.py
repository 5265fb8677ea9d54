"""The seeds' evaluation table on Fashion-MNIST, as GoogLeNet's Table 3 (Szegedy et al. 2015, Sec. 7): top-1
and top-5 error of one network vs an ensemble (class posteriors averaged), 1 crop vs 10 crops (AlexNet's
corners + centre and their mirrors, Krizhevsky et al. 2012, Sec. 4.1), with the cost beside each row in
forward passes per image and MACs per image.

Members: LeNet-5s trained with the ``lenet5`` recipe from different seeds (``--members N``), or existing
checkpoints (``--checkpoints``, e.g. ``runs/bench/fashion-lenet5/last.pt`` from ``fashion_mnist.py``). Always
evaluated on the full 10,000-image test set unless ``--subset`` says otherwise. Writes the table between
``eval-table:start``/``eval-table:end`` in BENCHMARKS.md.

    python benchmarks/eval_table.py --members 3 --epochs 5                    # ~30 min on 2 quiet cores
    python benchmarks/eval_table.py --members 2 --epochs 1 --subset 600 200 --no-write
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from _realdata import ROOT, RUNS, cpu_line, load, pct, train_one, write_section

START, END = "<!-- eval-table:start -->", "<!-- eval-table:end -->"


def main(argv: list[str] | None = None) -> None:
    import torch

    from cnnzoo.analysis import profile
    from cnnzoo.data.sources import build_data
    from cnnzoo.factory import model_from_checkpoint
    from cnnzoo.train import evaluate

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--model", default="lenet5")
    ap.add_argument("--members", type=int, default=3, help="networks trained from seeds 0..N-1 (3-5)")
    ap.add_argument("--checkpoints", nargs="*", default=[], help="use these trained checkpoints as members")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--subset", type=int, nargs=2, default=(0, 0), metavar=("TRAIN", "TEST"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--md", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--no-write", action="store_true", help="print the table only (smoke runs)")
    args = ap.parse_args(argv)
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    raw = load(args.data, *args.subset)
    models = [model_from_checkpoint(ck) for ck in args.checkpoints]
    for seed in range(len(models), max(args.members, len(models))):
        r = train_one(
            args.model,
            raw,
            recipe="lenet5" if args.model == "lenet5" else "resnet_cifar",
            epochs=args.epochs,
            seed=seed,
            threads=args.threads,
            out=RUNS / f"ensemble-{args.model}-seed{seed}" if not any(args.subset) else None,
            test_every=args.epochs,
        )
        models.append(r["model_obj"])  # its record is the trained one (train_one)
    rec = models[0].cnnzoo_record
    in_chans, size = int(rec.input_size[0]), tuple(rec.input_size[1:])
    macs = profile(models[0], (in_chans, *size)).total_macs
    results = []
    for crops in (1, 10):
        test = build_data(raw, in_chans, size, crops=crops, mean=rec.mean, std=rec.std).test
        for k in sorted({1, len(models)}):
            res = evaluate(models[:k], test, batch_size=250)
            results.append((k, crops, res))
            print(
                f"{k} model(s), {crops} crop(s): top-1 error {pct(1 - res.top1)}, "
                f"top-5 error {pct(1 - res.top5)}"
            )
    base = results[0][2]
    lines = [
        f"`python benchmarks/eval_table.py {argv_text}` ({datetime.now():%Y-%m-%d %H:%M}; {cpu_line()}): "
        f"{len(models)} {args.model} network(s) "
        + (f"from {', '.join(args.checkpoints)} and " if args.checkpoints else "")
        + f"trained {args.epochs} epoch(s) from seeds (the lenet5 recipe), {args.data}, "
        f"{len(raw.train):,} training / {len(raw.test):,} test images. The seeds' GoogLeNet Table 3 "
        "(ImageNet top-5 error): 1 model x 1 crop 10.07%, 1 x 10 crops 9.15% (-0.92), 7 models x 1 crop "
        "8.09% (-1.98), 7 x 10 7.62% (-2.45), 7 x 144 6.67% (-3.45).",
        "",
        "| models | crops | cost (forward passes / image) | MACs / image | top-1 error | top-5 error | "
        "top-5 error vs base |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, crops, res in results:
        lines.append(
            f"| {k} | {crops} | {k * crops} | {k * crops * macs / 1e6:.2f} M | {pct(1 - res.top1)} | "
            f"{pct(1 - res.top5)} | {100 * ((1 - res.top5) - (1 - base.top5)):+.2f} points |"
        )
    lines += [
        "",
        "Ensemble: class posteriors averaged over members, then over crops. 10 crops of a 32x32 input: "
        "the image "
        "scaled to 37x37, its four corner and centre 32x32 patches and their mirrors (a 28x28 garment, "
        "zero-padded to 32 in training).",
    ]
    if args.no_write:
        print("\n".join(lines))
        return
    write_section(
        args.md, START, END, "\n".join(lines), "Evaluation table: crops and ensembles (Fashion-MNIST)"
    )
    print(f"wrote the eval-table section of {args.md}")


if __name__ == "__main__":
    main()
