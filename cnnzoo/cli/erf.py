"""``cnnzoo erf MODEL|CHECKPOINT``: the effective receptive field (Luo et al., NeurIPS 2016) of a model's
layers beside their theoretical field: a heat-map PNG and the per-layer table."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..errors import CnnzooError
from ._args import command, name_list, positive_int

if TYPE_CHECKING:
    from ..record import ModelRecord

ORDER = 25  # after summary/compare

_EPILOG = """\
The ERF of a layer is the gradient of its centre unit with respect to the input, |dy/dx| summed over
channels and averaged over the inputs (random N(0,1) images by default; --data uses real test images).
The dashed square is the theoretical receptive field of that unit (as `cnnzoo summary` computes it);
r68 / r95 are the radii (input pixels, from the unit's centre) holding 68% / 95% of the ERF's mass;
"support" is the extent of the non-zero gradient, which never leaves the theoretical field.
Examples:
  cnnzoo erf lenet5
  cnnzoo erf resnet50 --layers layer1,layer2,layer3,layer4 --samples 8 --png erf-resnet50.png
  cnnzoo erf runs/resnet20-digits/best.pt --data digits --samples 64
"""


_ERF_HELP = "effective receptive field of a model's layers (heat-map PNG + table)"
_ERF = (
    "Measure the effective receptive field (Luo et al., NeurIPS 2016) of the centre unit of "
    "each chosen layer, with random (MODEL) or trained (CHECKPOINT) weights, and draw it with the "
    "theoretical field."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "erf", run_erf, _ERF_HELP, _ERF, epilog=_EPILOG, raw=True)
    p.add_argument(
        "model", metavar="MODEL|CHECKPOINT", help="registered model name or cnnzoo checkpoint (.pt)"
    )
    p.add_argument(
        "--layers",
        type=name_list,
        help="comma-separated module names (default: the end of each stage); 'features:out' = last map",
    )
    p.add_argument("--list-layers", action="store_true", help="print the model's module names and exit")
    p.add_argument("--input", metavar="CxHxW", help="input size for random inputs (default: the model's)")
    p.add_argument("--samples", type=positive_int, default=16, help="inputs to average over (default 16)")
    p.add_argument("--data", help="use real test images of this data source (e.g. digits) instead of noise")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs (default 0)")
    p.add_argument(
        "--float32", action="store_true", help="compute in float32 (default float64: exact support)"
    )
    p.add_argument("--png", help="heat-map file (default erf-MODEL.png)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run_erf(args: argparse.Namespace) -> int:
    import torch

    from ..analysis.erf import default_erf_layers, effective_receptive_field
    from ..analysis.tracing import layer_type
    from ..checkpoint import is_checkpoint_path
    from ..factory import model_from_checkpoint
    from ..sizes import parse_input_size

    torch.manual_seed(args.seed)
    model = model_from_checkpoint(args.model)
    record = model.cnnzoo_record
    trained = is_checkpoint_path(args.model)
    name = record.name
    if args.list_layers:
        for n, m in model.named_modules():
            if n:
                print(f"{n}  {layer_type(m)}")
        print("default layers: " + ", ".join(default_erf_layers(model)))
        return 0
    images = None
    inputs = None
    size = parse_input_size(args.input) if args.input else None
    if args.data:
        images, inputs = _real_images(args, record)
    elif size is None:
        size = tuple(record.input_size)
    res = effective_receptive_field(
        model,
        args.layers,
        size,
        samples=args.samples,
        images=images,
        seed=args.seed,
        dtype=torch.float32 if args.float32 else torch.float64,
        name=name,
        weights=f"trained ({args.model})" if trained else f"random (seed {args.seed})",
        inputs=inputs,
    )
    png = args.png or f"erf-{name}.png"
    res.plot(png)
    if args.json:
        print(json.dumps({**res.as_dict(), "png": png}))
        return 0
    print(res.caption())
    print(res.to_table(), end="")
    print(f"heat map: {png}")
    return 0


def _real_images(args: argparse.Namespace, record: ModelRecord):  # noqa: ANN202
    """Up to ``--samples`` test images of ``--data``, normalised as the model's record says."""
    import torch

    from ..train.run import eval_data_for

    bundle = eval_data_for(record, args.data)
    test = bundle.test
    n = min(args.samples, len(test))  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(args.seed)
    idx = torch.randperm(len(test), generator=g)[:n].tolist()  # type: ignore[arg-type]
    items = [test[i] for i in idx]
    items = [it for it in items if it is not None]
    if not items:
        raise CnnzooError(f"no readable test image in {args.data!r}.")
    xs = [x[0] if x.ndim == 4 else x for x, _ in items]  # one centre view each
    return torch.stack(xs), f"{len(xs)} test images of {args.data}"
