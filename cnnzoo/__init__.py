"""cnnzoo: the classic CNNs for image classification, LeNet-5 (1998) to NASNet (2018), built as their papers
drew them, and the tools taught with them.

>>> import cnnzoo
>>> m = cnnzoo.create_model("vgg16")
>>> cnnzoo.profile(m, (3, 224, 224)).total_params
138357544
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import CnnzooError
from .registry import ModelInfo, list_models, model_info, register_model

__version__ = "0.1.0"

# Names re-exported lazily, so `import cnnzoo` stays fast: name -> module that defines it.
_LAZY = {
    "create_model": "cnnzoo.factory",
    "profile": "cnnzoo.analysis",
    "Profile": "cnnzoo.analysis",
    "build_from_spec": "cnnzoo.models.spec",
    "load_weights": "cnnzoo.weights.load",
    "save_checkpoint": "cnnzoo.checkpoint",
    "load_checkpoint": "cnnzoo.checkpoint",
    "model_from_checkpoint": "cnnzoo.factory",
    "ModelRecord": "cnnzoo.record",
    "predict": "cnnzoo.classify",
    "transforms": "cnnzoo.classify",
}


#: Subpackages loaded on first attribute access (``import cnnzoo; cnnzoo.train.train_model(...)``), so the
#: plain import stays light (no torch) and every part is still one dot away.
_SUBMODULES = ("analysis", "data", "deploy", "explain", "models", "train", "transfer", "weights")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'cnnzoo' has no attribute {name!r}")


__all__ = [
    "CnnzooError",
    "ModelInfo",
    "list_models",
    "model_info",
    "register_model",
    "__version__",
    *_LAZY,
]
