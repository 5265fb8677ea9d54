"""Every registered model honours the common interface: metadata, shapes, classifier reset, layer groups."""

from __future__ import annotations

import pytest
import torch

import cnnzoo
from cnnzoo.models.base import ZooModel

ALL = cnnzoo.list_models()


def test_the_zoo_has_every_family_the_lectures_name() -> None:
    families = {cnnzoo.model_info(n).family for n in ALL}
    for f in (
        "lenet",
        "alexnet",
        "nin",
        "vgg",
        "googlenet",
        "inception",
        "resnet",
        "preact_resnet",
        "wide_resnet",
        "resnext",
        "senet",
        "densenet",
        "fractalnet",
        "squeezenet",
        "mobilenet",
        "shufflenet",
        "xception",
        "nasnet",
    ):
        assert any(x.startswith(f) for x in families), f


@pytest.mark.parametrize("name", ALL)
def test_model_info_is_complete(name: str) -> None:
    info = cnnzoo.model_info(name)
    assert info.paper and 1989 <= info.year <= 2019 and info.description
    c, h, w = info.input_size
    assert c in (1, 3) and h == w and h >= 28


@pytest.mark.parametrize("name", ALL)
def test_meta_forward_at_default_size_gives_one_logit_per_class_and_the_head_resets(name: str) -> None:
    info = cnnzoo.model_info(name)
    with torch.device("meta"):
        m = cnnzoo.create_model(name)
    assert isinstance(m, ZooModel)
    m.eval()
    x = torch.empty(2, *info.input_size, device="meta")
    with torch.no_grad():  # two passes through the trunk: the deepest nets take seconds even on meta
        features = m.forward_features(x)
        assert tuple(m.forward_head(features).shape) == (2, info.num_classes)
        pre_logits = m.forward_head(features, pre_logits=True)
        m.reset_classifier(7)
        assert tuple(m(x).shape) == (2, 7)
    assert pre_logits.shape[0] == 2 and pre_logits.ndim == 2


@pytest.mark.parametrize("name", ALL)
def test_layer_groups_hold_every_parameter_exactly_once(name: str) -> None:
    with torch.device("meta"):
        m = cnnzoo.create_model(name)
    groups = m.layer_groups()
    assert len(groups) >= 3 and list(groups)[0] != list(groups)[-1]
    seen = [id(p) for g in groups.values() for p in g.parameters()]
    assert len(seen) == len(set(seen)) == len(list(m.parameters()))
    head = list(groups.values())[-1]
    assert any(mod is m.get_classifier() for mod in head.modules())
