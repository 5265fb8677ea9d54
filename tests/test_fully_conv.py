"""FC heads as convolutions (VGG Sec. 3.2): same weights, the same logits at the training size, a score map
on larger inputs, and the list of networks that need it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.analysis.fully_conv import FullyConvolutional, has_fc_head, to_fully_convolutional

FC_HEADED = [
    "alexnet",
    "alexnet_owt",
    "alexnet_single",
    "lenet5",
    "lenet5_linear",
    "lenet5_modern",
    "vgg11",
    "vgg11_bn",
    "vgg11_lrn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg16_c",
    "vgg19",
    "vgg19_bn",
    "zfnet",
]
ALL_VGG = [n for n in FC_HEADED if n.startswith("vgg")]


def _meta(name: str, **kw) -> nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kw)


@pytest.mark.slow  # > 20 s on 2 cores: CI runs it (`-m slow`), the quick tier skips it
def test_exactly_the_fc_headed_networks_are_converted_and_the_others_returned_unchanged():
    found = [n for n in cnnzoo.list_models() if has_fc_head(_meta(n))]
    assert found == FC_HEADED
    m = _meta("resnet18")
    assert to_fully_convolutional(m) is m


@pytest.mark.parametrize(
    ("name", "first"),
    [("vgg16", (4096, 512, 7, 7)), ("alexnet", (4096, 256, 6, 6)), ("zfnet", (4096, 256, 6, 6))]
    + [(n, (84, 120, 1, 1)) for n in ("lenet5", "lenet5_modern")],
)
def test_first_fc_becomes_the_map_sized_convolution_and_the_rest_1x1(name, first):
    f = to_fully_convolutional(_meta(name, num_classes=5))
    convs = [m for m in f.head.modules() if isinstance(m, nn.Conv2d)]
    assert tuple(convs[0].weight.shape) == first
    assert all(c.kernel_size == (1, 1) for c in convs[1:])
    assert convs[-1].out_channels == 5 or name == "lenet5"  # LeNet-5's RBF output is not an FC layer


@pytest.mark.parametrize("name", ["alexnet", "zfnet", "vgg11", "lenet5", "lenet5_modern"])
def test_fully_convolutional_form_gives_the_fc_logits_at_the_training_size(name):
    torch.manual_seed(0)
    m = cnnzoo.create_model(name, num_classes=6).eval()
    c, h, w = cnnzoo.model_info(name).input_size
    x = torch.randn(2, c, h, w)
    f = to_fully_convolutional(m).eval()
    assert isinstance(f, FullyConvolutional)
    with torch.no_grad():
        ref, out = m(x), f(x)
    assert out.shape == (2, 6, 1, 1)
    torch.testing.assert_close(out.flatten(1), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_VGG + ["alexnet_single", "alexnet_owt"])
def test_every_vgg_is_exact_at_224(name):
    torch.manual_seed(0)
    m = cnnzoo.create_model(name, num_classes=4).eval()
    x = torch.randn(1, 3, 224, 224) if name != "alexnet_single" else torch.randn(1, 3, 227, 227)
    with torch.no_grad():
        torch.testing.assert_close(to_fully_convolutional(m)(x).flatten(1), m(x), rtol=1e-5, atol=1e-5)


def test_each_position_of_the_lenet_score_map_is_the_fc_network_on_its_window():
    """No padding in LeNet-5: the map at (i, j) is exactly the network on the 32x32 window at (4i, 4j)."""
    torch.manual_seed(0)
    m = cnnzoo.create_model("lenet5_modern", num_classes=3).double().eval()
    x = torch.randn(1, 1, 40, 48, dtype=torch.float64)
    with torch.no_grad():
        smap = to_fully_convolutional(m)(x)
        assert smap.shape == (1, 3, 3, 5)
        for i in range(3):
            for j in range(5):
                ref = m(x[..., 4 * i : 4 * i + 32, 4 * j : 4 * j + 32])
                torch.testing.assert_close(smap[:, :, i, j], ref, rtol=1e-12, atol=1e-12)


def test_vgg_runs_on_any_input_at_least_its_field_with_shared_trunk_weights():
    m = _meta("vgg16", num_classes=7)
    f = to_fully_convolutional(m)
    assert f.trunk is m.features
    assert f(torch.empty(1, 3, 384, 512, device="meta")).shape == (1, 7, 6, 10)
