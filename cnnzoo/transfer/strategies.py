"""Transfer-learning strategies on top of the training loop (:class:`cnnzoo.train.Trainer`).

- :func:`feature_extraction`: the body frozen (BatchNorm pinned in eval mode), a new linear classifier
    trained on
  features computed once and cached ("use a linear classifier on the top layer", lecture table; Razavian et
  al.
  2014 "CNN features off-the-shelf").
- :func:`finetune`: the new head first for ``freeze_epochs`` with the body frozen, then the last ``unfreeze``
  layer groups (or all) trained as well at a rate ``lr_factor`` times lower (Yosinski et al. 2014).
- :func:`discriminative`: every layer group trained, each earlier group at the next one's rate divided by
  ``lr_factor`` (the lecture: "3x-10x smaller"; Howard & Ruder 2018's discriminative fine-tuning), set as
  optimizer parameter groups so any scheduler keeps the ratios.
- :func:`joint_training`: shared body, old and new heads trained together on old and new data (Li & Hoiem
    2016,
  Sec. 2).
- :func:`distill`: a student trained on a teacher's temperature-softened outputs and the labels (Hinton et al.
  2015).
- :func:`learning_without_forgetting`: old-task outputs recorded on the new images before training, a warm-up
    of
  the new head, then everything trained on ``L_new + lambda_o * L_old`` at fine-tuning's rate ``lr /
  lr_factor`` (Li & Hoiem 2016, Algorithm 1).

Each returns a :class:`TransferResult`; with ``out_dir`` the run writes the training loop's ``last.pt`` /
``best.pt`` (plain cnnzoo checkpoints of the new-task network; ``old_head`` holds the old classifier where
there
is one), ``metrics.csv``, TensorBoard events and ``curves.png``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ..data.sources import DataBundle, collate_skip
from ..errors import CnnzooError
from ..train.loop import Trainer, evaluate, seed_everything
from ..train.metrics import EvalResult
from .freeze import classifier_of, freeze, freeze_body, trainable_groups, unfreeze_last
from .losses import distillation_loss, joint_loss, lwf_loss

STRATEGIES = ("feature-extraction", "finetune", "discriminative", "joint", "distill", "lwf")
DEFAULT_LR_FACTOR = 3.0  # the lectures' "3x-10x smaller learning rate than the next later group"


# ------------------------------------------------------------------------------------------------ settings
@dataclass
class Settings:
    """Optimisation settings shared by the strategies (SGD with momentum, cosine decay per phase)."""

    epochs: int = 10
    lr: float = 0.01
    batch_size: int = 64
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # or "constant"
    device: str | torch.device | None = None
    out_dir: str | Path | None = None
    seed: int = 0
    progress: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise CnnzooError(
                f"epochs and batch size must be at least 1, got {self.epochs} and {self.batch_size}."
            )
        if not self.lr > 0:
            raise CnnzooError(f"the learning rate must be positive, got {self.lr}.")
        if self.schedule not in ("cosine", "constant"):
            raise CnnzooError(f"unknown transfer schedule {self.schedule!r}; use cosine or constant.")
        if self.device is None:
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(self.device)


def _settings(settings: Settings | None, kw: dict[str, Any]) -> Settings:
    if settings is not None and kw:
        return Settings(**{**settings.__dict__, **kw})
    return settings or Settings(**kw)


@dataclass
class TransferResult:
    """A finished transfer run: the new-task network, its test result, and the old task's where measured."""

    strategy: str
    model: nn.Module
    history: list[dict[str, Any]]
    test: EvalResult | None
    train_time_s: float
    old_head: nn.Module | None = None
    old_test: EvalResult | None = None
    checkpoint: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def old_task_model(self) -> nn.Module:
        """The network for the old task: the (possibly changed) shared body with the old head."""
        if self.old_head is None:
            raise CnnzooError(f"the {self.strategy} strategy keeps no old-task head.")
        return HeadView(self.model, self.old_head)


