"""The papers' augmentations and test-time views, pinned on fixed tensors."""

from __future__ import annotations

import pytest
import torch

from cnnzoo.data import FitTo, PCALighting, TestViews, googlenet_144, ten_crop, train_transform
from cnnzoo.data.transforms import pca_lighting_basis
from cnnzoo.errors import DataError


def _ramp(c: int, h: int, w: int) -> torch.Tensor:
    return (torch.arange(c * h * w) % 251).view(c, h, w).to(torch.uint8)


def test_fit_pads_a_28x28_digit_centred_in_a_32x32_field():
    img = _ramp(1, 28, 28)
    out = FitTo((32, 32))(img)
    assert out.shape == (1, 32, 32)
    assert torch.equal(out[:, 2:30, 2:30], img) and int(out[:, :2].sum()) == 0


def test_fit_resizes_when_the_gap_is_large():
    assert FitTo((32, 32))(_ramp(1, 8, 8)).shape == (1, 32, 32)


def test_ten_crop_is_four_corners_centre_and_their_mirrors():
    img = _ramp(3, 12, 12).float()
    v = ten_crop(img, 8, canvas=12)
    assert v.shape == (10, 3, 8, 8)
    assert torch.equal(v[0], img[:, :8, :8])  # top-left
    assert torch.equal(v[1], img[:, :8, 4:])  # top-right
    assert torch.equal(v[2], img[:, 4:, :8])  # bottom-left
    assert torch.equal(v[3], img[:, 4:, 4:])  # bottom-right
    assert torch.equal(v[4], img[:, 2:10, 2:10])  # centre
    # the mirrored image's five crops: the reflections of the five (its top-left is the reflected top-right)
    for i, j in ((5, 1), (6, 0), (7, 3), (8, 2), (9, 4)):
        assert torch.equal(v[i], v[j].flip(-1))


def test_googlenet_144_crops_are_4_scales_3_squares_6_crops_2_mirrors():
    img = _ramp(3, 20, 30).float()  # landscape
    v = googlenet_144(img, 16)
    assert v.shape == (144, 3, 16, 16)
    for i in range(0, 144, 2):
        assert torch.equal(v[i + 1], v[i].flip(-1))
    # the first square of the first scale (shorter side 256 * 16/224 -> 18): its top-left 16x16 crop
    from torchvision.transforms.v2 import functional as TF

    s = TF.resize(img, [18], antialias=True)
    assert torch.equal(v[0], s[:, :16, :16])
    assert torch.equal(v[10], TF.resize(s[:, :, :18], [16, 16], antialias=True))  # the whole square resized


def test_pca_basis_matches_numpy_covariance_eigendecomposition():
    g = torch.Generator().manual_seed(0)
    imgs = torch.rand(20, 3, 5, 5, generator=g)
    imgs[:, 1] = 0.5 * imgs[:, 0] + 0.1 * imgs[:, 1]
    val, vec = pca_lighting_basis(imgs)
    pix = imgs.permute(1, 0, 2, 3).reshape(3, -1).double()
    cov = torch.cov(pix)
    assert torch.allclose((cov @ vec.double()), vec.double() * val.double(), atol=1e-6)
    assert val.tolist() == sorted(val.tolist())


def test_pca_lighting_adds_one_colour_shift_in_the_eigenbasis_per_image():
    val = torch.tensor([0.2, 0.01, 0.005])
    vec = torch.linalg.qr(torch.randn(3, 3))[0]
    img = torch.zeros(3, 4, 4)
    torch.manual_seed(3)
    out = PCALighting(val, vec, sigma=0.1)(img)
    torch.manual_seed(3)
    alpha = torch.randn(3) * 0.1
    expected = vec @ (alpha * val)
    assert torch.allclose(out, expected.view(3, 1, 1).expand(3, 4, 4), atol=1e-7)
    assert torch.equal(PCALighting(val, vec, sigma=0.0)(img), img)


@pytest.mark.parametrize("augment", ["none", "shift", "cifar", "alexnet", "vgg", "inception"])
def test_every_training_augmentation_gives_the_input_size(augment):
    pca = (torch.tensor([0.1, 0.01, 0.001]), torch.eye(3))
    tf = train_transform(augment, (32, 32), (0.5,) * 3, (0.25,) * 3, flip=True, pca=pca)
    out = tf(_ramp(3, 40, 60))
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32


def test_vgg_scale_jitter_draws_the_shorter_side_from_256_to_512():
    from torchvision.transforms import v2

    tf = train_transform("vgg", (224, 224), (0,) * 3, (1,) * 3)
    jitter = next(t for t in tf.transforms if isinstance(t, v2.RandomShortestSize))
    assert min(jitter.min_size) == 256 and max(jitter.min_size) == 512 and len(jitter.min_size) == 257


def test_shift_augmentation_never_flips_digits():
    tf = train_transform("shift", (8, 8), (0.0,), (1.0,), flip=False)
    from torchvision.transforms import v2

    assert not any(isinstance(t, v2.RandomHorizontalFlip) for t in tf.transforms)


def test_test_views_normalise_and_count_views():
    img = _ramp(3, 40, 50)
    for crops, n in ((10, 10), (144, 144)):
        v = TestViews(crops, (32, 32), (0.5,) * 3, (0.5,) * 3, in_memory=False)(img)
        assert v.shape == (n, 3, 32, 32)
    # one view is a plain image, so a test set batches as (N, C, H, W) like any other dataset
    assert TestViews(1, (32, 32), (0.5,) * 3, (0.5,) * 3, in_memory=False)(img).shape == (3, 32, 32)
    multi = TestViews(10, (32, 32), (0,) * 3, (1,) * 3, scales=(256, 384), in_memory=False)(img)
    assert multi.shape == (20, 3, 32, 32)
    two_scales = TestViews(1, (32, 32), (0,) * 3, (1,) * 3, scales=(256, 384), in_memory=False)(img)
    assert two_scales.shape == (2, 3, 32, 32)
    centre = TestViews(1, (8, 8), (0.5,), (0.25,))(_ramp(1, 8, 8))
    assert torch.allclose(centre, (_ramp(1, 8, 8).float() / 255 - 0.5) / 0.25)


def test_bad_crop_counts_are_data_errors():
    with pytest.raises(DataError):
        TestViews(5, (32, 32), (0,), (1,))
    with pytest.raises(DataError):
        train_transform("mixup", (32, 32), (0,), (1,))
