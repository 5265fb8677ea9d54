"""One entry point over every method: :func:`explain` returns the map together with what a figure needs
(predicted and explained classes, their scores, the layer used).

The methods are a registry (:data:`cnnzoo.registries.METHODS`): each is a function in its own module,
decorated with ``@register_method(NAME, help=...)``, that takes ``(model, x, target, **options)`` and returns
its attribution; the options it names in its signature (``layer``, ``reduce``, ``n_samples``...) are the ones
:func:`explain` hands it. A method declared with ``explains="channel"`` (the deconvnet) projects one feature
map instead of explaining a class: it takes ``(model, x, layer=, channel=)`` and returns ``(attribution,
channels)``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import CnnzooError
from ..registries import METHODS, accepted
from ._common import Target, check_input, default_layer, logits_of, model_device, resolve_target
from .saliency import reduce_channels


@dataclass
class Explanation:
    """The result of :func:`explain` for a batch of ``N`` images.

    ``attribution`` is the method's own output: ``(N, H, W)`` for saliency, SmoothGrad and Grad-CAM,
    ``(N, C, H, W)`` signed for guided back-propagation, guided Grad-CAM and the deconvnet; for occlusion the
    target class's probability with the grey square centred nearest each pixel ``(N, H, W)`` (Zeiler & Fergus
    Fig. 7d); for class-model the optimised images ``(N, C, H, W)`` in input units (Simonyan et al. Sec. 2;
    ``x`` is where the ascent starts: zeros for the paper's mean image). ``heat`` is a non-negative
    ``(N, H, W)`` map for overlays (the attribution itself, ``max_c |attribution|``, or for occlusion the drop
    in probability the square causes).
    ``probs`` are softmax probabilities; ``target`` is the explained class (for the deconvnet: the feature map
    projected, with ``target_is_channel`` set).
    """

    method: str
    attribution: torch.Tensor
    heat: torch.Tensor
    predicted: torch.Tensor
    probs: torch.Tensor
    logits: torch.Tensor
    target: torch.Tensor
    layer: str | None = None
    target_is_channel: bool = False


def method_options(method: str) -> frozenset[str]:
    """The options ``method`` takes: the keyword parameters of its function beyond ``model``, ``x`` and
    ``target`` (imports the method's module)."""
    params = inspect.signature(METHODS.get(method).obj).parameters
    return frozenset(params) - {"model", "x", "target"}


def _takers(option: str) -> str:
    return ", ".join(n for n in METHODS.names() if option in method_options(n))


def explain(
    model: nn.Module,
    x: torch.Tensor,
    method: str = "saliency",
    target: Target = None,
    layer: str | None = None,
    channel: int | None = None,
    reduce: str = "max",
    n_samples: int = 50,
    noise_level: float = 0.15,
    generator: torch.Generator | None = None,
    window: int | None = None,
    stride: int | None = None,
    fill: float = 0.0,
    steps: int = 200,
    step_size: float = 1.0,
    l2: float = 0.01,
    jitter: int = 0,
    blur: float = 0.0,
) -> Explanation:
    """Explain ``model``'s decision on ``x`` with ``method`` (a name of :data:`cnnzoo.registries.METHODS`:
    ``cnnzoo explain --help`` lists them).

    ``window``, ``stride`` and ``fill`` are occlusion's square (:func:`cnnzoo.explain.occlusion.occlusion`);
    ``steps``, ``step_size``, ``l2``, ``jitter`` and ``blur`` the class model's ascent
    (:func:`cnnzoo.explain.class_model.class_model`), which needs ``target``."""
    entry = METHODS.get(method)
    by_channel = entry.meta.get("explains") == "channel"
    takes = method_options(method)
    if by_channel and target is not None:
        raise CnnzooError(
            f"the {method} method projects one feature map of a layer, not a class; give a channel instead."
        )
    if channel is not None and "channel" not in takes:
        raise CnnzooError(f"a channel is only used by the {_takers('channel')} method; give a class instead.")
    if layer is not None and "layer" not in takes:
        raise CnnzooError(f"method {method!r} takes no layer; a layer is used by {_takers('layer')}.")
    x = check_input(x).to(model_device(model))
    with torch.no_grad():
        logits = logits_of(model(x))
    predicted = logits.argmax(dim=1)
    probs = logits.softmax(dim=1)
    if method == "class-model":
        if target is None:
            raise CnnzooError("a class model is the image of a class; give the class (target) to visualise.")
        cm = entry.obj(  # class_model (registered in .class_model)
            model,
            resolve_target(target, logits),
            start=x,
            steps=steps,
            step_size=step_size,
            l2=l2,
            jitter=jitter,
            blur=blur,
        )
        with torch.no_grad():
            out = logits_of(model(cm.image.to(x.device)))
        img = cm.image.to(x.device)
        return Explanation(
            method, img, reduce_channels(img, reduce), out.argmax(dim=1), out.softmax(dim=1), out, cm.target
        )
    if method == "occlusion":
        occ = entry.obj(model, x, target, window=window, stride=stride, fill=fill)  # .occlusion
        return Explanation(method, occ.pixels, occ.drop, predicted, probs, logits, occ.target)
    if "layer" in takes:
        layer = layer or default_layer(model, x)
    offered = dict(layer=layer, channel=channel, reduce=reduce, generator=generator)
    options = accepted(entry.obj, dict(offered, n_samples=n_samples, noise_level=noise_level))
    if by_channel:
        attr, explained = entry.obj(model, x, **options)
    else:
        explained = resolve_target(target, logits)
        attr = entry.obj(model, x, explained, **options)
    heat = attr if attr.ndim == 3 else reduce_channels(attr, reduce)
    return Explanation(
        method, attr, heat, predicted, probs, logits, explained, layer, target_is_channel=by_channel
    )


def activations(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """The output of ``layer`` for the images ``x`` (its feature maps, ``(N, C, H, W)`` for a convolution)."""
    from ._common import get_layer

    x = check_input(x).to(model_device(model))
    module = get_layer(model, layer)
    store: list[torch.Tensor] = []

    def hook(_m: nn.Module, _i: object, out: object) -> None:
        if isinstance(out, torch.Tensor) and not store:
            store.append(out.detach().clone())

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    if not store:
        raise CnnzooError(f"layer {layer!r} returns no tensor in the forward pass; choose another layer.")
    return store[0]


def conv_filters(model: nn.Module, layer: str | None = None) -> tuple[str, torch.Tensor]:
    """``(name, weight (out, in, kh, kw))`` of convolution ``layer`` (default: the first one, whose filters
    Krizhevsky et al. 2012 show in Fig. 3)."""
    from ._common import get_layer

    if layer is None:
        convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise CnnzooError("the model has no convolution, so it has no filters to show.")
        layer, module = convs[0]
    else:
        module = get_layer(model, layer)
    if not isinstance(module, nn.Conv2d):
        raise CnnzooError(
            f"layer {layer!r} is a {type(module).__name__}, not a convolution; give a Conv2d layer."
        )
    return layer, module.weight.detach()
