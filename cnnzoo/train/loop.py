"""The training loop (:class:`Trainer` / :func:`fit`) and evaluation (:func:`evaluate`).

``fit`` trains any ``nn.Module`` on a dataset with a given optimizer (param groups welcome) and per-epoch
scheduler, and hooks (``on_epoch_start(trainer, epoch)``, ``on_batch_start(trainer, step, batch)``,
``on_step_end(trainer, step, loss)``, ``on_epoch_end(trainer, epoch, row)``), so transfer learning can
reuse it. Each epoch it evaluates the validation set, logs (CSV, TensorBoard, PNG curves) and writes
``last.pt`` atomically with everything needed to continue exactly: model, optimizer, scheduler, the
torch/numpy/python RNG states, the loader generator, the epoch and the position inside it (an interrupted
epoch is continued from the next batch), the partial metrics and the history. ``best.pt`` holds the epoch
chosen on held-out data: the highest validation top-1 so far, ties going to the lower validation loss (as
Keras' ``ModelCheckpoint(monitor="val_accuracy", save_best_only=True)`` and fastai's ``SaveModelCallback``
choose). Without validation data nothing is chosen: ``best.pt`` follows the last epoch and
:meth:`Trainer.selection` says so. A NaN/inf loss stops the run with :class:`TrainingDiverged`, keeping the
last good checkpoint; Ctrl-C finishes the current step, saves, and re-raises ``KeyboardInterrupt``.

Models that return auxiliary logits in training mode (GoogLeNet, Szegedy et al. 2015 Sec. 5: "their loss
is added to the total loss of the network with a discount weight (the losses of the auxiliary classifiers
were weighted by 0.3)") get ``loss = main + aux_weight * sum(aux)``.
"""

from __future__ import annotations

import math
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from ..checkpoint import Checkpoint, load_checkpoint, remove_stale_temporaries, save_checkpoint
from ..data.sources import collate_skip
from ..errors import CheckpointError, CnnzooError, OptionError
from ..outputs import same_file_atomic
from ..record import ModelRecord
from .distributed import DistContext, ResumableSampler, barrier, shard_indices
from .metrics import EvalResult, Meter, PosteriorMeter

#: Said beside a test figure whose checkpoint was chosen on the test images themselves.
OPTIMISTIC = "optimistic: the checkpoint was chosen on these same test images (hold out validation data)"


