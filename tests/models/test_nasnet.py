"""NASNet-A (Zoph et al. 2018): exact parameter counts of Mobile 4 @ 1056 and Large 6 @ 4032, MACs within 1%
of Table 2, TensorFlow SAME padding, drop-path in training only, and equivalence with timm's nasnetalarge."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from modelkit import assert_groups_partition, assert_matches_peer, assert_trains, meta_model
from torch import nn

import cnnzoo
from cnnzoo.models.layers import DropPath
from cnnzoo.models.nasnet import SamePool


@pytest.mark.parametrize("name, expected", [("nasnet_a_mobile", 5_289_978), ("nasnet_a_large", 88_753_150)])
def test_nasnet_a_has_the_reference_parameter_count(name: str, expected: int) -> None:
    assert sum(p.numel() for p in meta_model(name).parameters()) == expected


@pytest.mark.parametrize(
    "name, size, expected, paper",
    [
        ("nasnet_a_mobile", 224, 563_638_816, 564e6),
        ("nasnet_a_large", 331, 23_783_414_658, 23.8e9),
    ],
)
def test_nasnet_a_macs_are_pinned_and_within_1_percent_of_table_2(
    name: str, size: int, expected: int, paper: float
) -> None:
    macs = cnnzoo.profile(meta_model(name).eval(), (3, size, size)).total_macs
    assert macs == expected
    assert abs(macs - paper) / paper < 0.01


@pytest.mark.parametrize("name, size, grid", [("nasnet_a_mobile", 224, 7), ("nasnet_a_large", 331, 11)])
def test_nasnet_a_meta_forward_at_default_size(name: str, size: int, grid: int) -> None:
    model = meta_model(name, num_classes=6).eval()
    assert cnnzoo.model_info(name).input_size == (3, size, size)
    features = model.forward_features(torch.empty(2, 3, size, size, device="meta"))
    assert features.shape == (2, model.num_features, grid, grid)
    assert model.forward_head(features).shape == (2, 6)


@pytest.mark.slow
def test_nasnet_a_mobile_trains_at_32x32_with_a_grad_on_every_parameter() -> None:
    model = cnnzoo.create_model("nasnet_a_mobile", num_classes=3, drop_path_rate=0.2)
    assert_trains(model, torch.randn(2, 3, 32, 32), 3)


@pytest.mark.slow
def test_nasnet_a_drop_path_grows_with_depth_and_acts_only_in_training() -> None:
    model = cnnzoo.create_model("nasnet_a_mobile", num_classes=3, drop_path_rate=0.5)
    probs = [m.drop_path.drop_prob for m in model.modules() if hasattr(m, "drop_path")]
    assert len(probs) == 16 and probs == sorted(probs) and probs[-1] == pytest.approx(0.5 * 16 / 16)
    assert probs[0] == pytest.approx(0.5 / 16)
    assert meta_model("nasnet_a_large").cell_17.drop_path.drop_prob == pytest.approx(0.3 * 22 / 22)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        model.eval()
        assert torch.equal(model(x), model(x))
        model.train()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()  # isolate drop-path: BN uses its running statistics
        model.head_drop.eval()
        assert not torch.equal(model(x), model(x))
    assert any(isinstance(m, DropPath) for m in model.modules())


def test_stride_2_average_pool_excludes_tensorflow_same_padding() -> None:
    """On a 4x4 grid TF SAME pads one row/column at the end only; the corner window averages 4 real values."""
    x = torch.arange(16.0).view(1, 1, 4, 4)
    tf = SamePool("avg", 2)(x)
    assert tf.shape == (1, 1, 2, 2)
    assert tf[0, 0, 1, 1].item() == pytest.approx((10 + 11 + 14 + 15) / 4)
    assert tf[0, 0, 0, 0].item() == pytest.approx((0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9)
    timm_form = SamePool("avg", 2, count_include_pad=True)(x)
    assert timm_form[0, 0, 1, 1].item() == pytest.approx((10 + 11 + 14 + 15) / 9)


def test_nasnet_a_layer_groups_hold_every_parameter_once() -> None:
    assert_groups_partition(meta_model("nasnet_a_large"), ["stem", "stage_0", "stage_1", "stage_2", "head"])


@pytest.mark.slow
def test_nasnet_a_large_matches_timm_nasnetalarge(tmp_path: Path) -> None:
    timm = pytest.importorskip("timm")
    # 64x64, even grids: exercises the asymmetric SAME padding
    assert_matches_peer(
        timm.create_model("nasnetalarge"),
        tmp_path / "n.pth",
        "nasnet_a_large",
        "timm",
        (3, 64, 64),
        count_include_pad=True,
    )
