"""ResNet (He et al. 2016): exact parameter and MAC counts, shortcut options, v1 vs v1.5, stochastic depth,
torchvision equivalence."""

from __future__ import annotations

import pytest
import torch
from modelkit import (
    assert_groups_partition,
    assert_matches_peer,
    assert_trains,
    macs,
    meta_model,
    n_params,
    shared_meta_model,
)
from torch import nn

import cnnzoo
from cnnzoo.errors import CnnzooError
from cnnzoo.models.layers import StochasticDepth
from cnnzoo.models.resnet import ZeroPadShortcut, drop_path_schedule


@pytest.mark.parametrize(
    "name, expected",
    [
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
        ("resnet50", 25_557_032),
        ("resnet101", 44_549_160),
        ("resnet152", 60_192_808),
        ("resnet50_v1_5", 25_557_032),
        ("resnet101_v1_5", 44_549_160),
        ("resnet152_v1_5", 60_192_808),
        ("plain18", 11_515_688),
        ("plain34", 21_623_848),
        ("resnet20", 269_722),
        ("resnet32", 464_154),
        ("resnet44", 658_586),
        ("resnet56", 853_018),
        ("resnet110", 1_727_962),
        ("resnet1202", 19_421_274),
        ("plain20", 269_722),
        ("plain32", 464_154),
        ("plain44", 658_586),
        ("plain56", 853_018),
        ("plain110", 1_727_962),
    ],
)
def test_resnet_has_the_reference_parameter_count(name: str, expected: int) -> None:
    assert n_params(shared_meta_model(name)) == expected


@pytest.mark.parametrize(
    "name, reference",
    [
        ("resnet18", 1.81e9),
        ("resnet34", 3.66e9),
        ("resnet50", 3.86e9),
        ("resnet101", 7.57e9),
        ("resnet152", 11.28e9),
        ("resnet50_v1_5", 4.09e9),
        ("resnet101_v1_5", 7.80e9),
        ("resnet152_v1_5", 11.51e9),
        ("plain18", 1.79e9),
        ("plain34", 3.64e9),
    ],
)
def test_imagenet_resnet_macs_within_half_a_percent_of_reference(name: str, reference: float) -> None:
    got = macs(meta_model(name), (3, 224, 224))
    assert abs(got - reference) / reference < 0.005
    assert cnnzoo.model_info(name).paper_macs == reference


