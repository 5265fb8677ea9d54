"""The papers' augmentations and test-time views, on uint8 ``[C, H, W]`` tensors (torchvision.transforms.v2
where it has the operation; only what it lacks is written here), and on whole uint8 ``[N, C, H, W]`` batches
for in-memory data where the augmentation allows it (:func:`batch_transform`: ``none``, ``distort``,
``shift``, ``cifar`` and ``crop-flip``, one sampling grid or one gather per batch with per-image parameters;
torchvision is then not imported at all).

Training (``augment=``):

- ``none``: fit to the input size, normalise.
- ``shift``: random translation by up to 1/16 of the side (zero padding + random crop), no flip: digits
  are not mirror-symmetric (LeCun et al. 1998, Sec. III-A used distortions for the same purpose).
- ``distort``: LeCun et al. 1998's random planar affine distortions (Sec. III-C, "Results"): horizontal and
  vertical translations, scaling, squeezing (horizontal compression with vertical elongation, or the
  reverse) and horizontal shearing, drawn afresh for every image (:class:`AffineDistortion`); no flip.
- ``cifar``: 4-pixel zero padding, random 32x32 crop, horizontal flip (He et al. 2016, Sec. 4.2); the flip
  only where the data are photographs (not for digits or clothes).
- ``crop-flip``: ``cifar`` with the flip for every data set: mirrored clothes are still the same garment, so
  Fashion-MNIST gains from it (the ``fast`` recipe's augmentation).
- ``alexnet``: shorter side to 256, central 256x256, random 224 (or 227) crops + horizontal flips and PCA
  colour lighting with sigma 0.1 from the training data's RGB eigenvectors (Krizhevsky et al. 2012, Sec.
  4.1).
- ``vgg``: scale jittering, shorter side S drawn from [256, 512], random 224 crop, flip, RGB colour shift
  (Simonyan & Zisserman 2015, Sec. 3.1).
- ``inception``: random-resized crops of 8%-100% of the area, aspect ratio in [3/4, 4/3], flip (Szegedy et
  al. 2015, Sec. 6).
- ``caffe``: shorter side to 256, random 224 crop, flip: Caffe's ImageNet data layer (ZFNet Sec. 3's
  sub-crops, SqueezeNet's released solver), without AlexNet's colour lighting.
- ``resnet``: scale augmentation, shorter side S drawn from [256, 480], random 224 crop, flip, AlexNet's
  colour lighting (He et al. 2016, Sec. 3.4).
- ``fbresnet``: fb.resnet.torch's ImageNet augmentation (ResNeXt Sec. 4, DenseNet Sec. 4.1, WRN): Inception
  random-resized crops, colour jitter (brightness, contrast, saturation 0.4), PCA lighting 0.1, flip.
- ``cifar_reflect``: 4-pixel *reflection* padding, random crop, flip (Zagoruyko & Komodakis 2016, Sec. 3).
- ``autoaugment``: Inception crops and flips, then torchvision's AutoAugment ImageNet policy (Cubuk et al.
  2019; EfficientNet Sec. 5.2).

Regularising augmentations added on top of any of these (:func:`add_regularising_augment`): RandAugment
(Cubuk et al. 2020; torchvision's ``RandAugment``, on the uint8 image before everything else) and random
erasing (Zhong et al. 2020: with probability p a rectangle of 2%-40% of the area, aspect ratio 0.3-3.3, is
filled with random normal values, on the normalised image).

Sizes written for 224-pixel inputs scale with the model's input size. Test time (:class:`TestViews`): the
centre view, the 10 crops (4 corners + centre of the 256x256 image, and their mirrors; AlexNet Sec. 4.1)
or GoogLeNet's 144 crops (shorter side 256/288/320/352, left/centre/right squares, 4 corners + centre +
the whole square resized, and mirrors; Szegedy et al. 2015, Sec. 7); ``scales`` gives VGG's multi-scale
testing (Sec. 3.2: the views are taken at each test scale Q and their class posteriors averaged).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError
from ..options import Augment
from .images import fit_to


def _v2() -> Any:
    """torchvision.transforms.v2, imported on first use (it pulls in torch._dynamo: seconds at start-up)."""
    from torchvision.transforms import v2

    return v2


def _tf() -> Any:
    from torchvision.transforms.v2 import functional as TF

    return TF


AUGMENTS = Augment.values()
CROPS = (1, 10, 144)
GOOGLENET_SCALES = (256, 288, 320, 352)


def _scaled(pixels: int, size: int) -> int:
    """A length the papers give for 224-pixel crops, scaled to a ``size``-pixel input."""
    return max(size, round(pixels * size / 224))


class FitTo(nn.Module):
    """Bring an image to ``size``: identity when it fits, zero-padding (centred) when it is at most 8 pixels
    smaller per side (LeCun et al. 1998, Sec. III-A: the 28x28 MNIST digits centred in a 32x32 field),
    else an antialiased resize."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = tuple(size)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return fit_to(img, self.size)  # the one picture door's fit, as predict and explain take it


