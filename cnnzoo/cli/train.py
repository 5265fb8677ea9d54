"""``cnnzoo train``, ``cnnzoo eval`` and ``cnnzoo recipes``: training and evaluating as the papers did it."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

from ..errors import CnnzooError
from ._args import nonneg_float, positive_int

ORDER = 40


def _int_list(s: str) -> list[int]:
    try:
        vals = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {s!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive comma-separated numbers, got {s!r}")
    return vals


def register(sub: argparse._SubParsersAction) -> None:
    from ..precision import PRECISIONS
    from ._names import AUGMENTS, OPTIMIZERS, RECIPES, SCHEDULES, SOURCES

    t = sub.add_parser(
        "train",
        help="train a model with its paper's recipe",
        description="Train MODEL on DATA with a paper's recipe (default: the model's own; `cnnzoo recipes` "
        "lists "
        "them), writing per-epoch checkpoints (last.pt, best.pt), metrics.csv, TensorBoard events (tb/) and "
        "curves.png into --out. Ends by printing the test top-1, the checkpoint path and the curves path. "
        "Under `torchrun --nproc_per_node=N -m cnnzoo train ...` it trains data-parallel (--batch-size is "
        "the "
        "global batch). Example: cnnzoo train lenet5  (digits, about 10 s on 2 quiet cores).",
    )
    t.add_argument("model", help="registered model name (see `cnnzoo list`)")
    t.add_argument(
        "--data", help=f"data source: {', '.join(SOURCES)} (default: digits; a resumed run keeps its own)"
    )
    t.add_argument("--recipe", choices=sorted(RECIPES), help="training recipe (default: the model's paper)")
    t.add_argument("--epochs", type=positive_int, help="override the recipe's number of epochs")
    t.add_argument("--lr", type=float, help="override the initial learning rate")
    t.add_argument("--batch-size", type=positive_int, help="override the (global) batch size")
    t.add_argument("--weight-decay", type=nonneg_float, help="override the L2 weight decay")
    t.add_argument("--momentum", type=nonneg_float, help="override the momentum")
    t.add_argument("--optimizer", choices=OPTIMIZERS, help="override the optimizer")
    t.add_argument("--schedule", choices=SCHEDULES, help="override the learning-rate schedule")
    t.add_argument("--augment", choices=AUGMENTS, help="override the recipe's augmentation")
    t.add_argument(
        "--val-fraction", type=float, help="fraction of the training images held out for validation"
    )
    t.add_argument(
        "--input",
        metavar="CxHxW",
        help="train at this input instead of the model's own, e.g. 1x28x28 for Fashion-MNIST's greyscale "
        "28x28 in a CIFAR network (default: the model's, e.g. 3x32x32: padded, 3 copies)",
    )
    t.add_argument("--out", help="run folder (default runs/MODEL-DATA; an existing run is never overwritten)")
    t.add_argument(
        "--resume", action="store_true", help="continue the run in --out (or the newest default one)"
    )
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0; a CPU run is repeatable)")
    t.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    t.add_argument("--workers", type=int, default=0, help="data-loading worker processes (default 0)")
    t.add_argument(
        "--threads",
        type=positive_int,
        help="torch CPU threads (default: for models under 20 M MACs per image, the count measured fastest "
        "on this machine, kept in ~/.cache/cnnzoo/threads.json; else all cores)",
    )
    t.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32 (default) or bf16: autocast, channels-last, float32 master weights; only on hardware with "
        "native bf16 (AVX512_BF16 or AMX CPUs, Ampere+ GPUs)",
    )
    t.add_argument(
        "--channels-last",
        action="store_true",
        help="train FP32 in the channels-last memory layout, faster for convolutions on most CPUs "
        "(ResNet-56: 1.4x a step on 2 Xeon cores); bf16 always uses it",
    )
    t.add_argument(
        "--strict-data", action="store_true", help="stop at the first unreadable image instead of skipping it"
    )
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.add_argument("--json", action="store_true", help="also print the final result as one JSON object")
    t.set_defaults(func=run_train)

    e = sub.add_parser(
        "eval",
        help="evaluate checkpoints (top-k, per-class, confusion matrix; several = an ensemble)",
        description="Evaluate CHECKPOINT on the test split of DATA (default: the data it was trained on): "
        "top-1, "
        "top-5 (any --topk), per-class accuracy and a confusion-matrix PNG. Several checkpoints form an "
        "ensemble "
        "(mean of their softmax). --crops 10 is AlexNet's 10-crop testing, 144 GoogLeNet's; --scales gives "
        "VGG's multi-scale testing; --dense is VGG's dense evaluation (FC layers as convolutions over the "
        "whole image resized to shorter side Q, score map averaged, with mirrors), e.g. "
        "`cnnzoo eval run/best.pt --dense --scales 256,384,512`. Every report states its protocol (views, "
        "scales, flips, resize, how views and models are combined).",
    )
    e.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="cnnzoo checkpoint(s) (.pt)")
    e.add_argument("--data", help=f"data source ({', '.join(SOURCES)}); default: the checkpoint's")
    e.add_argument("--crops", type=int, choices=(1, 10, 144), default=1, help="test-time views (default 1)")
    e.add_argument("--scales", type=_int_list, help="test scales Q for 224 inputs, e.g. 256,384,512 (VGG)")
    e.add_argument(
        "--dense",
        action="store_true",
        help="VGG's dense evaluation: whole image at each --scales Q (default 256), FC heads as convolutions",
    )
    e.add_argument(
        "--no-flip",
        action="store_true",
        help="with --dense: no horizontal mirrors (default: mirrors for photos, none for digits)",
    )
    e.add_argument("--topk", type=_int_list, default=[1, 5], help="comma-separated k values (default 1,5)")
    e.add_argument("--batch-size", type=positive_int, default=64, help="images per batch (default 64)")
    e.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    e.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32 (default) or bf16 autocast (hardware with native bf16 only)",
    )
    e.add_argument(
        "--confusion", help="confusion-matrix PNG (default: confusion-eval.png beside the first checkpoint)"
    )
    e.add_argument("--strict-data", action="store_true", help="stop at the first unreadable image")
    e.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (top1, top5 as fractions, n, crops, protocol)",
    )
    e.set_defaults(func=run_eval)

    r = sub.add_parser(
        "recipes",
        help="list the papers' training recipes",
        description="List the training recipes with their hyper-parameters and paper sections.",
    )
    r.add_argument("name", nargs="?", help="show one recipe in full")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.set_defaults(func=run_recipes)


def run_train(args: argparse.Namespace) -> int:
    from ..train.run import train_model

    if args.workers < 0:
        raise CnnzooError("--workers must be 0 or more.")
    # --json: stdout is one JSON document, so everything the run says goes to stderr meanwhile
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        res = train_model(
            args.model,
            args.data,
            recipe=args.recipe,
            out=args.out,
            resume=args.resume,
            seed=args.seed,
            device=args.device,
            workers=args.workers,
            strict_data=args.strict_data,
            progress=not args.no_progress,
            threads=args.threads,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            weight_decay=args.weight_decay,
            momentum=args.momentum,
            optimizer=args.optimizer,
            schedule=args.schedule,
            augment=args.augment,
            val_fraction=args.val_fraction,
            precision=args.precision,
            channels_last=True if args.channels_last else None,
            input_size=args.input,
        )
    if args.json and int(os.environ.get("RANK", "0")) == 0 and res.test is not None:
        print(
            json.dumps(
                {
                    "top1": res.test.top1,
                    "top5": res.test.top5,
                    "n": res.test.n,
                    "checkpoint": str(res.best_checkpoint),
                    "last": str(res.checkpoint),
                    "curves": str(res.curves),
                    "skipped": res.skipped,
                    "best_epoch": res.fit.best_epoch,
                    "protocol": res.test.protocol,
                }
            )
        )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..outputs import OutputError, check_output_file
    from ..train.run import evaluate_checkpoints

    confusion = args.confusion
    if confusion is None:  # the default goes beside the checkpoint, unless that folder is read-only
        confusion = str(Path(args.checkpoints[0]).with_name("confusion-eval.png"))
        try:
            check_output_file(confusion, "confusion-matrix figure")
        except OutputError as e:
            print(
                f"cnnzoo eval: note: no confusion matrix will be written ({str(e).rstrip('.')}); pass "
                "--confusion FILE.png to write it elsewhere.",
                file=sys.stderr,
            )
            confusion = None
    if args.no_flip and not args.dense:
        raise CnnzooError("--no-flip goes with --dense (10 and 144 crops always include mirrors).")
    if args.dense and args.crops != 1:
        raise CnnzooError("--dense evaluates the whole image; drop --crops.")
    res = evaluate_checkpoints(
        args.checkpoints,
        args.data,
        crops=args.crops,
        scales=args.scales,
        ks=args.topk,
        device=args.device,
        batch_size=args.batch_size,
        confusion_png=confusion,
        strict_data=args.strict_data,
        progress=not args.json,
        precision=args.precision,
        dense=args.dense,
        flips=False if args.no_flip else None,
    )
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    if args.json:
        d = res.as_dict()
        d.setdefault("top1", res.topk.get(1))
        d.setdefault("top5", res.topk.get(5))
        d["checkpoints"] = list(args.checkpoints)
        d["confusion_png"] = confusion
        print(json.dumps(d))
        return 0
    what = "ensemble of " + str(len(args.checkpoints)) if len(args.checkpoints) > 1 else args.checkpoints[0]
    print(f"{what}: n={res.n}, {res.crops} view(s) per image")
    if res.protocol is not None:
        print(f"protocol: {res.protocol['text']}")
        print(f"  resize: {res.protocol['resize']}; crop: {res.protocol['crop']}")
        print(f"  interpolation: {res.protocol['interpolation']}")
    print("  ".join(f"top-{k} {v:.4f}" for k, v in res.topk.items()) + f"  loss {res.loss:.4f}")
    width = max(len(c) for c in res.classes)
    print("per-class accuracy:")
    for c, a in zip(res.classes, res.per_class):
        print(f"  {c:<{width}}  {a:.4f}")
    if confusion is not None:
        print(f"confusion matrix: {confusion}")
    return 0


def run_recipes(args: argparse.Namespace) -> int:
    from ..train.recipes import RECIPES, get_recipe

    recipes = [get_recipe(args.name)] if args.name else list(RECIPES.values())
    if args.json:
        print(json.dumps({"recipes": [r.as_dict() for r in recipes]}))
        return 0
    for r in recipes:
        sched = r.schedule
        if r.schedule == "multistep":
            sched += f" x{r.factor} at {', '.join(f'{m:.0%}' for m in r.milestones)}"
        elif r.schedule == "piecewise":
            sched += " " + ", ".join(f"x{s} from {m:.0%}" for m, s in zip(r.milestones, r.lr_scales))
        elif r.schedule == "step":
            sched += f" x{r.factor} every {r.step_epochs} epochs"
        elif r.schedule == "plateau":
            sched += f" x{r.factor} (patience {r.patience})"
        print(
            f"{r.name:<16} {r.optimizer} lr {r.lr:g} momentum {r.momentum:g} wd {r.weight_decay:g} "
            f"batch {r.batch_size} epochs {r.epochs} schedule {sched}; augment {r.augment}"
        )
        if args.name:
            print(f"  source: {r.source}")
            for n in r.notes:
                print(f"  note: {n}")
        else:
            print(f"  {r.source.split(':')[0]}")
    return 0
