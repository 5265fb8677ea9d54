"""torch's SGD, RMSprop and Adam without the ``torch._dynamo`` import their first use costs.

``torch.optim.Optimizer`` wraps ``add_param_group``, ``zero_grad``, ``state_dict`` and ``load_state_dict`` in
``torch._disable_dynamo``, and each ``step`` in a wrapper that calls ``torch._dynamo.graph_break()``; both
import ``torch._dynamo`` (with ``torch._inductor`` and ``torch.distributed.tensor``: about 0.8 s and 100 MB on
2 cores) the first time they run, only to steer the compiler. A training run that never compiles pays that at
start-up and a little on every step. The classes here are the same optimizers (same state, same checkpoints,
``isinstance`` of torch's class) that call the unwrapped methods while ``torch._dynamo`` has not been
imported, so no compilation can be under way; once it is imported (a ``torch.compile`` anywhere in the
process) they defer to torch's wrapped methods."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

import torch

_BASE = torch.optim.Optimizer


def _unwrapped(name: str) -> Any:
    """``Optimizer.name`` without its ``torch._disable_dynamo`` wrapper (the method where it has none)."""
    method = getattr(_BASE, name)
    return getattr(method, "__wrapped__", method)


_RAW = {name: _unwrapped(name) for name in ("add_param_group", "zero_grad", "state_dict", "load_state_dict")}


def _dynamo_loaded() -> bool:
    return "torch._dynamo" in sys.modules


_RAW_STEPS: dict[type, Callable[..., Any]] = {}


def _raw_step(cls: type) -> Callable[..., Any]:
    """The ``step`` of the torch optimizer class behind ``cls``, without its wrappers (profiling hooks,
    the grad-mode switch with its graph breaks); looked up once per class."""
    raw = _RAW_STEPS.get(cls)
    if raw is None:
        klass = next(
            k for k in cls.__mro__ if k.__module__.startswith("torch.optim") and "step" in k.__dict__
        )
        raw = _RAW_STEPS[cls] = inspect.unwrap(klass.__dict__["step"])
    return raw


class DynamoFree:
    """Mix-in for a ``torch.optim`` optimizer class: see the module docstring."""

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        if _dynamo_loaded() or self.defaults.get("differentiable"):  # type: ignore[attr-defined]
            return super().step(closure)  # type: ignore[misc]
        with torch.no_grad():  # what torch's wrapper does, less the compiler's graph breaks
            return _raw_step(type(self))(self, closure)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if _dynamo_loaded():
            return super().add_param_group(param_group)  # type: ignore[misc]
        return _RAW["add_param_group"](self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        if _dynamo_loaded():
            return super().zero_grad(set_to_none)  # type: ignore[misc]
        return _RAW["zero_grad"](self, set_to_none)

    def state_dict(self) -> dict[str, Any]:
        if _dynamo_loaded():
            return super().state_dict()  # type: ignore[misc]
        return _RAW["state_dict"](self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if _dynamo_loaded():
            return super().load_state_dict(state_dict)  # type: ignore[misc]
        return _RAW["load_state_dict"](self, state_dict)


class SGD(DynamoFree, torch.optim.SGD):
    """``torch.optim.SGD`` without the ``torch._dynamo`` import (module docstring)."""


class RMSprop(DynamoFree, torch.optim.RMSprop):
    """``torch.optim.RMSprop`` without the ``torch._dynamo`` import (module docstring)."""


class Adam(DynamoFree, torch.optim.Adam):
    """``torch.optim.Adam`` without the ``torch._dynamo`` import (module docstring)."""
