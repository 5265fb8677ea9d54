"""The interface every cnnzoo model offers (timm's, where it fits).

``forward_features(x)`` returns the last feature map (before global pooling / flattening);
``forward_head(x, pre_logits=False)`` turns it into logits (or the pre-logit features);
``get_classifier()`` / ``reset_classifier(num_classes)`` reach and replace the final layer;
``layer_groups()`` names the model's groups in input-to-output order (``stem``, stages..., ``head``);
``forward_intermediates(x, indices)`` returns the feature maps of its feature levels (timm's interface), which
``model.feature_info`` describes (:mod:`cnnzoo.backbone`: channels, reduction, receptive field, jump).

Layer groups have one record per model, ``layer_group_names``: group name -> the dotted names of the
sub-modules it spans (timm's ``group_matcher()`` idea, as data). :meth:`ZooModel.layer_groups` resolves it on
every call, so a classifier swapped by ``reset_classifier`` (found through ``classifier_attr``, which sits in
the last group) is what freezing (:mod:`cnnzoo.transfer.freeze`) and per-group learning rates see next.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ..errors import CnnzooError, OptionError


def _new_head_record(reset: Callable[..., None]) -> Callable[..., None]:
    """Wrap a ``reset_classifier`` so that the model's record (``cnnzoo_record``, set by the factory) follows
    the new head: its class names and data no longer describe the fresh classifier."""

    @functools.wraps(reset)
    def wrapper(self: nn.Module, num_classes: int, *args: Any, **kwargs: Any) -> None:
        reset(self, num_classes, *args, **kwargs)
        rec = self.__dict__.get("cnnzoo_record")
        if rec is not None:
            self.__dict__["cnnzoo_record"] = rec.with_new_head(num_classes)

    wrapper.__wrapped_for_record__ = True  # type: ignore[attr-defined]
    return wrapper


# ------------------------------------------------------------------------------------------------ features
class _Stop(Exception):
    """Raised by a hook once every wanted level has been captured (``stop_early``)."""


def resolve_indices(n_levels: int, indices: int | Sequence[int] | None) -> list[int]:
    """Level indices as timm reads them: ``None`` all, an int ``n`` the last ``n``, a sequence as given
    (negative counts from the end)."""
    if indices is None:
        return list(range(n_levels))
    if isinstance(indices, int):
        if not 1 <= indices <= n_levels:
            raise OptionError(f"indices asks for the last {indices} of {n_levels} feature levels.", "indices")
        return list(range(n_levels - indices, n_levels))
    out = []
    for i in indices:
        if not -n_levels <= int(i) < n_levels:
            raise OptionError(
                f"feature level {i} does not exist; this model has {n_levels} (0-{n_levels - 1}).", "indices"
            )
        out.append(int(i) % n_levels)
    if not out:
        raise OptionError("indices is empty; name at least one feature level.", "indices")
    return out


def forward_intermediates(
    model: nn.Module,
    x: torch.Tensor,
    indices: int | Sequence[int] | None = None,
    *,
    stop_early: bool = False,
    intermediates_only: bool = False,
    output_fmt: str = "NCHW",
) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
    """``(forward_features(x), [feature maps at indices])`` of ``model``'s levels (``model.feature_info``, a
    :class:`cnnzoo.backbone.FeatureInfo`) for input ``x``: timm's ``forward_intermediates``, and the method
    of every :class:`ZooModel`. ``indices``: ``None`` for every level, an int ``n`` for the last ``n``, or a
    sequence of level indices. ``intermediates_only`` returns the list alone; with it, ``stop_early`` stops
    the pass once the deepest wanted level is computed."""
    if output_fmt != "NCHW":
        raise OptionError(
            f"output_fmt {output_fmt!r} is not offered; cnnzoo's feature maps are NCHW.", "output_fmt"
        )
    levels = getattr(getattr(model, "feature_info", None), "levels", None)
    if levels is None:
        raise CnnzooError("this model has no feature_info; build it with cnnzoo.create_model.")
    wanted = resolve_indices(len(levels), indices)
    targets: dict[tuple[str, str, int], list[int]] = {}
    for i in wanted:
        lv = levels[i]
        if not lv.final:  # a level named by a container is hooked there: its output is its last child's
            targets.setdefault((lv.where, lv.module, lv.call), []).append(i)
    early = stop_early and intermediates_only and not any(levels[i].final for i in wanted)
    got: dict[int, torch.Tensor] = {}
    calls: dict[tuple[str, str], int] = {}
    mods = dict(model.named_modules())
    handles = []

    def take(where: str, name: str, tensor: Any) -> None:
        k = calls.get((where, name), 0)
        calls[where, name] = k + 1
        for i in targets.get((where, name, k), ()):
            got[i] = tensor.clone()  # a later in-place operation must not change what was captured
        if early and len(got) == len(wanted):
            raise _Stop

    for where, name in {(w, n) for w, n, _ in targets}:
        if where == "input":
            hook = mods[name].register_forward_pre_hook(lambda m, i, n=name: take("input", n, i[0]))
        else:
            hook = mods[name].register_forward_hook(lambda m, i, o, n=name: take("output", n, o))
        handles.append(hook)
    out = None
    try:
        out = model.forward_features(x)  # type: ignore[operator]
    except _Stop:
        pass
    finally:
        for h in handles:
            h.remove()
    for i in wanted:
        if levels[i].final:
            got[i] = out  # type: ignore[assignment]
    missing = [levels[i].module for i in wanted if i not in got]
    if missing:
        raise CnnzooError(
            f"{type(model).__name__} took another path through its layers in this pass, so the feature "
            f"level(s) at {', '.join(missing)} were not computed; call model.eval() (training-mode drop-path "
            "skips them) and retry."
        )
    feats = [got[i] for i in wanted]
    return feats if intermediates_only else (out, feats)  # type: ignore[return-value]


class ZooModel(nn.Module):
    """Base class of cnnzoo's models.

    Subclasses set ``classifier_attr`` (dotted path of the final layer) and ``layer_group_names`` (group
    name -> dotted sub-module names, input to output; the classifier's group last; a class attribute, or set
    in ``__init__`` when it depends on the configuration) and implement ``forward_features`` and
    ``forward_head``.
    """

    classifier_attr: str = "fc"
    layer_group_names: Mapping[str, Sequence[str]] = {}
    #: The points whose tensors are candidate feature levels, in the order they run: ``"module"`` (its
    #: output), ``"module#k"`` (its output at its ``k``-th call, from 0), ``"module#k:input"`` (its input
    #: there); ``None``: found automatically (:mod:`cnnzoo.backbone`). Listed where a peer's levels differ
    #: from the automatic ones (MobileNetV2 stops before its 1x1 head convolution).
    feature_points: Sequence[str] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # every reset_classifier, the base's or a subclass's own, updates the record (cnnzoo.record)
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("reset_classifier")
        if own is not None and not getattr(own, "__wrapped_for_record__", False):
            cls.reset_classifier = _new_head_record(own)  # type: ignore[method-assign]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.get_submodule(self.classifier_attr)

    @_new_head_record
    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final layer by a freshly initialised one with ``num_classes`` outputs (0: identity);
        the model's record (``cnnzoo_record``) then names no classes and no data until they are known."""
        old = self.get_classifier()
        new: nn.Module
        if num_classes == 0:
            new = nn.Identity()
        elif isinstance(old, nn.Linear):
            new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
        elif isinstance(old, nn.Conv2d):
            new = nn.Conv2d(
                old.in_channels,
                num_classes,
                old.kernel_size,
                old.stride,
                old.padding,
                bias=old.bias is not None,
            )
        else:
            raise NotImplementedError(f"{type(self).__name__} must override reset_classifier")
        parent_name, _, attr = self.classifier_attr.rpartition(".")
        parent = self.get_submodule(parent_name) if parent_name else self
        setattr(parent, attr, new.to(next(old.parameters(), torch.empty(0)).device) if num_classes else new)
        self.num_classes = num_classes

    #: ``model.forward_intermediates(x, indices, *, stop_early, intermediates_only, output_fmt)``: timm's
    #: interface, the function :func:`forward_intermediates` bound to this model.
    forward_intermediates = forward_intermediates

    def layer_groups(self) -> OrderedDict[str, nn.Module]:
        """Named layer groups, input to output, each an ``nn.ModuleList`` of the sub-modules that
        ``layer_group_names`` lists; every parameter belongs to exactly one group."""
        if not self.layer_group_names:
            raise NotImplementedError(f"{type(self).__name__} defines no layer groups")
        return group_modules(self, self.layer_group_names)


