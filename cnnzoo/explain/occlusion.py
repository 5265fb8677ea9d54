"""Occlusion sensitivity (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014,
Sec. 4.2 and Fig. 7).

Zeiler & Fergus ask whether a network finds the object or only its context by "systematically occluding
different portions of the input image with a grey square, and monitoring the output of the classifier":
Fig. 7(d) is "a map of correct class probability, as a function of the position of the grey square" -- low
where the square hides what the decision rests on.

Here the square is ``window`` pixels wide, moved by ``stride`` pixels over every position where it fits
inside the image (the last row and column of positions always touch the far border, so every pixel is
covered), and filled with ``fill`` in the model's *input* units: the default 0 is the training data's mean
colour after normalisation, the "grey" of Zeiler & Fergus (their inputs were mean-subtracted). The map is the
softmax probability of the target class (by default, the class predicted on the whole image); occluded copies
run in batches. :func:`occlusion` returns the map per position and the same map spread over the pixels (each
pixel takes the value of the nearest square centre), which :func:`cnnzoo.explain.explain` shows; its
``heat`` is the drop ``max(p(image) - p(occluded), 0)``, what the overlay marks.

captum's ``Occlusion`` attributes the change of an output to the occluded pixels; this is the figure of the
paper itself, the probability map, with the window and stride as parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import CnnzooError, OptionError
from ..registries import register_method
from ._common import Target, check_input, logits_of, model_device, resolve_target


@dataclass
class OcclusionMap:
    """The result of :func:`occlusion` for ``N`` images: ``grid`` ``(N, rows, cols)`` the target class's
    probability with the square at each position (top-left corners ``tops`` x ``lefts``), ``pixels``
    ``(N, H, W)`` the same values spread over the image (nearest square centre), ``clean`` ``(N,)`` the
    probability on the unoccluded image, ``target`` ``(N,)`` the class, and the settings used."""

    grid: torch.Tensor
    pixels: torch.Tensor
    clean: torch.Tensor
    target: torch.Tensor
    tops: list[int]
    lefts: list[int]
    window: tuple[int, int]
    stride: tuple[int, int]

    @property
    def drop(self) -> torch.Tensor:
        """``(N, H, W)``: how much the square centred nearest each pixel lowers the probability (>= 0)."""
        return (self.clean[:, None, None] - self.pixels).clamp(min=0)


def _pair(v: int | Sequence[int], name: str) -> tuple[int, int]:
    t = (int(v), int(v)) if isinstance(v, int) else tuple(int(a) for a in v)
    if len(t) != 2 or min(t) < 1:
        raise OptionError(f"{name} must be a positive whole number (or two: height, width), got {v!r}.", name)
    return t  # type: ignore[return-value]


def default_window(size: tuple[int, int]) -> tuple[int, int]:
    """The default square: a seventh of the shorter side, rounded up (32 pixels at 224, 5 at 32)."""
    s = math.ceil(min(size) / 7)
    return s, s


def _positions(n: int, w: int, s: int) -> list[int]:
    pos = list(range(0, n - w + 1, s))
    if pos[-1] != n - w:
        pos.append(n - w)  # the far border is always covered
    return pos


@register_method(
    "occlusion",
    help="the class probability as a grey square slides over the image (Zeiler & Fergus 2014, Fig. 7)",
)
def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    window: int | Sequence[int] | None = None,
    stride: int | Sequence[int] | None = None,
    fill: float | Sequence[float] = 0.0,
    batch_size: int = 64,
) -> OcclusionMap:
    """Zeiler & Fergus' occlusion map of ``model`` on ``x`` ``(N, C, H, W)`` (normalised inputs).

    Args:
        target: the class whose probability is mapped (one, or one per image; default: the predicted one).
        window: the square's side in pixels (default :func:`default_window`); two values for a rectangle.
        stride: how far the square moves (default: half the window, rounded up).
        fill: the square's value in input units, one or one per channel (default 0: the mean colour).
        batch_size: occluded copies per forward pass.
    """
    x = check_input(x).to(model_device(model))
    n, c, h, w = x.shape
    win = default_window((h, w)) if window is None else _pair(window, "window")
    if win[0] > h or win[1] > w:
        raise OptionError(
            f"the occluding window {win[0]}x{win[1]} is larger than the {h}x{w} image; give a smaller "
            "window.",
            "window",
        )
    st = (math.ceil(win[0] / 2), math.ceil(win[1] / 2)) if stride is None else _pair(stride, "stride")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise CnnzooError(f"batch_size must be a positive whole number, got {batch_size!r}.")
    fills = torch.as_tensor(fill, dtype=x.dtype, device=x.device).flatten()
    if fills.numel() not in (1, c):
        raise OptionError(f"fill needs one value or one per channel ({c}), got {fills.numel()}.", "fill")
    fills = fills.expand(c).view(c, 1, 1)
    with torch.no_grad():
        logits = logits_of(model(x))
    t = resolve_target(target, logits)
    clean = logits.softmax(dim=1).gather(1, t[:, None])[:, 0]
    tops, lefts = _positions(h, win[0], st[0]), _positions(w, win[1], st[1])
    places = [(a, b) for a in tops for b in lefts]
    grid = torch.empty(n, len(places), dtype=torch.float32)
    for i in range(n):
        for s in range(0, len(places), batch_size):
            chunk = places[s : s + batch_size]
            xs = x[i].expand(len(chunk), c, h, w).clone()
            for j, (a, b) in enumerate(chunk):
                xs[j, :, a : a + win[0], b : b + win[1]] = fills
            with torch.no_grad():
                p = logits_of(model(xs)).softmax(dim=1)[:, t[i]]
            grid[i, s : s + len(chunk)] = p.float().cpu()
    grid = grid.view(n, len(tops), len(lefts))
    cy = torch.tensor([a + (win[0] - 1) / 2 for a in tops])
    cx = torch.tensor([b + (win[1] - 1) / 2 for b in lefts])
    iy = (torch.arange(h)[:, None] - cy[None]).abs().argmin(dim=1)
    ix = (torch.arange(w)[:, None] - cx[None]).abs().argmin(dim=1)
    pixels = grid[:, iy][:, :, ix]
    return OcclusionMap(grid, pixels, clean.float().cpu(), t.cpu(), tops, lefts, win, st)
