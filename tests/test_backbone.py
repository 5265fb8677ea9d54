"""Every registered model as a backbone: ``create_model(NAME, features_only=True)``,
``forward_intermediates`` and ``feature_info`` (channels, reduction, receptive field, jump), against timm's
own feature extractors with the same weights (issue #26)."""

from __future__ import annotations

import pytest
import torch

import cnnzoo
from cnnzoo.backbone import FeatureExtractor
from cnnzoo.errors import CnnzooError, OptionError


def _timm_reference(ours: str, peer: str, kwargs: dict | None, x: torch.Tensor):
    """timm's ``peer`` (random weights, BatchNorm statistics moved off 0/1): its features-only
    ``feature_info`` and the tensors of those levels (hooked on the full network at the modules that
    ``feature_info`` names), and ours with the same weights loaded through cnnzoo's peer mapping
    (:mod:`cnnzoo.weights`) as a backbone."""
    timm = pytest.importorskip("timm")
    from cnnzoo.weights.load import timm_mobilenetv2_names
    from cnnzoo.weights.peers import randomize_bn

    torch.manual_seed(0)
    full = timm.create_model(peer, pretrained=False).eval()
    randomize_bn(full)
    info = timm.create_model(peer, pretrained=False, features_only=True).feature_info
    got: dict[str, torch.Tensor] = {}
    mods = dict(full.named_modules())
    hooks = [
        mods[n].register_forward_hook(lambda m, i, o, n=n: got.setdefault(n, o.clone()))
        for n in info.module_name()
    ]
    with torch.no_grad():
        full.forward_features(x)
    for h in hooks:
        h.remove()
    sd = full.state_dict()
    model = cnnzoo.create_model(ours, **(kwargs or {}))
    remap = getattr(model, "remap_state_dict", lambda sd, source: sd)  # as cnnzoo.weights.load does
    model.load_state_dict(timm_mobilenetv2_names(sd) if peer.startswith("mobilenetv2") else remap(sd, "timm"))
    return info, [got[n] for n in info.module_name()], FeatureExtractor(model).eval()


@pytest.mark.parametrize(
    "ours, peer, kwargs, size",
    [
        ("resnet50_v1_5", "resnet50", None, 64),
        ("densenet121", "densenet121", None, 64),
        ("mobilenet_v2", "mobilenetv2_100", None, 64),
        ("inception_v3", "inception_v3", {"count_include_pad": True, "aux_logits": False}, 75),
        ("xception", "legacy_xception", {"bn_eps": 1e-5}, 64),
    ],
)
def test_feature_levels_equal_timms_channels_reductions_and_tensors(ours, peer, kwargs, size) -> None:
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    info, theirs, mine = _timm_reference(ours, peer, kwargs, x)
    assert mine.feature_info.channels() == info.channels()
    assert mine.feature_info.reduction() == info.reduction()
    with torch.no_grad():
        feats = mine(x)
    assert len(feats) == len(theirs) == len(info)
    for t, m in zip(theirs, feats):
        assert t.shape == m.shape
        torch.testing.assert_close(m, t, rtol=1e-4, atol=1e-4)


def test_resnet50_levels_with_receptive_fields_and_out_indices() -> None:
    m = cnnzoo.create_model("resnet50_v1_5", features_only=True, out_indices=(1, 2, 3, 4))
    info = m.feature_info
    assert info.module_name() == ["layer1", "layer2", "layer3", "layer4"]
    assert info.channels() == [256, 512, 1024, 2048] and info.reduction() == [4, 8, 16, 32]
    assert info.jump() == info.reduction()
    # by hand (Araujo et al. 2019): the stem's 7x7/2 conv and 3x3/2 pool see 11 pixels at jump 4; each 3x3
    # at jump j adds 2j: layer1 3 x 8 -> 35; layer2 (v1.5: the stride in the 3x3) 8 + 3 x 16 -> 91; layer3
    # 16 + 5 x 32 -> 267; layer4 32 + 2 x 64 -> 427
    assert info.receptive_field() == [35, 91, 267, 427]
    assert cnnzoo.create_model("resnet50_v1_5").feature_info[0]["module"] == "relu"  # the stem's ReLU
    with torch.no_grad():
        feats = m(torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(256, 16, 16), (512, 8, 8), (1024, 4, 4), (2048, 2, 2)]
    assert m.model.get_classifier().__class__.__name__ == "Identity"  # a backbone has no classifier


