"""The one door for a picture: decode it, take the view its model's record asks for, normalise.

Every verb that reads a picture comes through here (training and evaluation on class folders, ``predict``,
``explain``/``activations``, the web page's Photo and Draw uploads, ``transfer``, ``erf --data`` and the ONNX
session), so a photo is never read one way for training and another for predicting or explaining it.

1. **Decode** (:func:`decode_image`: a file, bytes or an open PIL image -> uint8 ``[C, H, W]``):

   - the header is read first and a picture of more than ``max_pixels`` pixels (:data:`MAX_PIXELS` by
     default: a 108-megapixel phone photo passes) is refused *before* any pixel is decoded, so a
     "decompression bomb" (a tiny file declaring 100000x100000 pixels) costs nothing;
   - **EXIF orientation** is applied: a phone photo stored sideways with "rotate 90" is returned upright;
   - **16-bit** pictures (16-bit greyscale PNGs of microscopes, scanners, depth sensors) are scaled to 8 bits
     (``round(v / 257)``: 65535 -> 255) instead of saturating at 255 as PIL's ``convert("L")`` does;
   - palette pictures are expanded, CMYK converted to RGB, and transparent pixels composited over white (as
     a viewer shows them on a white page; dropping alpha would expose whatever colour lies underneath);
   - grey becomes RGB by repetition and RGB grey by ITU-R 601 luma, for the model's ``in_chans``;
   - a file that cannot be read is one :class:`ImageError` sentence naming it (empty, not an image,
     too large, truncated or corrupt); callers decide whether it is skipped (a folder) or fatal (one file).

2. **View** (:func:`view`): the record's eval view (:class:`cnnzoo.record.ModelRecord`): the shorter side to
   ``resize`` and the centre ``crop`` with its ``interpolation`` (antialiased), or, for records without a
   resize (small pictures: digits, CIFAR), fitted to the input size as training fitted them (:func:`fit_to`).

3. **Normalise** with the record's ``mean``/``std``.

:class:`ImageTransform` chains the three (``cnnzoo.transforms(model)`` returns one, like torchvision's
``weights.transforms()`` and timm's ``create_transform(**resolve_data_config(model))``).
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from ..record import ModelRecord

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "ImageError",
    "ImageTransform",
    "adapt_channels",
    "check_image",
    "decode_image",
    "decode_pil",
    "fit_to",
    "image_files",
    "load_images",
    "normalise",
    "to_uint8",
    "view",
]

#: The file suffixes a folder of pictures is scanned for (predict, explain); class folders for training take
#: every file and check its content instead.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm")

#: Pixels above which a picture is refused before decoding: 120 megapixels (a 108-MP phone photo passes;
#: about 360 MB once decoded to RGB). PIL's own guard warns at 89 and refuses at 179 megapixels.
MAX_PIXELS = 120_000_000


class ImageError(DataError):
    """A picture that cannot be read: empty, not an image, too large to decode, truncated or corrupt."""


Source = str | os.PathLike[str] | bytes


# ------------------------------------------------------------------------------------------------ decode
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


def _what(src: Any, name: str | None) -> str:
    if name is not None:
        return name
    if isinstance(src, (str, os.PathLike)):
        return f"image {str(src)!r}"
    return "the picture"


def _too_large(what: str, w: int, h: int, max_pixels: int) -> ImageError:
    return ImageError(
        f"cannot read {what}: it is {w}x{h} pixels ({w * h:,}), more than the {max_pixels:,} cnnzoo "
        "decodes (a guard against decompression bombs); downscale it first."
    )


def _open(src: Any, what: str, max_pixels: int) -> Any:
    """The PIL image of ``src`` with only its header read, after the pixel-count guard."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(src, (bytes, bytearray)):
        if not src:
            raise ImageError(f"cannot read {what}: it is empty (0 bytes).")
        fp: Any = io.BytesIO(src)
    else:
        fp = Path(src)
        try:
            if fp.stat().st_size == 0:
                raise ImageError(f"cannot read {what}: it is empty (0 bytes).")
        except FileNotFoundError:
            raise ImageError(f"cannot read {what}: it does not exist.") from None
        except OSError as e:  # a looping symbolic link, a permission...
            raise ImageError(f"cannot read {what}: {(e.strerror or type(e).__name__).lower()}.") from None
    try:
        with warnings.catch_warnings():  # PIL warns from 89 megapixels; our guard below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fp)
    except UnidentifiedImageError:
        raise ImageError(
            f"cannot read {what}: it is not an image PIL can read (PNG, JPEG, WebP, TIFF, BMP, GIF...)."
        ) from None
    except Image.DecompressionBombError as e:  # PIL's own guard (twice its warning size) fired first
        n = [int(v) for v in re.findall(r"\((\d+) pixels\)", str(e))]
        raise ImageError(
            f"cannot read {what}: it declares {n[0]:,} pixels, more than the {max_pixels:,} cnnzoo "
            "decodes (a guard against decompression bombs); downscale it first."
            if n
            else f"cannot read {what}: it declares more pixels than cnnzoo decodes; downscale it first."
        ) from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"cannot read {what}: truncated or corrupt ({_gist(e)}).") from None
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise _too_large(what, w, h, max_pixels)
    return im


