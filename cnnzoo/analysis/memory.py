"""The memory check every verb makes before it builds tensors from sizes a user gave.

``erf --input 1x60000x60000`` would ask for 14.4 GB per random input, ``eval --scales 100000`` for 120 GB per
resized image, ``bench --batch 100000`` for a batch no machine holds: torch then fails deep inside its
allocator (a traceback), or the kernel's out-of-memory killer ends the process without a word. Here the
need is worked out first, on the ``meta`` device (:func:`cnnzoo.analysis.profile`: shapes only, no
memory), and compared with the memory this machine has free; what cannot fit is refused in one sentence
naming the need, the limit, and the option to change.

The estimates are **lower bounds** (what the tensors alone need, at the dtype used; no allocator overhead,
no workspace), so a run that is refused could never have fitted, and no run that fits is refused:

- inference: the input and the largest layer output, for the whole batch, plus the weights;
- backward (erf, training): the input and the output of every convolution and linear layer (each is kept
  for the backward pass by the layer after it: BatchNorm, ReLU, pooling, the next convolution), plus the
  weights and their gradients.

Verbs whose start-up time matters (train, transfer, export, bench, eval) count the weights and the inputs
only (``trace=False``): no ``meta`` pass, whose first run costs seconds; ``erf``, which profiles the model
anyway, counts the layers too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import CnnzooError
from ..sizes import InputSizeError

__all__ = ["available_bytes", "check_fits", "forward_bytes", "gigabytes", "image_bytes"]

FLOAT32 = 4


def gigabytes(n: float) -> str:
    """``n`` bytes as people read them: ``14.4 GB``, ``512 MB``."""
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.0f} MB"


def available_bytes(device: torch.device | str | None = None) -> tuple[int, str]:
    """Free memory where the tensors will live, and what that place is called: a CUDA GPU's free memory,
    else the machine's available RAM (``MemAvailable``: free plus reclaimable caches)."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info(dev)
        return int(free), f"GPU {dev}"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "this machine's RAM"
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "this machine's RAM"
    except (ValueError, OSError, AttributeError):  # pragma: no cover - no way to tell: never refuse
        return 1 << 62, "this machine's RAM"


def check_fits(need: int, what: str, fix: str, device: torch.device | str | None = None) -> None:
    """Raise :class:`~cnnzoo.sizes.InputSizeError` when ``need`` bytes exceed the free memory: "``what``
    needs at least N GB of memory, more than the M GB free in this machine's RAM; ``fix``."""
    free, where = available_bytes(device)
    if need > free:
        raise InputSizeError(
            f"{what} needs at least {gigabytes(need)} of memory, more than the {gigabytes(free)} free in "
            f"{where}; {fix}."
        )


def image_bytes(size: Sequence[int], batch: int = 1, dtype_bytes: int = FLOAT32) -> int:
    """Bytes of a batch of ``size`` (C, H, W...) tensors."""
    n = batch * dtype_bytes
    for d in size:
        n *= int(d)
    return n


def forward_bytes(
    model: nn.Module,
    input_size: Sequence[int],
    batch: int = 1,
    *,
    backward: bool = False,
    dtype_bytes: int = FLOAT32,
    name: str | None = None,
    wrapped: bool = False,
    trace: bool = True,
) -> int:
    """A lower bound of the bytes a forward pass (``backward``: and its backward pass) of ``model`` on a
    batch of ``input_size`` needs.

    With ``trace`` (one profile on ``meta``), the layer outputs count too, and an input the model cannot
    take (wrong channels, too small, too large for its classifier) raises the profiler's one sentence
    (``wrapped``: the model is a wrapper holding the user's model as ``.model``, whose layer names the
    sentence uses). Without it, only the weights and the batch of inputs count: no pass at all, for the
    verbs whose start-up must stay quick (the first ``meta`` pass of a process imports ``torch._dynamo``,
    seconds), which catches every size that is absurd rather than merely large."""
    scale = dtype_bytes / FLOAT32
    x = image_bytes(input_size, batch, dtype_bytes)
    if not trace:
        weights = sum(t.numel() * t.element_size() for t in model.parameters())
        return int((2 if backward else 1) * weights + x)
    from .profile import profile

    label = name or getattr(model, "cnnzoo_name", None) or type(model).__name__
    try:
        p = profile(model, tuple(int(v) for v in input_size), batch_size=1, name=label)
    except CnnzooError as e:
        if not wrapped:
            raise
        raise type(e)(str(e).replace("'model.", "'")) from None
    weights = p.param_bytes * scale
    if backward:
        kept = sum(r.activation_bytes for r in p.rows if "Conv" in r.type or r.type == "Linear")
        return int(2 * weights + x + kept * scale * batch)
    largest = max((r.activation_bytes for r in p.rows), default=0)
    return int(weights + x + largest * scale * batch)
