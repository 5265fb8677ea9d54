"""Effective receptive field (Luo, Li, Urtasun and Zemel, "Understanding the Effective Receptive Field in
Deep Convolutional Neural Networks", NeurIPS 2016): the gradient of a layer's centre unit with respect to
the input, ``|d y_centre / d x|`` summed over the unit's channels and the input's channels, averaged over
random inputs (Luo et al. Sec. 4: random weights and inputs) or real images, with random or trained
weights. Luo et al. found it a roughly Gaussian core much smaller than the theoretical field that the
lectures (and :func:`cnnzoo.analysis.profile`) compute; the radius holding 68% / 95% of its mass says how
much smaller.

It is also the check of that theoretical field: the gradient's support (the pixels with a non-zero
gradient, over all samples) can never leave the theoretical field; on small networks without dead units
it fills it exactly. ``benchmarks/rf_gradient_support.py`` runs the check on every registered model.

>>> from cnnzoo.factory import create_model
>>> from cnnzoo.analysis.erf import effective_receptive_field
>>> r = effective_receptive_field(create_model("lenet5"), ["c1", "c3", "c5"], samples=8)   # doctest: +SKIP
>>> print(r.to_table())                                                                   # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CnnzooError, OptionError
from ..sizes import parse_input_size

__all__ = ["ErfLayer", "ErfResult", "default_erf_layers", "effective_receptive_field", "theoretical_field"]

#: Name standing for the output of the model's ``forward_features`` (its last feature map).
FEATURES = "features:out"


class _Stop(Exception):
    """Raised by a forward hook once every wanted layer has produced its output."""


def _first_tensor(obj: Any) -> torch.Tensor | None:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, tuple | list):
        for o in obj:
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def _capture(model: nn.Module, layers: Sequence[str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs of ``layers`` (module names, or :data:`FEATURES`) on ``x``, stopping the forward pass
    after the last of them."""
    out: dict[str, torch.Tensor] = {}
    wanted = [n for n in layers if n != FEATURES]
    handles = []

    def hook_for(name: str):  # noqa: ANN202
        def hook(_m: nn.Module, _i: Any, o: Any) -> None:
            if name not in out:
                t = _first_tensor(o)
                if t is not None:
                    out[name] = t
            if all(n in out for n in wanted) and FEATURES not in layers:
                raise _Stop

        return hook

    for n in wanted:
        try:
            mod = model.get_submodule(n)
        except AttributeError:
            raise CnnzooError(
                f"the model has no layer {n!r}; `cnnzoo erf MODEL --list-layers` names them."
            ) from None
        handles.append(mod.register_forward_hook(hook_for(n)))
    try:
        if FEATURES in layers:
            out[FEATURES] = model.forward_features(x)  # type: ignore[operator]
        elif wanted:
            model(x)
    except _Stop:
        pass
    finally:
        for h in handles:
            h.remove()
    missing = [n for n in layers if n not in out]
    if missing:
        raise CnnzooError(
            f"layer {missing[0]!r} produced no output in the forward pass; choose a layer the model uses."
        )
    return out


class _Upto(nn.Module):
    """The model up to one layer's output (for profiling the theoretical field of that layer)."""

    def __init__(self, model: nn.Module, layer: str) -> None:
        super().__init__()
        self.model, self.layer = model, layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _capture(self.model, [self.layer], x)[self.layer]


@dataclass
class Field:
    """Theoretical receptive field of a layer (from :func:`cnnzoo.analysis.profile`): size ``rf`` and
    ``jump`` per spatial dimension, and ``start``, the centre of unit 0's field in input pixels (``None``
    when the profiler does not expose it)."""

    rf: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[float, ...] | None
    global_context: bool = False

    def box(self, unit: Sequence[int]) -> tuple[tuple[float, float], ...] | None:
        """Per dimension ``(first, last)`` input pixel of the field of ``unit`` (unclipped)."""
        if self.start is None:
            return None
        return tuple(
            (s + u * j - (r - 1) / 2, s + u * j + (r - 1) / 2)
            for s, u, j, r in zip(self.start, unit, self.jump, self.rf)
        )


