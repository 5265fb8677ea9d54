"""Transfer learning: feature extraction, fine-tuning, per-group learning rates, joint training, distillation
and learning without forgetting, on top of the training loop of :mod:`cnnzoo.train`.

>>> from cnnzoo.transfer import finetune, Settings                      # doctest: +SKIP
>>> r = finetune(model, bundle, Settings(epochs=5, lr=0.01), freeze_epochs=1, unfreeze=2)   # doctest: +SKIP
>>> r.test.top1                                                         # doctest: +SKIP
"""

from __future__ import annotations

from ..registries import STRATEGIES
from .freeze import (
    classifier_of,
    freeze,
    freeze_body,
    head_modules,
    is_frozen,
    trainable_groups,
    unfreeze,
    unfreeze_last,
)
from .losses import distillation_loss, joint_loss, lwf_loss, soft_cross_entropy
from .strategies import (
    DEFAULT_LR_FACTOR,
    HeadView,
    Phase,
    SecondHead,
    Settings,
    TransferResult,
    discriminative,
    discriminative_param_groups,
    distill,
    feature_extraction,
    finetune,
    joint_training,
    learning_without_forgetting,
    record_outputs,
    replace_head,
)
from .tasks import class_subset, few_shot, prepare_model, run_transfer, strategy_options

__all__ = [
    "DEFAULT_LR_FACTOR",
    "STRATEGIES",
    "HeadView",
    "Phase",
    "SecondHead",
    "Settings",
    "TransferResult",
    "class_subset",
    "classifier_of",
    "discriminative",
    "discriminative_param_groups",
    "distill",
    "distillation_loss",
    "feature_extraction",
    "few_shot",
    "finetune",
    "freeze",
    "freeze_body",
    "head_modules",
    "is_frozen",
    "joint_loss",
    "joint_training",
    "learning_without_forgetting",
    "lwf_loss",
    "prepare_model",
    "record_outputs",
    "replace_head",
    "run_transfer",
    "soft_cross_entropy",
    "strategy_options",
    "trainable_groups",
    "unfreeze",
    "unfreeze_last",
]
