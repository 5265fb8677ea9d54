"""Robustness of classic networks to the 15 common corruptions on Fashion-MNIST (issue #28; Hendrycks &
Dietterich 2019): the networks of ``calibration_table.py`` (``_fashion_runs.py``: each trained by
``cnnzoo train`` with its own recipe on a fixed Fashion-MNIST subset), evaluated by ``cnnzoo robustness`` on
the same corrupted test images, with LeNet-5 as the reference network (as AlexNet is for ImageNet-C): error
per corruption (mean over severities 1-5), clean error, mCE and relative mCE. Writes the table into
BENCHMARKS.md (``robustness:start``/``robustness:end``) and ``benchmarks/figures/robustness_fashion.png``.

    python benchmarks/robustness_table.py --limit 10000   # every test image (~1 h on 2 quiet cores)
    python benchmarks/robustness_table.py --limit 500     # a fixed stratified 500 (~10 min)
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fashion_runs import BUDGETS, ROOT, TRAIN_IMAGES, ensure_trained, subset_dir  # noqa: E402
from _report import cpu_line, write_section  # noqa: E402

START, END = "<!-- robustness:start -->", "<!-- robustness:end -->"
FIGURE = ROOT / "benchmarks" / "figures" / "robustness_fashion.png"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    ap.add_argument("--reference", default="lenet5", choices=list(BUDGETS))
    ap.add_argument("--limit", type=int, default=1000, help="test images (a fixed stratified subset)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import torch

    from cnnzoo.checkpoint import load_checkpoint
    from cnnzoo.data.corruptions import CORRUPTIONS
    from cnnzoo.train.robustness import _test_images, evaluate_robustness, plot_robustness

    torch.set_num_threads(1)
    data = subset_dir()
    models = [args.reference] + [m for m in args.models if m != args.reference]
    paths = [str(ensure_trained(m, data)) for m in models]
    r = evaluate_robustness(
        paths, reference=paths[0], limit=args.limit, seed=args.seed, progress=lambda s: print(s, flush=True)
    )
    images, _, _ = _test_images(r["data"], args.limit, (1, 32, 32))
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    plot_robustness(r, FIGURE, images[0])
    head = "| corruption | " + " | ".join(models) + " |\n|---|" + "---:|" * len(models) + "\n"
    lines = ["| clean | " + " | ".join(f"{100 * m['clean_error']:.2f}" for m in r["models"]) + " |"]
    for c in CORRUPTIONS:
        lines.append(
            f"| {c} | " + " | ".join(f"{100 * sum(m['errors'][c]) / 5:.2f}" for m in r["models"]) + " |"
        )
    lines.append("| **mCE** | " + " | ".join(f"**{100 * m['mce']:.1f}%**" for m in r["models"]) + " |")
    lines.append(
        "| relative mCE | " + " | ".join(f"{100 * m['relative_mce']:.1f}%" for m in r["models"]) + " |"
    )
    budgets = ", ".join(
        f"{m}: recipe {load_checkpoint(p).run['recipe']['name']}, {BUDGETS[m][0]} epochs"
        for m, p in zip(models, paths)
    )
    cmd = f"python benchmarks/robustness_table.py --limit {args.limit}"
    cmd += f" --seed {args.seed}" if args.seed else ""
    cmd += f" --models {' '.join(args.models)}" if args.models != list(BUDGETS) else ""
    body = (
        f"`{cmd}` ({datetime.now():%Y-%m-%d %H:%M}; {cpu_line()}): {r['n']} Fashion-MNIST test images (a "
        "fixed "
        f"stratified subset of the 10,000), each under the 15 corruptions x 5 severities of Hendrycks & "
        f"Dietterich 2019 (`cnnzoo.data.corruptions`, seed {args.seed}; the same images for every network). "
        f"Networks trained by `cnnzoo train` on a fixed {TRAIN_IMAGES:,} of the 60,000 training images ("
        f"{budgets}; best epoch by validation top-1). Errors in %, mean over severities 1-5; mCE and "
        "relative "
        f"mCE against {args.reference} (= 100%, as AlexNet for ImageNet-C). Figure: "
        "`benchmarks/figures/robustness_fashion.png`. The same for one checkpoint: `cnnzoo robustness "
        "runs/bench/fashion-cal-resnet20/best.pt --reference runs/bench/fashion-cal-lenet5/best.pt "
        f"--limit {args.limit}`.\n\n" + head + "\n".join(lines)
    )
    write_section(
        ROOT / "BENCHMARKS.md", START, END, body, "Robustness to common corruptions on Fashion-MNIST"
    )
    print(f"wrote BENCHMARKS.md ({START}) and {FIGURE}")


if __name__ == "__main__":
    main()