@functools.lru_cache(maxsize=16)
def _pixel_centres(h: int, w: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The x (``[1, 1, w]``) and y (``[1, h, 1]``) of the pixel centres in normalised ``[-1, 1]`` coordinates,
    as ``F.grid_sample(align_corners=False)`` reads them: ``(2i + 1) / n - 1``."""
    xs = (torch.arange(w, dtype=torch.float64) * 2 + 1) / w - 1
    ys = (torch.arange(h, dtype=torch.float64) * 2 + 1) / h - 1
    return xs.to(dtype).view(1, 1, w), ys.to(dtype).view(1, h, 1)


class AffineDistortion(nn.Module):
    """LeCun et al. 1998's distortions (Sec. III-C: the 0.95% -> 0.8% LeNet-5 result): a random planar affine
    map made of a translation by up to ``translate`` of the side in x and y, a scaling by ``s`` in
    ``scale``, a squeeze ``q`` in ``squeeze`` (x scaled by ``s * q``, y by ``s / q``) and a horizontal shear
    ``x += shear * y``, each drawn uniformly per image from the torch RNG (so a seeded run repeats and
    resumes exactly). The paper gives the kinds of transformation, not their ranges: the defaults (2 pixels
    of 32, +-10% scale, +-10% squeeze, shear +-0.2) are ours. Works on float ``[C, H, W]`` images whose
    background is 0 (bilinear resampling, zeros outside)."""

    def __init__(
        self,
        translate: float = 2 / 32,
        scale: tuple[float, float] = (0.9, 1.1),
        squeeze: tuple[float, float] = (0.9, 1.1),
        shear: float = 0.2,
    ) -> None:
        super().__init__()
        self.translate, self.scale, self.squeeze, self.shear = translate, tuple(scale), tuple(squeeze), shear

    @staticmethod
    def _uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand(()))

    def matrix(self) -> torch.Tensor:
        """One random forward map ``[[sx, shear, tx], [0, sy, ty]]`` in normalised ``[-1, 1]`` coordinates."""
        s, q = self._uniform(*self.scale), self._uniform(*self.squeeze)
        h = self._uniform(-self.shear, self.shear)
        tx, ty = (self._uniform(-2 * self.translate, 2 * self.translate) for _ in range(2))
        return torch.tensor([[s * q, h, tx], [0.0, s / q, ty]])

    def matrices(self, n: int) -> torch.Tensor:
        """``n`` random forward maps ``[n, 2, 3]`` drawn from the same ranges as :meth:`matrix`, in one
        draw of the torch RNG (``[n, 5]`` uniforms: scale, squeeze, shear, tx, ty)."""
        u = torch.rand(n, 5, dtype=torch.float64)
        s = self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 0]
        q = self.squeeze[0] + (self.squeeze[1] - self.squeeze[0]) * u[:, 1]
        h = self.shear * (2 * u[:, 2] - 1)
        tx, ty = (2 * self.translate * (2 * u[:, i] - 1) for i in (3, 4))
        zero = torch.zeros_like(s)
        return torch.stack([s * q, h, tx, zero, s / q, ty], 1).view(n, 2, 3).float()

    @staticmethod
    def apply(img: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
        """Move the content of ``img`` (``[C, H, W]``, or ``[N, C, H, W]`` with ``matrix`` ``[N, 2, 3]``) by
        the forward map(s) ``matrix`` (2x3, normalised coordinates): one sampling grid for the whole batch."""
        single = img.ndim == 3
        imgs, mats = (img.unsqueeze(0), matrix.unsqueeze(0)) if single else (img, matrix)
        # affine_grid maps output to input coordinates: the inverse of [[a, b, tx], [0, d, ty]]
        m = mats.double()
        a, b, tx, d, ty = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2], m[:, 1, 1], m[:, 1, 2]
        inv_a, inv_d = 1 / a, 1 / d
        inv_b = -b * inv_a * inv_d
        theta = torch.stack(
            [inv_a, inv_b, -(inv_a * tx + inv_b * ty), torch.zeros_like(a), inv_d, -inv_d * ty], 1
        ).view(-1, 2, 3)
        if bool((m[:, 1, 0] != 0).any()):  # a general affine map: invert it in full
            fwd = torch.cat([m, m.new_tensor([0.0, 0.0, 1.0]).expand(len(m), 1, 3)], 1)
            theta = torch.linalg.inv(fwd)[:, :2]
        # the sampling grid of ``F.affine_grid(theta, align_corners=False)``, by broadcasting: its batched
        # matrix product of a (h*w, 3) grid took 170 us of the 250 us per batch of 16 at 32x32 on CPU
        t = theta.to(imgs.dtype).view(-1, 6, 1, 1)
        xs, ys = _pixel_centres(imgs.shape[-2], imgs.shape[-1], imgs.dtype)
        grid = torch.stack(
            [t[:, 0] * xs + (t[:, 1] * ys + t[:, 2]), t[:, 3] * xs + (t[:, 4] * ys + t[:, 5])], -1
        )
        out = F.grid_sample(imgs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return out.squeeze(0) if single else out

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.ndim == 4:
            return self.apply(img, self.matrices(len(img)))
        return self.apply(img, self.matrix())

    def extra_repr(self) -> str:
        return f"translate={self.translate}, scale={self.scale}, squeeze={self.squeeze}, shear={self.shear}"


class PCALighting(nn.Module):
    """AlexNet's colour augmentation (Krizhevsky et al. 2012, Sec. 4.1): to every RGB pixel add ``[p1, p2,
    p3] @ [a1*l1, a2*l2, a3*l3]`` with ``p_i``, ``l_i`` the eigenvectors/values of the training set's RGB
    covariance and ``a_i ~ N(0, sigma)`` drawn once per image. Works on float images in [0, 1]."""

    def __init__(self, eigval: torch.Tensor, eigvec: torch.Tensor, sigma: float = 0.1) -> None:
        super().__init__()
        self.register_buffer("eigval", eigval.float())
        self.register_buffer("eigvec", eigvec.float())
        self.sigma = sigma

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if self.sigma == 0:
            return img
        alpha = torch.randn(3) * self.sigma
        shift = self.eigvec @ (alpha * self.eigval)
        return img + shift.view(3, 1, 1).to(img.dtype)


def pca_lighting_basis(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and eigenvectors (columns) of the RGB covariance of float ``[N, 3, H, W]`` images in [0,
    1].
    """
    pix = images.permute(1, 0, 2, 3).reshape(3, -1).double()
    cov = torch.cov(pix)
    eigval, eigvec = torch.linalg.eigh(cov)
    return eigval.clamp_min(0).float(), eigvec.float()


