"""Shared by the real-data benchmarks (``fashion_mnist.py``, ``degradation.py``, ``eval_table.py``,
``mnist_5k.py``, ``int8_fashion.py``): fixed subsets, one training run with a test-error curve, the
BENCHMARKS.md writer and the CPU line every table carries."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _report import cpu_line, write_section  # noqa: E402,F401  (the scripts import them from here)

from cnnzoo.data.sources import RawSplits, build_data, load_source, stratified_split  # noqa: E402

FIGURES = ROOT / "benchmarks" / "figures"
RUNS = ROOT / "runs" / "bench"  # checkpoints shared between the scripts (git-ignored)


def take(raw: RawSplits, n_train: int = 0, n_test: int = 0) -> RawSplits:
    """A fixed stratified subset: ``n_train`` training and ``n_test`` test images (0: all)."""

    def pick(part: Any, n: int) -> Any:
        if not n or n >= len(part):
            return part
        _, held = stratified_split(part.labels.numpy(), n / len(part))
        return part.subset(held)

    return RawSplits(
        raw.source, pick(raw.train, n_train), pick(raw.test, n_test), raw.classes, raw.natural, raw.skipped
    )


def load(spec: str, n_train: int = 0, n_test: int = 0) -> RawSplits:
    return take(load_source(spec), n_train, n_test)


def train_one(
    model_name: str,
    raw: RawSplits,
    *,
    recipe: str,
    epochs: int,
    seed: int = 0,
    threads: int = 1,
    out: Path | None = None,
    progress: bool = True,
    test_every: int = 1,
    step_window: int = 0,
    channels_last: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Train ``model_name`` on ``raw`` with ``recipe`` (overridden by ``epochs`` and ``overrides``); the
    test error is measured after every ``test_every`` epochs (never used to pick a checkpoint: the last
    epoch is the one reported). ``out`` keeps ``last.pt`` with everything ``cnnzoo eval`` needs.
    ``step_window``: also record the training error of every window of that many steps (``"steps"``: the
    finer curve the papers plot against iterations). ``channels_last``: the Trainer's faster CPU layout."""
    from cnnzoo import create_model
    from cnnzoo.registry import model_info
    from cnnzoo.train import evaluate, get_recipe, seed_everything
    from cnnzoo.train.loop import Trainer
    from cnnzoo.train.run import trained_record

    torch.set_num_threads(threads)
    rec = get_recipe(recipe).with_overrides(epochs=epochs, val_fraction=0.0, **overrides)
    info = model_info(model_name)
    in_chans, size = info.input_size[0], (info.input_size[1], info.input_size[2])
    bundle = build_data(raw, in_chans, size, augment=rec.augment)
    seed_everything(seed)
    model = create_model(model_name, num_classes=bundle.num_classes, in_chans=in_chans)
    model.cnnzoo_record = trained_record(model, bundle)  # what `cnnzoo eval` reads from the checkpoint
    run = {"recipe": rec.as_dict()}
    curve: list[dict[str, float]] = []
    t0 = time.perf_counter()

    class TestCurve:
        def on_epoch_end(self, trainer: Any, epoch: int, row: dict[str, Any]) -> None:
            point = {
                "epoch": epoch,
                "step": epoch * math.ceil(len(bundle.train) / rec.batch_size),  # steps since the start
                "train_err": 1 - row["train_top1"],
                "seconds": time.perf_counter() - t0,
            }
            if epoch % test_every == 0 or epoch == rec.epochs:
                point["test_err"] = 1 - evaluate(trainer.module, bundle.test, batch_size=500).top1
            curve.append(point)
            if progress:
                extra = f", test error {100 * point['test_err']:.2f}%" if "test_err" in point else ""
                print(
                    f"  {model_name} seed {seed} epoch {epoch}/{rec.epochs}: training error "
                    f"{100 * point['train_err']:.2f}%{extra} ({point['seconds']:.0f} s)",
                    flush=True,
                )

    class StepCurve:
        """Training error over each window of ``step_window`` steps, read from the training forward passes
        themselves (a forward hook keeps the last batch's predictions; no extra passes)."""

        def __init__(self) -> None:
            self.pred: torch.Tensor | None = None
            self.right = self.seen = self.done = 0  # done: steps since the start (Trainer.step restarts)
            self.points: list[dict[str, float]] = []
            model.register_forward_hook(self.keep)

        def keep(self, module: Any, args: Any, output: Any) -> None:
            if module.training:
                out = output[0] if isinstance(output, (tuple, list)) else output
                self.pred = out.detach().argmax(1)

        def on_batch_start(self, trainer: Any, step: int, batch: Any) -> None:
            self.labels = batch[1]

        def on_step_end(self, trainer: Any, step: int, loss: float) -> None:
            if self.pred is None:
                return
            self.right += int((self.pred == self.labels).sum())
            self.seen += len(self.labels)
            self.done += 1
            if self.done % step_window == 0:
                self.points.append({"step": self.done, "train_err": 1 - self.right / self.seen})
                self.right = self.seen = 0

    steps = StepCurve() if step_window else None
    optimizer = rec.make_optimizer(model)
    trainer = Trainer(
        model,
        optimizer,
        bundle.train,
        epochs=rec.epochs,
        batch_size=rec.batch_size,
        # per-step schedules (one-cycle) need the steps of an epoch
        scheduler=rec.make_scheduler(optimizer, math.ceil(len(bundle.train) / rec.batch_size)),
        clip_grad_norm=rec.clip_grad_norm,
        aux_weight=rec.aux_weight,
        ema_decay=rec.ema_decay,
        ema_warmup=rec.ema_warmup,
        seed=seed,
        hooks=[TestCurve()] + ([steps] if steps is not None else []),
        channels_last=channels_last,
        out_dir=out,
        run=run,
        progress=False,
        num_classes=bundle.num_classes,
        log=False,
        loss_fn=torch.nn.CrossEntropyLoss(label_smoothing=rec.label_smoothing),
    )
    trainer.fit()
    seconds = time.perf_counter() - t0
    final = evaluate(model, bundle.test, batch_size=500)
    return {
        "model": model_name,
        "seed": seed,
        "params": sum(p.numel() for p in model.parameters()),
        "curve": curve,
        "steps": steps.points if steps is not None else [],
        "test_top1": final.top1,
        "test_top5": final.top5,
        "train_err_end": curve[-1]["train_err"] if curve else float("nan"),
        "seconds": seconds,
        "n_train": len(raw.train),
        "n_test": len(raw.test),
        "checkpoint": str(out / "last.pt") if out else None,
        "model_obj": model,
        "bundle": bundle,
    }


def plot_curves(
    runs: list[dict[str, Any]], path: Path, title: str, groups: list[list[str]] | None = None
) -> None:
    """Training error (solid) and test error (dashed, markers) against epochs, one panel per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = groups or [[r["model"] for r in runs]]
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), sharey=True, squeeze=False)
    for ax, names in zip(axes[0], groups):
        for r in runs:
            if r["model"] not in names:
                continue
            ep = [p["epoch"] for p in r["curve"]]
            line = ax.plot(ep, [100 * p["train_err"] for p in r["curve"]], label=f"{r['model']} train")[0]
            te = [(p["epoch"], 100 * p["test_err"]) for p in r["curve"] if "test_err" in p]
            if te:
                ax.plot(*zip(*te), ls="--", marker=".", color=line.get_color(), label=f"{r['model']} test")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(" vs ".join(names))
    axes[0][0].set_ylabel("error (%)")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    tmp.replace(path)


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def mean_std(xs: list[float]) -> tuple[float, float]:
    a = np.asarray(xs, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0
