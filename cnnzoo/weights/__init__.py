"""Pretrained weights: the table of published checkpoints that fit our models, fetching them, loading them.

>>> import cnnzoo
>>> m = cnnzoo.create_model("resnet50_v1_5", pretrained=True)            # torchvision's IMAGENET1K_V2
>>> m = cnnzoo.create_model("xception", weights="timm")                   # builds bn_eps=1e-5 itself
>>> cnnzoo.weights.load_weights(m, "torchvision:resnet50.pth")           # a peer's file, never unpickled code

:mod:`.table` is the data, :mod:`.hub` gets files (cache, ``torch.hub`` and ``huggingface_hub`` downloads,
mirror, offline), :mod:`.load` resolves a ``weights=`` string and loads it. The table is imported eagerly
(no torch); the rest when first used, so ``cnnzoo list --pretrained`` starts without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .table import ENTRIES, WeightsEntry, default_entry, entries, models_with_weights

_LAZY = {
    "check_fit": "cnnzoo.checkpoint",
    "extract_state_dict": "cnnzoo.checkpoint",
    "cache_dir": "cnnzoo.weights.hub",
    "configure": "cnnzoo.weights.hub",
    "fetch": "cnnzoo.weights.hub",
    "SOURCES": "cnnzoo.weights.load",
    "load_weights": "cnnzoo.weights.load",
    "parse_weights_spec": "cnnzoo.weights.load",
    "resolve": "cnnzoo.weights.load",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ENTRIES", "WeightsEntry", "default_entry", "entries", "models_with_weights", *_LAZY]
