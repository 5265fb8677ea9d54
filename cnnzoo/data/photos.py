"""Real photographs that installed Python packages ship, for checks of ImageNet-trained networks offline.

- foolbox's samples (PyPI ``foolbox``, MIT): 20 labelled ImageNet validation-style photos
  (``foolbox/data/imagenet_NN_LABEL.jpg``, mostly 512x512, LABEL the ImageNet-1k class index), and 20 each
  of CIFAR-10, CIFAR-100, MNIST and Fashion-MNIST. The files are located through :mod:`importlib` and read;
  foolbox itself is never imported.
- the photos scikit-image, scikit-learn and matplotlib bundle (``chelsea``: a tabby cat, ``coffee``: a cup
  of coffee, a palace, a flower, portraits, a rocket...), read from the files inside the installed packages
  (nothing is downloaded).
ImageNet-1k's 1000 class names are :func:`cnnzoo.record.imagenet_classes` (the one list).

Every loader raises :class:`~cnnzoo.errors.DataError` naming the pip package when it is not installed.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import torch

from ..errors import DataError
from ..options import Interpolation

FOOLBOX_DATASETS = ("imagenet", "cifar10", "cifar100", "mnist", "fashionMNIST")
# Real photos that installed packages ship: name -> (import name, pip name, file inside the package).
PACKAGE_PHOTOS: dict[str, tuple[str, str, str]] = {
    "chelsea": ("skimage", "scikit-image", "data/chelsea.png"),  # a tabby cat, 451x300
    "coffee": ("skimage", "scikit-image", "data/coffee.png"),  # a cup of coffee
    "astronaut": ("skimage", "scikit-image", "data/astronaut.png"),  # a portrait (Eileen Collins)
    "rocket": ("skimage", "scikit-image", "data/rocket.jpg"),  # a rocket on its launch pad
    "motorcycle": ("skimage", "scikit-image", "data/motorcycle_left.png"),  # a motorcycle (stereo pair)
    "china": ("sklearn", "scikit-learn", "datasets/images/china.jpg"),  # a palace
    "flower": ("sklearn", "scikit-learn", "datasets/images/flower.jpg"),  # a flower
    "grace_hopper": ("matplotlib", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),  # a portrait
}
INTERPOLATIONS = Interpolation.values()


def _package_dir(module: str, pip_name: str, what: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"{what} ship in the Python package {pip_name!r}, which is not installed; "
            f"run `pip install {pip_name}`."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def foolbox_data_dir() -> Path:
    """The ``data`` folder of the installed foolbox package (found without importing foolbox)."""
    d = _package_dir("foolbox", "foolbox", "the labelled sample photos") / "data"
    if not d.is_dir():
        raise DataError(
            f"the foolbox package has no data folder {str(d)!r}; reinstall it with "
            "`pip install --force-reinstall foolbox`."
        )
    return d


def foolbox_samples(dataset: str = "imagenet") -> list[tuple[Path, int]]:
    """foolbox's 20 labelled samples of ``dataset`` (one of :data:`FOOLBOX_DATASETS`) as ``(path, label)``
    in file order; the label is the last number of the file name."""
    if dataset not in FOOLBOX_DATASETS:
        raise DataError(
            f"foolbox ships no {dataset!r} samples; choose one of: {', '.join(FOOLBOX_DATASETS)}."
        )
    pattern = re.compile(rf"^{re.escape(dataset)}_(\d+)_(\d+)\.(?:jpg|png)$")
    found = []
    for p in foolbox_data_dir().iterdir():
        m = pattern.match(p.name)
        if m:
            found.append((int(m.group(1)), p, int(m.group(2))))
    if not found:
        raise DataError(
            f"the installed foolbox has no {dataset!r} samples; reinstall it with "
            "`pip install --force-reinstall foolbox`."
        )
    return [(p, label) for _, p, label in sorted(found)]


def read_photo(path: str | Path) -> torch.Tensor:
    """An image file as an RGB uint8 tensor ``(3, H, W)``, through the one picture door
    (:func:`cnnzoo.data.images.decode_image`: EXIF orientation, 16-bit scaling, the pixel guard)."""
    from .images import decode_image

    return decode_image(path, 3)


def package_photo(name: str = "chelsea") -> torch.Tensor:
    """One of the real photos installed packages ship (:data:`PACKAGE_PHOTOS`; ``chelsea`` is a tabby cat)
    as an RGB uint8 tensor ``(3, H, W)``, read from the package's file (nothing is downloaded)."""
    if name not in PACKAGE_PHOTOS:
        raise DataError(f"unknown photo {name!r}; choose one of: {', '.join(PACKAGE_PHOTOS)}.")
    module, pip_name, rel = PACKAGE_PHOTOS[name]
    path = _package_dir(module, pip_name, f"the photo {name!r}") / rel
    if not path.is_file():
        raise DataError(
            f"the installed {pip_name} has no photo {rel!r}; reinstall it with "
            f"`pip install --force-reinstall {pip_name}`."
        )
    return read_photo(path)


def resize_crop(
    img: torch.Tensor,
    resize: int | list[int] | None = 256,
    crop: int | None = 224,
    interpolation: str = "bicubic",
) -> torch.Tensor:
    """ImageNet's evaluation view of a uint8 ``(3, H, W)`` image: the shorter side resized to ``resize``
    (``[H, W]``: to exactly that size; ``None``: unchanged), then the central ``crop`` x ``crop`` square
    (``None``: no crop); uint8 out."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    Interpolation.parse(interpolation, DataError)
    if resize is not None:
        img = tvf.resize(img, resize, interpolation=InterpolationMode(interpolation), antialias=True)
    if crop is not None:
        img = tvf.center_crop(img, crop)
    return img


def normalise(img: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 images ``(..., 3, H, W)`` as floats ``(x / 255 - mean) / std`` per channel."""
    m = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
    return (img.float() / 255.0 - m) / s


def imagenet_photos(
    resize: int | None = 256, crop: int | None = 224, interpolation: str = "bicubic"
) -> tuple[torch.Tensor, torch.Tensor, list[Path]]:
    """foolbox's 20 ImageNet photos in their evaluation view: uint8 images ``(20, 3, crop, crop)``, the labels
    ``(20,)`` and the file paths."""
    samples = foolbox_samples("imagenet")
    imgs = torch.stack([resize_crop(read_photo(p), resize, crop, interpolation) for p, _ in samples])
    labels = torch.tensor([label for _, label in samples], dtype=torch.long)
    return imgs, labels, [p for p, _ in samples]


def calibration_photos(
    size: int = 224, names: tuple[str, ...] | None = None, interpolation: str = "bicubic"
) -> torch.Tensor:
    """Real photos for INT8 calibration, disjoint from foolbox's test photos: each of the installed
    :data:`PACKAGE_PHOTOS` (or ``names``) in three views -- the central square, the whole photo squeezed to a
    square, and the mirrored central square -- as uint8 ``(N, 3, size, size)``. Photos whose package is
    absent are left out; none at all is an error."""
    views = []
    for name in names or tuple(PACKAGE_PHOTOS):
        try:
            img = package_photo(name)
        except DataError:
            if names:
                raise
            continue
        crop = resize_crop(img, size, size, interpolation)
        views += [crop, resize_crop(img, [size, size], None, interpolation), crop.flip(-1)]
    if not views:
        raise DataError("no calibration photo is installed; run `pip install scikit-image scikit-learn`.")
    return torch.stack(views)
