"""The interface every cnnzoo model offers (timm's, where it fits).

``forward_features(x)`` returns the last feature map (before global pooling / flattening);
``forward_head(x, pre_logits=False)`` turns it into logits (or the pre-logit features);
``get_classifier()`` / ``reset_classifier(num_classes)`` reach and replace the final layer;
``layer_groups()`` names the model's groups in input-to-output order (``stem``, stages..., ``head``).

Layer groups have one record per model, ``layer_group_names``: group name -> the dotted names of the
sub-modules it spans (timm's ``group_matcher()`` idea, as data). :meth:`ZooModel.layer_groups` resolves it on
every call, so a classifier swapped by ``reset_classifier`` (found through ``classifier_attr``, which sits in
the last group) is what freezing (:mod:`cnnzoo.transfer.freeze`) and per-group learning rates see next.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn


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


class ZooModel(nn.Module):
    """Base class of cnnzoo's models.

    Subclasses set ``classifier_attr`` (dotted path of the final layer) and ``layer_group_names`` (group
    name -> dotted sub-module names, input to output; the classifier's group last; a class attribute, or set
    in ``__init__`` when it depends on the configuration) and implement ``forward_features`` and
    ``forward_head``.
    """

    classifier_attr: str = "fc"
    layer_group_names: Mapping[str, Sequence[str]] = {}

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
