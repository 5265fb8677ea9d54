"""LeNet-5 (LeCun et al. 1998): the paper's per-layer parameters and connections, the sparse C3 of Table I,
the scaled tanh, the fixed RBF output, and the two modern variants."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from modelkit import n_params

import cnnzoo
from cnnzoo.errors import CnnzooError
from cnnzoo.models.lenet import EuclideanRBF, ScaledTanh

# Table I as the lecture prints it (rows: S2 maps 0-5; columns: C3 maps 0-15).
TABLE_I = """
X...XXX..XXXX.XX
XX...XXX..XXXX.X
XXX...XXX..X.XXX
.XXX..XXXX..X.XX
..XXX..XXXX.XX.X
...XXX..XXXX.XXX
"""


def test_lenet5_has_60000_trainable_parameters() -> None:
    assert n_params(cnnzoo.create_model("lenet5")) == 60_000


def test_lenet5_layers_have_the_papers_156_12_1516_32_48120_10164_parameters() -> None:
    m = cnnzoo.create_model("lenet5")
    per_layer = {name: n_params(group) for name, group in m.layer_groups().items()}
    assert per_layer == {"c1": 156, "s2": 12, "c3": 1_516, "s4": 32, "c5": 48_120, "f6": 10_164, "output": 0}


def test_lenet5_c3_connects_exactly_the_maps_of_table_I() -> None:
    m = cnnzoo.create_model("lenet5").eval()
    conv = m.c3.conv
    x = torch.randn(1, 6, 14, 14)
    base = conv(x)
    seen = torch.zeros(6, 16, dtype=torch.bool)
    for j in range(6):
        y = x.clone()
        y[:, j] += 1.0
        seen[j] = (conv(y) - base).abs().amax((0, 2, 3)) > 0
    expected = torch.tensor([[c == "X" for c in row] for row in TABLE_I.split()])
    assert torch.equal(seen, expected)
    fan_in = seen.sum(0).tolist()
    assert (fan_in.count(3), fan_in.count(4), fan_in.count(6)) == (6, 9, 1)


def test_lenet5_has_340908_connections_per_the_paper() -> None:
    c = cnnzoo.create_model("lenet5").connections()
    assert dict(c) == {
        "c1": 122_304,
        "s2": 5_880,
        "c3": 151_600,
        "s4": 2_000,
        "c5": 48_120,
        "f6": 10_164,
        "output": 840,
    }
    assert sum(c.values()) - c["output"] == 340_068
    assert sum(c.values()) == 340_908


def test_lenet5_profile_counts_326520_macs_connections_minus_biases_and_subsampling() -> None:
    m = cnnzoo.create_model("lenet5")
    p = cnnzoo.profile(m, (1, 32, 32))
    assert p.total_params == 60_000
    # MACs exclude the bias "connections" (6x28x28 + 16x10x10 + 120 + 84 = 6,508) and the subsampling layers'
    # (5,880 + 2,000) that the paper's 340,908 connections include.
    assert p.total_macs == 326_520
    assert p.total_macs == 340_908 - 6_508 - (5_880 + 2_000)


def test_lenet5_output_shapes_on_meta_and_small_real_input() -> None:
    m = cnnzoo.create_model("lenet5").to(torch.device("meta"))
    assert m(torch.empty(4, 1, 32, 32, device="meta")).shape == (4, 10)
    m = cnnzoo.create_model("lenet5")
    assert m.forward_features(torch.zeros(2, 1, 32, 32)).shape == (2, 120, 1, 1)
    assert m.forward_head(m.forward_features(torch.zeros(2, 1, 32, 32)), pre_logits=True).shape == (2, 84)


@pytest.mark.parametrize("name", ["lenet5", "lenet5_linear", "lenet5_modern"])
def test_lenet_forward_backward_reaches_every_parameter(name: str) -> None:
    m = cnnzoo.create_model(name).train()
    x = torch.randn(3, 1, 32, 32)
    logits = m(x)
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()
    F.cross_entropy(logits, torch.tensor([0, 3, 9])).backward()
    for pname, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(x), m(x))


def test_scaled_tanh_is_1_7159_tanh_two_thirds_a_and_maps_1_to_1() -> None:
    f = ScaledTanh()
    a = torch.tensor([-1.0, 0.0, 1.0, 3.0])
    assert torch.allclose(f(a), 1.7159 * torch.tanh(2 * a / 3))
    assert f(torch.tensor(1.0)).item() == pytest.approx(1.0, abs=1e-4)
    assert f(torch.tensor(-1.0)).item() == pytest.approx(-1.0, abs=1e-4)


def test_rbf_output_is_minus_squared_distance_to_fixed_prototypes() -> None:
    m = cnnzoo.create_model("lenet5")
    rbf = m.get_classifier()
    assert isinstance(rbf, EuclideanRBF)
    protos = rbf.prototypes
    assert protos.shape == (10, 84) and set(protos.unique().tolist()) == {-1.0, 1.0}
    assert "output.prototypes" in m.state_dict() and not any(p is protos for p in m.parameters())
    # Distinct codes: every pair of digit bitmaps differs in at least 6 of the 84 pixels.
    hamming = (protos[:, None] != protos[None]).sum(-1) + 84 * torch.eye(10, dtype=torch.long)
    assert hamming.min().item() == 6
    x = torch.randn(5, 84)
    assert torch.allclose(rbf(x), -((x[:, None] - protos[None]) ** 2).sum(-1), atol=1e-4)
    logits = rbf(protos[7:8])
    assert logits[0, 7].item() == pytest.approx(0.0, abs=1e-5) and logits.argmax().item() == 7


def test_lenet5_reset_classifier_keeps_an_rbf_head() -> None:
    m = cnnzoo.create_model("lenet5")
    m.reset_classifier(5)
    assert isinstance(m.output, EuclideanRBF) and m(torch.zeros(2, 1, 32, 32)).shape == (2, 5)
    m.reset_classifier(0)
    assert m(torch.zeros(2, 1, 32, 32)).shape == (2, 84)


def test_lenet5_linear_has_60850_and_modern_61706_parameters() -> None:
    lin = cnnzoo.create_model("lenet5_linear")
    modern = cnnzoo.create_model("lenet5_modern")
    assert n_params(lin) == 60_850 and n_params(lin.output) == 850
    assert n_params(modern) == 61_706 and n_params(modern.c3) == 2_416
    assert n_params(modern.s2) == 0 and isinstance(modern.s2.pool, torch.nn.MaxPool2d)


def test_lenet5_takes_num_classes_and_in_chans() -> None:
    m = cnnzoo.create_model("lenet5", num_classes=26, in_chans=3)
    assert m(torch.zeros(1, 3, 32, 32)).shape == (1, 26)
    assert m.output.prototypes.shape == (26, 84)


def test_lenet5_model_info_lists_its_deviations() -> None:
    info = cnnzoo.model_info("lenet5")
    assert (info.year, info.input_size, info.paper_params) == (1998, (1, 32, 32), 60_000)
    assert info.num_classes == 10
    assert any("RBF prototypes" in d for d in info.deviations)
    assert len(cnnzoo.model_info("lenet5_modern").deviations) == 5


def test_lenet_bad_option_is_a_clear_error() -> None:
    from cnnzoo.models.lenet import LeNet5

    with pytest.raises(CnnzooError, match="pool='avg'"):
        LeNet5(pool="avg")
