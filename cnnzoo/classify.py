"""Classify images: top-k class names and probabilities, with the weights' own preprocessing.

>>> import cnnzoo
>>> records = cnnzoo.predict("resnet50_v1_5", ["cat.jpg", "photos/"], top=3)   # torchvision's IMAGENET1K_V2
>>> records[0]["predictions"][0]
{'rank': 1, 'class': 'tabby', 'index': 281, 'probability': 0.71}

The model's :class:`~cnnzoo.record.ModelRecord` says how to prepare a picture (resize, centre crop,
interpolation, mean/std) and what the outputs are called (ImageNet's 1000 names for published weights, a
cnnzoo checkpoint's own class names, the names of the head a transfer strategy gave a model in memory).
Pictures come in through the one door (:mod:`cnnzoo.data.images`: EXIF orientation, 16-bit scaling, a pixel
guard before decoding); :func:`transforms` hands that door out as a callable. A folder stands for the image
files in it (recursively, sorted); a file that cannot be read as an image is skipped and named in its record
(``"error"``, one sentence), never fatal. ``cnnzoo predict`` prints the same records.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .data.images import ImageError, ImageTransform, image_files
from .errors import CnnzooError
from .record import ModelRecord


def load_model(model: Any, *, weights: str | None = None, device: str = "cpu") -> tuple[Any, ModelRecord]:
    """The model to classify with, in eval mode, and its record: a built model, a cnnzoo checkpoint path,
    an exported ONNX file (FP32 or INT8: a :class:`cnnzoo.deploy.session.OnnxModule` with the class names
    and preprocessing the export wrote into it), or a registered name (with ``weights``, else its default
    pretrained weights)."""
    from torch import nn

    from .factory import create_model, model_from_checkpoint

    if isinstance(model, nn.Module):
        net = model
    elif str(model).lower().endswith(".onnx"):
        if weights:
            raise CnnzooError("an ONNX file holds its own weights; give weights only with a model name.")
        if device != "cpu":
            raise CnnzooError(
                "an ONNX file runs on the CPU here (ONNX Runtime); drop device or use a checkpoint."
            )
        from .deploy.session import OnnxModule

        net = OnnxModule(str(model))
    elif Path(str(model)).is_file() or "/" in str(model) or str(model).endswith((".pt", ".pth")):
        if weights:
            raise CnnzooError("a checkpoint holds its own weights; give weights only with a model name.")
        net = model_from_checkpoint(str(model))
    else:
        net = (
            create_model(str(model), weights=weights)
            if weights
            else create_model(str(model), pretrained=True)
        )
    rec = getattr(net, "cnnzoo_record", None)
    if not isinstance(rec, ModelRecord):
        raise CnnzooError("the model carries no record of its input; build it with cnnzoo.create_model.")
    if rec.dataset and rec.dataset.endswith("(features only)"):
        raise CnnzooError(
            f"the {rec.source} weights train only the features, not the classifier; pick other weights."
        )
    return net.eval().to(device), rec


def transforms(model: Any, train: bool = False) -> ImageTransform:
    """The picture pipeline of ``model`` as one callable (decode, the record's resize/crop/interpolation,
    its mean/std): like torchvision's ``weights.transforms()`` and timm's
    ``create_transform(**resolve_data_config(model=m))``.

    ``model`` is a model built by cnnzoo (its ``cnnzoo_record``), a :class:`~cnnzoo.record.ModelRecord`, or
    a string: ``"NAME@WEIGHTS"`` (``"resnet50_v1_5@torchvision"``: the record of those weights, nothing is
    downloaded), ``"NAME"`` (the registered defaults) or a checkpoint path. ``train=True`` gives the usual
    fine-tuning augmentation instead of the eval view (:class:`cnnzoo.data.images.ImageTransform`).

    >>> tf = cnnzoo.transforms("efficientnet_lite0@package")  # doctest: +SKIP
    >>> x = tf("cat.jpg")     # float [3, 224, 224], normalised; also PIL images, bytes, tensors
    """
    return ImageTransform(record_of(model), train=train)


def record_of(model: Any) -> ModelRecord:
    """The :class:`~cnnzoo.record.ModelRecord` of a built model, a record, a checkpoint path, ``"NAME"`` or
    ``"NAME@WEIGHTS"`` (the weights table's record; no file is fetched for a published checkpoint)."""
    from torch import nn

    if isinstance(model, ModelRecord):
        return model
    if isinstance(model, nn.Module):
        rec = getattr(model, "cnnzoo_record", None)
        if not isinstance(rec, ModelRecord):
            raise CnnzooError("the model carries no record of its input; build it with cnnzoo.create_model.")
        return rec
    ref = str(model)
    if not isinstance(model, (str, os.PathLike)):
        raise CnnzooError(f"give a model, a ModelRecord or a model name, not {type(model).__name__}.")
    from .checkpoint import is_checkpoint_path, load_checkpoint

    if is_checkpoint_path(ref):
        ckpt = load_checkpoint(ref)
        if ckpt.record is None:
            raise CnnzooError(f"{ref!r} holds no record of its model; give the model it was trained as.")
        return ckpt.record.with_(source=ref)
    name, _, spec = ref.partition("@")
    if spec:
        from .weights.load import resolve
        from .weights.table import default_entry

        found = default_entry(name) if spec == "pretrained" else resolve(name, spec).entry
        if found is not None:
            return found.record
    import torch

    from .factory import create_model

    with torch.device("meta"):  # the registered defaults (or a local weights file's): nothing computed
        return create_model(name, **({"weights": spec} if spec else {})).cnnzoo_record  # type: ignore[no-any-return]


def predict(
    model: Any,
    images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    top: int = 5,
    weights: str | None = None,
    precision: str = "fp32",
    batch_size: int = 16,
    device: str = "cpu",
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """Classify ``images`` (files or folders) with ``model``; one record per file, in order.

    Args:
        model: a registered name (loaded with ``weights``, else its default pretrained weights), a cnnzoo
            checkpoint path, or a model built by :func:`cnnzoo.create_model` (its record, the head it has
            now, names the outputs).
        images: image files and/or folders (a folder: the image files under it, sorted).
        top: how many classes per image.
        weights: what to load into a named model (see :func:`cnnzoo.create_model`).
        precision: ``"fp32"``, or ``"bf16"`` (:func:`torch.autocast`; CPUs with AVX-512 BF16/AMX gain).
        batch_size: images per forward pass.
        device: ``"cpu"`` or a CUDA device.
        progress: a progress bar on stderr (default: when there are more than ``batch_size`` files).

    Returns:
        ``[{"file": str, "predictions": [{"rank", "class", "index", "probability"}, ...]}, ...]``; a file
        that cannot be read (not an image, truncated, too many pixels) has ``{"file": str, "error": str}``
        (one sentence) instead of predictions, and the others are classified all the same.
    """
    import torch

    from .precision import autocast, check_precision

    if precision != "fp32" and str(model).lower().endswith(".onnx"):
        raise CnnzooError(
            "an ONNX file runs at the precision it was exported at (FP32, or INT8 from export --int8); "
            "drop precision."
        )
    check_precision(precision, device)  # bf16 only where the hardware computes it: one sentence elsewhere
    if not isinstance(top, int) or top < 1:
        raise CnnzooError(f"top must be a positive whole number, got {top!r}.")
    files = image_files(images)
    net, rec = load_model(model, weights=weights, device=device)
    names = rec.class_names()
    transform = ImageTransform(rec)
    records: list[dict[str, Any]] = [{"file": str(f)} for f in files]
    show = progress if progress is not None else len(files) > batch_size
    from tqdm import tqdm

    bar = tqdm(total=len(files), unit="img", disable=not show, desc="predict", leave=False)
    for start in range(0, len(files), batch_size):
        batch, idx = [], []
        for i in range(start, min(start + batch_size, len(files))):
            try:
                batch.append(transform(files[i]))
                idx.append(i)
            except ImageError as e:  # one sentence naming the file; the rest of the folder goes on
                records[i]["error"] = str(e)
        bar.update(min(batch_size, len(files) - start))
        if not batch:
            continue
        x = torch.stack(batch).to(device)
        with torch.no_grad(), autocast(precision, device):
            logits = net(x)
        if rec.temperature:  # calibrated by `cnnzoo calibrate` (temperature scaling)
            logits = logits.float() / rec.temperature
        probs = torch.softmax(logits.float(), dim=1)
        k = min(top, probs.shape[1])
        p, c = probs.topk(k, dim=1)
        for row, i in enumerate(idx):
            records[i]["predictions"] = [
                {
                    "rank": r + 1,
                    "class": names[int(j)] if names and int(j) < len(names) else f"class_{int(j)}",
                    "index": int(j),
                    "probability": round(float(q), 6),
                }
                for r, (q, j) in enumerate(zip(p[row], c[row]))
            ]
    bar.close()
    return records
