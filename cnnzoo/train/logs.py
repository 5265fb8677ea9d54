"""Run logs: ``metrics.csv`` (one row per epoch), TensorBoard events (``tb/``) and ``curves.png`` (loss,
top-1, top-5 and learning rate against the epoch; drawn with Pillow, so no display and no matplotlib)."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from ..outputs import write_atomic

CURVES = ("loss", "top1", "top5", "lr")


class RunLogger:
    """Writes the epoch rows of a run. Rewrites the CSV from the full history each epoch, so a resumed run
    never holds duplicate rows; TensorBoard events after the resumed epoch are purged."""

    def __init__(
        self, out_dir: str | os.PathLike[str], start_epoch: int = 0, tensorboard: bool = True
    ) -> None:
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.out / "metrics.csv"
        self.curves_path = self.out / "curves.png"
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(
                    str(self.out / "tb"), purge_step=start_epoch + 1 if start_epoch else None
                )
            except ImportError:  # pragma: no cover - tensorboard is a dependency
                self.writer = None

    def log(self, history: list[dict[str, Any]], curves: bool = True) -> None:
        """Record the last row of ``history`` (and rewrite the CSV, and with ``curves`` the PNG, from all of
        it). The trainer draws the curves once, at the end of the run."""
        row = history[-1]
        keys: list[str] = []
        for r in history:
            keys += [k for k in r if k not in keys]
        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        w.writerows(history)
        write_atomic(self.csv_path, buf.getvalue(), "metrics file")
        if self.writer is not None:
            for k, v in row.items():
                if k != "epoch" and isinstance(v, (int, float)) and math.isfinite(v):
                    self.writer.add_scalar(k.replace("_", "/", 1), v, row["epoch"])
            self.writer.flush()
        if curves:
            plot_curves(history, self.curves_path)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def plot_curves(history: list[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Four panels (loss, top-1, top-5, lr) of every ``<split>_<metric>`` column against the epoch, drawn
    with Pillow (:mod:`cnnzoo.charts`: no matplotlib import in a training run)."""
    from ..charts import Panel, line_panels, png_bytes

    epochs = [r["epoch"] for r in history]
    panels = []
    for metric in CURVES:
        panel = Panel(metric, xlabel="epoch", log_y=metric == "lr", legend=metric != "lr")
        for split in ("train", "val", "test", ""):
            key = f"{split}_{metric}" if split else metric
            ys = [r.get(key) for r in history]
            if ys and all(isinstance(y, (int, float)) for y in ys):
                panel.series.append((split or metric, epochs, [float(y) for y in ys]))
        panels.append(panel)
    return write_atomic(Path(path), png_bytes(line_panels(panels)), "curves figure")
