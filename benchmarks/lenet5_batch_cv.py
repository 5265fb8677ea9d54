"""Fewer updates? 5-fold cross-validation of the lenet5 recipe's batch size, rate, passes, clip and schedule.

The update count, not the cost of an update, decides the main job's time against the plain PyTorch script
(`benchmarks/_step_floor.py`): the lenet5 recipe ran 2,700 updates (30 passes of batches of 16) where the
plain script runs 1,350 (batches of 32). This script asks which batch size, first rate, number of passes,
gradient clip and schedule reach the same accuracy in fewer updates, on the training split only: its 1,437
digits are cut into 5 stratified folds (fixed seed); each configuration trains the lenet5 recipe (the
paper's network, distortions, SGD with momentum 0.9) on 4 folds and is scored on the fifth, for every fold
and seed; the held-out top-1 over all 1,437 images is printed per seed. No test image is read. The recipe
now in `cnnzoo recipes lenet5` was chosen from this table. Writes it into BENCHMARKS.md (section
``lenet5-batch-cv``).

    python benchmarks/lenet5_batch_cv.py                       # ~8 min on 2 cores
    python benchmarks/lenet5_batch_cv.py --configs 48:0.012:0:20:5:onecycle --seeds 0 --no-write

A configuration is ``batch:rate[:warm-up epochs[:passes[:clip norm[:schedule]]]]``; what it leaves out is the
recipe's own.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import BENCHMARKS_MD, write_section  # noqa: E402

from cnnzoo import create_model  # noqa: E402
from cnnzoo.data.sources import IndexedDataset, build_data, load_source  # noqa: E402
from cnnzoo.train import get_recipe  # noqa: E402
from cnnzoo.train.loop import Trainer, evaluate, seed_everything  # noqa: E402

#: the recipe's own first, then the previous recipe (batch 16, the paper's steps, 30 passes) and the
#: neighbours that chose between them
DEFAULT = (
    "48:0.012:0:20:5:onecycle,16:0.003:0:30:0:piecewise,48:0.012:0:20:0:onecycle,48:0.012:0:20:10:onecycle,"
    "32:0.006:0:20:5:piecewise,32:0.006:0:30:0:piecewise,64:0.012:0:20:5:onecycle"
)
FOLDS = 5
#: the previous recipe's steps of the rate (x0.4, x0.2, x0.1, x0.02 of the first at 40/60/75/90% of the
#: passes: the paper's steps, later in the run), which a ``piecewise`` configuration uses
PIECEWISE = {"milestones": (0.4, 0.6, 0.75, 0.9), "lr_scales": (0.4, 0.2, 0.1, 0.02)}


def parse(spec: str, base: Any) -> list[tuple[int, float, int, int, float, str]]:
    """The configurations of ``spec``; each field left out is the ``base`` recipe's."""
    out = []
    for item in spec.split(","):
        p = item.split(":")
        out.append((
            int(p[0]), float(p[1]), int(p[2]) if len(p) > 2 else 0, int(p[3]) if len(p) > 3 else base.epochs,
            float(p[4]) if len(p) > 4 else base.clip_grad_norm, p[5] if len(p) > 5 else base.schedule,
        ))  # fmt: skip
    return out


