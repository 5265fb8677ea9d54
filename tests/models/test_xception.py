"""Xception (Chollet 2017): Table 3's exact parameter count, MACs within 1% of the reference, shapes,
train/eval behaviour, layer groups, and equivalence with timm's legacy_xception."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from modelkit import assert_groups_partition, assert_matches_peer, assert_trains
from torch import nn

import cnnzoo


def meta_xception(**kw: object) -> nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model("xception", **kw)


def test_xception_has_22855952_parameters_as_in_table_3() -> None:
    assert sum(p.numel() for p in meta_xception().parameters()) == 22_855_952


def test_xception_macs_at_299_are_8357403496_within_1_percent_of_reference() -> None:
    macs = cnnzoo.profile(meta_xception().eval(), (3, 299, 299)).total_macs
    assert macs == 8_357_403_496
    assert abs(macs - 8.40e9) / 8.40e9 < 0.01


def test_xception_meta_forward_at_299_gives_logits_and_2048_features() -> None:
    model = meta_xception(num_classes=9).eval()
    x = torch.empty(2, 3, 299, 299, device="meta")
    assert model.forward_features(x).shape == (2, 2048, 10, 10)
    assert model(x).shape == (2, 9)


def test_xception_trains_at_32x32_with_a_grad_on_every_parameter() -> None:
    assert_trains(cnnzoo.create_model("xception", num_classes=3), torch.randn(2, 3, 32, 32), 3)


def test_xception_dropout_before_the_classifier_acts_only_in_training() -> None:
    model = cnnzoo.create_model("xception", num_classes=4)
    feats = torch.randn(3, 2048, 1, 1)
    with torch.no_grad():
        model.eval()
        assert torch.equal(model.forward_head(feats), model.forward_head(feats))
        model.train()
        assert not torch.equal(model.forward_head(feats), model.forward_head(feats))


def test_xception_layer_groups_follow_the_three_flows_and_hold_every_parameter_once() -> None:
    assert_groups_partition(meta_xception(), ["stem", "entry_flow", "middle_flow", "exit_flow", "head"])


@pytest.mark.slow
def test_xception_matches_timm_legacy_xception(tmp_path: Path) -> None:
    timm = pytest.importorskip("timm")
    peer = timm.create_model("legacy_xception")
    assert_matches_peer(peer, tmp_path / "x.pth", "xception", "timm", (3, 32, 32), bn_eps=1e-5)
