"""Losses of knowledge distillation (Hinton, Vinyals & Dean 2015) and Learning without Forgetting (Li & Hoiem
2016), and the joint-training loss of a network with one head per task.

Hinton et al. 2015, Sec. 2: the student is trained on the teacher's class probabilities softened by a
temperature ``T`` (``softmax(z / T)``) together with the true labels; "since the magnitudes of the gradients
produced by the soft targets scale as 1/T^2 it is important to multiply them by T^2 when using both hard and
soft targets". We write the soft term as the Kullback-Leibler divergence ``KL(p_teacher^T || p_student^T)``:
it differs from the paper's soft-target cross-entropy only by the teacher's entropy, a constant, so the
gradients are the paper's, and it is 0 when the student matches the teacher.

Li & Hoiem 2016 (LwF, Sec. 3, Eq. 2-3): the old task's outputs ``y_o`` are recorded on the new images before
training; the loss is ``L_new(y_n, y_hat_n) + lambda_o * L_old(y_o, y_hat_o)`` with ``L_old`` the
cross-entropy between the temperature-``T`` softened recorded and current old-task probabilities, ``T = 2``,
``lambda_o = 1`` (the paper uses no ``T^2`` factor).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_cross_entropy(logits: torch.Tensor, target_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean over the batch of ``-sum_i p_i log q_i`` with ``p = softmax(target_logits / T)`` and
    ``q = softmax(logits / T)`` (LwF's ``L_old``, Li & Hoiem 2016, Eq. 2)."""
    p = F.softmax(target_logits.detach().float() / temperature, dim=1)
    return -(p * F.log_softmax(logits.float() / temperature, dim=1)).sum(1).mean()


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor | None,
    temperature: float = 4.0,
    alpha: float = 0.9,
) -> torch.Tensor:
    """Hinton et al. 2015: ``alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)``.

    ``KL`` is averaged over the batch (``reduction="batchmean"``); with ``targets=None`` (or ``alpha=1``)
    only the soft term is used.
    """
    t = temperature
    soft = F.kl_div(
        F.log_softmax(student_logits.float() / t, dim=1),
        F.log_softmax(teacher_logits.detach().float() / t, dim=1),
        reduction="batchmean",
        log_target=True,
    ) * (t * t)
    if targets is None:
        return soft
    return alpha * soft + (1.0 - alpha) * F.cross_entropy(student_logits, targets)


def lwf_loss(
    new_logits: torch.Tensor,
    targets: torch.Tensor,
    old_logits: torch.Tensor,
    recorded_old_logits: torch.Tensor,
    temperature: float = 2.0,
    lambda_old: float = 1.0,
) -> torch.Tensor:
    """Li & Hoiem 2016, Eq. 1-3: ``CE(new, y) + lambda_o * soft_CE(old, recorded_old; T)``."""
    return F.cross_entropy(new_logits, targets) + lambda_old * soft_cross_entropy(
        old_logits, recorded_old_logits, temperature
    )


def joint_loss(logits: torch.Tensor, targets: torch.Tensor, num_old: int) -> torch.Tensor:
    """Joint training with one head per task (Li & Hoiem 2016, Sec. 2 "joint training"): ``logits`` are the
    old head's ``num_old`` columns followed by the new head's; a sample with label ``< num_old`` is an
    old-task sample and is scored by the old head's softmax alone, the others by the new head's (labels
    shifted down by ``num_old``). The mean is over all samples."""
    old = targets < num_old
    total = logits.new_zeros((), dtype=torch.float32)
    if old.any():
        total = total + F.cross_entropy(logits[old, :num_old].float(), targets[old], reduction="sum")
    if (~old).any():
        total = total + F.cross_entropy(
            logits[~old, num_old:].float(), targets[~old] - num_old, reduction="sum"
        )
    return total / max(len(targets), 1)
