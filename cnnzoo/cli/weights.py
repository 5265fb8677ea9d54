"""``cnnzoo weights list|download|verify|path``: the pretrained-weights table and the local cache."""

from __future__ import annotations

import argparse
import json

from ..errors import CnnzooError
from ._args import command

ORDER = 12

_WEIGHTS_HELP = "pretrained weights: list, download, verify, where the file goes"
_WEIGHTS = (
    "The published checkpoints that fit cnnzoo models (torchvision, timm) and the local "
    "cache they are downloaded to ($CNNZOO_WEIGHTS_DIR, else torch.hub's checkpoints folder). "
    "$CNNZOO_WEIGHTS_MIRROR (a base URL or a folder) replaces the official hosts; $CNNZOO_OFFLINE=1 "
    "never touches the network."
)
_LIST = "Every checkpoint in the table: model, weights tag, published accuracy, cached or not."


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "weights", None, _WEIGHTS_HELP, _WEIGHTS)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    lp = command(verbs, "list", _list, "every checkpoint in the table", _LIST)
    lp.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern of model names (default: all)")
    lp.add_argument("--json", action="store_true", help="print one JSON object")
    for name, helptext, func in (
        ("download", "download weights into the cache (verified)", _download),
        ("path", "print where a checkpoint is (or goes) in the cache, and its URL", _path),
        ("verify", "check cached files against their published hash and load them safely", _verify),
    ):
        vp = command(verbs, name, func, helptext, helptext[0].upper() + helptext[1:] + ".")
        every = " (default: every cached file)" if name == "verify" else ""
        vp.add_argument(
            "models", nargs="*" if every else "+", metavar="MODEL", help="registered model name(s)" + every
        )
        vp.add_argument(
            "--weights",
            default=None,
            metavar="TAG",
            help="which checkpoint: torchvision, timm, torchvision:IMAGENET1K_V2, timm:TAG "
            "(default: the model's default)",
        )
        if name == "download":
            vp.add_argument("--all-tags", action="store_true", help="every checkpoint of each model")
            vp.add_argument("--mirror", help="a base URL or folder replacing the official hosts")
        vp.add_argument("--json", action="store_true", help="print one JSON object")


def _selected(models: list[str], spec: str | None, all_tags: bool = False) -> list:
    from ..registry import entry as registry_entry
    from ..weights.load import resolve
    from ..weights.table import entries

    out = []
    for m in models:
        registry_entry(m)  # an unknown name: one error with close names
        if all_tags:
            found = entries(m)
        else:
            res = resolve(m, spec or _default_spec(m))
            if res.entry is None:
                raise CnnzooError(
                    f"{spec!r} is not a published checkpoint; give a tag (see `cnnzoo weights list`)."
                )
            found = [res.entry]
        if not found:
            raise CnnzooError(f"no published weights fit {m!r}; see `cnnzoo list --pretrained`.")
        out += found
    return out


def _default_spec(model: str) -> str:
    from ..weights.table import default_entry

    best = default_entry(model)
    if best is None:
        raise CnnzooError(f"no published weights fit {model!r}; see `cnnzoo list --pretrained`.")
    return best.key


def _list(args: argparse.Namespace) -> int:
    import fnmatch

    from ..weights.hub import cached_path
    from ..weights.table import ENTRIES

    rows = [e for e in ENTRIES if fnmatch.fnmatchcase(e.model, args.pattern)]
    cached = {e.key + e.model: e.source != "package" and cached_path(e).is_file() for e in rows}
    if args.json:
        print(json.dumps({"weights": [{**e.as_dict(), "cached": cached[e.key + e.model]} for e in rows]}))
        return 0
    width = max((len(e.model) for e in rows), default=5)
    print(f"{'model':<{width}}  {'weights':<44} {'acc@1':>6} {'acc@5':>6}  cached")
    for e in rows:
        a1 = f"{e.acc1:.2f}" if e.acc1 is not None else "-"
        a5 = f"{e.acc5:.2f}" if e.acc5 is not None else "-"
        mark = "yes" if cached[e.key + e.model] else ("package" if e.source == "package" else "-")
        print(f"{e.model:<{width}}  {e.key + (' *' if e.default else ''):<44} {a1:>6} {a5:>6}  {mark}")
    n, m = len(rows), len({e.model for e in rows})
    print(f"{n} checkpoint{'s' * (n != 1)} of {m} model{'s' * (m != 1)} (* the default where several).")
    return 0


