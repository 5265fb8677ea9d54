"""Building transfer tasks and running a whole transfer job (what ``cnnzoo transfer`` calls).

:func:`class_subset` keeps some classes of a data source (MNIST digits 0-4 as the old task, 5-9 as the new
one), :func:`few_shot` keeps ``k`` labelled training images per class (the lectures' "very little data"),
:func:`prepare_model` builds a model with a cnnzoo checkpoint, ``torchvision:FILE`` or ``timm:FILE`` loaded,
and :func:`run_transfer` runs a strategy end to end (data, model, training loop, evaluation, confusion plot).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..checkpoint import is_cnnzoo_checkpoint, read_checkpoint, safe_load
from ..data.sources import DataBundle, FileImages, MemoryImages, RawSplits, build_data, load_source
from ..errors import CheckpointError, DataError, OptionError
from ..factory import create_model, model_from_checkpoint
from ..record import ModelRecord
from ..registries import STRATEGIES, accepted
from ..sizes import MAX_SIDE
from ..train.runlock import scoped
from ..weights.load import parse_weights_spec
from .strategies import Settings, TransferResult


def _subset(raw: MemoryImages | FileImages, keep: np.ndarray) -> MemoryImages | FileImages:
    return raw.subset(np.sort(keep))


def class_subset(raw: RawSplits, classes: Sequence[int]) -> RawSplits:
    """The images of ``classes`` (indices into ``raw.classes``), relabelled ``0..len(classes)-1`` in that
    order."""
    classes = [int(c) for c in classes]
    if len(set(classes)) < 2 or min(classes) < 0 or max(classes) >= len(raw.classes):
        raise DataError(
            f"a task needs at least two distinct classes of {raw.source} (0..{len(raw.classes) - 1}), "
            f"got {classes}."
        )
    lut = torch.full((len(raw.classes),), -1, dtype=torch.long)
    lut[torch.tensor(classes)] = torch.arange(len(classes))

    def part(r: MemoryImages | FileImages) -> MemoryImages | FileImages:
        keep = np.flatnonzero(lut[r.labels].numpy() >= 0)
        sub = _subset(r, keep)
        sub.labels = lut[sub.labels]
        return sub

    return RawSplits(
        f"{raw.source}[{','.join(map(str, classes))}]",
        part(raw.train),
        part(raw.test),
        [raw.classes[c] for c in classes],
        raw.natural,
        list(raw.skipped),
        part(raw.val) if raw.val is not None else None,
    )


def few_shot(raw: RawSplits, per_class: int, seed: int = 0) -> RawSplits:
    """Keep ``per_class`` training images of each class (a fixed, seeded draw); the test part is unchanged."""
    if per_class < 1:
        raise DataError(f"few-shot tasks need at least one image per class, got {per_class}.")
    labels = raw.train.labels.numpy()
    rng = np.random.default_rng(seed)
    keep = []
    for c in range(len(raw.classes)):
        idx = np.flatnonzero(labels == c)
        if len(idx) < per_class:
            raise DataError(
                f"class {raw.classes[c]!r} of {raw.source} has {len(idx)} training images, fewer than "
                f"{per_class}."
            )
        keep.append(rng.choice(idx, per_class, replace=False))
    return RawSplits(
        f"{raw.source}[{per_class}/class]",
        _subset(raw.train, np.concatenate(keep)),
        raw.test,
        list(raw.classes),
        raw.natural,
        list(raw.skipped),
        raw.val,
    )


def prepare_model(name: str, weights: str | None = None, **kwargs: Any) -> nn.Module:
    """Build ``name`` and load ``weights``: ``"pretrained"`` (the model's published default, see
    ``cnnzoo list --pretrained``), a cnnzoo checkpoint (its recorded options are used), a plain state-dict
    file, ``torchvision:FILE`` / ``timm:FILE``, a tag, URL or ``package:NAME`` (see
    :func:`cnnzoo.create_model`); ``None`` builds it with random weights. The model's record
    (``model.cnnzoo_record``) says the input size and the mean/std its weights were trained with."""
    if weights is None:
        return create_model(name, **kwargs)
    if weights == "pretrained":
        return _published(name, **kwargs)
    source, path = parse_weights_spec(weights)
    if source == "cnnzoo" and Path(path).is_file():
        data = safe_load(path)
        if is_cnnzoo_checkpoint(data):
            rec = read_checkpoint(data, path).record
            if rec is None or rec.name != name:
                raise CheckpointError(
                    f"{path!r} is a checkpoint of {rec.name if rec else 'another module'!r}, not {name!r}; "
                    "name the model it was saved from."
                )
            return model_from_checkpoint(path, **kwargs)
    # published weights (torchvision, timm:TAG, a URL...): the factory builds the variant they need, and
    # their record says how their pictures were normalised
    return create_model(name, weights=weights, **kwargs)


def offline_alternatives() -> str:
    """The published weights that need no download (shipped inside an installed package), as
    ``MODEL with weights package:NAME`` items."""
    from ..weights.table import entries

    return ", ".join(f"{e.model} with weights package:{e.package}" for e in entries(source="package"))


def _published(name: str, **kwargs: Any) -> nn.Module:
    """``name`` with its default published weights; a model without any, or weights that cannot be fetched
    (offline), is one sentence naming what to do instead."""
    from ..errors import WeightsError
    from ..weights.table import default_entry

    if default_entry(name) is None:
        raise OptionError(
            f"{name!r} has no published checkpoint to transfer from (`cnnzoo list --pretrained` lists the "
            f"models that have; offline: {offline_alternatives()}); give weights (a checkpoint from `cnnzoo "
            "train`) or train from scratch (from_scratch).",
            "weights",
            "from_scratch",
        )
    try:
        return create_model(name, pretrained=True, **kwargs)
    except WeightsError as e:
        raise WeightsError(
            f"{str(e).rstrip('.')}; offline, transfer from weights an installed package ships "
            f"({offline_alternatives()}), from a checkpoint of your own (weights FILE) or from scratch "
            "(from_scratch, --from-scratch)."
        ) from None


def _size(rec: ModelRecord, input_size: int | None) -> tuple[int, int, int]:
    c, h, w = (int(v) for v in rec.input_size)
    if input_size is None:
        return c, h, w
    if not 8 <= input_size <= MAX_SIDE:
        raise OptionError(f"input_size must be from 8 to {MAX_SIDE} pixels, got {input_size}.", "input_size")
    return c, input_size, input_size


def _norm(rec: ModelRecord) -> ModelRecord | None:
    """The record whose mean/std new data is normalised with: the weights' own where the record says what
    they were trained on (a cnnzoo checkpoint, a published file); ``None``: computed from the new training
    images."""
    return rec if rec.dataset is not None else None


def _bundle(
    spec: str | RawSplits, c: int, h: int, w: int, norm: ModelRecord | None, val_fraction: float | None
) -> DataBundle:
    raw = spec if isinstance(spec, RawSplits) else load_source(spec)
    mean, std = (norm.mean, norm.std) if norm is not None else (None, None)
    return build_data(raw, c, (h, w), val_fraction=val_fraction, mean=mean, std=std)


def strategy_options(strategy: str) -> dict[str, inspect.Parameter]:
    """The options ``strategy`` takes: the parameters of its function beyond the model, the data and the
    settings (``old_data`` and ``teacher`` without a default are required)."""
    params = list(inspect.signature(STRATEGIES.get(strategy).obj).parameters.values())
    return {p.name: p for p in params[1:] if p.name not in ("data", "settings") and p.kind != p.VAR_KEYWORD}


def _check_strategy_inputs(strategy: str, old_data: object, teacher: object) -> None:
    """Check that ``strategy`` gets the inputs it needs and no input it would ignore."""
    takes = strategy_options(strategy)
    for name, given in (("old_data", old_data), ("teacher", teacher)):
        if name in takes and takes[name].default is inspect.Parameter.empty and given is None:
            raise OptionError(f"the {strategy} strategy needs {name}: give {name}.", name)
    if teacher is not None and "teacher" not in takes:
        users = [n for n in STRATEGIES.names() if "teacher" in strategy_options(n)]
        raise OptionError(f"teacher is only used by the {' and '.join(users)} strategy.", "teacher")


def auto_batch_size(n_train: int, largest: int = 64, smallest: int = 16, steps: int = 8) -> int:
    """The largest power of two from ``smallest`` to ``largest`` that gives at least ``steps`` updates an
    epoch on ``n_train`` images: 64 from 512 images on, 16 for a folder of 128 (batch 64 would be 2 steps an
    epoch, 20 in a 10-epoch run: too few for the head to converge)."""
    b = largest
    while b > smallest and n_train / b < steps:
        b //= 2
    return b


def _body_epochs(strategy: str, epochs: int, freeze_epochs: int) -> tuple[int, int]:
    """``(epochs that train the body, epochs of the head alone on uncached features)`` of a strategy."""
    if strategy == "feature-extraction":
        return 0, 0
    if strategy in ("finetune", "discriminative", "lwf"):
        head = min(freeze_epochs, epochs if strategy == "finetune" else epochs - 1)
        return epochs - head, head
    return epochs, 0


def plan_line(
    model: nn.Module,
    data: DataBundle,
    strategy: str,
    s: Settings,
    freeze_epochs: int,
    input_size: tuple[int, int, int],
) -> str:
    """One line before training: epochs x steps x batch, and the cost, in multiply-accumulates and in time
    estimated from one timed forward pass of a batch on this machine (a training step costs about three
    forward passes: forward, and the backward's two products per layer)."""
    import math
    import time

    import torch

    from ..train.run import conv_linear_macs

    n_train = len(data.train)  # type: ignore[arg-type]
    n_val = len(data.val) if data.val is not None else 0  # type: ignore[arg-type]
    n_test = len(data.test)  # type: ignore[arg-type]
    steps = math.ceil(n_train / s.batch_size)
    body, head = _body_epochs(strategy, s.epochs, freeze_epochs)
    if strategy == "feature-extraction":  # features computed once; the epochs train a linear layer
        passes = n_train + n_val + n_test
    else:
        passes = 3 * n_train * body + n_train * head + n_val * s.epochs + n_test
    macs = conv_linear_macs(model, input_size)  # also the warm-up of the timed pass below
    was = model.training
    model.eval()
    n = min(s.batch_size, 16)
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    with torch.no_grad():
        t0 = time.perf_counter()
        model(torch.zeros(n, *input_size, device=dev))
        per_image = (time.perf_counter() - t0) / n
    model.train(was)
    seconds = passes * per_image
    when = f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
    few = " (few: a smaller batch size or more epochs would help)" if steps * s.epochs < 50 else ""
    work = f"{passes * macs / 1e12:.2f} TMAC" if passes * macs >= 1e10 else f"{passes * macs / 1e9:.2f} GMAC"
    updates = steps * s.epochs
    return (
        f"plan: {s.epochs} epochs x {steps} steps of {s.batch_size} images = {updates} updates{few}; "
        f"about {work}: ~{when} at this machine's speed ({n} images timed)"
    )


@scoped  # the run folder's lock (taken by choose_out_dir) is released however the run ends
def run_transfer(
    model_name: str,
    data: str | RawSplits,
    strategy: str,
    *,
    weights: str | None = "pretrained",
    from_scratch: bool = False,
    bn: str | None = None,
    out: str | os.PathLike[str] | None = None,
    epochs: int = 10,
    lr: float = 0.01,
    batch_size: int | None = None,
    freeze_epochs: int = 1,
    unfreeze: int | str = "all",
    lr_factor: float | None = None,
    teacher: str | None = None,
    temperature: float | None = None,
    alpha: float = 0.9,
    old_data: str | RawSplits | None = None,
    input_size: int | None = None,
    val_fraction: float | None = None,
    device: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> TransferResult:
    """Run ``strategy`` from ``model_name`` + ``weights`` to ``data``'s classes.

    ``strategy`` is a name of :data:`cnnzoo.registries.STRATEGIES`; its function gets the options it names
    (:func:`strategy_options`: ``freeze_epochs``, ``unfreeze``, ``lr_factor``, ``teacher``, ``temperature``,
    ``alpha``, ``old_data``), where ``None`` leaves the strategy's own default.

    ``weights`` defaults to the model's published ones (``"pretrained"``; ``None`` is the same), downloaded
    into the cache once; ``from_scratch=True`` starts from random weights instead. ``bn`` is the BatchNorm
    policy (:class:`~cnnzoo.transfer.Settings`; default frozen for pre-trained weights). Checkpoints are
    chosen on validation data: the source's own ``val/``, else ``val_fraction`` of the training images
    (``None``: 20% of a small set, 10% of a large one; 0: no selection, the last epoch). ``batch_size``
    (default: :func:`auto_batch_size`) is sized so a small folder still gets several steps an epoch; a line
    before training states the plan and its estimated cost. Writes the training loop's checkpoints and logs
    into ``out`` (default ``runs/MODEL-STRATEGY-DATA``, never overwriting a run) plus ``confusion.png``.
    """
    from ..train.metrics import plot_confusion
    from ..train.run import choose_out_dir

    entry = STRATEGIES.get(strategy)
    _check_strategy_inputs(strategy, old_data, teacher)
    if from_scratch and weights not in (None, "pretrained"):
        raise OptionError("give either weights or from_scratch, not both.", "weights", "from_scratch")
    model = prepare_model(model_name, None if from_scratch else weights or "pretrained")
    rec: ModelRecord = model.cnnzoo_record  # type: ignore[assignment]
    c, h, w = _size(rec, input_size)
    norm = _norm(rec)
    tmodel = None
    if teacher is not None:
        tmodel = model_from_checkpoint(teacher)
        trec: ModelRecord = tmodel.cnnzoo_record  # type: ignore[assignment]
        norm = trec
        if list(trec.input_size) != [c, h, w]:
            raise OptionError(
                f"the teacher takes {'x'.join(map(str, trec.input_size))} inputs but the student "
                f"{c}x{h}x{w}; give input_size to match.",
                "input_size",
            )
    from ..analysis.memory import check_fits, forward_bytes

    def check_batch(n: int) -> None:  # sizes that cannot fit: one sentence before any image is resized
        need = forward_bytes(model, (c, h, w), n, backward=True, trace=False)
        what = f"training {model_name} on batches of {n} inputs of {c}x{h}x{w}"
        check_fits(need, what, "give a smaller --input-size or --batch-size", device)

    check_batch(batch_size or 16)  # the automatic batch size is at least 16
    bundle = _bundle(data, c, h, w, norm, val_fraction)
    old_bundle = _bundle(old_data, c, h, w, norm, val_fraction) if old_data is not None else None
    if batch_size is None:
        batch_size = auto_batch_size(len(bundle.train))  # type: ignore[arg-type]
        check_batch(batch_size)
    spec_name = data if isinstance(data, str) else data.source
    out_dir, note = choose_out_dir(
        f"{model_name}-{strategy}", spec_name, None if out is None else str(out), False
    )
    source = None if from_scratch else rec.source
    s = Settings(
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        device=device,
        out_dir=out_dir,
        seed=seed,
        progress=progress,
        run={"weights": source or weights if not from_scratch else None},
        bn=bn or ("train" if from_scratch else "frozen"),
    )
    if progress:
        n_val = len(bundle.val) if bundle.val is not None else 0  # type: ignore[arg-type]
        print(
            f"cnnzoo transfer {model_name} ({strategy}) -> {spec_name}: {len(bundle.train)} train / {n_val} "
            f"val / {len(bundle.test)} test images, {bundle.num_classes} classes, input {c}x{h}x{w}; {note}",
            flush=True,
        )
        print(
            f"weights: {'random (from scratch)' if from_scratch else source}; BatchNorm {s.bn}; validation: "
            f"{bundle.val_from or 'none, so no checkpoint selection (the last epoch is kept)'}",
            flush=True,
        )
        print(plan_line(model, bundle, strategy, s, freeze_epochs, (c, h, w)), flush=True)
    offered: dict[str, Any] = dict(freeze_epochs=freeze_epochs, unfreeze=unfreeze, lr_factor=lr_factor)
    offered.update(teacher=tmodel, temperature=temperature, alpha=alpha, old_data=old_bundle)
    if entry.meta.get("warmup"):  # head-only epochs that must leave at least one epoch after them
        offered[entry.meta["warmup"]] = min(freeze_epochs, epochs - 1)
    res = entry.obj(model, data=bundle, settings=s, **accepted(entry.obj, offered))
    if res.test is not None:
        plot_confusion(
            res.test.confusion,
            bundle.classes,
            Path(out_dir) / "confusion.png",
            title=f"{model_name} {strategy} on {spec_name} (test top-1 {res.test.top1:.4f})",
        )
    res.extra["out_dir"] = str(out_dir)
    return res
