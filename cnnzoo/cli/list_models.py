"""``cnnzoo list [PATTERN] [--json]``: the registered models."""

from __future__ import annotations

import argparse
import json

from ..errors import CnnzooError
from ..registry import list_models, model_info

ORDER = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list the registered models",
        description="List the registered models (fnmatch PATTERN, e.g. 'resnet*'), with family, year and "
        "default input size.",
    )
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern (default: all)")
    p.add_argument("--family", help="only this family (e.g. vgg, resnet)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = list_models(args.pattern, family=args.family)
    if args.json:
        print(json.dumps({"models": [model_info(n).as_dict() for n in names]}))
        return 0
    if not names:
        families = sorted({model_info(n).family for n in list_models("*")})
        if args.family is not None and args.family not in families:
            raise CnnzooError(f"no family {args.family!r}; families are: {', '.join(families)}.")
        where = f" in family {args.family!r}" if args.family else ""
        raise CnnzooError(f"no model matches {args.pattern!r}{where}; `cnnzoo list` shows every name.")
    width = max(len(n) for n in names)
    for n in names:
        i = model_info(n)
        size = "x".join(map(str, i.input_size))
        print(f"{n:<{width}}  {i.family:<12} {i.year}  {size:<10} {i.description[:70]}")
    return 0
