"""``cnnzoo explain``, ``cnnzoo filters`` and ``cnnzoo activations``: pictures of what a CNN looks at."""

from __future__ import annotations

import argparse

from ..options import Reduce
from ..registries import METHODS
from ._args import call_with_args, command, listing, nonneg_float, positive_int

ORDER = 70


_EXPLAIN_HELP = "saliency / Grad-CAM / guided backprop / deconvnet / occlusion maps, class models"
_EXPLAIN = (
    "Explain a model's decision on images: writes one PNG with, per image, the image, the "
    "map and an overlay with a colour bar, titled with the predicted and explained classes and their "
    "scores. Methods: {methods}. Images are read with PIL, converted to the model's channels, "
    "resized and centre-cropped to its input size and normalised with the checkpoint's mean/std."
)

_EXPLAIN_EXAMPLES = (
    "examples:\n  cnnzoo explain runs/lenet5/best.pt digits/ --method gradcam --out gradcam.png\n"
    "  cnnzoo explain efficientnet_lite0@pretrained cat.jpg --method occlusion --window 32 --stride 16 "
    "--out occ.png\n  cnnzoo explain efficientnet_lite0@pretrained --method class-model --class 1,130,945 "
    "--out classes.png"
)

_FILTERS = (
    "Draw the filters of a convolution (default: the first one, as in Krizhevsky et al. "
    "2012, Fig. 3) as a grid, each filter scaled to its own range."
)

_ACTIVATIONS = "Draw the feature maps that one layer produces for one image, on one colour scale."


def register(sub: argparse._SubParsersAction) -> None:
    about = _EXPLAIN.format(methods=listing(METHODS))
    p = command(sub, "explain", run_explain, _EXPLAIN_HELP, about, epilog=_EXPLAIN_EXAMPLES, raw=True)
    p.add_argument(
        "checkpoint",
        metavar="CHECKPOINT|MODEL",
        help="a cnnzoo checkpoint, or a registered model name (random weights)",
    )
    p.add_argument(
        "images",
        metavar="IMAGE",
        nargs="*",
        help="image files or folders of images (a grid); none for class-model",
    )
    p.add_argument(
        "--method", choices=METHODS.names(), default="saliency", help="explanation method (default: saliency)"
    )
    p.add_argument(
        "--class",
        dest="target",
        type=_classes,
        default=None,
        metavar="N",
        help="class index to explain (default: the predicted class); class-model: one or several, "
        "comma-separated",
    )
    p.add_argument(
        "--layer",
        default=None,
        metavar="NAME",
        help="layer for gradcam / guided-gradcam / deconvnet (default: the last conv feature map)",
    )
    p.add_argument(
        "--channel",
        type=int,
        default=None,
        metavar="K",
        help="deconvnet: the feature map to project (default: the most active one)",
    )
    p.add_argument(
        "--reduce",
        choices=Reduce.values(),
        default="max",
        help="how to combine colour channels of |gradient| (default: max, as Simonyan et al.)",
    )
    p.add_argument("--samples", type=int, default=50, help="smoothgrad: noisy samples (default: 50)")
    p.add_argument(
        "--noise",
        type=float,
        default=0.15,
        help="smoothgrad: noise std as a fraction of the image's range (default: 0.15)",
    )
    p.add_argument(
        "--window",
        type=positive_int,
        default=None,
        help="occlusion: the grey square's side in pixels (default: a seventh of the image's shorter side)",
    )
    p.add_argument(
        "--stride",
        type=positive_int,
        default=None,
        help="occlusion: how far it moves (default: half the window)",
    )
    p.add_argument(
        "--fill",
        type=nonneg_float,
        default=None,
        metavar="GREY",
        help="occlusion: the square's grey level in [0, 1] (default: the data's mean colour, as the paper's "
        "grey on mean-subtracted inputs)",
    )
    p.add_argument("--steps", type=positive_int, default=200, help="class-model: ascent steps (default 200)")
    p.add_argument(
        "--step-size", type=float, default=1.0, help="class-model: gradient ascent step (default 1)"
    )
    p.add_argument(
        "--l2", type=nonneg_float, default=0.01, help="class-model: lambda of the L2 term (default 0.01)"
    )
    p.add_argument(
        "--jitter",
        type=int,
        default=0,
        help="class-model: random shift of up to N pixels per step (default 0: off)",
    )
    p.add_argument(
        "--blur",
        type=nonneg_float,
        default=0.0,
        help="class-model: Gaussian blur sigma every 4 steps (default 0: off)",
    )
    p.add_argument("--out", required=True, metavar="FILE.png", help="where to write the figure")

    f = command(sub, "filters", run_filters, "a convolution's filters as an image grid", _FILTERS)
    f.add_argument("checkpoint", metavar="CHECKPOINT|MODEL", help="a cnnzoo checkpoint or a model name")
    f.add_argument("--layer", default=None, metavar="NAME", help="a Conv2d layer name (default: the first)")
    f.add_argument("--out", required=True, metavar="FILE.png", help="where to write the figure")

    a = command(sub, "activations", run_activations, "one layer's feature maps for an image", _ACTIVATIONS)
    a.add_argument("checkpoint", metavar="CHECKPOINT|MODEL", help="a cnnzoo checkpoint or a model name")
    a.add_argument("image", metavar="IMAGE", help="an image file")
    a.add_argument("--layer", required=True, metavar="NAME", help="layer name, as in model.named_modules()")
    a.add_argument("--max-maps", type=int, default=64, help="show at most this many maps (default: 64)")
    a.add_argument("--out", required=True, metavar="FILE.png", help="where to write the figure")


def _classes(s: str) -> list[int]:
    try:
        vals = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a class index or a comma list of them, got {s!r}"
        ) from None
    if not vals:
        raise argparse.ArgumentTypeError("expected a class index")
    return vals


def run_explain(args: argparse.Namespace) -> int:
    from ..errors import CnnzooError
    from ..explain.visualize import explain_files

    if args.method == "class-model":
        from ..explain.class_model import class_model_file

        if args.images:
            raise CnnzooError(
                "a class model starts from the mean image, not from a photo (Simonyan et al. Sec. 2); give "
                "no "
                "images, only --class."
            )
        if not args.target:
            raise CnnzooError(
                "class-model draws the image of a class; give one or more with --class N[,M...]."
            )
        path = call_with_args(class_model_file, args, args.checkpoint, args.target, args.out)
        print(f"wrote {path} (class model of {len(args.target)} class(es), {args.steps} steps)")
        return 0
    if not args.images:
        raise CnnzooError(f"{args.method} explains images; name one or more image files or folders.")
    if args.target is not None and len(args.target) > 1:
        raise CnnzooError(
            f"{args.method} explains one class; give one --class N (several are for class-model)."
        )
    rename = {"n_samples": "samples", "noise_level": "noise", "fill_grey": "fill"}
    target = args.target[0] if args.target else None
    path, exp = call_with_args(
        explain_files, args, args.checkpoint, args.images, args.out, rename=rename, target=target
    )
    print(
        f"wrote {path} ({exp.method}{' @ ' + exp.layer if exp.layer else ''}, {exp.heat.shape[0]} image(s))"
    )
    return 0


def run_filters(args: argparse.Namespace) -> int:
    from ..explain.visualize import filters_file

    print(f"wrote {filters_file(args.checkpoint, args.out, args.layer)}")
    return 0


def run_activations(args: argparse.Namespace) -> int:
    from ..explain.visualize import activations_file

    print(f"wrote {activations_file(args.checkpoint, args.image, args.layer, args.out, args.max_maps)}")
    return 0
