"""The PNG figures: explanation grids (image | map | overlay with colour bar), filter grids (Krizhevsky et
al., 2012, Fig. 3) and feature-map grids.

Figures are drawn on :class:`matplotlib.figure.Figure` objects directly (no ``pyplot``), so no global
backend is set and nothing needs a display. Every image is drawn with ``aspect="equal"``, so nothing is
squashed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure

from ..record import ModelRecord
from .api import Explanation

_TITLE = 9
MAX_ROWS = 24  # images per explanation figure (matplotlib cannot draw arbitrarily tall figures)


def _hwc(img: torch.Tensor) -> torch.Tensor:
    """``(C, H, W)`` -> ``(H, W)`` for grey or ``(H, W, 3)`` for colour, on the CPU."""
    img = img.detach().float().cpu()
    return img[0] if img.shape[0] == 1 else img[:3].permute(1, 2, 0)


def _show(ax, img: torch.Tensor, **kw) -> object:  # type: ignore[no-untyped-def]
    a = _hwc(img)
    if a.ndim == 2 and "cmap" not in kw:  # a grey image in [0, 1]: no auto-contrast (a flat image stays flat)
        kw.update(cmap="gray", vmin=0.0, vmax=1.0)
    im = ax.imshow(a.numpy(), aspect="equal", interpolation="nearest", **kw)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def _signed_to_display(a: torch.Tensor) -> torch.Tensor:
    """A signed ``(C, H, W)`` attribution shown as an image, as Springenberg et al. (2015) show guided
    back-propagation: scaled by its largest magnitude, zero at mid-grey."""
    m = float(a.abs().max())
    return (a / (2 * m) + 0.5).clamp(0, 1) if m > 0 else torch.full_like(a, 0.5)


def _save(fig: Figure, out: str | Path) -> Path:
    from ..outputs import FIGURE_SUFFIXES, check_output_file, save_figure

    out = check_output_file(out, "figure", FIGURE_SUFFIXES)
    return save_figure(fig, out, "figure", dpi=110, bbox_inches="tight")


def explanation_figure(
    images: torch.Tensor,
    exp: Explanation,
    out: str | Path,
    names: Sequence[str] | None = None,
    class_name: Callable[[int], str] = str,
) -> Path:
    """One row per image: the image, the method's map, and the map over the image with a colour bar.

    Titles name the image, the predicted class and its probability, and the explained class (or feature map)
    with its probability and logit.
    """
    n = images.shape[0]
    fig = Figure(figsize=(11.5, 3.9 * n), layout="constrained")
    axes = fig.subplots(n, 3, squeeze=False)
    label = exp.method + (f" @ {exp.layer}" if exp.layer else "")
    for i in range(n):
        ax_img, ax_map, ax_ovl = axes[i]
        pred, t = int(exp.predicted[i]), int(exp.target[i])
        name = f"{names[i]}\n" if names else ""
        _show(ax_img, images[i])
        ax_img.set_title(
            f"{name}predicted {class_name(pred)} (p={float(exp.probs[i, pred]):.3f})", fontsize=_TITLE
        )
        if exp.target_is_channel:
            what = f"{label}\nfeature map {t} (strongest activation)"
        else:
            what = (
                f"{label}\nexplains {class_name(t)} (p={float(exp.probs[i, t]):.3f}, "
                f"logit {float(exp.logits[i, t]):.2f})"
            )
        attr = exp.attribution[i].detach().cpu()
        if attr.ndim == 3:
            _show(ax_map, _signed_to_display(attr))
            ax_map.set_title(what + "\n(signed; grey = 0)", fontsize=_TITLE)
        else:
            im = _show(ax_map, attr[None], cmap="inferno", vmin=0)
            ax_map.set_title(what, fontsize=_TITLE)
            fig.colorbar(im, ax=ax_map, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
        grey = images[i].mean(dim=0, keepdim=True)
        _show(ax_ovl, grey)
        heat = exp.heat[i].detach().cpu()
        im = ax_ovl.imshow(
            heat.numpy(),
            cmap="jet",
            alpha=0.5,
            aspect="equal",
            interpolation="bilinear",
            vmin=0,
            vmax=max(float(heat.max()), 1e-12),
        )
        note = " (max |.| over channels)" if attr.ndim == 3 else ""
        if float(heat.max()) == 0.0:
            note += "\nthe map is zero everywhere"
        ax_ovl.set_title("overlay" + note, fontsize=_TITLE)
        cb = fig.colorbar(im, ax=ax_ovl, fraction=0.046, pad=0.04)
        cb.ax.tick_params(labelsize=7)
    return _save(fig, out)


def _grid(count: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols), cols


def filters_figure(weight: torch.Tensor, out: str | Path, title: str) -> Path:
    """The filters ``(out, in, kh, kw)`` of a convolution as a grid of small images, each scaled to its own
    range as in Krizhevsky et al. (2012, Fig. 3): RGB for 3 input channels, grey otherwise (the mean over the
    input channels when there are more than one)."""
    w = weight.detach().float().cpu()
    if w.shape[1] != 3:
        w = w.mean(dim=1, keepdim=True)
    rows, cols = _grid(w.shape[0])
    fig = Figure(figsize=(max(4.0, 0.55 * cols), max(3.0, 0.55 * rows + 0.6)))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < w.shape[0]:
            f = w[k]
            lo, hi = float(f.min()), float(f.max())
            _show(ax, (f - lo) / (hi - lo) if hi > lo else torch.full_like(f, 0.5))
    fig.suptitle(title, fontsize=10)
    return _save(fig, out)


def activations_figure(acts: torch.Tensor, out: str | Path, title: str, max_maps: int = 64) -> Path:
    """The first ``max_maps`` feature maps ``(C, H, W)`` of one image on one shared colour scale, with its
    colour bar."""
    a = acts.detach().float().cpu()[:max_maps]
    rows, cols = _grid(a.shape[0])
    fig = Figure(figsize=(max(5.0, 1.1 * cols + 1.2), max(3.0, 1.1 * rows + 0.8)))
    axes = fig.subplots(rows, cols, squeeze=False)
    lo, hi = float(a.min()), float(a.max())
    im = None
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < a.shape[0]:
            im = _show(ax, a[k][None], cmap="viridis", vmin=lo, vmax=hi if hi > lo else lo + 1)
            ax.set_title(str(k), fontsize=7)
    fig.suptitle(title, fontsize=10)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02)
    return _save(fig, out)


def class_label(record: ModelRecord) -> Callable[[int], str]:
    """How figures name output ``i`` of a model with ``record``: ``"3 'cat'"`` where the record names its
    classes, else ``"3"``."""
    names = record.class_names()

    def label(i: int) -> str:
        return f"{i} {names[i]!r}" if names and 0 <= i < len(names) else str(i)

    return label


def explain_files(
    ref: str,
    images: Sequence[str],
    out: str | Path,
    method: str = "saliency",
    target: int | None = None,
    layer: str | None = None,
    channel: int | None = None,
    reduce: str = "max",
    n_samples: int = 50,
    noise_level: float = 0.15,
    window: int | None = None,
    stride: int | None = None,
    fill_grey: float | None = None,
) -> tuple[Path, Explanation]:
    """Explain a checkpoint's (or a fresh model's) decisions on image files/folders and write the figure.

    Occlusion's square (``window``, ``stride``) is filled with the grey level ``fill_grey`` in [0, 1], or by
    default with the mean colour (0 in the model's input units)."""
    from ..data.images import load_images
    from ..errors import CnnzooError
    from ..factory import model_from_checkpoint
    from ..outputs import FIGURE_SUFFIXES, check_output_file
    from .api import explain

    check_output_file(out, "figure", FIGURE_SUFFIXES)  # before the model runs, not after
    model = model_from_checkpoint(ref)
    rec = model.cnnzoo_record
    paths, shown, x = load_images(images, rec)  # the one picture door, as predict
    if len(paths) > MAX_ROWS:
        raise CnnzooError(
            f"one figure shows at most {MAX_ROWS} images, but {len(paths)} were given; pass fewer images."
        )
    exp = explain(
        model,
        x,
        method,
        target=target,
        layer=layer,
        channel=channel,
        reduce=reduce,
        n_samples=n_samples,
        noise_level=noise_level,
        generator=torch.Generator().manual_seed(0),
        window=window,
        stride=stride,
        fill=0.0 if fill_grey is None else [(fill_grey - m) / s for m, s in zip(rec.mean, rec.std)],  # type: ignore[arg-type]
    )
    path = explanation_figure(shown, exp, out, [p.name for p in paths], class_label(model.cnnzoo_record))
    return path, exp


def filters_file(ref: str, out: str | Path, layer: str | None = None) -> Path:
    """Write the filters of a checkpoint's convolution ``layer`` (default: the first) as a grid."""
    from ..factory import model_from_checkpoint
    from ..outputs import FIGURE_SUFFIXES, check_output_file
    from .api import conv_filters

    check_output_file(out, "figure", FIGURE_SUFFIXES)  # before the model runs, not after
    model = model_from_checkpoint(ref)
    name, w = conv_filters(model, layer)
    shape = "x".join(map(str, w.shape))
    how = "RGB" if w.shape[1] == 3 else ("grey" if w.shape[1] == 1 else "mean over input channels")
    title = f"{model.cnnzoo_record.name}: {w.shape[0]} filters of {name} ({shape}, {how})"
    return filters_figure(w, out, title)


def activations_file(ref: str, image: str, layer: str, out: str | Path, max_maps: int = 64) -> Path:
    """Write the feature maps of ``layer`` for one image as a grid."""
    from ..data.images import load_images
    from ..errors import CnnzooError, OptionError
    from ..factory import model_from_checkpoint
    from .api import activations

    if max_maps < 1:
        raise OptionError(f"max_maps must be at least 1, got {max_maps}.", "max_maps")
    from ..outputs import FIGURE_SUFFIXES, check_output_file

    check_output_file(out, "figure", FIGURE_SUFFIXES)  # before the model runs, not after
    model = model_from_checkpoint(ref)
    paths, _, x = load_images([image], model.cnnzoo_record)
    if len(paths) != 1:
        raise CnnzooError(f"activations shows one image, but {image!r} holds {len(paths)}; name one file.")
    a = activations(model, x, layer)[0]
    if a.ndim != 3:
        raise CnnzooError(
            f"layer {layer!r} outputs shape {tuple(a.shape)}, not feature maps; give a conv layer."
        )
    shown = min(max_maps, a.shape[0])
    title = (
        f"{model.cnnzoo_record.name} {layer}: {shown} of {a.shape[0]} feature maps "
        f"({a.shape[1]}x{a.shape[2]}) for {paths[0].name}"
    )
    return activations_figure(a, out, title, max_maps)


def methods_figure(
    images: torch.Tensor,
    exps: Sequence[Explanation],
    out: str | Path,
    names: Sequence[str] | None = None,
    class_name: Callable[[int], str] = str,
) -> Path:
    """One row per image, one column per method: the same decisions explained side by side."""
    n, k = images.shape[0], len(exps)
    fig = Figure(figsize=(2.3 * (k + 1), 2.5 * n + 0.4), layout="constrained")
    axes = fig.subplots(n, k + 1, squeeze=False)
    for i in range(n):
        pred = int(exps[0].predicted[i])
        _show(axes[i, 0], images[i])
        name = f"{names[i]}: " if names else ""
        axes[i, 0].set_title(
            f"{name}pred {class_name(pred)}\np={float(exps[0].probs[i, pred]):.3f}", fontsize=8
        )
        for j, e in enumerate(exps, start=1):
            attr = e.attribution[i].detach().cpu()
            if attr.ndim == 3:
                _show(axes[i, j], _signed_to_display(attr))
            else:
                _show(axes[i, j], attr[None], cmap="inferno", vmin=0)
            what = f"map {int(e.target[i])}" if e.target_is_channel else f"class {int(e.target[i])}"
            axes[i, j].set_title(f"{e.method}\n{what}", fontsize=8)
    return _save(fig, out)
