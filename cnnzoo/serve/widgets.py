"""The lectures' worked examples as records the Widgets page draws, every number computed by PyTorch.

- :func:`maxpool_record`: max-pooling forward and backward, step by step, on the second deck's example (its
  5x5 activation grid, 3x3 windows, stride 1; the upstream gradients of its slides 24-31) or any grid, window
  and stride. The forward values are ``F.max_pool2d``; the gradient is autograd's (``y.backward(g)``); each
  step is one output's share of it (autograd's gradient of that one output, times its upstream gradient), so
  the running sum after the last step *is* autograd's gradient, checked in the record (``steps_sum_ok``).
- :func:`conv_record`: a convolution playground: input size, kernel, padding, stride, dilation -> the output
  size ``floor((N + 2P - D(K-1) - 1) / S) + 1`` (and whether the size "doesn't fit", the lecture's
  ``(N - F + 2P)/S + 1`` not being whole), one output's arithmetic term by term (checked against
  ``F.conv2d``) and its receptive field on the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import CnnzooError

#: The second lecture deck's worked example (CS109B lecture 11, slides 19-31, "Backward propagation of
#: Maximum Pooling Layer"): the activation of layer L, pooled with 3x3 windows at stride 1 (forward: 9 8 8 /
#: 9 6 6 / 7 7 7), and the derivatives arriving from the rest of the network (backward, slide 24).
DECK_GRID = ((2, 4, 8, 3, 6), (9, 3, 4, 2, 5), (5, 4, 6, 3, 1), (2, 3, 1, 3, 4), (2, 7, 4, 5, 7))
DECK_WINDOW, DECK_STRIDE = 3, 1
DECK_UPSTREAM = ((1, 3, 1), (1, 4, 2), (6, 2, 1))
MAX_SIDE = 16  # largest grid side the page's widgets draw
MAX_CONV_SIDE = 64


def _grid(values: Any, what: str, max_side: int = MAX_SIDE) -> torch.Tensor:
    """A rectangular grid of numbers (rows of equal length) as a float64 ``(H, W)`` tensor."""
    if not isinstance(values, Sequence) or not values or not all(isinstance(r, Sequence) for r in values):
        raise CnnzooError(f"the {what} must be rows of numbers, e.g. [[2, 4], [9, 3]].")
    widths = {len(r) for r in values}
    if len(widths) != 1 or 0 in widths:
        raise CnnzooError(f"every row of the {what} must have the same number of values, at least one.")
    if len(values) > max_side or max(widths) > max_side:
        raise CnnzooError(f"the {what} is larger than {max_side}x{max_side}; type a smaller one.")
    try:
        t = torch.tensor([[float(v) for v in r] for r in values], dtype=torch.float64)
    except (TypeError, ValueError):
        raise CnnzooError(f"the {what} holds something that is not a number; type numbers only.") from None
    if not bool(torch.isfinite(t).all()):
        raise CnnzooError(f"the {what} holds an infinite or NaN value; type finite numbers.")
    return t


def _positive(value: Any, what: str, low: int = 1, high: int = MAX_SIDE) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CnnzooError(f"the {what} must be a whole number from {low} to {high}, got {value!r}.")
    return value


def _plain(t: torch.Tensor) -> list[list[float]]:
    """A 2-D tensor as rows of numbers, whole numbers as ints (so 4.0 reads 4)."""
    return [[int(v) if float(v).is_integer() else round(float(v), 6) for v in row] for row in t.tolist()]


def maxpool_record(
    grid: Any = DECK_GRID, window: int = DECK_WINDOW, stride: int = DECK_STRIDE, upstream: Any = None
) -> dict[str, Any]:
    """Max-pooling of ``grid`` with ``window x window`` windows at ``stride``, forward and backward.

    ``upstream``: the derivative of the loss with respect to each pooled output (default: the deck's for
    its own grid, else all ones). Keys: ``grid``, ``window``, ``stride``, ``output`` (pooled values),
    ``upstream``, ``gradient`` (autograd's gradient with respect to the grid), ``steps`` (one per output in
    reading order: its window ``rows``/``cols``, ``argmax`` [row, col] in the grid, ``value``, ``upstream``
    and the running gradient ``after`` it), ``overlaps`` (grid cells that received more than one
    gradient), ``steps_sum_ok``. Ties go to the first maximum in reading order, as PyTorch picks."""
    x0 = _grid(grid, "grid")
    h, w = x0.shape
    window = _positive(window, "window", 1, MAX_SIDE)
    stride = _positive(stride, "stride", 1, MAX_SIDE)
    if window > h or window > w:
        raise CnnzooError(f"a {window}x{window} window does not fit in a {h}x{w} grid; use a smaller window.")
    oh, ow = (h - window) // stride + 1, (w - window) // stride + 1
    if upstream is None:
        same_as_deck = x0.tolist() == [list(map(float, r)) for r in DECK_GRID]
        g = (
            torch.tensor(DECK_UPSTREAM, dtype=torch.float64)
            if same_as_deck and (window, stride) == (3, 1)
            else None
        )
        g = g if g is not None else torch.ones(oh, ow, dtype=torch.float64)
    else:
        g = _grid(upstream, "upstream gradient")
        if tuple(g.shape) != (oh, ow):
            raise CnnzooError(
                f"the pooled output is {oh}x{ow}, so the upstream gradient must be {oh}x{ow}, not "
                f"{g.shape[0]}x{g.shape[1]}."
            )
    x = x0.clone().requires_grad_(True)
    y = F.max_pool2d(x[None, None], window, stride)[0, 0]
    y.backward(g)
    grad = x.grad.detach()
    # each output's own routing: autograd's gradient of that output alone (one-hot upstream)
    jac = torch.autograd.functional.jacobian(
        lambda t: F.max_pool2d(t[None, None], window, stride).flatten(), x0
    )
    running = torch.zeros_like(x0)
    steps = []
    for k in range(oh * ow):
        i, j = divmod(k, ow)
        route = jac[k]
        where = divmod(int(route.flatten().argmax()), w)
        running = running + g[i, j] * route
        steps.append(
            {
                "out": [i, j],
                "rows": [i * stride, i * stride + window - 1],
                "cols": [j * stride, j * stride + window - 1],
                "argmax": list(where),
                "value": _plain(y[i : i + 1, j : j + 1].detach())[0][0],
                "upstream": _plain(g[i : i + 1, j : j + 1])[0][0],
                "after": _plain(running),
            }
        )
    hits = (jac.reshape(oh * ow, h, w) != 0).sum(0)
    return {
        "grid": _plain(x0),
        "window": window,
        "stride": stride,
        "output": _plain(y.detach()),
        "upstream": _plain(g),
        "gradient": _plain(grad),
        "steps": steps,
        "overlaps": [[int(r), int(c)] for r, c in (hits > 1).nonzero().tolist()],
        "steps_sum_ok": bool(torch.equal(running, grad)),
        "dropped": _dropped(h, w, window, stride),
    }


def _dropped(h: int, w: int, window: int, stride: int) -> str:
    """The lecture's "doesn't fit": rows/columns a window never reaches."""
    rr, rc = (h - window) % stride, (w - window) % stride
    if not rr and not rc:
        return ""
    return (
        f"doesn't fit: ({h} - {window})/{stride} + 1 and ({w} - {window})/{stride} + 1 are not both whole, "
        f"so the last {rr} row(s) and {rc} column(s) are never pooled."
    )


