"""``cnnzoo train``, ``cnnzoo eval`` and ``cnnzoo recipes``: training and evaluating as the papers did it."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from .. import env
from ..errors import CnnzooError
from ._args import add_precision, call_with_args, command, nonneg_float, positive_int

ORDER = 40


def _int_list(s: str) -> list[int]:
    try:
        vals = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {s!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive comma-separated numbers, got {s!r}")
    return vals


def _randaugment(s: str) -> tuple[int, int]:
    try:
        vals = [int(x) for x in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or N,M (whole numbers), got {s!r}") from None
    if len(vals) not in (1, 2) or vals[0] < 0 or (len(vals) == 2 and not 0 <= vals[1] <= 30):
        raise argparse.ArgumentTypeError(f"expected N >= 0 or N,M with M in 0..30, got {s!r}")
    return vals[0], vals[1] if len(vals) == 2 else 9


_TRAIN = (
    "Train MODEL on DATA with a paper's recipe (default: the model's own; `cnnzoo recipes` "
    "lists "
    "them), writing per-epoch checkpoints (last.pt, best.pt), metrics.csv, TensorBoard events (tb/) and "
    "curves.png into --out. Ends by printing the test top-1, the checkpoint path and the curves path. "
    "Under `torchrun --nproc_per_node=N -m cnnzoo train ...` it trains data-parallel (--batch-size is "
    "the "
    "global batch). Example: cnnzoo train lenet5  (digits, about 10 s on 2 quiet cores)."
)

_EVAL_HELP = "evaluate checkpoints (top-k, per-class, confusion matrix; several = an ensemble)"
_EVAL = (
    "Evaluate CHECKPOINT on the test split of DATA (default: the data it was trained on): "
    "top-1, "
    "top-5 (any --topk), per-class accuracy and a confusion-matrix PNG. Several checkpoints form an "
    "ensemble "
    "(mean of their softmax). --crops 10 is AlexNet's 10-crop testing, 144 GoogLeNet's; --scales gives "
    "VGG's multi-scale testing; --dense is VGG's dense evaluation (FC layers as convolutions over the "
    "whole image resized to shorter side Q, score map averaged, with mirrors), e.g. "
    "`cnnzoo eval run/best.pt --dense --scales 256,384,512`. Every report states its protocol (views, "
    "scales, flips, resize, how views and models are combined)."
)

_RECIPES = "List the training recipes with their hyper-parameters and paper sections."


def register(sub: argparse._SubParsersAction) -> None:
    from ..model_index import RECIPES
    from ..options import Augment, DropPathSchedule, Optimizer, Schedule
    from ..registries import source_forms

    sources = ", ".join(source_forms())

    t = command(sub, "train", run_train, "train a model with its paper's recipe", _TRAIN)
    t.add_argument("model", help="registered model name (see `cnnzoo list`)")
    t.add_argument("--data", help=f"data source: {sources} (default: digits; a resumed run keeps its own)")
    t.add_argument("--recipe", choices=sorted(RECIPES), help="training recipe (default: the model's paper)")
    t.add_argument("--epochs", type=positive_int, help="override the recipe's number of epochs")
    t.add_argument("--lr", type=float, help="override the initial learning rate")
    t.add_argument("--batch-size", type=positive_int, help="override the (global) batch size")
    t.add_argument("--weight-decay", type=nonneg_float, help="override the L2 weight decay")
    t.add_argument("--momentum", type=nonneg_float, help="override the momentum")
    t.add_argument("--optimizer", choices=Optimizer.values(), help="override the optimizer")
    t.add_argument("--schedule", choices=Schedule.values(), help="override the learning-rate schedule")
    t.add_argument("--augment", choices=Augment.values(), help="override the recipe's augmentation")
    t.add_argument(
        "--val-fraction", type=float, help="fraction of the training images held out for validation"
    )
    t.add_argument(
        "--input",
        metavar="CxHxW",
        help="train at this input instead of the model's own, e.g. 1x28x28 for Fashion-MNIST's greyscale "
        "28x28 in a CIFAR network (default: the model's, e.g. 3x32x32: padded, 3 copies)",
    )
    g = t.add_argument_group(
        "regularisers (each overrides the recipe's field; `cnnzoo recipes NAME` shows what the paper used)"
    )
    g.add_argument(
        "--label-smoothing", type=nonneg_float, metavar="EPS", help="label smoothing (Inception-v3: 0.1)"
    )
    g.add_argument(
        "--ema-decay",
        type=nonneg_float,
        metavar="D",
        help="keep an exponential moving average of the weights, evaluated and saved as the model "
        "(0.9999 as TF's Inception; 0 = off)",
    )
    g.add_argument(
        "--ema-warmup",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TensorFlow's EMA warm-up: decay min(D, (1+t)/(10+t)) at update t",
    )
    g.add_argument(
        "--clip-grad-norm",
        type=nonneg_float,
        metavar="N",
        help="clip the global gradient L2 norm to N before each step (Inception-v3: 2.0; 0 = off)",
    )
    g.add_argument("--mixup", type=nonneg_float, metavar="ALPHA", help="mixup with Beta(ALPHA, ALPHA) (0.2)")
    g.add_argument(
        "--cutmix", type=nonneg_float, metavar="ALPHA", help="CutMix with Beta(ALPHA, ALPHA) (1.0)"
    )
    g.add_argument(
        "--randaugment",
        type=_randaugment,
        metavar="N[,M]",
        help="RandAugment: N operations at magnitude M of 30 (default M 9), e.g. 2,9; 0 = off",
    )
    g.add_argument(
        "--random-erasing",
        type=nonneg_float,
        metavar="P",
        help="random erasing with probability P (Zhong et al.: 0.5)",
    )
    g.add_argument(
        "--drop-path",
        type=nonneg_float,
        metavar="RATE",
        help="drop-path / stochastic-depth rate of the model's residual branches (its drop_path_rate)",
    )
    g.add_argument(
        "--drop-path-schedule",
        choices=DropPathSchedule.values(),
        help="linear: raise the drop-path rate from 0 over the run (NASNet's ScheduledDropPath)",
    )
    g.add_argument("--dropout", type=nonneg_float, metavar="P", help="the model's dropout probability")
    g.add_argument(
        "--warmup-epochs", type=int, metavar="E", help="linear learning-rate warm-up over E epochs"
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
    add_precision(
        t,
        "fp32 (default) or bf16: autocast, channels-last, float32 master weights; only on hardware with "
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

    e = command(sub, "eval", run_eval, _EVAL_HELP, _EVAL)
    e.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="cnnzoo checkpoint(s) (.pt)")
    e.add_argument("--data", help=f"data source ({sources}); default: the checkpoint's")
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
    add_precision(e, "fp32 (default) or bf16 autocast (hardware with native bf16 only)")
    e.add_argument(
        "--confusion", help="confusion-matrix PNG (default: confusion-eval.png beside the first checkpoint)"
    )
    e.add_argument(
        "--calibration",
        action="store_true",
        help="also measure calibration (Guo et al. 2017): ECE with 15 equal-width bins and the adaptive "
        "(equal-mass) ECE, NLL, Brier score, raw and after the checkpoint's temperature "
        "(`cnnzoo calibrate`), and draw a reliability diagram (--reliability)",
    )
    e.add_argument(
        "--reliability",
        metavar="PNG",
        help="reliability diagram file (default: reliability-eval.png beside the checkpoint; with "
        "--calibration)",
    )
    e.add_argument("--strict-data", action="store_true", help="stop at the first unreadable image")
    e.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (top1, top5 as fractions, n, crops, protocol)",
    )

    r = command(sub, "recipes", run_recipes, "list the papers' training recipes", _RECIPES)
    r.add_argument("name", nargs="?", help="show one recipe in full")
    r.add_argument("--json", action="store_true", help="print one JSON object")


def run_train(args: argparse.Namespace) -> int:
    import dataclasses

    from ..train.recipes import Recipe
    from ..train.run import train_model

    if args.workers < 0:
        raise CnnzooError("--workers must be 0 or more.")
    # --json: stdout is one JSON document, so everything the run says goes to stderr meanwhile
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        randaugment = args.randaugment or (None, None)
        given = dict(progress=not args.no_progress, channels_last=True if args.channels_last else None)
        given.update(randaugment_n=randaugment[0], randaugment_m=randaugment[1], input_size=args.input)
        recipe_fields = [f.name for f in dataclasses.fields(Recipe)]  # train_model's **overrides
        res = call_with_args(train_model, args, args.model, args.data, also=recipe_fields, **given)
    if args.json and env.integer("RANK", 0) == 0 and res.test is not None:
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
    if args.reliability and not args.calibration:
        raise CnnzooError("--reliability draws the calibration diagram; add --calibration.")
    if args.calibration and (len(args.checkpoints) > 1 or args.crops != 1 or args.dense or args.scales):
        raise CnnzooError(
            "--calibration measures one checkpoint on one view per image; drop the other checkpoints, "
            "--crops, --scales and --dense."
        )
    given = dict(confusion_png=confusion, progress=not args.json, flips=False if args.no_flip else None)
    res = call_with_args(
        evaluate_checkpoints, args, args.checkpoints, args.data, rename={"ks": "topk"}, **given
    )
    if env.integer("RANK", 0) != 0:
        return 0
    cal = None
    if args.calibration:
        from ..train.calibration import evaluate_calibration

        png = args.reliability or str(Path(args.checkpoints[0]).with_name("reliability-eval.png"))
        cal = evaluate_calibration(
            args.checkpoints[0], args.data, png=png, device=args.device or "cpu", strict_data=args.strict_data
        )
    if args.json:
        d = res.as_dict()
        if cal is not None:
            d["calibration"] = cal
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
    if cal is not None:
        print_calibration(cal)
    return 0


def print_calibration(cal: dict) -> None:
    """The calibration table of ``cnnzoo eval --calibration``."""
    print(f"calibration on the {cal['split']} split ({cal['bins']} bins; Guo et al. 2017):")
    print(f"  {'':<22} {'ECE':>7} {'adaptive ECE':>13} {'NLL':>7} {'Brier':>7} {'top-1':>7}")
    rows = [("raw logits", cal["raw"])]
    if cal.get("scaled"):
        rows.append((f"temperature {cal['temperature']:.3f}", cal["scaled"]))
    for name, r in rows:
        print(
            f"  {name:<22} {100 * r['ece']:6.2f}% {100 * r['adaptive_ece']:12.2f}% {r['nll']:7.4f} "
            f"{r['brier']:7.4f} {100 * r['top1']:6.2f}%"
        )
    if not cal.get("scaled"):
        print("  (not calibrated: `cnnzoo calibrate CHECKPOINT` fits a temperature on the validation split)")
    print(f"reliability diagram: {cal['png']}")


def run_recipes(args: argparse.Namespace) -> int:
    from ..train.recipes import CITED_FIELDS, RECIPES, get_recipe

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
            sched += f" x{r.factor} every {r.step_epochs:g} epochs"
        elif r.schedule == "plateau":
            sched += f" x{r.factor} (patience {r.patience})"
        elif r.schedule == "poly":
            sched += f" (power {r.power:g})"
        if r.warmup_epochs:
            sched += f" after {r.warmup_epochs} warm-up epoch(s) from x{r.warmup_factor:g}"
        opt = r.optimizer + (" nesterov" if r.nesterov else "")
        if r.optimizer.startswith("rmsprop"):
            opt += f" decay {r.rmsprop_alpha:g} eps {r.rmsprop_eps:g}"
        print(
            f"{r.name:<16} {opt} lr {r.lr:g} momentum {r.momentum:g} wd {r.weight_decay:g} "
            f"batch {r.batch_size} epochs {r.epochs} schedule {sched}; augment {r.augment}"
        )
        regs = r.regularisers()
        if not args.name:
            print(f"  {r.source}" + (f"; {', '.join(regs)}" if regs else ""))
            continue
        print(f"  source: {r.source}")
        values = {
            "optimizer": opt,
            "lr": f"{r.lr:g}",
            "schedule": sched,
            "weight_decay": f"{r.weight_decay:g}",
            "no_weight_decay": ", ".join(r.no_weight_decay) or "nothing excluded",
            "dropout": "the model's default" if r.dropout is None else f"{r.dropout:g}",
            "drop_path": ("the model's default" if r.drop_path is None else f"{r.drop_path:g}")
            + (", raised linearly over the run" if r.drop_path_schedule == "linear" else ""),
            "ema_decay": f"{r.ema_decay:g}" + (" (TF warm-up)" if r.ema_warmup else "")
            if r.ema_decay
            else "off",
            "clip_grad_norm": f"{r.clip_grad_norm:g}" if r.clip_grad_norm else "off",
        }
        for f in CITED_FIELDS:
            v = values.get(f, str(getattr(r, f)))
            print(f"  {f:<16} {v:<28} <- {r.cites.get(f, 'not cited')}")
        for f in ("mixup", "cutmix", "random_erasing", "max_filter_rms", "warmup_epochs"):
            if getattr(r, f):
                print(f"  {f:<16} {getattr(r, f)!s:<28} <- {r.cites.get(f, 'set by this recipe')}")
        if r.randaugment_n:
            print(f"  randaugment      N={r.randaugment_n} M={r.randaugment_m}")
        for n in r.notes:
            print(f"  note: {n}")
    return 0
