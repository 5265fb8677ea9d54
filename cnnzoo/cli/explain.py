"""``cnnzoo explain``, ``cnnzoo filters`` and ``cnnzoo activations``: pictures of what a CNN looks at."""

from __future__ import annotations

import argparse

from ..options import Reduce
from ..registries import METHODS
from ._args import call_with_args, command, listing

ORDER = 70


_EXPLAIN_HELP = "saliency / Grad-CAM / guided backprop / deconvnet maps for images"
_EXPLAIN = (
    "Explain a model's decision on images: writes one PNG with, per image, the image, the "
    "map and an overlay with a colour bar, titled with the predicted and explained classes and their "
    "scores. Methods: {methods}. Images are read with PIL, converted to the model's channels, "
    "resized and centre-cropped to its input size and normalised with the checkpoint's mean/std."
)

_EXPLAIN_EXAMPLES = "example: cnnzoo explain runs/lenet5/best.pt digits/ --method gradcam --out gradcam.png"

_FILTERS = (
    "Draw the filters of a convolution (default: the first one, as in Krizhevsky et al. "
    "2012, Fig. 3) as a grid, each filter scaled to its own range."
)

_ACTIVATIONS = "Draw the feature maps that one layer produces for one image, on one colour scale."


def register(sub: argparse._SubParsersAction) -> None:
    about = _EXPLAIN.format(methods=listing(METHODS))
    p = command(sub, "explain", run_explain, _EXPLAIN_HELP, about, epilog=_EXPLAIN_EXAMPLES)
    p.add_argument(
        "checkpoint",
        metavar="CHECKPOINT|MODEL",
        help="a cnnzoo checkpoint, or a registered model name (random weights)",
    )
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files or folders of images (a grid)")
    p.add_argument(
        "--method", choices=METHODS.names(), default="saliency", help="explanation method (default: saliency)"
    )
    p.add_argument(
        "--class",
        dest="target",
        type=int,
        default=None,
        metavar="N",
        help="class index to explain (default: the predicted class)",
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


def run_explain(args: argparse.Namespace) -> int:
    from ..explain.visualize import explain_files

    rename = {"n_samples": "samples", "noise_level": "noise"}
    path, exp = call_with_args(explain_files, args, args.checkpoint, args.images, args.out, rename=rename)
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
