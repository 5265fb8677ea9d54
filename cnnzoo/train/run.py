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

from ..checkpoint import load_checkpoint
from ..data.sources import DataBundle, build_data, default_source_name, load_source
from ..data.transforms import add_regularising_augment
from ..errors import CheckpointError, CnnzooError, DataError
from ..factory import create_model, model_from_checkpoint
from ..registry import model_info
from .distributed import DistContext, barrier, cleanup, init_distributed
from .loop import FitResult, Trainer, evaluate, seed_everything
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


def choose_out_dir(model: str, data: str, out: str | None, resume: bool) -> tuple[Path, str]:
    """The run folder and a sentence saying what is done with it.

    An explicit ``out`` that already holds a run is an error unless ``resume``; the default
    ``runs/MODEL-DATA`` moves on to ``-2``, ``-3``... instead of overwriting (``resume`` takes the
    newest). The folder is checked to be writable here, before any data is read or epoch trained.
    """
    from ..outputs import check_output_dir

    if out is not None:
        check_output_dir(out, "run folder")
    p, note = _choose_out_dir(model, data, out, resume)
    check_output_dir(p, "run folder")
    return p, note


def _choose_out_dir(model: str, data: str, out: str | None, resume: bool) -> tuple[Path, str]:
    if out is not None:
        p = Path(out)
        has_run = (p / "last.pt").is_file()
        if resume:
            if not has_run:
                raise CheckpointError(
                    f"--resume: {str(p)!r} holds no last.pt to continue from; start without --resume."
                )
            return p, f"resuming the run in {p}"
        if has_run:
            raise CnnzooError(
                f"{str(p)!r} already holds a run; pass --resume to continue it or choose another --out."
            )
        return p, f"writing to {p}"
    base = Path("runs") / f"{model}-{default_source_name(data)}"
    candidates = [base] + [base.with_name(f"{base.name}-{i}") for i in range(2, 1000)]
    existing = [c for c in candidates if (c / "last.pt").is_file()]
    if resume:
        if not existing:
            raise CheckpointError(f"--resume: no earlier run in {str(base)!r}; start without --resume.")
        return existing[-1], f"resuming the run in {existing[-1]}"
    for c in candidates:
        if not (c / "last.pt").is_file() and not any(c.glob("*.pt")):
            note = (
                f"writing to {c}"
                if c == base
                else f"{base} already holds a run; writing to {c} instead (--resume continues the newest one)"
            )
            return c, note
    raise CnnzooError(f"too many runs under {str(base)!r}; pass --out.")  # pragma: no cover


