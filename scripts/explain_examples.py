"""Make the two README example figures of ``cnnzoo.explain`` from checkpoints given on the command line.

    python scripts/explain_examples.py CHECKPOINT IMAGE_OR_FOLDER... [--filters-from CHECKPOINT] [--out-dir
    DIR]

Writes ``DIR/explain_methods.png`` (each image explained by saliency, SmoothGrad, Grad-CAM, guided
backprop, guided Grad-CAM and -- for sequential conv/pool models -- the Zeiler-Fergus deconvnet, side by side)
and ``DIR/explain_filters.png`` (the first-layer filters of ``--filters-from``, default the same checkpoint,
as in Krizhevsky et al. 2012, Fig. 3). Errors a user can cause exit 2 with one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from cnnzoo.data.images import load_images
from cnnzoo.errors import CnnzooError
from cnnzoo.explain import METHODS, LayerError, explain
from cnnzoo.explain.visualize import class_label, filters_file, methods_figure
from cnnzoo.factory import model_from_checkpoint


def _deepest_reachable(model: torch.nn.Module, x: torch.Tensor, method: str):
    """The explanation at the deepest convolution or pooling layer ``method`` can reach, or None."""
    layers = [
        n
        for n, m in model.named_modules()
        if isinstance(
            m, (torch.nn.Conv2d, torch.nn.modules.pooling._MaxPoolNd, torch.nn.modules.pooling._AvgPoolNd)
        )
    ]
    for name in reversed(layers):
        try:
            return explain(model, x, method, layer=name)
        except LayerError:
            continue
    return None


def make_examples(
    checkpoint: str, images: list[str], out_dir: Path, filters_from: str | None = None, samples: int = 50
) -> list[Path]:
    """Write the two figures and return their paths."""
    model = model_from_checkpoint(checkpoint)
    paths, shown, x = load_images(images, model.cnnzoo_record)
    exps = []
    for method in METHODS:
        try:
            exps.append(
                explain(model, x, method, n_samples=samples, generator=torch.Generator().manual_seed(0))
            )
        except LayerError as e:  # the deconvnet cannot pass a layer (LeNet-5's sparse C3): go shallower
            exp = _deepest_reachable(model, x, method)
            if exp is None:
                print(f"skipping {method}: {e}", file=sys.stderr)
            else:
                print(f"{method}: {e.args[0].split(';')[0]}; shown at layer {exp.layer!r}", file=sys.stderr)
                exps.append(exp)
    out_dir.mkdir(parents=True, exist_ok=True)
    methods = methods_figure(
        shown,
        exps,
        out_dir / "explain_methods.png",
        [p.name for p in paths],
        class_label(model.cnnzoo_record),
    )
    filters = filters_file(filters_from or checkpoint, out_dir / "explain_filters.png")
    return [methods, filters]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="cnnzoo checkpoint (or model name) to explain")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--filters-from", default=None, help="checkpoint whose first-layer filters to draw")
    p.add_argument("--out-dir", type=Path, default=Path("docs/img"), help="output folder (default: docs/img)")
    p.add_argument("--samples", type=int, default=50, help="SmoothGrad samples (default: 50)")
    args = p.parse_args(argv)
    try:
        for path in make_examples(
            args.checkpoint, args.images, args.out_dir, args.filters_from, args.samples
        ):
            print(f"wrote {path}")
    except CnnzooError as e:
        print(f"explain_examples: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
