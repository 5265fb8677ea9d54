"""The degradation experiment of He et al. 2016 (Fig. 1 / Fig. 6): plain-20 vs plain-56 and ResNet-20 vs
ResNet-56, one recipe and one budget, on Fashion-MNIST's 60,000 training images (``--subset`` for fewer).

The paper's claim: the deeper *plain* net has the higher *training* error (optimisation difficulty, not
overfitting), while the deeper *residual* net does not. This script trains the four CIFAR-style networks
(Sec. 4.2: 3 stages of 3x3 convolutions, 16/32/64 filters, option-A shortcuts) with the ``resnet_cifar``
recipe (SGD, momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 at 50% and 75% of the run) on the 28x28
images zero-padded to 32x32, in the channels-last layout (1.4x faster on the CPU), draws the training error
(thin: each tenth of an epoch, read from the training passes) and the test error after each epoch (bold)
against iterations in one PNG, as the paper's Fig. 6, and writes a table into BENCHMARKS.md between the
``degradation:start`` and ``degradation:end`` markers. Each finished network is kept in ``--state``: a
killed run, started again with the same settings, goes on with the next network.

    python benchmarks/degradation.py --epochs 4                       # 60k images: 70 min on 2 Xeon cores
    python benchmarks/degradation.py                                  # 60k images, 20 epochs (~6 hours)
    python benchmarks/degradation.py --epochs 1 --subset 256 128      # a smoke run
"""

from __future__ import annotations

import argparse
import math
from datetime import datetime
from pathlib import Path

from _report import cpu_line, write_section

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- degradation:start -->", "<!-- degradation:end -->"
MODELS = ("plain20", "plain56", "resnet20", "resnet56")


