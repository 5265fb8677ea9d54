"""The papers' training recipes, one per paper, each field citing where its value comes from.

A :class:`Recipe` holds what a paper trained with: optimizer and its constants, learning rate and schedule,
weight decay and what it leaves out, batch size, epochs, augmentation, label smoothing, dropout and
drop-path, auxiliary-loss weight, an exponential moving average of the weights (Polyak averaging) and
gradient clipping; plus the regularisers later papers added (mixup, CutMix, RandAugment, random erasing),
off unless asked for. ``cites`` maps every one of those fields to the section it comes from; where a paper
is silent, the citation names the published reference that filled the gap (the authors' released code,
torchvision's reference scripts, timm's documented hyper-parameters) or says that the value is ours.
``cnnzoo recipes NAME`` prints them. Any field can be overridden (``Recipe.with_overrides``, or ``--lr``,
``--label-smoothing``, ``--ema-decay``... on the command line).

Schedules (applied once per epoch): ``plateau`` (divide by ``factor`` when the validation loss stops
improving for ``patience`` epochs), ``multistep`` (multiply by ``factor`` at the fractions ``milestones`` of
the run, so they scale with ``--epochs``), ``piecewise`` (the rate times ``lr_scales[i]`` from the fraction
``milestones[i]`` of the run on: LeNet-5's stepwise global rate), ``step`` (multiply by ``factor`` every
``step_epochs``, which may be fractional: EfficientNet's 2.4), ``cosine`` (cosine decay to 0 over the run),
``poly`` (``(1 - epoch / epochs) ** power``: linear decay to 0 for ``power=1``), ``constant``. A
``warmup_epochs`` > 0 first raises the rate linearly from ``warmup_factor`` x lr over that many epochs.
``onecycle`` is applied per step, not per epoch (Smith & Topin 2019's one-cycle policy, the schedule of fast
CIFAR-10 training): the rate rises linearly from ``warmup_factor`` x lr to lr over the first
``warmup_fraction`` of the run's steps, then falls linearly to 0 at the last step.

Optimizers: ``sgd`` (``nesterov`` optional), ``rmsprop`` (PyTorch's), ``rmsprop_tf`` (TensorFlow's RMSProp,
which the Inception, MobileNet, NASNet and EfficientNet papers trained with: epsilon inside the square
root, mean square started at 1, learning rate inside the momentum buffer; :class:`RMSpropTF`), ``adam``.
``no_weight_decay`` names the parameters left out of weight decay: ``bias``, ``norm`` (BatchNorm and other
normalisation scales and shifts), ``depthwise`` (depthwise filters; MobileNet v1 Sec. 3.2).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import CnnzooError, OptionError
from ..options import Augment, DropPathSchedule, NoDecay, Optimizer, Schedule
from .optim import SGD, Adam, DynamoFree, RMSprop

SCHEDULES = Schedule.values()
OPTIMIZERS = Optimizer.values()
NO_DECAY_KINDS = NoDecay.values()
DROP_PATH_SCHEDULES = DropPathSchedule.values()

#: The fields every recipe must cite (a paper's section, or the reference that filled the paper's gap).
CITED_FIELDS = (
    "optimizer",
    "lr",
    "schedule",
    "weight_decay",
    "no_weight_decay",
    "batch_size",
    "epochs",
    "augment",
    "label_smoothing",
    "dropout",
    "drop_path",
    "aux_weight",
    "ema_decay",
    "clip_grad_norm",
)


@dataclass(frozen=True)
class Recipe:
    """One paper's training recipe. ``milestones`` are fractions of ``epochs``. ``papers``: title fragments
    of the papers it is written for (a registered model's recipe must come from its own paper). ``cites``:
    field name -> where its value comes from. ``dropout``/``drop_path`` ``None``: the model's own default."""

    name: str
    source: str
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    no_weight_decay: tuple[str, ...] = ()
    batch_size: int = 128
    epochs: int = 90
    schedule: str = "plateau"
    factor: float = 0.1
    patience: int = 2
    milestones: tuple[float, ...] = ()
    step_epochs: float = 1
    lr_scales: tuple[float, ...] = ()
    power: float = 1.0
    warmup_epochs: int = 0
    warmup_factor: float = 0.1
    warmup_fraction: float = 0.25
    augment: str = "none"
    val_fraction: float = 0.1
    aux_weight: float = 0.3
    label_smoothing: float = 0.0
    rmsprop_alpha: float = 0.9
    rmsprop_eps: float = 1.0
    dropout: float | None = None
    drop_path: float | None = None
    drop_path_schedule: str = "constant"
    ema_decay: float = 0.0
    ema_warmup: bool = False
    clip_grad_norm: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0
    randaugment_n: int = 0
    randaugment_m: int = 9
    random_erasing: float = 0.0
    max_filter_rms: float = 0.0
    papers: tuple[str, ...] = ()
    cites: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default_factory=tuple)

    def with_overrides(self, **kw: Any) -> Recipe:
        """A copy with the given fields replaced (``None`` values are ignored); checked like the originals.
        An overridden field's citation says so."""
        kw = {k: v for k, v in kw.items() if v is not None}
        names = {f.name for f in dataclasses.fields(self)}
        for k in kw:
            if k not in names:
                raise CnnzooError(f"a recipe has no field {k!r}; fields are: {', '.join(sorted(names))}.")
        for k in ("milestones", "lr_scales", "no_weight_decay", "papers", "notes"):
            if k in kw:
                kw[k] = tuple(kw[k])
        changed = {k: v for k, v in kw.items() if getattr(self, k) != v and k not in ("cites", "notes")}
        if changed and "cites" not in kw:
            kw["cites"] = {
                **self.cites,
                **{k: f"overridden ({getattr(self, k)!r} -> {v!r})" for k, v in changed.items()},
            }
        r = dataclasses.replace(self, **kw)
        r.validate()
        return r

    def validate(self) -> None:
        """Raise a :class:`CnnzooError` for a value no run could use (an :class:`OptionError` naming the
        field for the regularisers, so the command line can name its flag)."""
        Optimizer.parse(self.optimizer)
        Schedule.parse(self.schedule)
        if not self.lr > 0:
            raise CnnzooError(f"the learning rate must be positive, got {self.lr}.")
        if self.epochs < 1 or self.batch_size < 1:
            raise CnnzooError(
                f"epochs and batch size must be at least 1, got {self.epochs} and {self.batch_size}."
            )
        if self.weight_decay < 0 or self.momentum < 0:
            raise CnnzooError("weight decay and momentum must not be negative.")
        if self.schedule == "piecewise" and len(self.milestones) != len(self.lr_scales):
            raise CnnzooError("a piecewise schedule needs as many lr_scales as milestones.")
        if not self.step_epochs > 0:
            raise OptionError(f"step_epochs must be positive, got {self.step_epochs}.", "step_epochs")
        if not 0 <= self.warmup_fraction < 1:
            raise OptionError(
                f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}.", "warmup_fraction"
            )
        if self.schedule == "onecycle" and self.warmup_epochs:
            raise OptionError(
                "the onecycle schedule has its own warm-up (warmup_fraction of the steps); drop "
                "warmup_epochs.",
                "warmup_epochs",
            )
        if not 0 <= self.val_fraction < 1:
            raise CnnzooError(f"the validation fraction must be in [0, 1), got {self.val_fraction}.")
        for kind in self.no_weight_decay:
            NoDecay.parse(kind, OptionError, "no_weight_decay")
        for name, lo, hi in (
            ("label_smoothing", 0.0, 1.0),
            ("ema_decay", 0.0, 1.0),
            ("random_erasing", 0.0, 1.0 + 1e-12),
        ):
            v = getattr(self, name)
            if not lo <= v < hi:
                raise OptionError(f"{name} must be in [{lo:g}, {hi:.0f}), got {v}.", name)
        for name in ("dropout", "drop_path"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= v < 1.0:
                raise OptionError(f"{name} must be in [0, 1), got {v}.", name)
        for name in ("clip_grad_norm", "mixup", "cutmix", "max_filter_rms", "aux_weight"):
            if getattr(self, name) < 0:
                raise OptionError(f"{name} must not be negative, got {getattr(self, name)}.", name)
        if self.randaugment_n < 0 or not 0 <= self.randaugment_m <= 30:
            raise OptionError(
                f"RandAugment takes N >= 0 operations at magnitude M in 0..30, got N={self.randaugment_n}, "
                f"M={self.randaugment_m}.",
                "randaugment",
            )
        DropPathSchedule.parse(self.drop_path_schedule, OptionError, "drop_path_schedule")
        if self.warmup_epochs < 0 or not 0 < self.warmup_factor <= 1:
            raise OptionError("warmup_epochs must be >= 0 and warmup_factor in (0, 1].", "warmup_epochs")
        Augment.parse(self.augment)

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("milestones", "lr_scales", "no_weight_decay", "papers", "notes"):
            d[k] = list(getattr(self, k))
        d["cites"] = dict(self.cites)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        """The inverse of :meth:`as_dict`; fields a newer cnnzoo added get their defaults, unknown ones
        (from a newer cnnzoo still) are dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        for k in ("milestones", "lr_scales", "no_weight_decay", "papers", "notes"):
            d[k] = tuple(d.get(k, ()))
        d["cites"] = dict(d.get("cites") or {})
        return cls(**d)

    # ------------------------------------------------------------------ what the loop needs
    def regularisers(self) -> list[str]:
        """One phrase per regulariser this recipe switches on (for the run's first line and ``recipes``)."""
        out = []
        if self.label_smoothing:
            out.append(f"label smoothing {self.label_smoothing:g}")
        if self.ema_decay:
            out.append(f"EMA {self.ema_decay:g}" + (" (warm-up)" if self.ema_warmup else ""))
        if self.clip_grad_norm:
            out.append(f"gradient clipping at norm {self.clip_grad_norm:g}")
        if self.mixup:
            out.append(f"mixup alpha {self.mixup:g}")
        if self.cutmix:
            out.append(f"CutMix alpha {self.cutmix:g}")
        if self.randaugment_n:
            out.append(f"RandAugment N={self.randaugment_n} M={self.randaugment_m}")
        if self.random_erasing:
            out.append(f"random erasing p={self.random_erasing:g}")
        if self.drop_path is not None:
            out.append(
                f"drop-path {self.drop_path:g}"
                + (" (scheduled)" if self.drop_path_schedule == "linear" else "")
            )
        elif self.drop_path_schedule == "linear":
            out.append("ScheduledDropPath (the model's rate, raised linearly)")
        if self.dropout is not None:
            out.append(f"dropout {self.dropout:g}")
        if self.max_filter_rms:
            out.append(f"filter RMS renormalised to {self.max_filter_rms:g}")
        return out

    # ------------------------------------------------------------------ building the optimizer and schedule
    def param_groups(self, model: nn.Module) -> list[dict[str, Any]] | list[nn.Parameter]:
        """The trainable parameters of ``model``, split into a decayed and an undecayed group where
        ``no_weight_decay`` names kinds to leave out (a plain list when it names none)."""
        params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not self.no_weight_decay or not self.weight_decay:
            return [p for _, p in params]
        skip = no_decay_names(model, self.no_weight_decay)
        decay = [p for n, p in params if n not in skip]
        rest = [p for n, p in params if n in skip]
        return [{"params": decay}, {"params": rest, "weight_decay": 0.0}]

    def make_optimizer(self, params: Any) -> torch.optim.Optimizer:
        """The optimizer over ``params``: a module (its trainable parameters, with ``no_weight_decay``
        applied) or parameters / param groups with their own ``lr``."""
        if isinstance(params, nn.Module):
            params = self.param_groups(params)
        if self.optimizer == "sgd":
            return SGD(
                params,
                lr=self.lr,
                momentum=self.momentum,
                weight_decay=self.weight_decay,
                nesterov=self.nesterov and self.momentum > 0,
                foreach=True,  # torch picks the per-tensor loop on CPU; the same sums, fewer calls a step
            )
        if self.optimizer == "rmsprop":
            return RMSprop(
                params,
                lr=self.lr,
                alpha=self.rmsprop_alpha,
                eps=self.rmsprop_eps,
                momentum=self.momentum,
                weight_decay=self.weight_decay,
            )
        if self.optimizer == "rmsprop_tf":
            return RMSpropTF(
                params,
                lr=self.lr,
                alpha=self.rmsprop_alpha,
                eps=self.rmsprop_eps,
                momentum=self.momentum,
                weight_decay=self.weight_decay,
            )
        return Adam(params, lr=self.lr, weight_decay=self.weight_decay)

    def make_scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int = 1) -> Any:
        """The per-epoch learning-rate schedule (``ReduceLROnPlateau`` steps with the validation loss),
        after a linear warm-up of ``warmup_epochs`` where asked; or, for ``onecycle``, a per-step one over
        ``epochs * steps_per_epoch`` steps (marked ``per_step = True``, which
        :class:`~cnnzoo.train.loop.Trainer` reads)."""
        s = torch.optim.lr_scheduler
        if self.schedule == "onecycle":
            total = max(1, self.epochs * steps_per_epoch)
            sched = s.LambdaLR(optimizer, OneCycleScale(total, self.warmup_fraction, self.warmup_factor))
            sched.per_step = True  # type: ignore[attr-defined]
            return sched
        if self.schedule == "plateau":
            return s.ReduceLROnPlateau(optimizer, mode="min", factor=self.factor, patience=self.patience)
        w = min(self.warmup_epochs, self.epochs - 1)
        main = self._main_scheduler(optimizer, self.epochs - w)
        if w <= 0:
            return main
        warm = s.LinearLR(optimizer, start_factor=self.warmup_factor, end_factor=1.0, total_iters=w)
        return s.SequentialLR(optimizer, [warm, main], milestones=[w])

    def _main_scheduler(self, optimizer: torch.optim.Optimizer, epochs: int) -> Any:
        s = torch.optim.lr_scheduler
        if self.schedule == "multistep":
            ms = sorted({max(1, round(f * self.epochs)) for f in self.milestones})
            return s.MultiStepLR(optimizer, milestones=ms, gamma=self.factor)
        if self.schedule == "step":
            if float(self.step_epochs).is_integer():
                return s.StepLR(optimizer, step_size=int(self.step_epochs), gamma=self.factor)
            return s.LambdaLR(optimizer, StepScale(float(self.step_epochs), self.factor))
        if self.schedule == "piecewise":
            ms = [max(1, round(f * self.epochs)) for f in self.milestones]
            return s.LambdaLR(optimizer, PiecewiseScale(ms, list(self.lr_scales)))
        if self.schedule == "cosine":
            return s.CosineAnnealingLR(optimizer, T_max=max(1, epochs), eta_min=0.0)
        if self.schedule == "poly":
            return s.LambdaLR(optimizer, PolyScale(max(1, epochs), self.power))
        return s.ConstantLR(optimizer, factor=1.0, total_iters=0)


def no_decay_names(model: nn.Module, kinds: tuple[str, ...] | list[str]) -> set[str]:
    """Dotted names of ``model``'s parameters of the ``kinds`` (``bias``, ``norm``, ``depthwise``)."""
    from torch.nn.modules.batchnorm import _NormBase

    norms = (_NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)
    out: set[str] = set()
    for mname, mod in model.named_modules():
        for pname, _ in mod.named_parameters(recurse=False):
            full = f"{mname}.{pname}" if mname else pname
            if (
                "norm" in kinds
                and isinstance(mod, norms)
                or "bias" in kinds
                and pname == "bias"
                or (
                    "depthwise" in kinds
                    and isinstance(mod, nn.Conv2d)
                    and pname == "weight"
                    and mod.groups > 1
                    and mod.groups == mod.in_channels
                )
            ):
                out.add(full)
    return out


class RMSpropTF(DynamoFree, torch.optim.Optimizer):
    """TensorFlow's RMSProp (``tf.train.RMSPropOptimizer``), which Inception-v3 (Szegedy et al. 2016, Sec.
    8), MobileNet, NASNet and EfficientNet trained with, and which PyTorch's ``RMSprop`` is not:

    ``ms = alpha * ms + (1 - alpha) * g**2`` with ``ms`` started at **1** (not 0);
    ``mom = momentum * mom + lr * g / sqrt(ms + eps)`` (epsilon **inside** the root, the learning rate
    inside the buffer); ``w -= mom``. With the papers' epsilon of 1.0 the difference is large. Weight decay
    is added to the gradient (an L2 term in the loss, as TF-slim's regularisers). timm's ``RMSpropTF``
    documents the same semantics; this is our own implementation of them. Like the other optimizers here it
    does not import ``torch._dynamo`` (:mod:`cnnzoo.train.optim`)."""

    def __init__(
        self,
        params: Any,
        lr: float = 0.01,
        alpha: float = 0.9,
        eps: float = 1.0,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "alpha": alpha, "eps": eps, "momentum": momentum, "weight_decay": weight_decay}
        )

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, alpha, eps, mom, wd = (group[k] for k in ("lr", "alpha", "eps", "momentum", "weight_decay"))
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if not wd else p.grad.add(p, alpha=wd)
                st = self.state[p]
                if not st:
                    st["square_avg"] = torch.ones_like(p, memory_format=torch.preserve_format)
                    if mom > 0:
                        st["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                sq = st["square_avg"]
                sq.mul_(alpha).addcmul_(g, g, value=1 - alpha)
                step = g / sq.add(eps).sqrt_()
                if mom > 0:
                    buf = st["momentum_buffer"]
                    buf.mul_(mom).add_(step, alpha=lr)
                    p.sub_(buf)
                else:
                    p.sub_(step, alpha=lr)
        return loss


class PiecewiseScale:
    """``epoch -> scale``: 1 before ``milestones[0]``, then ``scales[i]`` from ``milestones[i]`` on
    (picklable, so the scheduler's state survives a checkpoint)."""

    def __init__(self, milestones: list[int], scales: list[float]) -> None:
        self.milestones, self.scales = milestones, scales

    def __call__(self, epoch: int) -> float:
        scale = 1.0
        for m, f in zip(self.milestones, self.scales):
            if epoch >= m:
                scale = f
        return scale


class OneCycleScale:
    """``step -> scale`` of the one-cycle policy (Smith & Topin 2019): linear from ``start`` to 1 over the
    first ``warmup`` fraction of ``total`` steps, then linear to 0 at the last step (picklable, like
    :class:`PiecewiseScale`)."""

    def __init__(self, total: int, warmup: float, start: float = 0.1) -> None:
        self.total, self.warmup_steps = total, max(1, round(warmup * total)) if warmup > 0 else 0
        self.start = start

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.start + (1.0 - self.start) * step / self.warmup_steps
        rest = max(1, self.total - self.warmup_steps)
        return max(0.0, 1.0 - (step - self.warmup_steps) / rest)


class StepScale:
    """``epoch -> factor ** floor(epoch / every)`` for a fractional ``every`` (EfficientNet: 0.97 every 2.4
    epochs)."""

    def __init__(self, every: float, factor: float) -> None:
        self.every, self.factor = every, factor

    def __call__(self, epoch: int) -> float:
        return self.factor ** math.floor(epoch / self.every + 1e-9)


class PolyScale:
    """``epoch -> (1 - epoch / epochs) ** power``: Caffe's ``poly`` policy (SqueezeNet) and, with power 1,
    ShuffleNet's linear decay to 0."""

    def __init__(self, epochs: int, power: float) -> None:
        self.epochs, self.power = epochs, power

    def __call__(self, epoch: int) -> float:
        return max(0.0, 1.0 - epoch / self.epochs) ** self.power


# ------------------------------------------------------------------------------------------ the recipes
class _C:
    """A recipe value with its citation (see :func:`_recipe`)."""

    def __init__(self, value: Any, cite: str) -> None:
        self.value, self.cite = value, cite


def c(value: Any, cite: str) -> _C:
    return _C(value, cite)


NONE_STATED = "not in the paper (none used)"


def _recipe(
    name: str, source: str, papers: tuple[str, ...], notes: tuple[str, ...] = (), **fields: Any
) -> Recipe:
    """A recipe whose cited fields are given as ``c(value, "where it comes from")``; its ``cites`` follow the
    order of the fields (:data:`CITED_FIELDS` first), whatever the order they were written in."""
    values, cites = {}, {}
    for k, v in fields.items():
        if isinstance(v, _C):
            values[k], cites[k] = v.value, v.cite
        else:
            values[k] = v
    order = [*CITED_FIELDS, *(f.name for f in dataclasses.fields(Recipe))]
    cites = {k: cites[k] for k in sorted(cites, key=order.index)}
    r = Recipe(name, source, papers=papers, cites=cites, notes=tuple(notes), **values)
    r.validate()
    return r


#: The fields of a recipe whose paper used none of the later regularisers and no auxiliary classifier, each
#: cited as absent (most recipes before Inception-v3).
_PLAIN: dict[str, _C] = {
    "label_smoothing": c(0.0, NONE_STATED),
    "aux_weight": c(0.0, "no auxiliary classifiers"),
    "ema_decay": c(0.0, NONE_STATED),
    "clip_grad_norm": c(0.0, NONE_STATED),
}

#: TensorFlow's RMSProp as Inception-v3 set it (Szegedy et al. 2016, Sec. 8: decay 0.9, epsilon 1.0, with
#: momentum 0.9), which the later TensorFlow-trained papers reused; each recipe cites it in its ``optimizer``.
_INCEPTION_RMSPROP: dict[str, float] = {"rmsprop_alpha": 0.9, "rmsprop_eps": 1.0, "momentum": 0.9}

_TF_SLIM = "TF-slim's train_image_classifier.py and nets/ (the Inception authors' released training code)"
_FB = "fb.resnet.torch (Facebook's Torch ResNet training code, which the paper says it follows)"
_FB_AUG = (
    "fbresnet",
    "fb.resnet.torch's ImageNet augmentation, which the paper says it uses: random-resized crops of 8%-100% "
    "area, aspect 3/4-4/3 (Szegedy et al. 2015), colour jitter 0.4, PCA lighting 0.1, flips",
)

#: The lenet5 recipe's fields (LeCun et al. 1998, Sec. V), shared by its two recipes: ``lenet5`` (the RBF
#: output) and ``lenet5_linear_head`` (a trainable linear output), which differ in the first rate only.
_LENET5_FIELDS: dict[str, Any] = dict(
    optimizer=c(
        "sgd",
        "Sec. II-A, V-A and App. C: stochastic diagonal Levenberg-Marquardt; SGD with "
        "momentum 0.9 stands in (see notes)",
    ),
    lr=c(0.012, "Sec. V-A: global rate 0.0005 .. 0.00001 for SDLM; 0.012 is ours for SGD (notes)"),
    momentum=0.9,
    weight_decay=c(0.0, "Sec. V-A/B: none named"),
    no_weight_decay=c((), "no weight decay"),
    batch_size=c(48, "Sec. II-A: updates after every pattern; batches of 48 are ours (notes)"),
    epochs=c(20, "Sec. V-A: 20 passes"),
    schedule=c(
        "onecycle",
        "Sec. V-A: a stepwise decreasing rate (0.0005 for 2 passes, 0.0002 for 3, 0.0001 for 3, "
        "0.00005 for 4, then 0.00001); ours rises over the first quarter of the steps and falls "
        "linearly to 0 (notes)",
    ),
    augment=c("distort", "Sec. V-B: random planar affine distortions (0.95% -> 0.8% error)"),
    val_fraction=0.0,
    label_smoothing=c(0.0, "Sec. II-C: the loss is the MAP criterion on the RBF outputs, no smoothing"),
    dropout=c(None, "predates dropout"),
    drop_path=c(None, "no branches to drop"),
    aux_weight=c(0.0, "no auxiliary classifiers"),
    ema_decay=c(0.0, NONE_STATED),
    clip_grad_norm=c(5.0, "none stated; ours, so that the larger batches' rate cannot diverge (notes)"),
)
_LENET5_SOURCE = "LeCun et al. 1998, Sec. V-A/B (LeNet-5 on MNIST)"
_LENET5_PAPERS = ("Gradient-Based Learning Applied to Document Recognition",)
_LENET5_NOTES = (
    "the paper's stochastic diagonal Levenberg-Marquardt (per-parameter step sizes from a "
    "Hessian estimate) is replaced by SGD with momentum 0.9; with the RBF output a large global "
    "rate can diverge (batch 48 at 0.012 unclipped held out 67%, some folds at chance), so "
    "the rate follows a one-cycle (a quarter of the steps up from 0.1x, then linearly down to 0) "
    "and the gradient's global norm is clipped at 5",
    "the paper updated after every image; batches of 48 here. Chosen by 5-fold cross-validation "
    "of the digits training split (seeds 0-2, no test image read; benchmarks/lenet5_batch_cv.py, "
    "BENCHMARKS.md 'Fewer updates?'): batch 48 at 0.012, one-cycle, clip 5, 20 passes held out "
    "98.56% with 480 updates a fold, as many as the previous recipe's 98.59% with 2,160 (batch "
    "16 at 0.003, the paper's steps, 30 passes); clipped at 10 instead of 5 it held out 97.6%, "
    "unclipped 67%; batch 32 at 0.006 with the paper's steps held out 90.7% unclipped in 30 "
    "passes (folds at chance), 98.2% clipped in 20",
    "distortions: translations up to 2 pixels, scaling and squeezing by up to 10%, horizontal "
    "shear up to 0.2, drawn per image and applied to whole batches with one sampling grid (the "
    "paper names the kinds, not the ranges; --augment none for its 0.95% run)",
)

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        _recipe("lenet5", _LENET5_SOURCE, _LENET5_PAPERS, notes=_LENET5_NOTES, **_LENET5_FIELDS),
        _recipe(
            "lenet5_linear_head",
            _LENET5_SOURCE,
            _LENET5_PAPERS,
            notes=(
                "lenet5 with a trainable linear output (lenet5_linear, lenet5_modern): its logits start "
                "near 0 where the RBF's distances are in the tens, so it needs a larger first rate. In "
                "5-fold cross-validation of the digits training split (seeds 0-2, no test image read; "
                "benchmarks/lenet5_batch_cv.py --model ...; BENCHMARKS.md) lenet5_linear held out 23.7% at "
                "the RBF's 0.012, 96.2% at 0.03, 98.4% at 0.05, 98.2% at 0.1; lenet5_modern 98.1%, 98.9%, "
                "99.1%, 97.7%",
                *_LENET5_NOTES,
            ),
            **{
                **_LENET5_FIELDS,
                "lr": c(
                    0.05, "Sec. V-A: global rate 0.0005 .. 0.00001 for SDLM; 0.05 is ours for SGD (notes)"
                ),
            },
        ),
        _recipe(
            "alexnet",
            "Krizhevsky et al. 2012, Sec. 5",
            ("ImageNet Classification with Deep Convolutional", "One weird trick"),
            optimizer=c(
                "sgd", "Sec. 5: stochastic gradient descent, momentum 0.9 (the update rule of Sec. 5)"
            ),
            lr=c(0.01, "Sec. 5: 0.01, equal for all layers"),
            momentum=0.9,
            schedule=c(
                "plateau", "Sec. 5: divided by 10 when the validation error stopped improving, 3 times"
            ),
            patience=3,
            weight_decay=c(5e-4, "Sec. 5: 0.0005 on every weight (the update rule's 0.0005 * eps * w_i)"),
            no_weight_decay=c((), "Sec. 5: all weights decay"),
            batch_size=c(128, "Sec. 5: batch size of 128 examples"),
            epochs=c(90, "Sec. 5: roughly 90 cycles through the 1.2 million images"),
            augment=c(
                "alexnet",
                "Sec. 4.1: random 224 crops of the 256x256 image, horizontal reflections, PCA "
                "colour lighting (sigma 0.1)",
            ),
            dropout=c(
                None, "Sec. 4.2: dropout 0.5 in the first two fully connected layers (the model's default)"
            ),
            drop_path=c(None, "no branches to drop"),
            **_PLAIN,
            notes=(
                "plateau detection is automatic (the paper changed the rate by hand)",
                "the paper's rule puts the rate outside the momentum term (v = 0.9 v - 0.0005 eps w - eps g);"
                " PyTorch's SGD scales the buffer by the rate instead: the same while the rate is constant",
                "alexnet_owt (Krizhevsky 2014, 'One weird trick') keeps this optimiser; its paper changes"
                " only the parallelisation",
            ),
        ),
        _recipe(
            "zfnet",
            "Zeiler & Fergus 2014, Sec. 3 (Training Details)",
            ("Visualizing and Understanding Convolutional Networks",),
            optimizer=c("sgd", "Sec. 3: stochastic gradient descent, momentum 0.9"),
            lr=c(0.01, "Sec. 3: starting with a learning rate of 10^-2"),
            momentum=0.9,
            schedule=c(
                "plateau", "Sec. 3: annealed by hand throughout training when the validation error plateaus"
            ),
            patience=3,
            weight_decay=c(
                5e-4,
                "not in the paper; AlexNet's 0.0005 (Krizhevsky et al. 2012, Sec. 5), the recipe it follows",
            ),
            no_weight_decay=c((), "as AlexNet: all weights"),
            batch_size=c(128, "Sec. 3: mini-batch size of 128"),
            epochs=c(70, "Sec. 3: stopped after 70 epochs"),
            augment=c(
                "caffe",
                "Sec. 3: 224x224 sub-crops (corners + centre, with and without flips) of the "
                "256x256 centre; random crops and flips here",
            ),
            dropout=c(None, "Sec. 3: dropout 0.5 in layers 6 and 7 (the model's default)"),
            drop_path=c(None, "no branches to drop"),
            **_PLAIN,
            max_filter_rms=c(
                0.1,
                "Sec. 3: each convolutional filter whose RMS exceeds 10^-1 is renormalised to this radius",
            ),
            notes=(
                "the paper's fixed 10 sub-crops are replaced by random crops and flips, which include them",
            ),
        ),
        _recipe(
            "nin",
            "Lin, Chen & Yan 2014, Sec. 4.1-4.2",
            ("Network In Network",),
            optimizer=c("sgd", "Sec. 4.1: the training procedure of Krizhevsky et al. (SGD, momentum 0.9)"),
            lr=c(0.1, "Sec. 4.1: initial rates set by hand, not given; 0.1 is ours"),
            momentum=0.9,
            schedule=c(
                "plateau",
                "Sec. 4.1: lowered by 10 when the accuracy stops improving, twice (final rate "
                "1% of the first)",
            ),
            patience=3,
            weight_decay=c(1e-4, "not in the paper; 1e-4 is ours (He et al. 2016's CIFAR value)"),
            no_weight_decay=c((), "all weights"),
            batch_size=c(128, "Sec. 4.1: mini-batches of size 128"),
            epochs=c(120, "not in the paper (trained until the accuracy stopped improving); 120 is ours"),
            augment=c("cifar", "Sec. 4.2: translation and horizontal flipping for the 8.81% CIFAR-10 result"),
            dropout=c(
                None, "Sec. 4.2: dropout on the outputs of all but the last mlpconv layer (the model's 0.5)"
            ),
            drop_path=c(None, "no branches to drop"),
            **_PLAIN,
            notes=(
                "the plateau is watched on the validation loss; the paper watched the training accuracy",
                "per-channel mean/std normalisation instead of global contrast normalisation and ZCA "
                "whitening",
            ),
        ),
        _recipe(
            "vgg",
            "Simonyan & Zisserman 2015, Sec. 3.1",
            ("Very Deep Convolutional Networks",),
            optimizer=c("sgd", "Sec. 3.1: mini-batch gradient descent with momentum 0.9"),
            lr=c(0.01, "Sec. 3.1: initially 10^-2"),
            momentum=0.9,
            schedule=c(
                "plateau", "Sec. 3.1: decreased by 10 when the validation accuracy stopped improving, 3 times"
            ),
            patience=3,
            weight_decay=c(5e-4, "Sec. 3.1: L2 penalty multiplier 5e-4"),
            no_weight_decay=c((), "Sec. 3.1: all weights"),
            batch_size=c(256, "Sec. 3.1: batch size 256"),
            epochs=c(74, "Sec. 3.1: 370K iterations (74 epochs)"),
            augment=c(
                "vgg", "Sec. 3.1: scale jittering S in [256, 512], random 224 crops, flips, RGB colour shift"
            ),
            dropout=c(
                None, "Sec. 3.1: dropout 0.5 for the first two fully connected layers (the model's default)"
            ),
            drop_path=c(None, "no branches to drop"),
            **_PLAIN,
            notes=("the lecture deck says batch 128; the paper says 256",),
        ),
        _recipe(
            "googlenet",
            "Szegedy et al. 2015, Sec. 5-6",
            ("Going Deeper with Convolutions",),
            optimizer=c("sgd", "Sec. 6: asynchronous SGD with 0.9 momentum"),
            lr=c(0.01, "not in the paper; 0.01 from BVLC Caffe's GoogLeNet replication (solver.prototxt)"),
            momentum=0.9,
            schedule=c("step", "Sec. 6: decreasing the learning rate by 4% every 8 epochs"),
            factor=0.96,
            step_epochs=8,
            weight_decay=c(2e-4, "not in the paper; 2e-4 from BVLC Caffe's GoogLeNet replication"),
            no_weight_decay=c((), "all weights (BVLC Caffe)"),
            batch_size=c(
                32,
                "not in the paper; 32 from BVLC Caffe's GoogLeNet replication (8 epochs = its "
                "320k-iteration step)",
            ),
            epochs=c(250, "not in the paper; BVLC Caffe's 10M iterations of 32 (250 epochs)"),
            augment=c(
                "inception", "Sec. 6: patches of 8%-100% of the image area, aspect ratio in [3/4, 4/3]"
            ),
            label_smoothing=c(0.0, NONE_STATED),
            dropout=c(
                None,
                "Sec. 5: dropout 40% before the classifier, 70% in the auxiliary heads (the "
                "model's defaults)",
            ),
            drop_path=c(None, "no branches to drop"),
            aux_weight=c(0.3, "Sec. 5: the auxiliary losses weighted by 0.3"),
            ema_decay=c(
                0.9999,
                "Sec. 6: Polyak averaging for the final model; decay 0.9999 from the authors' "
                "later TF Inception code (MOVING_AVERAGE_DECAY)",
            ),
            ema_warmup=True,
            clip_grad_norm=c(0.0, NONE_STATED),
            notes=(
                "synchronous SGD instead of DistBelief's asynchronous updates; no photometric distortions",
                "Polyak averaging as an exponential moving average (TensorFlow's, with its num_updates "
                "warm-up); evaluated and saved as the model",
            ),
        ),
        _recipe(
            "inception_v3",
            "Szegedy et al. 2016, Sec. 7-8",
            ("Rethinking the Inception Architecture",),
            optimizer=c("rmsprop_tf", "Sec. 8: RMSProp with decay 0.9 and epsilon 1.0 (the best models)"),
            **_INCEPTION_RMSPROP,
            lr=c(0.045, "Sec. 8: a learning rate of 0.045"),
            schedule=c("step", "Sec. 8: decayed every two epochs using an exponential rate of 0.94"),
            factor=0.94,
            step_epochs=2,
            weight_decay=c(4e-5, f"not in the paper; 4e-5 from {_TF_SLIM} (inception_v3_arg_scope)"),
            no_weight_decay=c(
                ("bias", "norm"), "TF-slim regularises convolution and fully connected kernels only"
            ),
            batch_size=c(32, "Sec. 8: batch size 32 (on each of 50 replicas)"),
            epochs=c(100, "Sec. 8: 100 epochs"),
            augment=c(
                "inception",
                "not detailed in the paper; the Inception random-resized crops and flips (TF "
                "inception preprocessing)",
            ),
            label_smoothing=c(0.1, "Sec. 7: label-smoothing regularisation with epsilon 0.1"),
            dropout=c(None, "the model's default (TF-slim: keep probability 0.8 before the logits)"),
            drop_path=c(None, "no branches to drop"),
            aux_weight=c(0.4, f"Sec. 4 adds the auxiliary head; its weight 0.4 from {_TF_SLIM}"),
            ema_decay=c(
                0.9999,
                "Sec. 8: evaluations use a running average of the parameters; decay 0.9999 "
                "from the authors' TF Inception code",
            ),
            ema_warmup=True,
            clip_grad_norm=c(2.0, "Sec. 8: gradient clipping with threshold 2.0"),
            notes=("one synchronous worker instead of 50 asynchronous replicas",),
        ),
        _recipe(
            "inception_v4",
            "Szegedy et al. 2017, Sec. 4 (Training Methodology)",
            ("Inception-v4, Inception-ResNet",),
            optimizer=c("rmsprop_tf", "Sec. 4: RMSProp with decay 0.9 and epsilon 1.0"),
            **_INCEPTION_RMSPROP,
            lr=c(0.045, "Sec. 4: a learning rate of 0.045"),
            schedule=c("step", "Sec. 4: decayed every two epochs using an exponential rate of 0.94"),
            factor=0.94,
            step_epochs=2,
            weight_decay=c(4e-5, f"not in the paper; 4e-5 from {_TF_SLIM} (inception_v4_arg_scope)"),
            no_weight_decay=c(("bias", "norm"), "TF-slim regularises kernels only"),
            batch_size=c(
                32, "not in the paper (20 replicas); 32 as Inception-v3 Sec. 8 and TF-slim's default"
            ),
            epochs=c(100, "not in the paper; Inception-v3's 100 (Sec. 8)"),
            augment=c(
                "inception", "not in the paper; the Inception crops and flips (TF inception preprocessing)"
            ),
            label_smoothing=c(
                0.1,
                "not in the paper; Inception-v3's 0.1 (Szegedy et al. 2016, Sec. 7), the "
                "recipe Sec. 4 continues",
            ),
            dropout=c(None, "Fig. 9: dropout keep 0.8 before the classifier (the model's default)"),
            drop_path=c(None, "no drop-path in the paper"),
            aux_weight=c(0.4, f"not in the paper; {_TF_SLIM}: 0.4 where an auxiliary head exists"),
            ema_decay=c(
                0.9999,
                "Sec. 4: evaluations use a running average of the parameters; decay 0.9999 "
                "from the authors' TF Inception code",
            ),
            ema_warmup=True,
            clip_grad_norm=c(2.0, "not in the paper; Inception-v3's 2.0 (Szegedy et al. 2016, Sec. 8)"),
            notes=(
                "one recipe for Inception-v4, Inception-ResNet-v1 and -v2, as the paper trains all three "
                "alike",
            ),
        ),
        _recipe(
            "xception",
            "Chollet 2017, Sec. 4.3-4.4",
            ("Xception",),
            optimizer=c("sgd", "Sec. 4.3: ImageNet: SGD, momentum 0.9"),
            lr=c(0.045, "Sec. 4.3: initial learning rate 0.045"),
            momentum=0.9,
            schedule=c("step", "Sec. 4.3: decay of rate 0.94 every 2 epochs"),
            factor=0.94,
            step_epochs=2,
            weight_decay=c(1e-5, "Sec. 4.4: weight decay 1e-5 (Inception-v3's 4e-5 was too high)"),
            no_weight_decay=c(
                ("bias", "norm"),
                "not in the paper; kernels only, as the Keras/TF regularisers it was trained with",
            ),
            batch_size=c(32, "not in the paper (60 K80 GPUs); 32 is ours, Inception-v3's per-replica batch"),
            epochs=c(100, "not in the paper; Inception-v3's 100 (its recipe was reused, Sec. 4.3)"),
            augment=c("inception", "not in the paper; the Inception crops and flips"),
            label_smoothing=c(0.0, NONE_STATED),
            dropout=c(
                None, "Sec. 4.4: dropout 0.5 before the logistic regression layer (the model's default)"
            ),
            drop_path=c(None, "no drop-path in the paper"),
            aux_weight=c(0.0, "Sec. 4.4: no auxiliary loss tower"),
            ema_decay=c(
                0.9999,
                "Sec. 4.3: models evaluated with Polyak averaging; decay 0.9999 from the TF Inception code",
            ),
            ema_warmup=True,
            clip_grad_norm=c(0.0, NONE_STATED),
        ),
        _recipe(
            "resnet_imagenet",
            "He et al. 2016, Sec. 3.4",
            ("Deep Residual Learning",),
            optimizer=c("sgd", "Sec. 3.4: SGD, momentum 0.9"),
            lr=c(0.1, "Sec. 3.4: starts from 0.1"),
            momentum=0.9,
            schedule=c("plateau", "Sec. 3.4: divided by 10 when the error plateaus"),
            patience=3,
            weight_decay=c(1e-4, "Sec. 3.4: weight decay 0.0001"),
            no_weight_decay=c((), "Sec. 3.4: all weights"),
            batch_size=c(256, "Sec. 3.4: mini-batch size of 256"),
            epochs=c(120, "Sec. 3.4: up to 60e4 iterations (~120 epochs)"),
            augment=c(
                "resnet",
                "Sec. 3.4: shorter side in [256, 480], random 224 crops, flips, AlexNet's "
                "colour augmentation",
            ),
            dropout=c(None, "Sec. 3.4: no dropout"),
            drop_path=c(None, "not in the paper (--drop-path adds stochastic depth)"),
            **_PLAIN,
            notes=("the lecture deck says weight decay 1e-5; the paper says 0.0001",),
        ),
        _recipe(
            "resnet_cifar",
            "He et al. 2016, Sec. 4.2",
            ("Deep Residual Learning",),
            optimizer=c("sgd", "Sec. 4.2: momentum 0.9"),
            lr=c(0.1, "Sec. 4.2: start with 0.1"),
            momentum=0.9,
            schedule=c(
                "multistep",
                "Sec. 4.2: divided by 10 at 32k and 48k iterations, stop at 64k (50% / 75% of the run)",
            ),
            milestones=(0.5, 0.75),
            weight_decay=c(1e-4, "Sec. 4.2: weight decay 0.0001"),
            no_weight_decay=c((), "all weights"),
            batch_size=c(128, "Sec. 4.2: mini-batch size 128"),
            epochs=c(182, "Sec. 4.2: 64k iterations on a 45k/5k split (~182 epochs)"),
            augment=c("cifar", "Sec. 4.2: 4-pixel padding, random 32x32 crops, horizontal flips"),
            val_fraction=0.1,
            dropout=c(None, "Sec. 4.2: no dropout"),
            drop_path=c(None, "not in the paper (--drop-path adds stochastic depth)"),
            **_PLAIN,
            notes=(
                "ResNet-110's warm-up at lr 0.01 for ~400 iterations is not applied (--warmup-epochs 1 gives "
                "one epoch at 0.1x)",
                "per-channel mean/std normalisation instead of per-pixel mean subtraction",
            ),
        ),
        _recipe(
            "fast",
            "Time to accuracy on a CPU (issue #30), not a paper: He et al. 2016's CIFAR recipe (Sec. 4.2) "
            "compressed into a few epochs with Smith & Topin 2019's one-cycle rate and label smoothing "
            "(Szegedy et al. 2016, Sec. 7)",
            ("Deep Residual Learning", "Super-Convergence", "Rethinking the Inception Architecture"),
            optimizer=c(
                "sgd",
                "He et al. 2016, Sec. 4.2: SGD, momentum 0.9; Nesterov momentum is ours",
            ),
            lr=c(0.2, "ours: the peak of the one-cycle rate for batch 256 (He et al.'s 0.1 for 128, scaled)"),
            momentum=0.9,
            nesterov=True,
            schedule=c(
                "onecycle",
                "Smith & Topin 2019's one-cycle policy, per step: linear up from lr/10 over the first 20% "
                "of the steps, then linear to 0 (the shape is ours)",
            ),
            warmup_fraction=0.2,
            warmup_factor=0.1,
            weight_decay=c(5e-4, "ours: a few-epoch run needs a stronger pull than He et al.'s 1e-4"),
            no_weight_decay=c((), "all weights, as He et al. 2016"),
            batch_size=c(256, "ours: fewer, larger steps (He et al.: 128)"),
            epochs=c(
                8,
                "ours: what fits issue #30's 300 s on 2 cores with bf16; measured on Fashion-MNIST, seed 0: "
                "5 epochs 92.43%, 8 epochs 93.04% test top-1 (He et al.: ~182)",
            ),
            augment=c(
                "crop-flip",
                "He et al. 2016, Sec. 4.2: 4-pixel padding, random crops, flips, the flip for every data "
                "set (mirrored clothes keep their class)",
            ),
            label_smoothing=c(0.1, "Szegedy et al. 2016, Sec. 7: label smoothing 0.1"),
            dropout=c(None, "the model's default"),
            drop_path=c(None, "none"),
            aux_weight=c(0.0, "no auxiliary classifiers"),
            ema_decay=c(0.0, "none"),
            clip_grad_norm=c(0.0, "none"),
            notes=(
                "for ResNet-20 on Fashion-MNIST at its own 1x28x28 (`--input 1x28x28 --channels-last`): "
                "benchmarks/speedrun.py measures it against the paper's recipe, lever by lever",
                "not for digits: crop-flip mirrors every image",
            ),
        ),
        _recipe(
            "preact_resnet_cifar",
            "He et al. 2016b (Identity Mappings), Appendix (implementation details)",
            ("Identity Mappings in Deep Residual Networks",),
            optimizer=c("sgd", "Appendix: momentum 0.9"),
            lr=c(0.1, "Appendix: starts from 0.1, after a warm-up at 0.01 for the first 400 iterations"),
            momentum=0.9,
            warmup_epochs=c(1, "Appendix: warm-up at 0.01 (0.1x) for 400 iterations; one epoch here"),
            warmup_factor=0.1,
            schedule=c("multistep", "Appendix: divided by 10 at 32k and 48k iterations of 64k"),
            milestones=(0.5, 0.75),
            weight_decay=c(1e-4, "Appendix: weight decay 0.0001"),
            no_weight_decay=c((), "all weights"),
            batch_size=c(128, "Appendix: mini-batch 128 on 2 GPUs"),
            epochs=c(182, "Appendix: 64k iterations (~182 epochs on 45k images)"),
            augment=c("cifar", "Appendix: as He et al. 2016 (4-pixel padding, 32x32 crops, flips)"),
            dropout=c(None, NONE_STATED),
            drop_path=c(None, "not in the paper"),
            **_PLAIN,
            notes=("the warm-up lasts one epoch (~350 iterations of 128), the paper's 400 iterations",),
        ),
        _recipe(
            "preact_resnet_imagenet",
            "He et al. 2016b (Identity Mappings), Sec. 5 and Table 5",
            ("Identity Mappings in Deep Residual Networks",),
            optimizer=c("sgd", "Sec. 5: trained as He et al. 2016 (Sec. 3.4): SGD, momentum 0.9"),
            lr=c(0.1, "He et al. 2016, Sec. 3.4: 0.1"),
            momentum=0.9,
            schedule=c("plateau", "He et al. 2016, Sec. 3.4: divided by 10 when the error plateaus"),
            patience=3,
            weight_decay=c(1e-4, "He et al. 2016, Sec. 3.4: 0.0001"),
            no_weight_decay=c((), "all weights"),
            batch_size=c(256, "He et al. 2016, Sec. 3.4: 256"),
            epochs=c(120, "He et al. 2016, Sec. 3.4: up to 60e4 iterations"),
            augment=c(
                "resnet",
                "Sec. 5: the scale augmentation of He et al. 2016 (Table 5's ResNet-200 "
                "also used scale+aspect augmentation: --augment fbresnet)",
            ),
            dropout=c(None, NONE_STATED),
            drop_path=c(None, "not in the paper"),
            **_PLAIN,
        ),
        _recipe(
            "wrn_cifar",
            "Zagoruyko & Komodakis 2016, Sec. 3",
            ("Wide Residual Networks",),
            optimizer=c("sgd", "Sec. 3: SGD with Nesterov momentum 0.9, dampening 0"),
            nesterov=True,
            lr=c(0.1, "Sec. 3: initial learning rate 0.1"),
            momentum=0.9,
            schedule=c("multistep", "Sec. 3: dropped by 0.2 at 60, 120 and 160 epochs of 200"),
            factor=0.2,
            milestones=(0.3, 0.6, 0.8),
            weight_decay=c(5e-4, "Sec. 3: weight decay 0.0005"),
            no_weight_decay=c((), "all weights"),
            batch_size=c(128, "Sec. 3: minibatch size 128"),
            epochs=c(200, "Sec. 3: 200 epochs in total"),
            augment=c(
                "cifar_reflect",
                "Sec. 3: horizontal flips and random crops of the image padded by 4 pixels with reflections",
            ),
            dropout=c(0.3, "Sec. 2.4 and Table 6: dropout 0.3 between the convolutions of a block (CIFAR)"),
            drop_path=c(None, "not in the paper"),
            **_PLAIN,
        ),
        _recipe(
            "wrn_imagenet",
            "Zagoruyko & Komodakis 2016, Sec. 3 (ImageNet)",
            ("Wide Residual Networks",),
            optimizer=c("sgd", f"Sec. 3: trained with {_FB}: SGD, Nesterov momentum 0.9"),
            nesterov=True,
            lr=c(0.1, f"{_FB}: 0.1"),
            momentum=0.9,
            schedule=c("multistep", f"{_FB}: divided by 10 every 30 epochs"),
            milestones=(1 / 3, 2 / 3),
            weight_decay=c(1e-4, f"{_FB}: 1e-4"),
            no_weight_decay=c((), f"{_FB}: all weights"),
            batch_size=c(256, f"{_FB}: 256"),
            epochs=c(90, f"{_FB}: 90 epochs"),
            augment=c(*_FB_AUG),
            dropout=c(None, "no dropout in the ImageNet networks"),
            drop_path=c(None, "not in the paper"),
            **_PLAIN,
        ),
        _recipe(
            "resnext_imagenet",
            "Xie et al. 2017, Sec. 4 (Implementation details)",
            ("Aggregated Residual Transformations",),
            optimizer=c("sgd", f"Sec. 4: SGD, momentum 0.9; Nesterov as {_FB}"),
            nesterov=True,
            lr=c(0.1, "Sec. 4: start from a learning rate of 0.1"),
            momentum=0.9,
            schedule=c(
                "multistep", f"Sec. 4: divided by 10 three times with the schedule of {_FB} (every 30 epochs)"
            ),
            milestones=(0.25, 0.5, 0.75),
            weight_decay=c(1e-4, "Sec. 4: weight decay 0.0001"),
            no_weight_decay=c((), "all weights"),
            batch_size=c(256, "Sec. 4: mini-batch size 256 on 8 GPUs"),
            epochs=c(120, "not in the paper; three divisions 30 epochs apart make 120 (our reading)"),
            augment=c(*_FB_AUG),
            dropout=c(None, NONE_STATED),
            drop_path=c(None, "not in the paper"),
            **_PLAIN,
        ),
        _recipe(
            "resnext_cifar",
            "Xie et al. 2017, Sec. 5.3 (CIFAR)",
            ("Aggregated Residual Transformations",),
            optimizer=c("sgd", "Sec. 5.3: momentum 0.9"),
            lr=c(0.1, "Sec. 5.3: start with a learning rate of 0.1"),
            momentum=0.9,
            schedule=c("multistep", "Sec. 5.3: reduced by 10 at the 150th and 225th epochs of 300"),
            milestones=(0.5, 0.75),
            weight_decay=c(5e-4, "Sec. 5.3: weight decay 0.0005"),
            no_weight_decay=c((), "all weights"),
            batch_size=c(128, "Sec. 5.3: batch size 128 on 8 GPUs"),
            epochs=c(300, "Sec. 5.3: 300 epochs"),
            augment=c("cifar", "Sec. 5.3: 32x32 crops of the zero-padded 40x40 image or its flip"),
            dropout=c(None, NONE_STATED),
            drop_path=c(None, "not in the paper"),
            **_PLAIN,
        ),
        _recipe(
            "senet",
            "Hu et al. 2018, Sec. 6 (Implementation)",
            ("Squeeze-and-Excitation Networks",),
            optimizer=c("sgd", "Sec. 6: synchronous SGD with momentum 0.9"),
            lr=c(0.6, "Sec. 6: initial learning rate 0.6"),
            momentum=0.9,
            schedule=c("multistep", "Sec. 6: decreased by 10 every 30 epochs"),
            milestones=(0.3, 0.6, 0.9),
            weight_decay=c(
                1e-4, "not in the paper; 1e-4 as the ResNets it builds on (He et al. 2016, Sec. 3.4)"
            ),
            no_weight_decay=c((), "all weights"),
            batch_size=c(1024, "Sec. 6: minibatch size 1024"),
            epochs=c(100, "Sec. 6: 100 epochs from scratch"),
            augment=c("inception", "Sec. 6: random-size cropping to 224x224 and random horizontal flipping"),
            label_smoothing=c(
                0.0,
                "Sec. 6: none for the reported models (SENet-154's competition entry, "
                "appendix, added 0.1: --label-smoothing 0.1)",
            ),
            dropout=c(None, "the model's default"),
            drop_path=c(None, "not in the paper"),
            aux_weight=c(0.0, "no auxiliary classifiers"),
            ema_decay=c(0.0, NONE_STATED),
            clip_grad_norm=c(0.0, NONE_STATED),
            notes=("the paper's class-balanced mini-batch sampling is not applied",),
        ),
        _recipe(
            "densenet_imagenet",
            "Huang et al. 2017, Sec. 4.2 (Training)",
            ("Densely Connected Convolutional Networks",),
            optimizer=c("sgd", "Sec. 4.2: SGD, Nesterov momentum 0.9 without dampening"),
            nesterov=True,
            lr=c(0.1, "Sec. 4.2: set to 0.1 initially"),
            momentum=0.9,
            schedule=c("multistep", "Sec. 4.2: lowered by 10 at epochs 30 and 60 of 90"),
            milestones=(1 / 3, 2 / 3),
            weight_decay=c(1e-4, "Sec. 4.2: weight decay 10^-4"),
            no_weight_decay=c((), "all weights"),
            batch_size=c(256, "Sec. 4.2: batch size 256"),
            epochs=c(90, "Sec. 4.2: 90 epochs"),
            augment=c(
                "fbresnet",
                "Sec. 4.1: the augmentation of fb.resnet.torch (random-resized crops, colour "
                "jitter, lighting, flips)",
            ),
            dropout=c(None, "Sec. 4.2: dropout only without augmentation (the model's 0)"),
            drop_path=c(None, "no residual branches"),
            **_PLAIN,
        ),
        _recipe(
            "densenet_cifar",
            "Huang et al. 2017, Sec. 4.1-4.2",
            ("Densely Connected Convolutional Networks",),
            optimizer=c("sgd", "Sec. 4.2: SGD, Nesterov momentum 0.9 without dampening"),
            nesterov=True,
            lr=c(0.1, "Sec. 4.2: initial learning rate 0.1"),
            momentum=0.9,
            schedule=c("multistep", "Sec. 4.2: divided by 10 at 50% and 75% of the epochs"),
            milestones=(0.5, 0.75),
            weight_decay=c(1e-4, "Sec. 4.2: weight decay 10^-4"),
            no_weight_decay=c((), "all weights"),
            batch_size=c(64, "Sec. 4.2: batch size 64"),
            epochs=c(300, "Sec. 4.2: 300 epochs on CIFAR"),
            augment=c("cifar", "Sec. 4.1: the standard mirroring/shifting augmentation (C10+)"),
            dropout=c(
                None,
                "Sec. 4.2: dropout 0.2 only for the runs without augmentation (--dropout 0.2 "
                "--augment none for C10)",
            ),
            drop_path=c(None, "no residual branches"),
            **_PLAIN,
        ),
        _recipe(
            "fractalnet",
            "Larsson et al. 2017, Sec. 4 (Training)",
            ("FractalNet",),
            optimizer=c("sgd", "Sec. 4: stochastic gradient descent with momentum 0.9"),
            lr=c(0.02, "Sec. 4: learning rate starts at 0.02 (CIFAR)"),
            momentum=0.9,
            schedule=c(
                "multistep",
                "Sec. 4: divided by 10 whenever the number of remaining epochs halves "
                "(200, 300, 350, 375 of 400)",
            ),
            milestones=(0.5, 0.75, 0.875, 0.9375),
            weight_decay=c(
                0.0, "not in the paper, which names dropout and drop-path as its regularisers; none"
            ),
            no_weight_decay=c((), "no weight decay"),
            batch_size=c(100, "Sec. 4: batch size 100"),
            epochs=c(400, "Sec. 4: 400 epochs on CIFAR"),
            augment=c("cifar", "Sec. 4: standard translations and flips for the '+' results"),
            dropout=c(None, "Sec. 4: per-block dropout 0%, 10%, 20%, 30%, 40% (the model's)"),
            drop_path=c(
                None, "Sec. 4: local drop-path 15% mixed 50/50 with global drop-path (the model's defaults)"
            ),
            **_PLAIN,
        ),
        _recipe(
            "squeezenet",
            "Iandola et al. 2016, Sec. 3 and the authors' released Caffe solver (v1.0)",
            ("SqueezeNet",),
            optimizer=c("sgd", "the authors' Caffe solver (the paper defers to it): momentum 0.9"),
            lr=c(0.04, "the authors' Caffe solver: base_lr 0.04"),
            momentum=0.9,
            schedule=c("poly", "the authors' Caffe solver: poly policy, power 1 (linear decay to 0)"),
            power=1.0,
            weight_decay=c(2e-4, "the authors' Caffe solver: weight_decay 0.0002"),
            no_weight_decay=c((), "all weights (Caffe)"),
            batch_size=c(512, "the authors' Caffe solver: 32 x iter_size 16"),
            epochs=c(68, "the authors' Caffe solver: 170,000 iterations of 512 (~68 epochs)"),
            augment=c("caffe", "Caffe's ImageNet data layer: random crops of the 256-pixel image, mirroring"),
            dropout=c(None, "Sec. 3.3: dropout 0.5 after fire9 (the model's default)"),
            drop_path=c(None, "no drop-path (the bypasses are plain sums)"),
            **_PLAIN,
        ),
        _recipe(
            "mobilenet_v1",
            "Howard et al. 2017, Sec. 3.2 (Training)",
            ("MobileNets",),
            optimizer=c(
                "rmsprop_tf",
                "Sec. 3.2: RMSprop with asynchronous gradient descent as Inception-v3 "
                "(decay 0.9, epsilon 1.0: Szegedy et al. 2016, Sec. 8)",
            ),
            **_INCEPTION_RMSPROP,
            lr=c(0.045, "as Inception-v3 (Sec. 8): 0.045"),
            schedule=c("step", "as Inception-v3 (Sec. 8): 0.94 every 2 epochs"),
            factor=0.94,
            step_epochs=2,
            weight_decay=c(
                4e-5, f"Sec. 3.2: little weight decay; 4e-5 from {_TF_SLIM} (mobilenet_v1_arg_scope)"
            ),
            no_weight_decay=c(
                ("bias", "norm", "depthwise"),
                "Sec. 3.2: very little or no weight decay on the "
                "depthwise filters; TF-slim: kernels only, depthwise not regularised",
            ),
            batch_size=c(96, "not in the paper; MobileNetV2's 96 (Sandler et al. 2018, Sec. 6.1)"),
            epochs=c(100, "not in the paper; Inception-v3's 100 is ours"),
            augment=c(
                "inception",
                "Sec. 3.2: less distortion than Inception (smaller crops limited; the limit is not given)",
            ),
            label_smoothing=c(0.0, "Sec. 3.2: no label smoothing"),
            dropout=c(None, "the model's default"),
            drop_path=c(None, "no branches to drop"),
            aux_weight=c(0.0, "Sec. 3.2: no side heads"),
            ema_decay=c(0.0, NONE_STATED),
            clip_grad_norm=c(0.0, NONE_STATED),
            notes=("one synchronous worker instead of asynchronous replicas",),
        ),
        _recipe(
            "mobilenet_v2",
            "Sandler et al. 2018, Sec. 6.1 (Training setup)",
            ("MobileNetV2",),
            optimizer=c(
                "rmsprop_tf",
                "Sec. 6.1: RMSPropOptimizer with decay and momentum 0.9 (TensorFlow's; "
                "epsilon 1.0 from TF-slim's default)",
            ),
            **_INCEPTION_RMSPROP,
            lr=c(0.045, "Sec. 6.1: initial learning rate 0.045"),
            schedule=c("step", "Sec. 6.1: decay rate 0.98 per epoch"),
            factor=0.98,
            step_epochs=1,
            weight_decay=c(4e-5, "Sec. 6.1: weight decay 0.00004"),
            no_weight_decay=c(("bias", "norm"), f"not in the paper; {_TF_SLIM}: kernels only"),
            batch_size=c(96, "Sec. 6.1: batch size 96 (16 asynchronous workers)"),
            epochs=c(300, "not in the paper; 300 from torchvision's reference recipe for mobilenet_v2"),
            augment=c("inception", "not in the paper; the Inception crops and flips (TF-slim preprocessing)"),
            dropout=c(None, "the model's default"),
            drop_path=c(None, "not in the paper"),
            **_PLAIN,
        ),
        _recipe(
            "shufflenet_v1",
            "Zhang et al. 2018, Sec. 4 (Experiments)",
            ("ShuffleNet: An Extremely Efficient",),
            optimizer=c("sgd", "Sec. 4: the ResNeXt settings (Xie et al. 2017, Sec. 4): SGD, momentum 0.9"),
            lr=c(0.5, "Sec. 4: linear-decay learning rate from 0.5 to 0"),
            momentum=0.9,
            schedule=c("poly", "Sec. 4: linear decay to 0"),
            power=1.0,
            weight_decay=c(4e-5, "Sec. 4: weight decay 4e-5 instead of 1e-4"),
            no_weight_decay=c((), "Sec. 4: not said; all weights"),
            batch_size=c(1024, "Sec. 4: batch size 1024 on 4 GPUs"),
            epochs=c(240, "Sec. 4: 3 x 10^5 iterations of 1024 (~240 epochs)"),
            augment=c(
                "inception",
                "Sec. 4: slightly less aggressive scale augmentation than ResNeXt's (how much "
                "less is not given)",
            ),
            dropout=c(None, NONE_STATED),
            drop_path=c(None, "not in the paper"),
            **_PLAIN,
        ),
        _recipe(
            "shufflenet_v2",
            "Ma et al. 2018, Sec. 5 and the authors' released code (ShuffleNet-Series)",
            ("ShuffleNet V2",),
            optimizer=c("sgd", "Sec. 5: the ShuffleNet v1 settings; the authors' code: SGD, momentum 0.9"),
            lr=c(0.5, "the authors' code: 0.5 decayed linearly"),
            momentum=0.9,
            schedule=c("poly", "the authors' code: linear decay to 0"),
            power=1.0,
            weight_decay=c(4e-5, "the authors' code: 4e-5"),
            no_weight_decay=c(("bias", "norm"), "the authors' code: convolution and linear weights only"),
            batch_size=c(1024, "the authors' code: 1024"),
            epochs=c(240, "the authors' code: 300,000 iterations of 1024 (~240 epochs)"),
            augment=c("fbresnet", "the authors' code: random-resized crops, colour jitter 0.4, flips"),
            label_smoothing=c(0.1, "the authors' code: label smoothing 0.1"),
            dropout=c(None, "the model's default"),
            drop_path=c(None, "not in the paper"),
            aux_weight=c(0.0, "no auxiliary classifiers"),
            ema_decay=c(0.0, NONE_STATED),
            clip_grad_norm=c(0.0, NONE_STATED),
        ),
        _recipe(
            "nasnet",
            "Zoph et al. 2018, Sec. 4 and Appendix A (ImageNet training)",
            ("Learning Transferable Architectures",),
            optimizer=c(
                "rmsprop_tf",
                f"the Inception RMSProp of {_TF_SLIM} (decay 0.9, epsilon 1.0), which the "
                "NASNet models were trained with",
            ),
            **_INCEPTION_RMSPROP,
            lr=c(0.045, "not in the text we follow; Inception-v3's 0.045 (Szegedy et al. 2016, Sec. 8)"),
            schedule=c("step", "not in the text we follow; Inception-v3's 0.94 every 2 epochs"),
            factor=0.94,
            step_epochs=2,
            weight_decay=c(
                4e-5,
                "Appendix A / TF-slim's nasnet arg scopes: 4e-5 (mobile); 5e-5 for the large "
                "model (--weight-decay 5e-5)",
            ),
            no_weight_decay=c(("bias", "norm"), "TF-slim regularises kernels only"),
            batch_size=c(32, "not in the text we follow; TF-slim's per-replica 32"),
            epochs=c(100, "not in the text we follow; Inception-v3's 100 is ours"),
            augment=c("inception", "the Inception crops and flips (TF-slim preprocessing)"),
            label_smoothing=c(0.1, "Appendix A: label smoothing 0.1"),
            dropout=c(None, "the model's default (dropout 0.5 before the classifier)"),
            drop_path=c(
                None,
                "Sec. 4.1: ScheduledDropPath at the model's rate (large: 0.3 at the end of "
                "training), raised linearly over the run",
            ),
            drop_path_schedule="linear",
            aux_weight=c(0.4, "Appendix A: an auxiliary head weighted 0.4"),
            ema_decay=c(0.0, NONE_STATED),
            clip_grad_norm=c(0.0, NONE_STATED),
        ),
        _recipe(
            "efficientnet_lite",
            "Tan & Le 2019, Sec. 5.2, and the authors' released TPU code (efficientnet/main.py)",
            ("EfficientNet",),
            optimizer=c(
                "rmsprop_tf",
                "Sec. 5.2: RMSProp with decay 0.9 and momentum 0.9; epsilon 0.001 from the authors' code",
            ),
            rmsprop_alpha=0.9,
            rmsprop_eps=1e-3,
            momentum=0.9,
            lr=c(
                0.256, "Sec. 5.2: initial learning rate 0.256 (for batch 4096; the code scales 0.016 per 256)"
            ),
            schedule=c(
                "step", "Sec. 5.2: decays by 0.97 every 2.4 epochs; 5 warm-up epochs from the authors' code"
            ),
            factor=0.97,
            step_epochs=2.4,
            warmup_epochs=5,
            warmup_factor=0.1,
            weight_decay=c(1e-5, "Sec. 5.2: weight decay 1e-5"),
            no_weight_decay=c(("norm",), "the authors' code: every variable but batch normalisation's"),
            batch_size=c(4096, "the authors' code: 4096 for lr 0.256"),
            epochs=c(350, "the authors' code: 350 epochs"),
            augment=c(
                "autoaugment", "Sec. 5.2: AutoAugment (ImageNet policy) after Inception crops and flips"
            ),
            label_smoothing=c(0.1, "the authors' code: label smoothing 0.1"),
            dropout=c(None, "Sec. 5.2: dropout 0.2 for B0 (the model's default)"),
            drop_path=c(
                None,
                "Sec. 5.2: stochastic depth with survival probability 0.8 (drop-connect 0.2); "
                "our Lite0 build has no drop-path yet, so none",
            ),
            aux_weight=c(0.0, "no auxiliary classifiers"),
            ema_decay=c(0.9999, "the authors' code: moving-average decay 0.9999, evaluated on the averages"),
            clip_grad_norm=c(0.0, NONE_STATED),
            notes=(
                "EfficientNet-Lite (ReLU6, no squeeze-excitation) is trained with the EfficientNet recipe by "
                "the same code",
                "warm-up and decay are applied per epoch (the code does both per step)",
            ),
        ),
    )
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name`` (see :data:`RECIPES`)."""
    try:
        return RECIPES[name]
    except KeyError:
        raise CnnzooError(
            f"unknown recipe {name!r}; use one of: {', '.join(RECIPES)} (`cnnzoo recipes`)."
        ) from None


def default_recipe_for(model_name: str) -> str:
    """The recipe of a model's paper, as its registry entry names it (``recipe=`` of ``@register_model``).

    There is no fallback: a model registered without a recipe is an error, so that no network is trained
    with another paper's recipe without anyone noticing (``tests/models/test_recipes_in_registry.py``
    checks every entry)."""
    from ..registry import model_info

    info = model_info(model_name)
    if info.recipe is None:
        raise CnnzooError(
            f"{model_name!r} names no training recipe in its registry entry; pass --recipe (`cnnzoo recipes` "
            "lists them)."
        )
    return info.recipe
