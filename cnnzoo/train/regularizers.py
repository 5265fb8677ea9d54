"""The regularisers a recipe can switch on, as the training loop uses them.

- :class:`ModelEma`: an exponential moving average of the weights (Polyak averaging; GoogLeNet Sec. 6,
  Inception-v3 Sec. 8, EfficientNet): after every optimizer step ``ema = d * ema + (1 - d) * w`` for every
  floating-point entry of the state dict (weights and BatchNorm statistics), integer buffers copied; with
  ``warmup`` the decay of update ``t`` (0-based) is ``min(d, (1 + t) / (10 + t))``, TensorFlow's
  ``ExponentialMovingAverage(num_updates=...)``. Without warm-up, after k updates from ``w_0``:
  ``ema_k = d**k w_0 + (1 - d) * sum_{i=1..k} d**(k-i) w_i``. The loop evaluates the averaged weights and
  saves them as the model; the raw weights travel in the checkpoint's ``ema`` entry to resume exactly.
- :class:`RecipeLoss`: cross-entropy with label smoothing (Szegedy et al. 2016, Sec. 7: the target is
  ``(1 - eps) * onehot + eps / K``, so the loss is ``(1 - eps) * CE(y) + eps * mean_k(-log p_k)``) that
  also takes mixed targets: ``lam * L(y_a) + (1 - lam) * L(y_b)``.
- :class:`Mixer`: mixup (Zhang et al. 2018: ``x = lam x_i + (1 - lam) x_j``, ``lam ~ Beta(a, a)``) and CutMix
  (Yun et al. 2019: a box of area ``1 - lam`` pasted from the paired image, ``lam`` then set to the kept
  area), one ``lam`` per batch paired with the batch reversed as timm does; with both on, each batch
  picks one with probability 1/2. Draws from the torch RNG, so a seeded run repeats and resumes exactly.
- gradient clipping: ``torch.nn.utils.clip_grad_norm_`` on the global L2 norm (TensorFlow's
  ``clip_by_global_norm``, Inception-v3's "gradient clipping with threshold 2.0").
- :class:`ScheduledDropPath`: NASNet's schedule (Zoph et al. 2018, Sec. 4.1): every drop-path module's
  probability raised linearly from 0 to its configured value over the run.
- :class:`FilterRmsRenorm`: ZFNet's constraint (Zeiler & Fergus 2014, Sec. 3): a convolutional filter
  whose RMS exceeds the radius is scaled back to it after each step.
- :func:`model_kwargs_for`: a recipe's ``dropout`` and ``drop_path`` as the model's own constructor options
  (``dropout``/``drop_rate``, ``drop_path_rate``/``local_drop``); a model without such an option is a
  one-sentence error, never a silent no-op.
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, OptionError

DROPOUT_KWARGS = ("dropout", "drop_rate")
DROP_PATH_KWARGS = ("drop_path_rate", "local_drop")


# ------------------------------------------------------------------------------------------------ EMA
class ModelEma:
    """An exponential moving average of ``model``'s state (see the module docstring): ``module`` is a copy
    of the model holding the averages, in eval mode, for evaluation and saving."""

    def __init__(self, model: nn.Module, decay: float, warmup: bool = False) -> None:
        if not 0.0 < decay < 1.0:
            raise OptionError(f"ema_decay must be in (0, 1), got {decay}.", "ema_decay")
        self.decay, self.warmup, self.updates = float(decay), bool(warmup), 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next update uses."""
        if self.warmup:
            return min(self.decay, (1 + self.updates) / (10 + self.updates))
        return self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the averages towards ``model``'s current state (call after each optimizer step)."""
        d = self.current_decay()
        live = model.state_dict()
        for k, avg in self.module.state_dict().items():
            w = live[k].detach()
            if avg.is_floating_point():
                avg.mul_(d).add_(w.to(avg.dtype), alpha=1.0 - d)
            else:
                avg.copy_(w)
        self.updates += 1

    def state(self, model: nn.Module) -> dict[str, Any]:
        """What a checkpoint needs to continue: the settings, the update count and the raw weights."""
        return {
            "decay": self.decay,
            "warmup": self.warmup,
            "updates": self.updates,
            "training_state_dict": model.state_dict(),
        }

    def load(self, ema: Any, averaged: dict[str, Any], model: nn.Module) -> None:
        """Restore from a checkpoint's ``run["ema"]`` (written by :meth:`state`) and its weights (the
        averages)."""
        if not isinstance(ema, dict):
            raise CheckpointError(
                "this run averages its weights (EMA) but the checkpoint holds no EMA state; resume it with "
                "the settings it was started with."
            )
        model.load_state_dict(ema["training_state_dict"])
        self.module.load_state_dict(averaged)
        self.updates = int(ema["updates"])


# ------------------------------------------------------------------------------------------------ loss
class MixedTarget:
    """Two label vectors and the weight of the first: what :class:`Mixer` makes of a batch's labels."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, lam: float) -> None:
        self.a, self.b, self.lam = a, b, float(lam)

    def majority(self) -> torch.Tensor:
        """The labels that weigh more (for the training accuracy the loop reports)."""
        return self.a if self.lam >= 0.5 else self.b

    def to(self, device: Any) -> MixedTarget:
        return MixedTarget(self.a.to(device), self.b.to(device), self.lam)


class RecipeLoss(nn.Module):
    """Cross-entropy with label smoothing ``eps`` on hard or mixed targets (see the module docstring)."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = float(label_smoothing)

    def _ce(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)

    def forward(self, logits: torch.Tensor, target: torch.Tensor | MixedTarget) -> torch.Tensor:
        if isinstance(target, MixedTarget):
            return target.lam * self._ce(logits, target.a) + (1 - target.lam) * self._ce(logits, target.b)
        return self._ce(logits, target)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}"


