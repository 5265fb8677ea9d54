"""Class model visualisation (Simonyan, Vedaldi & Zisserman, "Deep Inside Convolutional Networks: Visualising
Image Classification Models and Saliency Maps", ICLR workshop 2014, Sec. 2; the saliency map of their Sec. 3
is :mod:`cnnzoo.explain.saliency`).

The image that the network finds most typical of class ``c`` is an L2-regularised maximiser of the class
score, ``argmax_I S_c(I) - lambda * ||I||_2^2``, found by gradient ascent on the input with the weights
fixed. As the paper prescribes:

- ``S_c`` is the **unnormalised** score (the logit), not the softmax probability, which can also be raised by
  lowering the other classes;
- the ascent starts from the **zero image**, which for a network trained on zero-centred inputs is the mean
  image -- in cnnzoo's input units (``(x - mean) / std``) zero is the training mean, so "adding the training
  set mean image to the result" is the conversion back to pixels, ``I * std + mean``;
- plain gradient ascent, ``I <- I + step_size * (dS_c/dI - 2 * lambda * I)``.

Simonyan et al. give neither ``lambda`` nor the step size. cnnzoo's defaults (``l2=0.01``, ``step_size=1``,
200 steps) are ours, chosen so the ascent is monotone at first on LeNet-5, ResNet-20 and EfficientNet-Lite0
and bounded: from ``I_0 = 0`` with ``2 * lambda * step_size <= 1``, every iterate satisfies
``||I_t|| <= max_s ||dS_c/dI(I_s)|| / (2 * lambda)`` (each step is a convex combination of the previous image
and ``g / (2 lambda)``), the bound ``tests/test_class_model.py`` checks. Without the L2 term (``l2=0``) the
score and the image grow without limit.

Later work made the images more natural with image priors; two are offered, off by default: ``jitter``
(random shifts of up to that many pixels before each step, Mordvintsev et al. 2015, "Inceptionism") and
``blur`` (a Gaussian blur of that sigma every ``blur_every`` steps, Yosinski et al. 2015, "Understanding
Neural Networks Through Deep Visualization"). With them the ascent is no longer plain gradient ascent and the
bound above does not hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CnnzooError, OptionError
from ..registries import register_method
from ._common import check_input, logits_of, model_device, resolve_target

STEPS, STEP_SIZE, L2 = 200, 1.0, 0.01


@dataclass
class ClassModel:
    """The result of :func:`class_model` for ``N`` classes: ``image`` ``(N, C, H, W)`` in the model's input
    units (add the mean: :func:`to_pixels`), and per step (row 0: the start) the class score ``scores``,
    the objective ``S_c - lambda ||I||^2`` and the image norm ``norms``, ``(steps + 1, N)``; ``grad_norms``
    ``(steps, N)`` the norm of ``dS_c/dI`` at each step."""

    image: torch.Tensor
    target: torch.Tensor
    scores: torch.Tensor
    objective: torch.Tensor
    norms: torch.Tensor
    grad_norms: torch.Tensor
    probs: torch.Tensor
    settings: dict[str, Any] = field(default_factory=dict)


def to_pixels(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """A class model ``(..., C, H, W)`` in input units as pixels: ``I * std + mean`` (Simonyan et al. add the
    training mean), then stretched into [0, 1] around the mean colour by its largest deviation, as their
    figures show it (the optimum's contrast is arbitrary: it scales with 1 / lambda)."""
    c = image.shape[-3]
    m = torch.tensor(list(mean) * (c if len(mean) == 1 else 1), dtype=image.dtype).view(-1, 1, 1)
    s = torch.tensor(list(std) * (c if len(std) == 1 else 1), dtype=image.dtype).view(-1, 1, 1)
    dev = image * s
    scale = dev.abs().amax(dim=(-3, -2, -1), keepdim=True).clamp(min=1e-12)
    room = torch.minimum(m, 1 - m).amin().clamp(min=0.05)
    return (m + dev / scale * room).clamp(0, 1)


def _gauss(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, int(3 * sigma + 0.5))
    k = torch.exp(-(torch.arange(-r, r + 1, dtype=x.dtype, device=x.device) ** 2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(
        F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c
    )


@register_method(
    "class-model",
    help="the image that maximises a class score; takes no images (Simonyan et al. 2014, Sec. 2)",
)
def class_model(
    model: nn.Module,
    target: int | Sequence[int] | torch.Tensor,
    input_size: Sequence[int] | None = None,
    steps: int = STEPS,
    step_size: float = STEP_SIZE,
    l2: float = L2,
    jitter: int = 0,
    blur: float = 0.0,
    blur_every: int = 4,
    start: torch.Tensor | None = None,
    seed: int = 0,
) -> ClassModel:
    """Simonyan et al.'s class model of each class in ``target`` (see the module docstring).

    Args:
        model: a classifier in eval mode (it is put in eval mode; its weights get no gradient).
        target: class index, or several (one image each).
        input_size: ``(C, H, W)``; default: the model's ``cnnzoo_record``.
        steps, step_size, l2: the gradient ascent and ``lambda``.
        jitter, blur, blur_every: the optional image priors (0: off).
        start: the starting images ``(N, C, H, W)`` in input units (default: zero, the mean image).
        seed: the jitter's random shifts.
    """
    if not isinstance(steps, int) or steps < 1:
        raise OptionError(f"steps must be a positive whole number, got {steps!r}.", "steps")
    if not step_size > 0:
        raise OptionError(f"step_size must be positive, got {step_size!r}.", "step_size")
    if not l2 >= 0:
        raise OptionError(f"l2 (lambda) must be zero or positive, got {l2!r}.", "l2")
    if not isinstance(jitter, int) or jitter < 0:
        raise OptionError(f"jitter must be a whole number of pixels >= 0, got {jitter!r}.", "jitter")
    if not blur >= 0 or not isinstance(blur_every, int) or blur_every < 1:
        raise OptionError(
            f"blur must be >= 0 and blur_every >= 1, got {blur!r} and {blur_every!r}.", "blur", "blur_every"
        )
    model.eval()
    dev = model_device(model)
    t = torch.as_tensor(target, dtype=torch.long).flatten()
    if t.numel() == 0:
        raise CnnzooError("give at least one class to visualise.")
    if start is not None:
        x = check_input(start).to(dev)
        if x.shape[0] != t.numel():
            raise CnnzooError(
                f"got {x.shape[0]} starting images for {t.numel()} classes; give one per class."
            )
    else:
        if input_size is None:
            rec = getattr(model, "cnnzoo_record", None)
            if rec is None:
                raise CnnzooError("the model records no input size; pass input_size=(C, H, W).")
            input_size = rec.input_size
        x = torch.zeros((t.numel(), *[int(v) for v in input_size]), device=dev)
    with torch.no_grad():
        t = resolve_target(t, logits_of(model(x)))
    g = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    scores, objective, norms, grad_norms = [], [], [], []
    for step in range(steps + 1):
        dy = dx = 0
        if jitter and step < steps:
            dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=g))
        inp = torch.roll(x, (dy, dx), dims=(2, 3)).requires_grad_(True)
        with torch.enable_grad():
            logits = logits_of(model(inp * 1))
            s = logits.gather(1, t[:, None].to(logits.device))[:, 0]
            (grad,) = torch.autograd.grad(s.sum(), inp)
        grad = torch.roll(grad, (-dy, -dx), dims=(2, 3))
        norm2 = x.flatten(1).pow(2).sum(dim=1)
        scores.append(s.detach().float().cpu())
        objective.append((s.detach() - l2 * norm2).float().cpu())
        norms.append(norm2.sqrt().float().cpu())
        if step == steps:
            probs = logits.detach().softmax(dim=1).gather(1, t[:, None].to(logits.device))[:, 0].float().cpu()
            break
        grad_norms.append(grad.flatten(1).norm(dim=1).float().cpu())
        x = (x + step_size * (grad - 2 * l2 * x)).detach()
        if blur and (step + 1) % blur_every == 0:
            x = _gauss(x, blur)
    settings = {
        "steps": steps,
        "step_size": step_size,
        "l2": l2,
        "jitter": jitter,
        "blur": blur,
        "blur_every": blur_every,
        "start": "given" if start is not None else "zero (the mean image)",
    }
    return ClassModel(
        x.detach().cpu(),
        t.cpu(),
        torch.stack(scores),
        torch.stack(objective),
        torch.stack(norms),
        torch.stack(grad_norms) if grad_norms else torch.empty(0, n),
        probs,
        settings,
    )


def class_model_figure(
    result: ClassModel,
    mean: Sequence[float],
    std: Sequence[float],
    out: Any,
    class_name: Any = str,
    title: str = "",
) -> Any:
    """One column per class: the class model as pixels (:func:`to_pixels`) titled with the class, its score
    and probability, and under it the score and the objective over the steps."""
    from matplotlib.figure import Figure

    from .visualize import _save, _show

    n = result.image.shape[0]
    fig = Figure(figsize=(2.7 * n + 0.3, 5.4), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False, height_ratios=(2.2, 1))
    pix = to_pixels(result.image, mean, std)
    for i in range(n):
        t = int(result.target[i])
        _show(axes[0, i], pix[i])
        axes[0, i].set_title(
            f"{class_name(t)}\nscore {float(result.scores[-1, i]):.2f}, p={float(result.probs[i]):.3f}",
            fontsize=8,
        )
        ax = axes[1, i]
        ax.plot(result.scores[:, i].numpy(), label="score $S_c$")
        ax.plot(result.objective[:, i].numpy(), label="$S_c - \\lambda\\|I\\|^2$")
        ax.set_xlabel("step", fontsize=7)
        ax.tick_params(labelsize=6)
        if i == 0:
            ax.legend(fontsize=6)
    s = result.settings
    fig.suptitle(
        (title + "\n" if title else "")
        + f"class models (Simonyan et al. 2014, Sec. 2): {s['steps']} steps of {s['step_size']:g}, "
        f"lambda {s['l2']:g}, from the mean image"
        + (f", jitter {s['jitter']}" if s["jitter"] else "")
        + (f", blur {s['blur']:g}" if s["blur"] else ""),
        fontsize=8,
    )
    return _save(fig, out)


def class_model_file(
    ref: str,
    classes: Sequence[int],
    out: Any,
    steps: int = STEPS,
    step_size: float = STEP_SIZE,
    l2: float = L2,
    jitter: int = 0,
    blur: float = 0.0,
) -> Any:
    """``cnnzoo explain CHECKPOINT --method class-model --class ...``: the class models of ``classes`` of a
    checkpoint (or ``NAME@WEIGHTS``) drawn into ``out``."""
    from ..factory import model_from_checkpoint
    from ..outputs import FIGURE_SUFFIXES, check_output_file
    from .visualize import class_label

    check_output_file(out, "figure", FIGURE_SUFFIXES)  # before the ascent, not after
    model = model_from_checkpoint(ref)
    rec = model.cnnzoo_record
    res = class_model(
        model,
        list(classes),
        tuple(int(v) for v in rec.input_size),
        steps=steps,
        step_size=step_size,
        l2=l2,
        jitter=jitter,
        blur=blur,
    )
    return class_model_figure(res, rec.mean, rec.std, out, class_label(rec), f"{rec.name} ({ref})")