def test_forward_intermediates_matches_forward_features_and_stops_early() -> None:
    torch.manual_seed(0)
    model = cnnzoo.create_model("resnet18").eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        final, feats = model.forward_intermediates(x)
        assert torch.equal(final, model.forward_features(x))
        assert torch.equal(feats[-1], final)
        last_two = model.forward_intermediates(x, indices=2, intermediates_only=True)
        assert [t.shape[1] for t in last_two] == [256, 512]
        calls = []
        h = model.layer4.register_forward_hook(lambda *a: calls.append(1))
        early = model.forward_intermediates(x, indices=[1], stop_early=True, intermediates_only=True)
        h.remove()
    assert calls == [] and torch.equal(early[0], feats[1])  # layer4 never ran
    with pytest.raises(OptionError, match="does not exist"):
        model.forward_intermediates(x, indices=[7])
    with pytest.raises(CnnzooError, match="features_only"):
        cnnzoo.create_model("resnet18", out_indices=(1, 2))


def test_a_captured_level_is_not_changed_by_a_later_in_place_operation() -> None:
    # ResNet's stem ReLU is in place on bn1's output; the level is the ReLU's output, kept as it was
    model = cnnzoo.create_model("resnet18").eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        (stem,) = model.forward_intermediates(x, indices=[0], intermediates_only=True)
        expect = model.relu(model.bn1(model.conv1(x)))
    assert torch.equal(stem, expect) and stem.min() >= 0


@pytest.mark.slow  # ~30 s: 110 models traced and run on the meta device
def test_every_registered_model_is_a_backbone_on_the_meta_device() -> None:
    """features_only for the whole registry: levels strictly deeper, channels and reductions equal to the
    shapes the maps really have (meta device: no memory, no arithmetic)."""
    bad = []
    for name in cnnzoo.list_models():
        with torch.device("meta"):
            m = cnnzoo.create_model(name, features_only=True)
        info = m.feature_info
        c, h, w = cnnzoo.model_info(name).input_size
        feats = m(torch.empty(1, c, h, w, device="meta"))
        red = info.reduction()
        ok = (
            len(feats) == len(info) >= 2
            and red == sorted(set(red))
            and [f.shape[1] for f in feats] == info.channels()
            # a map is at most input / reduction ("valid" convolutions shrink it further: 299 -> 8 at 32)
            and all(1 <= f.shape[2] <= -(-h // r) for f, r in zip(feats, red))
            and all(rf >= r for rf, r in zip(info.receptive_field(), red))
        )
        if not ok:
            bad.append((name, info.get_dicts(), [tuple(f.shape) for f in feats]))
    assert not bad, bad


@pytest.mark.slow  # ~60 s: 35 pairs of networks built on the meta device
def test_channels_and_reductions_equal_timms_for_every_architecture_timm_has() -> None:
    """Where timm builds the same architecture (the peers of cnnzoo's weights table: torchvision's, which
    timm also implements, and timm's own), its feature_info and ours agree level by level."""
    timm = pytest.importorskip("timm")
    from cnnzoo.weights.table import entries

    pairs: dict[str, str] = {}
    for e in entries():
        if e.source == "timm":
            pairs[e.model] = e.tag.split(".")[0]
        elif e.source == "torchvision":
            peer = e.peer.split("(")[0].rsplit(".", 1)[-1]
            if peer in timm.list_models():
                pairs.setdefault(e.model, peer)
    assert len(pairs) >= 35
    bad = []
    for ours, peer in sorted(pairs.items()):
        with torch.device("meta"):
            theirs = timm.create_model(peer, features_only=True).feature_info
            mine = cnnzoo.create_model(ours, features_only=True).feature_info
        if (mine.channels(), mine.reduction()) != (theirs.channels(), theirs.reduction()):
            bad.append((ours, peer, mine.channels(), theirs.channels(), mine.reduction(), theirs.reduction()))
    assert not bad, bad
