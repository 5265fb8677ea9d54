"""Every registered model as a backbone: its feature levels, with their receptive field.

A *feature level* is the last feature map a network computes at one spatial reduction (2, 4, 8, 16, 32...
input pixels per feature-map step): what detection and segmentation heads read, and what timm's
``features_only=True`` and ``forward_intermediates`` return. :class:`FeatureInfo` describes the levels of one
model, per level: the module whose output it is (a ``named_modules()`` name, so it can be hooked), its
channels, its reduction, and, what timm's ``feature_info`` lacks, its **receptive field** and **jump**,
computed by the same tracer as ``cnnzoo summary`` (:mod:`cnnzoo.analysis.tracing`: one forward pass on the
``meta`` device, no real memory; the recurrence of Araujo et al., Distill 2019). The reduction *is* the jump:
the product of the strides on the way, so it is exact even where "valid" convolutions make the map sizes
odd (Inception-v3's 299 -> 149 -> 147).

How the levels are found. Unless a model lists its own points (``feature_points``, see
:class:`cnnzoo.models.base.ZooModel`), the candidates are, in the order they finish during
``forward_features``, the model's direct children and the children of its direct ``nn.Sequential`` /
``nn.ModuleList`` children (each call of a module called twice, such as a ResNet's shared ``relu``, is its own
candidate), and finally ``forward_features``' own output. The level at a reduction is the last candidate at
that reduction. A level that is the output of a container's last child is named by the container
(``layer1``, not ``layer1.2``). This is timm's choice for ResNet, DenseNet, Inception-v3 and VGG; where timm
chose otherwise (MobileNetV2 and EfficientNet stop before the 1x1 head convolution; Xception takes each
block's input after its first ReLU) the model lists its points.

>>> import cnnzoo, torch
>>> m = cnnzoo.create_model("resnet50", features_only=True, out_indices=(1, 2, 3, 4))
>>> [f.shape[1:] for f in m(torch.randn(1, 3, 224, 224))]          # doctest: +SKIP
[(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
>>> m.feature_info.channels(), m.feature_info.receptive_field()    # doctest: +SKIP
([256, 512, 1024, 2048], [35, 99, 291, 483])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from .errors import CnnzooError
from .models.base import FeatureLevel, forward_intermediates, resolve_indices


class FeatureInfo:
    """The feature levels of one model, computed on first use (timm's ``FeatureInfo`` interface:
    ``info[i]["num_chs"]``, ``channels()``, ``reduction()``, ``module_name()``, ``get_dicts()``), plus
    ``receptive_field()`` and ``jump()``. ``out_indices`` restricts it to some levels (a features-only
    model's)."""

    def __init__(self, model: nn.Module, out_indices: Sequence[int] | None = None) -> None:
        self._model = model
        self._levels: list[FeatureLevel] | None = None
        self.out_indices = tuple(out_indices) if out_indices is not None else None

    @property
    def levels(self) -> list[FeatureLevel]:
        """Every level of the model (all of them, whatever ``out_indices`` says)."""
        if self._levels is None:
            self._levels = trace_levels(self._model)
        return self._levels

    def selected(self) -> list[FeatureLevel]:
        lv = self.levels
        return [lv[i] for i in self.out_indices] if self.out_indices is not None else list(lv)

    def __len__(self) -> int:
        return len(self.selected())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.get_dicts())

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.get_dicts()[i]

    def get_dicts(self, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        out = []
        for lv in self.selected():
            d = lv.as_dict()
            out.append({k: d[k] for k in keys} if keys is not None else d)
        return out

    def channels(self) -> list[int]:
        return [lv.num_chs for lv in self.selected()]

    def reduction(self) -> list[int]:
        return [lv.reduction for lv in self.selected()]

    def module_name(self) -> list[str]:
        return [lv.module for lv in self.selected()]

    def receptive_field(self) -> list[int]:
        """The receptive field of each level, in input pixels (its height where H and W differ)."""
        return [lv.receptive_field[0] for lv in self.selected()]

    def jump(self) -> list[int]:
        return [lv.jump[0] for lv in self.selected()]

    def __repr__(self) -> str:
        rows = ", ".join(
            f"{lv.point}: {lv.num_chs} ch /{lv.reduction} rf {lv.receptive_field[0]}"
            for lv in self.selected()
        )
        return f"FeatureInfo([{rows}])"

    def __deepcopy__(self, memo: dict[int, Any]) -> FeatureInfo:
        import copy

        new = FeatureInfo(copy.deepcopy(self._model, memo), self.out_indices)
        new._levels = self._levels
        return new


# ------------------------------------------------------------------------------------------------ tracing
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _candidates(model: nn.Module) -> tuple[list[str], dict[str, str]]:
    """The modules whose outputs may be levels (see the module docstring), and for each last child of an
    expanded container, the container's name."""
    names: list[str] = []
    last_child: dict[str, str] = {}
    for name, child in model.named_children():
        if isinstance(child, _CONTAINERS):
            kids = [f"{name}.{n}" for n, _ in child.named_children()]
            names += kids
            if kids and isinstance(child, nn.Sequential):
                last_child[kids[-1]] = name
        else:
            names.append(name)
    return names, last_child


def _parse_point(point: str) -> tuple[str, str, int]:
    """``"module#k:input"`` -> ``("input", "module", k)``; ``"module"`` -> ``("output", "module", 0)``."""
    head, _, where = point.partition(":")
    name, _, call = head.partition("#")
    if where not in ("", "input", "output"):
        raise CnnzooError(f"feature point {point!r} must end in :input or :output, if anything.")
    return where or "output", name, int(call) if call else 0


class _Recorder:
    """Hooks that note each call of the watched ``(where, module)`` points: ``(where, name, call, tensor,
    receptive-field state)``."""

    def __init__(self, model: nn.Module, points: Sequence[tuple[str, str]], state: Any = None) -> None:
        self.points: list[tuple[str, str, int, torch.Tensor, Any]] = []
        self.calls: dict[tuple[str, str], int] = {}
        self.state = state
        self.handles = []
        mods = dict(model.named_modules())
        for where, n in dict.fromkeys(points):
            if n not in mods:
                raise CnnzooError(
                    f"{type(model).__name__} has no module {n!r} (a feature point); fix its list."
                )
            if where == "input":
                h = mods[n].register_forward_pre_hook(
                    lambda m, i, n=n: self._note("input", n, i[0] if i else None)
                )
            else:
                h = mods[n].register_forward_hook(lambda m, i, o, n=n: self._note("output", n, o))
            self.handles.append(h)

    def _note(self, where: str, name: str, t: Any) -> None:
        k = self.calls.get((where, name), 0)
        self.calls[where, name] = k + 1
        if isinstance(t, torch.Tensor):
            self.points.append((where, name, k, t, self.state(t) if self.state is not None else None))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def trace_levels(model: nn.Module) -> list[FeatureLevel]:
    """The feature levels of ``model`` (a cnnzoo model), from one ``forward_features`` pass on the ``meta``
    device at its record's input size under the receptive-field tracer."""
    from .analysis.tracing import _RF, _meta_copy, _Tracer

    if not hasattr(model, "forward_features"):
        raise CnnzooError(
            f"{type(model).__name__} has no forward_features(); build it with cnnzoo.create_model."
        )
    size = tuple(getattr(getattr(model, "cnnzoo_record", None), "input_size", None) or (3, 224, 224))
    work = _meta_copy(model, torch.device("meta"))
    explicit = getattr(model, "feature_points", None)
    last_child: dict[str, str] = {}
    if explicit:
        points = [_parse_point(p) for p in explicit]
        watch = [(w, n) for w, n, _ in points]
    else:
        names, last_child = _candidates(work)
        watch = [("output", n) for n in names]
        points = None
    tracer = _Tracer(tuple(size[1:]), record=False)
    rec = _Recorder(work, watch, tracer.get_state)
    # to name a level by its container, whose output is its last child's
    containers = _Recorder(work, [("output", n) for n in sorted(set(last_child.values()))])
    x = torch.empty((1, *size), device="meta")
    nsp = len(size) - 1
    tracer.set_state(x, _RF((1,) * nsp, (1,) * nsp, (0.0,) * nsp))
    try:
        with torch.no_grad(), tracer:
            out = work.forward_features(x)
    finally:
        rec.remove()
        containers.remove()
    seen = rec.points
    if points is not None:  # a model's own list: exactly those calls, in its order
        by_call = {(w, n, k): (w, n, k, t, s) for w, n, k, t, s in seen}
        missing = [f"{n}#{k}:{w}" for w, n, k in points if (w, n, k) not in by_call]
        if missing:
            raise CnnzooError(
                f"{type(model).__name__}'s feature points {missing} do not run in forward_features."
            )
        seen = [by_call[p] for p in points]
    cands = [(w, n, k, t, s, False) for w, n, k, t, s in seen]
    if points is None and isinstance(out, torch.Tensor):
        cands.append(("output", "", 0, out, tracer.get_state(out), True))
    finals = {id(t): n for _, n, _, t, _ in containers.points}
    same = {id(t): finals.get(id(t), n) for _, n, _, t, _ in seen}  # a container's output is its last child's
    levels: dict[int, FeatureLevel] = {}
    prev = ""
    for where, name, call, t, st, is_final in cands:
        if is_final:  # forward_features' output: named by the module that made it, else by the last one run
            display = same.get(id(t), prev)
        else:
            display, prev = (finals.get(id(t), name) if where == "output" else name), name
        if t.ndim != 2 + nsp or st is None or st.glob or len(set(st.jump)) != 1:
            continue  # not a spatial map (flattened, pooled to a global vector)
        lv = FeatureLevel(
            module=display,
            num_chs=int(t.shape[1]),
            reduction=int(st.jump[0]),
            receptive_field=tuple(int(v) for v in st.rf),
            jump=tuple(int(v) for v in st.jump),
            call=call,
            where=where,
            final=is_final,
        )
        levels.pop(lv.reduction, None)  # the last candidate at a reduction wins
        levels[lv.reduction] = lv
    if not levels:
        raise CnnzooError(f"{type(model).__name__} computes no spatial feature map in forward_features.")
    return sorted(levels.values(), key=lambda lv: lv.reduction)


# ------------------------------------------------------------------------------------------------ backbone
class FeatureExtractor(nn.Module):
    """A model as a backbone (``create_model(..., features_only=True)``): ``forward(x)`` returns the feature
    maps of ``out_indices`` (a list, shallow to deep), ``feature_info`` describes them. The classifier is
    removed (``reset_classifier(0)``); the network is ``self.model``."""

    def __init__(self, model: nn.Module, out_indices: Sequence[int] | None = None) -> None:
        super().__init__()
        info = getattr(model, "feature_info", None)
        if not isinstance(info, FeatureInfo):
            info = FeatureInfo(model)
            model.feature_info = info  # type: ignore[assignment]
        self.out_indices = tuple(resolve_indices(len(info.levels), out_indices))
        reset = getattr(model, "reset_classifier", None)
        if reset is not None:
            reset(0)
        self.model = model
        self.feature_info = FeatureInfo(model, self.out_indices)
        self.feature_info._levels = info.levels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return forward_intermediates(  # type: ignore[return-value]
            self.model, x, self.out_indices, stop_early=True, intermediates_only=True
        )
