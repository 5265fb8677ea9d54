"""Network in Network (Lin et al. 2014), CIFAR-10 model: three mlpconv layers, global average pooling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from modelkit import n_params

import cnnzoo


def test_nin_cifar_has_966986_parameters_and_222486528_macs() -> None:
    m = cnnzoo.create_model("nin_cifar")
    assert n_params(m) == 966_986
    # conv/1x1 MACs at 32x32 (32 -> 16 -> 8): 1024 x 192 x 75 + 1024 x (160 x 192 + 96 x 160)
    # + 256 x 192 x 2400 + 256 x 2 x 192 x 192 + 64 x 192 x 1728 + 64 x 192 x 192 + 64 x 10 x 192
    expected = (
        1024 * 192 * 75
        + 1024 * (160 * 192 + 96 * 160)
        + 256 * 192 * 2400
        + 256 * 2 * 192 * 192
        + 64 * 192 * 1728
        + 64 * 192 * 192
        + 64 * 10 * 192
    )
    p = cnnzoo.profile(m, (3, 32, 32))
    assert (p.total_params, p.total_macs) == (966_986, expected) and expected == 222_486_528


def test_nin_mlpconv_blocks_have_one_spatial_and_two_1x1_convolutions_and_no_fc() -> None:
    m = cnnzoo.create_model("nin_cifar")
    kernels = [
        [c.kernel_size[0] for c in b.modules() if isinstance(c, torch.nn.Conv2d)]
        for b in (m.block1, m.block2, m.block3)
    ]
    assert kernels == [[5, 1, 1], [5, 1, 1], [3, 1]] and m.classifier.kernel_size == (1, 1)
    assert not any(isinstance(x, torch.nn.Linear) for x in m.modules())
    assert [n_params(g) for g in m.layer_groups().values()] == [60_928, 535_104, 369_024, 1_930]


def test_nin_output_is_the_global_average_of_one_map_per_class() -> None:
    m = cnnzoo.create_model("nin_cifar").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        feats = m.forward_features(x)
        maps = torch.relu(m.classifier(feats))
        assert feats.shape == (2, 192, 8, 8) and maps.shape == (2, 10, 8, 8)
        assert torch.allclose(m(x), maps.mean((2, 3)))
        assert m.forward_head(feats, pre_logits=True).shape == (2, 192)


def test_nin_meta_forward_and_real_forward_backward_reach_every_parameter() -> None:
    meta = cnnzoo.create_model("nin_cifar").to("meta")
    assert meta(torch.empty(4, 3, 32, 32, device="meta")).shape == (4, 10)
    m = cnnzoo.create_model("nin_cifar", num_classes=100, final_relu=False).train()
    x = torch.randn(2, 3, 32, 32)
    logits = m(x)
    assert logits.shape == (2, 100) and torch.isfinite(logits).all()
    F.cross_entropy(logits, torch.tensor([3, 99])).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    with torch.no_grad():
        assert not torch.equal(m(x), m(x))  # dropout in training
        m.eval()
        assert torch.equal(m(x), m(x))


def test_nin_reset_classifier_replaces_the_last_1x1_convolution() -> None:
    m = cnnzoo.create_model("nin_cifar", in_chans=1)
    m.reset_classifier(4)
    assert isinstance(m.classifier, torch.nn.Conv2d) and m.classifier.out_channels == 4
    assert m(torch.zeros(1, 1, 32, 32)).shape == (1, 4)


def test_nin_model_info() -> None:
    info = cnnzoo.model_info("nin_cifar")
    assert (info.input_size, info.num_classes) == ((3, 32, 32), 10)
    assert (info.paper_params, info.paper_top1) == (966_986, 10.41)
    assert info.deviations
