"""Guided back-propagation (Springenberg et al., 2015), guided Grad-CAM (Selvaraju et al., 2017) and the
"deconvnet" back-propagation rule (Zeiler & Fergus, 2014, as Springenberg et al. Fig. 1 write it).

The three differ from plain back-propagation only in how a gradient crosses a ReLU ``f = max(x, 0)``
(Springenberg et al., "Striving for Simplicity: The All Convolutional Net", ICLR workshop 2015, Sec. 3.4 and
Fig. 1):

* back-propagation: ``R_in = (x > 0) * R_out``
* deconvnet:        ``R_in = (R_out > 0) * R_out``
* guided:           ``R_in = (x > 0) * (R_out > 0) * R_out``

Overriding a ReLU's backward must catch every way a model can apply one: ``nn.ReLU`` modules, in-place ones,
``F.relu(x)`` and ``torch.relu_`` inside ``forward``, ``x.relu_()``... Module hooks (what captum's
``GuidedBackprop`` and ``Deconvolution`` use) only see ``nn.ReLU`` modules, and in-place ReLUs break their
backward hooks; so cnnzoo does not use captum here. :class:`relu_backward_rule` is a
:class:`torch.overrides.TorchFunctionMode`: while it is active every ReLU call, whatever its spelling, runs
as a custom autograd function with the chosen backward. Residual additions and concatenations need nothing
special. ReLU6 (``nn.ReLU6``, ``F.relu6``, ``F.hardtanh`` clipping at 0; MobileNetV2, EfficientNet-Lite) is a
ReLU clipped at 6 and gets the same rule, its plain gradient ``(0 < x < 6)`` in place of ``(x > 0)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from ..options import ReluRule
from ..registries import register_method
from ._common import Target, check_input, model_device
from .gradcam import gradcam
from .saliency import input_gradient

RULES = ReluRule.values()

_RELU = {F.relu, torch.relu, torch.Tensor.relu}
_RELU_INPLACE = {torch.relu_, F.relu_, torch.Tensor.relu_}
_RELU6 = {F.relu6, F.hardtanh, F.hardtanh_}  # nn.ReLU6 calls F.hardtanh(x, 0, 6)


class _RuleReLU(torch.autograd.Function):
    """ReLU whose backward follows ``rule`` (see the module docstring). Saves a boolean mask, not a tensor
    that later in-place operations could change."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, rule: str, upper: float | None = None) -> torch.Tensor:  # type: ignore[override]
        out = x.clamp(min=0, max=upper)
        ctx.mask = (out > 0) if upper is None else (x > 0) & (x < upper)
        ctx.rule = rule
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        g = grad.clamp(min=0)
        if ctx.rule == "guided":
            g = g * ctx.mask
        return g, None, None


class relu_backward_rule(TorchFunctionMode):  # noqa: N801  (used as a context manager, like torch.no_grad)
    """Within ``with relu_backward_rule("guided"):`` (or ``"deconvnet"``) every ReLU back-propagates by that
    rule.

    In-place ReLUs stay in place (the result is copied back into the input), so code that relies on the side
    effect behaves as before; the forward values are unchanged.
    """

    def __init__(self, rule: str) -> None:
        super().__init__()
        self.rule = ReluRule.parse(rule).value

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in _RELU6:
            return self._relu6(func, args, kwargs)
        inplace = func in _RELU_INPLACE
        if func is F.relu:
            inplace = bool(kwargs.get("inplace", args[1] if len(args) > 1 else False))
        elif func not in _RELU and not inplace:
            return func(*args, **kwargs)
        x = args[0]
        out = _RuleReLU.apply(x, self.rule)
        if inplace:
            return x.copy_(out)
        return out

    def _relu6(self, func: Any, args: tuple, kwargs: dict) -> Any:
        """``F.relu6(x)`` or ``F.hardtanh(x, 0, max_val)``: the rule with the clip at the top; a hardtanh
        whose lower end is not 0 is no ReLU and runs unchanged."""
        names = ("input", "inplace") if func is F.relu6 else ("input", "min_val", "max_val", "inplace")
        bound = dict(zip(names, args)) | kwargs
        lo, hi = (0.0, 6.0) if func is F.relu6 else (bound.get("min_val", -1.0), bound.get("max_val", 1.0))
        if lo != 0.0:
            return func(*args, **kwargs)
        x = bound["input"]
        out = _RuleReLU.apply(x, self.rule, float(hi))
        if func is F.hardtanh_ or bound.get("inplace", False):
            return x.copy_(out)
        return out


def _rule_gradient(model: nn.Module, x: torch.Tensor, target: Target, rule: str) -> torch.Tensor:
    with relu_backward_rule(rule):
        return input_gradient(model, x, target)


@register_method(
    "guided-backprop", help="gradient with ReLUs passing only positive signal (Springenberg et al. 2015)"
)
def guided_backprop(model: nn.Module, x: torch.Tensor, target: Target = None) -> torch.Tensor:
    """Springenberg et al.'s guided back-propagation of the class score ``S_c``: ``(N, C, H, W)``, signed."""
    return _rule_gradient(model, x, target, "guided")


def deconvnet_backprop(model: nn.Module, x: torch.Tensor, target: Target = None) -> torch.Tensor:
    """The class score back-projected with the deconvnet ReLU rule (Springenberg et al., Fig. 1): what
    Zeiler & Fergus' deconvnet gives on any architecture, including residual and concatenating ones.
    :func:`cnnzoo.explain.deconvnet` is the explicit projection of one activation for sequential stacks."""
    return _rule_gradient(model, x, target, "deconvnet")


@register_method("guided-gradcam", help="guided back-propagation times Grad-CAM (Selvaraju et al. 2017)")
def guided_gradcam(
    model: nn.Module, x: torch.Tensor, target: Target = None, layer: str | None = None
) -> torch.Tensor:
    """Guided Grad-CAM (Selvaraju et al., Sec. 3.1): guided back-propagation times the up-sampled Grad-CAM
    map, element-wise, ``(N, C, H, W)``."""
    x = check_input(x).to(model_device(model))
    cam = gradcam(model, x, target, layer=layer)
    return guided_backprop(model, x, target) * cam[:, None]
