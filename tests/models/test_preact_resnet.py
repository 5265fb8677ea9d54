"""Pre-activation ResNets (He et al. 2016, Identity Mappings): counts, layout, stochastic depth."""

from __future__ import annotations

import pytest
import torch
from modelkit import assert_trains, meta_model, n_params, shared_meta_model
from torch import nn

import cnnzoo
from cnnzoo.models.preact_resnet import PreActBasicBlock, PreActBottleneck


@pytest.mark.parametrize(
    "name, expected",
    [
        ("preact_resnet164", 1_703_258),
        ("preact_resnet1001", 10_327_706),
        ("preact_resnet110", 1_730_522),
        ("preact_resnet18", 11_687_720),
        ("preact_resnet50", 25_549_352),
        ("preact_resnet200", 64_666_152),
    ],
)
def test_preact_resnet_parameter_count(name: str, expected: int) -> None:
    assert n_params(shared_meta_model(name)) == expected


def test_preact_resnet1001_is_10_3m_where_the_paper_rounds_to_10_2m() -> None:
    info = cnnzoo.model_info("preact_resnet1001")
    assert info.paper_params == n_params(shared_meta_model("preact_resnet1001"))
    assert "10.2M" in info.figures_note


def test_imagenet_preact_differs_from_resnet_only_in_bn_placement() -> None:
    """Same convolutions and fc as ResNet-50; BN moves before the convs: the first block of stage 1 has none
    (the stem ends with BN-ReLU), projections lose their BN, and a final BN (2048) is added."""

    def conv_fc(m: nn.Module) -> int:
        return sum(
            p.numel()
            for mod in m.modules()
            if isinstance(mod, (nn.Conv2d, nn.Linear))
            for p in mod.parameters()
        )

    pre, post = meta_model("preact_resnet50"), meta_model("resnet50_v1_5")
    assert conv_fc(pre) == conv_fc(post)
    assert pre.layer1[0].bn1 is None and pre.layer2[0].bn1 is not None and pre.bn_final.num_features == 2048


@pytest.mark.slow
def test_preact_resnet164_forward_backward_on_cifar_sized_input() -> None:
    assert_trains(cnnzoo.create_model("preact_resnet164"), torch.randn(2, 3, 32, 32), 10)


def test_preact_block_adds_the_identity_without_a_relu_after_the_sum() -> None:
    blk = PreActBasicBlock(4, 4).eval()
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        branch = blk.conv2(torch.relu(blk.bn2(blk.conv1(torch.relu(blk.bn1(x))))))
        assert torch.allclose(blk(x), x + branch)
        assert (blk(x) < 0).any()


def test_first_block_of_a_stage_feeds_the_preactivation_to_the_projection() -> None:
    blk = PreActBottleneck(
        16, 16, 64, shortcut_from_preact=True, shortcut=nn.Sequential(nn.Conv2d(16, 64, 1, bias=False))
    )
    blk.eval()
    x = torch.randn(1, 16, 4, 4)
    with torch.no_grad():
        pre = torch.relu(blk.bn1(x))
        branch = blk.conv3(torch.relu(blk.bn3(blk.conv2(torch.relu(blk.bn2(blk.conv1(pre)))))))
        assert torch.allclose(blk(x), branch + blk.downsample(pre), atol=1e-6)


def test_preact_stochastic_depth_last_block_survives_with_one_half() -> None:
    m = cnnzoo.create_model("preact_resnet110", stochastic_depth=0.5)
    assert m.layer3[-1].drop_path.survival_prob == 0.5
    assert m.layer1[0].drop_path.survival_prob == pytest.approx(1 - 0.5 / 54)
