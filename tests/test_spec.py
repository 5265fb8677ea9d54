"""The lecture-notation spec parser (cnnzoo.analysis.spec)."""

from __future__ import annotations

import pytest
from torch import nn

from cnnzoo.analysis import build_from_spec, parse_spec, profile
from cnnzoo.errors import SpecError


def test_vgg_and_cs109b_forms_build_the_same_convolution():
    a = build_from_spec("conv5-16/s2/p2", 8, 32)[0]
    b = build_from_spec("conv 16 5x5 s2 same", 8, 32)[0]
    for m in (a, b):
        assert (m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding) == (
            8,
            16,
            (5, 5),
            (2, 2),
            (2, 2),
        )


def test_conv_options_stride_padding_dilation_groups_nobias():
    c = build_from_spec("conv3-64/s2/p0/d2/g2/nobias", 4, 32)[0]
    assert (c.stride, c.padding, c.dilation, c.groups, c.bias) == ((2, 2), (0, 0), (2, 2), 2, None)


def test_defaults_same_padding_relu_after_hidden_layers_pools_2_by_2():
    m = build_from_spec("conv3-64; conv1-32; maxpool; fc-10; fc-5", 3, 8)
    types = [type(x).__name__ for x in m]
    assert types == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear"]
    assert m[0].padding == (1, 1) and m[2].padding == (0, 0)
    assert (m[4].kernel_size, m[4].stride) == (2, 2)
    assert m[6].in_features == 32 * 4 * 4


def test_every_token_kind_builds():
    m = build_from_spec(
        "conv3-8, bn, LRN, avgpool3/s1/p1, maxpool 3x3 s2 ceil, gap, flatten, dense 6, bn, relu,"
        " dropout-0.25, fc-2, softmax",
        3,
        9,
        act=None,
    )
    assert [type(x).__name__ for x in m] == [
        "Conv2d",
        "BatchNorm2d",
        "LocalResponseNorm",
        "AvgPool2d",
        "MaxPool2d",
        "AdaptiveAvgPool2d",
        "Flatten",
        "Linear",
        "BatchNorm1d",
        "ReLU",
        "Dropout",
        "Linear",
        "Softmax",
    ]
    assert m[10].p == 0.25 and m[4].ceil_mode


def test_batch_norm_goes_between_conv_and_relu():
    m = build_from_spec("conv3-8", 3, batch_norm=True)
    assert [type(x).__name__ for x in m] == ["Conv2d", "BatchNorm2d", "ReLU"]


def test_parse_reports_positions():
    toks = parse_spec("conv3-64,  maxpool ; fc-10")
    assert [(t.kind, t.index, t.column) for t in toks] == [("conv", 1, 1), ("maxpool", 2, 12), ("fc", 3, 22)]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("conv3-64, foo-3", r"token 2 'foo-3' \(column 11\): unknown layer"),
        ("conv3-x", r"token 1 'conv3-x'"),
        ("conv-64", r"give the filter size"),
        ("conv3-64/q4", r"cannot read 'q4'"),
        ("dropout-1.5", r"dropout probability"),
        ("conv3-6/g4", r"4 groups do not divide"),
        ("", r"empty"),
        ("conv3-8, fc-10", r"needs input_size"),
        ("flatten, conv3-8", r"token 2 .*cannot follow a flattened"),
    ],
)
def test_malformed_specs_raise_spec_error_pointing_at_the_token(spec, message):
    with pytest.raises(SpecError, match=message):
        build_from_spec(spec, 3)


def test_window_that_does_not_fit_the_map_is_a_spec_error():
    with pytest.raises(SpecError, match=r"token 3 'maxpool'.*does not fit the 1x1 map"):
        build_from_spec("conv3-8, maxpool, maxpool", 3, 2)


def test_seed_network_profiles_to_the_slides_total():
    m = build_from_spec("conv 8 3x3 s1 same; conv 16 5x5 s2 same; flatten; dense 512; dense 4", 3, (32, 32))
    assert profile(m, (3, 32, 32)).total_params == (8 * 27 + 8) + (16 * 200 + 16) + (4096 * 512 + 512) + 2052
    assert isinstance(m[-1], nn.Linear) and m[-1].out_features == 4