def _download(args: argparse.Namespace) -> int:
    from ..weights import hub

    if args.mirror:
        hub.configure(mirror=args.mirror)
    done = []
    for e in _selected(args.models, args.weights, args.all_tags):
        path = hub.fetch(e)
        done.append({"model": e.model, "weights": e.key, "path": str(path)})
        if not args.json:
            print(f"{e.model}  {e.key}  {path}")
    if args.json:
        print(json.dumps({"downloaded": done}))
    return 0


def _path(args: argparse.Namespace) -> int:
    from ..errors import WeightsError
    from ..weights.hub import cached_path, mirror, mirror_location, package_path

    rows = []
    for e in _selected(args.models, args.weights):
        state = "not downloaded yet"
        if e.source == "package":  # installed with a Python package: its file there, never downloaded
            try:
                path, state = package_path(e), "installed with its Python package"
            except WeightsError as err:
                path, state = None, str(err)
        else:
            path = cached_path(e)
            if path.is_file():
                state = "in the cache"
        base = mirror()
        rows.append(
            {
                "model": e.model,
                "weights": e.key,
                "path": str(path) if path else None,
                "url": e.location,
                "mirror_location": mirror_location(e, base) if base and e.source != "package" else None,
                "cached": bool(path and path.is_file()),
                "state": state,
            }
        )
    if args.json:
        print(json.dumps({"weights": rows}))
        return 0
    for r in rows:
        where = r["path"] if r["path"] else "no file"
        print(f"{r['model']}  {r['weights']}: {where} ({r['state']})\n  from {r['url']}")
        if r["mirror_location"]:
            print(f"  mirror: {r['mirror_location']}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..weights import hub
    from ..weights.table import ENTRIES

    chosen = (
        _selected(args.models, args.weights)
        if args.models
        else [e for e in ENTRIES if e.source != "package" and hub.cached_path(e).is_file()]
    )
    rows = []
    for e in chosen:
        state, problem = hub.verify(e)
        rows.append(
            {
                "model": e.model,
                "weights": e.key,
                "path": str(hub.cached_path(e)),
                "ok": state == "ok",
                "state": state,
                "problem": problem or None,
            }
        )
    if not args.models:  # files downloaded from users' URLs: checked against the hash recorded then
        for path, state, problem in hub.verify_url_files():
            rows.append(
                {"model": None, "weights": None, "path": str(path), "ok": state == "ok", "state": state}
                | {"problem": problem or None}
            )
    bad = [r for r in rows if r["state"] == "bad"]
    missing = [r for r in rows if r["state"] == "missing"]
    if args.json:
        print(json.dumps({"verified": rows, "failed": len(bad), "missing": len(missing)}))
    else:
        for r in rows:
            mark = {"ok": "ok    ", "bad": "FAILED", "missing": "absent"}[r["state"]]
            name = f"{r['model']}  {r['weights']}  " if r["model"] else ""
            print(f"{mark}  {name}{r['path']}" + (f": {r['problem']}" if r["problem"] else ""))
        print(f"{len(rows) - len(bad) - len(missing)} of {len(rows)} files verified.")
    if bad:
        raise CnnzooError(
            f"{len(bad)} weights file(s) failed verification ({bad[0]['path']}...); delete them and run "
            "`cnnzoo weights download`."
        )
    if missing:
        names = " ".join(dict.fromkeys(str(r["model"]) for r in missing))
        raise CnnzooError(
            f"{len(missing)} of the weights asked for {'is' if len(missing) == 1 else 'are'} not downloaded "
            f"yet, so there is nothing to verify; run `cnnzoo weights download {names}` first."
        )
    return 0