class ToFloatNormalize(nn.Module):
    """uint8 images (``[..., C, H, W]``, any batch dimensions) to float in [0, 1], then ``(x - mean) / std``
    per channel: what ``v2.ToDtype(float32, scale=True)`` + ``v2.Normalize`` do, without torchvision."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(v) for v in std)
        self._m = torch.tensor(self.mean).view(-1, 1, 1)
        self._s = torch.tensor(self.std).view(-1, 1, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = img.to(torch.float32)
        if not img.is_floating_point():
            x = x.mul_(1.0 / 255.0)
        return (x - self._m.to(x.device)) / self._s.to(x.device)

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


class Normalize(ToFloatNormalize):
    """``(x - mean) / std`` per channel of float images (no rescaling)."""


class Compose(nn.Sequential):
    """The transforms in order (``nn.Sequential`` with torchvision's ``.transforms`` list), for the
    augmentations written here without torchvision."""

    @property
    def transforms(self) -> list[nn.Module]:
        return list(self)


class BatchTransform:
    """A transform of whole uint8 ``[N, C, H, W]`` batches of in-memory images (same result per image as the
    per-image transform of the same name, random parameters drawn per image in one call of the torch RNG):
    fit to the size, the optional uint8 ``crop`` module, to float, the optional ``augment`` module,
    normalise."""

    def __init__(
        self,
        size: tuple[int, int],
        mean: Sequence[float],
        std: Sequence[float],
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        crop: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.fit, self.augment, self.norm = FitTo(size), augment, ToFloatNormalize(mean, std)
        self.crop = crop

    def __call__(self, imgs: torch.Tensor) -> torch.Tensor:
        x = self.fit(imgs)
        if self.crop is not None:  # on the uint8 pixels, before they become 4x larger floats
            x = self.crop(x)
        if self.augment is not None:
            x = self.augment(x.to(torch.float32).mul_(1.0 / 255.0))
        return self.norm(x)


class RandomCropFlip(nn.Module):
    """Random crops of whole uint8 batches ``[N, C, H, W]``: each image zero-padded by ``padding`` pixels and
    cropped back to ``H x W`` at a random offset, and mirrored left-right with probability 1/2 when ``flip``
    (He et al. 2016, Sec. 4.2, per image). The offsets and flips of a batch are one draw of the torch RNG and
    the crops one gather, so a batch of 512 costs about as much as one image through torchvision."""

    def __init__(self, padding: int, flip: bool) -> None:
        super().__init__()
        self.padding, self.flip = int(padding), bool(flip)

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        n, _, h, w = imgs.shape
        p = self.padding
        padded = F.pad(imgs, (p, p, p, p))
        draws = torch.randint(0, 2 * p + 1, (n, 2))
        rows = draws[:, :1] + torch.arange(h)  # [n, h]
        cols = draws[:, 1:] + torch.arange(w)  # [n, w]
        if self.flip:
            mirror = torch.rand(n, 1) < 0.5
            cols = torch.where(mirror, cols.flip(1), cols)
        # one gather: flat offsets of each output pixel into its padded image
        width = w + 2 * p
        flat = (rows.unsqueeze(2) * width + cols.unsqueeze(1)).view(n, 1, h * w)
        src = padded.reshape(n, padded.shape[1], -1)
        return src.gather(2, flat.expand(-1, src.shape[1], -1)).view(n, -1, h, w)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, flip={self.flip}"


def crop_padding(augment: str, size: tuple[int, int]) -> int:
    """The zero padding of the random crops of ``shift`` (1/16 of the side) and ``cifar``/``crop-flip`` (4 of
    32 pixels, scaled to the input size)."""
    s = size[0]
    return max(1, s // 16) if augment == "shift" else max(1, round(4 * s / 32))


#: The training augmentations that :func:`batch_transform` applies to whole batches.
BATCH_AUGMENTS = ("none", "distort", "shift", "cifar", "crop-flip")


def batch_transform(
    augment: str, size: tuple[int, int], mean: Sequence[float], std: Sequence[float], flip: bool = False
) -> BatchTransform | None:
    """The training transform ``augment`` for whole in-memory batches, or None where it only exists per
    image (rescaling crops and colour need per-image sizes; they stay on the DataLoader path). ``"eval"``
    gives the centre view of :class:`TestViews` (``crops=1``); ``flip`` (photographs) adds ``cifar``'s
    mirrors, as :func:`train_transform` does."""
    if augment in ("none", "eval"):
        return BatchTransform(tuple(size), mean, std)
    if augment == "distort":
        return BatchTransform(tuple(size), mean, std, AffineDistortion())
    if augment in ("shift", "cifar", "crop-flip"):
        mirror = augment == "crop-flip" or (augment == "cifar" and flip)
        crop = RandomCropFlip(crop_padding(augment, size), mirror)
        return BatchTransform(tuple(size), mean, std, crop=crop)
    return None


def _to_float(mean: Sequence[float], std: Sequence[float]) -> list[nn.Module]:
    v2 = _v2()
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]


def train_transform(
    augment: str,
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    flip: bool = True,
    pca: tuple[torch.Tensor, torch.Tensor] | None = None,
    in_memory: bool = True,
    pca_sigma: float = 0.1,
) -> nn.Module:
    """The training transform named ``augment`` (see the module docstring), uint8 ``[C,H,W]`` -> float."""
    Augment.parse(augment, DataError)
    if augment == "none":
        return Compose(FitTo(size), ToFloatNormalize(mean, std))
    if augment == "distort":
        return Compose(
            FitTo(size), ToFloatNormalize((0.0,), (1.0,)), AffineDistortion(), Normalize(mean, std)
        )
    v2 = _v2()
    s = size[0]
    flips: list[nn.Module] = [v2.RandomHorizontalFlip()] if flip else []
    lighting: list[nn.Module] = [PCALighting(*pca, sigma=pca_sigma)] if pca is not None else []
    ops: list[nn.Module]
    if augment == "shift":
        ops = [FitTo(size), v2.RandomCrop(list(size), padding=crop_padding(augment, size))]
    elif augment in ("cifar", "crop-flip"):
        mirror = [v2.RandomHorizontalFlip()] if augment == "crop-flip" else flips
        ops = [FitTo(size), v2.RandomCrop(list(size), padding=crop_padding(augment, size)), *mirror]
    elif augment == "cifar_reflect":
        pad = crop_padding(augment, size)
        ops = [FitTo(size), v2.RandomCrop(list(size), padding=pad, padding_mode="reflect"), *flips]
    elif augment == "caffe":
        canvas = _scaled(256, s)
        ops = [v2.Resize(canvas, antialias=True), v2.CenterCrop(canvas), v2.RandomCrop(list(size)), *flips]
    elif augment in ("resnet", "fbresnet"):
        if augment == "resnet":
            sizes = list(range(_scaled(256, s), _scaled(480, s) + 1))
            ops = [v2.RandomShortestSize(sizes, antialias=True), v2.RandomCrop(list(size)), *flips]
        else:
            crop = v2.RandomResizedCrop(list(size), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), antialias=True)
            ops = [crop, v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4), *flips]
        return v2.Compose(
            [*ops, v2.ToDtype(torch.float32, scale=True), *lighting, v2.Normalize(list(mean), list(std))]
        )
    elif augment == "autoaugment":
        crop = v2.RandomResizedCrop(list(size), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), antialias=True)
        ops = [crop, *flips, v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET)]
    elif augment == "alexnet":
        canvas = _scaled(256, s)
        ops = [v2.Resize(canvas, antialias=True), v2.CenterCrop(canvas), v2.RandomCrop(list(size)), *flips]
        return v2.Compose(
            [*ops, v2.ToDtype(torch.float32, scale=True), *lighting, v2.Normalize(list(mean), list(std))]
        )
    elif augment == "vgg":
        sizes = list(range(_scaled(256, s), _scaled(512, s) + 1))
        ops = [v2.RandomShortestSize(sizes, antialias=True), v2.RandomCrop(list(size)), *flips]
        return v2.Compose(
            [*ops, v2.ToDtype(torch.float32, scale=True), *lighting, v2.Normalize(list(mean), list(std))]
        )
    else:  # inception
        ops = [
            v2.RandomResizedCrop(list(size), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
            *flips,
        ]
    return v2.Compose([*ops, *_to_float(mean, std)])


def center_view(img: torch.Tensor, size: int, canvas: int) -> torch.Tensor:
    """Shorter side to ``canvas``, then the central ``size`` crop: ``[C, size, size]``."""
    TF = _tf()
    img = TF.resize(img, [canvas], antialias=True) if min(img.shape[-2:]) != canvas else img
    return TF.center_crop(img, [size, size])


def ten_crop(img: torch.Tensor, size: int, canvas: int) -> torch.Tensor:
    """AlexNet's 10 views (Sec. 4.1): the ``canvas`` x ``canvas`` centre of the image (shorter side ->
    canvas), its four ``size`` corner patches and centre patch, and the five of the mirrored image (=
    their reflections): ``[10, C, size, size]``."""
    TF = _tf()
    img = TF.resize(img, [canvas], antialias=True) if min(img.shape[-2:]) != canvas else img
    img = TF.center_crop(img, [canvas, canvas])
    return torch.stack(TF.ten_crop(img, [size, size]))


def googlenet_144(img: torch.Tensor, size: int) -> torch.Tensor:
    """GoogLeNet's 144 views (Szegedy et al. 2015, Sec. 7): 4 scales x 3 squares x 6 crops x 2 mirrors.

    Shorter side to 256, 288, 320, 352 (scaled to the input size); the left, centre and right (top,
    centre, bottom for portraits) squares; in each square the 4 corner and the centre ``size`` crops plus
    the square resized to ``size``; and the mirror of each. Returns ``[144, C, size, size]``.
    """
    TF = _tf()
    views = []
    for q in GOOGLENET_SCALES:
        side = _scaled(q, size)
        im = TF.resize(img, [side], antialias=True)
        h, w = im.shape[-2:]
        long_len, portrait = (h, True) if h > w else (w, False)
        for start in (0, (long_len - side) // 2, long_len - side):
            sq = im[..., start : start + side, :] if portrait else im[..., :, start : start + side]
            five = list(TF.five_crop(sq, [size, size])) + [TF.resize(sq, [size, size], antialias=True)]
            for v in five:
                views += [v, TF.horizontal_flip(v)]
    return torch.stack(views)


class TestViews(nn.Module):
    """Test-time views of one uint8 image as float ``[V, C, H, W]``: ``crops`` in (1, 10, 144), at each of
    the ``scales`` (VGG's multi-scale testing, Q given for 224 inputs); normalised with ``mean``/``std``.
    A single view (one crop at one scale) is returned as a plain ``[C, H, W]`` image, so a test set batches
    as ``(N, C, H, W)`` like any other dataset; several views batch as ``(N, V, C, H, W)``.

    ``crops=1`` is the centre view: for small in-memory images (digits, MNIST, CIFAR) the whole image
    fitted to the input, as in training; for photographs the centre crop of the image whose shorter side
    is 256 (for 224).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        crops: int,
        size: tuple[int, int],
        mean: Sequence[float],
        std: Sequence[float],
        scales: Sequence[int] | None = None,
        in_memory: bool = True,
    ) -> None:
        super().__init__()
        if crops not in CROPS:
            raise DataError(
                f"crops must be one of {', '.join(map(str, CROPS))}, got {crops}.", names=("crops",)
            )
        if crops == 144 and scales:
            raise DataError(
                "GoogLeNet's 144-crop protocol fixes its own scales; drop --scales or use --crops 1|10."
            )
        self.crops, self.size, self.in_memory = crops, tuple(size), in_memory
        self.scales = tuple(scales) if scales else (256,)
        self.fit = FitTo(self.size)
        self.norm = ToFloatNormalize(mean, std)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        s = self.size[0]
        if self.crops == 144:
            views = googlenet_144(img, s)
        elif self.crops == 1 and self.in_memory and self.scales == (256,):
            views = self.fit(img).unsqueeze(0)
        else:
            per_scale = []
            for q in self.scales:
                canvas = _scaled(q, s)
                if self.crops == 1:
                    per_scale.append(center_view(img, s, canvas).unsqueeze(0))
                else:
                    per_scale.append(ten_crop(img, s, canvas))
            views = torch.cat(per_scale)
        views = self.norm(views)
        return views[0] if len(views) == 1 else views


