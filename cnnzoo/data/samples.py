"""Write a few images of a data source as PNG files, so the README's examples have inputs to run on.

``cnnzoo samples digits --out digits`` writes the first images of the fixed test split of scikit-learn's
digits (in the 28x28 MNIST layout the ``digits`` source trains on) as ``digits/NN_CLASS.png``; any DATA
source works (``mnist:DIR``, ``folder:DIR``...). ``cnnzoo samples photos --out photos`` copies the labelled
ImageNet photos that ship with PyPI's ``foolbox`` (``NN_CLASS.jpg``, the label in ImageNet's class order), the
real photos to try ``predict`` and ``explain`` with a pretrained model on. Each file is written atomically.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError


def _safe(name: str) -> str:
    """A class name usable in a file name (``n01440764 tench`` -> ``n01440764_tench``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "class"


def _writable_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a folder; give --out a folder path.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the folder {out} ({e.strerror}); choose another --out.") from None
    return out


def _write_atomic(path: Path, write: object) -> None:
    from ..outputs import atomic_path

    with atomic_path(path, "sample image") as tmp:
        write(tmp)  # type: ignore[operator]


def _write_photos(out_dir: str | Path, n: int) -> list[Path]:
    """The first ``n`` of foolbox's 20 labelled ImageNet photos, copied as ``NN_CLASS.jpg``."""
    import shutil

    from ..record import imagenet_classes
    from .photos import foolbox_samples

    samples = foolbox_samples("imagenet")[:n]
    names = imagenet_classes()
    out = _writable_dir(out_dir)
    written = []
    for i, (src, label) in enumerate(samples):
        path = out / f"{i:02d}_{_safe(names[label])}{src.suffix}"
        _write_atomic(path, lambda tmp, src=src: shutil.copyfile(src, tmp))
        written.append(path)
    return written


def write_samples(spec: str, out_dir: str | Path, n: int = 8, split: str = "test") -> list[Path]:
    """Write the first ``n`` images of ``split`` ("train" or "test") of DATA ``spec`` as PNGs in ``out_dir``.

    Returns the paths written, named ``NN_CLASS.png`` (NN the index within the split).
    """
    import numpy as np
    from PIL import Image

    from .images import decode_image
    from .sources import FileImages, load_source

    if n < 1:
        raise DataError(f"the number of images must be at least 1, got {n}.")
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}.")
    if spec == "photos":
        return _write_photos(out_dir, n)
    raw = load_source(spec)
    part = raw.train if split == "train" else raw.test
    if len(part) == 0:
        raise DataError(f"the {split} split of {spec!r} holds no images; try the other split.")
    out = _writable_dir(out_dir)
    written = []
    for i in range(min(n, len(part))):
        label = int(part.labels[i])
        if isinstance(part, FileImages):
            img = decode_image(part.paths[i], 3)
        else:
            img = part.images[i]
        arr = img.permute(1, 2, 0).numpy().astype(np.uint8)
        pil = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
        path = out / f"{i:02d}_{_safe(raw.classes[label])}.png"
        _write_atomic(path, lambda tmp, pil=pil: pil.save(tmp, format="PNG"))
        written.append(path)
    return written
