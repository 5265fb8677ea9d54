"""``cnnzoo eval --dense`` of VGG-16 at Q in {256, 384, 512} on a small set of real photographs: the ones
shipped with scikit-learn (``load_sample_images``: china, flower), matplotlib (grace_hopper) and, when it is
installed, scikit-image (astronaut, chelsea, coffee, rocket, motorcycle). No ImageNet weights exist offline,
so the VGG-16 here has random weights and a 4-class head: the accuracy is chance; the run shows the dense
protocol working on photos of different sizes and aspect ratios, and the report naming it.

    python scripts/dense_photos.py [--scales 256,384,512] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# class -> [(package, file)] ; files are looked up inside the installed packages' data folders
PHOTOS = {
    "people": [("matplotlib", "grace_hopper.jpg"), ("skimage", "astronaut.png")],
    "places": [("sklearn", "china.jpg"), ("skimage", "rocket.jpg")],
    "nature": [("sklearn", "flower.jpg"), ("skimage", "chelsea.png")],
    "objects": [("skimage", "coffee.png"), ("skimage", "motorcycle_left.png")],
}


def _find(pkg: str, name: str) -> Path | None:
    try:
        if pkg == "sklearn":
            import sklearn.datasets

            p = Path(sklearn.datasets.__file__).parent / "images" / name
        elif pkg == "matplotlib":
            import matplotlib

            p = Path(matplotlib.get_data_path()) / "sample_data" / name
        else:
            import skimage

            p = Path(skimage.__file__).parent / "data" / name
    except ImportError:
        return None
    return p if p.is_file() else None


def make_folder(root: Path) -> int:
    """``root/train/CLASS`` and ``root/val/CLASS`` with the same photos (the folder source needs both)."""
    n = 0
    for cls, files in PHOTOS.items():
        for pkg, name in files:
            p = _find(pkg, name)
            if p is None:
                continue
            for split in ("train", "val"):
                d = root / split / cls
                d.mkdir(parents=True, exist_ok=True)
                shutil.copy(p, d / name)
            n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scales", default="256,384,512")
    ap.add_argument("--keep", help="keep the photo folder and checkpoint here (default: a temporary folder)")
    args = ap.parse_args()
    import torch

    from cnnzoo.checkpoint import save_checkpoint
    from cnnzoo.factory import create_model

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cnnzoo-dense-"))
    try:
        n = make_folder(work / "photos")
        print(f"{n} photos in {work / 'photos'}", flush=True)
        torch.manual_seed(0)
        model = create_model("vgg16", num_classes=len(PHOTOS))
        # ImageNet statistics (the record's defaults), as the VGG weights of the peers use
        record = model.cnnzoo_record.with_new_head(len(PHOTOS), sorted(PHOTOS), f"folder:{work / 'photos'}")
        save_checkpoint(work / "vgg16-random.pt", record, model.state_dict())
        del model
        cmd = [
            sys.executable,
            "-m",
            "cnnzoo",
            "eval",
            str(work / "vgg16-random.pt"),
            "--dense",
            "--scales",
            args.scales,
            "--topk",
            "1,2",
            "--confusion",
            str(work / "confusion.png"),
        ]
        print("$ cnnzoo " + " ".join(cmd[3:]).replace(str(work), "WORK"), flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run(cmd, env=env).returncode
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
