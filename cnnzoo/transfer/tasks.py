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
    )


def prepare_model(name: str, weights: str | None = None, **kwargs: Any) -> nn.Module:
    """Build ``name`` and load ``weights``: a cnnzoo checkpoint (its recorded options are used), a plain
    state-dict file, ``torchvision:FILE`` / ``timm:FILE``, or any published weights. The model's record
    (``model.cnnzoo_record``) says the input size and the mean/std its weights were trained with."""
    if weights is None:
        return create_model(name, **kwargs)
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
    spec: str | RawSplits, c: int, h: int, w: int, norm: ModelRecord | None, val_fraction: float
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


@scoped  # the run folder's lock (taken by choose_out_dir) is released however the run ends
def run_transfer(
    model_name: str,
    data: str | RawSplits,
    strategy: str,
    *,
    weights: str | None = None,
    out: str | os.PathLike[str] | None = None,
    epochs: int = 10,
    lr: float = 0.01,
    batch_size: int = 64,
    freeze_epochs: int = 1,
    unfreeze: int | str = "all",
    lr_factor: float | None = None,
    teacher: str | None = None,
    temperature: float | None = None,
    alpha: float = 0.9,
    old_data: str | RawSplits | None = None,
    input_size: int | None = None,
    val_fraction: float = 0.0,
    device: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> TransferResult:
    """Run ``strategy`` from ``model_name`` + ``weights`` to ``data``'s classes.

    ``strategy`` is a name of :data:`cnnzoo.registries.STRATEGIES`; its function gets the options it names
    (:func:`strategy_options`: ``freeze_epochs``, ``unfreeze``, ``lr_factor``, ``teacher``, ``temperature``,
    ``alpha``, ``old_data``), where ``None`` leaves the strategy's own default.

    Writes the training loop's checkpoints and logs into ``out`` (default ``runs/MODEL-STRATEGY-DATA``, never
    overwriting a run) plus ``confusion.png``.
    """
    from ..train.metrics import plot_confusion
    from ..train.run import choose_out_dir

    entry = STRATEGIES.get(strategy)
    _check_strategy_inputs(strategy, old_data, teacher)
    model = prepare_model(model_name, weights)
    rec: ModelRecord = model.cnnzoo_record  # type: ignore[assignment]
    c, h, w = _size(rec, input_size)
    norm = _norm(rec)
    from ..analysis.memory import check_fits, forward_bytes  # before a batch is made: sizes that cannot fit

    need = forward_bytes(model, (c, h, w), batch_size, backward=True, trace=False)
    what = f"training {model_name} on batches of {batch_size} inputs of {c}x{h}x{w}"
    check_fits(need, what, "give a smaller --input-size or --batch-size", device)
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
    bundle = _bundle(data, c, h, w, norm, val_fraction)
    old_bundle = _bundle(old_data, c, h, w, norm, val_fraction) if old_data is not None else None
    spec_name = data if isinstance(data, str) else data.source
    out_dir, note = choose_out_dir(
        f"{model_name}-{strategy}", spec_name, None if out is None else str(out), False
    )
    s = Settings(
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        device=device,
        out_dir=out_dir,
        seed=seed,
        progress=progress,
        run={"weights": weights},
    )
    if progress:
        print(
            f"cnnzoo transfer {model_name} ({strategy}) -> {spec_name}: {len(bundle.train)} train / "
            f"{len(bundle.test)} test images, {bundle.num_classes} classes, input {c}x{h}x{w}; {note}",
            flush=True,
        )
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
