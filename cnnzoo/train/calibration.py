"""Is a classifier's confidence worth believing? Calibration metrics, reliability diagrams and temperature
scaling, after Guo et al. 2017, "On Calibration of Modern Neural Networks" (whose Fig. 1 compares LeNet-5
with ResNet-110).

- **ECE** (Sec. 2, Eq. 3; Naeini et al. 2015): top-1 confidences sorted into ``bins`` equal-width bins on
  [0, 1]; ``sum_b |B_b| / n * |acc(B_b) - conf(B_b)|``. Guo et al. use 15 bins.
- **Adaptive ECE**: the same sum over equal-*mass* bins (each holds n / bins of the samples, by rank of the
  confidence), which does not leave most bins empty when a network is confident (Nguyen & O'Connor 2015;
  Nixon et al. 2019, "Measuring Calibration in Deep Learning").
- **NLL**: mean negative log-likelihood of the true class (Sec. 2).
- **Brier score**: ``mean_i sum_k (p_ik - y_ik)**2`` over all K classes (Brier 1950, multi-class form).
- **Temperature scaling** (Sec. 4.2): one scalar ``T > 0`` fitted on the *validation* split by minimising the
  NLL of ``softmax(z / T)``; accuracy is unchanged (the argmax is). The NLL is convex in ``1/T``, so a
  golden-section search over ``log T`` finds the minimum deterministically.

:func:`evaluate_calibration` measures a checkpoint on its test split (with the stored temperature too, when
it has one); :func:`calibrate_checkpoint` fits ``T`` on the validation split the run held out and writes it
into the checkpoint's record (``ModelRecord.temperature``), which ``predict`` and ``serve`` then apply.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..checkpoint import Checkpoint
from ..errors import CnnzooError, DataError
from ..record import ModelRecord

BINS = 15  # Guo et al. 2017, Sec. 5


# ------------------------------------------------------------------------------------------------ metrics
@dataclass
class Bin:
    """One bin of a reliability diagram: its confidence range, sample count, mean confidence, accuracy."""

    lo: float
    hi: float
    count: int
    confidence: float
    accuracy: float


def _bins_of(conf: torch.Tensor, correct: torch.Tensor, edges: torch.Tensor) -> list[Bin]:
    out = []
    for i in range(len(edges) - 1):
        lo, hi = float(edges[i]), float(edges[i + 1])
        m = (conf > lo) & (conf <= hi) if i else (conf >= lo) & (conf <= hi)
        n = int(m.sum())
        out.append(
            Bin(
                lo,
                hi,
                n,
                float(conf[m].mean()) if n else 0.0,
                float(correct[m].double().mean()) if n else 0.0,
            )
        )
    return out


def reliability_bins(
    probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS, adaptive: bool = False
) -> list[Bin]:
    """The bins of ``probs`` (``[N, K]``) against ``labels``: equal-width on [0, 1], or (``adaptive``)
    equal-mass, each holding the same number of samples (+-1) in order of confidence."""
    conf, pred = probs.max(1)
    correct = pred == labels
    if not adaptive:
        return _bins_of(conf, correct, torch.linspace(0, 1, bins + 1, dtype=conf.dtype))
    order = conf.argsort(stable=True)
    out = []
    for chunk in torch.tensor_split(order, bins):
        if len(chunk) == 0:
            continue
        c = conf[chunk]
        out.append(
            Bin(
                float(c.min()),
                float(c.max()),
                len(chunk),
                float(c.mean()),
                float(correct[chunk].double().mean()),
            )
        )
    return out


def expected_calibration_error(
    probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS, adaptive: bool = False
) -> float:
    """ECE (Guo et al. 2017, Eq. 3) with ``bins`` equal-width bins, or the adaptive (equal-mass) variant."""
    n = len(labels)
    if n == 0:
        raise DataError("no samples to measure calibration on.")
    return sum(
        b.count / n * abs(b.accuracy - b.confidence) for b in reliability_bins(probs, labels, bins, adaptive)
    )


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true labels under ``softmax(logits / temperature)``."""
    return float(nn.functional.cross_entropy(logits.double() / temperature, labels))


