"""Each model's training recipe is part of its registry entry (issue #12) and is its own paper's (issue #28):
``@register_model(recipe=...)`` names a recipe that exists, that recipe was written for the paper the
entry cites, and no family falls back to another paper's recipe without anyone noticing."""

from __future__ import annotations

from dataclasses import replace

import pytest

import cnnzoo
from cnnzoo.errors import CnnzooError
from cnnzoo.registry import _REGISTRY
from cnnzoo.train.recipes import CITED_FIELDS, RECIPES, default_recipe_for


@pytest.mark.parametrize("name", cnnzoo.list_models())
def test_every_model_names_a_recipe_of_its_own_paper(name: str) -> None:
    info = cnnzoo.model_info(name)
    assert info.recipe in RECIPES
    assert default_recipe_for(name) == info.recipe
    recipe = RECIPES[info.recipe]
    assert any(p in info.paper for p in recipe.papers), (name, info.paper, recipe.papers)


def test_a_model_without_a_recipe_is_an_error_not_a_fallback() -> None:
    entry = _REGISTRY["densenet121"]
    original = entry.info
    entry.info = replace(original, recipe=None)
    try:
        with pytest.raises(CnnzooError, match="names no training recipe"):
            default_recipe_for("densenet121")
    finally:
        entry.info = original


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_every_recipe_cites_a_source_for_each_paper_field(recipe: str) -> None:
    r = RECIPES[recipe]
    missing = [f for f in CITED_FIELDS if not r.cites.get(f)]
    assert missing == [], (recipe, missing)
    assert r.papers and any(w in r.source for w in ("Sec.", "Appendix", "code"))


def test_the_families_that_fell_back_to_resnet_now_have_their_own_recipes() -> None:
    """The issue's list: DenseNet, WRN, ResNeXt, SENet, FractalNet, NiN, Xception, ShuffleNet, NASNet and
    the Inception-v3/v4 networks trained with ResNet's, MobileNet's or GoogLeNet's recipe."""
    own = {
        "densenet121": "densenet_imagenet",
        "densenet_bc100_k12": "densenet_cifar",
        "wrn28_10": "wrn_cifar",
        "wide_resnet50_2": "wrn_imagenet",
        "resnext50_32x4d": "resnext_imagenet",
        "resnext29_8x64d": "resnext_cifar",
        "se_resnet50": "senet",
        "fractalnet_cifar": "fractalnet",
        "nin_cifar": "nin",
        "xception": "xception",
        "shufflenet_v1": "shufflenet_v1",
        "shufflenet_v2_x1_0": "shufflenet_v2",
        "nasnet_a_mobile": "nasnet",
        "inception_v3": "inception_v3",
        "inception_v4": "inception_v4",
        "inception_resnet_v2": "inception_v4",
        "squeezenet1_1": "squeezenet",
        "mobilenet_v2": "mobilenet_v2",
        "efficientnet_lite0": "efficientnet_lite",
        "zfnet": "zfnet",
        "preact_resnet164": "preact_resnet_cifar",
        "resnet20": "resnet_cifar",
        "resnet50": "resnet_imagenet",
    }
    assert {n: cnnzoo.model_info(n).recipe for n in own} == own


def test_inception_v3_recipe_is_section_8_and_7() -> None:
    r = RECIPES["inception_v3"]
    assert (r.optimizer, r.rmsprop_alpha, r.rmsprop_eps, r.lr, r.factor, r.step_epochs) == (
        "rmsprop_tf",
        0.9,
        1.0,
        0.045,
        0.94,
        2,
    )
    assert (r.label_smoothing, r.clip_grad_norm, r.batch_size, r.epochs) == (0.1, 2.0, 32, 100)
    assert r.ema_decay == 0.9999 and r.ema_warmup
    assert RECIPES["nasnet"].drop_path_schedule == "linear" and RECIPES["nasnet"].label_smoothing == 0.1
    assert RECIPES["googlenet"].aux_weight == 0.3 and RECIPES["googlenet"].ema_decay > 0
