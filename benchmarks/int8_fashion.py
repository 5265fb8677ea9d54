"""The accuracy cost of low precision for LeNet-5 and ResNet-20 on the full 10,000-image Fashion-MNIST test
set: FP32 vs INT8 (static post-training quantization with ONNX Runtime, QDQ, per-channel weights, calibrated
on training images; :func:`cnnzoo.deploy.quantize.export_int8`) vs bf16 (PyTorch CPU autocast, weights and
activations rounded to bfloat16 in matmuls/convolutions).

Uses the checkpoints of ``fashion_mnist.py`` (``runs/bench/fashion-<model>/last.pt``), else those that
``degradation.py`` keeps (``runs/bench/degradation-<model>/last.pt``), else ``--checkpoint MODEL=PATH``; a
missing one is trained here for ``--epochs`` (short: the point is the *difference* between precisions of
one network).
Writes the table between ``int8-fashion:start``/``int8-fashion:end`` in BENCHMARKS.md.

    python benchmarks/int8_fashion.py                                   # the two checkpoints, 10k test images
    python benchmarks/int8_fashion.py --models lenet5 --train --epochs 1 --subset 600 500 --no-write

``BF16_EVAL`` is the hook for a bf16 deployment path (a function ``(model, test_dataset) -> top-1``): the
column measures PyTorch autocast until such a path replaces it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from _realdata import ROOT, RUNS, cpu_line, load, pct, train_one, write_section

START, END = "<!-- int8-fashion:start -->", "<!-- int8-fashion:end -->"
RECIPES = {"lenet5": "lenet5", "resnet20": "resnet_cifar"}


def autocast_bf16_top1(model: Any, test: Any) -> float:
    """Top-1 with every autocast-eligible op (conv, linear, matmul) run in bfloat16 on the CPU."""
    import torch

    from cnnzoo.train import evaluate

    class Bf16(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.m(x).float()

    return evaluate(Bf16(model), test, batch_size=500).top1


BF16_EVAL: Callable[[Any, Any], float] = autocast_bf16_top1


def main(argv: list[str] | None = None) -> None:
    import torch

    from cnnzoo.checkpoint import load_checkpoint
    from cnnzoo.data.sources import build_data
    from cnnzoo.deploy.quantize import export_int8
    from cnnzoo.factory import model_from_checkpoint
    from cnnzoo.train import evaluate

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--models", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--epochs", type=int, default=3, help="for a model without a checkpoint")
    ap.add_argument("--subset", type=int, nargs=2, default=(0, 0), metavar=("TRAIN", "TEST"))
    ap.add_argument("--calibration", type=int, default=256, help="training images to calibrate on")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--md", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--train", action="store_true", help="train here even where a checkpoint exists")
    ap.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="MODEL=PATH",
        help="the checkpoint to measure for MODEL (default: the benchmarks' own under runs/bench/)",
    )
    ap.add_argument("--no-write", action="store_true", help="print the table only (smoke runs)")
    args = ap.parse_args(argv)
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    raw = load(args.data, *args.subset)
    rows = []
    named = dict(c.split("=", 1) for c in args.checkpoint)
    for name in args.models:
        found = [Path(named[name])] if name in named else []
        found += [RUNS / f"{kind}-{name}" / "last.pt" for kind in ("fashion", "degradation")]
        ck_path = next((p for p in found if p.is_file()), found[0])
        if ck_path.is_file() and not args.train:
            model = model_from_checkpoint(str(ck_path))
            run = load_checkpoint(ck_path).run
            full = ck_path.resolve()
            where = full.relative_to(ROOT) if full.is_relative_to(ROOT) else ck_path
            recipe = run.get("recipe") or {}
            how = ", ".join(
                [f"{len(run.get('history', []))} epochs"]
                + (
                    [f"{recipe['name']} recipe, augment {recipe.get('augment')}"]
                    if recipe.get("name")
                    else []
                )
            )
            origin = f"`{where}` ({how})"
        else:
            r = train_one(
                name, raw, recipe=RECIPES[name], epochs=args.epochs, threads=args.threads, test_every=99
            )
            model = r["model_obj"]  # its record is the trained one (train_one)
            origin = f"trained here, {args.epochs} epoch(s)"
        model.eval()
        rec = model.cnnzoo_record
        size = rec.input_size
        bundle = build_data(raw, size[0], tuple(size[1:]), mean=rec.mean, std=rec.std)
        fp32 = evaluate(model, bundle.test, batch_size=500).top1
        bf16 = BF16_EVAL(model, bundle.test)
        with tempfile.TemporaryDirectory() as tmp:
            from cnnzoo.deploy.quantize import QuantConfig

            rep = export_int8(
                model,
                Path(tmp) / f"{name}.onnx",
                bundle,
                input_size=size,
                config=QuantConfig(num_samples=args.calibration),
                num_heldout=len(bundle.test),
                min_speedup=0.0,
                max_top1_drop=100.0,
            )
        rep.fp32_top1, rep.int8_top1 = rep.fp32_top1 / 100, rep.int8_top1 / 100  # reported in percent
        rows.append((name, origin, fp32, rep, bf16))
        print(
            f"{name}: torch fp32 {pct(fp32)}, ONNX fp32 {pct(rep.fp32_top1)}, INT8 {pct(rep.int8_top1)}, "
            f"bf16 {pct(bf16)} on {rep.heldout_images} test images"
        )
    lines = [
        f"`python benchmarks/int8_fashion.py {argv_text}` ({datetime.now():%Y-%m-%d %H:%M}; {cpu_line()}): "
        f"{args.data}, all {len(raw.test):,} test images; INT8 calibrated on {args.calibration} training "
        "images (ONNX Runtime static QDQ, per-channel weights); bf16 = PyTorch CPU autocast.",
        "",
        "| model | weights | FP32 top-1 (torch) | FP32 top-1 (ONNX Runtime) | INT8 top-1 | INT8 cost | "
        "bf16 top-1 | bf16 cost |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, origin, fp32, rep, bf16 in rows:
        lines.append(
            f"| {name} | {origin} | {pct(fp32)} | {pct(rep.fp32_top1)} | {pct(rep.int8_top1)} | "
            f"{100 * (rep.fp32_top1 - rep.int8_top1):+.2f} points | {pct(bf16)} | "
            f"{100 * (fp32 - bf16):+.2f} points |"
        )
    lines += ["", "Cost = FP32 top-1 minus the low-precision top-1 (positive: accuracy lost)."]
    if args.no_write:
        print("\n".join(lines))
        return
    write_section(args.md, START, END, "\n".join(lines), "Low-precision accuracy cost on Fashion-MNIST")
    print(f"wrote the int8-fashion section of {args.md}")


if __name__ == "__main__":
    main()