def _gist(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0].rstrip(".") if str(e).strip() else ""
    return text or type(e).__name__


def decode_pil(im: Any, in_chans: int) -> torch.Tensor:
    """An open PIL image as uint8 ``[in_chans, H, W]``: EXIF orientation applied, 16-bit modes (``I;16``,
    ``I``) scaled rather than clipped, palette expanded, CMYK to RGB, alpha composited over white."""
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own guard ran before
        im = ImageOps.exif_transpose(im)
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
            rgba = im.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            im = Image.alpha_composite(white, rgba).convert("RGB")
        if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
            arr = np.asarray(im, dtype=np.int64)
            if im.mode == "I" and arr.max(initial=0) > 65535:
                raise ImageError("cannot read 32-bit integer images; convert them to 8 or 16 bits.")
            img = to_uint8(torch.from_numpy(arr).unsqueeze(0))
        elif im.mode == "F":
            arr = np.asarray(im, dtype=np.float32)
            img = to_uint8(torch.from_numpy(arr.copy()).unsqueeze(0))
        else:
            arr = np.asarray(im.convert("L" if in_chans == 1 else "RGB"))
            img = torch.from_numpy(arr.copy())
            img = img.unsqueeze(0) if img.ndim == 2 else img.permute(2, 0, 1)
    return adapt_channels(img, in_chans)


def decode_image(
    src: Source | Any, in_chans: int, *, max_pixels: int = MAX_PIXELS, name: str | None = None
) -> torch.Tensor:
    """Decode a picture to uint8 ``[in_chans, H, W]``, upright and at full 8-bit range.

    ``src`` is a file path, the bytes of a file (an upload), or an open PIL image. JPEG files in RGB or grey
    are decoded by torchvision's libjpeg-turbo (fast; it applies the EXIF orientation too), everything else by
    PIL. Every failure is one :class:`ImageError` sentence naming the picture (``name``, else the path).
    """
    what = _what(src, name)
    if hasattr(src, "mode") and hasattr(src, "size"):  # an open PIL image
        w, h = src.size
        if w * h > max_pixels:
            raise _too_large(what, w, h, max_pixels)
        return _decoded(lambda: decode_pil(src, in_chans), what)
    im = _open(src, what, max_pixels)
    try:
        if im.format == "JPEG" and im.mode in ("RGB", "L"):
            # JPEG through libjpeg-turbo. Not PNG: libpng prints "libpng error: ..." on stderr for a corrupt
            # file, a second line beside our one-sentence error.
            from torchvision.io import ImageReadMode
            from torchvision.io import decode_image as tv_decode

            data = bytes(src) if isinstance(src, (bytes, bytearray)) else Path(src).read_bytes()
            mode = ImageReadMode.GRAY if in_chans == 1 else ImageReadMode.RGB
            try:
                raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
                img = tv_decode(raw, mode=mode, apply_exif_orientation=True)
                return adapt_channels(to_uint8(img), in_chans)
            except (RuntimeError, ValueError):
                pass  # PIL below says what is wrong, or reads what libjpeg-turbo would not
        return _decoded(lambda: decode_pil(im, in_chans), what)
    finally:
        im.close()


def check_image(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS) -> str | None:
    """Decode ``path`` once, cheaply, behind the same guard as :func:`decode_image`: ``None`` when it is a
    readable picture, else the reason it is not (a few words, for a list of skipped files)."""
    from PIL import Image

    try:
        im = _open(path, f"image {str(path)!r}", max_pixels)
    except ImageError as e:
        return str(e).split(": ", 1)[-1].rstrip(".")
    try:
        if im.format == "JPEG":
            im.draft("RGB", (64, 64))  # DCT-domain downscale: a full check at a fraction of the cost
        im.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        return f"truncated or corrupt ({_gist(e)})"
    finally:
        im.close()
    return None


