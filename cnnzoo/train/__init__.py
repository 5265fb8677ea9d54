"""Training and evaluation as the papers did it: recipes, the loop (:func:`fit` / :class:`Trainer`), metrics,
checkpoints that resume exactly, and data-parallel runs under torchrun.

>>> from cnnzoo.train import train_model, evaluate_checkpoints, RECIPES
"""

from __future__ import annotations

from .distributed import DistContext, ResumableSampler, init_distributed, shard_indices
from .loop import (
    FitResult,
    Trainer,
    TrainingDiverged,
    evaluate,
    fit,
    rng_state,
    seed_everything,
    set_rng_state,
)
from .metrics import EvalResult, Meter, confusion_matrix, plot_confusion, topk_accuracy, topk_correct
from .recipes import RECIPES, Recipe, default_recipe_for, get_recipe
from .run import RunResult, choose_out_dir, eval_data_for, evaluate_checkpoints, train_model

__all__ = [
    "RECIPES",
    "DistContext",
    "EvalResult",
    "FitResult",
    "Meter",
    "Recipe",
    "ResumableSampler",
    "RunResult",
    "Trainer",
    "TrainingDiverged",
    "choose_out_dir",
    "confusion_matrix",
    "default_recipe_for",
    "eval_data_for",
    "evaluate",
    "evaluate_checkpoints",
    "fit",
    "get_recipe",
    "init_distributed",
    "plot_confusion",
    "rng_state",
    "seed_everything",
    "set_rng_state",
    "shard_indices",
    "topk_accuracy",
    "topk_correct",
    "train_model",
]
