"""Effective receptive field (Luo et al. 2016): the gradient support fills exactly the theoretical field
(cnnzoo.profile's) on small networks, never leaves it, the mass radii are right on known maps, and the
`cnnzoo erf` command."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.analysis.erf import FEATURES, _radius, effective_receptive_field
from cnnzoo.errors import CnnzooError


def _net(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "strided":
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 5, stride=2, padding=2)
        )
    if kind == "dilated":
        return nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=2, dilation=2), nn.Tanh(), nn.Conv2d(4, 3, 3, padding=1)
        )
    return nn.Sequential(
        nn.Conv2d(1, 3, 7, stride=2), nn.ReLU(), nn.AvgPool2d(3, 2), nn.Conv2d(3, 2, 3)
    )  # valid


# (network, layers, expected theoretical field per layer) -- by hand: rf += (k-1)*d*jump, jump *= s
CASES = [
    ("strided", ["0", "2", "3"], [3, 4, 12]),
    ("dilated", ["0", "2"], [5, 7]),
    ("valid", ["0", "2", "3"], [7, 11, 19]),
]


@pytest.mark.parametrize("size", [29, 36])
@pytest.mark.parametrize(("kind", "layers", "rfs"), CASES)
def test_gradient_support_is_exactly_the_theoretical_field(kind, layers, rfs, size):
    net = _net(kind)
    cin = net[0].in_channels
    r = effective_receptive_field(net, layers, (cin, size, size), samples=6)
    assert [x.theory.rf for x in r.layers] == [(k, k) for k in rfs]
    for x in r.layers:
        assert x.within_theory and x.fills_theory, (x.layer, x.support_box, x.theory_box)


def test_lenet5_support_fills_every_layers_field_and_the_model_is_left_as_it_was():
    m = cnnzoo.create_model("lenet5").train()
    r = effective_receptive_field(m, samples=4)
    assert [x.layer for x in r.layers] == ["c1", "s2", "c3", "s4", "c5"]
    assert [x.theory.rf[0] for x in r.layers] == [5, 6, 14, 16, 32]
    assert all(x.fills_theory for x in r.layers)
    assert m.training and next(m.parameters()).dtype == torch.float32


def test_resnet_stages_stay_inside_their_field():
    m = cnnzoo.create_model("resnet20", num_classes=10)
    r = effective_receptive_field(m, ["layer1", "layer2", FEATURES], samples=2, dtype=torch.float32)
    # by hand: stem 3; layer1 +6 convs x 2 = 15; layer2 +2 (stride-2 conv) + 5 x 4 = 37, jump 2;
    # layer3 +4 + 5 x 8 = 81, jump 4
    assert [x.theory.rf[0] for x in r.layers] == [15, 37, 81]
    assert all(x.within_theory for x in r.layers)
    # a 32x32 image is smaller than the deep fields: the support is the whole image
    assert r.layers[-1].support_extent == (32, 32)


def test_mass_radii_on_known_maps():
    delta = torch.zeros(9, 9, dtype=torch.float64)
    delta[4, 4] = 1
    assert _radius(delta, (4.0, 4.0), 0.95) == 0.0
    ring = torch.zeros(9, 9, dtype=torch.float64)
    ring[4, 4], ring[4, 7] = 0.5, 0.5  # half the mass at the centre, half at distance 3
    assert _radius(ring, (4.0, 4.0), 0.4) == 0.0
    assert _radius(ring, (4.0, 4.0), 0.68) == 3.0


def test_unknown_layer_is_one_sentence():
    with pytest.raises(CnnzooError, match="no layer 'nope'"):
        effective_receptive_field(cnnzoo.create_model("lenet5"), ["nope"], samples=1)


def test_erf_cli_json_and_png(tmp_path, capsys):
    from cnnzoo.cli import main

    png = tmp_path / "erf.png"
    assert main(["erf", "lenet5", "--layers", "c1,c3", "--samples", "3", "--png", str(png), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [x["theoretical_rf"] for x in d["layers"]] == [[5, 5], [14, 14]]
    assert [x["support_extent"] for x in d["layers"]] == [[5, 5], [14, 14]]
    assert d["samples"] == 3 and png.stat().st_size > 1000
    assert main(["erf", "lenet5", "--layers", "c5", "--samples", "2", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "c5" in out and "32x32" in out and "r68" in out


def test_erf_cli_lists_the_layers_with_the_types_a_summary_shows(capsys):
    from cnnzoo.cli import main

    assert main(["erf", "lenet5", "--list-layers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "c5.conv  Conv2d" in lines and "c3.conv  SparseConv2d" in lines  # C5 trains faster, is a Conv2d
    assert lines[-1] == "default layers: c1, s2, c3, s4, c5"
