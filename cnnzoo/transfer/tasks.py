"""Building transfer tasks and running a whole transfer job (what ``cnnzoo transfer`` calls).

:func:`class_subset` keeps some classes of a data source (MNIST digits 0-4 as the old task, 5-9 as the new
one), :func:`few_shot` keeps ``k`` labelled training images per class (the lectures' "very little data"),
:func:`prepare_model` builds a model with a cnnzoo checkpoint, ``torchvision:FILE`` or ``timm:FILE`` loaded,
and :func:`run_transfer` runs a strategy end to end (data, model, training loop, evaluation, confusion plot).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..checkpoint import FORMAT, safe_load
from ..data.sources import DataBundle, FileImages, MemoryImages, RawSplits, build_data, load_source
from ..errors import CheckpointError, CnnzooError, DataError, OptionError
from ..factory import create_model, model_from_checkpoint
from ..registry import model_info
from ..sizes import MAX_SIDE
from ..train.runlock import scoped
from ..weights import parse_weights_spec
from .strategies import (
    DEFAULT_LR_FACTOR,
    STRATEGIES,
    Settings,
    TransferResult,
    discriminative,
    distill,
    feature_extraction,
    finetune,
    joint_training,
    learning_without_forgetting,
)


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


def prepare_model(name: str, weights: str | None = None, **kwargs: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Build ``name`` and load ``weights``: a cnnzoo checkpoint (its recorded options, mean/std and input size
    are used), a plain state-dict file, or ``torchvision:FILE`` / ``timm:FILE``. Returns ``(model, info)``
    where ``info`` holds ``mean``/``std``/``input_size``/``classes`` when the checkpoint recorded them."""
    if weights is None:
        return create_model(name, **kwargs), {}
    source, path = parse_weights_spec(weights)
    if source == "cnnzoo" and Path(path).is_file():
        data = safe_load(path)
        if isinstance(data, dict) and data.get("format") == FORMAT:
            if data.get("model") != name:
                raise CheckpointError(
                    f"{path!r} is a checkpoint of {data.get('model')!r}, not {name!r}; name the "
                    "model it was saved from."
                )
            model, ckpt = model_from_checkpoint(path, **kwargs)
            return model, {k: ckpt[k] for k in ("mean", "std", "input_size", "classes") if k in ckpt}
    # published weights (torchvision, timm:TAG, a URL...): the factory builds the variant they need, and
    # their record says how their pictures were normalised
    model = create_model(name, weights=weights, **kwargs)
    rec = model.cnnzoo_record  # type: ignore[attr-defined]
    return model, ({"mean": list(rec.mean), "std": list(rec.std)} if rec.dataset == "imagenet-1k" else {})


def _size(info: dict[str, Any], name: str, input_size: int | None) -> tuple[int, int, int]:
    if input_size is not None:
        if not 8 <= input_size <= MAX_SIDE:
            raise OptionError(
                f"input_size must be from 8 to {MAX_SIDE} pixels, got {input_size}.", "input_size"
            )
        c = int(info["input_size"][0]) if "input_size" in info else model_info(name).input_size[0]
        return c, input_size, input_size
    if "input_size" in info:
        c, h, w = (int(v) for v in info["input_size"])
        return c, h, w
    return model_info(name).input_size


def _bundle(
    spec: str | RawSplits, c: int, h: int, w: int, info: dict[str, Any], val_fraction: float
) -> DataBundle:
    raw = spec if isinstance(spec, RawSplits) else load_source(spec)
    return build_data(raw, c, (h, w), val_fraction=val_fraction, mean=info.get("mean"), std=info.get("std"))


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
    """Run ``strategy`` (one of :data:`STRATEGIES`) from ``model_name`` + ``weights`` to ``data``'s classes.

    Writes the training loop's checkpoints and logs into ``out`` (default ``runs/MODEL-STRATEGY-DATA``, never
    overwriting a run) plus ``confusion.png``.
    """
    from ..train.metrics import plot_confusion
    from ..train.run import choose_out_dir

    if strategy not in STRATEGIES:
        raise CnnzooError(f"unknown strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}.")
    if strategy == "joint" and old_data is None:
        raise OptionError("joint training needs the old task's data: give old_data.", "old_data")
    if strategy == "distill" and teacher is None:
        raise OptionError("distillation needs a teacher: give teacher (a checkpoint).", "teacher")
    model, info = prepare_model(model_name, weights)
    c, h, w = _size(info, model_name, input_size)
    from ..analysis.memory import check_fits, forward_bytes  # before a batch is made: sizes that cannot fit

    need = forward_bytes(model, (c, h, w), batch_size, backward=True, trace=False)
    what = f"training {model_name} on batches of {batch_size} inputs of {c}x{h}x{w}"
    check_fits(need, what, "give a smaller --input-size or --batch-size", device)
    tmodel = None
    if teacher is not None and strategy == "distill":
        tmodel, tckpt = model_from_checkpoint(teacher)
        info = {k: tckpt[k] for k in ("mean", "std") if k in tckpt}
        if "input_size" in tckpt and [int(v) for v in tckpt["input_size"]] != [c, h, w]:
            raise OptionError(
                f"the teacher takes {'x'.join(map(str, tckpt['input_size']))} inputs but the student "
                f"{c}x{h}x{w}; give input_size to match.",
                "input_size",
            )
    bundle = _bundle(data, c, h, w, info, val_fraction)
    old_bundle = _bundle(old_data, c, h, w, info, val_fraction) if old_data is not None else None
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
        meta={"weights": weights},
    )
    if progress:
        print(
            f"cnnzoo transfer {model_name} ({strategy}) -> {spec_name}: {len(bundle.train)} train / "
            f"{len(bundle.test)} test images, {bundle.num_classes} classes, input {c}x{h}x{w}; {note}",
            flush=True,
        )
    if strategy == "feature-extraction":
        res = feature_extraction(model, bundle, s)
    elif strategy == "finetune":
        res = finetune(
            model,
            bundle,
            s,
            freeze_epochs=freeze_epochs,
            unfreeze=unfreeze,
            lr_factor=lr_factor or 10.0,
            old_data=old_bundle,
        )
    elif strategy == "discriminative":
        res = discriminative(
            model,
            bundle,
            s,
            lr_factor=lr_factor or DEFAULT_LR_FACTOR,
            freeze_epochs=min(freeze_epochs, epochs - 1),
        )
    elif strategy == "joint":
        assert old_bundle is not None
        res = joint_training(model, bundle, old_bundle, s)
    elif strategy == "distill":
        assert tmodel is not None
        res = distill(model, tmodel, bundle, s, temperature=temperature or 4.0, alpha=alpha)
    else:
        res = learning_without_forgetting(
            model,
            bundle,
            s,
            temperature=temperature or 2.0,
            warmup_epochs=min(freeze_epochs, epochs - 1),
            lr_factor=lr_factor or 10.0,
            old_data=old_bundle,
        )
    if res.test is not None:
        plot_confusion(
            res.test.confusion,
            bundle.classes,
            Path(out_dir) / "confusion.png",
            title=f"{model_name} {strategy} on {spec_name} (test top-1 {res.test.top1:.4f})",
        )
    res.extra["out_dir"] = str(out_dir)
    return res
