"""GoogLeNet (Szegedy et al. 2014) exactly per Table 1, and torchvision's BatchNorm variant: parameter counts
with and without the auxiliary heads, MACs, train/eval outputs, and torchvision state-dict equivalence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from modelkit import assert_matches_peer, meta_model, n_params

import cnnzoo
from cnnzoo.models.googlenet import INCEPTION_TABLE, GoogLeNetOutputs, googlenet_loss
from cnnzoo.models.layers import LocalResponseNorm


def test_googlenet_has_6998552_parameters_without_aux_and_13378280_with() -> None:
    m = meta_model("googlenet")
    assert n_params(m) == 13_378_280
    assert (n_params(m.aux1), n_params(m.aux2)) == (3_188_840, 3_190_888)
    assert n_params(meta_model("googlenet", aux_logits=False)) == 6_998_552


def test_googlenet_macs_are_1582671872_within_half_percent_of_1_58g() -> None:
    p = cnnzoo.profile(meta_model("googlenet"), (3, 224, 224))  # eval: aux heads do not run
    assert p.total_macs == 1_582_671_872
    assert abs(p.total_macs / 1.58e9 - 1) < 0.005


def test_googlenet_follows_table_1_with_5x5_branches_lrn_and_no_batchnorm() -> None:
    m = meta_model("googlenet")
    assert not any(isinstance(x, torch.nn.BatchNorm2d) for x in m.modules())
    assert isinstance(m.lrn1, LocalResponseNorm) and isinstance(m.lrn2, LocalResponseNorm)
    widths = []
    for name, *_ in INCEPTION_TABLE:
        block = getattr(m, name)
        assert block.branch3[1].conv.kernel_size == (5, 5)
        widths.append(
            (
                block.branch1.conv.out_channels,
                block.branch2[0].conv.out_channels,
                block.branch2[1].conv.out_channels,
                block.branch3[0].conv.out_channels,
                block.branch3[1].conv.out_channels,
                block.branch4[1].conv.out_channels,
            )
        )
    assert widths[0] == (64, 96, 128, 16, 32, 32) and widths[-1] == (384, 192, 384, 48, 128, 128)
    assert m.dropout.p == 0.4 and m.aux1.dropout.p == 0.7
    assert (m.aux1.pool.kernel_size, m.aux1.pool.stride) == (5, 3) and m.aux1.conv.conv.out_channels == 128
    x = torch.empty(1, 3, 224, 224, device="meta")
    assert m.forward_features(x).shape == (1, 1024, 7, 7)


def test_googlenet_returns_aux_logits_only_in_training() -> None:
    m = meta_model("googlenet", num_classes=5)
    x = torch.empty(2, 3, 224, 224, device="meta")
    out = m.train()(x)
    assert isinstance(out, GoogLeNetOutputs)
    assert out.logits.shape == out.aux_logits1.shape == out.aux_logits2.shape == (2, 5)
    out = m.eval()(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 5)
    no_aux = meta_model("googlenet", aux_logits=False).train()
    assert isinstance(no_aux(x), torch.Tensor) and "aux1" not in no_aux.layer_groups()


def test_googlenet_small_input_backward_reaches_every_parameter_and_eval_is_deterministic() -> None:
    # The auxiliary heads need 14x14 maps (224 input) in training; at a small input the trunk runs in eval
    # mode (gradients still flow) and the heads get 14x14 maps directly. The full 224 run is the slow test.
    m = cnnzoo.create_model("googlenet", num_classes=4).eval()
    x = torch.randn(1, 3, 64, 64)
    logits = m(x)
    assert logits.shape == (1, 4) and torch.isfinite(logits).all()
    aux1, aux2 = m.aux1(torch.randn(1, 512, 14, 14)), m.aux2(torch.randn(1, 528, 14, 14))
    (logits.sum() + aux1.sum() + aux2.sum()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    with torch.no_grad():
        assert torch.equal(m(x), m(x))


@pytest.mark.slow
def test_googlenet_training_forward_backward_at_224_with_aux_losses() -> None:
    m = cnnzoo.create_model("googlenet", num_classes=4).train()
    out = m(torch.randn(1, 3, 224, 224))
    assert all(torch.isfinite(t).all() for t in out)
    target = torch.tensor([2])
    loss = googlenet_loss(out, target)
    expected = (
        F.cross_entropy(out.logits, target)
        + 0.3 * F.cross_entropy(out.aux_logits1, target)
        + 0.3 * F.cross_entropy(out.aux_logits2, target)
    )
    assert torch.allclose(loss, expected)
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_googlenet_loss_weights_each_aux_loss_by_0_3() -> None:
    logits, a1, a2 = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4)
    target = torch.tensor([0, 1, 3])
    expected = (
        F.cross_entropy(logits, target)
        + 0.3 * F.cross_entropy(a1, target)
        + 0.3 * F.cross_entropy(a2, target)
    )
    assert torch.allclose(googlenet_loss(GoogLeNetOutputs(logits, a2, a1), target), expected)
    assert torch.allclose(googlenet_loss(logits, target), F.cross_entropy(logits, target))


def test_googlenet_bn_small_input_forward_backward_and_reset_classifier() -> None:
    m = cnnzoo.create_model("googlenet_bn", num_classes=3, in_chans=1).train()
    out = m(torch.randn(2, 1, 32, 32))
    googlenet_loss(out, torch.tensor([0, 2])).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    m.reset_classifier(6)
    out = m(torch.randn(2, 1, 32, 32))
    assert out.logits.shape == out.aux_logits1.shape == (2, 6)


def test_googlenet_bn_has_torchvisions_6624904_and_13004888_parameters_and_1_50g_macs() -> None:
    m = meta_model("googlenet_bn")
    assert n_params(m) == 13_004_888
    assert n_params(meta_model("googlenet_bn", aux_logits=False)) == 6_624_904
    assert m.inception3a.branch3[1].conv.kernel_size == (3, 3)  # torchvision's "5x5" branch
    p = cnnzoo.profile(m, (3, 224, 224))
    assert p.total_macs == 1_498_376_192


def test_googlenet_bn_loads_a_torchvision_state_dict_and_matches_its_outputs(tmp_path) -> None:
    torch.manual_seed(2)
    tv = torchvision.models.googlenet(aux_logits=True, init_weights=True)
    path = tmp_path / "googlenet_tv.pth"
    ours = assert_matches_peer(tv, path, "googlenet_bn", "torchvision", (3, 112, 112), batch=1, rtol=0)
    x = torch.randn(1, 3, 112, 112)
    with torch.no_grad():
        tv.transform_input = ours.transform_input = True  # torchvision's input re-normalisation
        assert torch.allclose(ours(x), tv(x), atol=1e-5, rtol=0)


def test_googlenet_model_info() -> None:
    info = cnnzoo.model_info("googlenet")
    assert (info.paper_params, info.paper_top5, info.input_size) == (6_998_552, 10.07, (3, 224, 224))
    assert cnnzoo.model_info("googlenet_bn").peer == "torchvision:googlenet"
    assert any("3x3" in d for d in cnnzoo.model_info("googlenet_bn").deviations)