def brier_score(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Multi-class Brier score: ``mean_i sum_k (p_ik - [k == y_i])**2`` (0 is perfect, 2 the worst)."""
    onehot = torch.nn.functional.one_hot(labels, probs.shape[1]).to(probs.dtype)
    return float((probs - onehot).pow(2).sum(1).mean())


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, lo: float = 0.05, hi: float = 20.0) -> float:
    """The temperature minimising the NLL of ``softmax(logits / T)`` (Guo et al. 2017, Sec. 4.2), by a
    golden-section search over ``log T`` in ``[log lo, log hi]`` (the NLL is convex in 1/T, so unimodal in
    log T): deterministic, to 1e-6 relative."""
    z = logits.double()
    f = lambda s: nll(z, labels, math.exp(s))  # noqa: E731
    a, b = math.log(lo), math.log(hi)
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    while b - a > 1e-6:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return math.exp((a + b) / 2)


@dataclass
class CalibrationResult:
    """Calibration of one set of predictions (``temperature``: the logits were divided by it, else None)."""

    n: int
    top1: float
    ece: float
    adaptive_ece: float
    nll: float
    brier: float
    bins: list[Bin] = field(default_factory=list)
    temperature: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibration_of(
    logits: torch.Tensor, labels: torch.Tensor, temperature: float | None = None, bins: int = BINS
) -> CalibrationResult:
    """Every metric of the predictions ``softmax(logits / temperature)``."""
    t = temperature or 1.0
    probs = (logits.double() / t).softmax(1)
    return CalibrationResult(
        n=len(labels),
        top1=float((probs.argmax(1) == labels).double().mean()),
        ece=expected_calibration_error(probs, labels, bins),
        adaptive_ece=expected_calibration_error(probs, labels, bins, adaptive=True),
        nll=nll(logits, labels, t),
        brier=brier_score(probs, labels),
        bins=reliability_bins(probs, labels, bins),
        temperature=temperature,
    )


def plot_reliability(
    results: Sequence[CalibrationResult], path: str | os.PathLike[str], title: str, labels: Sequence[str] = ()
) -> Path:
    """A reliability diagram (Guo et al. 2017, Fig. 1): per bin, accuracy against confidence (bars; the gap
    to the diagonal shaded) and below it the share of samples per bin; one column per result."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = len(results)
    fig, axes = plt.subplots(2, cols, figsize=(4.2 * cols, 5.6), squeeze=False, height_ratios=(3, 1))
    for j, r in enumerate(results):
        ax, hx = axes[0][j], axes[1][j]
        width = 1 / len(r.bins)
        mids = [(b.lo + b.hi) / 2 for b in r.bins]
        acc = [b.accuracy if b.count else 0.0 for b in r.bins]
        conf = [b.confidence if b.count else 0.0 for b in r.bins]  # an empty bin draws nothing
        ax.bar(mids, acc, width=width, edgecolor="black", color="#4a7ebb", label="accuracy")
        ax.bar(mids, [c - a for c, a in zip(conf, acc)], bottom=acc, width=width, color="#e06666", alpha=0.45,
               edgecolor="#cc0000", hatch="//", label="gap")  # fmt: skip
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
        name = labels[j] if j < len(labels) else (f"T = {r.temperature:.3g}" if r.temperature else "raw")
        ax.set_title(f"{name}\nECE {100 * r.ece:.2f}%, NLL {r.nll:.3f}", fontsize=9)
        ax.legend(loc="upper left", fontsize=8)
        hx.bar(mids, [b.count / max(r.n, 1) for b in r.bins], width=width, color="#999999", edgecolor="black")
        hx.set(xlim=(0, 1), xlabel="confidence (top-1 probability)", ylabel="share of samples")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, "reliability diagram")


def save_figure(fig: Any, path: str | os.PathLike[str], what: str) -> Path:
    """Write a matplotlib figure atomically (a temporary file beside ``path``, then a rename) and close it."""
    import tempfile

    import matplotlib.pyplot as plt

    from ..outputs import writing

    p = Path(path)
    fmt = p.suffix.lstrip(".").lower() or "png"
    with writing(p, what):
        fd, tmp = tempfile.mkstemp(
            prefix=f".{p.name}.", suffix=".tmp", dir=p.parent if str(p.parent) else "."
        )
        os.close(fd)
        try:
            fig.savefig(tmp, dpi=110, format=fmt)
            os.replace(tmp, p)
        finally:
            plt.close(fig)
            if os.path.exists(tmp):
                os.remove(tmp)
    return p


