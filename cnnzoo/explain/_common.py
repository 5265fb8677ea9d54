"""Helpers shared by the explanation methods: running a model, choosing the class to explain, finding layers.

Every method explains the class *score* ``S_c`` -- the logit, before any softmax -- as Simonyan et al. (2014,
Sec. 3) prescribe: the softmax would mix in the other classes' scores.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import CnnzooError

Target = int | Sequence[int] | torch.Tensor | None


class LayerError(CnnzooError):
    """A layer name that the model does not have, or a layer that a method cannot use."""


class TargetError(CnnzooError):
    """A class index that the model does not have."""


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a parameter-free model)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def logits_of(output: object) -> torch.Tensor:
    """The logits in a model's output: the tensor itself, or the first element of a tuple/list/dict (models
    with auxiliary heads, such as GoogLeNet in training mode, return several)."""
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    elif isinstance(output, dict) and output:
        output = output.get("logits", next(iter(output.values())))
    if not isinstance(output, torch.Tensor) or output.ndim != 2:
        raise CnnzooError(
            f"the model returned {type(output).__name__} of shape {getattr(output, 'shape', '?')}, not a "
            "batch of class scores (N, classes); explanation needs a classifier."
        )
    return output


def check_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` as a float batch ``(N, C, H, W)``; a single image ``(C, H, W)`` becomes a batch of one."""
    if not isinstance(x, torch.Tensor):
        raise CnnzooError(f"expected an image tensor, got {type(x).__name__}.")
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4:
        raise CnnzooError(f"expected images of shape (N, C, H, W), got {tuple(x.shape)}.")
    return x.detach().float()


def resolve_target(target: Target, logits: torch.Tensor) -> torch.Tensor:
    """The class index to explain for each image: the predicted class when ``target`` is None, else ``target``
    (one int for all images, or one per image), checked against the number of classes."""
    n, num_classes = logits.shape
    if target is None:
        return logits.argmax(dim=1)
    t = torch.as_tensor(target, dtype=torch.long, device=logits.device).flatten()
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n:
        raise TargetError(f"got {t.numel()} class indices for {n} images; give one, or one per image.")
    bad = [int(v) for v in t if not 0 <= int(v) < num_classes]
    if bad:
        raise TargetError(
            f"class index {bad[0]} is out of range: the model has {num_classes} classes "
            f"(0 to {num_classes - 1})."
        )
    return t.clone()


def class_scores(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over the batch of each image's score for its target class (so one backward gives every image's
    gradient: the images do not interact in eval mode)."""
    return logits.gather(1, target[:, None]).sum()


def _conv_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name`` (as in ``model.named_modules()``), or a :class:`LayerError` that lists
    valid names."""
    modules = dict(model.named_modules())
    if name in modules and name != "":
        return modules[name]
    close = difflib.get_close_matches(name, [n for n in modules if n], n=4, cutoff=0.6)
    convs = _conv_names(model)
    some = close or (convs[:2] + convs[-3:] if len(convs) > 5 else convs) or [n for n in modules if n][-5:]
    raise LayerError(
        f"the model has no layer {name!r}; valid names include {', '.join(dict.fromkeys(some))} "
        "(any name from model.named_modules())."
    )


def _has_conv(m: nn.Module) -> bool:
    return any(isinstance(s, nn.Conv2d) for s in m.modules())


def default_layer(model: nn.Module, x: torch.Tensor) -> str:
    """The last convolutional feature map, which Selvaraju et al. (2017, Sec. 3) use for Grad-CAM.

    It is the module that finishes last in the forward pass among those that contain a convolution and return
    a 4-D map larger than 1x1: ``features`` for AlexNet/VGG (the conv stack's last map), ``layer4`` for
    ResNets. Found by running ``x`` through the model once with forward hooks.
    """
    order: list[tuple[str, tuple[int, ...]]] = []
    handles = []
    for name, m in model.named_modules():
        if name and _has_conv(m):

            def hook(_m: nn.Module, _i: object, out: object, name: str = name) -> None:
                if isinstance(out, torch.Tensor) and out.ndim == 4:
                    order.append((name, tuple(out.shape)))

            handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    if not order:
        raise LayerError("the model has no convolutional layer with a 4-D output; pass layer= explicitly.")
    big = [n for n, s in order if s[2] * s[3] > 1]
    return (big or [n for n, _ in order])[-1]
