"""Per-layer accounting of any :class:`torch.nn.Module`: output shape, parameters, multiply-accumulates,
activation memory, receptive field and effective stride, following the real graph.

The lectures' tables (CS231n's VGG-16 "memory / params" table; the receptive-field slides of CS109B) are
computed by hand for a plain stack of layers. :func:`profile` computes the same columns for any network by
running it once on the ``meta`` device (no real memory, no arithmetic) under a
:class:`torch.overrides.TorchFunctionMode` that sees every tensor operation, so residual additions,
concatenations (Inception, DenseNet), grouped and depthwise convolutions, dilation, modules called twice and
functional calls (``F.relu``, ``torch.cat``, ``+``, ``F.conv2d``) are all accounted for:

- **rows**: one per leaf-module call (a module without children; a module called twice gives two rows, its
  parameters counted once) and one per tensor operation that runs outside any leaf module (``x + identity``
  in a ResNet block, ``torch.cat`` in an Inception module), in execution order. Pure shape operations (view,
  reshape, flatten, transpose, ...) get no row of their own. ``rows[0]`` is the input.
- **MACs** (multiply-accumulates; FLOPs = 2 x MACs, as in the ResNet paper's "FLOPs (multiply-adds)"):
  convolutions ``C_out * H_out * W_out * (C_in / groups) * k_h * k_w`` per image, linear layers
  ``in * out`` per position, and ``matmul``/``bmm``/``mm``/``addmm``. Nothing else counts (not bias additions,
  BatchNorm, activations or pooling), which is the convention of the papers' tables and of fvcore.
- **activation bytes**: the float32 size of every new tensor an operation produces (in-place operations,
  views and identities produce none), per batch, *including the input* — the "memory" column of the
  lecture's VGG-16 table (CS231n 2017, Lecture 9). Model outputs are counted at 4 bytes per value whatever
  the dtype.
- **receptive field** and **jump** (effective stride) per spatial dimension, by the recurrence
  ``rf_out = rf_in + (k - 1) * d * jump_in``, ``jump_out = jump_in * s`` (Araujo et al., "Computing Receptive
  Fields of Convolutional Neural Networks", Distill 2019). Operations with several inputs (``+``, ``*``,
  ``cat``) take the union of their inputs' fields (the larger branch). Operations that only move channels
  and keep the trailing spatial sizes (channel shuffle's view/transpose/reshape, Zhang et al. 2018) keep the
  field. Operations that mix all positions (flatten, a mean over H and W, global pooling, ``matmul``) make
  the field cover the whole input: ``max(rf_in, input size)``.
- **global context**: where a tensor that already saw the whole image is broadcast back over a feature map
  (the ``x * s`` of a squeeze-and-excitation block, Hu et al. 2018), the receptive field is *defined* as that
  of the convolutional path: the gate is not counted, and the row's note says "global context". Counting it
  would make every later field ``max(rf, input size)`` and change with the input size; this way the figure
  depends on the architecture alone and equals the gradient support of the network with its gates held
  fixed. :attr:`Profile.global_context` lists those rows.
- **doesn't fit**: a convolution or pooling layer where ``(N - F + 2P) / S + 1`` is not whole (CS231n
  Lecture 5: "cannot apply 3x3 filter on 7x7 input with stride 3"); such a layer silently drops the last
  rows/columns (or, with ``ceil_mode``, pads them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from ..errors import CnnzooError, InputTooSmallError
from ..meta import meta_ops
from ..sizes import parse_input_size
from .result import FLOAT32_BYTES, GLOBAL_CONTEXT, LayerRow, Profile
from .tracing import _first_tensor, _LayerError, _meta_copy, _min_square, _run, _TooLarge, _TooSmall
from .units import size_str

__all__ = ["FLOAT32_BYTES", "GLOBAL_CONTEXT", "LayerRow", "Profile", "profile"]

# The work is split as in torchinfo: tracing (.tracing: one forward pass that follows every operation),
# totals (.result: Profile and its rows) and formatting (.render: table, CSV, Markdown).


def _min_square_meta(model: nn.Module, size: tuple[int, ...]) -> int:
    with meta_ops():
        return _min_square(model, size, max(size[1:]))


def _all_meta(model: nn.Module) -> bool:
    """Whether every parameter and buffer of ``model`` is on the meta device (and it has some)."""
    tensors = [*model.parameters(), *model.buffers()]
    return bool(tensors) and all(t.is_meta for t in tensors)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode inside the block; every module's own mode restored after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def profile(
    model: nn.Module,
    input_size: Sequence[int] | str | int = (3, 224, 224),
    batch_size: int = 1,
    device: str | torch.device = "meta",
    name: str | None = None,
) -> Profile:
    """Profile ``model`` on an input of ``input_size`` = (C, H, W) (or ``"CxHxW"``).

    The model is never changed: it is copied (on ``meta``, by creating its parameters there, so VGG-19 or
    NASNet-Large cost no real memory), put in eval mode and run once; a model already wholly on ``meta`` is
    run as it is, in eval mode, and its modules' modes are restored after. An input on which some feature map
    vanishes raises :class:`~cnnzoo.errors.InputTooSmallError` naming the layer and the smallest size.
    """
    size = parse_input_size(input_size, spatial=None)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise CnnzooError(f"batch size must be a positive integer, got {batch_size!r}.")
    dev = torch.device(device)
    label = name or getattr(model, "cnnzoo_name", None) or type(model).__name__
    # a model already on meta (summaries build it there) is run as it is, in eval mode for the pass and its
    # modes restored after: copying NASNet-A Large's 1,800 modules cost more than its forward pass
    in_place = dev.type == "meta" and _all_meta(model)
    try:
        with meta_ops():  # torch's Python meta kernels, without importing torch._dynamo
            work = model if in_place else _meta_copy(model, dev)
            with _eval_mode(work) if in_place else contextlib.nullcontext():
                tracer, out = _run(work, size, batch_size, dev, record=True)
    except _TooSmall as e:
        with meta_ops():
            smallest = _min_square(_meta_copy(model, torch.device("meta")), size, max(size[1:]))
        raise InputTooSmallError(
            f"input {size_str(size)} is too small for {label}: at layer {e.layer!r} {e.why}; the smallest "
            f"square input it accepts is {size[0]}x{smallest}x{smallest}."
        ) from None
    except _TooLarge as e:
        raise CnnzooError(
            f"input {size_str(size)} does not fit {label}: at layer {e.layer!r} {e.why}; use the input "
            f"size the model was built for."
        ) from None
    except _LayerError as e:
        raise CnnzooError(
            f"{label} cannot run on a {size_str(size)} input: at layer {e.layer!r} torch says: {e.why}."
        ) from None
    seen: set[int] = set()
    total = trainable = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
            trainable += p.numel() if p.requires_grad else 0

    def meta_model() -> nn.Module:  # an eval-mode copy on meta, for the smallest-input search, when asked
        with meta_ops():
            return work if dev.type == "meta" and not in_place else _meta_copy(model, torch.device("meta"))

    final = _first_tensor(out)
    st = tracer.get_state(final) if final is not None else None
    rows = tracer.rows
    return Profile(
        model_name=label,
        input_size=size,
        batch_size=batch_size,
        rows=rows,
        total_params=total,
        trainable_params=trainable,
        receptive_field=st.rf if st is not None else None,
        jump=st.jump if st is not None else None,
        unused_params=total - sum(r.params for r in rows),
        unsupported_ops=dict(tracer.unsupported),
        _min_search=lambda: _min_square_meta(meta_model(), size),
    )