# ------------------------------------------------------------------------------------------------ checkpoints
@torch.no_grad()
def collect_logits(
    model: nn.Module, data: Any, device: torch.device | str = "cpu", batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits (float64, ``[N, K]``) and labels of ``model`` on a dataset of ``(image, label)``."""
    from ..data.sources import collate_skip
    from .loop import TensorBatches, batchable, split_output

    model.eval()
    loader = (
        TensorBatches(data, range(len(data)), batch_size)
        if batchable(data)
        else DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=collate_skip)
    )
    zs, ys = [], []
    for batch in loader:
        if batch is None:
            continue
        x, y = batch[0].to(device), batch[1]
        if x.ndim == 5:
            raise CnnzooError("calibration uses one view per image; evaluate without --crops/--scales.")
        zs.append(split_output(model(x))[0].double().cpu())
        ys.append(y.long())
    if not zs:
        raise DataError("no readable images to measure calibration on.")
    return torch.cat(zs), torch.cat(ys)


def _load(checkpoint: str | os.PathLike[str], device: str) -> tuple[nn.Module, Checkpoint]:
    from ..checkpoint import load_checkpoint
    from ..errors import CheckpointError
    from ..factory import model_from_checkpoint

    p = Path(checkpoint)
    if p.is_dir():
        raise CheckpointError(f"{str(p)!r} is a folder, not a checkpoint file; give the path of a .pt file.")
    if not p.is_file():
        raise CheckpointError(f"checkpoint file {str(p)!r} does not exist; check the path.")
    model = model_from_checkpoint(str(p))
    return model.to(device), load_checkpoint(p)


def _record(ckpt: Checkpoint) -> ModelRecord:
    from ..errors import CheckpointError

    if ckpt.record is None:
        raise CheckpointError("this checkpoint holds no record of its model; calibrate a cnnzoo checkpoint.")
    return ckpt.record


def validation_split(ckpt: Checkpoint, data: str | None = None, strict: bool = False) -> Any:
    """The validation images of the run that wrote ``ckpt``: the same fixed stratified fraction of the
    training images it held out (its recipe's ``val_fraction``), normalised as it was trained."""
    from ..data.sources import load_data

    rec = _record(ckpt)
    vf = float((ckpt.run.get("recipe") or {}).get("val_fraction", 0.0))
    spec = data or rec.dataset
    if not spec:
        raise DataError("this checkpoint does not record its data source; pass --data.")
    if vf <= 0:
        raise DataError(
            "this checkpoint was trained on all of its training images (no validation split), so none are "
            "left to fit a temperature on honestly; retrain it with --val-fraction 0.1."
        )
    size = rec.input_size
    bundle = load_data(
        spec,
        int(size[0]),
        (int(size[1]), int(size[2])),
        strict=strict,
        val_fraction=vf,
        mean=rec.mean,
        std=rec.std,
    )
    if rec.classes and list(rec.classes) != bundle.classes:
        raise DataError(
            f"the classes of {spec!r} differ from the checkpoint's; use the data it was trained on."
        )
    assert bundle.val is not None
    return bundle.val


def evaluate_calibration(
    checkpoint: str | os.PathLike[str],
    data: str | None = None,
    *,
    png: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    batch_size: int = 256,
    bins: int = BINS,
    strict_data: bool = False,
) -> dict[str, Any]:
    """Calibration of ``checkpoint`` on the test split of ``data`` (default: its own): raw, and after its
    stored temperature (``cnnzoo calibrate``) when it has one; a reliability diagram to ``png``."""
    from .run import eval_data_for

    if png is not None:
        from ..outputs import FIGURE_SUFFIXES, check_output_file

        check_output_file(png, "reliability diagram", FIGURE_SUFFIXES)
    model, ckpt = _load(checkpoint, device)
    rec = _record(ckpt)
    test = eval_data_for(rec, data, strict=strict_data).test
    z, y = collect_logits(model, test, device, batch_size)
    t = rec.temperature
    results = [calibration_of(z, y, None, bins)] + ([calibration_of(z, y, t, bins)] if t else [])
    out: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "model": rec.name,
        "data": data or rec.dataset,
        "split": "test",
        "bins": bins,
        "raw": results[0].as_dict(),
        "temperature": t,
        "scaled": results[1].as_dict() if t else None,
    }
    if png is not None:
        names = ["raw logits"] + ([f"temperature {t:.3f}"] if t else [])
        plot_reliability(results, png, f"{rec.name} on {out['data']} (test, n={results[0].n})", names)
        out["png"] = str(png)
    return out


def calibrate_checkpoint(
    checkpoint: str | os.PathLike[str],
    data: str | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    batch_size: int = 256,
    strict_data: bool = False,
) -> dict[str, Any]:
    """Fit a temperature on the validation split ``checkpoint``'s run held out and store it in the
    checkpoint's record (``out``: write a calibrated copy there instead), atomically. Returns the
    temperature and the validation NLL/ECE before and after."""
    from ..checkpoint import save_checkpoint

    if out is not None:
        from ..outputs import check_output_file

        check_output_file(out, "calibrated checkpoint", (".pt", ".pth"))
    model, ckpt = _load(checkpoint, device)  # the whole file, to write back unchanged but for the temperature
    val = validation_split(ckpt, data, strict_data)
    z, y = collect_logits(model, val, device, batch_size)
    t = fit_temperature(z, y)
    before, after = calibration_of(z, y), calibration_of(z, y, t)
    rec = _record(ckpt).with_(temperature=t)
    calibration = {
        "temperature": t,
        "fitted_on": f"validation split of {data or rec.dataset} ({len(y)} images)",
        "method": "temperature scaling (Guo et al. 2017, Sec. 4.2): NLL minimised over T",
        "val_nll": [before.nll, after.nll],
        "val_ece": [before.ece, after.ece],
    }
    dest = Path(out) if out is not None else Path(checkpoint)
    save_checkpoint(dest, rec, ckpt.state_dict, {**ckpt.run, "calibration": calibration})
    return {
        "checkpoint": str(dest),
        "temperature": t,
        "n": len(y),
        "val_nll_before": before.nll,
        "val_nll_after": after.nll,
        "val_ece_before": before.ece,
        "val_ece_after": after.ece,
    }
