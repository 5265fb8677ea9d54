"""SqueezeNet (Iandola et al. 2016): exact parameter and MAC counts, the bypass variants of Sec. 6, the
1x1-conv classifier, and equivalence with torchvision's squeezenet1_0 / squeezenet1_1.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from modelkit import assert_matches_peer, assert_random_only_in_training, assert_trains, meta_model, n_params
from torch import nn

import cnnzoo


@pytest.mark.parametrize(
    "name, expected",
    [
        ("squeezenet1_0", 1_248_424),
        ("squeezenet1_1", 1_235_496),
        # Identity shortcuts add nothing; the four 1x1 shortcuts (96->128, 128->256, 256->384, 384->512, with
        # bias) add 12,416 + 33,024 + 98,688 + 197,120 = 341,248.
        ("squeezenet1_0_simple_bypass", 1_248_424),
        ("squeezenet1_0_complex_bypass", 1_248_424 + 341_248),
    ],
)
def test_squeezenet_parameter_counts(name: str, expected: int) -> None:
    assert n_params(meta_model(name)) == expected


@pytest.mark.parametrize(
    "name, size, expected, reference",
    [
        ("squeezenet1_0", 224, 818_924_576, 819e6),
        ("squeezenet1_0", 227, 832_667_936, 833e6),
        ("squeezenet1_1", 224, 349_151_936, 349e6),
    ],
)
def test_squeezenet_macs_match_the_reference(name: str, size: int, expected: int, reference: float) -> None:
    macs = cnnzoo.profile(meta_model(name), (3, size, size)).total_macs
    assert macs == expected
    assert abs(macs - reference) / reference < 0.01


def test_squeezenet1_1_needs_2_35x_less_compute_than_1_0() -> None:
    m0 = cnnzoo.profile(meta_model("squeezenet1_0"), (3, 224, 224)).total_macs
    m1 = cnnzoo.profile(meta_model("squeezenet1_1"), (3, 224, 224)).total_macs
    assert round(m0 / m1, 2) == 2.35


def test_simple_bypass_adds_the_input_around_fire3_5_7_9_only() -> None:
    m = cnnzoo.create_model("squeezenet1_0_simple_bypass").eval()
    kinds = [getattr(f, "bypass", "pool") for f in m.features[3:]]
    assert kinds == [None, "simple", None, "pool", "simple", None, "simple", None, "pool", "simple"]
    fire3 = m.features[4]
    x = torch.randn(1, 128, 5, 5)
    with torch.no_grad():
        plain = torch.cat(
            [
                fire3.expand1x1_activation(fire3.expand1x1(fire3.squeeze_activation(fire3.squeeze(x)))),
                fire3.expand3x3_activation(fire3.expand3x3(fire3.squeeze_activation(fire3.squeeze(x)))),
            ],
            1,
        )
        torch.testing.assert_close(fire3(x), plain + x)


def test_complex_bypass_adds_1x1_convolutions_where_widths_differ() -> None:
    m = meta_model("squeezenet1_0_complex_bypass")
    convs = [
        (f.bypass_conv.in_channels, f.bypass_conv.out_channels)
        for f in m.features
        if getattr(f, "bypass", None) == "complex"
    ]
    assert convs == [(96, 128), (128, 256), (256, 384), (384, 512)]


@pytest.mark.parametrize("name", cnnzoo.list_models("squeezenet*"))
def test_squeezenet_meta_forward_and_small_real_training_step(name: str) -> None:
    out = meta_model(name).eval()(torch.empty(1, 3, 224, 224, device="meta"))
    assert out.shape == (1, 1000)
    assert_trains(cnnzoo.create_model(name, num_classes=7), torch.randn(2, 3, 64, 64), 7)


def test_squeezenet_dropout_acts_in_training_only() -> None:
    assert_random_only_in_training(cnnzoo.create_model("squeezenet1_1"), torch.randn(1, 3, 64, 64))


def test_squeezenet_classifier_is_a_1x1_convolution_and_can_be_reset() -> None:
    m = meta_model("squeezenet1_0")
    clf = m.get_classifier()
    assert isinstance(clf, nn.Conv2d) and clf.kernel_size == (1, 1) and clf.out_channels == 1000
    m.reset_classifier(10)
    assert m.get_classifier().out_channels == 10
    assert m(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 10)
    feats = m.forward_features(torch.empty(1, 3, 224, 224, device="meta"))
    assert m.forward_head(feats, pre_logits=True).shape == (1, 512)
    groups = m.layer_groups()
    assert sum(n_params(g) for g in groups.values()) == n_params(m)


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
def test_squeezenet_loads_a_torchvision_state_dict_and_matches_its_outputs(name: str, tmp_path) -> None:
    ref = getattr(torchvision.models, name)()
    assert_matches_peer(ref, tmp_path / f"{name}.pth", name, "torchvision", (3, 64, 64))