class DenseViews(nn.Module):
    """VGG's dense-evaluation views (Simonyan & Zisserman 2015, Sec. 3.2) of one uint8 image: for each test
    scale ``Q`` (given for 224 inputs, scaled to the model's size) the whole image resized so that its
    shorter side is ``Q`` (bilinear, antialiased; aspect ratio kept, no crop), and, with ``flips``, its
    horizontal mirror. Returns a list of float ``[V, C, H_q, W_q]`` tensors, one per scale (sizes differ),
    normalised with ``mean``/``std``."""

    def __init__(
        self,
        size: tuple[int, int],
        mean: Sequence[float],
        std: Sequence[float],
        scales: Sequence[int] | None = None,
        flips: bool = True,
    ) -> None:
        super().__init__()
        self.size, self.flips = tuple(size), flips
        self.scales = tuple(scales) if scales else (256,)
        self.norm = _v2().Compose(_to_float(mean, std))

    def sides(self) -> list[int]:
        """The shorter side in pixels at each scale (``Q`` scaled to the model's input size)."""
        return [_scaled(q, min(self.size)) for q in self.scales]

    def forward(self, img: torch.Tensor) -> list[torch.Tensor]:
        TF = _tf()
        out = []
        for side in self.sides():
            im = TF.resize(img, [side], antialias=True) if min(img.shape[-2:]) != side else img
            views = [im, TF.horizontal_flip(im)] if self.flips else [im]
            out.append(self.norm(torch.stack(views)))
        return out


