"""Measure the lectures' transfer-learning tables on real data and write them into BENCHMARKS.md.

Old/source task: Fashion-MNIST classes 0-4 (T-shirt/top, trouser, pullover, dress, coat; ``--data`` names
another source, e.g. ``mnist:DIR``), at most ``--per-class`` training images a class. New/target tasks:
Fashion-MNIST classes 5-9 (sandal, shirt, sneaker, bag, ankle boot: "very similar", with 10 labelled images a
class as "very little data" and ``--per-class`` a class, from a 6,000-a-class pool, as "quite a lot") and
generated shapes ("very different": five outline shapes drawn with PIL at random size, position, rotation
and stroke width on a noisy background; not garments, not digits, a different generative process and label
set, yet images we can make offline).

1. The 2x2 table (very little = 10 labels per class / quite a lot = all labels, x similar / different): top-1
    of
   training from scratch, feature extraction, fine-tuning the top layers (c5, f6, head) and fine-tuning all.
2. Li & Hoiem 2016's comparison (seeds: "Learning without Forgetting"): fine-tuning, duplicating and
    fine-tuning,
   feature extraction, joint training and LwF, with new-task top-1, old-task top-1, training time, test time
   and
   stored parameters, all measured.
3. Distillation (Hinton et al. 2015): a narrow LeNet student trained with and without a LeNet-5 teacher.

    python benchmarks/transfer_tables.py            # the full budget (minutes on 2 quiet cores)
    python benchmarks/transfer_tables.py --quick    # a smoke run with tiny epochs (numbers meaningless)

Times are wall-clock on this machine: re-run on a quiet machine before quoting them.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _report import cpu_line, write_section  # noqa: E402

from cnnzoo.data.sources import MemoryImages, RawSplits, build_data, load_source  # noqa: E402
from cnnzoo.factory import create_model  # noqa: E402
from cnnzoo.models.base import ZooModel  # noqa: E402
from cnnzoo.train.loop import evaluate  # noqa: E402
from cnnzoo.transfer import (  # noqa: E402
    SecondHead,
    Settings,
    class_subset,
    distill,
    feature_extraction,
    few_shot,
    finetune,
    joint_training,
    learning_without_forgetting,
)

START, END = "<!-- transfer:start -->", "<!-- transfer:end -->"


# ------------------------------------------------------------------------------------------------ data
def shapes_source(
    per_class: int = 600, test_per_class: int = 200, size: int = 28, seed: int = 0
) -> RawSplits:
    """Five outline shapes (circle, square, triangle, cross, star) drawn with PIL: random centre, size,
    rotation
    and stroke width, plus pixel noise. Fixed seed: the same images on every machine."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    names = ["circle", "square", "triangle", "cross", "star"]

    def polygon(k: int, r: float, cx: float, cy: float, rot: float, inner: float | None = None) -> list:
        pts = []
        n = k * (2 if inner else 1)
        for i in range(n):
            rr = r if (inner is None or i % 2 == 0) else r * inner
            a = rot + 2 * np.pi * i / n
            pts.append((cx + rr * np.cos(a), cy + rr * np.sin(a)))
        return pts

    def draw(c: int) -> np.ndarray:
        im = Image.new("L", (size, size), 0)
        d = ImageDraw.Draw(im)
        r = rng.uniform(6, 11)
        cx, cy = rng.uniform(r + 1, size - r - 1, 2)
        rot, w = rng.uniform(0, 2 * np.pi), int(rng.integers(1, 4))
        if c == 0:
            d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=w)
        elif c in (1, 2):
            pts = polygon(4 if c == 1 else 3, r, cx, cy, rot)
            d.line(pts + [pts[0]], fill=255, width=w)
        elif c == 3:
            for a in (rot, rot + np.pi / 2):
                d.line(
                    [(cx - r * np.cos(a), cy - r * np.sin(a)), (cx + r * np.cos(a), cy + r * np.sin(a))],
                    fill=255,
                    width=w,
                )
        else:
            pts = polygon(5, r, cx, cy, rot, inner=0.45)
            d.line(pts + [pts[0]], fill=255, width=w)
        a = np.asarray(im, dtype=np.float32) + rng.normal(0, 20, (size, size))
        return np.clip(a, 0, 255).astype(np.uint8)

    def make(n: int) -> MemoryImages:
        labels = np.repeat(np.arange(5), n)
        imgs = np.stack([draw(int(c)) for c in labels])[:, None]
        return MemoryImages(torch.from_numpy(imgs), torch.from_numpy(labels.astype(np.int64)))

    return RawSplits("shapes", make(per_class), make(test_per_class), names, natural=False)


