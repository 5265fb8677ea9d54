"""Training throughput, side by side in one run, with ratios:

1. our ``resnet50_v1_5`` vs torchvision's ``resnet50`` (the same architecture): training steps (forward,
   backward, SGD step) on the same random batch, images/s;
2. our image-folder pipeline (``cnnzoo.data.load_data("folder:DIR")``: up-front check of every file,
   torchvision.io decoding, v2 transforms on uint8 tensors) vs torchvision's ``ImageFolder`` (PIL) +
   ``DataLoader``, on a generated folder of JPEGs with the same Inception-style augmentation (random-resized
   crop, flip, normalise), batch and workers, images/s over one pass.

Results go into BENCHMARKS.md between ``<!-- bench-train:start -->`` and ``<!-- bench-train:end -->``.

    python benchmarks/bench_train.py                                   # batch 32, 10 steps, 512 JPEGs
    python benchmarks/bench_train.py --batch 4 --steps 2 --images 48 --size 112   # smoke run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from degradation import write_section

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench-train:start -->", "<!-- bench-train:end -->"


def train_step(model: torch.nn.Module, batch: int, size: int, device: torch.device):
    """One forward + backward + SGD step on a fixed random batch, as a callable (warmed up once)."""
    model = model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=g).to(device)
    y = torch.randint(0, 1000, (batch,), generator=g).to(device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()
    return step


def interleaved_speeds(runners: dict, rounds: int, items: int) -> dict[str, float]:
    """Items/s of each runner from the median of ``rounds`` interleaved calls (a slow spell of this shared
    machine hits both contenders alike; timed one after the other, the ratio swung by tens of percent)."""
    from cnnzoo.timing import interleaved_times

    return {k: items / float(np.median(v)) for k, v in interleaved_times(runners, rounds).items()}


def make_jpeg_folder(root: Path, n: int, classes: int = 4) -> None:
    """``n`` random-texture JPEGs of assorted sizes in ``classes`` sub-folders."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        d = root / f"class{i % classes}"
        d.mkdir(parents=True, exist_ok=True)
        h, w = int(rng.integers(240, 400)), int(rng.integers(240, 500))
        small = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((w, h), Image.BILINEAR).save(d / f"{i}.jpg", quality=90)


def one_pass(loader: torch.utils.data.DataLoader) -> int:
    n = 0
    for batch in loader:
        if batch is not None:
            n += len(batch[1])
    return n


def data_speeds(folder: Path, batch: int, workers: int, size: int, passes: int) -> tuple[float, float, float]:
    """(ours images/s, torchvision images/s, our up-front file check in s)."""
    from torchvision import datasets, transforms

    from cnnzoo.data import collate_skip, load_source
    from cnnzoo.data.sources import build_data

    t0 = time.perf_counter()
    raw = load_source(f"folder:{folder}")
    scan = time.perf_counter() - t0
    raw.train, raw.test = raw.train, raw.train  # one pass over the same images for both pipelines
    ours = build_data(
        raw, 3, size, augment="inception", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
    )
    dl = torch.utils.data.DataLoader(
        ours.train, batch_size=batch, shuffle=True, num_workers=workers, collate_fn=collate_skip
    )
    tv_tf = transforms.Compose(
        [
            transforms.RandomResizedCrop(size),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ]
    )
    tv = torch.utils.data.DataLoader(
        datasets.ImageFolder(str(folder), tv_tf), batch_size=batch, shuffle=True, num_workers=workers
    )
    # A warm-up pass of each (page cache, worker start-up) that also counts its images: our folder source
    # reads its fixed 80% training split, ImageFolder every file, so the rates are per image.
    counts = {"ours": one_pass(dl), "tv": one_pass(tv)}
    speeds = interleaved_speeds({"ours": lambda: one_pass(dl), "tv": lambda: one_pass(tv)}, passes, 1)
    return speeds["ours"] * counts["ours"], speeds["tv"] * counts["tv"], scan


def main(argv: list[str] | None = None) -> None:
    import sys

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--passes", type=int, default=3, help="timed interleaved passes of each data pipeline")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--md", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args(argv)
    cmd = " ".join(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    import torchvision

    import cnnzoo

    rows = []
    if "resnet50_v1_5" in cnnzoo.list_models("resnet50_v1_5"):
        torch.manual_seed(0)
        ours_step = train_step(cnnzoo.create_model("resnet50_v1_5"), args.batch, args.size, device)
        torch.manual_seed(0)
        tv_step = train_step(torchvision.models.resnet50(), args.batch, args.size, device)
        speeds = interleaved_speeds({"ours": ours_step, "tv": tv_step}, args.steps, args.batch)
        ours, theirs = speeds["ours"], speeds["tv"]
        rows.append(
            ("ResNet-50 v1.5 training step", "cnnzoo resnet50_v1_5", ours, "torchvision resnet50", theirs)
        )
        print(f"train step: ours {ours:.1f} img/s, torchvision {theirs:.1f} img/s, ratio {ours / theirs:.2f}")
    else:
        print("resnet50_v1_5 is not registered; skipping the model comparison")
    with tempfile.TemporaryDirectory() as tmp:
        make_jpeg_folder(Path(tmp), args.images)
        ours_d, tv_d, scan = data_speeds(Path(tmp), args.batch, args.workers, args.size, args.passes)
    rows.append(
        (
            "image-folder pipeline, one pass",
            "cnnzoo folder: + DataLoader",
            ours_d,
            "torchvision ImageFolder + DataLoader",
            tv_d,
        )
    )
    print(
        f"data pipeline: ours {ours_d:.1f} img/s (+ {scan:.2f} s up-front check of {args.images} files), "
        f"torchvision {tv_d:.1f} img/s, ratio {ours_d / tv_d:.2f}"
    )
    lines = [
        f"`python benchmarks/bench_train.py {cmd}` ({datetime.now():%Y-%m-%d %H:%M}, {device}, "
        f"{args.threads} thread(s), batch {args.batch}, {args.size}x{args.size}, {args.steps} timed step(s) "
        f"each, {args.images} generated JPEGs, {args.passes} timed pass(es) each, {args.workers} worker(s); "
        "ours and the peer alternate step by step / pass by pass, median). Ratio > 1: ours is faster.",
        "",
        "| what | ours | images/s | peer | images/s | ratio |",
        "|---|---|---:|---|---:|---:|",
    ]
    for what, a, va, b, vb in rows:
        lines.append(f"| {what} | {a} | {va:.1f} | {b} | {vb:.1f} | {va / vb:.2f} |")
    lines += [
        "",
        f"Our pipeline also checks every file once before training ({scan:.2f} s for {args.images} files, "
        "not in the pass time) so that a corrupt image is named and skipped instead of failing mid-epoch.",
    ]
    write_section(args.md, START, END, "\n".join(lines), "Training throughput")
    print(f"wrote the bench-train section of {args.md}")


if __name__ == "__main__":
    main()
