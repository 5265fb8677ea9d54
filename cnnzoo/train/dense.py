"""Dense multi-scale evaluation (Simonyan & Zisserman, ICLR 2015, Sec. 3.2 and 4.2): each test image is
resized so that its shorter side is Q, the fully convolutional network (:mod:`cnnzoo.analysis.fully_conv`)
is applied to the whole image, its class-score map is averaged over positions, the softmax posteriors of
the image and its horizontal mirror are averaged, then those of the test scales Q, then those of the models
of an ensemble (Sec. 4.4 "averaging their soft-max class posteriors").

>>> from cnnzoo.train import evaluate_checkpoints
>>> r = evaluate_checkpoints(["runs/vgg16/best.pt"], dense=True, scales=[256, 384, 512])  # doctest: +SKIP
>>> r.protocol["text"]                                                                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..analysis.fully_conv import dense_logits, to_fully_convolutional
from ..errors import CnnzooError
from .distributed import DistContext, shard_indices
from .metrics import EvalResult, PosteriorMeter

#: How the views and the models of an evaluation are combined, for every report.
COMBINE = "mean of softmax: softmax of each view's logits, averaged over the views, then over the models"
COMBINE_DENSE = (
    "mean of softmax: each score map averaged over its positions, softmax, averaged over the image and its "
    "mirror, then over the scales, then over the models"
)


def check_scales(
    model: nn.Module,
    input_size: Sequence[int],
    scales: Sequence[int] | None,
    *,
    dense: bool,
    views: int = 1,
    batch: int = 1,
    device: torch.device | str | None = None,
) -> None:
    """Refuse test scales that cannot be run before any image is resized: a scale must be a whole number
    from 1 to :data:`cnnzoo.sizes.MAX_SIDE`, and one resized image (and, ``dense``, the ``views`` views of
    ``batch`` images at the largest scale, and the weights) must fit in the free memory
    (:mod:`cnnzoo.analysis.memory`: a lower bound, the square image and the views themselves; photos wider
    than tall and the layers' outputs need more)."""
    from ..analysis.memory import check_fits, forward_bytes, image_bytes
    from ..sizes import MAX_SIDE, InputSizeError

    if not scales:
        return
    bad = [q for q in scales if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= MAX_SIDE]
    if bad:
        raise InputSizeError(
            f"test scale {bad[0]!r} is not valid; give scales Q (the shorter side of the resized image) "
            f"from 1 to {MAX_SIDE}, e.g. --scales 256,384,512."
        )
    q, c = max(scales), int(input_size[0])
    need = image_bytes((c, q, q))
    if dense:  # the batch of views at the largest scale, on top of the resized image
        need += forward_bytes(model, (c, q, q), batch * views, trace=False)
    what = f"evaluating at scale {q} ({c}x{q}x{q} per image{', dense' if dense else ''})"
    check_fits(need, what, "give smaller --scales", device)


def dense_probs(models: Sequence[nn.Module], views: Sequence[torch.Tensor], images: int = 1) -> torch.Tensor:
    """Class posteriors ``[images, C]`` from per-scale view stacks (``[images * V, C, H_q, W_q]``, each
    image's ``V`` views together, as :class:`cnnzoo.data.transforms.DenseViews` makes them for one image),
    each model being fully convolutional or globally pooled."""
    per_model = []
    for m in models:
        ps = []
        for v in views:
            try:
                logits = dense_logits(m, v)
            except RuntimeError as e:
                raise CnnzooError(
                    f"the model cannot run densely on a {tuple(v.shape[1:])} view "
                    f"({str(e).splitlines()[0]}); "
                    "use larger --scales."
                ) from None
            ps.append(F.softmax(logits.float(), dim=1).view(images, -1, logits.shape[1]))
        per_model.append(torch.cat(ps, 1).mean(1))
    return torch.stack(per_model).mean(0)


def evaluate_dense(
    models: nn.Module | Sequence[nn.Module],
    data: Dataset,
    *,
    input_size: Sequence[int],
    device: torch.device | str = "cpu",
    ks: Sequence[int] = (1, 5),
    classes: Sequence[str] | None = None,
    ctx: DistContext | None = None,
    progress: bool = False,
    batch_size: int = 16,
) -> EvalResult:
    """Top-k, loss, per-class accuracy and confusion matrix under dense evaluation. ``data`` yields
    ``(views, label)`` with ``views`` a list of per-scale stacks (:class:`~cnnzoo.data.transforms.DenseViews`)
    or ``None`` for an unreadable file; ``input_size`` (C, H, W) is the models' training size, at which the
    FC heads are converted to convolutions. Consecutive images of the same size go through together, up to
    ``batch_size`` at a time (photos of different sizes one by one)."""
    device = torch.device(device)
    ms = [models] if isinstance(models, nn.Module) else list(models)
    if not ms:
        raise CnnzooError("evaluate needs at least one model.")
    was = [m.training for m in ms]
    fcn = [to_fully_convolutional(m.eval(), input_size).eval() for m in ms]
    num_classes = len(classes) if classes is not None else None
    idx = list(range(len(data)))  # type: ignore[arg-type]
    if ctx is not None and ctx.distributed:
        idx = shard_indices(len(idx), ctx.rank, ctx.world_size)
    it = idx
    if progress:
        from tqdm import tqdm

        it = tqdm(idx, desc="dense eval", leave=False, unit="image", dynamic_ncols=True)
    meter = PosteriorMeter(num_classes, ks)
    probs_buf: list[torch.Tensor] = []
    y_buf: list[int] = []

    def flush() -> None:
        if not probs_buf:
            return
        meter.update(torch.stack(probs_buf), torch.tensor(y_buf))
        probs_buf.clear()
        y_buf.clear()

    pending: list[list[torch.Tensor]] = []
    labels: list[int] = []

    def run_pending() -> None:
        if not pending:
            return
        stacked = [torch.cat([views[q] for views in pending]).to(device) for q in range(len(pending[0]))]
        probs_buf.extend(dense_probs(fcn, stacked, images=len(pending)).cpu())
        y_buf.extend(labels)
        pending.clear()
        labels.clear()
        if len(probs_buf) >= 64:
            flush()

    with torch.inference_mode():
        for i in it:
            item = data[i]
            if item is None:
                continue
            views, label = item
            if pending and (
                len(pending) >= batch_size or [v.shape for v in views] != [v.shape for v in pending[0]]
            ):
                run_pending()
            pending.append(list(views))
            labels.append(int(label))
        run_pending()
    flush()
    result = meter.result(ctx is not None and ctx.distributed, 1, classes)
    for m, t in zip(ms, was):
        m.train(t)
    return result
