"""Write a few images of a data source as PNG files, so the README's examples have inputs to run on.

``cnnzoo samples digits --out digits`` writes the first images of the fixed test split of scikit-learn's
digits (in the 28x28 MNIST layout the ``digits`` source trains on) as ``digits/NN_CLASS.png``; any DATA
source works (``mnist:DIR``, ``folder:DIR``...). ``cnnzoo samples photos --out photos`` copies the labelled
ImageNet photos that ship with PyPI's ``foolbox`` (``NN_CLASS.jpg``, the label in ImageNet's class order), the
real photos to try ``predict`` and ``explain`` with a pretrained model on. Each file is written atomically.

``layout="folders"`` writes class folders instead, ``OUT/CLASS/NNNNN.png`` (NNNNN the image's index in the
split), the layout ``--data folder:DIR`` reads: with ``classes`` (names or indices) and ``per_class`` a small
transfer task is two commands, e.g. four look-alike Fashion-MNIST classes::

    cnnzoo samples fashion-mnist --layout folders --split train --classes 0,2,4,6 --per-class 40 \\
        --out looks/train
    cnnzoo samples fashion-mnist --layout folders --split test --classes 0,2,4,6 --per-class 15 \\
        --out looks/val
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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


LAYOUTS = ("files", "folders")


def _class_indices(classes: Sequence[str | int] | None, names: list[str], spec: str) -> list[int]:
    """``classes`` (names or indices into ``names``) as indices, in the order given; all without it."""
    if classes is None:
        return list(range(len(names)))
    out = []
    for c in classes:
        c = str(c).strip()
        if c.isdigit() and int(c) < len(names):
            out.append(int(c))
        elif c in names:
            out.append(names.index(c))
        else:
            raise DataError(
                f"{spec} has no class {c!r}; its classes are {', '.join(names)} (or their indices "
                f"0-{len(names) - 1})."
            )
    if len(set(out)) != len(out):
        raise DataError(f"classes names a class twice ({', '.join(map(str, classes))}); name each once.")
    return out


def write_samples(
    spec: str,
    out_dir: str | Path,
    n: int = 8,
    split: str = "test",
    *,
    layout: str = "files",
    classes: Sequence[str | int] | None = None,
    per_class: int | None = None,
) -> list[Path]:
    """Write images of ``split`` ("train" or "test") of DATA ``spec`` as PNGs in ``out_dir``.

    ``layout="files"``: the first ``n`` images (of ``classes`` only, if given; ``per_class`` of each instead
    of ``n`` in all, if given) as ``NN_CLASS.png``, NN the index within the split. ``layout="folders"``: the
    same images in class folders, ``CLASS/NNNNN.png``, ready for ``--data folder:DIR``; without
    ``per_class``, the first ``n`` images. Returns the paths written.
    """
    import numpy as np
    from PIL import Image

    from .images import decode_image
    from .sources import FileImages, load_source

    if layout not in LAYOUTS:
        raise DataError(f"layout must be 'files' or 'folders', got {layout!r}.")
    if n < 1 or (per_class is not None and per_class < 1):
        raise DataError(f"the number of images must be at least 1, got {per_class or n}.")
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}.")
    if spec == "photos":
        if layout != "files" or classes is not None or per_class is not None:
            raise DataError(
                "the photos are 20 photos of 20 different classes; write them as files, all classes."
            )
        return _write_photos(out_dir, n)
    raw = load_source(spec)
    part = raw.train if split == "train" else raw.test
    if len(part) == 0:
        raise DataError(f"the {split} split of {spec!r} holds no images; try the other split.")
    wanted = _class_indices(classes, raw.classes, spec)
    labels = part.labels.numpy()
    if per_class is not None:
        picks = [np.flatnonzero(labels == c)[:per_class] for c in wanted]
        short = [raw.classes[c] for c, p in zip(wanted, picks) if len(p) < per_class]
        if short:
            raise DataError(
                f"the {split} split of {spec!r} has fewer than {per_class} images of {', '.join(short)}; "
                "ask for fewer (per_class)."
            )
        index = np.sort(np.concatenate(picks))
    else:
        index = np.flatnonzero(np.isin(labels, wanted))[:n]
    out = _writable_dir(out_dir)
    written = []
    width = max(2, len(str(len(part) - 1))) if layout == "folders" else 2
    for i in (int(j) for j in index):
        label = int(part.labels[i])
        if isinstance(part, FileImages):
            img = decode_image(part.paths[i], 3)
        else:
            img = part.images[i]
        arr = img.permute(1, 2, 0).numpy().astype(np.uint8)
        pil = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
        if layout == "folders":
            path = _writable_dir(out / _safe(raw.classes[label])) / f"{i:0{width}d}.png"
        else:
            path = out / f"{i:02d}_{_safe(raw.classes[label])}.png"
        _write_atomic(path, lambda tmp, pil=pil: pil.save(tmp, format="PNG"))
        written.append(path)
    return written
