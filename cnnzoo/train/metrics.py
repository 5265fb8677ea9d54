"""Top-k accuracy, per-class accuracy and the confusion matrix, accumulated as integer counts so that shards
from several processes add up exactly (ILSVRC's top-1/top-5 protocol: a prediction is right when the true
class is among the ``k`` highest scores)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F


def topk_correct(scores: torch.Tensor, target: torch.Tensor, ks: Sequence[int]) -> dict[int, int]:
    """For each ``k``, how many rows of ``scores`` ``[N, C]`` rank ``target`` among their ``k`` highest
    (``k`` larger than ``C`` counts every row)."""
    maxk = min(max(ks), scores.shape[1])
    top = scores.topk(maxk, dim=1).indices
    hit = top.eq(target.view(-1, 1))
    return {k: int(hit[:, : min(k, maxk)].any(dim=1).sum()) for k in ks}


def topk_accuracy(scores: torch.Tensor, target: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Top-k accuracies as fractions in [0, 1]."""
    n = len(target)
    return {k: c / n for k, c in topk_correct(scores, target, ks).items()}


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``cm[t, p]`` = number of samples of true class ``t`` predicted as ``p`` (int64)."""
    idx = target.long() * num_classes + pred.long()
    return torch.bincount(idx, minlength=num_classes * num_classes).view(num_classes, num_classes)


@dataclass
class Meter:
    """Accumulates loss, top-k hits and the confusion matrix over batches (and processes:
    :meth:`all_reduce`).
    """

    num_classes: int
    ks: tuple[int, ...] = (1, 5)
    n: int = 0
    loss_sum: float = 0.0
    correct: dict[int, int] = field(default_factory=dict)
    cm: torch.Tensor | None = None

    def update(self, scores: torch.Tensor, target: torch.Tensor, loss_sum: float = 0.0) -> None:
        scores, target = scores.detach().float().cpu(), target.detach().cpu()
        self.n += len(target)
        self.loss_sum += float(loss_sum)
        for k, c in topk_correct(scores, target, self.ks).items():
            self.correct[k] = self.correct.get(k, 0) + c
        cm = confusion_matrix(scores.argmax(1), target, self.num_classes)
        self.cm = cm if self.cm is None else self.cm + cm

    def update_top(self, top: torch.Tensor, target: torch.Tensor, loss_sum: float = 0.0) -> None:
        """Like :meth:`update` from the indices of the highest scores, ``top`` ``[N, k]`` (best first, ``k``
        at least ``max(ks)`` or the number of classes): what a training loop keeps per step, counted later
        in one go (:class:`cnnzoo.train.loop.Trainer`)."""
        top, target = top.cpu(), target.cpu()
        self.n += len(target)
        self.loss_sum += float(loss_sum)
        hit = top.eq(target.view(-1, 1))
        for k in self.ks:
            self.correct[k] = self.correct.get(k, 0) + int(hit[:, : min(k, top.shape[1])].any(dim=1).sum())
        cm = confusion_matrix(top[:, 0], target, self.num_classes)
        self.cm = cm if self.cm is None else self.cm + cm

    def all_reduce(self) -> None:
        """Sum the counts over all processes of the default group (each sample was seen by exactly one)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return
        cm = (
            self.cm
            if self.cm is not None
            else torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)
        )
        flat = torch.cat(
            [
                torch.tensor([self.n, *(self.correct.get(k, 0) for k in self.ks)], dtype=torch.float64),
                torch.tensor([self.loss_sum], dtype=torch.float64),
                cm.flatten().double(),
            ]
        )
        dist.all_reduce(flat)
        self.n = int(flat[0])
        self.correct = {k: int(flat[1 + i]) for i, k in enumerate(self.ks)}
        self.loss_sum = float(flat[1 + len(self.ks)])
        self.cm = flat[2 + len(self.ks) :].round().long().view(self.num_classes, self.num_classes)

    def result(self, crops: int = 1, classes: Sequence[str] | None = None) -> EvalResult:
        cm = (
            self.cm
            if self.cm is not None
            else torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)
        )
        n = max(self.n, 1)
        totals = cm.sum(1).clamp_min(1)
        return EvalResult(
            n=self.n,
            loss=self.loss_sum / n,
            topk={k: self.correct.get(k, 0) / n for k in self.ks},
            per_class=(cm.diag().double() / totals).tolist(),
            confusion=cm,
            crops=crops,
            classes=list(classes) if classes is not None else [str(i) for i in range(self.num_classes)],
        )


