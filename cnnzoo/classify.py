"""Classify images: top-k class names and probabilities, with the weights' own preprocessing.

>>> import cnnzoo
>>> records = cnnzoo.predict("resnet50_v1_5", ["cat.jpg", "photos/"], top=3)   # torchvision's IMAGENET1K_V2
>>> records[0]["predictions"][0]
{'rank': 1, 'class': 'tabby', 'index': 281, 'probability': 0.71}

The model's :class:`~cnnzoo.record.ModelRecord` says how to prepare a picture (resize, centre crop,
interpolation, mean/std) and what the outputs are called (ImageNet's 1000 names for published weights, a
cnnzoo checkpoint's own class names). A folder stands for the image files in it (recursively, sorted); a file
that cannot be read as an image is skipped and named in its record (``"error"``), never fatal.
``cnnzoo predict`` prints the same records.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import CnnzooError
from .record import ModelRecord

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def image_files(refs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files ``refs`` name: a file as given, a folder as the image files under it (sorted)."""
    if isinstance(refs, (str, os.PathLike)):
        refs = [refs]
    out: list[Path] = []
    for ref in refs:
        p = Path(ref).expanduser()
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise CnnzooError(f"{str(p)!r} is neither an image file nor a folder; check the path.")
    return out


def load_model(model: Any, *, weights: str | None = None, device: str = "cpu") -> tuple[Any, ModelRecord]:
    """The model to classify with, in eval mode, and its record: a built model, a cnnzoo checkpoint path,
    or a registered name (with ``weights``, else its default pretrained weights)."""
    from torch import nn

    from .factory import create_model, model_from_checkpoint

    if isinstance(model, nn.Module):
        net = model
    elif Path(str(model)).is_file() or "/" in str(model) or str(model).endswith((".pt", ".pth")):
        if weights:
            raise CnnzooError("a checkpoint holds its own weights; give weights only with a model name.")
        net, _ = model_from_checkpoint(str(model))
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


def eval_view(rec: ModelRecord):  # -> Callable[[PIL.Image.Image], torch.Tensor]
    """The picture ``rec``'s network sees, before normalisation: resize the shorter side to ``rec.resize``
    and centre-crop ``rec.crop`` (or resize straight to the input size), with ``rec.interpolation``, as a
    ``(C, H, W)`` float tensor in [0, 1]."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    modes = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}
    mode = modes.get(rec.interpolation, InterpolationMode.NEAREST)
    c, h, w = rec.input_size

    def view(img: Any) -> Any:
        img = img.convert("RGB" if c == 3 else "L")
        if rec.resize:
            img = F.resize(img, rec.resize, interpolation=mode, antialias=True)
            img = F.center_crop(img, [rec.crop or h, rec.crop or w])
        else:
            img = F.resize(img, [h, w], interpolation=mode, antialias=True)
        return F.to_tensor(img)

    return view


def preprocess(rec: ModelRecord):  # -> Callable[[PIL.Image.Image], torch.Tensor]
    """The eval transform ``rec`` describes: :func:`eval_view`, then normalise with ``rec.mean``/``rec.std``
    (torchvision's ``Weights.transforms()`` and timm's eval transform do the same)."""
    from torchvision.transforms import functional as F

    view, mean, std = eval_view(rec), list(rec.mean), list(rec.std)

    def transform(img: Any) -> Any:
        return F.normalize(view(img), mean, std)

    return transform


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
            checkpoint path, or a model built by :func:`cnnzoo.create_model`.
        images: image files and/or folders (a folder: the image files under it, sorted).
        top: how many classes per image.
        weights: what to load into a named model (see :func:`cnnzoo.create_model`).
        precision: ``"fp32"``, or ``"bf16"`` (:func:`torch.autocast`; CPUs with AVX-512 BF16/AMX gain).
        batch_size: images per forward pass.
        device: ``"cpu"`` or a CUDA device.
        progress: a progress bar on stderr (default: when there are more than ``batch_size`` files).

    Returns:
        ``[{"file": str, "predictions": [{"rank", "class", "index", "probability"}, ...]}, ...]``; a file
        that cannot be read has ``{"file": str, "error": str}`` instead of predictions.
    """
    import torch
    from PIL import Image, UnidentifiedImageError

    from .precision import autocast, check_precision

    check_precision(precision, device)  # bf16 only where the hardware computes it: one sentence elsewhere
    if not isinstance(top, int) or top < 1:
        raise CnnzooError(f"top must be a positive whole number, got {top!r}.")
    files = image_files(images)
    if not files:
        raise CnnzooError(
            "no image files found in the given paths; give image files or folders holding them."
        )
    net, rec = load_model(model, weights=weights, device=device)
    names = rec.class_names()
    transform = preprocess(rec)
    records: list[dict[str, Any]] = [{"file": str(f)} for f in files]
    show = progress if progress is not None else len(files) > batch_size
    from tqdm import tqdm

    bar = tqdm(total=len(files), unit="img", disable=not show, desc="predict", leave=False)
    for start in range(0, len(files), batch_size):
        batch, idx = [], []
        for i in range(start, min(start + batch_size, len(files))):
            try:
                with Image.open(files[i]) as img:
                    batch.append(transform(img))
                idx.append(i)
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
                records[i]["error"] = _reason(e)
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


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if type(e).__name__ == "UnidentifiedImageError":
        return "not an image PIL can read"
    return f"unreadable image ({text})"
