"""Pretrained weights: the table of published checkpoints that fit our models, fetching them, loading them.

>>> import cnnzoo
>>> m = cnnzoo.create_model("resnet50_v1_5", pretrained=True)            # torchvision's IMAGENET1K_V2
>>> m = cnnzoo.create_model("xception", weights="timm")                   # builds bn_eps=1e-5 itself
>>> from cnnzoo.weights.load import load_weights
>>> load_weights(m, "torchvision:resnet50.pth")     # a peer's file, never unpickled code

:mod:`.table` is the data (imported here: no torch), :mod:`.hub` gets files (cache, ``torch.hub`` and
``huggingface_hub`` downloads, mirror, offline), :mod:`.load` resolves a ``weights=`` string and loads it
(``cnnzoo.load_weights`` is its :func:`~cnnzoo.weights.load.load_weights`), :mod:`.peers` builds the peers'
networks for the equivalence checks. Import those modules by name; this package re-exports only the table.
"""

from __future__ import annotations

from .table import ENTRIES, WeightsEntry, default_entry, entries, models_with_weights

__all__ = ["ENTRIES", "WeightsEntry", "default_entry", "entries", "models_with_weights"]