def source_raw(spec: str) -> RawSplits:
    """The data whose classes 0-4 are the old task and 5-9 the new one (Fashion-MNIST by default)."""
    return load_source(spec)


# ------------------------------------------------------------------------------------------------ helpers
class NarrowLeNet(ZooModel):
    """A narrow LeNet student for distillation: conv 5x5 (3) - pool - conv 5x5 (6) - pool - fc 30 - fc C."""

    classifier_attr = "fc2"
    layer_group_names = {"conv": ("conv",), "fc1": ("fc1",), "fc2": ("fc2",)}

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 3, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.fc1 = nn.Sequential(nn.Linear(150, 30), nn.ReLU())
        self.fc2 = nn.Linear(30, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.fc1(torch.flatten(x, 1))
        return x if pre_logits else self.fc2(x)


def params(*modules: nn.Module) -> int:
    seen: set[int] = set()
    total = 0
    for m in modules:
        for p in m.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total


@torch.no_grad()
def both_tasks_time(fn, x: torch.Tensor, repeats: int = 3) -> float:
    """Best-of-``repeats`` seconds to compute both tasks' outputs for ``x`` (batches of 256)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(0, len(x), 256):
            fn(x[i : i + 256])
        best = min(best, time.perf_counter() - t0)
    return best


def images(ds) -> torch.Tensor:
    return torch.cat([ds[i][0] for i in range(len(ds))])


# ------------------------------------------------------------------------------------------------ tables
#: The learning-rate grid every method of every table is tried with (the head's rate; fine-tuning's body and
#: LwF's joint phase run at lr / lr_factor). Each method keeps the rate with the best validation top-1 at the
#: end of its training: validation images are held out of the training images, never the test images.
LR_GRID = (0.1, 0.03, 0.01)


def val_top1(res) -> float:
    """The last epoch's validation top-1 of a transfer run (what the learning rate is chosen by)."""
    return float(res.history[-1]["val_top1"])


def pick(run, grid: tuple[float, ...] = LR_GRID):
    """Run ``run(lr)`` for every rate of ``grid``; return ``(result, lr)`` of the best validation top-1
    (the lower rate on a tie)."""
    best = None
    for lr in sorted(grid):
        r = run(lr)
        if best is None or val_top1(r) > val_top1(best[0]):
            best = (r, lr)
    return best


def scratch(model: nn.Module, data, epochs: int, lr: float, s: dict):
    """Plain training from the model's initialisation: every layer at ``lr`` (no head-only phase)."""
    return finetune(
        model, data, Settings(epochs=epochs, lr=lr, **s), freeze_epochs=0, reset_head=False, lr_factor=1.0
    )


def source_model(old, epochs: int, s: dict) -> tuple[nn.Module, float]:
    res, lr = pick(
        lambda lr: scratch(create_model("lenet5_modern", num_classes=old.num_classes), old, epochs, lr, s)
    )
    return res.model.eval(), lr


TOP = "fine-tune top layers (c5, f6, head)"


def table_2x2(base: nn.Module, targets: dict, ep: dict, s: dict) -> tuple[list[list[str]], list[list[str]]]:
    names = ("from scratch", "feature extraction", TOP, "fine-tune all")
    top1: dict[str, list[str]] = {k: [] for k in names}
    lrs: dict[str, list[str]] = {k: [] for k in names}
    for _name, bundle in targets.items():
        e = ep["few"] if len(bundle.train) <= 100 else ep["all"]
        fz = max(1, e // 4)
        runs = {
            "from scratch": lambda lr, b=bundle, e=e: scratch(
                create_model("lenet5_modern", num_classes=b.num_classes), b, e, lr, s
            ),
            "feature extraction": lambda lr, b=bundle, e=e: feature_extraction(
                copy.deepcopy(base), b, Settings(epochs=e, lr=lr, **s)
            ),
            TOP: lambda lr, b=bundle, e=e, fz=fz: finetune(
                copy.deepcopy(base),
                b,
                Settings(epochs=e, lr=lr, **s),
                freeze_epochs=fz,
                unfreeze=2,
                lr_factor=FT_FACTOR,
            ),
            "fine-tune all": lambda lr, b=bundle, e=e, fz=fz: finetune(
                copy.deepcopy(base),
                b,
                Settings(epochs=e, lr=lr, **s),
                freeze_epochs=fz,
                unfreeze="all",
                lr_factor=FT_FACTOR,
            ),
        }
        for k in names:
            r, lr = pick(runs[k])
            top1[k].append(f"{100 * r.test.top1:.1f}")
            lrs[k].append(f"{lr:g}")
    return [[k, *top1[k]] for k in names], [[k, *lrs[k]] for k in names]


#: Fine-tuning's (and LwF's joint phase's) body rate is the head's rate divided by this.
FT_FACTOR = 3.0  # the lectures: "3x-10x smaller learning rate" for the pre-trained layers


def table_lwf(base: nn.Module, old, new, epochs: int, s: dict) -> tuple[list[list[str]], dict]:
    x = torch.cat([images(old.test), images(new.test)])
    orig_old = evaluate(base, old.test).top1
    warm = max(1, epochs // 4)
    out = []

    def st(lr: float) -> Settings:
        return Settings(epochs=epochs, lr=lr, **s)

    runs = {
        "fine-tuning": lambda lr: finetune(
            copy.deepcopy(base), new, st(lr), freeze_epochs=warm, lr_factor=FT_FACTOR, old_data=old
        ),
        "duplicating and fine-tuning": lambda lr: finetune(
            copy.deepcopy(base), new, st(lr), freeze_epochs=warm, lr_factor=FT_FACTOR
        ),
        "feature extraction": lambda lr: feature_extraction(copy.deepcopy(base), new, st(lr)),
        "joint training": lambda lr: joint_training(copy.deepcopy(base), new, old, st(lr)),
        "LwF": lambda lr: learning_without_forgetting(
            copy.deepcopy(base), new, st(lr), warmup_epochs=warm, lr_factor=FT_FACTOR, old_data=old
        ),
    }
    for name, run in runs.items():
        r, lr = pick(run)
        if name == "duplicating and fine-tuning":
            oldt = orig_old  # the old task keeps the untouched original network
        elif name == "feature extraction":
            oldt = evaluate(r.old_task_model(), old.test).top1
        else:
            oldt = r.old_test.top1
        r.model.eval()
        if name == "duplicating and fine-tuning":
            orig = copy.deepcopy(base).eval()
            stored = params(orig) + params(r.model)
            secs = both_tasks_time(lambda b, o=orig, n=r.model: (o(b), n(b)), x)
        else:
            sh = SecondHead(r.model, r.old_head.eval(), concat=True)
            try:
                secs = both_tasks_time(lambda b, m=r.model: m(b), x)
            finally:
                sh.remove()
            stored = params(r.model, r.old_head)
        out.append(
            [
                name,
                f"{lr:g}",
                f"{100 * r.test.top1:.1f}",
                f"{100 * oldt:.1f}",
                f"{r.train_time_s:.1f}",
                f"{secs:.2f}",
                f"{stored:,}",
                "yes" if name == "joint training" else "no",
            ]
        )
    return out, {"original_old_top1": orig_old}


def table_distill(data, teacher_epochs: int, epochs: int, s: dict) -> list[list[str]]:
    rt, lr_t = pick(
        lambda lr: scratch(create_model("lenet5_modern", num_classes=10), data, teacher_epochs, lr, s)
    )
    teacher = rt.model.eval()
    alone, lr_a = pick(lambda lr: scratch(NarrowLeNet(10), data, epochs, lr, s))
    dist, lr_d = pick(
        lambda lr: distill(
            NarrowLeNet(10), teacher, data, Settings(epochs=epochs, lr=lr, **s), temperature=4.0, alpha=0.9
        )
    )
    return [
        ["teacher lenet5_modern (labels)", f"{lr_t:g}", f"{params(teacher):,}", f"{100 * rt.test.top1:.1f}"],
        [
            "student NarrowLeNet, labels only",
            f"{lr_a:g}",
            f"{params(alone.model):,}",
            f"{100 * alone.test.top1:.1f}",
        ],
        [
            "student NarrowLeNet, distilled (T=4, alpha=0.9)",
            f"{lr_d:g}",
            f"{params(dist.model):,}",
            f"{100 * dist.test.top1:.1f}",
        ],
    ]


def md(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny epochs: proves the script runs")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="fashion-mnist", help="old task = its classes 0-4, new task = 5-9")
    ap.add_argument(
        "--per-class", type=int, default=1000, help="training images a class for 'quite a lot' (default 1000)"
    )
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)  # the first network's initialisation (the strategies seed everything after it)
    q = a.quick
    ep = {
        "source": 1 if q else 8,
        "few": 2 if q else 40,
        "all": 1 if q else 8,
        "lwf": 2 if q else 8,
        "teacher": 1 if q else 20,
        "student": 1 if q else 20,
    }
    s = {"batch_size": 64, "seed": 0}
    t_start = time.perf_counter()
    raw = source_raw(a.data)
    old_raw, new_raw = class_subset(raw, range(5)), class_subset(raw, range(5, 10))
    n_train = min(int(torch.bincount(raw.train.labels).min()), a.per_class)
    old_raw, new_raw = few_shot(old_raw, n_train), few_shot(new_raw, n_train)
    shapes = shapes_source(per_class=120 if q else 600, test_per_class=60 if q else 200)
    if q:
        old_raw, new_raw = few_shot(old_raw, 100), few_shot(new_raw, 100)
    # validation = 10% of the training images held out (for "10/class": 10 more labelled images per class)
    old = build_data(old_raw, 1, 32, val_fraction=0.1)
    norm = {"mean": old.mean, "std": old.std}  # the source network's normalisation, as a checkpoint carries
    new_all = build_data(new_raw, 1, 32, val_fraction=0.1, **norm)
    targets = OrderedDict(
        [
            ("similar, 10/class", build_data(few_shot(new_raw, 20), 1, 32, val_fraction=0.5, **norm)),
            ("similar, all", new_all),
            ("different, 10/class", build_data(few_shot(shapes, 20), 1, 32, val_fraction=0.5, **norm)),
            ("different, all", build_data(shapes, 1, 32, val_fraction=0.1, **norm)),
        ]
    )
    base, src_lr = source_model(old, ep["source"], s)
    src_top1 = evaluate(base, old.test).top1
    t1, t1_lr = table_2x2(base, targets, ep, s)
    t2, info = table_lwf(base, old, new_all, ep["lwf"], s)
    per = 10 if q else 50
    dsub = build_data(few_shot(raw, per + per // 5), 1, 32, val_fraction=1 / 6)
    t3 = table_distill(dsub, ep["teacher"], ep["student"], s)
    total = time.perf_counter() - t_start
    sizes = {k: f"{len(v.train)} train / {len(v.val)} val / {len(v.test)} test" for k, v in targets.items()}
    grid = ", ".join(f"{v:g}" for v in LR_GRID)
    text = "\n\n".join(
        [
            "## Transfer learning (`benchmarks/transfer_tables.py`)",
            f"Source network: `lenet5_modern` trained from scratch {ep['source']} epochs (lr {src_lr:g}) on "
            f"{old.source} ({len(old.train)} train / {len(old.val)} val images), test top-1 "
            f"{100 * src_top1:.1f}%. Target sizes: " + "; ".join(f"{k}: {v}" for k, v in sizes.items()) + ". "
            f"Budget, the same for every method of a table: SGD momentum 0.9, weight decay 5e-4, batch 64, "
            f"cosine decay within each phase; epochs {ep} (fine-tuning and LwF: the first quarter of the "
            "epochs trains the new head alone at lr, the rest the unfrozen layers and heads at "
            f"lr/{FT_FACTOR:g}; training from scratch, feature extraction, joint training and distillation: "
            "every trained layer at lr). "
            f"Each method and column picks lr from {{{grid}}} by the validation top-1 of its last epoch "
            "(validation images are held out of the training images, never test images; for 10/class they "
            "are 10 further labelled images per class)."
            + (" **Quick smoke run: numbers are meaningless.**" if q else ""),
            "### Very little / quite a lot of data x very similar / very different data (test top-1 %)",
            md(["method", *targets.keys()], t1),
            "Learning rate chosen by validation:",
            md(["method", *targets.keys()], t1_lr),
            "### Learning without Forgetting comparison (Li & Hoiem 2016, Fig. 1), old = "
            f"{', '.join(old_raw.classes)}, new = {', '.join(new_raw.classes)}",
            f"Original network's old-task top-1: {100 * info['original_old_top1']:.1f}%. The learning rate "
            "is chosen by the new task's validation top-1 (the old task's data is unavailable to every "
            "method but joint training, whose validation covers both tasks). LwF: T = 2, lambda_o = 1. Test "
            f"time: seconds to compute both tasks' outputs for all {len(old.test) + len(new_all.test)} test "
            "images; stored: parameters needed to serve both tasks.",
            md(
                [
                    "method",
                    "lr",
                    "new top-1 %",
                    "old top-1 %",
                    "train s",
                    "test s",
                    "stored params",
                    "needs old data",
                ],
                t2,
            ),
            f"### Distillation (Hinton et al. 2015) on {dsub.source} ({len(dsub.train)} training / "
            f"{len(dsub.val)} validation images)",
            md(["model", "lr", "params", "test top-1 %"], t3),
            f"Whole script: {total:.0f} s ({cpu_line()}; {a.threads} torch threads; `python "
            f"benchmarks/transfer_tables.py {' '.join(sys.argv[1:] if argv is None else argv)}`).",
        ]
    )
    print(text)
    if not a.no_write:
        write_section(ROOT / "BENCHMARKS.md", START, END, text, "Transfer learning: the lectures' tables")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