def _decoded(fn: Any, what: str) -> torch.Tensor:
    from PIL import Image

    try:
        return fn()
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(f"cannot read {what}: it holds more pixels than cnnzoo decodes.") from None
    except (OSError, ValueError, SyntaxError, RuntimeError) as e:
        raise ImageError(f"cannot read {what}: truncated or corrupt ({_gist(e)}).") from None


def adapt_channels(img: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Gray -> RGB by repetition, RGB -> gray by ITU-R 601 luma, anything -> ``in_chans`` (``[..., C, H,
    W]``)."""
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


# ------------------------------------------------------------------------------------------------ files
def image_files(refs: Source | Iterable[Source]) -> list[Path]:
    """The picture files ``refs`` name: a file as given, a folder as the files under it whose suffix is one
    of :data:`IMAGE_SUFFIXES` (recursively, sorted, hidden files left out). A missing path, or a folder
    without pictures, is one :class:`~cnnzoo.errors.DataError` naming it."""
    if isinstance(refs, (str, os.PathLike)):
        refs = [refs]
    out: list[Path] = []
    for ref in refs:
        p = Path(os.fsdecode(ref)).expanduser()  # type: ignore[arg-type]
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")
            )
            if not found:
                raise DataError(
                    f"folder {str(p)!r} holds no image files ({', '.join(IMAGE_SUFFIXES[:5])}, ...)."
                )
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"image {str(p)!r} does not exist; check the path.")
    return out


# ------------------------------------------------------------------------------------------------ view
def _interpolation(name: str) -> Any:
    from torchvision.transforms import InterpolationMode

    modes = {
        "bilinear": InterpolationMode.BILINEAR,
        "bicubic": InterpolationMode.BICUBIC,
        "nearest": InterpolationMode.NEAREST,
    }
    if name not in modes:
        raise DataError(f"unknown interpolation {name!r}; choose one of: {', '.join(modes)}.")
    return modes[name]


def fit_to(img: torch.Tensor, size: Sequence[int], interpolation: str = "bilinear") -> torch.Tensor:
    """Bring an image ``[..., C, H, W]`` to ``size`` (H, W): unchanged when it fits, centred zero padding
    when it is at most 8 pixels smaller per side (LeCun et al. 1998, Sec. III-A: the 28x28 MNIST digits
    centred in a 32x32 field), else an antialiased resize to exactly that size."""
    import torch.nn.functional as F

    h, w = img.shape[-2:]
    th, tw = int(size[0]), int(size[1])
    if (h, w) == (th, tw):
        return img
    if 0 <= th - h <= 8 and 0 <= tw - w <= 8:
        top, left = (th - h) // 2, (tw - w) // 2
        return F.pad(img, (left, tw - w - left, top, th - h - top))
    from torchvision.transforms.v2 import functional as TF

    return TF.resize(img, [th, tw], interpolation=_interpolation(interpolation), antialias=True)


def view(img: torch.Tensor, record: ModelRecord) -> torch.Tensor:
    """The picture ``record``'s network sees, before normalisation (``[C, H, W]``, uint8 or float in
    [0, 1]): the shorter side resized to ``record.resize`` and the centre ``record.crop`` (default the input
    size) cut out, with ``record.interpolation`` (antialiased), or, without a resize, :func:`fit_to` the
    input size."""
    _, h, w = record.input_size
    if not record.resize:
        return fit_to(img, (h, w), record.interpolation)
    from torchvision.transforms.v2 import functional as TF

    mode = _interpolation(record.interpolation)
    if min(img.shape[-2:]) != record.resize:
        img = TF.resize(img, [int(record.resize)], interpolation=mode, antialias=True)
    crop = [int(record.crop), int(record.crop)] if record.crop else [h, w]
    return TF.center_crop(img, crop)


def normalise(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(x - mean) / std`` per channel for images ``[..., C, H, W]`` in [0, 1]."""
    m = torch.tensor(tuple(mean), dtype=torch.float32).view(-1, 1, 1)
    s = torch.tensor(tuple(std), dtype=torch.float32).view(-1, 1, 1)
    return (x.float() - m) / s


