"""ResNeXt (Xie et al. 2017): counts, MACs, split-transform-merge equivalence, torchvision equivalence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from modelkit import assert_matches_peer, assert_trains, macs, meta_model, n_params
from torch import nn

import cnnzoo
from cnnzoo.models.resnet import Bottleneck


@pytest.mark.parametrize(
    "name, expected",
    [
        ("resnext50_32x4d", 25_028_904),
        ("resnext29_8x64d", 34_426_698),
        ("resnext29_16x64d", 68_155_210),
    ],
)
def test_resnext_parameter_count(name: str, expected: int) -> None:
    assert n_params(meta_model(name)) == expected


@pytest.mark.parametrize("name", ["resnext101_32x8d", "resnext101_64x4d"])
def test_resnext101_has_torchvisions_parameter_names_and_shapes(name: str) -> None:
    import torchvision

    with torch.device("meta"):
        tv = getattr(torchvision.models, name)()
    ours = meta_model(name)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in tv.state_dict().items()
    }


def test_resnext50_macs_within_one_percent_of_reference() -> None:
    got = macs(meta_model("resnext50_32x4d"), (3, 224, 224))
    assert got == 4_230_479_872
    assert abs(got - 4.26e9) / 4.26e9 < 0.01


def test_resnext29_macs_are_pinned() -> None:
    """The paper's Table 7 gives none for CIFAR; ours are exact conv+fc counts (5.39 G / 10.69 G)."""
    assert macs(meta_model("resnext29_8x64d"), (3, 32, 32)) == 5_387_266_048
    assert macs(meta_model("resnext29_16x64d"), (3, 32, 32)) == 10_688_866_304


def test_grouped_block_equals_the_split_transform_merge_form() -> None:
    """Fig. 3(a) == Fig. 3(c): 32 paths 1x1 (4) -> 3x3 (4) -> 1x1 (256), summed, equal the grouped block."""
    c, d, cin, cout = 32, 4, 256, 256
    blk = Bottleneck(cin, c * d, cout, groups=c).eval()
    with torch.no_grad():
        for bn in (blk.bn1, blk.bn2, blk.bn3):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
        x = torch.randn(2, cin, 6, 6)

        def bn_slice(bn: nn.BatchNorm2d, t: torch.Tensor, s: slice) -> torch.Tensor:
            return F.batch_norm(
                t, bn.running_mean[s], bn.running_var[s], bn.weight[s], bn.bias[s], False, 0.0, bn.eps
            )

        total = torch.zeros(2, cout, 6, 6)
        for i in range(c):
            s = slice(i * d, (i + 1) * d)
            t = torch.relu(bn_slice(blk.bn1, F.conv2d(x, blk.conv1.weight[s]), s))
            t = torch.relu(bn_slice(blk.bn2, F.conv2d(t, blk.conv2.weight[s], padding=1), s))
            total += F.conv2d(t, blk.conv3.weight[:, s])
        expected = torch.relu(blk.bn3(total) + x)
        assert torch.allclose(blk(x), expected, atol=1e-5)


@pytest.mark.slow
def test_resnext29_forward_backward_on_a_small_input() -> None:
    assert_trains(cnnzoo.create_model("resnext29_8x64d", stochastic_depth=0.5), torch.randn(2, 3, 16, 16), 10)


@pytest.mark.slow
def test_torchvision_resnext50_state_dict_loads_and_matches(tmp_path) -> None:
    import torchvision

    tv = torchvision.models.resnext50_32x4d()
    assert_matches_peer(tv, tmp_path / "rx.pth", "resnext50_32x4d", "torchvision", (3, 64, 64), batch=1)
