"""MobileNet v1 (Howard et al. 2017) and v2 (Sandler et al. 2018): the paper's Table 6/7 parameter and MAC
counts (with and without BN), width and resolution multipliers, and equivalence with torchvision's
mobilenet_v2.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from modelkit import assert_matches_peer, assert_random_only_in_training, assert_trains, meta_model, n_params
from torch import nn

import cnnzoo


def bn_params(model: nn.Module) -> int:
    return sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())


# (name, our count with BN, the paper's Table 6 count without BN, MACs at 224, the paper's MACs)
V1 = [
    ("mobilenet_v1", 4_231_976, 4_210_088, 568_740_352, 568.7e6),
    ("mobilenet_v1_075", 2_585_560, 2_569_144, 325_400_448, 325.4e6),
    ("mobilenet_v1_050", 1_331_592, 1_320_648, 149_497_088, 149.5e6),
    ("mobilenet_v1_025", 470_072, 464_600, 41_030_272, 41.0e6),
]


@pytest.mark.parametrize("name, with_bn, without_bn, _macs, _paper", V1)
def test_mobilenet_v1_counts_are_the_papers_plus_exactly_the_bn_parameters(
    name: str, with_bn: int, without_bn: int, _macs: int, _paper: float
) -> None:
    m = meta_model(name)
    assert n_params(m) == with_bn
    assert n_params(m) - bn_params(m) == without_bn == cnnzoo.model_info(name).paper_params
    # BN's gamma and beta: two per channel of every conv output (27 convolutions).
    assert bn_params(m) == 2 * sum(c.out_channels for c in m.modules() if isinstance(c, nn.Conv2d))


@pytest.mark.parametrize("name, _with_bn, _without_bn, expected, paper", V1)
def test_mobilenet_v1_macs_at_224_match_table_6(
    name: str, _with_bn: int, _without_bn: int, expected: int, paper: float
) -> None:
    macs = cnnzoo.profile(meta_model(name), (3, 224, 224)).total_macs
    assert macs == expected
    assert abs(macs - paper) / paper < 0.01


@pytest.mark.parametrize("size, paper", [(192, 418e6), (160, 290e6), (128, 186e6)])
def test_mobilenet_v1_resolution_multiplier_macs_match_table_7(size: int, paper: float) -> None:
    macs = cnnzoo.profile(meta_model("mobilenet_v1"), (3, size, size)).total_macs
    assert abs(macs - paper) / paper < 0.01


def test_mobilenet_v1_width_multiplier_is_a_keyword_and_thins_every_layer() -> None:
    m = meta_model("mobilenet_v1", alpha=0.5)
    assert n_params(m) == 1_331_592
    assert m.stem.conv.out_channels == 16 and m.num_features == 512
    dw = m.blocks[0].dw.conv
    assert dw.groups == dw.in_channels == dw.out_channels == 16


def test_mobilenet_v2_has_torchvisions_3504872_parameters_and_the_tf_347m_without_bn() -> None:
    m = meta_model("mobilenet_v2")
    assert n_params(m) == 3_504_872
    assert n_params(m) - bn_params(m) == 3_470_760  # the TF checkpoint's "3.47M"
    wide = meta_model("mobilenet_v2_140")
    assert n_params(wide) == 6_108_776
    assert n_params(wide) - bn_params(wide) == 6_060_840  # TF's "6.06M"


@pytest.mark.parametrize(
    "name, expected, paper", [("mobilenet_v2", 300_774_272, 300e6), ("mobilenet_v2_140", 582_195_824, 585e6)]
)
def test_mobilenet_v2_macs_match_table_4(name: str, expected: int, paper: float) -> None:
    macs = cnnzoo.profile(meta_model(name), (3, 224, 224)).total_macs
    assert macs == expected
    assert abs(macs - paper) / paper < 0.01


@pytest.mark.parametrize("name", cnnzoo.list_models("mobilenet*"))
def test_mobilenet_meta_forward_and_small_real_training_step(name: str) -> None:
    assert meta_model(name).eval()(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 1000)
    assert_trains(cnnzoo.create_model(name, num_classes=5), torch.randn(2, 3, 32, 32), 5)


def test_mobilenet_v2_dropout_acts_in_training_only_and_bn_uses_batch_statistics() -> None:
    assert_random_only_in_training(cnnzoo.create_model("mobilenet_v2"), torch.randn(2, 3, 32, 32))


def test_mobilenet_v2_residuals_only_where_stride_1_and_widths_agree() -> None:
    m = meta_model("mobilenet_v2")
    flags = [b.use_res_connect for b in list(m.features)[1:-1]]
    assert flags == [
        False,
        False,
        True,
        False,
        True,
        True,
        False,
        True,
        True,
        True,
        False,
        True,
        True,
        False,
        True,
        True,
        False,
    ]
    groups = m.layer_groups()
    assert list(groups)[0] == "stem" and list(groups)[-1] == "head"
    assert sum(n_params(g) for g in groups.values()) == n_params(m)


def test_mobilenet_v2_loads_a_torchvision_state_dict_and_matches_its_outputs(tmp_path) -> None:
    ref = torchvision.models.mobilenet_v2()
    assert_matches_peer(ref, tmp_path / "mobilenet_v2.pth", "mobilenet_v2", "torchvision", (3, 64, 64))
