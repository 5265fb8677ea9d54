"""The 15 common corruptions of ImageNet-C / CIFAR-10-C (Hendrycks & Dietterich 2019, "Benchmarking Neural
Network Robustness to Common Corruptions and Perturbations", Sec. 3 and Fig. 1), at 5 severities each,
generated deterministically on the fly.

Noise: ``gaussian_noise``, ``shot_noise`` (Poisson), ``impulse_noise`` (salt and pepper). Blur:
``defocus_blur`` (disk kernel), ``glass_blur`` (blur, local pixel shuffling, blur), ``motion_blur`` (a line
kernel at a random angle), ``zoom_blur`` (the mean of zoomed copies). Weather: ``snow``, ``frost``, ``fog``
(plasma fractal), ``brightness``. Digital: ``contrast``, ``elastic_transform``, ``pixelate``,
``jpeg_compression``.

The constants follow the authors' CIFAR-10-C generator (32x32 images, the size of the images this zoo
trains on; ImageNet-C's are for 224x224). Spatial constants (blur radii, shuffling distance, snow motion,
elastic displacement) are given for a 32-pixel side and scaled up with the image's shorter side, so larger
photographs get the same relative corruption. Where the authors' code calls a
library this project does not ship (ImageMagick's motion blur through Wand, OpenCV), the operation is
written here with numpy/scipy/scikit-image to the same definition. PyPI's ``imagecorruptions`` (the
ImageNet-C functions packaged) was tried first: version 1.1.2 imports ``pkg_resources`` (gone from current
setuptools), refuses images under 32x32, and its ``fog`` and ``glass_blur`` fail on NumPy 2 and current
scikit-image; it also needs OpenCV. Deviations:

- ``frost``: the authors overlay crops of six frost photographs; those files are not shipped, so the frost
  layer is a procedural ice texture (bright randomly oriented crystal streaks over blurred noise) blended
  with the same weights;
- ``motion_blur`` and ``snow``'s streaks: a Gaussian-weighted line kernel (radius, sigma, angle) in place of
  ImageMagick's ``motion_blur``;
- ``glass_blur`` and ``elastic_transform``: the authors' constants mix a growing blur with a fixed amount of
  pixel shuffling (glass) and a shrinking affine jitter with a growing elastic field (elastic), so the image
  does not change more at every step; ours grow both parts with the severity (glass: blur sigma 0.05-0.4,
  1-3 shuffling passes over 1-2 pixels; elastic: affine jitter 2%-6% and displacement 0-8% of the side);
- images of 32 pixels or fewer get the 32-pixel constants unchanged (28x28 Fashion-MNIST included);
- greyscale images are corrupted as one channel (``brightness`` adds to the grey level, where the authors
  add to HSV value), so a greyscale set is not turned into a colour one.

:func:`corrupt` takes a uint8 ``[H, W, C]`` numpy image and a ``numpy.random.Generator``; the caller seeds
one generator per (seed, corruption, severity, image) so every corrupted image is reproducible alone.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np

CORRUPTIONS = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
SEVERITIES = (1, 2, 3, 4, 5)
CATEGORY = {
    **dict.fromkeys(("gaussian_noise", "shot_noise", "impulse_noise"), "noise"),
    **dict.fromkeys(("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"), "blur"),
    **dict.fromkeys(("snow", "frost", "fog", "brightness"), "weather"),
    **dict.fromkeys(("contrast", "elastic_transform", "pixelate", "jpeg_compression"), "digital"),
}

Image = np.ndarray  # float64 [H, W, C] in [0, 1]


# ------------------------------------------------------------------------------------------------ helpers
def _scale(x: Image) -> float:
    """Spatial constants are for a 32-pixel side: this image's factor (1 for 32 pixels and smaller, so a
    28-pixel image gets CIFAR-10-C's constants unchanged: scaled down, its disks would collapse to a
    pixel)."""
    return max(1.0, min(x.shape[0], x.shape[1]) / 32.0)


def _gaussian(x: Image, sigma: float) -> Image:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x, sigma=(sigma, sigma, 0), mode="nearest")


def _convolve(x: Image, kernel: np.ndarray) -> Image:
    from scipy.ndimage import convolve

    return np.stack([convolve(x[..., c], kernel, mode="nearest") for c in range(x.shape[2])], axis=2)


def _disk(radius: float, alias_blur: float) -> np.ndarray:
    """The authors' defocus kernel: a disk of ``radius`` pixels, anti-aliased by a small Gaussian."""
    from scipy.ndimage import gaussian_filter

    r = max(radius, 0.5)
    size = int(math.ceil(r)) if r > 8 else 3
    ax = np.arange(-size, size + 1)
    xx, yy = np.meshgrid(ax, ax)
    k = ((xx**2 + yy**2) <= r**2).astype(np.float64)
    k /= k.sum()
    k = gaussian_filter(k, alias_blur)
    return k / k.sum()


