"""Wide ResNets (Zagoruyko & Komodakis 2016): counts, MACs, dropout, torchvision equivalence."""

from __future__ import annotations

import pytest
import torch
from modelkit import assert_matches_peer, assert_trains, macs, meta_model, n_params
from torch import nn

import cnnzoo
from cnnzoo.errors import CnnzooError


@pytest.mark.parametrize(
    "name, kw, expected",
    [
        ("wrn28_10", {}, 36_479_194),
        ("wrn28_10", {"num_classes": 100}, 36_536_884),
        ("wrn40_4", {}, 8_949_210),
        ("wrn16_8", {}, 10_961_370),
        ("wrn16_4", {}, 2_748_890),
        ("wrn", {"depth": 16, "widen_factor": 4}, 2_748_890),
        ("wide_resnet50_2", {}, 68_883_240),
    ],
)
def test_wide_resnet_parameter_count(name: str, kw: dict, expected: int) -> None:
    assert n_params(meta_model(name, **kw)) == expected


def test_wrn50_2_reference_count_is_ours_with_batchnorm_folded_into_conv_biases() -> None:
    m = meta_model("wide_resnet50_2")
    bn_channels = sum(mod.num_features for mod in m.modules() if isinstance(mod, nn.BatchNorm2d))
    # folding BN: its 2 parameters per channel become 1 conv bias per channel
    assert n_params(m) - bn_channels == 68_849_128 == cnnzoo.model_info("wide_resnet50_2").paper_params


def test_wrn28_10_macs_within_half_a_percent_of_reference() -> None:
    got = macs(meta_model("wrn28_10"), (3, 32, 32))
    assert got == 5_243_328_768
    assert abs(got - 5.25e9) / 5.25e9 < 0.005


def test_wrn_dropout_is_active_in_training_only() -> None:
    m = cnnzoo.create_model("wrn16_4", dropout=0.3)
    assert sum(isinstance(mod, nn.Dropout) and mod.p == 0.3 for mod in m.modules()) == 6
    x = torch.randn(2, 3, 32, 32)
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(x), m(x))
        m.train()
        torch.manual_seed(1)
        a = m(x)
        torch.manual_seed(2)
        assert not torch.allclose(a, m(x))


def test_wrn16_4_forward_backward() -> None:
    m = cnnzoo.create_model("wrn16_4", dropout=0.3, drop_path_rate=0.2)
    assert_trains(m, torch.randn(2, 3, 32, 32), 10)


def test_meta_forward_shapes() -> None:
    assert meta_model("wrn28_10").eval()(torch.empty(2, 3, 32, 32, device="meta")).shape == (2, 10)
    assert meta_model("wide_resnet101_2").eval()(torch.empty(1, 3, 224, 224, device="meta")).shape == (
        1,
        1000,
    )


def test_invalid_wrn_depth_is_a_clear_error() -> None:
    with pytest.raises(CnnzooError, match="6N\\+4"):
        cnnzoo.create_model("wrn", depth=27)


@pytest.mark.slow
def test_torchvision_wide_resnet50_2_state_dict_loads_and_matches(tmp_path) -> None:
    import torchvision

    tv = torchvision.models.wide_resnet50_2()
    assert_matches_peer(tv, tmp_path / "wrn.pth", "wide_resnet50_2", "torchvision", (3, 64, 64), batch=1)
