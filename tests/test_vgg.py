"""VGG (Simonyan & Zisserman 2015): Table 1 configurations, exact parameter counts, torchvision
checkpoints."""

from __future__ import annotations

import pytest
import torch
import torchvision

import cnnzoo
from cnnzoo.analysis import profile

EXPECTED = {  # name: (params, reference MACs)
    "vgg11": (132_863_336, 7.61e9),
    "vgg11_lrn": (132_863_336, 7.61e9),
    "vgg13": (133_047_848, 11.31e9),
    "vgg16_c": (133_638_952, 11.77e9),
    "vgg16": (138_357_544, 15.47e9),
    "vgg19": (143_667_240, 19.63e9),
}


def _meta(name: str, **kw) -> torch.nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kw)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vgg_params_are_exact_and_macs_within_0_1_percent(name):
    params, macs = EXPECTED[name]
    p = profile(_meta(name), (3, 224, 224))
    assert p.total_params == params == cnnzoo.model_info(name).paper_params
    assert abs(p.total_macs / macs - 1) < 1e-3


@pytest.mark.parametrize(
    ("name", "tv"),
    [("vgg11_bn", "vgg11_bn"), ("vgg13_bn", "vgg13_bn"), ("vgg16_bn", "vgg16_bn"), ("vgg19_bn", "vgg19_bn")],
)
def test_bn_variants_have_torchvisions_parameter_names_and_shapes(name, tv):
    ours = _meta(name).state_dict()
    with torch.device("meta"):
        theirs = getattr(torchvision.models, tv)(weights=None).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


def test_config_c_has_1x1_convs_as_third_layer_of_the_last_three_stages():
    m = _meta("vgg16_c")
    ks = [c.kernel_size[0] for c in m.features if isinstance(c, torch.nn.Conv2d)]
    assert ks == [3, 3, 3, 3, 3, 3, 1, 3, 3, 1, 3, 3, 1]


def test_a_lrn_puts_lrn_after_the_first_conv_and_relu():
    m = _meta("vgg11_lrn")
    assert [type(x).__name__ for x in m.features[:4]] == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]


def test_vgg_interface_num_classes_in_chans_and_groups():
    m = _meta("vgg11", num_classes=10, in_chans=1)
    assert m.get_classifier().out_features == 10 and m.features[0].in_channels == 1
    assert list(m.layer_groups()) == ["block1", "block2", "block3", "block4", "block5", "fc", "head"]
    m.reset_classifier(5)
    assert m.classifier[6].out_features == 5


def test_vgg_needs_224_without_adaptive_pool_and_takes_64_with_it():
    assert profile(_meta("vgg11"), (3, 224, 224)).min_input_size == 224
    assert profile(_meta("vgg11", adaptive_pool=True), (3, 64, 64)).total_params == 132_863_336


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg11", "vgg11_bn"])
def test_torchvision_state_dict_loads_and_outputs_match(name, tmp_path):
    torch.manual_seed(0)
    tv = getattr(torchvision.models, name)(weights=None, num_classes=10).eval()
    path = tmp_path / f"{name}.pth"
    torch.save(tv.state_dict(), path)
    ours = cnnzoo.create_model(name, num_classes=10, weights=f"torchvision:{path}").eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), tv(x), atol=1e-5, rtol=1e-5)
