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


def prepare_model(name: str, weights: str | None = None, **kwargs: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Build ``name`` and load ``weights``: ``"pretrained"`` (the model's published default, see
    ``cnnzoo list --pretrained``), a cnnzoo checkpoint (its recorded options, mean/std and input size are
    used), a plain state-dict file, ``torchvision:FILE`` / ``timm:FILE``, a tag, URL or ``package:NAME``
    (see :func:`cnnzoo.create_model`); ``None`` builds it with random weights. Returns ``(model, info)``
    where ``info`` holds ``mean``/``std``/``input_size``/``classes`` when the checkpoint recorded them."""
    if weights is None:
        return create_model(name, **kwargs), {}
    if weights == "pretrained":
        return _published(name, **kwargs)
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
    return _with_record(create_model(name, weights=weights, **kwargs))


def _with_record(model: nn.Module) -> tuple[nn.Module, dict[str, Any]]:
    rec = model.cnnzoo_record  # type: ignore[attr-defined]
    return model, ({"mean": list(rec.mean), "std": list(rec.std)} if rec.dataset == "imagenet-1k" else {})


def offline_alternatives() -> str:
    """The published weights that need no download (shipped inside an installed package), as
    ``MODEL with weights package:NAME`` items."""
    from ..weights.table import entries

    return ", ".join(f"{e.model} with weights package:{e.package}" for e in entries(source="package"))


def _published(name: str, **kwargs: Any) -> tuple[nn.Module, dict[str, Any]]:
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
        return _with_record(create_model(name, pretrained=True, **kwargs))
    except WeightsError as e:
        raise WeightsError(
            f"{str(e).rstrip('.')}; offline, transfer from weights an installed package ships "
            f"({offline_alternatives()}), from a checkpoint of your own (weights FILE) or from scratch "
            "(from_scratch, --from-scratch)."
        ) from None


def _size(info: dict[str, Any], name: str, input_size: int | None) -> tuple[int, int, int]:
    if input_size is not None:
        if input_size < 8:
            raise OptionError(f"input_size must be at least 8 pixels, got {input_size}.", "input_size")
        c = int(info["input_size"][0]) if "input_size" in info else model_info(name).input_size[0]
        return c, input_size, input_size
    if "input_size" in info:
        c, h, w = (int(v) for v in info["input_size"])
        return c, h, w
    return model_info(name).input_size


def _bundle(
    spec: str | RawSplits, c: int, h: int, w: int, info: dict[str, Any], val_fraction: float | None
) -> DataBundle:
    raw = spec if isinstance(spec, RawSplits) else load_source(spec)
    return build_data(raw, c, (h, w), val_fraction=val_fraction, mean=info.get("mean"), std=info.get("std"))


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
    """Run ``strategy`` (one of :data:`STRATEGIES`) from ``model_name`` + ``weights`` to ``data``'s classes.

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

    if strategy not in STRATEGIES:
        raise CnnzooError(f"unknown strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}.")
    if strategy == "joint" and old_data is None:
        raise OptionError("joint training needs the old task's data: give old_data.", "old_data")
    if strategy == "distill" and teacher is None:
        raise OptionError("distillation needs a teacher: give teacher (a checkpoint).", "teacher")
    if from_scratch and weights not in (None, "pretrained"):
        raise OptionError("give either weights or from_scratch, not both.", "weights", "from_scratch")
    model, info = prepare_model(model_name, None if from_scratch else weights or "pretrained")
    c, h, w = _size(info, model_name, input_size)
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
    source = getattr(getattr(model, "cnnzoo_record", None), "source", None)
    s = Settings(
        epochs=epochs,
        lr=lr,
        batch_size=batch_size or auto_batch_size(len(bundle.train)),
        device=device,
        out_dir=out_dir,
        seed=seed,
        progress=progress,
        meta={"weights": None if from_scratch else source or weights},
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
