"""Reading images for explanation: PIL files adapted to a model's input channels and size, normalised with the
checkpoint's mean and std."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CnnzooError, DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
# Used when a checkpoint does not record its normalisation (a bare model name, an older checkpoint).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputSpec:
    """How a model wants its images: channels, (height, width), per-channel mean and std, class names."""

    in_chans: int
    size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...] | None = None

    def class_name(self, index: int) -> str:
        if self.classes and 0 <= index < len(self.classes):
            return f"{index} '{self.classes[index]}'"
        return str(index)


def _first_conv_in_chans(model: nn.Module) -> int | None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
    return None


def _floats(value: Any, n: int, what: str) -> tuple[float, ...]:
    vals = [float(v) for v in torch.as_tensor(value, dtype=torch.float64).flatten()]
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n:
        raise CnnzooError(f"the checkpoint's {what} has {len(vals)} values for a {n}-channel model.")
    return tuple(vals)


def input_spec(model: nn.Module, ckpt: dict[str, Any]) -> InputSpec:
    """The :class:`InputSpec` of a model built by ``model_from_checkpoint``: channels from its first
    convolution, size from the checkpoint's ``input_size`` (else the registered model's), mean/std from the
    checkpoint (else ImageNet's for 3 channels, 0.5/0.5 otherwise)."""
    from ..registry import is_model, model_info

    info = model_info(ckpt["model"]) if is_model(str(ckpt.get("model", ""))) else None
    in_chans = (
        _first_conv_in_chans(model)
        or ckpt.get("model_kwargs", {}).get("in_chans")
        or (info.input_size[0] if info else 3)
    )
    size_value = ckpt.get("input_size") or (info.input_size if info else None)
    if size_value is None:
        raise CnnzooError("the checkpoint records no input_size and its model is not registered.")
    size = [int(v) for v in torch.as_tensor(size_value).flatten()]
    hw = (size[-1], size[-1]) if len(size) == 1 else (size[-2], size[-1])
    default_mean, default_std = (IMAGENET_MEAN, IMAGENET_STD) if in_chans == 3 else ((0.5,), (0.5,))
    mean = _floats(ckpt.get("mean", default_mean), in_chans, "mean")
    std = _floats(ckpt.get("std", default_std), in_chans, "std")
    classes = tuple(str(c) for c in ckpt["classes"]) if ckpt.get("classes") is not None else None
    return InputSpec(int(in_chans), hw, mean, std, classes)


def image_paths(refs: Sequence[str]) -> list[Path]:
    """Image files named by ``refs``; a folder stands for the image files in it (sorted)."""
    paths: list[Path] = []
    for ref in refs:
        p = Path(ref)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError(
                    f"folder {ref!r} holds no image files ({', '.join(IMAGE_SUFFIXES[:5])}, ...)."
                )
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            raise DataError(f"image {ref!r} does not exist; check the path.")
    return paths


def load_image(path: str | Path, in_chans: int, size: tuple[int, int]) -> torch.Tensor:
    """An image file as a float tensor ``(in_chans, H, W)`` in [0, 1]: converted to grey (1 channel) or RGB
    (3 channels), its shorter side resized to cover ``size``, centre-cropped (the aspect ratio is kept)."""
    from PIL import Image, UnidentifiedImageError

    if in_chans not in (1, 3):
        raise CnnzooError(
            f"the model takes {in_chans} input channels; explain reads grey (1) or RGB (3) images."
        )
    from ..data.images import decode_image

    try:
        img = decode_image(path, in_chans)  # the one decoder: EXIF orientation, 16-bit scaled, not clipped
        arr = img[0].numpy() if in_chans == 1 else img.permute(1, 2, 0).contiguous().numpy()
        with Image.fromarray(arr, "L" if in_chans == 1 else "RGB") as im:
            h, w = size
            scale = max(h / im.height, w / im.width)
            nh, nw = max(h, round(im.height * scale)), max(w, round(im.width * scale))
            im = im.resize((nw, nh), Image.Resampling.BILINEAR)
            top, left = (nh - h) // 2, (nw - w) // 2
            im = im.crop((left, top, left + w, top + h))
            data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        RuntimeError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"cannot read image {str(path)!r}: {msg}.") from None
    return data.view(h, w, in_chans).permute(2, 0, 1).float() / 255.0


def normalise(x: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """``(x - mean) / std`` per channel, for images in [0, 1]."""
    mean = torch.tensor(spec.mean, dtype=x.dtype).view(-1, 1, 1)
    std = torch.tensor(spec.std, dtype=x.dtype).view(-1, 1, 1)
    return (x - mean) / std


def load_batch(
    refs: Sequence[str], spec: InputSpec, skipped: list[str] | None = None
) -> tuple[list[Path], torch.Tensor, torch.Tensor]:
    """``(paths, images in [0, 1] (N, C, H, W), normalised model inputs)`` for image files and folders.

    An unreadable file named on its own is an error; one found in a folder is skipped, named on stderr
    and appended to ``skipped`` (as training does), so one bad file does not stop the rest."""
    import sys

    named = {Path(r) for r in refs if not Path(r).is_dir()}
    kept, images = [], []
    for p in image_paths(refs):
        try:
            images.append(load_image(p, spec.in_chans, spec.size))
            kept.append(p)
        except DataError as e:
            if p in named:
                raise
            print(f"skipped unreadable file: {p} ({str(e).rstrip('.')})", file=sys.stderr)
            if skipped is not None:
                skipped.append(str(p))
    if not kept:
        raise DataError(f"none of the images in {', '.join(map(repr, refs))} could be read.")
    x = torch.stack(images)
    return kept, x, normalise(x, spec)