def _check_unchanged(
    ckpt: dict[str, Any], data: str | None, recipe: str | Recipe | None, overrides: dict[str, Any]
) -> None:
    """A resumed run continues exactly as it was started: a ``data``, ``recipe`` or override (other than
    ``epochs``) that differs from the run's own is an error, not silently ignored; repeating the same
    values (re-running the original command with ``--resume``) is fine."""
    stored = Recipe.from_dict(ckpt["recipe"])
    changed = [
        f"{k} ({getattr(stored, k)!r} -> {v!r})"
        for k, v in overrides.items()
        if k != "epochs" and v is not None and hasattr(stored, k) and getattr(stored, k) != v
    ]
    if data is not None and data != ckpt.get("data"):
        changed.insert(0, f"data ({ckpt.get('data')!r} -> {data!r})")
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
        or os.environ.get("OMP_NUM_THREADS")
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
    ckpt: dict[str, Any] | None = None
    if resume:
        ckpt = load_checkpoint(out_dir / "last.pt")
        _check_unchanged(ckpt, data, recipe, overrides)
        if ckpt.get("model") != model_name:
            raise CheckpointError(
                f"{out_dir / 'last.pt'} is a run of {ckpt.get('model')!r}, not {model_name!r}."
            )
        rec = Recipe.from_dict(ckpt["recipe"]).with_overrides(epochs=overrides.get("epochs"))
        data, seed = ckpt["data"], int(ckpt["seed"])
        precision = str(ckpt.get("precision", "fp32"))
        channels_last = ckpt.get("channels_last")
        threads = threads or ckpt.get("threads")
        input_size = [int(v) for v in ckpt["input_size"]]
        model_kwargs = {k: v for k, v in ckpt["model_kwargs"].items() if k not in ("num_classes", "in_chans")}
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
    explicit_chans = "in_chans" in model_kwargs
    in_chans = int(model_kwargs.pop("in_chans", info.input_size[0]))
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
        mean=ckpt["mean"] if ckpt else None,
        std=ckpt["std"] if ckpt else None,
    )
    add_regularising_augment(bundle.train, (rec.randaugment_n, rec.randaugment_m), rec.random_erasing)
    if ckpt is not None and list(ckpt.get("classes", [])) != bundle.classes:
        raise DataError(f"the data {data!r} no longer has the classes this run was trained on.")
    for s in bundle.skipped:
        _say(f"skipped unreadable file: {s}", ctx)
    seed_everything(seed)
    model = create_model(model_name, num_classes=bundle.num_classes, in_chans=in_chans, **model_kwargs)
    fmt = torch.channels_last if (channels_last or precision == "bf16") else torch.contiguous_format
    threads = _choose_threads(model, model_name, (in_chans, *size), rec.batch_size, ctx, threads, fmt)
    optimizer = rec.make_optimizer(model)
    steps_per_epoch = -(-len(bundle.train) // rec.batch_size)  # the loader's batches (the global batch)
    scheduler = rec.make_scheduler(optimizer, steps_per_epoch)
    hooks: list[Any] = []
    if rec.drop_path_schedule == "linear":
        hooks.append(ScheduledDropPath(model, steps_per_epoch, rec.epochs))
    if rec.max_filter_rms:
        hooks.append(FilterRmsRenorm(model, rec.max_filter_rms))
    meta = {
        "model": model_name,
        "model_kwargs": dict(model.cnnzoo_kwargs),  # type: ignore[attr-defined]
        "classes": bundle.classes,
        "input_size": [in_chans, *size],
        "mean": list(bundle.mean),
        "std": list(bundle.std),
        "data": data,
        "recipe": rec.as_dict(),
        "natural": bundle.natural,
        "precision": precision,
        "channels_last": channels_last,
        "threads": threads,
    }
    _say(
        f"data {data}: {len(bundle.train)} train / {len(bundle.val) if bundle.val else 0} val / "
        f"{len(bundle.test)} test images, {bundle.num_classes} classes, input {in_chans}x{size[0]}x{size[1]}",
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
        meta=meta,
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
        was = int(ckpt.get("world_size", 1))
        if was != ctx.world_size:
            _say(
                f"note: this run was started on {was} process(es) and continues on {ctx.world_size}: the "
                "global batch is kept, but the result will not be bit-identical to an uninterrupted run",
                ctx,
            )
    result = trainer.fit()  # Ctrl-C: saved inside, KeyboardInterrupt reaches the CLI (exit 130)
    barrier()
    best_model, _ = model_from_checkpoint(str(out_dir / "best.pt"))  # test the best epoch, as reported
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
    test.protocol = eval_protocol(bundle, 1, None, False, None, [str(out_dir / "best.pt")], [meta])
    skipped = bundle.all_skipped()
    if ctx.is_main:
        _say(
            f"skipped {len(skipped)} unreadable file(s)" + (": " + ", ".join(skipped) if skipped else ""), ctx
        )
        _say(
            f"test top-1 {test.top1:.4f}  top-5 {test.top5:.4f}  (n={test.n}, best epoch "
            f"{result.best_epoch} by "
            f"{trainer.monitor}; {test.protocol['text']})",
            ctx,
        )
        _say(f"checkpoint: {out_dir / 'best.pt'} (last: {out_dir / 'last.pt'})", ctx)
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
    ckpt: dict[str, Any],
    data: str | None,
    crops: int = 1,
    scales: Sequence[int] | None = None,
    strict: bool = False,
    split: str = "test",
    dense: bool = False,
    flips: bool | None = None,
) -> DataBundle:
    """The test data of ``data`` (default: the checkpoint's own) adapted and normalised as the checkpoint
    was. ``dense``: each test item is VGG's dense views instead (:class:`~cnnzoo.data.transforms.DenseViews`
    at ``scales``, with mirrors when ``flips``; default: for natural images, not for digits).
    """
    spec = data or ckpt.get("data")
    if not spec:
        raise DataError("this checkpoint does not record its data source; pass --data.")
    size = ckpt.get("input_size")
    if not size:
        raise CheckpointError(
            "this checkpoint does not record its input size; it was not written by cnnzoo train."
        )
    raw = load_source(spec, strict=strict)
    bundle = build_data(
        raw,
        int(size[0]),
        (int(size[1]), int(size[2])),
        crops=1 if dense else crops,
        scales=None if dense else scales,
        mean=ckpt.get("mean"),
        std=ckpt.get("std"),
        strict=strict,
    )
    if dense:
        from ..data.transforms import DenseViews

        bundle.test.transform = DenseViews(  # type: ignore[attr-defined]
            bundle.input_size, bundle.mean, bundle.std, scales, bundle.natural if flips is None else flips
        )
    if ckpt.get("classes") and list(ckpt["classes"]) != bundle.classes:
        raise DataError(
            f"the classes of {spec!r} differ from the checkpoint's "
            f"({_class_diff(bundle.classes, ckpt['classes'])}); evaluate on the data it was trained on."
        )
    return bundle


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
        raise CnnzooError("dense evaluation uses the whole image; drop crops (--crops) or dense (--dense).")
    if not paths:
        raise CnnzooError("give at least one checkpoint to evaluate.")
    if confusion_png is not None:
        from ..outputs import FIGURE_SUFFIXES, check_output_file

        check_output_file(confusion_png, "confusion-matrix figure", FIGURE_SUFFIXES)
    ctx = init_distributed(device)
    try:
        from ..precision import check_precision

        check_precision(precision, ctx.device)
        models, ckpts = [], []
        for p in paths:
            if Path(p).is_dir():
                raise CheckpointError(
                    f"{p!r} is a folder, not a checkpoint file; give the path of a .pt file."
                )
            if not Path(p).is_file():
                raise CheckpointError(f"checkpoint file {p!r} does not exist; check the path.")
            m, c = model_from_checkpoint(p)
            models.append(m.to(ctx.device))
            ckpts.append(c)
        first = ckpts[0]
        for p, c in zip(paths[1:], ckpts[1:]):
            for key in ("classes", "input_size", "mean", "std"):
                if c.get(key) != first.get(key):
                    raise CheckpointError(
                        f"{p!r} differs from {paths[0]!r} in {key}; an ensemble needs models "
                        "trained on the same data."
                    )
        bundle = eval_data_for(
            first, data, crops=crops, scales=scales, strict=strict_data, dense=dense, flips=flips
        )
        protocol = eval_protocol(bundle, crops, scales, dense, flips, paths, ckpts)
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
    ckpts: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The protocol of an evaluation as a JSON-ready dict with a one-line ``text`` (every report states it):
    views, scales, dense or not, flips, how views and models are combined, resize, crop, interpolation,
    models."""
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
    p["models"] = [{"checkpoint": str(path), "model": c.get("model")} for path, c in zip(paths, ckpts)]
    who = ckpts[0].get("model") if len(ckpts) == 1 else f"ensemble of {len(ckpts)} models"
    p["text"] = f"{who}: {p['text']}; {p['combine']}"
    return p