def conv_output_size(n: int, kernel: int, padding: int, stride: int, dilation: int) -> tuple[int, bool]:
    """The output side ``floor((N + 2P - D(K-1) - 1)/S) + 1`` and whether the division is exact ("fits")."""
    span = dilation * (kernel - 1) + 1
    room = n + 2 * padding - span
    return room // stride + 1, room % stride == 0


def conv_record(
    size: int = 7,
    kernel: int = 3,
    padding: int = 0,
    stride: int = 1,
    dilation: int = 1,
    unit: Sequence[int] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """A one-channel convolution of a ``size x size`` input of small whole numbers (drawn with ``seed``) by a
    ``kernel x kernel`` kernel of small whole numbers, computed by ``F.conv2d``; ``unit`` = [row, col] of the
    output whose arithmetic is spelled out (default: the centre one).

    Keys: ``input``, ``weight``, ``padding``, ``stride``, ``dilation``, ``output_size``, ``formula``, ``fits``
    (False: the lecture's "doesn't fit", with ``message``), ``output`` (the map), ``unit``, ``terms`` (input
    [row, col] -- negative or past the edge inside the padding --, input value, weight, product), ``sum`` and
    ``receptive_field`` (the input rows/cols the unit spans, ``span`` = D(K-1)+1 pixels a side)."""
    size = _positive(size, "input size", 1, MAX_CONV_SIDE)
    kernel = _positive(kernel, "kernel size", 1, 15)
    padding = _positive(padding, "padding", 0, 15)
    stride = _positive(stride, "stride", 1, 15)
    dilation = _positive(dilation, "dilation", 1, 8)
    span = dilation * (kernel - 1) + 1
    out_n, fits = conv_output_size(size, kernel, padding, stride, dilation)
    formula = f"floor(({size} + 2x{padding} - {dilation}x({kernel}-1) - 1) / {stride}) + 1 = {max(out_n, 0)}"
    if size + 2 * padding < span:
        raise CnnzooError(
            f"a {kernel}x{kernel} kernel at dilation {dilation} spans {span} pixels, more than the {size} + "
            f"2x{padding} = {size + 2 * padding} of the padded input; enlarge the input or the padding."
        )
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.randint(0, 10, (size, size), generator=gen).double()
    wgt = torch.randint(-2, 3, (kernel, kernel), generator=gen).double()
    out = F.conv2d(x[None, None], wgt[None, None], padding=padding, stride=stride, dilation=dilation)[0, 0]
    i, j = (out_n // 2, out_n // 2) if unit is None else (int(unit[0]), int(unit[1]))
    if not (0 <= i < out_n and 0 <= j < out_n):
        raise CnnzooError(
            f"the output is {out_n}x{out_n}; pick a unit from [0, 0] to [{out_n - 1}, {out_n - 1}]."
        )
    r0, c0 = i * stride - padding, j * stride - padding
    terms, total = [], 0.0
    for a in range(kernel):
        for b in range(kernel):
            r, c = r0 + a * dilation, c0 + b * dilation
            v = float(x[r, c]) if 0 <= r < size and 0 <= c < size else 0.0
            p = v * float(wgt[a, b])
            total += p
            terms.append(
                {
                    "at": [r, c],
                    "padding": not (0 <= r < size and 0 <= c < size),
                    "x": v,
                    "w": float(wgt[a, b]),
                    "product": p,
                }
            )
    if total != float(out[i, j]):  # pragma: no cover - the arithmetic is F.conv2d's
        raise AssertionError(f"term-by-term sum {total} differs from F.conv2d's {float(out[i, j])}")
    message = (
        ""
        if fits
        else (
            f"doesn't fit: ({size} + 2x{padding} - {span}) / {stride} = "
            f"{(size + 2 * padding - span) / stride:g} is not whole, so the last "
            f"{(size + 2 * padding - span) % stride} row(s) and column(s) of the padded input are never used."
        )
    )
    return {
        "input": _plain(x),
        "weight": _plain(wgt),
        "size": size,
        "kernel": kernel,
        "padding": padding,
        "stride": stride,
        "dilation": dilation,
        "output_size": out_n,
        "formula": formula,
        "fits": fits,
        "message": message,
        "output": _plain(out),
        "unit": [i, j],
        "terms": terms,
        "sum": int(total) if total.is_integer() else total,
        "receptive_field": {"rows": [r0, r0 + span - 1], "cols": [c0, c0 + span - 1], "span": span},
    }