def test_v1_5_moves_the_stride_into_the_3x3_and_costs_231_million_more_macs() -> None:
    v1, v15 = meta_model("resnet50"), meta_model("resnet50_v1_5")
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)
    # the 1x1 conv1 and 3x3 conv2 of the three down-sampling blocks: v1.5 runs conv1 at full resolution and
    # conv2 at half; v1 runs both at half. Difference = sum over stages of conv1 MACs at (4 - 1)/4 of the
    # input grid, minus nothing for conv2.
    diff = 0
    for stage, (cin, width, hw) in enumerate([(256, 128, 56), (512, 256, 28), (1024, 512, 14)]):
        assert getattr(v1, f"layer{stage + 2}")[0].conv1.in_channels == cin
        diff += cin * width * (hw * hw - (hw // 2) ** 2)
    assert diff == 231_211_008
    assert macs(v15, (3, 224, 224)) - macs(v1, (3, 224, 224)) == diff


@pytest.mark.parametrize(
    "name, exact, osmr",
    [
        ("resnet20", 40_551_040, 41.3e6),
        ("resnet56", 125_485_696, 127e6),
        ("resnet110", 252_887_680, 256e6),
    ],
)
def test_cifar_resnet_macs(name: str, exact: int, osmr: float) -> None:
    """Our exact conv+fc count with option A; osmr's figure counts option-B projections and non-conv ops, so
    it is 1-2% higher."""
    got = macs(meta_model(name), (3, 32, 32))
    assert got == exact
    assert 0.98 < got / osmr < 1.0


def test_shortcut_options_a_b_c_change_only_the_projections() -> None:
    a, b, c = (n_params(meta_model("resnet34", shortcut=s)) for s in "ABC")
    assert a == n_params(meta_model("plain34")) == 21_623_848  # option A: "no extra parameter"
    assert b == 21_797_672
    assert c == 22_716_840
    m = meta_model("resnet34", shortcut="C")
    assert all(
        blk.downsample is not None for stage in (m.layer1, m.layer2, m.layer3, m.layer4) for blk in stage
    )
    m = meta_model("resnet18", shortcut="A")
    assert isinstance(m.layer2[0].downsample, ZeroPadShortcut)
    assert m.layer1[0].downsample is None


def test_option_a_subsamples_and_pads_with_zero_channels() -> None:
    x = torch.randn(2, 3, 4, 4)
    y = ZeroPadShortcut(3, 5, 2)(x)
    assert y.shape == (2, 5, 2, 2)
    assert torch.equal(y[:, :3], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 3:]) == 0


def test_unknown_shortcut_option_is_a_clear_error() -> None:
    with pytest.raises(CnnzooError, match="unknown shortcut .D.; choose one of: A, B, C"):
        cnnzoo.create_model("resnet20", shortcut="D")
    with pytest.raises(CnnzooError, match="has no option"):
        cnnzoo.create_model("plain20", shortcut="B")


@pytest.mark.parametrize(
    "name, size", [("resnet18", 64), ("resnet50", 32), ("resnet20", 32), ("plain20", 32)]
)
def test_forward_backward_gives_finite_logits_and_a_grad_on_every_parameter(name: str, size: int) -> None:
    assert_trains(cnnzoo.create_model(name, num_classes=7), torch.randn(2, 3, size, size), 7)


def test_layer_groups_cover_every_parameter_once() -> None:
    assert_groups_partition(meta_model("resnet50"), ["stem", "layer1", "layer2", "layer3", "layer4", "head"])
    assert list(meta_model("resnet20").layer_groups()) == ["stem", "layer1", "layer2", "layer3", "head"]


def test_forward_head_pre_logits_and_reset_classifier() -> None:
    m = meta_model("resnet50")
    feats = m.forward_features(torch.empty(1, 3, 224, 224, device="meta"))
    assert feats.shape == (1, 2048, 7, 7)
    assert m.forward_head(feats, pre_logits=True).shape == (1, 2048)
    m.reset_classifier(5)
    assert m.get_classifier().out_features == 5


@pytest.mark.slow
def test_torchvision_resnet18_and_resnet50_state_dicts_load_and_match(tmp_path) -> None:
    import torchvision

    for tv_name, ours in (("resnet18", "resnet18"), ("resnet50", "resnet50_v1_5")):
        tv = getattr(torchvision.models, tv_name)()
        assert_matches_peer(tv, tmp_path / f"{tv_name}.pth", ours, "torchvision", (3, 64, 64))


# ---- stochastic depth (Huang et al. 2016) ---------------------------------------------------------------
def test_stochastic_depth_survival_decays_linearly_to_one_half() -> None:
    m = cnnzoo.create_model("resnet20", stochastic_depth=0.5)
    blocks = [b for stage in (m.layer1, m.layer2, m.layer3) for b in stage]
    surv = [b.drop_path.survival_prob for b in blocks]
    assert surv == pytest.approx([1 - (i + 1) / 9 * 0.5 for i in range(9)])
    assert surv[-1] == 0.5 and all(a > b for a, b in zip(surv, surv[1:]))
    assert drop_path_schedule(0.5, None, 9) == drop_path_schedule(0.0, 0.5, 9)
    other = cnnzoo.create_model("resnet20", drop_path_rate=0.5)
    assert [
        b.drop_path.drop_prob for st in (other.layer1, other.layer2, other.layer3) for b in st
    ] == pytest.approx([1 - s for s in surv])


def test_stochastic_depth_options_are_validated() -> None:
    with pytest.raises(CnnzooError, match="stochastic_depth"):
        cnnzoo.create_model("resnet20", stochastic_depth=0.0)
    with pytest.raises(CnnzooError, match="drop_path_rate"):
        cnnzoo.create_model("resnet20", drop_path_rate=1.0)
    with pytest.raises(CnnzooError, match="not both"):
        cnnzoo.create_model("resnet20", drop_path_rate=0.2, stochastic_depth=0.5)


def test_stochastic_depth_module_drops_whole_samples_in_training_and_scales_at_eval() -> None:
    sd = StochasticDepth(0.25)
    x = torch.randn(64, 3, 2, 2)
    y = sd.train()(x)
    kept = [torch.equal(y[i], x[i]) for i in range(64)]
    dropped = [torch.count_nonzero(y[i]) == 0 for i in range(64)]
    assert all(k or d for k, d in zip(kept, dropped)) and any(kept) and any(dropped)
    assert torch.equal(sd.eval()(x), x * 0.75)  # E[train output] = 0.75 x


def test_stochastic_depth_block_drops_branches_in_training_and_is_expected_value_at_eval() -> None:
    m = cnnzoo.create_model("resnet20", stochastic_depth=0.5)
    block = m.layer3[-1]  # survival 0.5, identity shortcut
    for mod in block.modules():  # BN in eval so that a sample's output does not depend on the others
        if isinstance(mod, nn.BatchNorm2d):
            mod.eval()
    x = torch.randn(32, 64, 8, 8)
    with torch.no_grad():
        branch = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
        block.drop_path.train()
        y = block(x)
        dropped = [torch.allclose(y[i], torch.relu(x[i])) for i in range(32)]
        kept = [torch.allclose(y[i], torch.relu(x[i] + branch[i])) for i in range(32)]
        assert all(k or d for k, d in zip(kept, dropped)) and any(kept) and any(dropped)
        block.eval()
        assert torch.allclose(block(x), torch.relu(x + 0.5 * branch), atol=1e-6)
        assert torch.equal(block(x), block(x))


def test_model_info_records_paper_figures_and_deviations() -> None:
    info = cnnzoo.model_info("resnet50")
    assert (info.paper_top1, info.paper_top5, info.paper_params) == (22.85, 6.71, 25_557_032)
    assert "10-crop" in info.error_protocol
    assert any("v1.5" in d for d in cnnzoo.model_info("resnet50_v1_5").deviations)
    assert cnnzoo.model_info("resnet110").input_size == (3, 32, 32)
    assert cnnzoo.model_info("resnet110").paper_top1 == 6.43
