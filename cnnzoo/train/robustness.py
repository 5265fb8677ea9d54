"""Robustness to common corruptions (Hendrycks & Dietterich 2019): a checkpoint's error under each of the 15
corruptions at 5 severities (:mod:`cnnzoo.data.corruptions`), generated on the fly from the test split, and
the paper's summary figures against a named reference network (AlexNet for ImageNet-C; LeNet-5 is the
natural one for MNIST-sized data):

- corruption error ``CE_c = sum_s E_{s,c} / sum_s E_{s,c}^ref`` and ``mCE`` = its mean over the 15 types;
- relative ``CE_c = sum_s (E_{s,c} - E_clean) / sum_s (E_{s,c}^ref - E_clean^ref)`` and relative mCE (how
  much accuracy a network *loses* under corruption, compared with the reference's loss).

Every model sees the same corrupted images: each is generated once per (seed, corruption, severity, image)
at the data's own size and channels, then fitted to each model's input as in evaluation. ``limit`` takes a
fixed stratified subset of the test split (the same on every machine).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.corruptions import CATEGORY, CORRUPTIONS, SEVERITIES, corrupt, generator_for
from ..errors import CheckpointError, CnnzooError, DataError
from ..record import ModelRecord


@dataclass
class Evaluated:
    """One checkpoint's errors: ``clean`` and ``errors[corruption] = [E_1, ..., E_5]``."""

    checkpoint: str
    model: str
    clean: float
    errors: dict[str, list[float]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint,
            "model": self.model,
            "clean_error": self.clean,
            "errors": self.errors,
        }


def corruption_errors(model: Evaluated, reference: Evaluated) -> dict[str, Any]:
    """CE, relative CE (per type), mCE and relative mCE of ``model`` against ``reference`` (fractions: 1.0
    is the reference's level)."""
    ce, rel = {}, {}
    for c in CORRUPTIONS:
        ref = sum(reference.errors[c])
        ref_loss = sum(e - reference.clean for e in reference.errors[c])
        if ref <= 0:
            raise CnnzooError(
                f"the reference makes no error under {c}, so CE is undefined; pick another reference."
            )
        ce[c] = sum(model.errors[c]) / ref
        rel[c] = sum(e - model.clean for e in model.errors[c]) / ref_loss if ref_loss > 0 else float("nan")
    return {
        "ce": ce,
        "relative_ce": rel,
        "mce": float(np.mean(list(ce.values()))),
        "relative_mce": float(np.nanmean(list(rel.values())))
        if any(np.isfinite(list(rel.values())))
        else None,
    }