def folds_of(labels: np.ndarray, k: int = FOLDS, seed: int = 123) -> list[list[int]]:
    """``k`` stratified folds of the indices (each class dealt round-robin after a fixed shuffle)."""
    rng = np.random.RandomState(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for c in np.unique(labels):
        for j, i in enumerate(rng.permutation(np.where(labels == c)[0])):
            folds[j % k].append(int(i))
    return folds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=DEFAULT, help=f"batch:rate[:warm-up], comma-separated ({DEFAULT})")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="lenet5", help="a LeNet-5 registration (default lenet5)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    raw = load_source("digits")
    train = build_data(raw, 1, (32, 32), augment="distort", val_fraction=0.0).train
    plain = build_data(raw, 1, (32, 32), augment="none", val_fraction=0.0).train  # the held-out fold's view
    folds = folds_of(train.targets.numpy())
    n = len(train)
    base = get_recipe("lenet5")
    rows = []
    t0 = time.time()
    for batch, lr, warm, passes, clip, sched_name in parse(args.configs, base):
        rec = dataclasses.replace(
            base,
            batch_size=batch,
            lr=lr,
            warmup_epochs=warm,
            epochs=passes,
            clip_grad_norm=clip,
            schedule=sched_name,
            **(PIECEWISE if sched_name == "piecewise" else {}),
        )
        per_seed, worst = [], 1.0
        for seed in seeds:
            right = 0
            for k, held in enumerate(folds):
                keep = [i for j, f in enumerate(folds) if j != k for i in f]
                seed_everything(seed)
                model = create_model(args.model)
                opt = rec.make_optimizer(model)
                sched = rec.make_scheduler(opt, -(-len(keep) // batch))
                Trainer(
                    model, opt, IndexedDataset(train, keep), epochs=rec.epochs, batch_size=batch,
                    scheduler=sched, seed=seed, progress=False, log=False, num_classes=10,
                    clip_grad_norm=clip,
                ).fit()  # fmt: skip
                top1 = evaluate(model, IndexedDataset(plain, held), ks=(1,), num_classes=10).topk[1]
                worst = min(worst, top1)
                right += round(top1 * len(held))
            per_seed.append(right / n)
            print(
                f"batch {batch} lr {lr:g} {rec.schedule} passes {passes} clip {clip:g} warm-up {warm}: "
                f"seed {seed} held-out top-1 {right / n:.4f}",
                flush=True,
            )
        updates = rec.epochs * -(-(n * (FOLDS - 1) // FOLDS) // batch)
        rows.append((batch, lr, rec.schedule, warm, passes, clip, updates, per_seed, worst))
    minutes = (time.time() - t0) / 60
    lines = [
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `benchmarks/lenet5_batch_cv.py` "
        f"({minutes:.0f} min): `{args.model}` trained with the lenet5 recipe (distortions, SGD with momentum "
        "0.9) at other batch sizes, first rates, passes, clips and schedules, "
        f"{FOLDS}-fold cross-validation of the digits training split (1,437 images, stratified folds, fixed "
        f"seed), seeds {args.seeds}; held-out top-1 over all 1,437 images. No test image is read. A fold "
        "that diverges shows as a low worst fold. piecewise is the paper's steps of the rate (x0.4, x0.2, "
        "x0.1, x0.02) at 40/60/75/90% of the passes."
        + (
            " The first row is the recipe `cnnzoo train lenet5` runs now, the second the one it ran before."
            if args.model == "lenet5" and args.configs == DEFAULT
            else ""
        ),
        "",
        "| batch | first rate | schedule | passes | clip | warm-up epochs | updates a fold | held-out top-1 "
        "per seed | mean | worst fold |",
        "|---:|---:|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for batch, lr, schedule, warm, passes, clip, updates, per_seed, worst in rows:
        seeds_txt = " / ".join(f"{100 * a:.2f}" for a in per_seed)
        lines.append(
            f"| {batch} | {lr:g} | {schedule} | {passes} | {clip:g} | {warm} | {updates:,} | {seeds_txt} | "
            f"{100 * statistics.mean(per_seed):.2f}% | {100 * worst:.2f}% |"
        )
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        # one section a model: lenet5's is the main job's; the linear-output variants' chose their rate
        tag = "lenet5-batch-cv" + ("" if args.model == "lenet5" else f"-{args.model}")
        title = "Fewer updates? The lenet5 recipe's batch, rate, passes, clip and schedule, cross-validated"
        if args.model != "lenet5":
            title = f"The lenet5 recipe's first rate for {args.model} (a linear output), cross-validated"
        write_section(BENCHMARKS_MD, f"<!-- {tag}:start -->", f"<!-- {tag}:end -->", body, title)
        print(f"wrote {BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
