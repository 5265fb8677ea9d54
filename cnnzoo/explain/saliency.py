"""Gradient saliency (Simonyan, Vedaldi & Zisserman, 2014) and SmoothGrad (Smilkov et al., 2017).

Simonyan et al., "Deep Inside Convolutional Networks: Visualising Image Classification Models and Saliency
Maps", ICLR workshop 2014, Sec. 3.1: the saliency of pixel ``(i, j)`` for class ``c`` is ``|w|`` where
``w = dS_c / dI`` is the derivative of the class *score* (the logit, not the softmax) with respect to the
image, found by one back-propagation; for a colour image the map is the maximum of ``|w|`` over the channels.
The lecture also allows the channel mean (``reduce="mean"``).

Smilkov et al., "SmoothGrad: removing noise by adding noise", 2017, Eq. 3: average the sensitivity map over
``n`` copies of the image with Gaussian noise ``N(0, sigma^2)`` added, ``sigma`` = noise level x (max - min)
of the image (they recommend 10-20 %, and n ~ 50). As the authors' code does, the raw gradients are averaged
(their squares with ``magnitude=True``, "SmoothGrad-Squared") and the map is taken from the average.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import CnnzooError
from ..options import Reduce
from ..registries import register_method
from ._common import Target, check_input, class_scores, logits_of, model_device, resolve_target

REDUCTIONS = Reduce.values()


def input_gradient(model: nn.Module, x: torch.Tensor, target: Target = None) -> torch.Tensor:
    """``dS_c / dx`` for each image in ``x`` ``(N, C, H, W)`` and its class ``c`` (default: the predicted
    one).

    Returns a tensor of ``x``'s shape. The model is used as it is (call ``model.eval()`` first); its
    parameters get no gradients.
    """
    x = check_input(x).to(model_device(model))
    # x * 1 is a non-leaf, so a model whose first op is in-place still works
    inp = x.clone().requires_grad_(True)
    logits = logits_of(model(inp * 1))
    t = resolve_target(target, logits.detach())
    (grad,) = torch.autograd.grad(class_scores(logits, t), inp)
    return grad.detach()


def reduce_channels(grad: torch.Tensor, reduce: str = "max", absolute: bool = True) -> torch.Tensor:
    """A per-pixel map ``(N, H, W)`` from a gradient ``(N, C, H, W)``: the max (Simonyan et al.) or mean over
    channels of ``|grad|``."""
    g = grad.abs() if absolute else grad
    return g.amax(dim=1) if Reduce.parse(reduce) is Reduce.MAX else g.mean(dim=1)


@register_method("saliency", help="|dS_c/dx|, the class score's gradient (Simonyan et al. 2014)")
def saliency(model: nn.Module, x: torch.Tensor, target: Target = None, reduce: str = "max") -> torch.Tensor:
    """Simonyan et al.'s image-specific class saliency map, ``(N, H, W)``: ``max_c |dS_c/dI|`` per pixel."""
    return reduce_channels(input_gradient(model, x, target), reduce)


@register_method("smoothgrad", help="saliency averaged over noisy copies (Smilkov et al. 2017)")
def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    n_samples: int = 50,
    noise_level: float = 0.15,
    reduce: str = "max",
    magnitude: bool = False,
    batch_size: int = 16,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """SmoothGrad map ``(N, H, W)``: the saliency of the mean gradient over ``n_samples`` noisy copies of
    ``x``.

    The class explained is the one predicted on the *clean* image unless ``target`` is given. The noise
    ``sigma`` is ``noise_level * (x.max() - x.min())`` per image (Smilkov et al., Sec. 3.2). ``generator``
    fixes the noise for reproducible maps.
    """
    if n_samples < 1:
        raise CnnzooError(f"SmoothGrad needs at least one noisy sample, got n_samples={n_samples}.")
    x = check_input(x).to(model_device(model))
    with torch.no_grad():
        t = resolve_target(target, logits_of(model(x)))
    sigma = noise_level * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
    total = torch.zeros_like(x)
    per_chunk = max(1, batch_size // x.shape[0])
    done = 0
    while done < n_samples:
        k = min(per_chunk, n_samples - done)
        noise = torch.randn((k, *x.shape), generator=generator, device="cpu").to(x.device)
        noisy = (x[None] + noise * sigma[None, :, None, None, None]).flatten(0, 1)
        g = input_gradient(model, noisy, t.repeat(k)).view(k, *x.shape)
        total += (g * g if magnitude else g).sum(dim=0)
        done += k
    return reduce_channels(total / n_samples, reduce)
