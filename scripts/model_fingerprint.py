"""The fingerprint of every registered model, to prove that a refactor changed no network.

For each of the registered models (built on the ``meta`` device, so the 100M-parameter ones cost no memory):
the parameter count, the MACs and the per-layer table of :func:`cnnzoo.profile` at the model's own input size
(each row's name, type, output shape, parameters, MACs and receptive field), every state-dict name with its
shape, the layer groups (``layer_group_names``), the classifier's name, the default-constructed factory's
signature and the registry's :class:`~cnnzoo.registry.ModelInfo`. With ``--numeric``, also the output of
every model under 30M parameters on a small seeded input with weights made from their names (so the figure
depends on what the network computes, not on the order its layers were created in).

    python scripts/model_fingerprint.py --out /tmp/before.json
    python scripts/model_fingerprint.py --out /tmp/after.json --compare /tmp/before.json

``--compare`` prints every model whose fingerprint differs (in what both files hold) and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import sys
import zlib
from pathlib import Path
from typing import Any

import torch

import cnnzoo
from cnnzoo.registry import entry

NUMERIC_MAX_PARAMS = 30_000_000


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _named_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A state dict whose values come from each entry's name (BN variances kept positive)."""
    out = {}
    for name, t in model.state_dict().items():
        g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        if t.dtype.is_floating_point:
            v = torch.randn(t.shape, generator=g) * 0.1
            if name.endswith("running_var"):
                v = v.abs() + 0.5
            out[name] = v
        else:
            out[name] = t.clone()
    return out


def fingerprint(name: str, numeric: bool) -> dict[str, Any]:
    info = cnnzoo.model_info(name)
    with torch.device("meta"):
        model = cnnzoo.create_model(name)
    prof = cnnzoo.profile(model, info.input_size)
    rows = [
        (r.name, r.type, list(r.output_shape), r.params, r.macs, r.receptive_field, r.jump, r.fits)
        for r in prof.rows
    ]
    sd = {k: list(v.shape) for k, v in model.state_dict().items()}
    groups = {g: list(m) for g, m in getattr(model, "layer_group_names", {}).items()}
    fn = entry(name).factory
    fp: dict[str, Any] = {
        "params": prof.total_params,
        "macs": prof.total_macs,
        "rows": len(rows),
        "rows_digest": _digest(rows),
        "state_dict": len(sd),
        "state_dict_digest": _digest(sd),
        "groups": groups,
        "classifier": getattr(model, "classifier_attr", None),
        "signature": str(inspect.signature(fn)),
        "defaults": {k: repr(v) for k, v in entry(name).defaults.items()},
        "info_digest": _digest(info.as_dict()),
    }
    if numeric and prof.total_params <= NUMERIC_MAX_PARAMS:
        real = cnnzoo.create_model(name).eval()
        real.load_state_dict(_named_weights(real))
        c, h, w = info.input_size
        size = min(h, 64) if h <= 64 else h  # small nets at their size; big ones at theirs (fixed-size heads)
        x = torch.randn(2, c, size, size, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            y = real(x)
        fp["output"] = [round(float(v), 4) for v in y.flatten()[:20]]
        fp["output_sum"] = round(float(y.double().sum()), 3)
    return fp


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="where to write the JSON fingerprint")
    p.add_argument("--compare", type=Path, help="an earlier fingerprint to compare with")
    p.add_argument("--numeric", action="store_true", help="also run the models under 30M parameters")
    p.add_argument("--pattern", default="*", help="only the models matching this fnmatch pattern")
    args = p.parse_args()
    torch.set_num_threads(1)
    names = cnnzoo.list_models(args.pattern)
    result = {}
    for i, n in enumerate(names, 1):
        result[n] = fingerprint(n, args.numeric)
        print(f"[{i}/{len(names)}] {n}", file=sys.stderr, flush=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=True))
    tmp.replace(args.out)
    print(f"{len(result)} models -> {args.out}")
    if args.compare is None:
        return 0
    before = json.loads(args.compare.read_text())
    bad = 0
    every = set(before) | set(result) if args.pattern == "*" else set(result)  # a pattern compares its own
    for n in sorted(every):
        a, b = before.get(n), result.get(n)
        if a is None or b is None:
            print(f"{n}: {'added' if a is None else 'removed'}")
            bad += 1
            continue
        keys = sorted(k for k in set(a) & set(b) if a[k] != b[k])  # outputs only where both ran them
        if keys:
            print(f"{n}: differs in {', '.join(keys)}")
            bad += 1
    print(f"{len(result)} models compared, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