class PosteriorMeter:
    """The :class:`Meter` of an evaluation over class posteriors (what :func:`cnnzoo.train.evaluate` and
    dense evaluation share): made at the first batch, whose width gives the number of classes where
    ``num_classes`` is ``None``; the loss is the NLL of the posteriors. :meth:`result` sums the counts over
    the processes of a distributed run, and still answers when no batch came (an empty shard)."""

    def __init__(self, num_classes: int | None, ks: Sequence[int]) -> None:
        self.num_classes, self.ks = num_classes, tuple(ks)
        self.meter: Meter | None = None

    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        if self.meter is None:
            self.meter = Meter(self.num_classes or probs.shape[1], self.ks)
        loss = F.nll_loss(probs.clamp_min(1e-12).log(), target, reduction="sum")
        self.meter.update(probs, target, float(loss))

    def result(self, distributed: bool, crops: int = 1, classes: Sequence[str] | None = None) -> EvalResult:
        meter = self.meter if self.meter is not None else Meter(self.num_classes or 1, self.ks)
        if distributed:
            meter.all_reduce()
        return meter.result(crops=crops, classes=classes)


@dataclass
class EvalResult:
    """Result of an evaluation: fractions in [0, 1]; ``confusion[t, p]`` counts true ``t`` predicted ``p``."""

    n: int
    loss: float
    topk: dict[int, float]
    per_class: list[float]
    confusion: torch.Tensor
    crops: int
    classes: list[str]
    #: How it was measured (views, scales, dense or not, flips, how views and models are combined, resize,
    #: crop, interpolation, models): see :func:`cnnzoo.data.transforms.describe_views`. ``text`` says it in
    #: one line.
    protocol: dict[str, Any] | None = None

    @property
    def top1(self) -> float:
        return self.topk.get(1, float("nan"))

    @property
    def top5(self) -> float:
        return self.topk.get(5, float("nan"))

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"n": self.n, "loss": self.loss, "crops": self.crops}
        d.update({f"top{k}": v for k, v in self.topk.items()})
        d["per_class"] = dict(zip(self.classes, self.per_class))
        d["confusion"] = self.confusion.tolist()
        if self.protocol is not None:
            d["protocol"] = self.protocol
        return d


_CM_TITLE = "confusion matrix (rows normalised)"


def plot_confusion(cm: torch.Tensor, classes: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Write the row-normalised confusion matrix as a figure: a PNG drawn with Pillow (:mod:`cnnzoo.charts`,
    no matplotlib import in a training run), any other suffix (``.pdf``, ``.svg``) with matplotlib."""
    c = cm.double()
    norm = (c / c.sum(1, keepdim=True).clamp_min(1)).numpy()
    if Path(path).suffix.lower() in ("", ".png"):
        from ..charts import heatmap, png_bytes
        from ..outputs import write_atomic

        img = heatmap(norm.tolist(), [str(n) for n in classes], cm.tolist(), title or _CM_TITLE)
        return write_atomic(Path(path), png_bytes(img), "confusion-matrix figure")
    from matplotlib.figure import Figure  # no pyplot: its backend machinery costs ~1 s at import

    k = len(classes)
    side = min(12.0, 2.0 + 0.45 * k)
    fig = Figure(figsize=(side, side))
    ax = fig.subplots()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    if k <= 40:
        ax.set_xticks(range(k), classes, rotation=90 if k > 10 else 0)
        ax.set_yticks(range(k), classes)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(
                        j,
                        i,
                        int(cm[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black",
                    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or _CM_TITLE)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    from ..outputs import save_figure

    return save_figure(fig, path, "confusion-matrix figure", dpi=100)