def run(args: argparse.Namespace, after_each=None) -> list[dict]:
    """Train the four networks one after another; each finished one is kept in ``args.state`` (a rerun
    with the same settings skips it: a killed run loses at most the network it was training)."""
    import json

    from _realdata import load, take, train_one

    from cnnzoo.data.sources import build_data
    from cnnzoo.train import evaluate

    raw = load(args.data, *args.subset)
    probe = take(raw, min(len(raw.train), 10000), 0)  # training error in eval mode on <= 10k fixed images
    window = args.window or max(1, math.ceil(len(raw.train) / args.batch_size) // 10)
    settings = {k: getattr(args, k) for k in ("data", "epochs", "batch_size", "lr", "subset", "seed")}
    settings["subset"], settings["window"] = list(settings["subset"]), window
    done: dict[str, dict] = {}
    if args.state.is_file():
        saved = json.loads(args.state.read_text())
        if saved.get("settings") == settings:
            done = saved["rows"]
    rows = []
    for name in args.models:
        if name in done:
            print(f"{name}: kept from {args.state} (same settings)", flush=True)
            rows.append(done[name])
            continue
        r = train_one(
            name,
            raw,
            recipe="resnet_cifar",
            epochs=args.epochs,
            seed=args.seed,
            threads=args.threads,
            progress=not args.quiet,
            batch_size=args.batch_size,
            lr=args.lr,
            augment="none",
            step_window=window,
            channels_last=True,
            out=args.runs / f"degradation-{name}",
        )
        b = r["bundle"]
        probe_ds = build_data(probe, b.in_chans, b.input_size, mean=b.mean, std=b.std).train
        final_train = evaluate(r["model_obj"], probe_ds, batch_size=500)
        rows.append(
            {
                "model": name,
                "params": r["params"],
                "train_err": [p["train_err"] for p in r["curve"]],
                "curve": r["curve"],
                "steps": r["steps"],
                "final_train_err": 1 - final_train.top1,
                "test_err": 1 - r["test_top1"],
                "seconds": r["seconds"],
                "n_train": r["n_train"],
                "n_test": r["n_test"],
                "checkpoint": r["checkpoint"],
            }
        )
        print(
            f"{name}: training error {rows[-1]['final_train_err']:.4f}, test error "
            f"{rows[-1]['test_err']:.4f}, {r['seconds']:.0f} s",
            flush=True,
        )
        done[name] = rows[-1]
        args.state.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.state.with_name(".tmp-" + args.state.name)
        tmp.write_text(json.dumps({"settings": settings, "rows": done}))
        tmp.replace(args.state)
        if after_each is not None:
            after_each(rows)  # a long run interrupted later still leaves the finished models' rows
    return rows


def plot(rows: list[dict], path: Path, title: str, batch_size: int) -> None:
    """He et al.'s Fig. 6 layout: training error (thin, each window of steps) and test error (bold, after
    each epoch) against iterations, plain nets left, ResNets right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, family in zip(axes, ("plain", "resnet")):
        for r in rows:
            if not r["model"].startswith(family):
                continue
            xs, ys = [p["step"] for p in r["steps"]], [100 * p["train_err"] for p in r["steps"]]
            line = ax.plot(xs, ys, lw=1, label=f"{r['model']} train")[0]
            te = [(p["step"], 100 * p["test_err"]) for p in r["curve"] if "test_err" in p]
            if te:
                ax.plot(*zip(*te), lw=2.2, marker="o", color=line.get_color(), label=f"{r['model']} test")
        ax.set_title(f"{family} nets")
        ax.set_xlabel(f"iteration (batch of {batch_size})")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    axes[0].set_ylabel("error (%)")
    # as the paper's Fig. 6, the first steps' high errors run off the top so the ends can be told apart
    axes[0].set_ylim(0, min(100, max(5, 3 * max(100 * r["test_err"] for r in rows))))
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    tmp.replace(path)


def table(rows: list[dict], args: argparse.Namespace, png: Path) -> str:
    lines = [
        f"`python benchmarks/degradation.py {' '.join(args.argv)}` ({datetime.now():%Y-%m-%d %H:%M}): "
        f"{args.data}, {args.epochs} epoch(s), batch {args.batch_size}, lr {args.lr}, seed {args.seed}"
        + f", {rows[0]['n_train']:,} training / {rows[0]['n_test']:,} test images"
        + (" (fixed stratified subset)" if any(args.subset) else "")
        + f"; {cpu_line()}. "
        f"Curves: `{png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}`.",
        "",
        "| model | params | training error (end, eval mode) | test error | seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params']:,} | {100 * r['final_train_err']:.2f}% | "
            f"{100 * r['test_err']:.2f}% | {r['seconds']:.0f} |"
        )
    by = {r["model"]: r for r in rows}
    if {"plain20", "plain56"} <= by.keys() and {"resnet20", "resnet56"} <= by.keys():
        plain = by["plain56"]["final_train_err"] - by["plain20"]["final_train_err"]
        res = by["resnet56"]["final_train_err"] - by["resnet20"]["final_train_err"]
        steps = by["plain20"]["curve"][-1]["step"]
        if (args.subset[0] and args.subset[0] < 2000) or args.epochs < 2:
            verdict = "no conclusion on degradation: a smoke run, far below the budget the claim needs"
        elif plain <= 0:
            verdict = "degradation not reproduced at this budget: the deeper plain net trains no worse"
        elif res <= 0:
            verdict = (
                "both halves of the paper's claim reproduced: the deeper plain net trains worse, the deeper "
                "ResNet at least as well"
            )
        elif res < plain:
            verdict = (
                "the plain half reproduced (the deeper plain net trains worse); the deeper ResNet also still "
                f"trains worse, by {res / plain:.0%} of the plain nets' gap, where the paper has it lower"
            )
        else:
            verdict = "not reproduced: depth costs the ResNets as much as the plain nets at this budget"
        if args.epochs < 20 or any(args.subset):
            verdict += f" ({steps:,} iterations of batch {args.batch_size}; the paper trained 64k)"
        lines += [
            "",
            f"Deeper minus shallower training error: plain {100 * plain:+.2f} points, ResNet "
            f"{100 * res:+.2f} points; {verdict}.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import sys

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument(
        "--subset",
        type=int,
        nargs=2,
        default=(0, 0),
        metavar=("TRAIN", "TEST"),
        help="a fixed stratified subset of the training and test images (0: all)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--window",
        type=int,
        default=0,
        help="steps per point of the training-error curve (0: a tenth of an epoch)",
    )
    ap.add_argument(
        "--state",
        type=Path,
        default=ROOT / "runs" / "bench" / "degradation.json",
        help="finished networks, kept so that a rerun with the same settings skips them",
    )
    ap.add_argument(
        "--runs",
        type=Path,
        default=ROOT / "runs" / "bench",
        help="where each network's checkpoints go (degradation-MODEL/last.pt, read by int8_fashion.py)",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--png", type=Path, default=ROOT / "benchmarks" / "figures" / "degradation.png")
    ap.add_argument("--md", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv

    def publish(rows: list[dict]) -> None:
        plot(
            rows,
            args.png,
            f"Degradation (He et al. 2016, Fig. 1) on {args.data} ({rows[0]['n_train']:,} train): "
            f"{args.epochs} epoch(s)",
            args.batch_size,
        )
        write_section(args.md, START, END, table(rows, args, args.png), "Degradation: plain vs residual nets")

    publish(run(args, after_each=publish))  # once more: a rerun that kept every network still publishes
    print(f"wrote {args.png} and the degradation section of {args.md}")


if __name__ == "__main__":
    main()
