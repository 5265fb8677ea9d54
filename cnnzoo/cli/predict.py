"""``cnnzoo predict MODEL|CHECKPOINT|FILE.onnx IMAGE|DIR... [--top K] [--json|--csv]``: classify images."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from ..errors import CnnzooError
from ._args import add_precision, call_with_args, command, positive_int

ORDER = 45


_PREDICT_HELP = "classify images: top-k class names and probabilities"
_PREDICT = (
    "Classify image files (a folder: every image under it) with a model: a registered name "
    "loads its default pretrained weights (see `cnnzoo list --pretrained`; --weights picks others), a "
    "cnnzoo checkpoint uses its own weights and class names, and so does an ONNX file that `cnnzoo "
    "export` wrote (FP32 or INT8: the names and preprocessing travel in its metadata). Pictures are "
    "prepared as the weights expect (resize, centre crop, mean/std). Files that are not readable images "
    "are skipped and named."
)

_PREDICT_EXAMPLES = (
    "examples: cnnzoo predict resnet50_v1_5 photos/ --top 3; cnnzoo predict runs/ft/best.pt "
    "looks/val --top 1; cnnzoo predict ft_int8.onnx looks/val --top 1"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "predict", run, _PREDICT_HELP, _PREDICT, epilog=_PREDICT_EXAMPLES)
    p.add_argument(
        "model",
        metavar="MODEL|CHECKPOINT|FILE.onnx",
        help="registered model name, cnnzoo checkpoint, or ONNX file from `cnnzoo export`",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE|DIR", help="image files and/or folders")
    p.add_argument("--top", type=positive_int, default=5, metavar="K", help="classes per image (default 5)")
    p.add_argument(
        "--weights",
        metavar="SPEC",
        help="weights for a model name: torchvision, timm, "
        "torchvision:IMAGENET1K_V2, timm:TAG, hf-hub:ORG/REPO, a URL or a file",
    )
    add_precision(p, "fp32 (default) or bf16 autocast")
    p.add_argument("--batch", type=positive_int, default=16, metavar="N", help="images per pass (default 16)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON document")
    fmt.add_argument("--csv", action="store_true", help="print CSV rows: file,rank,class,index,probability")


def run(args: argparse.Namespace) -> int:
    from ..classify import predict

    records = call_with_args(predict, args, args.model, args.images, rename={"batch_size": "batch"})
    done = [r for r in records if "predictions" in r]
    skipped = [r for r in records if "error" in r]
    if args.json:
        print(
            json.dumps(
                {
                    "model": args.model,
                    "top": args.top,
                    "results": records,
                    "predicted": len(done),
                    "skipped": len(skipped),
                }
            )
        )
    elif args.csv:
        w = csv.writer(sys.stdout)
        w.writerow(["file", "rank", "class", "index", "probability"])
        for r in done:
            for q in r["predictions"]:
                w.writerow([r["file"], q["rank"], q["class"], q["index"], f"{q['probability']:.6f}"])
    else:
        for r in done:
            best = ", ".join(f"{q['class']} {100 * q['probability']:.1f}%" for q in r["predictions"])
            print(f"{r['file']}: {best}")
    for r in skipped:
        print(f"cnnzoo predict: skipped: {r['error']}", file=sys.stderr)  # the sentence names the file
    if not done:
        raise CnnzooError(f"none of the {len(records)} files could be read as an image.")
    return 0
