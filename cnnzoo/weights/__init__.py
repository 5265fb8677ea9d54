"""Pretrained weights: the table of published checkpoints that fit our models, fetching them, loading them.

>>> import cnnzoo
>>> m = cnnzoo.create_model("resnet50_v1_5", pretrained=True)            # torchvision's IMAGENET1K_V2
>>> m = cnnzoo.create_model("xception", weights="timm")                   # builds bn_eps=1e-5 itself
>>> cnnzoo.weights.load_weights(m, "torchvision:resnet50.pth")           # a peer's file, never unpickled code

:mod:`.table` is the data, :mod:`.hub` gets files (cache, ``torch.hub`` and ``huggingface_hub`` downloads,
mirror, offline), :mod:`.load` resolves a ``weights=`` string and loads it.
"""

from __future__ import annotations

from ..checkpoint import check_fit, extract_state_dict
from .hub import cache_dir, configure, fetch
from .load import SOURCES, load_weights, parse_weights_spec, resolve
from .table import ENTRIES, WeightsEntry, default_entry, entries, models_with_weights

__all__ = [
    "ENTRIES",
    "SOURCES",
    "WeightsEntry",
    "cache_dir",
    "check_fit",
    "configure",
    "default_entry",
    "entries",
    "extract_state_dict",
    "fetch",
    "load_weights",
    "models_with_weights",
    "parse_weights_spec",
    "resolve",
]
