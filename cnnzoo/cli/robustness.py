"""``cnnzoo robustness CHECKPOINT [...] --data DATA --reference REF``: error under the 15 common
corruptions."""

from __future__ import annotations

import argparse
import json
import sys

from ._args import call_with_args, command, positive_int

ORDER = 43

_ROBUSTNESS_HELP = (
    "error under the 15 common corruptions x 5 severities, mCE against a reference (ImageNet-C)"
)
_ROBUSTNESS = """\
Evaluate CHECKPOINT(s) on DATA's test split under the 15 corruptions of Hendrycks & Dietterich 2019
(noise, blur, weather, digital) at severities 1-5, generated on the fly and the same for every model
(deterministic for --seed). Prints the error per corruption, the mean corruption error (mCE) and relative
mCE against --reference (a checkpoint evaluated on the same images, or the --json output of an earlier
run; AlexNet is ImageNet-C's reference, LeNet-5 the natural one for MNIST-sized data), and draws a PNG
(example images and per-corruption errors). Example: cnnzoo robustness runs/resnet20-fashion-mnist/best.pt
--reference runs/lenet5-fashion-mnist/best.pt --limit 1000"""


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "robustness", run, _ROBUSTNESS_HELP, _ROBUSTNESS)
    p.add_argument(
        "checkpoints", nargs="+", metavar="CHECKPOINT", help="checkpoint(s) written by `cnnzoo train`"
    )
    p.add_argument(
        "--data", help="fashion-mnist, mnist, cifar10, folder:DIR, ... (default: the first checkpoint's data)"
    )
    p.add_argument("--reference", help="reference checkpoint, or a JSON from `cnnzoo robustness --json`")
    p.add_argument(
        "--limit", type=positive_int, help="a fixed stratified subset of N test images (default: all)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the corruptions (default 0)")
    p.add_argument(
        "--corruptions",
        nargs="+",
        metavar="NAME",
        help="only these types (gaussian_noise shot_noise impulse_noise defocus_blur glass_blur motion_blur "
        "zoom_blur snow frost fog brightness contrast elastic_transform pixelate jpeg_compression)",
    )
    p.add_argument("--png", help="figure file (default: robustness.png beside the first checkpoint)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object (a later --reference can read it)"
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..data.corruptions import CORRUPTIONS
    from ..outputs import FIGURE_SUFFIXES, check_output_file
    from ..train.robustness import _test_images, evaluate_robustness, plot_robustness

    png = args.png or str(Path(args.checkpoints[0]).with_name("robustness.png"))
    check_output_file(png, "robustness figure", FIGURE_SUFFIXES)
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if args.json else (lambda s: print(s, flush=True))
    given = dict(corruptions=args.corruptions or CORRUPTIONS, progress=say)
    r = call_with_args(evaluate_robustness, args, args.checkpoints, args.data, **given)
    images, _, _ = _test_images(r["data"], args.limit, (3, 224, 224))
    plot_robustness(r, png, images[0])
    r["png"] = png
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"{r['data']}: {r['n']} test images, seed {r['seed']}; errors in %, mean over severities 1-5")
    names = [Path(m["checkpoint"]).parent.name or m["model"] for m in r["models"]]
    print(f"  {'corruption':<18}" + "".join(f"{n[:14]:>15}" for n in names))
    print(f"  {'clean':<18}" + "".join(f"{100 * m['clean_error']:15.2f}" for m in r["models"]))
    for c in r["corruptions"]:
        print(f"  {c:<18}" + "".join(f"{100 * sum(m['errors'][c]) / 5:15.2f}" for m in r["models"]))
    if r.get("reference_checkpoint"):
        print(
            f"  {'mCE':<18}"
            + "".join(f"{100 * m['mce']:14.1f}%" if "mce" in m else f"{'-':>15}" for m in r["models"])
        )
        print(
            f"  {'relative mCE':<18}"
            + "".join(
                f"{100 * m['relative_mce']:14.1f}%" if m.get("relative_mce") is not None else f"{'-':>15}"
                for m in r["models"]
            )
        )
        print(f"reference: {r['reference_checkpoint']} ({r['reference_model']}) = 100%")
    print(f"figure: {png}")
    return 0
