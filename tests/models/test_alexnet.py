"""AlexNet (Krizhevsky et al. 2012), its single-tower and torchvision variants, and ZFNet (Zeiler & Fergus
2013): exact parameter counts, MACs, shapes, train/eval behaviour, and loading torchvision's state dicts
(including refusing broken or unsafe files)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from modelkit import assert_matches_peer, meta_model, n_params

import cnnzoo
from cnnzoo.errors import CheckpointError
from cnnzoo.models.layers import LocalResponseNorm


@pytest.mark.parametrize(
    ("name", "params", "exact_macs", "reference_macs"),
    [
        ("alexnet", 60_965_224, 724_406_816, 724.4e6),
        ("alexnet_single", 62_378_344, 1_135_256_096, 1_135e6),
        ("alexnet_owt", 61_100_840, 714_188_480, 714.2e6),
        ("zfnet", 62_357_608, 1_168_032_896, 1.168e9),
    ],
)
def test_alexnet_family_parameters_and_macs_are_exact(
    name: str, params: int, exact_macs: int, reference_macs: float
) -> None:
    m = meta_model(name)
    assert n_params(m) == params
    p = cnnzoo.profile(m, cnnzoo.model_info(name).input_size)
    assert (p.total_params, p.total_macs) == (params, exact_macs)
    assert abs(p.total_macs / reference_macs - 1) < 0.005
    assert cnnzoo.model_info(name).paper_params == params


def test_alexnet_grouping_halves_the_macs_of_conv2_conv4_conv5() -> None:
    def layer_macs(name: str) -> dict[str, int]:
        with torch.device("meta"):
            m = cnnzoo.create_model(name)
        return {r.name: r.macs for r in cnnzoo.profile(m, (3, 227, 227)).rows if r.macs}

    two_tower, single = layer_macs("alexnet"), layer_macs("alexnet_single")
    halved = {"features.conv2", "features.conv4", "features.conv5"}
    for layer, m in single.items():
        assert two_tower[layer] == (m // 2 if layer in halved else m), layer
    # conv2: 27x27x256 outputs, each reading 48 of the 96 input maps through a 5x5 kernel (one tower's half).
    assert two_tower["features.conv2"] == 27 * 27 * 256 * 48 * 5 * 5


def test_alexnet_is_the_two_tower_network_with_lrn_after_conv1_and_conv2() -> None:
    m = cnnzoo.create_model("alexnet")
    f = m.features
    assert [f.conv2.groups, f.conv3.groups, f.conv4.groups, f.conv5.groups] == [2, 1, 2, 2]
    names = list(f._modules)
    assert names.index("norm1") == names.index("relu1") + 1
    assert names.index("pool1") == names.index("norm1") + 1
    assert names.index("norm2") == names.index("relu2") + 1
    assert isinstance(f.norm1, LocalResponseNorm)
    assert (f.norm1.k, f.norm1.size, f.norm1.alpha, f.norm1.beta) == (2.0, 5, 1e-4, 0.75)
    assert (f.pool1.kernel_size, f.pool1.stride) == (3, 2)
    assert m.classifier.drop6.p == 0.5 and m.classifier.drop7.p == 0.5
    # Sec. 5: biases 1 in conv2, conv4, conv5 and the hidden FC layers, 0 in conv1, conv3 and fc8.
    ones = [
        bool((layer.bias == 1).all())
        for layer in (
            f.conv1,
            f.conv2,
            f.conv3,
            f.conv4,
            f.conv5,
            m.classifier.fc6,
            m.classifier.fc7,
            m.classifier.fc8,
        )
    ]
    assert ones == [False, True, False, True, True, True, True, False]


def test_zfnet_maps_are_110_55_26_13_6_as_in_fig3() -> None:
    m = meta_model("zfnet")
    x = torch.empty(1, 3, 224, 224, device="meta")
    sizes = {}
    for name, layer in m.features.named_children():
        x = layer(x)
        sizes[name] = x.shape[-1]
    assert [sizes[k] for k in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")] == [
        110,
        55,
        26,
        13,
        13,
        6,
    ]
    assert m.features.conv1.kernel_size == (7, 7) and m.features.conv1.stride == (2, 2)
    assert m.features.conv4.groups == 1


@pytest.mark.parametrize("name", ["alexnet", "alexnet_single", "alexnet_owt", "zfnet"])
def test_alexnet_family_meta_forward_gives_1000_logits(name: str) -> None:
    m = meta_model(name)
    size = cnnzoo.model_info(name).input_size
    assert m(torch.empty(2, *size, device="meta")).shape == (2, 1000)
    features = m.forward_features(torch.empty(2, *size, device="meta"))
    assert m.forward_head(features, pre_logits=True).shape == (2, 4096)


@pytest.mark.parametrize("name", ["alexnet", "alexnet_owt"])
def test_alexnet_real_forward_backward_reaches_every_parameter_and_eval_is_deterministic(name: str) -> None:
    m = cnnzoo.create_model(name, num_classes=7).train()
    x = torch.randn(1, *cnnzoo.model_info(name).input_size)
    logits = m(x)
    assert logits.shape == (1, 7) and torch.isfinite(logits).all()
    F.cross_entropy(logits, torch.tensor([5])).backward()
    for pname, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    with torch.no_grad():
        assert not torch.equal(m(x), m(x))  # dropout is active in training
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(x), m(x))


def test_alexnet_takes_in_chans_and_reset_classifier() -> None:
    m = meta_model("alexnet", in_chans=1, num_classes=10)
    assert m.features.conv1.in_channels == 1 and m.get_classifier().out_features == 10
    m.reset_classifier(3)
    assert m.classifier.fc8.out_features == 3
    assert list(m.layer_groups()) == [
        "features.conv1",
        "features.conv2",
        "features.conv3",
        "features.conv4",
        "features.conv5",
        "classifier.fc6",
        "classifier.fc7",
        "classifier.fc8",
    ]


def test_alexnet_owt_loads_a_torchvision_state_dict_and_matches_its_outputs(tmp_path) -> None:
    torch.manual_seed(1)
    tv = torchvision.models.alexnet()
    assert_matches_peer(tv, tmp_path / "alexnet_tv.pth", "alexnet_owt", "torchvision", (3, 224, 224), rtol=0)


class _Payload:  # an object whose unpickling would need this test module's code
    def __init__(self) -> None:
        self.weights = torch.zeros(3)


def test_broken_or_unsafe_weight_files_are_refused_with_a_checkpoint_error(tmp_path) -> None:
    build = meta_model  # the model only receives the file; each refusal comes before any weight is used
    good = tmp_path / "small.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 11, 11)}, good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        build("alexnet_owt", weights=f"torchvision:{truncated}")
    mismatched = tmp_path / "mismatched.pth"
    torch.save({"features.0.weight": torch.zeros(96, 3, 11, 11), "fc.weight": torch.zeros(2, 2)}, mismatched)
    with pytest.raises(CheckpointError, match="not fit model 'alexnet_owt'.*missing.*unexpected.*mis-shaped"):
        build("alexnet_owt", weights=f"torchvision:{mismatched}")
    pickled = tmp_path / "code.pth"
    torch.save(_Payload(), pickled)
    with pytest.raises(CheckpointError, match="refusing to load"):
        build("alexnet_owt", weights=f"torchvision:{pickled}")


def test_alexnet_model_info_carries_the_papers_figures() -> None:
    info = cnnzoo.model_info("alexnet")
    assert (info.year, info.input_size, info.paper_top1, info.paper_top5) == (2012, (3, 227, 227), 40.7, 18.2)
    assert any("227" in d for d in info.deviations)
    assert cnnzoo.model_info("alexnet_owt").peer == "torchvision:alexnet"
    assert cnnzoo.model_info("zfnet").paper_top5 == 16.5