def theoretical_field(model: nn.Module, layer: str, input_size: Sequence[int]) -> Field:
    """The theoretical receptive field of ``layer``'s units at ``input_size`` (C, H, W), traced on ``meta``
    by :func:`cnnzoo.analysis.profile` (the recurrence ``rf += (k - 1) * d * jump``, ``jump *= s``)."""
    from .profile import profile

    size = tuple(int(v) for v in input_size)
    upto = _Upto(model, layer)
    p = profile(upto, size)
    if p.receptive_field is None or p.jump is None:
        raise CnnzooError(f"the output of {layer!r} has no spatial field; choose a convolutional layer.")
    start = None
    try:  # the centre of unit 0's field is kept by the tracer only; read it there when it is available
        from .profile import _meta_copy, _run  # type: ignore[attr-defined]

        dev = torch.device("meta")
        tracer, out = _run(_meta_copy(upto, dev), size, 1, dev, record=False)
        st = tracer.get_state(_first_tensor(out))
        if st is not None and tuple(st.rf) == tuple(p.receptive_field):
            start = tuple(float(v) for v in st.start)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - profiler internals moved
        start = None
    ctx = bool(getattr(p, "global_context", None))
    return Field(tuple(p.receptive_field), tuple(p.jump), start, ctx)


@dataclass
class ErfLayer:
    """The effective receptive field of one layer's centre unit."""

    layer: str
    output_shape: tuple[int, ...]
    unit: tuple[int, int]
    erf: torch.Tensor  # [H, W] float64, mean over samples of |gradient| summed over channels
    support: torch.Tensor  # [H, W] bool, non-zero gradient in any sample
    theory: Field
    centre: tuple[float, float]
    r68: float
    r95: float

    @property
    def support_box(self) -> tuple[int, int, int, int] | None:
        """(top, left, bottom, right) of the support, inclusive; None when the gradient is zero."""
        ys, xs = torch.nonzero(self.support, as_tuple=True)
        if len(ys) == 0:
            return None
        return int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())

    @property
    def support_extent(self) -> tuple[int, int]:
        b = self.support_box
        return (0, 0) if b is None else (b[2] - b[0] + 1, b[3] - b[1] + 1)

    @property
    def theory_box(self) -> tuple[int, int, int, int] | None:
        """The theoretical field of the unit clipped to the image, (top, left, bottom, right) inclusive."""
        box = self.theory.box(self.unit)
        if box is None:
            return None
        h, w = self.erf.shape
        (t, b), (left, r) = box
        return (
            max(0, math.ceil(t)),
            max(0, math.ceil(left)),
            min(h - 1, math.floor(b)),
            min(w - 1, math.floor(r)),
        )

    @property
    def within_theory(self) -> bool | None:
        """Whether the gradient's support lies inside the theoretical field (None: position unknown, then
        only the extent is compared)."""
        s, t = self.support_box, self.theory_box
        if s is None:
            return True
        if t is None:
            h, w = self.erf.shape
            return self.support_extent[0] <= min(self.theory.rf[0], h) and self.support_extent[1] <= min(
                self.theory.rf[1], w
            )
        return s[0] >= t[0] and s[1] >= t[1] and s[2] <= t[2] and s[3] <= t[3]

    @property
    def fills_theory(self) -> bool | None:
        """Whether the support's bounding box is exactly the (clipped) theoretical field."""
        t = self.theory_box
        return None if t is None else self.support_box == t

    def as_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "output_shape": list(self.output_shape),
            "unit": list(self.unit),
            "theoretical_rf": list(self.theory.rf),
            "jump": list(self.theory.jump),
            "theory_box": None if self.theory_box is None else list(self.theory_box),
            "global_context": self.theory.global_context,
            "support_box": None if self.support_box is None else list(self.support_box),
            "support_extent": list(self.support_extent),
            "within_theory": self.within_theory,
            "fills_theory": self.fills_theory,
            "centre": list(self.centre),
            "r68": self.r68,
            "r95": self.r95,
        }