def _line_kernel(radius: float, sigma: float, angle: float) -> np.ndarray:
    """A motion-blur kernel: Gaussian weights (``sigma``) along a line of ``radius`` pixels from the centre,
    in the direction ``angle`` degrees (what ImageMagick's ``-motion-blur radius x sigma + angle`` draws)."""
    n = max(1, int(math.ceil(radius)))
    size = 2 * n + 1
    k = np.zeros((size, size))
    t = math.radians(angle)
    for i in range(n + 1):
        w = math.exp(-(i**2) / (2 * max(sigma, 1e-6) ** 2))
        x, y = n + i * math.cos(t), n - i * math.sin(t)
        x0, y0 = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - x0, y - y0
        for dx, dy, a in (
            (0, 0, (1 - fx) * (1 - fy)),
            (1, 0, fx * (1 - fy)),
            (0, 1, (1 - fx) * fy),
            (1, 1, fx * fy),
        ):
            if 0 <= y0 + dy < size and 0 <= x0 + dx < size:
                k[y0 + dy, x0 + dx] += w * a
    return k / k.sum()


def _clipped_zoom(x: Image, z: float) -> Image:
    """Zoom the centre of ``x`` by ``z`` and crop back to its size (the authors' ``clipped_zoom``)."""
    from scipy.ndimage import zoom

    h, w = x.shape[:2]
    ch, cw = int(math.ceil(h / z)), int(math.ceil(w / z))
    top, left = (h - ch) // 2, (w - cw) // 2
    out = zoom(x[top : top + ch, left : left + cw], (z, z, 1), order=1)
    th, tw = (out.shape[0] - h) // 2, (out.shape[1] - w) // 2
    return out[th : th + h, tw : tw + w]


def _plasma(size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """The authors' diamond-square plasma fractal (fog) on a ``size`` x ``size`` grid (a power of two):
    each pass fills square centres, then diamond centres, with the mean of their 4 neighbours plus noise
    of amplitude ``wibble**2``, ``wibble`` divided by ``decay`` each pass; normalised to [0, 1]."""
    a = np.zeros((size, size))
    step, wibble = size, 100.0

    def wibbled(total: np.ndarray) -> np.ndarray:
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = a[0:size:step, 0:size:step]
        sq = corners + np.roll(corners, -1, axis=0)
        sq = sq + np.roll(sq, -1, axis=1)
        a[half:size:step, half:size:step] = wibbled(sq)
        centres = a[half:size:step, half:size:step]
        corners = a[0:size:step, 0:size:step]
        a[0:size:step, half:size:step] = wibbled(
            centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        )
        a[half:size:step, 0:size:step] = wibbled(
            centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        )
        step = half
        wibble /= decay
    a -= a.min()
    return a / max(a.max(), 1e-12)


def _grey(x: Image) -> Image:
    if x.shape[2] == 1:
        return x
    return (x @ np.array([0.299, 0.587, 0.114]))[..., None]


# ------------------------------------------------------------------------------------------------ the 15
def gaussian_noise(x: Image, s: int, rng: np.random.Generator) -> Image:
    c = (0.04, 0.06, 0.08, 0.09, 0.10)[s - 1]
    return x + rng.normal(0, c, x.shape)


def shot_noise(x: Image, s: int, rng: np.random.Generator) -> Image:
    c = (500, 250, 100, 75, 50)[s - 1]
    return rng.poisson(x * c) / c


def impulse_noise(x: Image, s: int, rng: np.random.Generator) -> Image:
    amount = (0.01, 0.02, 0.03, 0.05, 0.07)[s - 1]
    out = x.copy()
    u = rng.random(x.shape)
    out[u < amount / 2] = 0.0
    out[(u >= amount / 2) & (u < amount)] = 1.0
    return out


def defocus_blur(x: Image, s: int, rng: np.random.Generator) -> Image:
    r, alias = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))[s - 1]
    return _convolve(x, _disk(r * _scale(x), alias))