# ------------------------------------------------------------------------------------------------ data
def _test_images(
    data: str, limit: int | None, size_for_files: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The uint8 ``[N, C, H, W]`` test images of ``data`` and their labels: in-memory sets at their own size
    and channels; image folders decoded and brought to ``size_for_files`` (the model's eval view)."""
    from ..data.sources import ImageDataset, MemoryImages, load_source, stratified_split

    raw = load_source(data)
    test = raw.test
    if limit and limit < len(test):
        _, keep = stratified_split(test.labels.numpy(), limit / len(test))
        test = test.subset(keep)
    if isinstance(test, MemoryImages):
        return test.images, test.labels, raw.source
    from ..data.transforms import _scaled, center_view

    c, h, w = size_for_files
    ds = ImageDataset(test, c)
    imgs, labels = [], []
    for i in range(len(ds)):
        im = ds.image(i)
        if im is not None:
            imgs.append(center_view(im, h, _scaled(256, h)))
            labels.append(int(test.labels[i]))
    if not imgs:
        raise DataError(f"no readable test images in {data!r}.")
    return torch.stack(imgs), torch.tensor(labels), raw.source


def corrupted(images: torch.Tensor, name: str, severity: int, seed: int) -> torch.Tensor:
    """``images`` (uint8 ``[N, C, H, W]``) under one corruption and severity, each image from its own
    generator (:func:`~cnnzoo.data.corruptions.generator_for`)."""
    arr = images.permute(0, 2, 3, 1).numpy()
    out = np.stack(
        [corrupt(im, name, severity, generator_for(seed, name, severity, i)) for i, im in enumerate(arr)]
    )
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


class _Runner:
    """A checkpoint ready to classify uint8 images of any size and channel count as it was evaluated."""

    def __init__(self, path: str, device: str) -> None:
        from ..data.images import adapt_channels
        from ..data.transforms import FitTo, ToFloatNormalize
        from ..factory import model_from_checkpoint

        p = Path(path)
        if p.is_dir():
            raise CheckpointError(
                f"{path!r} is a folder, not a checkpoint file; give the path of a .pt file."
            )
        if not p.is_file():
            raise CheckpointError(f"checkpoint file {path!r} does not exist; check the path.")
        self.model = model_from_checkpoint(path)
        self.model.to(device).eval()
        self.record: ModelRecord = self.model.cnnzoo_record  # type: ignore[assignment]
        c, h, w = (int(v) for v in self.record.input_size)
        self.size, self.device = (c, h, w), device
        self.fit, self.norm, self.adapt = (
            FitTo((h, w)),
            ToFloatNormalize(self.record.mean, self.record.std),
            adapt_channels,
        )

    @torch.no_grad()
    def error(self, images: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> float:
        from .loop import split_output

        wrong = 0
        for i in range(0, len(images), batch):
            x = self.norm(self.fit(self.adapt(images[i : i + batch], self.size[0]))).to(self.device)
            wrong += int((split_output(self.model(x))[0].argmax(1).cpu() != labels[i : i + batch]).sum())
        return wrong / len(images)


def evaluate_robustness(
    checkpoints: Sequence[str],
    data: str | None = None,
    *,
    reference: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    corruptions: Sequence[str] = CORRUPTIONS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Errors of each checkpoint under ``corruptions`` x 5 severities of ``data``'s test split (default:
    the first checkpoint's data), and CE / mCE / relative mCE against ``reference``: a checkpoint (evaluated
    on the same images) or the JSON of an earlier run (its data, limit and seed must match)."""
    if not checkpoints:
        raise CnnzooError("give at least one checkpoint.")
    bad = [c for c in corruptions if c not in CORRUPTIONS]
    if bad:
        raise CnnzooError(f"unknown corruption {bad[0]!r}; use some of: {', '.join(CORRUPTIONS)}.")
    ref_json = None
    paths = list(checkpoints)
    if reference is not None and str(reference).endswith(".json"):
        try:
            ref_json = json.loads(Path(reference).read_text())
        except (OSError, ValueError) as e:
            raise CnnzooError(
                f"cannot read the reference results {reference!r} ({e}); give a checkpoint or a JSON "
                "written by `cnnzoo robustness --json`."
            ) from None
    elif reference is not None and reference not in paths:
        paths.append(reference)
    runners = [_Runner(p, device) for p in paths]
    spec = data or runners[0].record.dataset
    if not spec:
        raise DataError("the checkpoint does not record its data source; pass --data.")
    images, labels, source = _test_images(spec, limit, runners[0].size)
    for p, r in zip(paths, runners):
        if r.record.classes and len(r.record.classes) <= int(labels.max()):
            raise DataError(f"{p!r} has fewer classes than {spec!r}; evaluate on the data it was trained on.")
    setting = {"data": spec, "n": len(labels), "limit": limit, "seed": seed, "corruptions": list(corruptions)}
    if ref_json is not None:
        theirs = {k: ref_json.get(k) for k in setting}
        if theirs != setting:
            diff = ", ".join(
                f"{k} {theirs[k]!r} vs {setting[k]!r}" for k in setting if theirs[k] != setting[k]
            )
            raise CnnzooError(
                f"the reference results were measured on other images ({diff[:200]}); rerun them with the "
                "same --data, --limit, --seed and --corruptions, or give the reference checkpoint."
            )
    say = progress or (lambda s: None)
    clean = [r.error(images, labels) for r in runners]
    errs: list[dict[str, list[float]]] = [{} for _ in runners]
    for c in corruptions:
        for s in SEVERITIES:
            x = corrupted(images, c, s, seed)
            for e, r in zip(errs, runners):
                e.setdefault(c, []).append(r.error(x, labels))
        say(
            f"{c}: "
            + ", ".join(f"{Path(p).parent.name or p} {np.mean(e[c]):.3f}" for p, e in zip(paths, errs))
        )
    evaluated = [Evaluated(p, r.record.name, cl, e) for p, r, cl, e in zip(paths, runners, clean, errs)]
    by_path = dict(zip(paths, evaluated))
    ref: Evaluated | None = None
    if ref_json is not None:
        ref = Evaluated(
            ref_json["reference_checkpoint"],
            ref_json["reference_model"],
            ref_json["reference_clean_error"],
            ref_json["reference_errors"],
        )
    elif reference is not None:
        ref = by_path[reference]
    out: dict[str, Any] = {
        **setting,
        "source": source,
        "categories": {c: CATEGORY[c] for c in corruptions},
        "models": [],
    }
    for ev in evaluated[: len(checkpoints)]:
        row = ev.as_dict()
        row["mean_corruption_error"] = float(np.mean([np.mean(v) for v in ev.errors.values()]))
        if ref is not None and list(corruptions) == list(CORRUPTIONS):
            row.update(corruption_errors(ev, ref))
        out["models"].append(row)
    if ref is not None:
        out.update(
            reference_checkpoint=ref.checkpoint,
            reference_model=ref.model,
            reference_clean_error=ref.clean,
            reference_errors=ref.errors,
        )
    return out


# ------------------------------------------------------------------------------------------------ figure
def plot_robustness(
    result: dict[str, Any], path: str | os.PathLike[str], example: torch.Tensor | None = None
) -> Path:
    """Left: one test image under every corruption (rows) at severities 1-5 (columns). Right: each model's
    error per corruption (mean over severities), with its clean error as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .calibration import save_figure

    cs = list(result["corruptions"])
    fig = plt.figure(figsize=(13, max(6, 0.42 * len(cs) + 1.5)))
    if example is not None:
        grid = fig.add_gridspec(len(cs), 6, left=0.1, right=0.4, wspace=0.05, hspace=0.08)
        for i, c in enumerate(cs):
            for s in range(6):
                ax = fig.add_subplot(grid[i, s])
                img = example if s == 0 else corrupted(example[None], c, s, result["seed"])[0]
                arr = img.permute(1, 2, 0).numpy()
                ax.imshow(arr[..., 0] if arr.shape[2] == 1 else arr, cmap="gray", vmin=0, vmax=255)
                ax.set_xticks([])
                ax.set_yticks([])
                if s == 0:
                    ax.set_ylabel(c.replace("_", " "), rotation=0, ha="right", va="center", fontsize=7)
                if i == 0:
                    ax.set_title("clean" if s == 0 else f"s{s}", fontsize=8)
    ax = fig.add_axes((0.54, 0.08, 0.44, 0.85))
    rows = list(result["models"])
    if result.get("reference_checkpoint") and result["reference_checkpoint"] not in [
        r["checkpoint"] for r in rows
    ]:
        rows.append(
            {
                "model": result["reference_model"] + " (reference)",
                "errors": result["reference_errors"],
                "clean_error": result["reference_clean_error"],
            }
        )
    height = 0.8 / max(1, len(rows))
    ys = np.arange(len(cs))
    for j, r in enumerate(rows):
        vals = [100 * np.mean(r["errors"][c]) for c in cs]
        label = r["model"] + (f" (mCE {100 * r['mce']:.0f}%)" if "mce" in r else "")
        bars = ax.barh(ys + j * height, vals, height=height, label=label)
        ax.axvline(100 * r["clean_error"], color=bars.patches[0].get_facecolor(), ls="--", lw=1)
    ax.set_yticks(ys + height * (len(rows) - 1) / 2, [c.replace("_", " ") for c in cs], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("top-1 error (%), mean over severities 1-5; dashed: clean error")
    ax.set_title(f"{result['data']}: {result['n']} test images, seed {result['seed']}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path, "robustness figure")
