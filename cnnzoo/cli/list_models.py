"""``cnnzoo list [PATTERN] [--pretrained] [--json]``: the registered models."""

from __future__ import annotations

import argparse
import json

from ..errors import CnnzooError
from ._args import command

ORDER = 10


_LIST = (
    "List the registered models (fnmatch PATTERN, e.g. 'resnet*'), with family, year and "
    "default input size. With --pretrained: only the models that published weights fit, with their "
    "weights tags, sources and published ImageNet accuracy (load one with create_model(NAME, "
    "pretrained=True) or `cnnzoo predict NAME IMAGE`)."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "list", run, "list the registered models", _LIST)
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern (default: all)")
    p.add_argument("--family", help="only this family (e.g. vgg, resnet)")
    p.add_argument("--pretrained", action="store_true", help="only models with pretrained weights")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _table_from_index(pattern: str, family: str | None) -> list[tuple[str, str, int, tuple, str]]:
    """The table rows from the static model index (no torch import): what ``cnnzoo list`` prints."""
    import fnmatch

    from ..model_index import MODELS

    return [
        (n, *MODELS[n])
        for n in sorted(MODELS)
        if fnmatch.fnmatchcase(n, pattern) and (family is None or MODELS[n][0] == family)
    ]


def _nothing_matches(pattern: str, family: str | None) -> None:
    from ..model_index import MODELS

    families = sorted({f for f, *_ in MODELS.values()})
    if family is not None and family not in families:
        raise CnnzooError(f"no family {family!r}; families are: {', '.join(families)}.")
    where = f" in family {family!r}" if family else ""
    raise CnnzooError(f"no model matches {pattern!r}{where}; `cnnzoo list` shows every name.")


def run(args: argparse.Namespace) -> int:
    if not args.json and not args.pretrained:
        rows = _table_from_index(args.pattern, args.family)
        if not rows:
            _nothing_matches(args.pattern, args.family)
        width = max(len(r[0]) for r in rows)
        for n, family, year, input_size, description in rows:
            size = "x".join(map(str, input_size))
            print(f"{n:<{width}}  {family:<12} {year}  {size:<10} {description}")
        return 0
    from ..registry import list_models, model_info  # --json, --pretrained: the live registry

    names = list_models(args.pattern, family=args.family)
    if args.pretrained:
        return _pretrained(names, args.json)
    if not names:
        _nothing_matches(args.pattern, args.family)
    print(json.dumps({"models": [model_info(n).as_dict() for n in names]}))
    return 0


def _pretrained(names: list[str], as_json: bool) -> int:
    from ..weights.table import default_entry, entries

    names = [n for n in names if entries(n)]
    if as_json:
        out = [{"model": n, "weights": [e.as_dict() for e in entries(n)]} for n in names]
        print(json.dumps({"models": out}))
        return 0
    if not names:
        print("no model with pretrained weights matches")
        return 0
    width = max(len(n) for n in names)
    print(f"{'model':<{width}}  {'default weights':<36} {'acc@1':>6} {'acc@5':>6}  other tags")
    for n in names:
        best = default_entry(n)
        assert best is not None
        others = ", ".join(e.key for e in entries(n) if e is not best) or "-"
        acc1 = f"{best.acc1:.2f}" if best.acc1 is not None else "-"
        acc5 = f"{best.acc5:.2f}" if best.acc5 is not None else "-"
        print(f"{n:<{width}}  {best.key:<36} {acc1:>6} {acc5:>6}  {others}")
    print(f"{len(names)} models; accuracy: the source's published ImageNet-1k val top-1/top-5 (%).")
    return 0