def group_modules(model: nn.Module, groups: Mapping[str, Sequence[str]]) -> OrderedDict[str, nn.Module]:
    """Named layer groups made of several (dotted) sub-module names each, as an ``nn.ModuleList`` per group.

    A group may span several attributes where the peers' parameter names (kept for checkpoint compatibility)
    are flat (a ResNet's ``stem`` is ``conv1`` and ``bn1``). Absent (``None``) entries are skipped.
    """
    out: OrderedDict[str, nn.Module] = OrderedDict()
    for name, attrs in groups.items():
        mods = [m for m in (_maybe_submodule(model, a) for a in attrs) if m is not None]
        out[name] = nn.ModuleList(mods)
    return out


def _maybe_submodule(model: nn.Module, name: str) -> nn.Module | None:
    try:
        return model.get_submodule(name)
    except AttributeError:
        return None


@dataclass(frozen=True)
class FeatureLevel:
    """One feature level: the ``where`` (``"output"`` or ``"input"``) of ``module`` (a ``named_modules()``
    name) at its ``call``-th call (0 for the first; a module can run more than once), ``num_chs``,
    ``reduction`` (input pixels per step, = the jump), ``receptive_field`` and ``jump`` (per spatial
    dimension, H and W); ``final``: it is what ``forward_features`` returns (taken from its return value;
    ``module`` then names the module that made it)."""

    module: str
    num_chs: int
    reduction: int
    receptive_field: tuple[int, ...]
    jump: tuple[int, ...]
    call: int = 0
    where: str = "output"
    final: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def point(self) -> str:
        """Where the level is read, as ``feature_points`` write it (``"relu"``, ``"pool#2:input"``)."""
        call = f"#{self.call}" if self.call else ""
        return f"{self.module}{call}{':input' if self.where == 'input' else ''}"