def describe_views(
    crops: int,
    size: tuple[int, int],
    scales: Sequence[int] | None = None,
    dense: bool = False,
    flips: bool = True,
    in_memory: bool = False,
) -> dict[str, object]:
    """The test-time protocol of :class:`TestViews` / :class:`DenseViews` as a dict (JSON-ready) with a
    one-line ``text``: views per image, scales (``Q`` for 224 inputs and in
    pixels), crop, resize and interpolation."""
    s = size[0]
    qs = list(scales) if scales else [256]
    interp = "bilinear, antialiased (torchvision resize)"
    px = [_scaled(q, s) for q in qs]
    d: dict[str, object] = {"dense": dense, "scales": qs, "scale_pixels": px, "input_size": list(size)}
    if dense:
        views = len(qs) * (2 if flips else 1)
        d.update(
            crops=None,
            flips=flips,
            views_per_image=views,
            resize=f"shorter side to Q = {'/'.join(map(str, px))} px, aspect ratio kept, no crop",
            crop="none: the whole image through the fully convolutional network, score map averaged over "
            "its positions",
            interpolation=interp,
        )
        what = (
            f"dense evaluation at Q={','.join(map(str, qs))} ({'/'.join(map(str, px))} px)"
            f"{' with horizontal flips' if flips else ''}: {views} view(s) per image"
        )
    elif crops == 144:
        gs = [_scaled(q, s) for q in GOOGLENET_SCALES]
        d.update(
            crops=144,
            flips=True,
            scales=list(GOOGLENET_SCALES),
            scale_pixels=gs,
            views_per_image=144,
            resize=f"shorter side to {'/'.join(map(str, gs))} px",
            crop=f"3 squares x (4 corners + centre {s}x{s} + whole square resized) x 2 mirrors",
            interpolation=interp,
        )
        what = f"GoogLeNet 144 crops ({s}x{s}) at 4 scales, mirrors included"
    elif crops == 1 and in_memory and qs == [256]:
        d.update(
            crops=1,
            flips=False,
            views_per_image=1,
            resize=f"whole image fitted to {s}x{size[1]} (zero-padded if at most 8 px smaller, else resized)",
            crop="none",
            interpolation=interp,
        )
        what = f"1 view: the whole image fitted to {s}x{size[1]}"
    else:
        views = crops * len(qs)
        d.update(
            crops=crops,
            flips=crops == 10,
            views_per_image=views,
            resize=f"shorter side to {'/'.join(map(str, px))} px",
            crop=(
                f"centre {s}x{size[1]}"
                if crops == 1
                else f"4 corners + centre {s}x{size[1]} of the central square, and their mirrors"
            ),
            interpolation=interp,
        )
        what = (
            f"{crops} crop(s) of {s}x{size[1]} at Q={','.join(map(str, qs))} ({'/'.join(map(str, px))} px)"
            f"{', mirrors included' if crops == 10 else ''}: {views} view(s) per image"
        )
    d["text"] = what
    return d