@dataclass
class ErfResult:
    """The effective receptive fields of several layers of one model (see the module docstring)."""

    model: str
    input_size: tuple[int, int, int]
    weights: str
    inputs: str
    samples: int
    layers: list[ErfLayer] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_size": list(self.input_size),
            "weights": self.weights,
            "inputs": self.inputs,
            "samples": self.samples,
            "layers": [r.as_dict() for r in self.layers],
        }

    def to_table(self, markdown: bool = False) -> str:
        """One row per layer: theoretical field, gradient support, and the radii holding 68% / 95% of the
        ERF's mass (in input pixels, from the unit's centre)."""
        head = ["layer", "output", "theoretical RF", "support", "inside RF", "r68", "r95", "r95 / (RF/2)"]
        rows = []
        for r in self.layers:
            rf = r.theory.rf
            within = r.within_theory
            mark = "yes" if within else ("?" if within is None else "NO")
            if r.theory.global_context:
                mark += " (global context)"
            rows.append(
                [
                    r.layer,
                    "x".join(map(str, r.output_shape)),
                    f"{rf[0]}x{rf[1]}",
                    "{}x{}".format(*r.support_extent),
                    mark,
                    f"{r.r68:.1f}",
                    f"{r.r95:.1f}",
                    f"{r.r95 / (max(rf) / 2):.2f}",
                ]
            )
        if markdown:
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(row) + " |" for row in rows]
            return "\n".join(lines) + "\n"
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        return "\n".join([fmt.format(*head), *(fmt.format(*row) for row in rows)]) + "\n"

    def caption(self) -> str:
        return (
            f"{self.model}, input {'x'.join(map(str, self.input_size))}, {self.weights} weights, "
            f"{self.inputs}"
        )

    def plot(self, path: str | Path, cols: int | None = None) -> Path:
        """A PNG: per layer the ERF heat map (normalised, square-root scale), the theoretical field of the
        centre unit as a square and the 68% / 95% radii as circles. Written atomically."""

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Circle, Rectangle

        n = len(self.layers)
        cols = cols or min(n, 4)
        nrows = math.ceil(n / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 3.4 * nrows + 0.5), squeeze=False)
        for ax in axes.flat[n:]:
            ax.axis("off")
        for ax, r in zip(axes.flat, self.layers):
            m = r.erf / r.erf.max().clamp_min(1e-300)
            ax.imshow(m.sqrt().numpy(), cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
            tb = r.theory_box
            box = r.theory.box(r.unit)
            if box is not None:
                (t, b), (left, rr) = box
                ax.add_patch(
                    Rectangle(
                        (left - 0.5, t - 0.5),
                        rr - left + 1,
                        b - t + 1,
                        fill=False,
                        ec="cyan",
                        lw=1.2,
                        ls="--",
                    )
                )
            cy, cx = r.centre
            for rad, col in ((r.r68, "white"), (r.r95, "lime")):
                ax.add_patch(Circle((cx, cy), rad, fill=False, ec=col, lw=0.9))
            h, w = r.erf.shape
            lo_y, hi_y, lo_x, hi_x = -0.5, h - 0.5, -0.5, w - 0.5
            if box is not None:  # a field larger than the image: show all of it around the image
                lo_y, hi_y = min(lo_y, box[0][0] - 1.5), max(hi_y, box[0][1] + 1.5)
                lo_x, hi_x = min(lo_x, box[1][0] - 1.5), max(hi_x, box[1][1] + 1.5)
                ax.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, ec="0.6", lw=0.8))
            ax.set_xlim(lo_x, hi_x)
            ax.set_ylim(hi_y, lo_y)
            ax.set_xticks([])
            ax.set_yticks([])
            rf = r.theory.rf
            ax.set_title(
                f"{r.layer}\nRF {rf[0]}  r68 {r.r68:.1f}  r95 {r.r95:.1f}" + ("" if tb else " (RF pos. ?)"),
                fontsize=8,
            )
        fig.suptitle(
            self.caption()
            + "\ndashed cyan: theoretical field; circles: 68% (white) / 95% (green) of the ERF",
            fontsize=8,
        )
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        from ..outputs import save_figure

        try:
            return save_figure(fig, path, "heat map", dpi=110)
        finally:
            plt.close(fig)


