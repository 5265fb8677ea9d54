"""The whole job behind ``cnnzoo train`` and ``cnnzoo eval``: data + model + recipe -> trained checkpoint;
and checkpoints + data -> top-k, per-class accuracy, confusion matrix.

>>> from cnnzoo.train import train_model
>>> r = train_model("lenet5", data="digits", epochs=2, out="runs/demo")   # doctest: +SKIP
>>> r.test.top1, r.checkpoint, r.curves                                   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import env
from ..checkpoint import Checkpoint, load_checkpoint
from ..data.sources import DataBundle, build_data, default_source_name, load_source
from ..data.transforms import add_regularising_augment
from ..errors import CheckpointError, CnnzooError, DataError
from ..factory import create_model, model_from_checkpoint, model_from_loaded
from ..record import ModelRecord
from ..registry import model_info
from . import runlock
from .distributed import DistContext, barrier, cleanup, init_distributed
from .loop import OPTIMISTIC, FitResult, Trainer, evaluate, seed_everything
from .metrics import EvalResult, plot_confusion
from .recipes import Recipe, default_recipe_for, get_recipe
from .regularizers import FilterRmsRenorm, Mixer, RecipeLoss, ScheduledDropPath, model_kwargs_for


@dataclass
class RunResult:
    """A finished (or interrupted) training run."""

    out: Path
    checkpoint: Path
    best_checkpoint: Path
    curves: Path
    test: EvalResult | None
    fit: FitResult
    skipped: list[str] = field(default_factory=list)
    recipe: Recipe | None = None


#: What a run writes into its folder: any of them there means the folder holds a run (or the start of one).
RUN_FILES = ("last.pt", "best.pt", "metrics.csv", "curves.png", "confusion.png", "tb")


def holds_run(folder: Path) -> bool:
    """True when ``folder`` holds a run's files (checkpoints, logs, curves), finished or not: a run killed
    in its first epoch has no ``last.pt`` yet, but its logs are there and a new run would mix into them."""
    return any((folder / f).exists() for f in RUN_FILES) or any(folder.glob("*.pt"))


def choose_out_dir(model: str, data: str, out: str | None, resume: bool) -> tuple[Path, str]:
    """The run folder, locked for this process (:mod:`cnnzoo.train.runlock`), and a sentence saying what is
    done with it.

    The folder's lock is taken before anything is written there, so a second training or resume in a
    folder in use is refused in one sentence naming the process that holds it. An explicit ``out`` that
    already holds a run is an error unless ``resume``; the default ``runs/MODEL-DATA`` moves on to ``-2``,
    ``-3``... (past folders holding a run or in use) instead of overwriting (``resume`` takes the newest).
    The folder is checked to be writable here, before any data is read or epoch trained. Under torchrun,
    rank 0 chooses and locks, and every rank gets its answer. The lock is released by the
    :func:`cnnzoo.train.runlock.scope` the run is wrapped in, or at the latest when the process ends.
    """
    from ..outputs import check_output_dir
    from .distributed import on_main_rank

    if out is not None:
        check_output_dir(out, "run folder")
    p, note = on_main_rank(lambda: _choose_out_dir(model, data, out, resume))
    check_output_dir(p, "run folder")
    return p, note


def _choose_out_dir(model: str, data: str, out: str | None, resume: bool) -> tuple[Path, str]:
    if out is not None:
        p = Path(out)
        created = not p.exists()
        if created:  # the quick refusal (--resume of nothing) before the folder is created for the lock
            _check_run_folder(p, resume)
        lock = runlock.acquire(p)  # refuses a folder in use, before anything is written
        try:
            return p, _check_run_folder(p, resume)  # again, under the lock
        except BaseException:
            lock.release()  # (and the folder, if the lock made it)
            raise
    base = Path("runs") / f"{model}-{default_source_name(data)}"
    candidates = [base] + [base.with_name(f"{base.name}-{i}") for i in range(2, 1000)]
    if resume:
        existing = [c for c in candidates if (c / "last.pt").is_file()]
        if not existing:
            raise CheckpointError(
                f"no earlier run in {str(base)!r} to resume; start without resume.", names=("resume",)
            )
        runlock.acquire(existing[-1])
        return existing[-1], f"resuming the run in {existing[-1]}"
    for c in candidates:
        if holds_run(c):
            continue
        try:  # a folder in use by a run in its first moments is skipped; a stale lock is taken over
            lock = runlock.acquire(c)
        except runlock.RunFolderBusy:
            continue
        if holds_run(c):  # written by a run that ended between the check and the lock
            lock.release()
            continue
        note = (
            f"writing to {c}"
            if c == base
            else f"{base} already holds a run; writing to {c} instead (--resume continues the newest one)"
        )
        return c, note
    raise CnnzooError(f"too many runs under {str(base)!r}; pass out.", names=("out",))  # pragma: no cover


def _check_run_folder(p: Path, resume: bool) -> str:
    """With ``p`` locked: a resume needs its ``last.pt``; a new run needs a folder without a run."""
    has_last = (p / "last.pt").is_file()
    if resume:
        if not has_last:
            why = "it was stopped before its first checkpoint" if holds_run(p) else "there is no run in it"
            raise CheckpointError(
                f"{str(p)!r} holds no last.pt to resume from ({why}); start without resume elsewhere.",
                names=("resume",),
            )
        return f"resuming the run in {p}"
    if has_last:
        raise CnnzooError(
            f"{str(p)!r} already holds a run; pass resume to continue it or choose another out.",
            names=("resume", "out"),
        )
    if holds_run(p):
        raise CnnzooError(
            f"{str(p)!r} already holds the files of a run stopped before its first checkpoint (logs, no "
            "last.pt); delete them or choose another out.",
            names=("out",),
        )
    return f"writing to {p}"


def _check_unchanged(
    ckpt: Checkpoint, data: str | None, recipe: str | Recipe | None, overrides: dict[str, Any]
) -> None:
    """A resumed run continues exactly as it was started: a ``data``, ``recipe`` or override (other than
    ``epochs``) that differs from the run's own is an error, not silently ignored; repeating the same
    values (re-running the original command with ``--resume``) is fine."""
    stored = Recipe.from_dict(ckpt.run["recipe"])
    changed = [
        f"{k} ({getattr(stored, k)!r} -> {v!r})"
        for k, v in overrides.items()
        if k != "epochs" and v is not None and hasattr(stored, k) and getattr(stored, k) != v
    ]
    was = ckpt.record.dataset if ckpt.record is not None else None
    if data is not None and data != was:
        changed.insert(0, f"data ({was!r} -> {data!r})")
    name = recipe.name if isinstance(recipe, Recipe) else recipe
    if name is not None and name != stored.name:
        changed.insert(0, f"recipe ({stored.name!r} -> {name!r})")
    if changed:
        raise CnnzooError(
            f"a resumed run continues exactly as it was started, so it cannot change {', '.join(changed)}; "
            "drop them (only the number of epochs may be raised), or start a new run."
        )


def _say(msg: str, ctx: DistContext) -> None:
    if ctx.is_main:
        print(msg, flush=True)


def conv_linear_macs(model: torch.nn.Module, input_size: tuple[int, int, int]) -> int:
    """Multiply-accumulates per image of the convolutions and linear layers of ``model`` (the bulk of any
    CNN's; matrix products and the rest are left out), from one batch-1 forward pass with hooks: a cheap
    stand-in for :func:`cnnzoo.profile`'s exact total where only the order of magnitude matters (no tracing,
    no minimum-size search; and no meta-device pass, whose first use imports ``torch._dynamo``)."""
    total = 0

    def count(mod: torch.nn.Module, inputs: Any, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, torch.nn.Linear):
            total += out.numel() // max(out.shape[0], 1) * mod.in_features
        else:
            per_out = mod.weight[0].numel()  # (in_channels / groups) x kernel area
            total += out.numel() // out.shape[0] * per_out

    kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)
    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, kinds)]
    was_training = model.training
    model.eval()
    try:
        dev = next((p.device for p in model.parameters()), torch.device("cpu"))
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=dev))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return total


def _choose_threads(
    model: torch.nn.Module,
    model_name: str,
    input_size: tuple[int, int, int],
    batch_size: int,
    ctx: DistContext,
    threads: int | None,
    memory_format: torch.memory_format = torch.contiguous_format,
) -> int | None:
    """Set torch's CPU thread count for a run and return it: ``threads`` (the user's choice, or a resumed
    run's) when given, else the count measured fastest on this machine for this model and batch
    (:func:`cnnzoo.train.threads.choose_threads`), unless the run is on a GPU, distributed, or the thread
    count is already fixed (``OMP_NUM_THREADS``, or one thread). Returns None where it left torch's
    choice alone."""
    if threads:
        torch.set_num_threads(threads)
        return threads
    if (
        ctx.device.type != "cpu"
        or ctx.distributed
        or env.integer("OMP_NUM_THREADS", 0)
        or torch.get_num_threads() == 1
    ):
        return None
    from .threads import choose_threads

    n, why = choose_threads(
        model, model_name, input_size, batch_size, conv_linear_macs(model, input_size), memory_format
    )
    torch.set_num_threads(n)
    _say(f"threads: {why}; --threads overrides", ctx)
    return n


def _check_batch_fits(model: torch.nn.Module, size: tuple[int, ...], batch: int, ctx: DistContext) -> None:
    """A batch size the device cannot hold is one sentence before the first batch is made."""
    from ..analysis.memory import check_fits, forward_bytes

    need = forward_bytes(model, size, batch, backward=True, trace=False)
    what = f"training on batches of {batch} inputs of {'x'.join(map(str, size))} per process"
    check_fits(need, what, "give a smaller --batch-size", ctx.device)


@runlock.scoped  # the run folder's lock is released however the run ends
def train_model(
    model_name: str,
    data: str | None = None,
    *,
    recipe: str | Recipe | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    seed: int = 0,
    device: str | None = None,
    workers: int = 0,
    strict_data: bool = False,
    progress: bool = True,
    model_kwargs: dict[str, Any] | None = None,
    threads: int | None = None,
    precision: str = "fp32",
    channels_last: bool | None = None,
    input_size: str | int | Sequence[int] | None = None,
    **overrides: Any,
) -> RunResult:
    """Train ``model_name`` on ``data`` with a paper's recipe (default: the model's own), overriding any
    recipe field (``epochs=``, ``lr=``, ``batch_size=``, ``weight_decay=``...). Under torchrun it runs
    data-parallel.

    Everything the run needs again is stored in its checkpoints: model name and kwargs, class names, input
    size, mean/std, data source, recipe, seed, precision. ``resume`` continues ``last.pt`` exactly (same
    final weights as an uninterrupted run on CPU), at the precision it was started with; ``data`` (default
    ``"digits"``, or the run's own when resuming), ``recipe`` and overrides other than ``epochs`` that differ
    from the run's are refused. ``precision="bf16"`` trains under bf16 autocast with channels-last
    activations and float32 master weights (:mod:`cnnzoo.precision`; native bf16 hardware only).
    ``channels_last=True`` trains FP32 in the channels-last layout too (default: with bf16 only), which
    oneDNN's CPU convolutions run faster (ResNet-56 on 32x32, batch 128: 0.81 s a step against 1.13 s on 2
    Xeon cores); a resumed run keeps its layout. ``input_size`` (``"1x28x28"``, ``(1, 28, 28)``, or ``28``
    for the model's channels; :func:`cnnzoo.sizes.parse_input_size`) trains at another input than the
    model's registered one, e.g. Fashion-MNIST's own 28x28 greyscale for a CIFAR network instead of 3
    copies padded to 32x32 (23% fewer multiply-accumulates); the checkpoint records it, so evaluation and
    prediction follow; a resumed run keeps its own.
    ``threads`` (default: measured, :mod:`cnnzoo.train.threads`) is the number of CPU threads.
    """
    ctx = init_distributed(device)
    try:
        from ..precision import check_precision

        check_precision(precision, ctx.device)
        return _train(
            model_name,
            data,
            recipe,
            out,
            resume,
            seed,
            ctx,
            workers,
            strict_data,
            progress,
            dict(model_kwargs or {}),
            threads,
            overrides,
            precision,
            channels_last,
            input_size,
        )
    finally:
        cleanup()


def _train(
    model_name: str,
    data: str,
    recipe: str | Recipe | None,
    out: Any,
    resume: bool,
    seed: int,
    ctx: DistContext,
    workers: int,
    strict: bool,
    progress: bool,
    model_kwargs: dict[str, Any],
    threads: int | None,
    overrides: dict[str, Any],
    precision: str = "fp32",
    channels_last: bool | None = None,
    input_size: str | int | Sequence[int] | None = None,
) -> RunResult:
    info = model_info(model_name)
    out_dir, note = choose_out_dir(model_name, data or "digits", None if out is None else str(out), resume)
    ckpt: Checkpoint | None = None
    explicit_chans = "in_chans" in model_kwargs
    in_chans = int(model_kwargs.pop("in_chans", info.input_size[0]))
    if resume:
        ckpt = load_checkpoint(out_dir / "last.pt")
        _check_unchanged(ckpt, data, recipe, overrides)
        was = ckpt.record
        if was is None or was.name != model_name:
            raise CheckpointError(
                f"{out_dir / 'last.pt'} is a run of {was.name if was else 'another module'!r}, not "
                f"{model_name!r}."
            )
        rec = Recipe.from_dict(ckpt.run["recipe"]).with_overrides(epochs=overrides.get("epochs"))
        data, seed = was.dataset, int(ckpt.run["seed"])
        precision = str(ckpt.run.get("precision", "fp32"))
        channels_last = ckpt.run.get("channels_last")
        model_kwargs = {k: v for k, v in was.model_kwargs.items() if k not in ("num_classes", "in_chans")}
        in_chans = int(was.input_size[0])
        threads = threads or ckpt.run.get("threads")
        input_size = [int(v) for v in was.input_size]
    else:
        data = data or "digits"
        rec = recipe if isinstance(recipe, Recipe) else get_recipe(recipe or default_recipe_for(model_name))
        rec = rec.with_overrides(**overrides)
        # the recipe's dropout / drop-path as the model's own options (an explicit model kwarg wins)
        model_kwargs = {**model_kwargs_for(model_name, rec.dropout, rec.drop_path), **model_kwargs}
    regs = rec.regularisers()
    _say(
        f"cnnzoo train {model_name}: recipe {rec.name} ({rec.source.split(':')[0]})"
        + (f" with {', '.join(regs)}" if regs else "")
        + f"; {note}",
        ctx,
    )
    size = (info.input_size[1], info.input_size[2])
    if input_size is not None:
        from ..errors import OptionError
        from ..sizes import parse_input_size

        dims = parse_input_size(input_size, in_chans=in_chans)
        if explicit_chans and dims[0] != in_chans:
            raise OptionError(
                f"input_size {input_size!r} has {dims[0]} channel(s) but in_chans is {in_chans}; give one.",
                "input_size",
            )
        in_chans, size = dims[0], (dims[1], dims[2])
    raw = load_source(data, strict=strict)
    bundle = build_data(
        raw,
        in_chans,
        size,
        augment=rec.augment,
        val_fraction=rec.val_fraction,
        strict=strict,
        mean=ckpt.record.mean if ckpt and ckpt.record else None,
        std=ckpt.record.std if ckpt and ckpt.record else None,
    )
    add_regularising_augment(bundle.train, (rec.randaugment_n, rec.randaugment_m), rec.random_erasing)
    if ckpt is not None and ckpt.record is not None and list(ckpt.record.classes or []) != bundle.classes:
        raise DataError(f"the data {data!r} no longer has the classes this run was trained on.")
    for s in bundle.skipped:
        _say(f"skipped unreadable file: {s}", ctx)
    seed_everything(seed)
    model = create_model(model_name, num_classes=bundle.num_classes, in_chans=in_chans, **model_kwargs)
    record = model.cnnzoo_record = trained_record(model, bundle)  # what the network is and expects now
    fmt = torch.channels_last if (channels_last or precision == "bf16") else torch.contiguous_format
    threads = _choose_threads(model, model_name, (in_chans, *size), rec.batch_size, ctx, threads, fmt)
    _check_batch_fits(model, (in_chans, *size), rec.batch_size // ctx.world_size or 1, ctx)
    optimizer = rec.make_optimizer(model)
    steps_per_epoch = -(-len(bundle.train) // rec.batch_size)  # the loader's batches (the global batch)
    scheduler = rec.make_scheduler(optimizer, steps_per_epoch)
    hooks: list[Any] = []
    if rec.drop_path_schedule == "linear":
        hooks.append(ScheduledDropPath(model, steps_per_epoch, rec.epochs))
    if rec.max_filter_rms:
        hooks.append(FilterRmsRenorm(model, rec.max_filter_rms))
    run = {
        "recipe": rec.as_dict(),
        "precision": precision,
        "channels_last": channels_last,
        "validation": bundle.val_from or None,
        "threads": threads,
    }
    _say(
        f"data {data}: {len(bundle.train)} train / {len(bundle.val) if bundle.val else 0} val / "
        f"{len(bundle.test)} test images, {bundle.num_classes} classes, input {in_chans}x{size[0]}x{size[1]}"
        f"; validation: {bundle.val_from or 'none (no checkpoint selection)'}",
        ctx,
    )
    trainer = Trainer(
        model,
        optimizer,
        bundle.train,
        epochs=rec.epochs,
        batch_size=rec.batch_size,
        scheduler=scheduler,
        val_data=bundle.val,
        device=ctx.device,
        out_dir=out_dir,
        seed=seed,
        aux_weight=rec.aux_weight,
        record=record,
        run=run,
        ctx=ctx,
        workers=workers,
        progress=progress,
        num_classes=bundle.num_classes,
        loss_fn=RecipeLoss(rec.label_smoothing),
        precision=precision,
        channels_last=channels_last,
        hooks=hooks,
        ema_decay=rec.ema_decay,
        ema_warmup=rec.ema_warmup,
        clip_grad_norm=rec.clip_grad_norm,
        mix=Mixer(rec.mixup, rec.cutmix),
    )
    trainer.defer_curves = True  # drawn after the result line (matplotlib's import is most of a second)
    if ckpt is not None:
        trainer.load_state(ckpt)
        _say(f"continuing at epoch {trainer.epoch + 1}, step {trainer.step}", ctx)
        was_size = int(ckpt.run.get("world_size", 1))
        if was_size != ctx.world_size:
            _say(
                f"note: this run was started on {was_size} process(es) and continues on {ctx.world_size}: "
                "the global batch is kept, but the result will not be bit-identical to an uninterrupted run",
                ctx,
            )
    result = trainer.fit()  # Ctrl-C: saved inside, KeyboardInterrupt reaches the CLI (exit 130)
    barrier()
    best_model = model_from_checkpoint(str(out_dir / "best.pt"))  # test the best epoch, as reported
    best_model.to(ctx.device)
    test = evaluate(
        best_model,
        bundle.test,
        device=ctx.device,
        classes=bundle.classes,
        ctx=ctx,
        batch_size=max(256, rec.batch_size),
        workers=workers,
        precision=precision,
    )
    test.protocol = eval_protocol(bundle, 1, None, False, None, [str(out_dir / "best.pt")], [record])
    skipped = bundle.all_skipped()
    if ctx.is_main:
        _say(
            f"skipped {len(skipped)} unreadable file(s)" + (": " + ", ".join(skipped) if skipped else ""), ctx
        )
        _say(f"checkpoint: {out_dir / 'best.pt'} = {trainer.selection()} (last: {out_dir / 'last.pt'})", ctx)
        _say(
            f"test top-1 {test.top1:.4f}  top-5 {test.top5:.4f} of best.pt  (n={test.n}; "
            f"{test.protocol['text']})" + (f"; {OPTIMISTIC}" if bundle.selection_on_test else ""),
            ctx,
        )
        # the figures come after the result (matplotlib's import and drawing cost most of a second)
        trainer.draw_curves()
        plot_confusion(
            test.confusion,
            bundle.classes,
            out_dir / "confusion.png",
            title=f"{model_name} on {data} (test top-1 {test.top1:.4f})\n{test.protocol['text']}",
        )
        _say(f"curves: {out_dir / 'curves.png'}", ctx)
    return RunResult(
        out_dir, out_dir / "last.pt", out_dir / "best.pt", out_dir / "curves.png", test, result, skipped, rec
    )


def eval_data_for(
    record: ModelRecord,
    data: str | None,
    crops: int = 1,
    scales: Sequence[int] | None = None,
    strict: bool = False,
    split: str = "test",
    dense: bool = False,
    flips: bool | None = None,
) -> DataBundle:
    """The test data of ``data`` (default: the record's own) adapted and normalised as the record says. The
    single centre view of pictures read from files is the record's own view through the one picture door
    (:class:`cnnzoo.data.images.ImageTransform`), so ``eval`` on a folder sees what ``predict`` sees.
    ``dense``: each test item is VGG's dense views instead (:class:`~cnnzoo.data.transforms.DenseViews` at
    ``scales``, with mirrors when ``flips``; default: for natural images, not for digits).
    """
    spec = data or record.dataset
    if not spec:
        raise DataError("this checkpoint does not say what it was trained on; pass data.", names=("data",))
    c, h, w = record.input_size
    raw = load_source(spec, strict=strict)
    bundle = build_data(
        raw,
        int(c),
        (int(h), int(w)),
        crops=1 if dense else crops,
        scales=None if dense else scales,
        mean=record.mean,
        std=record.std,
        strict=strict,
    )
    if dense:
        from ..data.transforms import DenseViews

        bundle.test.transform = DenseViews(  # type: ignore[attr-defined]
            bundle.input_size, bundle.mean, bundle.std, scales, bundle.natural if flips is None else flips
        )
    elif crops == 1 and not scales and not raw.in_memory:
        from ..data.images import ImageTransform

        bundle.test.transform = ImageTransform(record)  # type: ignore[attr-defined]
    if record.classes and list(record.classes) != bundle.classes:
        raise DataError(
            f"the classes of {spec!r} differ from the checkpoint's "
            f"({_class_diff(bundle.classes, record.classes)}); evaluate on the data it was trained on."
        )
    return bundle


def trained_record(model: torch.nn.Module, data: DataBundle) -> ModelRecord:
    """The record of ``model`` once trained on ``data``: its classes, the data source, the mean/std it was
    normalised with, and the eval view the test data had (files: the shorter side to 256/224 of the input
    and the centre crop, as :class:`~cnnzoo.data.transforms.TestViews`; in-memory pictures: fitted)."""
    from ..data.sources import MemoryImages
    from ..data.transforms import _scaled

    base: ModelRecord = model.cnnzoo_record  # type: ignore[assignment]
    h, w = data.input_size
    files = not isinstance(getattr(data.test, "raw", None), MemoryImages)
    return base.with_new_head(data.num_classes, data.classes, data.source).with_(
        input_size=(data.in_chans, h, w),
        mean=tuple(data.mean),
        std=tuple(data.std),
        resize=_scaled(256, h) if files else None,
        crop=h if files and h == w else None,
        interpolation="bilinear",
    )


def _class_diff(data: Sequence[str], ckpt: Sequence[str]) -> str:
    """What differs between two class lists, in a few words: counts, names, or order."""
    data, ckpt = [str(c) for c in data], [str(c) for c in ckpt]
    if len(data) != len(ckpt):
        return f"{len(data)} classes vs {len(ckpt)}"
    only_data = [c for c in data if c not in ckpt]
    only_ckpt = [c for c in ckpt if c not in data]
    if only_data or only_ckpt:
        a, b = ", ".join(only_data[:3]) or "none", ", ".join(only_ckpt[:3]) or "none"
        return f"the data has {a} where the checkpoint has {b}"
    i = next(i for i, (a, b) in enumerate(zip(data, ckpt)) if a != b)
    return (
        f"the same {len(data)} names in another order: class {i} is {data[i]!r} in the data, "
        f"{ckpt[i]!r} in the checkpoint"
    )


def evaluate_checkpoints(
    paths: Sequence[str],
    data: str | None = None,
    *,
    crops: int = 1,
    scales: Sequence[int] | None = None,
    ks: Sequence[int] = (1, 5),
    device: str | None = None,
    batch_size: int = 64,
    confusion_png: str | os.PathLike[str] | None = None,
    strict_data: bool = False,
    progress: bool = False,
    precision: str = "fp32",
    dense: bool = False,
    flips: bool | None = None,
) -> EvalResult:
    """Evaluate one checkpoint, or an ensemble of several (mean of softmax), on ``data``'s test split.

    ``crops`` 1/10/144 and ``scales`` pick the test views (:class:`~cnnzoo.data.transforms.TestViews`);
    ``dense`` is VGG's dense multi-scale evaluation instead (:mod:`cnnzoo.train.dense`; mirrors when
    ``flips``, default for natural images). ``precision="bf16"`` runs under bf16 autocast
    (:mod:`cnnzoo.precision`). The result's ``protocol`` states how it was measured.
    """
    if dense and crops != 1:
        raise CnnzooError(
            "dense evaluation uses the whole image; drop crops or dense.", names=("crops", "dense")
        )
    if not paths:
        raise CnnzooError("give at least one checkpoint to evaluate.")
    if confusion_png is not None:
        from ..outputs import FIGURE_SUFFIXES, check_output_file

        check_output_file(confusion_png, "confusion-matrix figure", FIGURE_SUFFIXES)
    ctx = init_distributed(device)
    try:
        from ..precision import check_precision

        check_precision(precision, ctx.device)
        models: list[torch.nn.Module] = []
        records: list[ModelRecord] = []
        chosen_on: list[str | None] = []
        for p in paths:
            if Path(p).is_dir():
                raise CheckpointError(
                    f"{p!r} is a folder, not a checkpoint file; give the path of a .pt file."
                )
            if not Path(p).is_file():
                raise CheckpointError(f"checkpoint file {p!r} does not exist; check the path.")
            ck = load_checkpoint(p)  # read once: the model, and what chose it (its run section)
            chosen_on.append(ck.run.get("validation"))
            m = model_from_loaded(ck, p)
            models.append(m.to(ctx.device))
            records.append(m.cnnzoo_record)
        first = records[0]
        for p, r in zip(paths[1:], records[1:]):
            for key in ("classes", "input_size", "mean", "std", "resize", "crop", "interpolation"):
                if getattr(r, key) != getattr(first, key):
                    raise CheckpointError(
                        f"{p!r} differs from {paths[0]!r} in {key}; an ensemble needs models "
                        "trained on the same data."
                    )
        from .dense import check_scales  # before any image is resized: sizes the machine cannot hold

        if first.input_size:
            views, per_batch = 2 if flips else 1, max(1, batch_size // 4)
            size, dev = first.input_size, ctx.device
            check_scales(models[0], size, scales, dense=dense, views=views, batch=per_batch, device=dev)
        bundle = eval_data_for(
            first, data, crops=crops, scales=scales, strict=strict_data, dense=dense, flips=flips
        )
        protocol = eval_protocol(bundle, crops, scales, dense, flips, paths, records, chosen_on)
        if dense:
            from ..precision import autocast
            from .dense import evaluate_dense

            with autocast(precision, ctx.device):
                res = evaluate_dense(
                    models,
                    bundle.test,
                    input_size=(bundle.in_chans, *bundle.input_size),
                    device=ctx.device,
                    ks=ks,
                    classes=bundle.classes,
                    ctx=ctx,
                    progress=progress,
                    batch_size=max(1, batch_size // 4),
                )
            res.crops = int(protocol["views_per_image"])
        else:
            res = evaluate(
                models,
                bundle.test,
                device=ctx.device,
                ks=ks,
                classes=bundle.classes,
                ctx=ctx,
                batch_size=batch_size if crops == 1 else max(1, batch_size // crops),
                progress=progress,
                precision=precision,
            )
        res.protocol = protocol
        if confusion_png is not None and ctx.is_main:
            plot_confusion(
                res.confusion,
                bundle.classes,
                confusion_png,
                title=f"{', '.join(Path(p).name for p in paths)} (top-1 {res.top1:.4f})\n{protocol['text']}",
            )
        return res
    finally:
        cleanup()


def eval_protocol(
    bundle: DataBundle,
    crops: int,
    scales: Sequence[int] | None,
    dense: bool,
    flips: bool | None,
    paths: Sequence[str],
    records: Sequence[ModelRecord],
    validations: Sequence[str | None] = (),
) -> dict[str, Any]:
    """The protocol of an evaluation as a JSON-ready dict with a one-line ``text`` (every report states it):
    views, scales, dense or not, flips, how views and models are combined, resize, crop, interpolation,
    models. ``validations``: what each checkpoint was chosen on (its run section's ``validation``); one
    chosen on these very test images makes the figure optimistic, and the protocol says so."""
    from ..data.sources import MemoryImages
    from ..data.transforms import describe_views
    from .dense import COMBINE, COMBINE_DENSE

    in_memory = isinstance(getattr(bundle.test, "raw", None), MemoryImages)
    p = describe_views(
        crops,
        bundle.input_size,
        scales,
        dense=dense,
        flips=bundle.natural if flips is None else flips,
        in_memory=in_memory,
    )
    p["combine"] = (
        COMBINE
        if not dense
        else COMBINE_DENSE.replace("over the image and its mirror, then " if not p["flips"] else "", "")
    )
    p["models"] = [{"checkpoint": str(path), "model": r.name} for path, r in zip(paths, records)]
    who = records[0].name if len(records) == 1 else f"ensemble of {len(records)} models"
    p["text"] = f"{who}: {p['text']}; {p['combine']}"
    # a checkpoint chosen on these very test images scores higher here than on new data
    if any(v == "the test images" and r.dataset == bundle.source for v, r in zip(validations, records)):
        p["optimistic"] = True
        p["text"] += f"; {OPTIMISTIC}"
    return p