# ------------------------------------------------------------------------------ regularising augmentations
class RandomErasing(nn.Module):
    """Random erasing (Zhong et al. 2020, "Random Erasing Data Augmentation", Alg. 1): with probability
    ``p`` a rectangle of area ``S_e`` drawn uniformly from ``area`` x the image area and aspect ratio
    ``r_e`` drawn uniformly from ``[aspect, 1/aspect]`` (the paper's s_l = 0.02, s_h = 0.4, r_1 = 0.3) is
    placed uniformly where it fits (up to 100 tries) and filled with random values: standard normal ones on
    the normalised image (timm's "pixel" mode; the paper draws uniform pixel values before normalising).
    Works on float ``[C, H, W]`` or ``[N, C, H, W]`` (each image drawn on its own), from the torch RNG, so a
    seeded run repeats and resumes exactly."""

    def __init__(self, p: float = 0.5, area: tuple[float, float] = (0.02, 0.4), aspect: float = 0.3) -> None:
        super().__init__()
        self.p, self.area, self.aspect = float(p), tuple(area), float(aspect)

    def box(self, h: int, w: int) -> tuple[int, int, int, int] | None:
        """One rectangle ``(top, left, height, width)`` drawn as the paper does, or None (not erased)."""
        if float(torch.rand(())) >= self.p:
            return None
        for _ in range(100):
            s = (self.area[0] + (self.area[1] - self.area[0]) * float(torch.rand(()))) * h * w
            r = self.aspect + (1 / self.aspect - self.aspect) * float(torch.rand(()))
            eh, ew = round((s * r) ** 0.5), round((s / r) ** 0.5)
            if 0 < eh < h and 0 < ew < w:
                top = int(torch.randint(0, h - eh + 1, ()))
                left = int(torch.randint(0, w - ew + 1, ()))
                return top, left, eh, ew
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p <= 0:
            return x
        if x.ndim == 4:
            return torch.stack([self(im) for im in x])
        b = self.box(x.shape[-2], x.shape[-1])
        if b is None:
            return x
        top, left, eh, ew = b
        x = x.clone()
        x[:, top : top + eh, left : left + ew] = torch.randn(x.shape[0], eh, ew, dtype=x.dtype)
        return x

    def extra_repr(self) -> str:
        return f"p={self.p}, area={self.area}, aspect={self.aspect}"