def default_erf_layers(model: nn.Module) -> list[str]:
    """The output of each of the model's layer groups (its ``layer_group_names`` record: the last sub-module
    of each group, e.g. ``layer1``..``layer4`` for ResNet, each block's pool for VGG), skipping the head and
    fully connected layers, which have no spatial map. Models without the record: their top-level children."""
    modules = dict(model.named_modules())
    record = getattr(model, "layer_group_names", None)
    groups = (
        {g: tuple(ns) for g, ns in record.items()} if record else {n: (n,) for n, _ in model.named_children()}
    )
    out: list[str] = []
    for gname, names in groups.items():
        parts = [modules[n] for n in names if n in modules]
        if gname in ("head", "fc", "classifier", "output", "f6") or any(
            isinstance(m, nn.Linear) for p in parts for m in p.modules()
        ):
            continue  # FC layers have no spatial map
        if names and names[-1] in modules:
            out.append(names[-1])
    return out


def _radius(erf: torch.Tensor, centre: tuple[float, float], frac: float) -> float:
    """The smallest radius around ``centre`` whose disc holds ``frac`` of the map's mass (pixel centres)."""
    h, w = erf.shape
    ys = torch.arange(h, dtype=torch.float64).view(-1, 1) - centre[0]
    xs = torch.arange(w, dtype=torch.float64).view(1, -1) - centre[1]
    d = (ys.pow(2) + xs.pow(2)).sqrt().flatten()
    m = erf.flatten().double()
    total = float(m.sum())
    if total <= 0:
        return 0.0
    order = torch.argsort(d)
    cum = torch.cumsum(m[order], 0)
    k = int(torch.searchsorted(cum, torch.tensor(frac * total, dtype=cum.dtype)))
    return float(d[order][min(k, len(d) - 1)])


def _check_memory(
    model: nn.Module,
    layers: Sequence[str],
    size: tuple[int, ...],
    samples: int,
    batch: int,
    dtype: torch.dtype,
    random: bool,
) -> None:
    """Before any tensor is made: each layer must take the input (channels, at least its smallest size; the
    profiler's one sentence otherwise), and the inputs plus one batch's forward and backward pass must fit
    in the free memory (:mod:`cnnzoo.analysis.memory`)."""
    from .memory import check_fits, forward_bytes, image_bytes

    width = torch.empty((), dtype=dtype).element_size()
    label = getattr(model, "cnnzoo_name", None) or type(model).__name__
    kw = {"backward": True, "dtype_bytes": width, "name": label, "wrapped": True}
    need = max(forward_bytes(_Upto(model, ln), size, batch, **kw) for ln in layers)  # type: ignore[arg-type]
    need += image_bytes(size, samples) if random else 0
    fix = "give a smaller --input (input_size)" if random else "use fewer or smaller images"
    where = f"the effective receptive field of {samples} inputs of {'x'.join(map(str, size))}"
    check_fits(need, where, fix, next((p.device for p in model.parameters()), None))