class TrainingDiverged(OptionError):
    """The loss became NaN or infinite; the message names the learning rate (``lr``, ``--lr`` in the CLI)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "lr")


# ------------------------------------------------------------------------------------------ seeds and RNG
def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (a CPU run with the same seed is then repeatable)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The torch, numpy and python RNG states as checkpoint-safe values (tensors, lists, ints)."""
    np_state = np.random.get_state()
    py = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [
            np_state[0],
            torch.from_numpy(np_state[1].astype(np.int64)),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "python": [py[0], list(py[1]), py[2]],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------ outputs and loss
def split_output(out: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``(main_logits, [aux_logits...])`` from a model output: a tensor, a (named) tuple/list, or a dict with
    a ``logits`` entry (GoogLeNet in training mode returns its auxiliary heads' logits too)."""
    if isinstance(out, torch.Tensor):
        return out, []
    if isinstance(out, dict):
        main = out.get("logits", out.get("out"))
        if main is None:
            raise CnnzooError("a model returning a dict must hold its logits under 'logits'.")
        return main, [v for k, v in out.items() if k not in ("logits", "out") and isinstance(v, torch.Tensor)]
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0], [a for a in out[1:] if isinstance(a, torch.Tensor)]
    raise CnnzooError(f"cannot read logits from a model output of type {type(out).__name__}.")


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper."""
    return model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model


# ------------------------------------------------------------------------------------------ batches
class TensorBatches:
    """Batches of an in-memory dataset that has a ``batch_transform`` (see
    :meth:`cnnzoo.data.ImageDataset.batch`), in the order of ``indices`` (a sampler, read afresh at each
    iteration, or a fixed sequence): one indexing and one transform per batch instead of a DataLoader
    collating images transformed one by one. Same batches, same sampler positions, so ``--resume`` stays
    exact."""

    def __init__(self, dataset: Any, indices: Any, batch_size: int) -> None:
        self.dataset, self.indices, self.batch_size = dataset, indices, batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def __iter__(self) -> Any:
        idx = torch.as_tensor(list(iter(self.indices)), dtype=torch.long)
        for i in range(0, len(idx), self.batch_size):
            yield self.dataset.batch(idx[i : i + self.batch_size])


def batchable(data: Any) -> bool:
    """True when ``data`` can be read as :class:`TensorBatches` (in-memory images, whole-batch transform)."""
    return not isinstance(data, DataLoader) and getattr(data, "batch_transform", None) is not None


# ------------------------------------------------------------------------------------------ evaluation
def _views_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mean softmax over the views of ``x`` (``[B, V, C, H, W]``) or plain softmax (``[B, C, H, W]``)."""
    if x.ndim == 5:
        b, v = x.shape[:2]
        logits, _ = split_output(model(x.flatten(0, 1)))
        return logits.float().softmax(-1).view(b, v, -1).mean(1)
    logits, _ = split_output(model(x))
    return logits.float().softmax(-1)


@torch.no_grad()
def evaluate(
    models: nn.Module | Sequence[nn.Module],
    data: Dataset | DataLoader,
    *,
    device: torch.device | str = "cpu",
    ks: Sequence[int] = (1, 5),
    num_classes: int | None = None,
    classes: Sequence[str] | None = None,
    batch_size: int = 256,
    workers: int = 0,
    ctx: DistContext | None = None,
    progress: bool = False,
    desc: str = "eval",
    precision: str = "fp32",
) -> EvalResult:
    """Top-k accuracy, loss, per-class accuracy and confusion matrix of a model or an ensemble.

    Several models form an ensemble: their class posteriors (softmax) are averaged. Samples may carry
    several test-time views (``[V, C, H, W]``, see :class:`cnnzoo.data.TestViews`): their posteriors are
    averaged first. Under ``torch.distributed`` each rank evaluates its own unpadded shard and the integer
    counts are summed, so each sample is counted exactly once. ``precision="bf16"`` runs the forward passes
    under bf16 autocast (:mod:`cnnzoo.precision`; native bf16 hardware only).
    """
    from ..precision import autocast

    device = torch.device(device)
    ms = [models] if isinstance(models, nn.Module) else list(models)
    if not ms:
        raise CnnzooError("evaluate needs at least one model.")
    was_training = [m.training for m in ms]
    for m in ms:
        m.eval()
    if num_classes is None:
        num_classes = len(classes) if classes is not None else None
    if isinstance(data, DataLoader):
        loader = data
    elif batchable(data) and workers == 0:
        share = range(len(data))
        if ctx is not None and ctx.distributed:
            share = shard_indices(len(data), ctx.rank, ctx.world_size)
        loader = TensorBatches(data, share, batch_size)
    else:
        if ctx is not None and ctx.distributed:
            data = Subset(data, shard_indices(len(data), ctx.rank, ctx.world_size))
        loader = DataLoader(
            data, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate_skip
        )
    meter = PosteriorMeter(num_classes, ks)
    crops = 1
    it = loader
    if progress:
        from tqdm import tqdm

        it = tqdm(loader, desc=desc, leave=False, unit="batch", dynamic_ncols=True)
    for batch in it:
        if batch is None:
            continue
        x, y = batch[0].to(device, non_blocking=True), batch[1].to(device)
        if x.ndim == 5:
            crops = x.shape[1]
        with autocast(precision, device):
            probs = torch.stack([_views_forward(m, x) for m in ms]).mean(0)
        meter.update(probs, y)
    result = meter.result(ctx is not None and ctx.distributed, crops, classes)
    for m, t in zip(ms, was_training):
        m.train(t)
    return result


# ------------------------------------------------------------------------------------------ training
@dataclass
class FitResult:
    """What :meth:`Trainer.fit` returns."""

    history: list[dict[str, Any]]
    best_epoch: int | None
    best_value: float | None
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    interrupted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``best_epoch`` was chosen on validation data (False: there was none, it is the last epoch)
    selected: bool = True


class _StopFlag:
    """Turns the first Ctrl-C into a request to stop after the current step (a second one interrupts at
    once).
    """

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None
        self._old_term: Any = None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
            # SIGTERM (a job scheduler, `kill`, a container stop) saves and stops like a first Ctrl-C
            self._old_term = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            signal.signal(signal.SIGTERM, self._old_term)


def _tensor_dicts(run: dict[str, Any]) -> dict[str, Any]:
    """The entries of a run section that are dicts of tensors (an old task's head kept beside the model)."""
    return {
        k: v
        for k, v in run.items()
        if isinstance(v, dict) and v and all(isinstance(t, torch.Tensor) for t in v.values())
    }


class Trainer:
    """Trains ``model`` on ``train_data`` with ``optimizer`` and ``scheduler`` for ``epochs`` epochs.

    Args: model: any module; logits, or (logits, *aux) in training mode. optimizer: built over the model's
    parameters or param groups (per-group learning rates welcome). train_data: a Dataset of ``(image,
    label)`` (sharded and shuffled here, resumable mid-epoch) or a ready DataLoader (resumable at epoch
    boundaries). scheduler: stepped once per epoch; ``ReduceLROnPlateau`` is given the validation loss
    (else the training loss); one marked ``per_step = True`` (``onecycle``) after every step. val_data:
    held-out images evaluated after each epoch; its top-1 picks ``best.pt`` (ties: the lower validation
    loss). Without it nothing is chosen (training accuracy would
    pick the most over-fitted epoch): ``best.pt`` follows the last epoch. record: the model's
    :class:`~cnnzoo.record.ModelRecord` written into every checkpoint (default: the model's
    ``cnnzoo_record``; ``None`` for a plain module). run: how the run was made (recipe, seed, precision,
    transfer settings...), written into the checkpoints' ``run`` section beside the training state.
    aux_weight: weight of auxiliary losses (GoogLeNet: 0.3). ctx:
    distributed context; the model is wrapped in DDP when ``ctx.world_size > 1``. channels_last: train in
    the channels-last layout (default: only with bf16); oneDNN's FP32 convolutions are faster in it too
    (ResNet-56 on 32x32, batch 128, 2 Xeon cores: 0.81 s a step against 1.13 s; see
    ``benchmarks/bench_channels_last.py``). ema_decay: keep an exponential moving average of the weights
    (:class:`~cnnzoo.train.regularizers.ModelEma`, TensorFlow's warm-up with ``ema_warmup``): validation
    and the saved model use the averages, the checkpoint's ``ema`` entry the raw weights. clip_grad_norm:
    clip the global gradient norm before each step. mix: a :class:`~cnnzoo.train.regularizers.Mixer`
    (mixup / CutMix); ``loss_fn`` then receives mixed targets.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        train_data: Dataset | DataLoader,
        *,
        epochs: int,
        batch_size: int = 128,
        scheduler: Any = None,
        val_data: Dataset | None = None,
        device: torch.device | str = "cpu",
        out_dir: str | os.PathLike[str] | None = None,
        seed: int = 0,
        hooks: Sequence[Any] = (),
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        aux_weight: float = 0.3,
        record: ModelRecord | None = None,
        run: dict[str, Any] | None = None,
        ctx: DistContext | None = None,
        workers: int = 0,
        progress: bool = True,
        num_classes: int | None = None,
        ks: Sequence[int] = (1, 5),
        log: bool = True,
        precision: str = "fp32",
        channels_last: bool | None = None,
        ema_decay: float = 0.0,
        ema_warmup: bool = False,
        clip_grad_norm: float = 0.0,
        mix: Any = None,
    ) -> None:
        from ..precision import check_precision

        self.ctx = ctx or DistContext(device=torch.device(device))
        if not isinstance(train_data, DataLoader) and batch_size % self.ctx.world_size:
            raise CnnzooError(
                f"the batch size {batch_size} must be divisible by the {self.ctx.world_size} "
                "processes (it is the global batch)."
            )
        self.device = torch.device(device) if ctx is None else self.ctx.device
        self.precision = check_precision(precision, self.device)
        # bf16: channels-last activations, the layout oneDNN's and cuDNN's bf16 convolutions run fastest in
        if channels_last is None:
            channels_last = precision == "bf16"
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(self.device)
        if channels_last:
            self.model = self.model.to(memory_format=self.memory_format)
        self.module = model
        if self.ctx.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DDP(self.model, device_ids=ids)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.epochs = epochs
        self.batch_size = batch_size
        self.val_data = val_data
        self.out = Path(out_dir) if out_dir is not None else None
        self.seed = self._first_seed = seed
        self._train_data = train_data
        self.hooks = list(hooks)
        self.loss_fn = loss_fn or nn.CrossEntropyLoss()
        self.aux_weight = aux_weight
        self.record = record if record is not None else getattr(model, "cnnzoo_record", None)
        self.run = dict(run or {})
        self.workers = workers
        self.progress = progress and self.ctx.is_main
        self.ks = tuple(ks)
        self.num_classes = num_classes
        self.log = log
        self.history: list[dict[str, Any]] = []
        self.epoch = 0
        self.step = 0
        self.best_value: float | None = None
        self.best_loss: float | None = None
        self.best_epoch: int | None = None
        #: the chosen epoch's weights, kept in memory when no ``out_dir`` receives ``best.pt``
        self._best_weights: dict[str, Any] | None = None
        self._partial: dict[str, Any] | None = None
        # regularisers (cnnzoo.train.regularizers): weight averaging, gradient clipping, mixup/CutMix
        from .regularizers import ModelEma

        self.ema = ModelEma(self.module, ema_decay, ema_warmup) if ema_decay else None
        self.clip_grad_norm = float(clip_grad_norm)
        self.mix = mix if mix else None
        self._make_loader(train_data)

    def _make_loader(self, train_data: Dataset | DataLoader) -> None:
        """The training loader: ``train_data`` sharded and shuffled by ``self.seed`` (resumable mid-epoch),
        or a ready DataLoader as given; in-memory data without workers is read a whole batch at a time."""
        self.generator = torch.Generator().manual_seed(self.seed)
        self.loader: Any
        if isinstance(train_data, DataLoader):
            self.loader, self.sampler = train_data, getattr(train_data, "sampler", None)
            self.per_rank_batch = train_data.batch_size or self.batch_size
        else:
            self.per_rank_batch = self.batch_size // self.ctx.world_size
            self.sampler = ResumableSampler(
                train_data, self.ctx.world_size, self.ctx.rank, shuffle=True, seed=self.seed
            )
            if batchable(train_data) and self.workers == 0:
                self.loader = TensorBatches(train_data, self.sampler, self.per_rank_batch)
            else:
                self.loader = DataLoader(
                    train_data,
                    batch_size=self.per_rank_batch,
                    sampler=self.sampler,
                    num_workers=self.workers,
                    collate_fn=collate_skip,
                    generator=self.generator,
                    persistent_workers=False,
                    pin_memory=self.device.type == "cuda",
                )

    def start_phase(
        self,
        optimizer: torch.optim.Optimizer,
        epochs: int,
        *,
        scheduler: Any = None,
        train_data: Dataset | DataLoader | None = None,
        hooks: Sequence[Any] | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        seed: int | None = None,
    ) -> None:
        """Continue this run with another training phase of ``epochs`` epochs: a new optimizer (other
        parameters or rates, e.g. after unfreezing), scheduler, training data, hooks and loss. Epoch
        numbering, history, logs and best-checkpoint tracking carry on; the training data is reshuffled from
        ``seed`` (default: the first phase's seed plus the epochs done). Then call :meth:`fit`."""
        if self.step or self._partial:
            raise CnnzooError("a new training phase can only start at an epoch boundary.")
        self.optimizer, self.scheduler = optimizer, scheduler
        if hooks is not None:
            self.hooks = list(hooks)
        self.loss_fn = loss_fn or nn.CrossEntropyLoss()
        self.seed = self._first_seed + self.epoch if seed is None else seed
        self.epochs = self.epoch + epochs
        self._make_loader(self._train_data if train_data is None else train_data)
        if train_data is not None:
            self._train_data = train_data

    # -------------------------------------------------------------- checkpoint state
    @property
    def monitor(self) -> str | None:
        """What chooses ``best.pt``: ``"val_top1"`` (ties: ``val_loss``), or ``None`` without validation
        data (no selection)."""
        return "val_top1" if self.val_data is not None else None

    def _improves(self, row: dict[str, Any]) -> bool:
        """Whether epoch ``row`` becomes the chosen one: a higher validation top-1, or the same with a lower
        validation loss; every epoch without validation data (the last one is then reported)."""
        if self.monitor is None:
            return True
        top1, loss = row["val_top1"], row["val_loss"]
        if self.best_value is None or top1 > self.best_value:
            return True
        return top1 == self.best_value and (self.best_loss is None or loss < self.best_loss)

    def selection(self) -> str:
        """The chosen epoch and why, in words (every report prints it beside the checkpoint)."""
        done = self.history[-1]["epoch"] if self.history else 0
        if self.best_epoch is None:
            return "no epoch finished"
        if self.monitor is None:
            return (
                f"epoch {self.best_epoch} of {done}: no validation data, so no selection (the last epoch; "
                "hold out images with --val-fraction to choose one)"
            )
        return (
            f"epoch {self.best_epoch} of {done}, chosen by validation top-1 {self.best_value:.4f} "
            f"(loss {self.best_loss:.4f})"
        )

    def best_weights(self) -> dict[str, Any]:
        """The chosen epoch's weights (``state_dict``, and the tensor dicts of the run section, such as an old
        task's head): from ``best.pt`` when the run writes one, else from memory."""
        if self.out is not None and (self.out / "best.pt").is_file():
            ck = load_checkpoint(self.out / "best.pt")
            return {"state_dict": ck.state_dict, **_tensor_dicts(ck.run)}
        if self._best_weights is None:
            raise CnnzooError("no epoch has finished, so there are no chosen weights yet.")
        return self._best_weights

    def _keep_best_in_memory(self) -> None:
        import copy

        live = unwrap(self.model)
        weights = (self.ema.module if self.ema is not None else live).state_dict()  # what best.pt would hold
        state: dict[str, Any] = {"state_dict": copy.deepcopy(weights)}
        state.update(copy.deepcopy(_tensor_dicts(self.run)))  # an old-task head is chosen with the model
        self._best_weights = state

    def state(self, epoch: int, step: int) -> dict[str, Any]:
        """The checkpoint's ``run`` section: the run's settings and the training state after ``epoch``
        epochs plus ``step`` batches of the next one. With EMA the checkpoint's weights are the averaged ones
        and ``ema`` holds the raw weights that resume the run."""
        return {
            **self.run,
            "ema": self.ema.state(unwrap(self.model)) if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": rng_state(),
            "loader_generator": self.generator.get_state(),
            "epoch": epoch,
            "step": step,
            "partial": self._partial if step else None,
            "seed": self.seed,
            "epochs": self.epochs,
            "history": list(self.history),
            "best": {
                "metric": self.monitor,
                "value": self.best_value,
                "loss": self.best_loss,
                "epoch": self.best_epoch,
            },
            "world_size": self.ctx.world_size,
        }

    def save(self, name: str, epoch: int, step: int) -> Path | None:
        """Write ``out/name`` atomically (rank 0 only)."""
        if self.out is None or not self.ctx.is_main:
            return None
        live = unwrap(self.model)
        weights = (self.ema.module if self.ema is not None else live).state_dict()
        return save_checkpoint(self.out / name, self.record, weights, self.state(epoch, step))

    def load_state(self, ckpt: Checkpoint | str | os.PathLike[str]) -> None:
        """Continue from a checkpoint written by :meth:`save` (same model, optimizer and scheduler kinds).

        With an ``out_dir``, the run folder is first made whole again (:func:`reconcile_run`): temporary
        files of killed writes are removed and a ``best.pt`` that a kill left behind ``last.pt`` is
        rewritten."""
        if not isinstance(ckpt, Checkpoint):
            ckpt = load_checkpoint(ckpt)
        if self.out is not None and self.ctx.is_main:
            for note in reconcile_run(self.out, ckpt):
                print(f"resume: {note}", file=sys.stderr, flush=True)
        run = ckpt.run
        if (run.get("ema") is not None) != (self.ema is not None):
            raise CheckpointError(
                "the checkpoint was written "
                + ("with" if run.get("ema") is not None else "without")
                + " weight averaging (EMA) and this run is set up the other way; resume with the settings "
                "the run was started with."
            )
        try:
            if self.ema is not None:
                self.ema.load(run["ema"], ckpt.state_dict, unwrap(self.model))
            else:
                unwrap(self.model).load_state_dict(ckpt.state_dict)
            self.optimizer.load_state_dict(run["optimizer"])
            if self.scheduler is not None and run.get("scheduler") is not None:
                self.scheduler.load_state_dict(run["scheduler"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise CheckpointError(
                f"the checkpoint does not fit this run ({str(e).splitlines()[0]})."
            ) from None
        self.epoch, self.step = int(run["epoch"]), int(run.get("step", 0))
        self._partial = run.get("partial")
        self.history = list(run.get("history", []))
        best = run.get("best") or {}
        self.best_value, self.best_epoch = best.get("value"), best.get("epoch")
        self.best_loss = best.get("loss")
        if best.get("metric") != self.monitor:  # chosen by another rule (older runs: training top-1)
            self.best_value = self.best_loss = None
        set_rng_state(run["rng"])
        if run.get("loader_generator") is not None:
            self.generator.set_state(run["loader_generator"])

    # -------------------------------------------------------------- the loop
    def _hook(self, name: str, *args: Any) -> None:
        for h in self.hooks:
            fn = getattr(h, name, None)
            if fn is not None:
                fn(self, *args)

    def _autocast(self) -> Any:
        from ..precision import autocast

        return autocast(self.precision, self.device)

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def fit(self) -> FitResult:
        """Train from the current state (epoch 0, or where :meth:`load_state` left off) to ``epochs``.

        The curves are drawn at the end (also after an interruption); with ``defer_curves`` set, a finished
        run leaves them to :meth:`draw_curves`, so a caller can print its result first."""
        last = best = None
        finished = False
        with _StopFlag() as stop:
            try:
                while self.epoch < self.epochs:
                    row = self._train_epoch(stop)
                    if row is None:  # interrupted
                        raise KeyboardInterrupt
                    self.history.append(row)
                    self.epoch += 1
                    self.step = 0
                    self._partial = None
                    if self.out is not None and self.log and self.ctx.is_main:
                        self._logger().log(self.history, curves=False)
                    improved = self._improves(row)
                    if improved:
                        self.best_epoch = row["epoch"]
                        if self.monitor is not None:
                            self.best_value, self.best_loss = row["val_top1"], row["val_loss"]
                    last = self.save("last.pt", self.epoch, 0)  # None without a run folder or off rank 0
                    if improved and last is not None:  # the same state: best.pt is last.pt's bytes
                        best = same_file_atomic(last, self.out / "best.pt", "checkpoint")
                    elif improved and self.out is None:
                        self._keep_best_in_memory()
                    barrier()
                    self._hook("on_epoch_end", self.epoch, row)
                finished = True
            finally:
                if getattr(self, "_run_logger", None) is not None:
                    self._run_logger.close()
                    self._curves_path = self._run_logger.curves_path
                    self._run_logger = None  # a later phase (start_phase) opens its own
                    if not (finished and self.defer_curves):
                        self.draw_curves()
        if self.out is not None:
            last, best = self.out / "last.pt", self.out / "best.pt"
        return FitResult(
            self.history, self.best_epoch, self.best_value, last, best, selected=self.monitor is not None
        )

    #: Leave the curves of a finished :meth:`fit` to :meth:`draw_curves` (``cnnzoo train`` prints first).
    defer_curves: bool = False
    _curves_path: Path | None = None

    def draw_curves(self) -> Path | None:
        """Draw ``curves.png`` from the history (once per :meth:`fit`; nothing without a run folder)."""
        path, self._curves_path = self._curves_path, None
        if path is None or not self.history:
            return None
        from .logs import plot_curves

        plot_curves(self.history, path)
        return path

    def _logger(self) -> Any:
        if getattr(self, "_run_logger", None) is None:
            from .logs import RunLogger

            self._run_logger = RunLogger(self.out, start_epoch=len(self.history) - 1)
        return self._run_logger

    def _train_epoch(self, stop: _StopFlag) -> dict[str, Any] | None:
        epoch = self.epoch
        self.model.train()
        self._hook("on_epoch_start", epoch)
        if isinstance(self.sampler, ResumableSampler):
            self.sampler.set_position(epoch, self.step * self.per_rank_batch)
        elif hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
        meter = Meter(self.num_classes or 2, self.ks)
        if self._partial:
            meter.n, meter.loss_sum = self._partial["n"], self._partial["loss_sum"]
            meter.correct = dict(self._partial["correct"])
            meter.num_classes = self._partial["num_classes"]
            meter.cm = self._partial["cm"]
        total = (
            len(self.loader) + self.step if isinstance(self.sampler, ResumableSampler) else len(self.loader)
        )
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(
                total=total,
                initial=self.step,
                desc=f"epoch {epoch + 1}/{self.epochs}",
                unit="batch",
                leave=False,
                dynamic_ncols=True,
            )
        t0, seen = time.perf_counter(), 0
        per_step = bool(getattr(self.scheduler, "per_step", False))
        # the training top-k are counted once per epoch (and before an interruption is saved) from the
        # top indices kept per step: one op a step instead of a dozen (tiny models are overhead-bound)
        tops: list[tuple[torch.Tensor, torch.Tensor]] = []
        # the loss sum runs on from where an interrupted epoch stopped, in the same order of additions as an
        # uninterrupted epoch's, so a resumed run's logged loss is bit-identical
        pending_loss, meter.loss_sum = meter.loss_sum, 0.0
        maxk = max(self.ks)

        def count() -> None:
            nonlocal pending_loss
            if tops:
                top, target = torch.cat([t for t, _ in tops]), torch.cat([y for _, y in tops])
                meter.update_top(top, target, pending_loss)
                tops.clear()
                pending_loss = 0.0

        for batch in self.loader:
            if batch is not None:
                x, y = (
                    batch[0].to(self.device, non_blocking=True),
                    batch[1].to(self.device, non_blocking=True),
                )
                if x.ndim == 4:
                    x = x.contiguous(memory_format=self.memory_format)
                self._hook("on_batch_start", self.step, batch)  # batch[2:] may carry per-sample extras (LwF)
                target: Any = y
                if self.mix is not None:  # mixup / CutMix: mixed images, a pair of labels and a weight
                    x, target = self.mix(x, y)
                with self._autocast():
                    out = self.model(x)
                    main, aux = split_output(out)
                    loss = self.loss_fn(main, target)
                    for a in aux:
                        loss = loss + self.aux_weight * self.loss_fn(a, target)
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    where = str(self.out / "last.pt") if self.out is not None else "none was written"
                    raise TrainingDiverged(
                        f"the training loss became {loss_value} at epoch {epoch + 1}, step {self.step + 1}; "
                        f"the last good checkpoint is kept ({where}): lower the learning rate (lr) and "
                        f"retry."
                    )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.clip_grad_norm:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
                self.optimizer.step()
                if per_step:
                    self.scheduler.step()
                if self.ema is not None:
                    self.ema.update(unwrap(self.model))
                if self.num_classes is None:
                    self.num_classes = main.shape[1]
                    meter.num_classes = main.shape[1]
                if self.mix is not None:
                    y = target.majority()
                tops.append((main.detach().topk(min(maxk, main.shape[1]), 1).indices, y))
                pending_loss += loss_value * len(y)
                seen += len(y)
                self._hook("on_step_end", self.step, loss_value)
            self.step += 1
            if bar is not None:
                rate = seen * self.ctx.world_size / max(time.perf_counter() - t0, 1e-9)
                bar.update(1)
                done = meter.n + seen  # meter.n: what a resumed epoch had counted before
                bar.set_postfix(
                    loss=f"{(meter.loss_sum + pending_loss) / max(done, 1):.4f}",
                    img_s=f"{rate:.0f}",
                    refresh=False,
                )
            if stop.requested:
                count()
                self._partial = {
                    "n": meter.n,
                    "loss_sum": meter.loss_sum,
                    "correct": dict(meter.correct),
                    "num_classes": meter.num_classes,
                    "cm": meter.cm,
                }
                path = self.save("last.pt", epoch, self.step)
                if bar is not None:
                    bar.close()
                if path is not None:
                    print(
                        f"interrupted: saved {path} (epoch {epoch + 1}, step {self.step}); continue with "
                        f"--resume",
                        flush=True,
                    )
                return None
        count()
        if bar is not None:
            bar.close()
        elapsed = time.perf_counter() - t0
        meter.all_reduce()
        train = meter.result()
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": self._lr(), "train_loss": train.loss}
        row.update({f"train_top{k}": v for k, v in train.topk.items()})
        if self.val_data is not None:
            val = evaluate(
                self.ema.module if self.ema is not None else unwrap(self.model),
                self.val_data,
                device=self.device,
                ks=self.ks,
                num_classes=self.num_classes,
                batch_size=max(self.per_rank_batch, 256),
                ctx=self.ctx,
                workers=self.workers,
                precision=self.precision,
            )
            row["val_loss"] = val.loss
            if not math.isfinite(val.loss):  # NaN/inf on held-out data: the weights are no longer usable
                where = str(self.out / "last.pt") if self.out is not None else "none was written"
                raise TrainingDiverged(
                    f"the validation loss became {val.loss} after epoch {epoch + 1}; the last good "
                    f"checkpoint is kept ({where}): lower the learning rate (lr) and retry."
                )
            row.update({f"val_top{k}": v for k, v in val.topk.items()})
        row["images_per_s"] = train.n / max(elapsed, 1e-9) if self.step else 0.0
        row["time_s"] = elapsed
        if self.scheduler is not None and not per_step:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(row.get("val_loss", row["train_loss"]))
            else:
                self.scheduler.step()
        if self.progress:
            parts = [
                f"epoch {epoch + 1}/{self.epochs}",
                f"loss {row['train_loss']:.4f}",
                f"train top-1 {row['train_top1']:.4f}",
            ]
            if "val_top1" in row:
                parts += [f"val loss {row['val_loss']:.4f}", f"val top-1 {row['val_top1']:.4f}"]
            parts += [f"lr {row['lr']:.3g}", f"{row['images_per_s']:.0f} img/s"]
            print("  ".join(parts), flush=True)
        if not math.isfinite(row["train_loss"]):
            raise TrainingDiverged(
                f"the training loss is {row['train_loss']} after epoch {epoch + 1}; lower lr."
            )
        return row


def reconcile_run(out: str | os.PathLike[str], last: Checkpoint | None = None) -> list[str]:
    """Make a run folder consistent after a kill; returns a sentence per repair.

    ``last.pt`` and ``best.pt`` are each written atomically but not together: a kill between the two
    writes of an improving epoch leaves ``last.pt`` one epoch ahead of ``best.pt`` while ``last.pt``
    already names that epoch as the best. Both files hold the same state at an improving epoch, so
    ``best.pt`` is rewritten from ``last.pt`` (an atomic copy). A ``best.pt`` *ahead* of ``last.pt`` (a
    kill between the two writes the other way round) is left: resuming re-trains that epoch and rewrites
    both. Temporary files of killed writes are deleted.
    """
    import shutil

    out = Path(out)
    notes = [f"removed {t.name}, left by an interrupted write" for t in remove_stale_temporaries(out)]
    last_path, best_path = out / "last.pt", out / "best.pt"
    if last is None:
        if not last_path.is_file():
            return notes
        last = load_checkpoint(last_path)
    done, best_epoch = int(last.run.get("epoch", 0)), (last.run.get("best") or {}).get("epoch")
    if best_epoch is None or int(last.run.get("step", 0)):
        return notes  # no finished epoch yet, or an interrupted epoch: last.pt is not a best candidate
    have = int(load_checkpoint(best_path).run.get("epoch", -1)) if best_path.is_file() else None
    if have == best_epoch or (have is not None and have > done):
        return notes
    if best_epoch == done:
        from ..outputs import atomic_path

        with atomic_path(best_path, "checkpoint", size_hint=last_path.stat().st_size) as tmp:
            shutil.copyfile(last_path, tmp)
        notes.append(
            f"best.pt was {'missing' if have is None else f'from epoch {have}'} but epoch {best_epoch} is "
            "the best (a kill between the two checkpoint writes); rewrote it from last.pt"
        )
        return notes
    raise CheckpointError(
        f"{str(best_path)!r} holds epoch {have} but the run's best epoch is {best_epoch}, whose weights were "
        "not kept; evaluate last.pt instead, or start a new run."
    )


def fit(
    model: nn.Module, optimizer: torch.optim.Optimizer, train_data: Dataset | DataLoader, **kwargs: Any
) -> FitResult:
    """Build a :class:`Trainer` and run it (see there for the arguments); ``resume=PATH`` continues a run."""
    resume = kwargs.pop("resume", None)
    trainer = Trainer(model, optimizer, train_data, **kwargs)
    if resume:
        trainer.load_state(resume)
    return trainer.fit()