def glass_blur(x: Image, s: int, rng: np.random.Generator) -> Image:
    sigma, delta, iters = ((0.05, 1, 1), (0.1, 1, 2), (0.2, 1, 3), (0.3, 2, 2), (0.4, 2, 3))[s - 1]
    k = _scale(x)
    d = max(1, round(delta * k))
    x = _gaussian(x, sigma * k)
    h, w = x.shape[:2]
    for _ in range(iters):
        for i in range(h - d, d, -1):
            for j in range(w - d, d, -1):
                dy, dx = rng.integers(-d, d, size=2, endpoint=False)
                i2, j2 = i + dy, j + dx
                x[i, j], x[i2, j2] = x[i2, j2].copy(), x[i, j].copy()
    return _gaussian(x, sigma * k)


def motion_blur(x: Image, s: int, rng: np.random.Generator) -> Image:
    radius, sigma = ((10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3))[s - 1]
    k = _scale(x)
    return _convolve(x, _line_kernel(radius * k, sigma * k, rng.uniform(-45, 45)))


def zoom_blur(x: Image, s: int, rng: np.random.Generator) -> Image:
    top = (1.06, 1.11, 1.16, 1.21, 1.26)[s - 1]
    zooms = np.arange(1, top, 0.01)
    out = np.zeros_like(x)
    for z in zooms:
        out += _clipped_zoom(x, float(z))
    return (x + out) / (len(zooms) + 1)


def snow(x: Image, s: int, rng: np.random.Generator) -> Image:
    loc, scale, zoom_f, thr, radius, sigma, blend = (
        (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
        (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
    )[s - 1]
    k = _scale(x)
    h, w = x.shape[:2]
    layer = rng.normal(loc, scale, (h, w, 1))
    layer = _clipped_zoom(layer, zoom_f)
    layer[layer < thr] = 0
    layer = np.clip(_convolve(layer, _line_kernel(radius * k, sigma * k, rng.uniform(-135, -45))), 0, 1)
    x = blend * x + (1 - blend) * np.maximum(x, _grey(x) * 1.5 + 0.5)
    return x + layer + np.rot90(layer, 2)


def frost(x: Image, s: int, rng: np.random.Generator) -> Image:
    a, b = ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))[s - 1]
    h, w = x.shape[:2]
    k = _scale(x)
    ice = _gaussian(rng.random((h, w, 1)), 1.5 * k) * 0.6
    for _ in range(int(6 * k * k) + 4):  # crystal streaks
        kern = _line_kernel(rng.uniform(3, 8) * k, 3 * k, rng.uniform(0, 180))
        seed = np.zeros((h, w, 1))
        seed[rng.integers(0, h), rng.integers(0, w), 0] = rng.uniform(4, 10)
        ice += _convolve(seed, kern)
    ice = np.clip(ice / max(ice.max(), 1e-12), 0, 1)
    return a * x + b * ice


def fog(x: Image, s: int, rng: np.random.Generator) -> Image:
    strength, decay = ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))[s - 1]
    h, w = x.shape[:2]
    size = 1 << max(5, int(math.ceil(math.log2(max(h, w)))))
    m = x.max()
    x = x + strength * _plasma(size, decay, rng)[:h, :w, None]
    return x * m / (m + strength)


def brightness(x: Image, s: int, rng: np.random.Generator) -> Image:
    c = (0.05, 0.1, 0.15, 0.2, 0.3)[s - 1]
    if x.shape[2] == 1:
        return x + c
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(np.clip(x, 0, 1))
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return hsv2rgb(hsv)


def contrast(x: Image, s: int, rng: np.random.Generator) -> Image:
    c = (0.75, 0.5, 0.4, 0.3, 0.15)[s - 1]
    mean = x.mean(axis=(0, 1), keepdims=True)
    return (x - mean) * c + mean