def effective_receptive_field(
    model: nn.Module,
    layers: Sequence[str] | None = None,
    input_size: Sequence[int] | None = None,
    *,
    samples: int = 16,
    images: torch.Tensor | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    batch_size: int = 8,
    name: str | None = None,
    weights: str = "random",
    inputs: str | None = None,
) -> ErfResult:
    """The effective receptive field of the centre unit of each of ``layers`` (module names; default
    :func:`default_erf_layers`; :data:`FEATURES` is the last feature map).

    The inputs are ``samples`` standard-normal images of ``input_size`` (C, H, W; default the model's
    record's), or the given ``images`` (already normalised, ``[N, C, H, W]``). The model is put in eval mode
    (BatchNorm uses its running statistics, dropout is off) and computed in ``dtype`` (float64 by default,
    so that no small gradient underflows to zero and the support is exact); it is left unchanged.
    """
    label = name or getattr(model, "cnnzoo_name", None) or type(model).__name__
    if images is None:
        if input_size is None:
            rec = getattr(model, "cnnzoo_record", None)
            if rec is None:
                raise OptionError(
                    "pass input_size=(C, H, W) for a model not made by create_model.", "input_size"
                )
            input_size = rec.input_size  # the size its record says it is evaluated at
        if samples < 1:
            raise CnnzooError(f"samples must be at least 1, got {samples}.")
        size = parse_input_size(input_size)
    else:
        if images.ndim != 4:
            raise CnnzooError("images must be a [N, C, H, W] tensor.")
        size = tuple(int(v) for v in images.shape[1:])
        samples = len(images)
    layers = list(layers) if layers else default_erf_layers(model)
    if not layers:
        raise CnnzooError("no layer to measure; name one (see `cnnzoo erf MODEL --list-layers`).")
    _check_memory(model, layers, size, samples, min(batch_size, samples), dtype, images is None)
    if images is None:
        g = torch.Generator().manual_seed(seed)
        images = torch.randn((samples, *size), generator=g)
        inputs = inputs or f"{samples} random N(0, 1) inputs"
    else:
        inputs = inputs or f"{len(images)} real images"
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training, old_dtype = model.training, next((p.dtype for p in model.parameters()), torch.float32)
    model.eval()
    model.to(dtype)
    try:
        sums: dict[str, torch.Tensor] = {}
        supports: dict[str, torch.Tensor] = {}
        shapes: dict[str, tuple[int, ...]] = {}
        for i in range(0, len(images), batch_size):
            x = images[i : i + batch_size].to(dev, dtype).requires_grad_(True)
            outs = _capture(model, layers, x)
            for j, ln in enumerate(layers):
                o = outs[ln]
                if o.ndim != 4:
                    raise CnnzooError(
                        f"layer {ln!r} gives a {o.ndim}-D output, not a feature map; "
                        "choose a convolutional layer."
                    )
                shapes[ln] = tuple(o.shape[1:])
                ci, cj = (o.shape[2] - 1) // 2, (o.shape[3] - 1) // 2
                (grad,) = torch.autograd.grad(o[:, :, ci, cj].sum(), x, retain_graph=j < len(layers) - 1)
                a = grad.detach().abs().sum(1).double().cpu()
                sums[ln] = sums.get(ln, 0) + a.sum(0)
                sup = (a > 0).any(0)
                supports[ln] = sup if ln not in supports else supports[ln] | sup
    finally:
        model.to(old_dtype)
        model.train(was_training)
    res: list[ErfLayer] = []
    for ln in layers:
        shp = shapes[ln]
        unit = ((shp[1] - 1) // 2, (shp[2] - 1) // 2)
        theory = theoretical_field(model, ln, size)
        erf = sums[ln] / len(images)
        box = theory.box(unit)
        if box is not None:
            centre = ((box[0][0] + box[0][1]) / 2, (box[1][0] + box[1][1]) / 2)
        else:
            tot = erf.sum().clamp_min(1e-300)
            yy = torch.arange(erf.shape[0], dtype=torch.float64)
            xx = torch.arange(erf.shape[1], dtype=torch.float64)
            centre = (float((erf.sum(1) * yy).sum() / tot), float((erf.sum(0) * xx).sum() / tot))
        res.append(
            ErfLayer(
                ln,
                shp,
                unit,
                erf,
                supports[ln],
                theory,
                centre,
                _radius(erf, centre, 0.68),
                _radius(erf, centre, 0.95),
            )
        )
    return ErfResult(label, size, weights, inputs, len(images), res)  # type: ignore[arg-type]
