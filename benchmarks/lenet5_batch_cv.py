"""Can the main job take half the updates? 5-fold cross-validation of the lenet5 recipe's batch size and rate.

`cnnzoo train lenet5` runs 2,700 updates (30 passes of batches of 16) where the plain PyTorch script
runs 1,350 (batches of 32): the update count, not the cost of an update, is what keeps the main job above
the plain script (`benchmarks/_step_floor.py`). This script asks whether a larger batch at a scaled rate
reaches the same accuracy, on the training split only: its 1,437 digits are cut into 5 stratified folds
(fixed seed); each configuration trains the lenet5 recipe (distortions, piecewise schedule, the paper's
network) on 4 folds and is scored on the fifth, for every fold and seed; the held-out top-1 over all 1,437
images is printed per seed. No test image is read. Writes its table into BENCHMARKS.md (section
``lenet5-batch-cv``).

    python benchmarks/lenet5_batch_cv.py                       # ~6 min on 2 cores
    python benchmarks/lenet5_batch_cv.py --configs 16:0.003,32:0.006 --seeds 0 --no-write
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import BENCHMARKS_MD, write_section  # noqa: E402

from cnnzoo import create_model  # noqa: E402
from cnnzoo.data.sources import IndexedDataset, build_data, load_source  # noqa: E402
from cnnzoo.train import get_recipe  # noqa: E402
from cnnzoo.train.loop import Trainer, evaluate, seed_everything  # noqa: E402

#: batch:rate[:warm-up epochs]; the first is the recipe's own
DEFAULT = "16:0.003,32:0.006,32:0.005,64:0.006,64:0.006:2"
FOLDS = 5


def parse(spec: str) -> list[tuple[int, float, int]]:
    out = []
    for item in spec.split(","):
        parts = item.split(":")
        out.append((int(parts[0]), float(parts[1]), int(parts[2]) if len(parts) > 2 else 0))
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
    for batch, lr, warm in parse(args.configs):
        rec = dataclasses.replace(base, batch_size=batch, lr=lr, warmup_epochs=warm)
        per_seed, worst = [], 1.0
        for seed in seeds:
            right = 0
            for k, held in enumerate(folds):
                keep = [i for j, f in enumerate(folds) if j != k for i in f]
                seed_everything(seed)
                model = create_model("lenet5")
                opt = rec.make_optimizer(model)
                sched = rec.make_scheduler(opt, -(-len(keep) // batch))
                Trainer(
                    model, opt, IndexedDataset(train, keep), epochs=rec.epochs, batch_size=batch,
                    scheduler=sched, seed=seed, progress=False, log=False, num_classes=10,
                ).fit()  # fmt: skip
                top1 = evaluate(model, IndexedDataset(plain, held), ks=(1,), num_classes=10).topk[1]
                worst = min(worst, top1)
                right += round(top1 * len(held))
            per_seed.append(right / n)
            print(
                f"batch {batch} lr {lr:g} warm-up {warm}: seed {seed} held-out top-1 {right / n:.4f}",
                flush=True,
            )
        updates = rec.epochs * -(-(n * (FOLDS - 1) // FOLDS) // batch)
        rows.append((batch, lr, warm, updates, per_seed, worst))
    minutes = (time.time() - t0) / 60
    lines = [
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `benchmarks/lenet5_batch_cv.py` "
        f"({minutes:.0f} min): the lenet5 recipe (30 passes, distortions, piecewise schedule) at other batch "
        f"sizes and first rates, {FOLDS}-fold cross-validation of the digits training split (1,437 images, "
        f"stratified folds, fixed seed), seeds {args.seeds}; held-out top-1 over all 1,437 images. No test "
        "image is read. A fold that diverges shows as a low worst fold.",
        "",
        "| batch | first rate | warm-up epochs | updates a fold | held-out top-1 per seed | mean "
        "| worst fold |",
        "|---:|---:|---:|---:|---|---:|---:|",
    ]
    for batch, lr, warm, updates, per_seed, worst in rows:
        seeds_txt = " / ".join(f"{100 * a:.2f}" for a in per_seed)
        lines.append(
            f"| {batch} | {lr:g} | {warm} | {updates:,} | {seeds_txt} | "
            f"{100 * statistics.mean(per_seed):.2f}% | {100 * worst:.2f}% |"
        )
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(
            BENCHMARKS_MD,
            "<!-- lenet5-batch-cv:start -->",
            "<!-- lenet5-batch-cv:end -->",
            body,
            "Half the updates? The lenet5 recipe's batch size, cross-validated",
        )
        print(f"wrote {BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
