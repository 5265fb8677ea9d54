"""Training and evaluation as the papers did it: recipes, the loop (:func:`fit` / :class:`Trainer`), metrics,
checkpoints that resume exactly, and data-parallel runs under torchrun.

>>> from cnnzoo.train import train_model, evaluate_checkpoints, RECIPES
"""

from __future__ import annotations

import importlib
from typing import Any

#: The public names, by the module that defines them. They load on first use, so the light modules (the
#: recipes, read by ``cnnzoo train --help``) import without the training loop and torch.
_PUBLIC = {
    "distributed": ("DistContext", "ResumableSampler", "init_distributed", "shard_indices"),
    "loop": (
        "FitResult",
        "Trainer",
        "TrainingDiverged",
        "evaluate",
        "fit",
        "rng_state",
        "seed_everything",
        "set_rng_state",
    ),
    "metrics": ("EvalResult", "Meter", "confusion_matrix", "plot_confusion", "topk_accuracy", "topk_correct"),
    "recipes": ("RECIPES", "Recipe", "default_recipe_for", "get_recipe"),
    "run": ("RunResult", "choose_out_dir", "eval_data_for", "evaluate_checkpoints", "train_model"),
}
_WHERE = {name: module for module, names in _PUBLIC.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    if name in _PUBLIC:  # the modules themselves: cnnzoo.train.loop
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_WHERE)
