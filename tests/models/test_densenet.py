"""DenseNet (Huang et al. 2017): exact parameter counts (Table 1 ImageNet, Table 2 CIFAR), MACs, dropout,
layer groups, and equivalence with torchvision's densenet121.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from modelkit import (
    assert_groups_partition,
    assert_matches_peer,
    assert_random_only_in_training,
    assert_trains,
    macs,
    meta_model,
    n_params,
    shared_meta_model,
)

import cnnzoo
from cnnzoo.errors import CnnzooError


@pytest.mark.parametrize(
    "name, expected",
    [
        ("densenet121", 7_978_856),
        ("densenet169", 14_149_480),
        ("densenet201", 20_013_928),
        ("densenet264", 33_337_704),
    ],
)
def test_imagenet_densenet_has_the_reference_parameter_count(name: str, expected: int) -> None:
    assert n_params(shared_meta_model(name)) == expected


@pytest.mark.parametrize(
    "name, classes, expected",
    [
        ("densenet_bc100_k12", 10, 769_162),
        ("densenet_bc100_k12", 100, 800_032),
        ("densenet_bc250_k24", 10, 15_324_406),
        ("densenet_bc190_k40", 10, 25_624_430),
        # The paper's Table 2 gives only "1.0M" for the basic L=40, k=12 network; this is our exact count.
        ("densenet40_k12", 10, 1_019_722),
    ],
)
def test_cifar_densenet_has_the_reference_parameter_count(name: str, classes: int, expected: int) -> None:
    assert n_params(meta_model(name, num_classes=classes)) == expected


def test_densenet40_k12_layers_have_no_bottleneck_and_transitions_keep_all_channels() -> None:
    m = meta_model("densenet40_k12")
    layer = m.features.denseblock1.denselayer1
    assert layer.conv1.kernel_size == (3, 3) and not hasattr(layer, "conv2")
    assert m.features.transition1.conv.in_channels == m.features.transition1.conv.out_channels == 16 + 12 * 12


def test_densenet_bc_uses_4k_bottleneck_and_halves_channels_in_transitions() -> None:
    m = meta_model("densenet_bc100_k12")
    layer = m.features.denseblock1.denselayer1
    assert layer.conv1.out_channels == 48 and layer.conv2.out_channels == 12
    assert m.features.transition1.conv.in_channels == 24 + 16 * 12
    assert m.features.transition1.conv.out_channels == (24 + 16 * 12) // 2


def test_densenet121_has_2834161664_macs_at_224() -> None:
    # Conv + FC only. osmr's 2.87 G (paper_numbers.md) is 1.3% higher: its counter also counts BatchNorm
    # (31.3 M here), which our convention (and fvcore's conv+linear) leaves out.
    macs = cnnzoo.profile(meta_model("densenet121"), (3, 224, 224)).total_macs
    assert macs == 2_834_161_664
    assert abs(macs - 2.87e9) / 2.87e9 < 0.015


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, expected, reference",
    [
        ("densenet169", 3_359_843_328, 3.40e9),
        ("densenet201", 4_291_365_888, 4.35e9),
    ],
)
def test_densenet169_201_macs_at_224(name: str, expected: int, reference: float) -> None:
    macs = cnnzoo.profile(meta_model(name), (3, 224, 224)).total_macs
    assert macs == expected
    assert abs(macs - reference) / reference < 0.015


def test_densenet_bc100_trains_with_finite_outputs_and_a_grad_on_every_parameter() -> None:
    assert_trains(cnnzoo.create_model("densenet_bc100_k12"), torch.randn(2, 3, 8, 8), 10)


def test_densenet_dropout_is_random_in_training_and_off_in_eval() -> None:
    m = cnnzoo.create_model("densenet40_k12", drop_rate=0.2)
    assert_random_only_in_training(m, torch.randn(1, 3, 8, 8))


def test_densenet_layer_groups_hold_every_parameter_once() -> None:
    names = ["stem", "block1", "block2", "block3", "block4", "head"]
    assert_groups_partition(meta_model("densenet121"), names)


def test_densenet_pre_logits_and_reset_classifier() -> None:
    m = meta_model("densenet121")
    feats = m.forward_features(torch.empty(1, 3, 224, 224, device="meta"))
    assert feats.shape == (1, 1024, 7, 7)
    assert m.forward_head(feats, pre_logits=True).shape == (1, 1024)
    m.reset_classifier(5)
    assert m.get_classifier().out_features == 5


def test_densenet121_loads_a_torchvision_state_dict_and_matches_its_outputs(tmp_path) -> None:
    ref = torchvision.models.densenet121()
    assert_matches_peer(ref, tmp_path / "densenet121.pth", "densenet121", "torchvision", (3, 32, 32))


def test_densenet161_has_28681000_parameters_and_7727907072_macs() -> None:
    m = meta_model("densenet161")
    assert n_params(m) == 28_681_000 == cnnzoo.model_info("densenet161").paper_params
    assert macs(m, (3, 224, 224)) == 7_727_907_072
    assert m.features.conv0.out_channels == 96
    assert m.features.denseblock3.denselayer36.conv2.out_channels == 48


def test_densenet161_loads_a_torchvision_state_dict_and_matches_its_outputs(tmp_path) -> None:
    ref = torchvision.models.densenet161()
    assert_matches_peer(ref, tmp_path / "densenet161.pth", "densenet161", "torchvision", (3, 32, 32), batch=1)


def test_cifar_densenet_depth_must_fit_three_blocks() -> None:
    from cnnzoo.models.densenet import _cifar_depth_to_layers

    assert _cifar_depth_to_layers(100, bottleneck=True) == 16
    with pytest.raises(CnnzooError, match="whole number of layers"):
        _cifar_depth_to_layers(101, bottleneck=True)