# ------------------------------------------------------------------------------------------------ mixing
class Mixer:
    """Mixup and/or CutMix of a batch (see the module docstring); ``alpha`` 0 switches one off."""

    def __init__(self, mixup: float = 0.0, cutmix: float = 0.0) -> None:
        if mixup < 0 or cutmix < 0:
            raise OptionError("mixup and cutmix take a Beta alpha >= 0.", "mixup", "cutmix")
        self.mixup, self.cutmix = float(mixup), float(cutmix)

    def __bool__(self) -> bool:
        return bool(self.mixup or self.cutmix)

    @staticmethod
    def _beta(alpha: float) -> float:
        d = torch.distributions.Beta(
            torch.tensor(alpha, dtype=torch.float64), torch.tensor(alpha, dtype=torch.float64)
        )
        return float(d.sample())

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, MixedTarget]:
        use_cutmix = bool(self.cutmix) and (not self.mixup or float(torch.rand(())) < 0.5)
        lam = self._beta(self.cutmix if use_cutmix else self.mixup)
        xb, yb = x.flip(0), y.flip(0)
        if use_cutmix:
            h, w = x.shape[-2:]
            cut = math.sqrt(1.0 - lam)
            ch, cw = int(h * cut), int(w * cut)
            cy, cx = int(torch.randint(0, h, ())), int(torch.randint(0, w, ()))
            t, b = max(cy - ch // 2, 0), min(cy + ch // 2, h)
            left, r = max(cx - cw // 2, 0), min(cx + cw // 2, w)
            x = x.clone()
            x[..., t:b, left:r] = xb[..., t:b, left:r]
            lam = 1.0 - (b - t) * (r - left) / (h * w)  # the area actually kept
        else:
            x = x * lam + xb * (1.0 - lam)
        return x, MixedTarget(y, yb, lam)


# ------------------------------------------------------------------------------------------------ hooks
def drop_path_modules(model: nn.Module) -> list[nn.Module]:
    """The modules of ``model`` that drop whole paths (they carry a ``drop_prob``)."""
    from ..models.layers import DropPath

    return [m for m in model.modules() if isinstance(m, DropPath)]


class ScheduledDropPath:
    """A Trainer hook: before each step, every drop-path module's probability is its configured value times
    the fraction of the run done (Zoph et al. 2018's ScheduledDropPath), a function of the step alone, so a
    resumed run continues the schedule exactly."""

    def __init__(self, model: nn.Module, steps_per_epoch: int, epochs: int) -> None:
        self.mods = drop_path_modules(model)
        if not self.mods or all(m.drop_prob == 0 for m in self.mods):
            raise OptionError(
                "a linear drop-path schedule needs a model with drop-path at a rate above 0; give "
                "drop_path (or drop a drop_path_schedule of 'linear').",
                "drop_path",
                "drop_path_schedule",
            )
        self.base = [m.drop_prob for m in self.mods]
        self.per_epoch, self.total = max(1, steps_per_epoch), max(1, steps_per_epoch * epochs)

    def on_batch_start(self, trainer: Any, step: int, batch: Any) -> None:
        done = trainer.epoch * self.per_epoch + step
        frac = min(1.0, done / self.total)
        for m, p in zip(self.mods, self.base):
            m.drop_prob = p * frac


class FilterRmsRenorm:
    """A Trainer hook: after each step, every convolutional filter (one output channel's weights) whose root
    mean square exceeds ``radius`` is scaled down to it (Zeiler & Fergus 2014, Sec. 3)."""

    def __init__(self, model: nn.Module, radius: float) -> None:
        self.convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        self.radius = float(radius)

    @torch.no_grad()
    def on_step_end(self, trainer: Any, step: int, loss: float) -> None:
        for conv in self.convs:
            w = conv.weight
            rms = w.pow(2).flatten(1).mean(1).sqrt()
            scale = (self.radius / rms.clamp_min(1e-12)).clamp(max=1.0)
            w.mul_(scale.view(-1, *([1] * (w.ndim - 1))))


# ------------------------------------------------------------------------------------------------ models
def model_kwargs_for(model_name: str, dropout: float | None, drop_path: float | None) -> dict[str, Any]:
    """A recipe's ``dropout`` / ``drop_path`` (``None``: the model's default) as ``model_name``'s own
    constructor options; a model that has no such option is an :class:`OptionError`."""
    from ..registry import entry

    row = entry(model_name)
    params = [p for p in inspect.signature(row.factory).parameters if p not in row.defaults]
    out: dict[str, Any] = {}
    for value, names, what in (
        (dropout, DROPOUT_KWARGS, "dropout"),
        (drop_path, DROP_PATH_KWARGS, "drop_path"),
    ):
        if value is None:
            continue
        key = next((k for k in names if k in params), None)
        if key is None:
            have = ", ".join(p for p in params if p not in ("num_classes", "in_chans")) or "none"
            raise OptionError(
                f"{model_name} has no {what.replace('_', '-')} option to set (its options: {have}); drop "
                f"{what}.",
                what,
            )
        out[key] = float(value)
    return out