class RandAugmentUint8(nn.Module):
    """RandAugment (Cubuk et al. 2020: ``n`` operations drawn uniformly from 14, each at magnitude ``m`` of
    30) on uint8 ``[C, H, W]`` images, or on ``[N, C, H, W]`` batches one image at a time (each draws its
    own operations): torchvision's ``v2.RandAugment``, which draws from the torch RNG."""

    def __init__(self, n: int, m: int) -> None:
        super().__init__()
        self.n, self.m = int(n), int(m)
        self.op = _v2().RandAugment(num_ops=self.n, magnitude=self.m)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.ndim == 4:
            return torch.stack([self.op(im) for im in img])
        return self.op(img)

    def extra_repr(self) -> str:
        return f"n={self.n}, m={self.m}"


class RegularisedBatch:
    """A whole-batch transform with RandAugment before it (uint8 images) and random erasing after it."""

    def __init__(
        self,
        inner: Callable[[torch.Tensor], torch.Tensor],
        randaugment: RandAugmentUint8 | None,
        erasing: RandomErasing | None,
    ) -> None:
        self.inner, self.randaugment, self.erasing = inner, randaugment, erasing

    def __call__(self, imgs: torch.Tensor) -> torch.Tensor:
        if self.randaugment is not None:
            imgs = self.randaugment(imgs)
        x = self.inner(imgs)
        return self.erasing(x) if self.erasing is not None else x


def add_regularising_augment(
    dataset: Any, randaugment: tuple[int, int] = (0, 9), random_erasing: float = 0.0
) -> None:
    """Put RandAugment (``(n, m)``, off for ``n == 0``) before and random erasing (probability, off at 0)
    after the training transform of ``dataset`` (an :class:`~cnnzoo.data.sources.ImageDataset` or a subset
    of one), on both its per-image and its whole-batch path. Only the training set should get them."""
    n, m = randaugment
    ra = RandAugmentUint8(n, m) if n > 0 else None
    er = RandomErasing(random_erasing) if random_erasing > 0 else None
    if ra is None and er is None:
        return
    base = getattr(dataset, "base", dataset)
    if base.transform is not None:
        base.transform = Compose(*[t for t in (ra, base.transform, er) if t is not None])
    if getattr(base, "batch_transform", None) is not None:
        base.batch_transform = RegularisedBatch(base.batch_transform, ra, er)
