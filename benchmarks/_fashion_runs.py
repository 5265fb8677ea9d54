"""The Fashion-MNIST networks that the calibration and robustness tables share (``calibration.py``,
``robustness.py``): one fixed stratified subset of the training images written as IDX files (so the runs
go through the ordinary ``cnnzoo train --data mnist:DIR``, validation split and checkpoint
selection included), one ``cnnzoo train`` command per network, and the finished checkpoints kept in
``runs/bench/fashion-cal-<model>/`` (git-ignored). A run that was killed is continued with ``--resume``."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "bench"
#: model -> (epochs, extra `cnnzoo train` flags); every run: the model's own recipe, 10% validation split
BUDGETS: dict[str, tuple[int, tuple[str, ...]]] = {
    "lenet5": (20, ()),
    "lenet5_modern": (10, ()),
    # long enough for the learning rate's two drops to fit the 10,800 training images closely: a 3-epoch
    # ResNet-20 was *under*confident (T 0.93), not the overconfident network Guo et al. measured
    "resnet20": (20, ("--channels-last",)),
    "resnet56": (10, ("--channels-last",)),
}
TRAIN_IMAGES = 12_000  # of Fashion-MNIST's 60,000: what 2 shared CPU cores train in an hour


def _write_idx(path: Path, arr: np.ndarray) -> None:
    """``arr`` (uint8) as an IDX file (LeCun's format: magic 0x0000080N, the sizes, the bytes), gzipped."""
    head = struct.pack(">I", 0x0800 + arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head + np.ascontiguousarray(arr, dtype=np.uint8).tobytes())


def subset_dir(n_train: int = TRAIN_IMAGES) -> Path:
    """A folder with ``n_train`` of Fashion-MNIST's training images (fixed stratified subset, the same on
    every machine) and all 10,000 test images, in IDX files that ``--data mnist:DIR`` reads (the
    generic IDX reader: it names the classes 0-9; Fashion-MNIST's own reader refuses files of another
    size)."""
    from cnnzoo.data.sources import load_source, stratified_split

    out = RUNS / f"fashion-mnist-{n_train}"
    if (out / "t10k-labels-idx1-ubyte.gz").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    raw = load_source("fashion-mnist")
    _, keep = stratified_split(raw.train.labels.numpy(), n_train / len(raw.train))
    tr = raw.train.subset(keep)
    for prefix, part in (("train", tr), ("t10k", raw.test)):
        _write_idx(out / f"{prefix}-images-idx3-ubyte.gz", part.images[:, 0].numpy())
        _write_idx(out / f"{prefix}-labels-idx1-ubyte.gz", part.labels.numpy().astype(np.uint8))
    return out


def train_command(model: str, data_dir: Path) -> list[str]:
    epochs, extra = BUDGETS[model]
    return [
        sys.executable, "-m", "cnnzoo", "train", model, "--data", f"mnist:{data_dir}",
        "--epochs", str(epochs), "--val-fraction", "0.1", "--seed", "0", "--threads", "1",
        "--no-progress", "--out", str(RUNS / f"fashion-cal-{model}"), *extra,
    ]  # fmt: skip


def ensure_trained(model: str, data_dir: Path) -> Path:
    """``runs/bench/fashion-cal-MODEL/best.pt``, training (or continuing) the run first where needed."""
    run = RUNS / f"fashion-cal-{model}"
    done = run / "DONE"
    if not done.is_file():
        cmd = train_command(model, data_dir) + (["--resume"] if (run / "last.pt").is_file() else [])
        print(" ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)
        done.write_text(" ".join(train_command(model, data_dir)[1:]) + "\n")
    return run / "best.pt"


if __name__ == "__main__":  # train every network in turn (what the two tables need), e.g. under nohup
    d = subset_dir()
    for m in sys.argv[1:] or list(BUDGETS):
        ensure_trained(m, d)
