"""Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017, Sec. 3).

For a convolutional feature map ``A`` (channels ``k``) and the class score ``y^c`` (the logit):

* ``alpha_k^c = 1/Z sum_ij dy^c / dA^k_ij``  -- the gradients, global-average-pooled (Eq. 1);
* ``L^c = ReLU(sum_k alpha_k^c A^k)``          -- a coarse map at the feature map's resolution (Eq. 2),

then up-sampled to the input (bilinear, as the paper's Fig. 2 does). The default layer is the last
convolutional feature map (see :func:`cnnzoo.explain._common.default_layer`).

Implemented here rather than through captum's ``LayerGradCam`` because captum is a test-only dependency of
cnnzoo and because the hook below clones the layer's output, so a following ``ReLU(inplace=True)`` cannot
overwrite the activations that Eq. 2 needs; the tests check the result equals captum's on the same layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..registries import register_method
from ._common import (
    LayerError,
    Target,
    check_input,
    class_scores,
    default_layer,
    get_layer,
    logits_of,
    model_device,
    resolve_target,
)


def layer_activation_and_gradient(
    model: nn.Module, x: torch.Tensor, layer: str, target: Target = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run ``x`` through ``model``; return ``(A, dS_c/dA, logits, target)`` for the output ``A`` of ``layer``.

    The layer's output is cloned inside the forward hook, so in-place operations after the layer (an in-place
    ReLU, ``out += identity``) act on the copy and ``A`` stays the layer's true output.
    """
    module = get_layer(model, layer)
    store: dict[str, torch.Tensor] = {}

    def hook(_m: nn.Module, _i: object, out: object) -> torch.Tensor:
        if not isinstance(out, torch.Tensor):
            raise LayerError(
                f"layer {layer!r} returns {type(out).__name__}, not a tensor; choose another layer."
            )
        if "a" in store:
            raise LayerError(f"layer {layer!r} runs more than once per forward pass; choose another layer.")
        store["a"] = out
        return out.clone()

    handle = module.register_forward_hook(hook)
    try:
        inp = x.clone().requires_grad_(True)
        logits = logits_of(model(inp * 1))
    finally:
        handle.remove()
    if "a" not in store:
        raise LayerError(f"layer {layer!r} is not used in the model's forward pass; choose another layer.")
    t = resolve_target(target, logits.detach())
    (grad,) = torch.autograd.grad(class_scores(logits, t), store["a"], allow_unused=True)
    if grad is None:
        grad = torch.zeros_like(store["a"])
    return store["a"].detach(), grad.detach(), logits.detach(), t


@register_method("gradcam", help="gradient-weighted class activation map of a layer (Selvaraju et al. 2017)")
def gradcam(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    layer: str | None = None,
    upsample: bool = True,
    relu: bool = True,
) -> torch.Tensor:
    """Grad-CAM map for each image and class: ``(N, H, W)`` at the input size (``upsample=True``) or at the
    layer's resolution. ``relu=False`` keeps the negative evidence (before Eq. 2's ReLU)."""
    x = check_input(x).to(model_device(model))
    layer = layer or default_layer(model, x)
    a, g, _, _ = layer_activation_and_gradient(model, x, layer, target)
    if a.ndim != 4:
        raise LayerError(
            f"layer {layer!r} outputs shape {tuple(a.shape)}, not a feature map (N, C, H, W); Grad-CAM "
            "needs a convolutional layer."
        )
    alpha = g.mean(dim=(2, 3), keepdim=True)
    cam = (alpha * a).sum(dim=1, keepdim=True)
    if relu:
        cam = F.relu(cam)
    if upsample:
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return cam[:, 0]
