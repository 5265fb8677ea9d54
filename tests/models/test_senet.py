"""SENet (Hu et al. 2018): the SE block by hand, counts, MACs, timm legacy equivalence."""

from __future__ import annotations

import pytest
import torch
from modelkit import assert_matches_peer, assert_trains, meta_model, n_params
from torch import nn

import cnnzoo
from cnnzoo.errors import CnnzooError
from cnnzoo.models.layers import SqueezeExcite


def test_se_block_matches_a_hand_computed_result() -> None:
    se = SqueezeExcite(2, reduction=2)  # C = 2, C/r = 1
    with torch.no_grad():
        se.fc1.weight.copy_(torch.tensor([[1.0, -1.0]]).view(1, 2, 1, 1))
        se.fc1.bias.fill_(0.5)
        se.fc2.weight.copy_(torch.tensor([2.0, -1.0]).view(2, 1, 1, 1))
        se.fc2.bias.copy_(torch.tensor([0.0, 1.0]))
    x = torch.tensor([[[[1.0, 3.0]], [[0.0, 2.0]]]])  # channel means 2 and 1
    # squeeze: z = (2, 1); fc1: 2 - 1 + 0.5 = 1.5, ReLU 1.5; fc2: (3.0, -0.5); sigmoid: s
    s = torch.sigmoid(torch.tensor([3.0, -0.5]))
    expected = torch.stack([x[0, 0] * s[0], x[0, 1] * s[1]]).unsqueeze(0)
    assert torch.allclose(se(x), expected)
    assert se(x)[0, 0, 0, 1].item() == pytest.approx(3.0 / (1 + 2.718281828459045**-3.0), rel=1e-6)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("se_resnet50", 28_088_024),
        ("se_resnet101", 49_326_872),
        ("se_resnet152", 66_821_848),
        ("se_resnext50_32x4d", 27_559_896),
        ("se_resnext101_32x4d", 48_955_416),
        ("senet154", 115_088_984),
    ],
)
def test_senet_parameter_count(name: str, expected: int) -> None:
    assert n_params(meta_model(name)) == expected


def test_se_resnet50_is_resnet50_plus_the_se_parameters() -> None:
    """SE adds 2C^2/r + C/r + C per block (FCs as 1x1 convolutions with biases): 2,530,992 for r = 16."""
    blocks = [(3, 256), (4, 512), (6, 1024), (3, 2048)]
    for r in (4, 8, 16, 32):
        extra = sum(n * (2 * c * c // r + c // r + c) for n, c in blocks)
        assert n_params(meta_model("se_resnet50", se_reduction=r)) == 25_557_032 + extra
        if r == 16:
            assert extra == 2_530_992


def test_bad_reduction_is_a_clear_error() -> None:
    with pytest.raises(CnnzooError, match="se_reduction"):
        cnnzoo.create_model("se_resnet50", se_reduction=0)


def test_se_resnet50_macs_within_one_percent_of_reference() -> None:
    m = meta_model("se_resnet50")
    try:
        got = int(cnnzoo.profile(m, (3, 224, 224)).total_macs)
    except AttributeError:  # cnnzoo.profile not available yet: count conv + linear MACs with hooks
        got = 0

        def hook(mod: nn.Module, _i: object, o: torch.Tensor) -> None:
            nonlocal got
            if isinstance(mod, nn.Conv2d):
                got += o[0].numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            else:
                got += mod.in_features * mod.out_features

        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                mod.register_forward_hook(hook)
        with torch.no_grad():
            m.eval()(torch.empty(1, 3, 224, 224, device="meta"))
    assert got == 3_860_488_192
    assert abs(got - 3.88e9) / 3.88e9 < 0.01 and abs(got - 3.87e9) / 3.87e9 < 0.005


def test_senet154_meta_forward() -> None:
    m = meta_model("senet154").eval()
    assert m(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 1000)


@pytest.mark.slow
@pytest.mark.parametrize(
    "ours, theirs", [("se_resnet50", "legacy_seresnet50"), ("se_resnext50_32x4d", "legacy_seresnext50_32x4d")]
)
def test_timm_legacy_state_dict_loads_and_matches(ours: str, theirs: str, tmp_path) -> None:
    timm = pytest.importorskip("timm")
    ref = timm.create_model(theirs, pretrained=False)
    assert_matches_peer(ref, tmp_path / f"{theirs}.pth", ours, "timm", (3, 64, 64), batch=1)


def test_senet154_has_timm_legacy_names_after_remap() -> None:
    timm = pytest.importorskip("timm")
    with torch.device("meta"):
        ref = timm.create_model("legacy_senet154", pretrained=False)
    ours = meta_model("senet154")
    mapped = ours.remap_state_dict(dict(ref.state_dict()), "timm")
    assert {k: v.shape for k, v in mapped.items()} == {k: v.shape for k, v in ours.state_dict().items()}


@pytest.mark.slow
def test_se_resnet_forward_backward_with_stochastic_depth() -> None:
    m = cnnzoo.create_model("se_resnet50", num_classes=5, stochastic_depth=0.5)
    assert_trains(m, torch.randn(2, 3, 32, 32), 5)
