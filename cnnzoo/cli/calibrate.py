"""``cnnzoo calibrate CHECKPOINT [--data DATA] [--out FILE]``: temperature scaling fitted on validation
data."""

from __future__ import annotations

import argparse
import json

from ._args import command

ORDER = 42

_CALIBRATE_HELP = (
    "fit a temperature on the validation split and store it in the checkpoint (temperature scaling)"
)
_CALIBRATE = """\
Fit one temperature T on the validation images CHECKPOINT's run held out (its recipe's --val-fraction of
DATA's training images, the same fixed split), minimising the NLL of softmax(z/T) (Guo et al. 2017, Sec.
4.2), and store T in the checkpoint's record, atomically: `cnnzoo predict` and `cnnzoo serve` then divide
the logits by it, and `cnnzoo eval --calibration` reports before and after. Accuracy does not change. Test
images are never used. Example: cnnzoo calibrate runs/resnet20-fashion-mnist/best.pt && cnnzoo eval
runs/resnet20-fashion-mnist/best.pt --calibration"""


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "calibrate", run, _CALIBRATE_HELP, _CALIBRATE)
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint written by `cnnzoo train`")
    p.add_argument("--data", help="data source (default: the one the checkpoint was trained on)")
    p.add_argument("--out", help="write the calibrated checkpoint here instead of updating CHECKPOINT")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--strict-data", action="store_true", help="stop at the first unreadable image")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from ..train.calibration import calibrate_checkpoint

    r = calibrate_checkpoint(
        args.checkpoint, args.data, out=args.out, device=args.device, strict_data=args.strict_data
    )
    if args.json:
        print(json.dumps(r))
        return 0
    print(
        f"temperature {r['temperature']:.4f} fitted on {r['n']} validation images: NLL "
        f"{r['val_nll_before']:.4f} -> {r['val_nll_after']:.4f}, ECE {100 * r['val_ece_before']:.2f}% -> "
        f"{100 * r['val_ece_after']:.2f}%"
    )
    print(f"stored in the record of {r['checkpoint']} (predict and serve apply it)")
    return 0
