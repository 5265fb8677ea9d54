"""Transfer-learning strategies on top of the training loop (:class:`cnnzoo.train.Trainer`).

A strategy is a list of training :class:`Phase` s (what is frozen, which parameter groups train at which
rates, on which data, with which loss and hooks) that one :class:`~cnnzoo.train.Trainer` runs in turn
(:meth:`~cnnzoo.train.Trainer.start_phase`), after the opening every strategy shares (:func:`_open`: merge and
validate the settings, seed, replace the head, move to the device):

- :func:`feature_extraction`: the body frozen (BatchNorm pinned in eval mode), a new linear classifier trained
  on features computed once and cached ("use a linear classifier on the top layer", lecture table; Razavian
  et al. 2014, "CNN features off-the-shelf").
- :func:`finetune`: the new head first for ``freeze_epochs`` with the body frozen, then the last ``unfreeze``
  layer groups (or all) trained as well at a rate ``lr_factor`` times lower (Yosinski et al. 2014).
- :func:`discriminative`: every layer group trained, each earlier group at the next one's rate divided by
  ``lr_factor`` (the lecture: "3x-10x smaller"; Howard & Ruder 2018's discriminative fine-tuning), set as
  optimizer parameter groups so any scheduler keeps the ratios.
- :func:`joint_training`: shared body, old and new heads trained together on old and new data (Li & Hoiem
  2016, Sec. 2).
- :func:`distill`: a student trained on a teacher's temperature-softened outputs and the labels (Hinton et al.
  2015).
- :func:`learning_without_forgetting`: old-task outputs recorded on the new images before training, a warm-up
  of the new head, then everything trained on ``L_new + lambda_o * L_old`` at fine-tuning's rate
  ``lr / lr_factor`` (Li & Hoiem 2016, Algorithm 1).

A head with no trainable parameters (LeNet-5's output layer of fixed RBF prototypes, LeCun et al. 1998,
Sec. II-B) is trained through the layer group below it (F6): see :func:`cnnzoo.transfer.freeze.head_modules`.

BatchNorm (``Settings.bn``): ``"frozen"`` keeps every BatchNorm layer in inference mode for the whole run
(running statistics fixed, even through ``model.train()``; scale and shift still train where their layer
does), ``"train"`` lets the layers being trained use and update batch statistics. The default is
``"frozen"`` for a pre-trained body, as Keras' and fastai's fine-tuning guides advise for small data
(measured: ``benchmarks/bench_transfer_bn.py``), and ``"train"`` for a body trained from scratch, whose
running statistics describe nothing yet. Layers that a phase keeps frozen always stay in inference mode.

Each returns a :class:`TransferResult` whose ``model`` holds the weights of the epoch chosen on the
validation set (``data.val``: the highest top-1, ties to the lower loss; without validation data, the last
epoch, and the result says so) and whose ``test`` is that model's; with ``out_dir`` the run writes the
training loop's ``last.pt`` / ``best.pt`` (plain cnnzoo checkpoints of the new-task network, its record
naming the new classes; the run section holds the strategy's settings and, where there is one, the old
classifier as ``old_head``), ``metrics.csv``, TensorBoard events and ``curves.png``. Errors name the Python
parameters (``freeze_epochs``); the command line says them as its flags (``--freeze-epochs``).
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ..data.sources import DataBundle, collate_skip
from ..errors import CnnzooError, OptionError
from ..options import BatchNormMode, TransferSchedule
from ..registries import register_strategy
from ..train.loop import OPTIMISTIC, Trainer, evaluate, seed_everything
from ..train.metrics import EvalResult
from ..train.run import trained_record
from .freeze import (
    classifier_of,
    freeze,
    freeze_batchnorm,
    freeze_body,
    head_modules,
    trainable_groups,
    unfreeze_last,
)
from .losses import distillation_loss, joint_loss, lwf_loss

BN_MODES = BatchNormMode.values()
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
    run: dict[str, Any] = field(default_factory=dict)  # more entries of the checkpoints' run section
    #: BatchNorm policy, ``"frozen"`` or ``"train"`` (see the module docstring); ``None``: frozen for a
    #: pre-trained body, train for one trained from scratch
    bn: str | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise OptionError(
                f"epochs and batch_size must be at least 1, got {self.epochs} and {self.batch_size}.",
                "epochs",
                "batch_size",
            )
        if not self.lr > 0:
            raise OptionError(f"the learning rate lr must be positive, got {self.lr}.", "lr")
        TransferSchedule.parse(self.schedule)
        if self.bn is not None:
            self.bn = BatchNormMode.parse(self.bn, OptionError, "bn").value
        if self.device is None:
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(self.device)


def _settings(settings: Settings | None, kw: dict[str, Any]) -> Settings:
    """``settings`` with the keyword overrides ``kw`` merged in (validated by :class:`Settings`)."""
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
    with ``num_classes`` outputs (``reset_classifier``)."""
    old = copy.deepcopy(classifier_of(model))
    reset = getattr(model, "reset_classifier", None)
    if reset is None:
        raise CnnzooError(f"{type(model).__name__} has no reset_classifier(); transfer needs a cnnzoo model.")
    reset(num_classes)  # a cnnzoo model's reset_classifier also gives it a new record (no class names yet)
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
    model return ``[head outputs, classifier outputs]`` (joint training); otherwise the outputs are kept in
    :attr:`logits` (LwF).

    Attached at once unless ``attach=False``; :meth:`attach` / :meth:`remove`, or use it as a context
    manager (attached inside the ``with`` block)."""

    def __init__(self, model: nn.Module, head: nn.Module, concat: bool = False, attach: bool = True) -> None:
        self.model, self.head, self.concat = model, head, concat
        self.logits: torch.Tensor | None = None
        self.handle: Any = None
        if attach:
            self.attach()

    def _hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> Any:
        self.logits = self.head(inputs[0])
        return torch.cat([self.logits, output], 1) if self.concat else None

    def attach(self) -> None:
        if self.handle is None:
            self.handle = classifier_of(self.model).register_forward_hook(self._hook)

    def remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None

    def __enter__(self) -> SecondHead:
        self.attach()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


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


def _check_lr_factor(lr_factor: float) -> None:
    if not lr_factor >= 1.0:
        raise OptionError(
            f"lr_factor must be at least 1 (earlier groups learn more slowly), got {lr_factor}.", "lr_factor"
        )


def discriminative_param_groups(
    model: nn.Module, lr: float, lr_factor: float = DEFAULT_LR_FACTOR, trainable_only: bool = True
) -> list[dict[str, Any]]:
    """Optimizer parameter groups, one per layer group holding parameters (input to output, the classifier
    last): the classifier gets ``lr``, each earlier group the next one's rate divided by ``lr_factor``.

    Each dict carries ``name`` and ``lr`` (and ``lr_ratio``, its rate relative to the head's), so schedulers
    that scale every group (StepLR, cosine with ``eta_min=0``, ReduceLROnPlateau with ``min_lr=0``) keep the
    ratios.
    """
    _check_lr_factor(lr_factor)
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


def _run_info(s: Settings, strategy: str, data: DataBundle | None = None, **extra: Any) -> dict[str, Any]:
    """The checkpoints' run section of a strategy: its name, BatchNorm policy and settings, what chose the
    checkpoint, and ``s.run`` (the weights started from...)."""
    info: dict[str, Any] = {"transfer": {"strategy": strategy, "bn": s.bn, **extra}, **s.run}
    if data is not None:
        info["validation"] = "the test images" if data.selection_on_test else data.val_from or None
    return info


# ------------------------------------------------------------------------------------------------ phases
@dataclass
class Phase:
    """One training phase of a transfer strategy.

    Attributes:
        name: what the phase is called in the result (``"head"``, ``"finetune"``...).
        epochs: its length; a phase of 0 epochs is skipped.
        trainable: what trains: ``"head"`` (the body frozen, :func:`cnnzoo.transfer.freeze.freeze_body`),
            ``"all"`` or ``k`` (the last ``k`` layer groups and the head, the rest frozen:
            :func:`~cnnzoo.transfer.freeze.unfreeze_last`), or ``None`` (the model as it is).
        lr_divisor: the phase's rate is ``Settings.lr / lr_divisor``.
        group_lr_factor: if given, one optimizer group per layer group, each earlier group at the next one's
            rate divided by this factor (:func:`discriminative_param_groups`).
        extra_params: parameters outside the model trained too (an old-task head).
        hooks, loss_fn: the training loop's hooks and loss for this phase.
        during: a context-manager factory active while the phase trains (a second head's forward hook).
    """

    name: str
    epochs: int
    trainable: str | int | None = "head"
    lr_divisor: float = 1.0
    group_lr_factor: float | None = None
    extra_params: Sequence[nn.Parameter] = ()
    hooks: Sequence[Any] = ()
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    during: Callable[[], contextlib.AbstractContextManager[Any]] | None = None


def head_phase(epochs: int, name: str = "head", **kw: Any) -> Phase:
    """The new head trained alone with the body frozen (the warm-up that most strategies open with)."""
    return Phase(name, epochs, trainable="head", **kw)


def _open(
    model: nn.Module,
    data: DataBundle,
    s: Settings,
    *,
    reset_head: bool = True,
    before_reset: Callable[[], Any] | None = None,
) -> nn.Module | None:
    """The opening every strategy shares: seed, move ``model`` to the device, (``before_reset``, e.g. record
    the old head's outputs,) replace the head by one for ``data``'s classes and give the model the record
    of what it now is (``data``'s classes, source, mean/std and view: ``predict(model)`` names them);
    returns the old head (on the device), or ``None`` without ``reset_head``. An unset
    BatchNorm policy (``s.bn``) is settled here: frozen for a body with weights from somewhere (its record
    names a source), train for a random one."""
    if s.bn is None:
        rec = getattr(model, "cnnzoo_record", None)
        s.bn = "frozen" if getattr(rec, "source", None) else "train"
    seed_everything(s.seed)
    model.to(s.device)
    if before_reset is not None:
        before_reset()
    old = replace_head(model, data.num_classes) if reset_head else None
    if getattr(model, "cnnzoo_record", None) is not None:  # the record follows the head: data's classes
        model.cnnzoo_record = trained_record(model, data)  # type: ignore[assignment]
    if old is None:
        return None
    model.to(s.device)
    return old.to(s.device)


def _set_trainable(model: nn.Module, trainable: str | int | None, bn: str | None = "train") -> list[str]:
    """Freeze/unfreeze ``model`` for a phase, BatchNorm kept in inference mode throughout with
    ``bn="frozen"``; the names of the layer groups now trained."""
    if trainable is None:
        groups: list[str] = []
    elif trainable == "head":
        freeze_body(model)
        groups = ["head"]
    else:
        freeze(model)
        groups = unfreeze_last(model, trainable)
    if bn == "frozen":
        freeze_batchnorm(model)
    return groups


def _run(
    model: nn.Module,
    phases: Sequence[Phase],
    s: Settings,
    *,
    train: Dataset,
    val: Dataset | None,
    run: dict[str, Any],
    num_classes: int,
    module: nn.Module | None = None,
) -> tuple[Trainer | None, dict[str, dict[str, Any]]]:
    """Run ``phases`` in turn with one :class:`~cnnzoo.train.Trainer` (``module``, default ``model``, is what
    it trains: a cached-feature head in feature extraction). Returns the trainer and, per phase, the groups
    trained and the rate of each optimizer group."""
    trainer: Trainer | None = None
    record: dict[str, dict[str, Any]] = {}
    for ph in phases:
        if not ph.epochs:
            continue
        groups = _set_trainable(model, ph.trainable, s.bn)
        lr = s.lr / ph.lr_divisor
        if ph.trainable == "head":
            params: Any = [p for m in head_modules(model) for p in m.parameters()]
        else:
            params = [p for p in model.parameters() if p.requires_grad]
        if ph.group_lr_factor is not None:
            params = discriminative_param_groups(model, lr, ph.group_lr_factor)
        elif ph.extra_params:
            params = params + list(ph.extra_params)
        if not params or (isinstance(params[0], dict) and not any(g["params"] for g in params)):
            raise CnnzooError(f"nothing to train in the {ph.name} phase: every parameter is frozen.")
        opt = _optimizer(params, s, lr=lr)
        scheduler = _scheduler(opt, s, ph.epochs)
        rates = {
            g.get("name", str(i)): g["lr"] for i, g in enumerate(opt.param_groups)
        }  # as set, not decayed
        with ph.during() if ph.during is not None else contextlib.nullcontext():
            if trainer is None:
                trainer = Trainer(
                    module or model,
                    opt,
                    train,
                    epochs=ph.epochs,
                    batch_size=s.batch_size,
                    scheduler=scheduler,
                    val_data=val,
                    device=s.device,
                    out_dir=s.out_dir,
                    seed=s.seed,
                    hooks=ph.hooks,
                    loss_fn=ph.loss_fn,
                    record=getattr(model, "cnnzoo_record", None),
                    run=run,
                    progress=s.progress,
                    num_classes=num_classes,
                    ks=(1, 5),
                    log=s.out_dir is not None,
                )
            else:
                trainer.start_phase(opt, ph.epochs, scheduler=scheduler, hooks=ph.hooks, loss_fn=ph.loss_fn)
            trainer.fit()
        record[ph.name] = {"groups": groups, "group_lr": rates}
    return trainer, record


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
    chosen = "no training epoch ran"
    if trainer is not None and trainer.best_epoch is not None:
        # the model that is returned, tested and saved as best.pt is the chosen epoch's, not the last one
        best = trainer.best_weights()
        model.load_state_dict(best["state_dict"])
        if old_head is not None and "old_head" in best:
            old_head.load_state_dict(best["old_head"])
        chosen = trainer.selection()
    model.eval()
    test = evaluate(model, data.test, device=s.device, classes=data.classes)
    old_test = None
    if old_head is not None and old_data is not None:
        old_test = evaluate(
            HeadView(model, old_head), old_data.test, device=s.device, classes=old_data.classes
        )
    ckpt = Path(s.out_dir) / "best.pt" if s.out_dir is not None else None
    extra = {**(extra or {}), "selection": chosen, "bn": s.bn}
    if trainer is not None:
        extra["best_epoch"] = trainer.best_epoch
    if data.selection_on_test:
        extra["optimistic"] = True
    if s.progress:
        where = ckpt if ckpt is not None else "the model"
        msg = f"{strategy}: {where} = {chosen}; its test top-1 {test.top1:.4f}"
        if old_test is not None:
            msg += f", old task top-1 {old_test.top1:.4f}"
        if data.selection_on_test:
            msg += f" ({OPTIMISTIC})"
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
        extra,
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
    training loop's checkpoints are ordinary cnnzoo checkpoints of the full network."""

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
@register_strategy(
    "feature-extraction",
    help="frozen body, BatchNorm in eval mode, a new linear head on cached features (Razavian et al. 2014)",
)
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
    A classifier without parameters (LeNet-5's RBF output) is trained through the layer below it, uncached.
    """
    s = _settings(settings, kw)
    old = _open(model, data, s, reset_head=reset_head)
    run = _run_info(s, "feature-extraction", data)
    t0 = time.perf_counter()
    phases = [head_phase(s.epochs)]
    train, val, module = data.train, data.val, None
    if (
        cache
        and head_modules(model) == [classifier_of(model)]
        and isinstance(classifier_of(model), nn.Linear)
    ):
        freeze_body(model)
        train = _classifier_inputs(model, data.train, s)
        val = _classifier_inputs(model, data.val, s) if data.val is not None else None
        module = _CachedHead(model)
    tr, _ = _run(model, phases, s, train=train, val=val, run=run, num_classes=data.num_classes, module=module)
    return _finish("feature-extraction", model, data, tr, t0, s, old_head=old, extra={"cached": cache})


@register_strategy(
    "finetune",
    help="the new head alone first, then the last layer groups too at a lower rate (Yosinski et al. 2014)",
)
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
    Hoiem's "fine-tuning" baseline, whose old task is measured on ``old_data`` if given."""
    s = _settings(settings, kw)
    if not 0 <= freeze_epochs <= s.epochs:
        raise OptionError(
            f"freeze_epochs must be between 0 and epochs ({s.epochs}), got {freeze_epochs}.",
            "freeze_epochs",
            "epochs",
        )
    _check_lr_factor(lr_factor)
    old = _open(model, data, s, reset_head=reset_head)
    run = _run_info(s, "finetune", data, freeze_epochs=freeze_epochs, unfreeze=unfreeze, lr_factor=lr_factor)
    t0 = time.perf_counter()
    phases = [
        head_phase(freeze_epochs),
        Phase("finetune", s.epochs - freeze_epochs, trainable=unfreeze, lr_divisor=lr_factor),
    ]
    tr, done = _run(model, phases, s, train=data.train, val=data.val, run=run, num_classes=data.num_classes)
    groups = done.get("finetune", {}).get("groups", [])
    return _finish(
        "finetune", model, data, tr, t0, s, old_head=old, old_data=old_data, extra={"trained_groups": groups}
    )


@register_strategy(
    "discriminative",
    help="every layer group, each earlier one at a lower rate (Howard & Ruder 2018)",
    warmup="freeze_epochs",
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
    rate divided by ``lr_factor`` (optionally after ``freeze_epochs`` of the head alone)."""
    s = _settings(settings, kw)
    if not 0 <= freeze_epochs < s.epochs:
        raise OptionError(
            f"freeze_epochs must be below epochs ({s.epochs}), got {freeze_epochs}.",
            "freeze_epochs",
            "epochs",
        )
    _check_lr_factor(lr_factor)
    old = _open(model, data, s, reset_head=reset_head)
    run = _run_info(s, "discriminative", data, lr_factor=lr_factor)
    t0 = time.perf_counter()
    phases = [
        head_phase(freeze_epochs),
        Phase("discriminative", s.epochs - freeze_epochs, trainable="all", group_lr_factor=lr_factor),
    ]
    tr, done = _run(model, phases, s, train=data.train, val=data.val, run=run, num_classes=data.num_classes)
    rates = done["discriminative"]["group_lr"]
    return _finish("discriminative", model, data, tr, t0, s, old_head=old, extra={"group_lr": rates})


@register_strategy("joint", help="old and new heads trained together on old and new data (Li & Hoiem 2016)")
def joint_training(
    model: nn.Module, data: DataBundle, old_data: DataBundle, settings: Settings | None = None, **kw: Any
) -> TransferResult:
    """Shared body, the old head and a new head trained together on the old and the new training images (each
    sample scored by its own task's softmax, :func:`cnnzoo.transfer.losses.joint_loss`)."""
    s = _settings(settings, kw)
    old = _open(model, data, s)
    assert old is not None
    n_old = _out_features(old)
    if n_old != old_data.num_classes:
        raise CnnzooError(
            f"the old head has {n_old} outputs but the old data has {old_data.num_classes} classes; "
            "give the data the source model was trained on."
        )
    run = _run_info(s, "joint", data, old_classes=list(old_data.classes))
    run["old_head"] = old.state_dict()  # shares storage with the head: every checkpoint holds its values
    train = torch.utils.data.ConcatDataset([old_data.train, Relabeled(data.train, n_old)])
    val = None
    if data.val is not None and old_data.val is not None:
        val = torch.utils.data.ConcatDataset([old_data.val, Relabeled(data.val, n_old)])
    t0 = time.perf_counter()
    phase = Phase(
        "joint",
        s.epochs,
        trainable=None,
        extra_params=list(old.parameters()),
        loss_fn=lambda logits, y: joint_loss(logits, y, n_old),
        during=lambda: SecondHead(model, old, concat=True, attach=False),
    )
    tr, _ = _run(model, [phase], s, train=train, val=val, run=run, num_classes=n_old + data.num_classes)
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


@register_strategy("distill", help="a student learns from a teacher's softened outputs (Hinton et al. 2015)")
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
        raise OptionError(f"temperature must be positive, got {temperature}.", "temperature")
    if not 0.0 <= alpha <= 1.0:
        raise OptionError(f"alpha must be between 0 and 1, got {alpha}.", "alpha")
    n_t, n_s = _out_features(classifier_of(teacher)), _out_features(classifier_of(student))
    if n_t != data.num_classes:
        raise CnnzooError(
            f"the teacher predicts {n_t} classes but the data has {data.num_classes}; distil on the "
            "teacher's own classes."
        )
    _open(student, data, s, reset_head=n_s != data.num_classes)
    teacher.to(s.device)
    freeze(teacher)
    teacher.eval()
    hook = _DistillHook(teacher, temperature, alpha, s.device)
    run = _run_info(s, "distill", data, temperature=temperature, alpha=alpha)
    t0 = time.perf_counter()
    phase = Phase("distill", s.epochs, trainable=None, hooks=[hook], loss_fn=hook.loss)
    tr, _ = _run(student, [phase], s, train=data.train, val=data.val, run=run, num_classes=data.num_classes)
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


@register_strategy(
    "lwf",
    help="learning without forgetting: the old head kept by its recorded outputs (Li & Hoiem 2016)",
    warmup="warmup_epochs",
)
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
        raise OptionError(
            f"warmup_epochs must be below epochs ({s.epochs}), got {warmup_epochs}.",
            "warmup_epochs",
            "epochs",
        )
    _check_lr_factor(lr_factor)
    recorded: list[torch.Tensor] = []
    t0 = time.perf_counter()
    old = _open(
        model, data, s, before_reset=lambda: recorded.append(record_outputs(model, data.train, s.device))
    )
    assert old is not None
    run = _run_info(
        s,
        "lwf",
        temperature=temperature,
        lambda_old=lambda_old,
        warmup_epochs=warmup_epochs,
        lr_factor=lr_factor,
    )
    run["old_head"] = old.state_dict()  # shares storage with the head: every checkpoint holds its values
    second = SecondHead(model, old, attach=False)
    hook = _LwFHook(second, temperature, lambda_old, s.device)
    phases = [
        head_phase(warmup_epochs, name="warmup"),
        Phase(
            "lwf",
            s.epochs - warmup_epochs,
            trainable="all",
            lr_divisor=lr_factor,
            extra_params=list(old.parameters()),
            hooks=[hook],
            loss_fn=hook.loss,
            during=lambda: second,
        ),
    ]
    train = WithRecorded(data.train, recorded[0])
    tr, _ = _run(model, phases, s, train=train, val=data.val, run=run, num_classes=data.num_classes)
    return _finish("lwf", model, data, tr, t0, s, old_head=old, old_data=old_data)


def _out_features(head: nn.Module) -> int:
    for attr in ("out_features", "out_channels"):
        if isinstance(getattr(head, attr, None), int):
            return int(getattr(head, attr))
    raise CnnzooError(f"cannot tell how many classes a {type(head).__name__} classifier predicts.")
