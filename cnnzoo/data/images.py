"""The one image decoder: every verb that reads an image file (train, eval, explain, activations, predict)
goes through :func:`decode_image`, so a photo is never read one way for training and another for
explaining it.

- **EXIF orientation** is applied: a phone photo stored sideways with an "orientation: rotate 90" tag is
  returned upright (as every viewer shows it), not sideways.
- **16-bit images** (16-bit greyscale PNGs from microscopes, scanners, depth sensors) are scaled to 8 bits
  (``round(v / 257)``, so 65535 -> 255 and the ratio of every value to full scale is kept), not saturated
  at 255 as PIL's ``convert("L")`` does.
- The result is ``uint8 [in_chans, H, W]``: grey to RGB by repetition, RGB to grey by ITU-R 601 luma.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import DataError

__all__ = ["decode_image", "decode_pil", "to_uint8"]


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """A decoded image of any integer depth as uint8: 16-bit (and 32-bit) values scaled to full range."""
    if img.dtype == torch.uint8:
        return img
    if img.dtype in (torch.uint16, torch.int16, torch.int32, torch.int64):
        v = img.to(torch.int64).clamp(0, 65535)
        return ((v * 255 + 32767) // 65535).to(torch.uint8)  # round(v / 257)
    if img.is_floating_point():
        return (img.clamp(0, 1) * 255).round().to(torch.uint8)
    raise DataError(f"cannot read images whose pixels are {img.dtype}.")


def decode_pil(im: object, in_chans: int) -> torch.Tensor:
    """A PIL image (already opened) as uint8 ``[in_chans, H, W]``, EXIF orientation applied and 16-bit
    modes (``I;16``, ``I``) scaled rather than clipped."""
    from PIL import ImageOps

    im = ImageOps.exif_transpose(im)  # type: ignore[arg-type]
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.int64)
        if im.mode == "I" and arr.max(initial=0) > 65535:
            raise DataError("cannot read 32-bit integer images; convert them to 8 or 16 bits.")
        img = to_uint8(torch.from_numpy(arr).unsqueeze(0))
    elif im.mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        img = to_uint8(torch.from_numpy(arr.copy()).unsqueeze(0))
    else:
        arr = np.asarray(im.convert("L" if in_chans == 1 else "RGB"))
        img = torch.from_numpy(arr.copy())
        img = img.unsqueeze(0) if img.ndim == 2 else img.permute(2, 0, 1)
    return adapt_channels(img, in_chans)


def decode_image(path: str | os.PathLike[str], in_chans: int) -> torch.Tensor:
    """Decode an image file to uint8 ``[in_chans, H, W]``, upright and at full 8-bit range.

    torchvision's libjpeg-turbo for JPEG (fast); PIL for every other format (PNG, WebP, TIFF, BMP...).
    Errors are the readers' own (``OSError``, ``ValueError``...): callers decide whether an unreadable file
    is skipped or fatal.
    """
    from torchvision.io import ImageReadMode, read_file
    from torchvision.io import decode_image as tv_decode

    mode = ImageReadMode.GRAY if in_chans == 1 else ImageReadMode.RGB
    with open(path, "rb") as f:
        magic = f.read(8)
    # JPEG through libjpeg-turbo (fast; torchvision applies its EXIF orientation). Not PNG: libpng prints
    # "libpng error: ..." on stderr for a corrupt file, a second line beside our one-sentence error.
    if magic.startswith(b"\xff\xd8"):
        try:
            img = tv_decode(read_file(str(path)), mode=mode, apply_exif_orientation=True)
            return adapt_channels(to_uint8(img), in_chans)
        except (RuntimeError, ValueError):
            pass
    from PIL import Image

    with Image.open(path) as im:
        return decode_pil(im, in_chans)


def adapt_channels(img: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Gray -> RGB by repetition, RGB -> gray by ITU-R 601 luma, anything -> ``in_chans`` (``[..., C, H,
    W]``).
    """
    c = img.shape[-3]
    if c == in_chans:
        return img
    if c == 1:
        return img.expand(*img.shape[:-3], in_chans, *img.shape[-2:]).contiguous()
    if in_chans == 1 and c >= 3:
        w = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        y = (img[..., :3, :, :].float() * w).sum(-3, keepdim=True)
        return y.round().clamp(0, 255).to(img.dtype) if not img.is_floating_point() else y
    raise DataError(f"cannot adapt {c}-channel images to a model with {in_chans} input channels.")
