"""Publishers' older key layouts, upgraded to today's names as the publishers' own loaders upgrade them.

Files published years ago keep the names their code had then, and the publishers' loaders still accept
them; so must we, or a file torchvision itself loads would be refused here:

- **torchvision's DenseNet files** (``densenet121-a639ec97.pth`` and the 161/169/201 ones, all four still
  the published files) name each dense layer's modules ``norm.1``, ``relu.1``, ``conv.1``, ``norm.2``...
  (from an old ``nn.Sequential`` ``add_module("norm.1", ...)``); ``torchvision.models.densenet``'s
  ``_load_state_dict`` rewrites them with a regular expression to ``norm1``, ``conv1``... before loading.
- **BatchNorm without ``num_batches_tracked``**: files saved before PyTorch 0.4.1 have no such buffer;
  ``nn.BatchNorm2d._load_from_state_dict`` fills it with 0 for them (the counter is only read when
  ``momentum=None``), and ``torch.hub``/torchvision load such files.

:func:`upgrade` applies a rename only where the model has the new name and the file lacks it (so a file
already in today's layout passes untouched), and adds a missing counter only for BatchNorm layers. The
loader (:func:`cnnzoo.weights.load.state_dict_for`) calls it on every weights file before the strict fit
check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["LEGACY_RENAMES", "LegacyRename", "upgrade"]


@dataclass(frozen=True)
class LegacyRename:
    """One publisher's old naming: keys matching ``pattern`` become ``replacement`` (``re.sub`` syntax)."""

    publisher: str
    pattern: re.Pattern[str]
    replacement: str


LEGACY_RENAMES: tuple[LegacyRename, ...] = (
    LegacyRename(
        "torchvision DenseNet-121/161/169/201 files (norm.1 -> norm1, conv.2 -> conv2)",
        re.compile(
            r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.(weight|bias|running_mean|running_var)$"
        ),
        r"\1\2.\3",
    ),
)


def upgrade(state_dict: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """``state_dict`` with the legacy names ``model`` does not have renamed to the ones it has, and a zero
    ``num_batches_tracked`` added for each BatchNorm layer whose file entry lacks it."""
    own = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = key
        if key not in own:
            for rule in LEGACY_RENAMES:
                candidate = rule.pattern.sub(rule.replacement, key)
                if candidate != key and candidate in own:
                    new = candidate
                    break
        out[new] = value
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
            key = f"{name}.num_batches_tracked" if name else "num_batches_tracked"
            weight = f"{name}.running_mean" if name else "running_mean"
            if key in own and key not in out and weight in out:
                out[key] = torch.tensor(0, dtype=torch.long)
    return out
