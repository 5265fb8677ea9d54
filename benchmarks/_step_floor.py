"""Where the main job's time goes: one training step of each contender, timed in one process, interleaved.

``cnnzoo train lenet5`` runs 600 steps (20 epochs x 30 batches of 48, the paper's network with its sparse
C3, RBF output and affine distortions, the gradient clipped); ``lenet_plain.py`` runs 1,350 (30 x 45
batches of 32 of a plain tanh LeNet-5 with 2-pixel rolls). Both steps are built here as each program builds
them (the same model code, the same optimizer settings, the same augmentation) on random images of the
digits' size, and timed alternately in blocks, so that a slow stretch of the machine hits both. Prints one
JSON object: milliseconds per step of each, the steps each program runs (from the lenet5 recipe's epochs and
batch, and the plain script's 30 x 32), and the threads used. Run by ``benchmarks/bench_main_job.py``.

    python benchmarks/_step_floor.py --threads 2
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnzoo import create_model  # noqa: E402
from cnnzoo.data.transforms import AffineDistortion  # noqa: E402
from cnnzoo.train import get_recipe  # noqa: E402

N_TRAIN = 1437  # the digits split's training images
PLAIN_EPOCHS, PLAIN_BATCH = 30, 32  # benchmarks/baselines/lenet_plain.py


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=10, help="alternating blocks of each (default 10)")
    ap.add_argument("--steps", type=int, default=60, help="steps a block (default 60)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    X, y = torch.rand(N_TRAIN, 1, 32, 32), torch.randint(0, 10, (N_TRAIN,))

    recipe = get_recipe("lenet5")
    ours = create_model("lenet5").train()
    opt_ours = recipe.make_optimizer(ours)  # as `cnnzoo train` builds it (foreach SGD)
    distort = AffineDistortion()

    def step_ours() -> None:
        idx = torch.randint(0, N_TRAIN, (recipe.batch_size,))
        loss = F.cross_entropy(ours(distort(X[idx])), y[idx])
        opt_ours.zero_grad()
        loss.backward()
        if recipe.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(ours.parameters(), recipe.clip_grad_norm)
        opt_ours.step()

    plain = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
    )  # fmt: skip
    opt_plain = torch.optim.SGD(plain.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)

    def step_plain() -> None:
        idx = torch.randint(0, N_TRAIN, (PLAIN_BATCH,))
        dx, dy = torch.randint(-2, 3, (2,))
        xb = torch.roll(X[idx], (int(dx), int(dy)), (2, 3))
        loss = F.cross_entropy(plain(xb), y[idx])
        opt_plain.zero_grad()
        loss.backward()
        opt_plain.step()

    # `cnnzoo train` freezes what its imports made (cnnzoo.cli._args.imports_without_gc); the same here for
    # both steps, so that full collections walking torch's objects do not land on whichever step runs
    gc.freeze()
    steps = {"ours": step_ours, "plain": step_plain}
    spent = dict.fromkeys(steps, 0.0)
    for fn in steps.values():  # warm-up: oneDNN's primitives, the allocator
        for _ in range(args.steps):
            fn()
    for r in range(args.rounds):
        for name in list(steps)[:: 1 if r % 2 == 0 else -1]:
            t = time.perf_counter()
            for _ in range(args.steps):
                steps[name]()
            spent[name] += time.perf_counter() - t
    n = args.rounds * args.steps
    steps_run = {
        "ours_steps": recipe.epochs * math.ceil(N_TRAIN / recipe.batch_size),
        "plain_steps": PLAIN_EPOCHS * math.ceil(N_TRAIN / PLAIN_BATCH),
    }
    print(json.dumps({"threads": args.threads, "batch": recipe.batch_size, **steps_run, **{
        f"{k}_ms": round(v / n * 1e3, 3) for k, v in spent.items()}}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
