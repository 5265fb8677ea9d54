"""Inception-v3 (Szegedy et al. 2016) and Inception-v4 / Inception-ResNet-v1 / -v2 (Szegedy et al. 2017):
exact parameter counts, MACs within 1% of the reference, shapes, train/eval behaviour, layer groups, and
equivalence with torchvision's inception_v3 and timm's inception_v4 / inception_resnet_v2."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from modelkit import assert_groups_partition, assert_matches_peer, assert_trains, meta_model, n_params
from torch import nn

import cnnzoo
from cnnzoo.errors import CheckpointError, CnnzooError, WeightsError
from cnnzoo.models.inception import InceptionOutputs
from cnnzoo.models.inception_v4 import Block8
from cnnzoo.weights.load import load_weights

NAMES = ("inception_v3", "inception_v4", "inception_resnet_v1", "inception_resnet_v2")


@pytest.mark.parametrize(
    "name, kw, expected",
    [
        (
            "inception_v3",
            {},
            27_161_264,
        ),  # with the auxiliary head = torchvision inception_v3(aux_logits=True)
        ("inception_v3", {"aux_logits": False}, 23_834_568),  # the reference figure (osmr)
        ("inception_v4", {}, 42_679_816),
        ("inception_v4", {"kernel_order": "tf"}, 42_679_816),
        ("inception_resnet_v2", {}, 55_843_464),
        (
            "inception_resnet_v1",
            {},
            22_756_328,
        ),  # the paper's network; see the next test for osmr's 23,995,624
    ],
)
def test_inception_family_has_exact_parameter_count(name: str, kw: dict, expected: int) -> None:
    assert n_params(meta_model(name, **kw)) == expected


def test_inception_resnet_v1_differs_from_osmr_by_a_sixth_8x8_block_and_a_bottleneck_head() -> None:
    """osmr's 23,995,624 = the paper's network + one more Inception-ResNet-C block + FaceNet's
    1792-512(BN)-1000 head in place of the single 1792-1000 linear layer."""
    with torch.device("meta"):
        ours = cnnzoo.create_model("inception_resnet_v1")
        extra_block = Block8(1792, (192, 192, 192), scale=1.0, activate=False)
        facenet_head = nn.Sequential(
            nn.Linear(1792, 512, bias=False), nn.BatchNorm1d(512), nn.Linear(512, 1000)
        )
    total = n_params(ours) + n_params(extra_block) + n_params(facenet_head) - n_params(ours.classif)
    assert total == 23_995_624
    assert cnnzoo.model_info("inception_resnet_v1").paper_params == 23_995_624


@pytest.mark.parametrize(
    "name, expected",
    [
        ("inception_v3", 5_713_216_096),
        ("inception_v4", 12_253_974_624),
        ("inception_resnet_v1", 6_206_361_696),
        ("inception_resnet_v2", 13_155_794_016),
    ],
)
def test_inception_family_macs_at_299_are_pinned_and_within_1_percent(name: str, expected: int) -> None:
    model = meta_model(name).eval()
    macs = cnnzoo.profile(model, (3, 299, 299)).total_macs
    assert macs == expected
    if name != "inception_resnet_v1":  # osmr's IR-v1 is a larger network (see above)
        ref = cnnzoo.model_info(name).paper_macs
        assert abs(macs - ref) / ref < 0.01


@pytest.mark.parametrize("name", NAMES)
def test_inception_family_meta_forward_at_299_gives_logits(name: str) -> None:
    model = meta_model(name, num_classes=7).eval()
    assert cnnzoo.model_info(name).input_size == (3, 299, 299)
    x = torch.empty(2, 3, 299, 299, device="meta")
    assert model(x).shape == (2, 7)
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, model.num_features)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES[1:])
def test_inception_v4_family_trains_at_75x75_with_a_grad_on_every_parameter(name: str) -> None:
    assert_trains(cnnzoo.create_model(name, num_classes=5), torch.randn(2, 3, 75, 75), 5)


@pytest.mark.slow
def test_inception_v3_trains_at_299_with_aux_head_and_a_grad_on_every_parameter() -> None:
    """The auxiliary head needs the 17x17 grid (299 input); both logits reach every parameter."""
    model = cnnzoo.create_model("inception_v3", num_classes=5).train()
    out = model(torch.randn(2, 3, 299, 299))
    assert isinstance(out, InceptionOutputs)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.aux_logits).all()
    (out.logits.logsumexp(1).sum() + 0.4 * out.aux_logits.logsumexp(1).sum()).backward()
    assert [k for k, p in model.named_parameters() if p.grad is None] == []


def test_inception_v3_returns_aux_logits_only_in_training() -> None:
    model = meta_model("inception_v3", num_classes=3)
    x = torch.empty(2, 3, 299, 299, device="meta")
    out = model.train()(x)
    assert isinstance(out, InceptionOutputs)
    assert out.logits.shape == (2, 3) and out.aux_logits.shape == (2, 3)
    assert isinstance(model.eval()(x), torch.Tensor)
    no_aux = meta_model("inception_v3", aux_logits=False).train()
    assert isinstance(no_aux(x), torch.Tensor) and no_aux.AuxLogits is None


@pytest.mark.parametrize("name", NAMES)
def test_inception_family_head_dropout_acts_only_in_training(name: str) -> None:
    model = cnnzoo.create_model(name, num_classes=4, drop_rate=0.5)
    feats = torch.randn(3, model.num_features, 2, 2)
    with torch.no_grad():
        model.eval()
        assert torch.equal(model.forward_head(feats), model.forward_head(feats))
        model.train()
        assert not torch.equal(model.forward_head(feats), model.forward_head(feats))


def test_inception_v3_reset_classifier_replaces_both_heads() -> None:
    model = meta_model("inception_v3")
    model.reset_classifier(10)
    assert model.fc.out_features == 10 and model.AuxLogits.fc.out_features == 10
    model.reset_classifier(0)
    assert isinstance(model.fc, nn.Identity) and model.AuxLogits is None


@pytest.mark.parametrize("name", NAMES)
def test_inception_family_layer_groups_hold_every_parameter_once(name: str) -> None:
    groups = assert_groups_partition(meta_model(name))
    assert list(groups)[0] == "stem" and list(groups)[-1] == "head"


def test_inception_options_are_checked() -> None:
    with pytest.raises(CnnzooError, match="kernel_order"):
        cnnzoo.create_model("inception_v4", kernel_order="sideways")
    with pytest.raises(CnnzooError, match="drop_rate"):
        cnnzoo.create_model("inception_resnet_v2", drop_rate=1.5)


def _assert_equivalent(peer: nn.Module, path: Path, name: str, source: str, size: int, **kw: object) -> None:
    assert_matches_peer(peer, path, name, source, (3, size, size), atol_scales_with_output=True, **kw)


@pytest.mark.slow
def test_inception_v3_matches_torchvision_inception_v3(tmp_path: Path) -> None:
    torchvision = pytest.importorskip("torchvision")
    peer = torchvision.models.inception_v3(aux_logits=True, init_weights=True)
    _assert_equivalent(peer, tmp_path / "v3.pth", "inception_v3", "torchvision", 75, count_include_pad=True)
    # the paper-faithful default pools differently at the borders, so a torchvision file builds the
    # torchvision form by itself, and loading it into a default model already built is refused
    ours = cnnzoo.create_model("inception_v3", weights=f"torchvision:{tmp_path / 'v3.pth'}").eval()
    assert ours.cnnzoo_record.model_kwargs["count_include_pad"] is True
    x = torch.randn(1, 3, 75, 75)
    with torch.no_grad():
        want = peer(x)
        torch.testing.assert_close(ours(x), want, rtol=1e-5, atol=1e-5 * max(1.0, want.abs().max().item()))
        paper = cnnzoo.create_model("inception_v3").eval()
        paper.load_state_dict(ours.state_dict())
        assert not torch.allclose(paper(x), want, rtol=1e-3)
    with pytest.raises(WeightsError, match="count_include_pad=True"):
        load_weights(cnnzoo.create_model("inception_v3"), f"torchvision:{tmp_path / 'v3.pth'}")


@pytest.mark.slow
def test_inception_v4_matches_timm_inception_v4_with_tf_kernel_order(tmp_path: Path) -> None:
    timm = pytest.importorskip("timm")
    _assert_equivalent(
        timm.create_model("inception_v4"), tmp_path / "v4.pth", "inception_v4", "timm", 75, kernel_order="tf"
    )
    # a timm file builds the TF-slim kernel order by itself; into a paper-order model it is refused
    assert cnnzoo.create_model("inception_v4", weights=f"timm:{tmp_path / 'v4.pth'}").kernel_order == "tf"
    with pytest.raises(CheckpointError, match="kernel_order='tf'"):
        load_weights(cnnzoo.create_model("inception_v4"), f"timm:{tmp_path / 'v4.pth'}")


@pytest.mark.slow
def test_inception_resnet_v2_matches_timm_inception_resnet_v2(tmp_path: Path) -> None:
    timm = pytest.importorskip("timm")
    _assert_equivalent(
        timm.create_model("inception_resnet_v2"), tmp_path / "irv2.pth", "inception_resnet_v2", "timm", 75
    )
