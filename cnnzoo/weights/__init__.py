"""Loading checkpoints from cnnzoo and from other libraries (torchvision, timm) into our models.

``load_weights(model, "torchvision:resnet50.pth")`` reads the file without executing code, maps its keys into
the model's own names (the model's ``remap_state_dict(state_dict, source)`` method, where the names differ),
and loads it strictly: a file that does not fit is one clear error naming the missing, unexpected and
mis-shaped keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..checkpoint import FORMAT, safe_load
from ..errors import CheckpointError

SOURCES = ("cnnzoo", "torchvision", "timm")


def parse_weights_spec(spec: str) -> tuple[str, str]:
    """Split ``"torchvision:FILE"`` into ``("torchvision", "FILE")``; a bare path is ``("cnnzoo", path)``."""
    source, sep, path = spec.partition(":")
    if sep and source in SOURCES:
        return source, path
    return "cnnzoo", spec


def extract_state_dict(data: Any, where: str) -> dict[str, torch.Tensor]:
    """The state dict inside a loaded file: a cnnzoo checkpoint, a ``{"state_dict"|"model": ...}`` wrapper
    (as many training scripts write), or a plain state dict."""
    if isinstance(data, Mapping):
        if data.get("format") == FORMAT:
            data = data["state_dict"]
        else:
            for key in ("state_dict", "model", "model_state_dict"):
                if isinstance(data.get(key), Mapping):
                    data = data[key]
                    break
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{where!r} holds no state dict (a mapping of parameter names to tensors).")
    return {k.removeprefix("module."): v for k, v in data.items()}


def check_fit(model: nn.Module, state_dict: Mapping[str, torch.Tensor], where: str) -> None:
    """Raise one clear :class:`CheckpointError` listing every key that does not fit ``model``."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shaped = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shaped:

        def few(xs: list[str]) -> str:
            return ", ".join(xs[:5]) + (f" (+{len(xs) - 5} more)" if len(xs) > 5 else "")

        parts = [
            f"{len(missing)} missing ({few(missing)})" if missing else "",
            f"{len(unexpected)} unexpected ({few(unexpected)})" if unexpected else "",
            f"{len(shaped)} mis-shaped ({few(shaped)})" if shaped else "",
        ]
        name = getattr(model, "cnnzoo_name", type(model).__name__)
        raise CheckpointError(
            f"{where!r} does not fit model {name!r}: "
            + "; ".join(p for p in parts if p)
            + ". Check that the file was saved from the matching architecture and number of classes."
        )


def load_weights(model: nn.Module, spec: str) -> nn.Module:
    """Load ``spec`` (``[torchvision:|timm:]FILE``) into ``model`` in place and return it."""
    source, path = parse_weights_spec(spec)
    sd = extract_state_dict(safe_load(path), path)
    remap = getattr(model, "remap_state_dict", None)
    if remap is not None:
        sd = remap(dict(sd), source)
    check_fit(model, sd, path)
    model.load_state_dict(sd)
    return model
