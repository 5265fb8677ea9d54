"""``cnnzoo list [PATTERN] [--json]``: the registered models."""

from __future__ import annotations

import argparse
import json

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


def _table_from_index(pattern: str, family: str | None) -> list[tuple[str, str, int, tuple, str]]:
    """The table rows from the static model index (no torch import): what ``cnnzoo list`` prints."""
    import fnmatch

    from ._names import MODELS

    return [
        (n, *MODELS[n])
        for n in sorted(MODELS)
        if fnmatch.fnmatchcase(n, pattern) and (family is None or MODELS[n][0] == family)
    ]


def run(args: argparse.Namespace) -> int:
    if not args.json:
        rows = _table_from_index(args.pattern, args.family)
        if not rows:
            print(f"no model matches {args.pattern!r}")
            return 0
        width = max(len(r[0]) for r in rows)
        for n, family, year, input_size, description in rows:
            size = "x".join(map(str, input_size))
            print(f"{n:<{width}}  {family:<12} {year}  {size:<10} {description}")
        return 0
    from ..registry import list_models, model_info

    names = list_models(args.pattern, family=args.family)  # --json: every field, from the live registry
    print(json.dumps({"models": [model_info(n).as_dict() for n in names]}))
    return 0
