"""Effective-receptive-field figures for the README (docs/img/erf-*.png) and their tables
(docs/img/erf-tables.md): LeNet-5, VGG-16 and ResNet-50 with random weights on random inputs, and ResNet-20
with random and with trained weights (trained briefly here on scikit-learn's digits, measured on real test
digits) — Luo et al. (NeurIPS 2016) Fig. 1 and Sec. 4.

    python scripts/erf_figures.py [--epochs 6] [--samples 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnnzoo.analysis.erf import FEATURES, effective_receptive_field  # noqa: E402
from cnnzoo.factory import create_model  # noqa: E402

IMG = ROOT / "docs" / "img"

RANDOM = [
    ("lenet5", ["c1", "s2", "c3", "s4", "c5"], 32),
    ("vgg16", ["features.4", "features.9", "features.16", "features.23", "features.30"], None),
    ("resnet50", ["maxpool", "layer1", "layer2", "layer3", "layer4"], None),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=8, help="random inputs for the large models (default 8)")
    ap.add_argument("--epochs", type=int, default=6, help="ResNet-20 training epochs on digits (default 6)")
    ap.add_argument("--only", help="comma-separated subset of: lenet5,vgg16,resnet50,resnet20")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    tables: list[str] = []
    for name, layers, samples in RANDOM:
        if only and name not in only:
            continue
        t = time.perf_counter()
        torch.manual_seed(0)
        r = effective_receptive_field(create_model(name), layers, samples=samples or args.samples)
        r.plot(IMG / f"erf-{name}.png", cols=5)
        tables.append(f"**{r.caption()}**\n\n{r.to_table(markdown=True)}")
        print(r.caption(), f"({time.perf_counter() - t:.0f} s)")
        print(r.to_table(), flush=True)
    if not only or "resnet20" in only:
        tables += resnet20(args.epochs)
    out = IMG / "erf-tables.md"
    old = out.read_text() if out.is_file() and only else ""
    out.write_text(old + "\n\n".join(tables) + "\n")
    print(f"tables: {out}")
    return 0


def resnet20(epochs: int) -> list[str]:
    from cnnzoo.factory import model_from_checkpoint
    from cnnzoo.train import eval_data_for, train_model

    layers = ["conv1", "layer1", "layer2", FEATURES]
    out = []
    with tempfile.TemporaryDirectory() as d:
        run = train_model("resnet20", data="digits", epochs=epochs, out=Path(d) / "r20", progress=False)
        model = model_from_checkpoint(str(run.best_checkpoint))
        test = eval_data_for(model.cnnzoo_record, "digits").test
        g = torch.Generator().manual_seed(0)
        idx = torch.randperm(len(test), generator=g)[:64].tolist()
        images = torch.stack([test[i][0][0] for i in idx])
        acc = f"test top-1 {run.test.top1:.3f} after {epochs} epochs" if run.test else ""
        for label, m in (
            ("random", create_model("resnet20", num_classes=10)),
            ("trained", model),
        ):
            torch.manual_seed(0)
            r = effective_receptive_field(
                m,
                layers,
                images=images,
                name="resnet20",
                weights=f"trained on digits ({acc})" if label == "trained" else "random",
                inputs="64 real test digits",
            )
            r.plot(IMG / f"erf-resnet20-{label}.png", cols=4)
            out.append(f"**{r.caption()}**\n\n{r.to_table(markdown=True)}")
            print(r.caption())
            print(r.to_table(), flush=True)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
