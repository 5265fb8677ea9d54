"""Each model's training recipe is part of its registry entry (issue #12): ``@register_model(recipe=...)``."""

from __future__ import annotations

from dataclasses import replace

import pytest

import cnnzoo
from cnnzoo.registry import _REGISTRY
from cnnzoo.train.recipes import RECIPES, default_recipe_for


@pytest.mark.parametrize("name", cnnzoo.list_models())
def test_every_model_names_its_recipe_and_train_uses_it(name: str) -> None:
    info = cnnzoo.model_info(name)
    assert info.recipe in RECIPES
    assert default_recipe_for(name) == info.recipe


def test_the_named_recipes_are_the_ones_the_family_rule_gave() -> None:
    """Moving the recipe into the entries changed no model's recipe: the family rule, still the fallback for
    a model registered without one, gives the same answer for all of them."""
    changed = []
    for name in cnnzoo.list_models():
        entry = _REGISTRY[name]
        original = entry.info
        entry.info = replace(original, recipe=None)
        try:
            fallback = default_recipe_for(name)
        finally:
            entry.info = original
        if fallback != original.recipe:
            changed.append((name, original.recipe, fallback))
    assert changed == []
    assert cnnzoo.model_info("resnet20").recipe == "resnet_cifar"
    assert cnnzoo.model_info("resnet50").recipe == "resnet_imagenet"
    assert cnnzoo.model_info("shufflenet_v2_x1_0").recipe == "mobilenet"