# ------------------------------------------------------------------------------------------------ helpers
def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Detach the current classifier (returned, a copy: the old task's head) and give ``model`` a fresh one
    with
    ``num_classes`` outputs (``reset_classifier``)."""
    old = copy.deepcopy(classifier_of(model))
    reset = getattr(model, "reset_classifier", None)
    if reset is None:
        raise CnnzooError(f"{type(model).__name__} has no reset_classifier(); transfer needs a cnnzoo model.")
    reset(num_classes)
    kwargs = getattr(model, "cnnzoo_kwargs", None)
    if isinstance(kwargs, dict):
        kwargs["num_classes"] = num_classes
    return old


class HeadView(nn.Module):
    """``model``'s body with another classifier ``head`` on the same input the model's classifier sees (the
    pre-logit features): the old-task network of a shared-body, two-head system."""

    def __init__(self, model: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.model, self.head = model, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []
        h = classifier_of(self.model).register_forward_hook(lambda m, i, o: captured.append(i[0]))
        try:
            self.model(x)
        finally:
            h.remove()
        return self.head(captured[0])


class SecondHead:
    """Runs ``head`` on the input of ``model``'s classifier at every forward pass. ``concat=True`` makes the
    model
    return ``[head outputs, classifier outputs]`` (joint training); otherwise the outputs are kept in
    :attr:`logits` (LwF)."""

    def __init__(self, model: nn.Module, head: nn.Module, concat: bool = False) -> None:
        self.head, self.concat = head, concat
        self.logits: torch.Tensor | None = None
        self.handle = classifier_of(model).register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> Any:
        self.logits = self.head(inputs[0])
        return torch.cat([self.logits, output], 1) if self.concat else None

    def remove(self) -> None:
        self.handle.remove()


class Relabeled(Dataset):
    """``(x, y + offset)`` of a dataset (the new task's labels after the old task's in joint training)."""

    def __init__(self, base: Dataset, offset: int) -> None:
        self.base, self.offset = base, offset
        self.targets = getattr(base, "targets", None)
        if self.targets is not None:
            self.targets = self.targets + offset

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        item = self.base[i]
        return None if item is None else (item[0], item[1] + self.offset)


class WithRecorded(Dataset):
    """``(x, y, recorded[i])``: a dataset with a per-sample tensor the training loop hands to hooks (LwF)."""

    def __init__(self, base: Dataset, recorded: torch.Tensor) -> None:
        self.base, self.recorded = base, recorded
        self.targets = getattr(base, "targets", None)

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        item = self.base[i]
        return None if item is None else (item[0], item[1], self.recorded[i])


def discriminative_param_groups(
    model: nn.Module, lr: float, lr_factor: float = DEFAULT_LR_FACTOR, trainable_only: bool = True
) -> list[dict[str, Any]]:
    """Optimizer parameter groups, one per layer group holding parameters (input to output, the classifier
    last): the classifier gets ``lr``, each earlier group the next one's rate divided by ``lr_factor``.

    Each dict carries ``name`` and ``lr`` (and ``lr_ratio``, its rate relative to the head's), so schedulers
    that
    scale every group (StepLR, cosine with ``eta_min=0``, ReduceLROnPlateau with ``min_lr=0``) keep the
    ratios.
    """
    if not lr_factor >= 1.0:
        raise CnnzooError(
            f"--lr-factor must be at least 1 (earlier groups learn more slowly), got {lr_factor}."
        )
    groups = [
        (n, [p for p in ps if p.requires_grad or not trainable_only]) for n, ps in trainable_groups(model)
    ]
    groups = [(n, ps) for n, ps in groups if ps]
    out = []
    for depth, (name, params) in enumerate(reversed(groups)):
        ratio = lr_factor**-depth
        out.append({"params": params, "lr": lr * ratio, "name": name, "lr_ratio": ratio})
    return out[::-1]


def _optimizer(params: Any, s: Settings, lr: float | None = None) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params, lr=s.lr if lr is None else lr, momentum=s.momentum, weight_decay=s.weight_decay
    )


def _scheduler(opt: torch.optim.Optimizer, s: Settings, epochs: int) -> Any:
    if s.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1), eta_min=0.0)
    return None


def _meta(
    model: nn.Module, data: DataBundle | None, s: Settings, strategy: str, **extra: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"transfer": {"strategy": strategy, **extra}}
    name = getattr(model, "cnnzoo_name", None)
    if name is not None:
        meta["model"] = name
        meta["model_kwargs"] = dict(getattr(model, "cnnzoo_kwargs", {}))
    if data is not None:
        meta.update(
            {
                "classes": list(data.classes),
                "input_size": [data.in_chans, *data.input_size],
                "mean": list(data.mean),
                "std": list(data.std),
                "data": data.source,
                "natural": data.natural,
            }
        )
    meta.update(s.meta)
    return meta


def _phase(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Dataset,
    epochs: int,
    s: Settings,
    *,
    prev: Trainer | None = None,
    val: Dataset | None = None,
    hooks: Sequence[Any] = (),
    loss_fn: Any = None,
    meta: dict[str, Any] | None = None,
    num_classes: int | None = None,
) -> Trainer:
    """One training phase with the training loop; a later phase continues the earlier one's epoch numbering,
    history, logs and best-checkpoint tracking."""
    done = prev.epoch if prev is not None else 0
    tr = Trainer(
        module,
        optimizer,
        train,
        epochs=done + epochs,
        batch_size=s.batch_size,
        scheduler=_scheduler(optimizer, s, epochs),
        val_data=val,
        device=s.device,
        out_dir=s.out_dir,
        seed=s.seed + done,
        hooks=hooks,
        loss_fn=loss_fn,
        meta=meta,
        progress=s.progress,
        num_classes=num_classes,
        ks=(1, 5),
        log=s.out_dir is not None,
    )
    if prev is not None:
        tr.history, tr.epoch = list(prev.history), prev.epoch
        tr.best_value, tr.best_epoch = prev.best_value, prev.best_epoch
    tr.fit()
    return tr


def _finish(
    strategy: str,
    model: nn.Module,
    data: DataBundle,
    trainer: Trainer | None,
    t0: float,
    s: Settings,
    old_head: nn.Module | None = None,
    old_data: DataBundle | None = None,
    extra: dict[str, Any] | None = None,
) -> TransferResult:
    elapsed = time.perf_counter() - t0
    model.eval()
    test = evaluate(model, data.test, device=s.device, classes=data.classes)
    old_test = None
    if old_head is not None and old_data is not None:
        old_test = evaluate(
            HeadView(model, old_head), old_data.test, device=s.device, classes=old_data.classes
        )
    ckpt = Path(s.out_dir) / "best.pt" if s.out_dir is not None else None
    if s.progress:
        msg = f"{strategy}: test top-1 {test.top1:.4f}"
        if old_test is not None:
            msg += f", old task top-1 {old_test.top1:.4f}"
        print(msg + f" ({elapsed:.1f} s of training)", flush=True)
    return TransferResult(
        strategy,
        model,
        trainer.history if trainer else [],
        test,
        elapsed,
        old_head,
        old_test,
        ckpt,
        dict(extra or {}),
    )


@torch.no_grad()
def _classifier_inputs(model: nn.Module, data: Dataset, s: Settings) -> TensorDataset:
    """The inputs of ``model``'s classifier (eval mode) for every sample of ``data``, with their labels.

    Evaluation datasets give each sample as ``[views, C, H, W]`` (test-time views, one for validation
    sets): every view becomes one cached sample with the sample's label."""
    feats: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    h = classifier_of(model).register_forward_hook(lambda m, i, o: feats.append(i[0].detach().cpu()))
    model.eval()
    try:
        for batch in DataLoader(data, batch_size=256, shuffle=False, collate_fn=collate_skip):
            if batch is None:
                continue
            x, y = batch[0], batch[1]
            if x.dim() == 5:  # [batch, views, C, H, W]
                y = y.repeat_interleave(x.shape[1])
                x = x.flatten(0, 1)
            model(x.to(s.device))
            labels.append(y)
    finally:
        h.remove()
    return TensorDataset(torch.cat(feats), torch.cat(labels))


class _CachedHead(nn.Module):
    """Trains ``model``'s classifier on cached features; its state dict *is* the whole model's, so the
    training
    loop's checkpoints are ordinary cnnzoo checkpoints of the full network."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return classifier_of(self.model)(features)

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.model.state_dict(*args, **kwargs)

    def load_state_dict(  # type: ignore[override]
        self, state_dict: Any, strict: bool = True, assign: bool = False
    ) -> Any:
        return self.model.load_state_dict(state_dict, strict=strict, assign=assign)


# ------------------------------------------------------------------------------------------------ strategies
def feature_extraction(
    model: nn.Module,
    data: DataBundle,
    settings: Settings | None = None,
    *,
    cache: bool = True,
    reset_head: bool = True,
    **kw: Any,
) -> TransferResult:
    """Freeze the body (BatchNorm pinned in eval mode) and train a new linear classifier on its features.

    With ``cache`` (and a Linear classifier) the classifier's inputs are computed once for the training (and
    validation) images, so each epoch costs only the linear layer; the body is then bit-identical afterwards.
    """
    s = _settings(settings, kw)
    seed_everything(s.seed)
    old = replace_head(model, data.num_classes) if reset_head else None
    model.to(s.device)
    freeze_body(model)
    meta = _meta(model, data, s, "feature-extraction")
    t0 = time.perf_counter()
    head = classifier_of(model)
    opt = _optimizer(list(head.parameters()), s)
    if cache and isinstance(head, nn.Linear):
        train = _classifier_inputs(model, data.train, s)
        val = _classifier_inputs(model, data.val, s) if data.val is not None else None
        tr = _phase(
            _CachedHead(model), opt, train, s.epochs, s, val=val, meta=meta, num_classes=data.num_classes
        )
    else:
        tr = _phase(
            model, opt, data.train, s.epochs, s, val=data.val, meta=meta, num_classes=data.num_classes
        )
    return _finish("feature-extraction", model, data, tr, t0, s, old_head=old, extra={"cached": cache})


def finetune(
    model: nn.Module,
    data: DataBundle,
    settings: Settings | None = None,
    *,
    freeze_epochs: int = 1,
    unfreeze: int | str = "all",
    lr_factor: float = 10.0,
    reset_head: bool = True,
    old_data: DataBundle | None = None,
    **kw: Any,
) -> TransferResult:
    """Train the new head alone for ``freeze_epochs`` (body frozen), then unfreeze the last ``unfreeze`` layer
    groups (or ``"all"``) and train them with the head for the remaining ``epochs - freeze_epochs`` epochs at
    ``lr / lr_factor``. With ``reset_head`` the old classifier is kept (``old_head``) but not trained: Li &
    Hoiem's
    "fine-tuning" baseline, whose old task is measured on ``old_data`` if given."""
    s = _settings(settings, kw)
    if not 0 <= freeze_epochs <= s.epochs:
        raise CnnzooError(
            f"--freeze-epochs must be between 0 and --epochs ({s.epochs}), got {freeze_epochs}."
        )
    if not lr_factor >= 1.0:
        raise CnnzooError(f"--lr-factor must be at least 1, got {lr_factor}.")
    seed_everything(s.seed)
    old = replace_head(model, data.num_classes) if reset_head else None
    model.to(s.device)
    meta = _meta(
        model, data, s, "finetune", freeze_epochs=freeze_epochs, unfreeze=unfreeze, lr_factor=lr_factor
    )
    t0 = time.perf_counter()
    tr: Trainer | None = None
    if freeze_epochs:
        freeze_body(model)
        opt = _optimizer(list(classifier_of(model).parameters()), s)
        tr = _phase(
            model, opt, data.train, freeze_epochs, s, val=data.val, meta=meta, num_classes=data.num_classes
        )
    rest = s.epochs - freeze_epochs
    groups: list[str] = []
    if rest:
        freeze(model)
        groups = unfreeze_last(model, unfreeze)
        opt = _optimizer([p for p in model.parameters() if p.requires_grad], s, lr=s.lr / lr_factor)
        tr = _phase(
            model, opt, data.train, rest, s, prev=tr, val=data.val, meta=meta, num_classes=data.num_classes
        )
    return _finish(
        "finetune", model, data, tr, t0, s, old_head=old, old_data=old_data, extra={"trained_groups": groups}
    )


def discriminative(
    model: nn.Module,
    data: DataBundle,
    settings: Settings | None = None,
    *,
    lr_factor: float = DEFAULT_LR_FACTOR,
    freeze_epochs: int = 0,
    reset_head: bool = True,
    **kw: Any,
) -> TransferResult:
    """Fine-tune every layer group at its own rate: the head at ``lr``, each earlier group at the next one's
    rate
    divided by ``lr_factor`` (optionally after ``freeze_epochs`` of the head alone)."""
    s = _settings(settings, kw)
    if not 0 <= freeze_epochs < s.epochs:
        raise CnnzooError(f"--freeze-epochs must be below --epochs ({s.epochs}), got {freeze_epochs}.")
    seed_everything(s.seed)
    old = replace_head(model, data.num_classes) if reset_head else None
    model.to(s.device)
    meta = _meta(model, data, s, "discriminative", lr_factor=lr_factor)
    t0 = time.perf_counter()
    tr: Trainer | None = None
    if freeze_epochs:
        freeze_body(model)
        opt = _optimizer(list(classifier_of(model).parameters()), s)
        tr = _phase(
            model, opt, data.train, freeze_epochs, s, val=data.val, meta=meta, num_classes=data.num_classes
        )
    freeze(model)
    unfreeze_last(model, "all")
    groups = discriminative_param_groups(model, s.lr, lr_factor)
    opt = _optimizer(groups, s)
    tr = _phase(
        model,
        opt,
        data.train,
        s.epochs - freeze_epochs,
        s,
        prev=tr,
        val=data.val,
        meta=meta,
        num_classes=data.num_classes,
    )
    rates = {g["name"]: g["lr"] for g in groups}
    return _finish("discriminative", model, data, tr, t0, s, old_head=old, extra={"group_lr": rates})


def joint_training(
    model: nn.Module, data: DataBundle, old_data: DataBundle, settings: Settings | None = None, **kw: Any
) -> TransferResult:
    """Shared body, the old head and a new head trained together on the old and the new training images (each
    sample scored by its own task's softmax, :func:`cnnzoo.transfer.losses.joint_loss`)."""
    s = _settings(settings, kw)
    seed_everything(s.seed)
    old = replace_head(model, data.num_classes)
    n_old = _out_features(old)
    if n_old != old_data.num_classes:
        raise CnnzooError(
            f"the old head has {n_old} outputs but the old data has {old_data.num_classes} classes; "
            "give the data the source model was trained on."
        )
    model.to(s.device)
    old.to(s.device)
    meta = _meta(model, data, s, "joint", old_classes=list(old_data.classes))
    meta["old_head"] = (
        old.state_dict()
    )  # shares storage with the head: every checkpoint holds its current values
    train = torch.utils.data.ConcatDataset([old_data.train, Relabeled(data.train, n_old)])
    val = None
    if data.val is not None and old_data.val is not None:
        val = torch.utils.data.ConcatDataset([old_data.val, Relabeled(data.val, n_old)])
    second = SecondHead(model, old, concat=True)
    t0 = time.perf_counter()
    try:
        opt = _optimizer(list(model.parameters()) + list(old.parameters()), s)
        tr = _phase(
            model,
            opt,
            train,
            s.epochs,
            s,
            val=val,
            meta=meta,
            num_classes=n_old + data.num_classes,
            loss_fn=lambda logits, y: joint_loss(logits, y, n_old),
        )
    finally:
        second.remove()
    return _finish("joint", model, data, tr, t0, s, old_head=old, old_data=old_data)


class _DistillHook:
    """Computes the teacher's logits for each training batch (the loop's ``on_batch_start`` hook)."""

    def __init__(self, teacher: nn.Module, temperature: float, alpha: float, device: torch.device) -> None:
        self.teacher, self.t, self.alpha, self.device = teacher, temperature, alpha, device
        self.logits: torch.Tensor | None = None

    def on_batch_start(self, trainer: Trainer, step: int, batch: Any) -> None:
        with torch.no_grad():
            self.logits = self.teacher(batch[0].to(self.device))

    def loss(self, student_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        assert self.logits is not None
        return distillation_loss(student_logits, self.logits, targets, self.t, self.alpha)


def distill(
    student: nn.Module,
    teacher: nn.Module,
    data: DataBundle,
    settings: Settings | None = None,
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
    **kw: Any,
) -> TransferResult:
    """Train ``student`` on ``data`` with Hinton et al.'s loss: ``alpha * T^2 * KL(teacher^T || student^T) +
    (1 - alpha) * CE(student, labels)``. The teacher (frozen, eval mode) must predict the same classes."""
    s = _settings(settings, kw)
    if not temperature > 0:
        raise CnnzooError(f"--temperature must be positive, got {temperature}.")
    if not 0.0 <= alpha <= 1.0:
        raise CnnzooError(f"--alpha must be between 0 and 1, got {alpha}.")
    seed_everything(s.seed)
    n_t, n_s = _out_features(classifier_of(teacher)), _out_features(classifier_of(student))
    if n_t != data.num_classes:
        raise CnnzooError(
            f"the teacher predicts {n_t} classes but the data has {data.num_classes}; distil on the "
            "teacher's own classes."
        )
    if n_s != data.num_classes:
        replace_head(student, data.num_classes)
    teacher.to(s.device)
    freeze(teacher)
    teacher.eval()
    student.to(s.device)
    hook = _DistillHook(teacher, temperature, alpha, s.device)
    meta = _meta(student, data, s, "distill", temperature=temperature, alpha=alpha)
    t0 = time.perf_counter()
    opt = _optimizer([p for p in student.parameters() if p.requires_grad], s)
    tr = _phase(
        student,
        opt,
        data.train,
        s.epochs,
        s,
        val=data.val,
        hooks=[hook],
        loss_fn=hook.loss,
        meta=meta,
        num_classes=data.num_classes,
    )
    return _finish("distill", student, data, tr, t0, s)


class _LwFHook:
    """Hands the recorded old-task outputs of each batch (``batch[2]``) to the LwF loss."""

    def __init__(
        self, second: SecondHead, temperature: float, lambda_old: float, device: torch.device
    ) -> None:
        self.second, self.t, self.lam, self.device = second, temperature, lambda_old, device
        self.recorded: torch.Tensor | None = None

    def on_batch_start(self, trainer: Trainer, step: int, batch: Any) -> None:
        self.recorded = batch[2].to(self.device)

    def loss(self, new_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        assert self.recorded is not None and self.second.logits is not None
        return lwf_loss(new_logits, targets, self.second.logits, self.recorded, self.t, self.lam)


@torch.no_grad()
def record_outputs(model: nn.Module, data: Dataset, device: torch.device | str = "cpu") -> torch.Tensor:
    """``model``'s logits (eval mode) for every sample of ``data``, in order (LwF's "record responses
    y_o")."""
    model.eval()
    outs = []
    for batch in DataLoader(data, batch_size=256, shuffle=False, collate_fn=collate_skip):
        outs.append(model(batch[0].to(device)).float().cpu())
    return torch.cat(outs)


def learning_without_forgetting(
    model: nn.Module,
    data: DataBundle,
    settings: Settings | None = None,
    *,
    temperature: float = 2.0,
    lambda_old: float = 1.0,
    warmup_epochs: int = 1,
    lr_factor: float = 10.0,
    old_data: DataBundle | None = None,
    **kw: Any,
) -> TransferResult:
    """Li & Hoiem 2016, Algorithm 1: record the old head's outputs on the new images, add a new head, train it
    alone for ``warmup_epochs`` at ``lr`` (body and old head frozen), then train body, old head and new head
    on ``CE(new) + lambda_old * soft_CE(old, recorded; T)`` for the remaining epochs at ``lr / lr_factor``.
    No old-task image is used for training; ``old_data`` (optional) only measures the old task afterwards.

    The joint phase runs at the rate :func:`finetune` gives its body (``lr / lr_factor``, default 10x
    lower): LwF is fine-tuning plus the old-task term (Li & Hoiem 2016, Sec. 3), so the two are compared at
    one rate. Training the pre-trained body at the new head's full rate wrecks it before the old-task term
    can hold it: on MNIST 0-4 -> 5-9 with lr 0.05 the network collapsed to chance on both tasks."""
    s = _settings(settings, kw)
    if not 0 <= warmup_epochs < s.epochs:
        raise CnnzooError(f"the warm-up must be shorter than --epochs ({s.epochs}), got {warmup_epochs}.")
    if not lr_factor >= 1.0:
        raise CnnzooError(f"--lr-factor must be at least 1, got {lr_factor}.")
    seed_everything(s.seed)
    model.to(s.device)
    t0 = time.perf_counter()
    recorded = record_outputs(model, data.train, s.device)
    old = replace_head(model, data.num_classes)
    model.to(s.device)
    old.to(s.device)
    meta = _meta(
        model,
        data,
        s,
        "lwf",
        temperature=temperature,
        lambda_old=lambda_old,
        warmup_epochs=warmup_epochs,
        lr_factor=lr_factor,
    )
    meta["old_head"] = (
        old.state_dict()
    )  # shares storage with the head: every checkpoint holds its current values
    train = WithRecorded(data.train, recorded)
    tr: Trainer | None = None
    if warmup_epochs:
        freeze_body(model)
        opt = _optimizer(list(classifier_of(model).parameters()), s)
        tr = _phase(
            model, opt, train, warmup_epochs, s, val=data.val, meta=meta, num_classes=data.num_classes
        )
    freeze(model)
    unfreeze_last(model, "all")
    second = SecondHead(model, old)
    hook = _LwFHook(second, temperature, lambda_old, s.device)
    try:
        opt = _optimizer(list(model.parameters()) + list(old.parameters()), s, lr=s.lr / lr_factor)
        tr = _phase(
            model,
            opt,
            train,
            s.epochs - warmup_epochs,
            s,
            prev=tr,
            val=data.val,
            hooks=[hook],
            loss_fn=hook.loss,
            meta=meta,
            num_classes=data.num_classes,
        )
    finally:
        second.remove()
    return _finish("lwf", model, data, tr, t0, s, old_head=old, old_data=old_data)


def _out_features(head: nn.Module) -> int:
    for attr in ("out_features", "out_channels"):
        if isinstance(getattr(head, attr, None), int):
            return int(getattr(head, attr))
    raise CnnzooError(f"cannot tell how many classes a {type(head).__name__} classifier predicts.")