class ImageTransform:
    """A record's whole picture pipeline as one callable: decode, view, normalise.

    Call it on a file path, the bytes of a file, a PIL image, or a tensor ``[C, H, W]`` (uint8, or float in
    [0, 1]); it returns the float ``[C, H, W]`` the network takes. ``train=True`` is the usual fine-tuning
    augmentation instead of the eval view: for photo records (those with a ``resize``) a random-resized crop
    of 8%-100% of the area at aspect ratios 3/4-4/3 (Szegedy et al. 2015, Sec. 6) and a horizontal flip; for
    small-picture records the same fit as at eval (their augmentation is the recipe's:
    :mod:`cnnzoo.data.transforms`).
    """

    def __init__(self, record: ModelRecord, train: bool = False, max_pixels: int = MAX_PIXELS) -> None:
        _interpolation(record.interpolation)  # an unknown name is said now, not at the first picture
        self.record, self.train, self.max_pixels = record, bool(train), int(max_pixels)

    @property
    def in_chans(self) -> int:
        return int(self.record.input_size[0])

    def decode(self, src: Any, name: str | None = None) -> torch.Tensor:
        """Step 1 alone: uint8 ``[C, H, W]`` (tensors are passed through, channels adapted)."""
        if isinstance(src, torch.Tensor):
            img = src if src.ndim == 3 else src.unsqueeze(0)
            return adapt_channels(img, self.in_chans)
        return decode_image(src, self.in_chans, max_pixels=self.max_pixels, name=name)

    def view(self, img: torch.Tensor) -> torch.Tensor:
        """Step 2 alone: the eval view (or the training augmentation), same dtype."""
        if not self.train or not self.record.resize:
            return view(img, self.record)
        from torchvision.transforms import v2

        _, h, w = self.record.input_size
        crop = v2.RandomResizedCrop(
            (h, w),
            scale=(0.08, 1.0),
            ratio=(3 / 4, 4 / 3),
            interpolation=_interpolation(self.record.interpolation),
        )
        img = crop(img)
        return img.flip(-1) if bool(torch.rand(()) < 0.5) else img

    def __call__(self, src: Any) -> torch.Tensor:
        img = self.view(self.decode(src))
        x = img.float() / 255.0 if img.dtype == torch.uint8 else img.float()
        return normalise(x, self.record.mean, self.record.std)

    def __repr__(self) -> str:
        r = self.record
        c, h, w = r.input_size
        chans = "RGB" if c == 3 else ("grey" if c == 1 else f"{c} channels")
        lines = [
            f"ImageTransform({'train' if self.train else 'eval'}) for {r.name}"
            + (f" ({r.source})" if r.source else "")
            + ":",
            f"  decode:    EXIF orientation, 16-bit scaled, alpha over white, {chans}, at most "
            f"{self.max_pixels:,} pixels",
        ]
        if self.train and r.resize:
            lines.append(
                f"  augment:   random-resized crop {h}x{w} (8%-100% of the area, aspect 3/4-4/3), "
                f"{r.interpolation}, horizontal flip"
            )
        elif r.resize:
            crop = f"{r.crop}x{r.crop}" if r.crop else f"{h}x{w}"
            lines.append(f"  resize:    shorter side {r.resize}, {r.interpolation}, antialiased")
            lines.append(f"  crop:      centre {crop}")
        else:
            lines.append(
                f"  fit:       {h}x{w} (centred zero padding when at most 8 px smaller, else "
                f"{r.interpolation} resize)"
            )
        fmt = ", ".join
        lines.append(
            f"  normalise: mean ({fmt(f'{v:.4g}' for v in r.mean)}), std ({fmt(f'{v:.4g}' for v in r.std)})"
        )
        return "\n".join(lines)


def load_images(
    refs: Source | Iterable[Source], record: ModelRecord, skipped: list[str] | None = None
) -> tuple[list[Path], torch.Tensor, torch.Tensor]:
    """``(paths, pictures as the network sees them in [0, 1] (N, C, H, W), normalised inputs)`` for picture
    files and folders, through :class:`ImageTransform`'s decode and view.

    An unreadable file named on its own is an error; one found in a folder is skipped, named on stderr and
    appended to ``skipped``, so one bad file does not stop the rest."""
    import sys

    if isinstance(refs, (str, os.PathLike)):
        refs = [refs]
    refs = list(refs)
    named = {Path(os.fsdecode(r)).expanduser() for r in refs if not Path(os.fsdecode(r)).is_dir()}  # type: ignore[arg-type]
    tf = ImageTransform(record)
    kept, shown = [], []
    for p in image_files(refs):
        try:
            shown.append(tf.view(tf.decode(p)).float() / 255.0)
            kept.append(p)
        except ImageError as e:
            if p in named:
                raise
            print(f"skipped unreadable file: {e}", file=sys.stderr)
            if skipped is not None:
                skipped.append(str(p))
    if not kept:
        raise DataError(f"none of the images in {', '.join(map(repr, map(str, refs)))} could be read.")
    x = torch.stack(shown)
    return kept, x, normalise(x, record.mean, record.std)