def elastic_transform(x: Image, s: int, rng: np.random.Generator) -> Image:
    """An affine jitter then a smoothed random displacement field (Simard et al. 2003), the authors' two
    steps; (alpha, sigma, affine) in units of the side."""
    from scipy.ndimage import gaussian_filter, map_coordinates

    alpha, sigma, aff = (
        (0.0, 0.0, 0.02),
        (0.02, 0.1, 0.03),
        (0.04, 0.08, 0.04),
        (0.06, 0.06, 0.05),
        (0.08, 0.05, 0.06),
    )[s - 1]
    h, w = x.shape[:2]
    side = min(h, w)
    # affine: move three points by up to aff * side and map the plane accordingly
    src = np.array([[side / 2, side / 2], [side / 2 + side / 3, side / 2], [side / 2, side / 2 + side / 3]])
    dst = src + rng.uniform(-aff * side, aff * side, src.shape)
    a_mat = np.linalg.solve(np.c_[dst, np.ones(3)], np.c_[src, np.ones(3)]).T  # dst -> src (inverse map)
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    sx = a_mat[0, 0] * xx + a_mat[0, 1] * yy + a_mat[0, 2]
    sy = a_mat[1, 0] * xx + a_mat[1, 1] * yy + a_mat[1, 2]
    if alpha > 0:
        dx = gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma * side, mode="reflect") * alpha * side
        dy = gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma * side, mode="reflect") * alpha * side
        # the smoothed field is tiny after filtering: rescale it to the stated amplitude
        for f in (dx, dy):
            peak = np.abs(f).max()
            if peak > 0:
                f *= alpha * side / peak
        sx, sy = sx + dx, sy + dy
    out = np.stack(
        [map_coordinates(x[..., c], [sy, sx], order=1, mode="reflect") for c in range(x.shape[2])], axis=2
    )
    return out


def pixelate(x: Image, s: int, rng: np.random.Generator) -> Image:
    from PIL import Image as PILImage

    c = (0.95, 0.9, 0.85, 0.75, 0.65)[s - 1]
    h, w = x.shape[:2]
    img = _to_pil(x)
    small = img.resize((max(1, int(w * c)), max(1, int(h * c))), PILImage.BOX)
    return _from_pil(small.resize((w, h), PILImage.BOX), x.shape[2])


def jpeg_compression(x: Image, s: int, rng: np.random.Generator) -> Image:
    from PIL import Image as PILImage

    q = (80, 65, 58, 50, 40)[s - 1]
    buf = io.BytesIO()
    _to_pil(x).save(buf, "JPEG", quality=q)
    buf.seek(0)
    with PILImage.open(buf) as im:
        return _from_pil(im, x.shape[2])


def _to_pil(x: Image):  # -> PIL.Image.Image
    from PIL import Image as PILImage

    u8 = np.clip(np.round(x * 255), 0, 255).astype(np.uint8)
    return PILImage.fromarray(u8[..., 0] if u8.shape[2] == 1 else u8)


def _from_pil(img, channels: int) -> Image:  # img: PIL.Image.Image
    a = np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.float64) / 255.0
    return a[..., None] if a.ndim == 2 else a


FUNCTIONS: dict[str, Callable[[Image, int, np.random.Generator], Image]] = {
    name: globals()[name] for name in CORRUPTIONS
}


def corrupt(image: np.ndarray, name: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    """``image`` (uint8 ``[H, W, C]``, C 1 or 3) under corruption ``name`` at ``severity`` 1-5, as uint8."""
    from ..errors import OptionError

    if name not in FUNCTIONS:
        raise OptionError(f"unknown corruption {name!r}; use one of: {', '.join(CORRUPTIONS)}.", "corruption")
    if severity not in SEVERITIES:
        raise OptionError(f"severity must be 1 to 5, got {severity!r}.", "severity")
    x = image.astype(np.float64) / 255.0
    out = FUNCTIONS[name](x, int(severity), rng)
    return np.clip(np.round(np.asarray(out) * 255.0), 0, 255).astype(np.uint8)


def generator_for(seed: int, name: str, severity: int, index: int) -> np.random.Generator:
    """The random generator of one corrupted image: a function of (seed, corruption, severity, image index)
    alone, so any image is reproduced without the others."""
    return np.random.default_rng([int(seed), CORRUPTIONS.index(name), int(severity), int(index)])
