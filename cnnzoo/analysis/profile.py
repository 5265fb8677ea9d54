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
  ``cat``) take the union of their inputs' fields (the larger branch). Operations that mix all positions
  (flatten, linear layers on flattened maps, global pooling, ``matmul``) make the field cover the whole input:
  ``max(rf_in, input size)``.
- **doesn't fit**: a convolution or pooling layer where ``(N - F + 2P) / S + 1`` is not whole (CS231n
  Lecture 5: "cannot apply 3x3 filter on 7x7 input with stride 3"); such a layer silently drops the last
  rows/columns (or, with ``ceil_mode``, pads them).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..errors import CnnzooError, InputTooSmallError

__all__ = ["LayerRow", "Profile", "profile", "parse_input_size"]

FLOAT32_BYTES = 4

_CONV = {"conv1d", "conv2d", "conv3d"}
_CONV_T = {"conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}
_MAX_POOL = {
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "max_pool3d_with_indices",
    "_max_pool1d",
    "_max_pool2d",
    "_max_pool3d",
}
_AVG_POOL = {"avg_pool1d", "avg_pool2d", "avg_pool3d"}
_ADAPTIVE = {
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "_adaptive_max_pool1d",
    "_adaptive_max_pool2d",
    "_adaptive_max_pool3d",
    "adaptive_max_pool2d_with_indices",
}
_MATMUL = {"matmul", "mm", "bmm", "__matmul__", "__rmatmul__", "addmm", "baddbmm", "addbmm"}
# Operations that only re-describe memory: no row, no activation bytes.
_SHAPE_OPS = {
    "view",
    "reshape",
    "flatten",
    "unflatten",
    "permute",
    "transpose",
    "t",
    "contiguous",
    "unsqueeze",
    "squeeze",
    "expand",
    "expand_as",
    "view_as",
    "reshape_as",
    "chunk",
    "split",
    "unbind",
    "narrow",
    "select",
    "__getitem__",
    "detach",
    "__get__",
    "movedim",
    "swapaxes",
    "flip",
    "clone",
    "to",
    "float",
    "type",
    "type_as",
    "unsafe_split",
    "tensor_split",
    "split_with_sizes",
    "dim",
    "size",
    "numel",
}


@dataclass
class LayerRow:
    """One leaf operation. ``output_shape`` excludes the batch dimension; ``receptive_field`` and ``jump``
    are ``(h, w)`` (one entry per spatial dimension) or ``None`` where the output has no spatial origin."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int = 0
    trainable_params: int = 0
    frozen_params: int = 0
    macs: int = 0
    activation_bytes: int = 0
    receptive_field: tuple[int, ...] | None = None
    jump: tuple[int, ...] | None = None
    fits: bool = True
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["output_shape"] = list(self.output_shape)
        d["receptive_field"] = _squash(self.receptive_field)
        d["jump"] = _squash(self.jump)
        return d


def _squash(t: tuple[int, ...] | None) -> int | list[int] | None:
    """``(7, 7)`` -> ``7``; ``(7, 3)`` -> ``[7, 3]``; ``None`` stays."""
    if t is None:
        return None
    return t[0] if len(set(t)) == 1 else list(t)


class _RF:
    """Receptive-field state of one tensor, per spatial dimension: size, jump and the centre of the first
    output unit's field in input coordinates (pixel centres at 0, 1, ...)."""

    __slots__ = ("rf", "jump", "start", "glob")

    def __init__(
        self, rf: tuple[int, ...], jump: tuple[int, ...], start: tuple[float, ...], glob: bool = False
    ):
        self.rf, self.jump, self.start, self.glob = rf, jump, start, glob


def _union(states: Sequence[_RF]) -> _RF:
    """The field seen by an output of an element-wise operation (or concatenation) of several inputs."""
    if len(states) == 1:
        return states[0]
    rf, jump, start = [], [], []
    for d in range(len(states[0].rf)):
        lo = min(s.start[d] - (s.rf[d] - 1) / 2 for s in states)
        hi = max(s.start[d] + (s.rf[d] - 1) / 2 for s in states)
        rf.append(int(round(hi - lo + 1)))
        start.append((lo + hi) / 2)
        jump.append(max(s.jump[d] for s in states))
    return _RF(tuple(rf), tuple(jump), tuple(start), any(s.glob for s in states))


def _as_tuple(v: Any, n: int, default: int = 0) -> tuple[int, ...]:
    if v is None:
        return (default,) * n
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(x) for x in v)
    if not v:
        return (default,) * n
    return v * n if len(v) == 1 else v


def _arg(args: tuple, kwargs: dict, i: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[i] if len(args) > i else default


class _TooSmall(Exception):
    """Internal: the input is too small at ``layer`` (``why``)."""

    def __init__(self, layer: str, why: str) -> None:
        super().__init__(f"{layer}: {why}")
        self.layer, self.why = layer, why


class _LayerError(RuntimeError):
    """Internal: torch refused an operation inside ``layer``."""

    def __init__(self, layer: str, why: str) -> None:
        super().__init__(f"{layer}: {why}")
        self.layer, self.why = layer, why


class _TooLarge(Exception):
    def __init__(self, layer: str, why: str) -> None:
        super().__init__(f"{layer}: {why}")
        self.layer, self.why = layer, why


@dataclass
class _Frame:
    module: nn.Module
    name: str
    leaf: bool
    macs: int = 0
    fits: bool = True
    notes: list[str] = field(default_factory=list)
    module_inputs: list[torch.Tensor] = field(default_factory=list)


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            if isinstance(o, torch.Tensor):
                yield o
    elif isinstance(obj, dict):
        for o in obj.values():
            if isinstance(o, torch.Tensor):
                yield o


def _root(t: torch.Tensor) -> torch.Tensor:
    """The tensor that owns ``t``'s memory (``t`` itself unless it is a view)."""
    while t._base is not None:
        t = t._base
    return t


def _first_tensor(obj: Any) -> torch.Tensor | None:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        for o in obj:
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


class _Tracer(TorchFunctionMode):
    """Follows one forward pass: receptive-field state per tensor, MACs per operation, rows."""

    def __init__(self, image: tuple[int, ...], record: bool) -> None:
        super().__init__()
        self.image = image  # spatial size of the input
        self.nsp = len(image)
        self.record = record
        self.state: dict[int, tuple[_RF, torch.Tensor]] = {}
        self.frames: list[_Frame] = []
        self.rows: list[LayerRow] = []
        self.counted: set[int] = set()

    # -- state -----------------------------------------------------------------------------------------
    def set_state(self, t: torch.Tensor, s: _RF) -> None:
        self.state[id(t)] = (s, t)  # keeping ``t`` alive keeps its id unique for the run

    def get_state(self, t: torch.Tensor) -> _RF | None:
        e = self.state.get(id(t))
        return e[0] if e is not None and e[1] is t else None

    def where(self) -> str:
        for f in reversed(self.frames):
            if f.name:
                return f.name
        return ""

    # -- the mode ----------------------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        window = None  # (state, fits, note) of a convolution or pooling, computed before it runs
        if name in _CONV or name in _MAX_POOL or name in _AVG_POOL:
            x0 = args[0] if args else kwargs.get("input")
            s0 = self.get_state(x0) if isinstance(x0, torch.Tensor) else None
            if s0 is not None:
                if name in _CONV:
                    w = args[1] if len(args) > 1 else kwargs["weight"]
                    window = self.conv_state(s0, args, kwargs, tuple(w.shape[2:]), x0)
                else:
                    window = self.pool_state(s0, name, args, kwargs, x0)
        elif name == "linear":
            self.check_linear(args, kwargs)
        try:
            out = func(*args, **kwargs)
        except RuntimeError as e:
            if isinstance(e, _LayerError):
                raise
            raise _LayerError(self.where() or "model", str(e).splitlines()[0].rstrip(".")) from None
        if name == "__get__" or name in ("dim", "size", "numel"):
            return out
        outs = list(_tensors(out))
        if not outs:
            return out
        ins = [t for a in args for t in _tensors(a)] + [t for a in kwargs.values() for t in _tensors(a)]
        in_states = [s for s in (self.get_state(t) for t in ins) if s is not None]
        if not in_states:
            return out
        x = next(t for t in ins if self.get_state(t) is not None)
        fits, note = True, ""
        if window is not None:
            st, fits, note = window
        elif name in _ADAPTIVE:
            st = self.adaptive_state(in_states[0], x, outs[0])
        elif name in _MATMUL:
            st = self.global_state(_union(in_states))
        else:
            st = self.generic_state(_union(in_states), x, outs[0])
        for o in outs:
            self.set_state(o, st)
        macs = self.macs(name, args, kwargs, outs[0])
        leaf = self.frames[-1] if self.frames and self.frames[-1].leaf else None
        if leaf is not None:
            leaf.macs += macs
            if not fits:
                leaf.fits = False
            if note:
                leaf.notes.append(note)
        elif self.record and name not in _SHAPE_OPS:
            params = [t for t in ins if isinstance(t, nn.Parameter)]
            row = self.make_row(f"{self.where() or 'model'}:{name}", name, outs[0], ins, params)
            row.macs, row.fits, row.note = macs, fits, note
            self.rows.append(row)
        return out

    # -- receptive fields --------------------------------------------------------------------------------
    def spatial(self, x: torch.Tensor) -> tuple[int, ...]:
        return tuple(x.shape[-self.nsp :])

    def window(
        self,
        s: _RF,
        layer: str,
        n_in: tuple[int, ...],
        k: tuple[int, ...],
        st: tuple[int, ...],
        p: tuple[int, ...],
        d: tuple[int, ...],
        ceil: bool,
        what: str,
    ) -> tuple[_RF, bool, str]:
        fits = True
        for i in range(self.nsp):
            span = n_in[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1
            if span < 0:
                raise _TooSmall(
                    layer, f"its {k[i]}x{k[i]} {what} does not fit a {n_in[i]}-pixel map padded by {p[i]}"
                )
            if span % st[i]:
                fits = False
        rf = tuple(s.rf[i] + (k[i] - 1) * d[i] * s.jump[i] for i in range(self.nsp))
        jump = tuple(s.jump[i] * st[i] for i in range(self.nsp))
        start = tuple(s.start[i] + ((k[i] - 1) / 2 * d[i] - p[i]) * s.jump[i] for i in range(self.nsp))
        note = ""
        if not fits:
            ks = "x".join(map(str, k))
            ns = "x".join(map(str, n_in))
            note = (
                f"doesn't fit: (N - F + 2P)/S + 1 is not whole for a {ks} {what} at stride "
                f"{'x'.join(map(str, st))} on {ns}" + (" (ceil_mode pads)" if ceil else "")
            )
        return _RF(rf, jump, start, s.glob), fits, note

    def conv_state(
        self, s: _RF, args: tuple, kwargs: dict, k: tuple[int, ...], x: torch.Tensor
    ) -> tuple[_RF, bool, str]:
        n = len(k)
        stride = _as_tuple(_arg(args, kwargs, 3, "stride", 1), n, 1)
        dil = _as_tuple(_arg(args, kwargs, 5, "dilation", 1), n, 1)
        pad = _arg(args, kwargs, 4, "padding", 0)
        if isinstance(pad, str):
            pad = tuple(d * (kk - 1) // 2 for d, kk in zip(dil, k)) if pad == "same" else (0,) * n
        pad = _as_tuple(pad, n)
        return self.window(s, self.where(), self.spatial(x), k, stride, pad, dil, False, "filter")

    def pool_state(
        self, s: _RF, name: str, args: tuple, kwargs: dict, x: torch.Tensor
    ) -> tuple[_RF, bool, str]:
        n = self.nsp
        k = _as_tuple(_arg(args, kwargs, 1, "kernel_size"), n)
        stride = _as_tuple(_arg(args, kwargs, 2, "stride"), n)
        stride = k if not any(stride) else stride  # stride None or [] means "= kernel size"
        pad = _as_tuple(_arg(args, kwargs, 3, "padding", 0), n)
        if name in _MAX_POOL:
            dil = _as_tuple(_arg(args, kwargs, 4, "dilation", 1), n, 1)
            ceil = bool(_arg(args, kwargs, 5, "ceil_mode", False))
        else:
            dil, ceil = (1,) * n, bool(_arg(args, kwargs, 4, "ceil_mode", False))
        return self.window(s, self.where(), self.spatial(x), k, stride, pad, dil, ceil, "pooling window")

    def global_state(self, s: _RF) -> _RF:
        rf = tuple(max(s.rf[i], self.image[i]) for i in range(self.nsp))
        start = tuple((self.image[i] - 1) / 2 for i in range(self.nsp))
        return _RF(rf, s.jump, start, True)

    def adaptive_state(self, s: _RF, x: torch.Tensor, out: torch.Tensor) -> _RF:
        n_in, n_out = self.spatial(x), self.spatial(out)
        if all(o == 1 for o in n_out):
            return self.global_state(s)
        k = tuple(math.ceil(i / o) for i, o in zip(n_in, n_out))
        st = tuple(max(1, i // o) for i, o in zip(n_in, n_out))
        r, _, _ = self.window(s, self.where(), n_in, k, st, (0,) * self.nsp, (1,) * self.nsp, False, "window")
        return r

    def generic_state(self, s: _RF, x: torch.Tensor, out: torch.Tensor) -> _RF:
        if s.glob or out.ndim < x.ndim or out.ndim < self.nsp + 2:
            return self.global_state(s) if not s.glob else s
        n_in, n_out = self.spatial(x), self.spatial(out)
        if n_in == n_out:
            return s
        if all(o == 1 for o in n_out):
            return self.global_state(s)
        # resampling (interpolate): the field is unchanged, the jump scales
        jump = tuple(max(1, round(j * i / o)) for j, i, o in zip(s.jump, n_in, n_out))
        return _RF(s.rf, jump, s.start, s.glob)

    # -- sizes, MACs and rows ----------------------------------------------------------------------------
    def check_linear(self, args: tuple, kwargs: dict) -> None:
        """A linear layer after a flatten fixes the input size: fewer features than it expects mean the
        input was too small, more mean too large."""
        x = args[0] if args else kwargs["input"]
        w = args[1] if len(args) > 1 else kwargs["weight"]
        if x.shape[-1] != w.shape[1]:
            layer = self.where() or "model"
            why = f"it expects {w.shape[1]} input features but gets {x.shape[-1]}"
            raise (_TooSmall if x.shape[-1] < w.shape[1] else _TooLarge)(layer, why)

    def macs(self, name: str, args: tuple, kwargs: dict, out: torch.Tensor) -> int:
        if name in _CONV:
            w = args[1] if len(args) > 1 else kwargs["weight"]
            return out.numel() * w.shape[1] * math.prod(w.shape[2:])
        if name in _CONV_T:
            x = args[0] if args else kwargs["input"]
            w = args[1] if len(args) > 1 else kwargs["weight"]
            return x.numel() * w.shape[1] * math.prod(w.shape[2:])
        if name == "linear":
            w = args[1] if len(args) > 1 else kwargs["weight"]
            return out.numel() * w.shape[1]
        if name in _MATMUL:
            a = args[1] if name in ("addmm", "baddbmm", "addbmm") else args[0]
            k = a.shape[-1]
            if name == "addbmm":
                k *= a.shape[0]
            return out.numel() * k
        return 0

    def make_row(
        self,
        name: str,
        typ: str,
        out: torch.Tensor,
        ins: Sequence[torch.Tensor],
        params: Sequence[torch.Tensor],
    ) -> LayerRow:
        total = trainable = 0
        for p in params:
            if id(p) not in self.counted:
                self.counted.add(id(p))
                total += p.numel()
                trainable += p.numel() if p.requires_grad else 0
        roots = {id(_root(t)) for t in ins}
        new = id(_root(out)) not in roots
        st = self.get_state(out)
        return LayerRow(
            name=name,
            type=typ,
            output_shape=tuple(out.shape[1:]),
            params=total,
            trainable_params=trainable,
            frozen_params=total - trainable,
            activation_bytes=out.numel() * FLOAT32_BYTES if new else 0,
            receptive_field=st.rf if st is not None else None,
            jump=st.jump if st is not None and not st.glob else None,
        )

    # -- module hooks ------------------------------------------------------------------------------------
    def pre_hook(self, name: str, leaf: bool):  # noqa: ANN201
        def hook(module: nn.Module, inputs: Any) -> None:
            self.frames.append(
                _Frame(module, name, leaf, module_inputs=list(_tensors(inputs)) if leaf else [])
            )

        return hook

    def post_hook(self, module: nn.Module, inputs: Any, output: Any) -> None:
        f = self.frames.pop()
        if not f.leaf or not self.record:
            return
        out = _first_tensor(output)
        if out is None:
            return
        ins = f.module_inputs
        if self.get_state(out) is None:  # a leaf that ran no traced operation (e.g. returns a new constant)
            in_states = [s for s in (self.get_state(t) for t in ins) if s is not None]
            if in_states:
                self.set_state(out, _union(in_states))
        row = self.make_row(f.name, type(module).__name__, out, ins, list(module.parameters()))
        row.macs, row.fits, row.note = f.macs, f.fits, "; ".join(dict.fromkeys(f.notes))
        self.rows.append(row)


def _meta_copy(model: nn.Module, device: torch.device) -> nn.Module:
    """A copy of ``model`` whose parameters and buffers live on ``device``; on ``meta`` no real memory is
    allocated (the copy's tensors are created there directly, never copied)."""
    memo: dict[int, Any] = {}
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) in memo:
            continue
        if device.type == "meta":
            new = torch.empty_like(t, device="meta")
        else:
            new = t.detach().to(device)
        memo[id(t)] = nn.Parameter(new, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else new
    m = copy.deepcopy(model, memo)
    return m.eval()


def _run(
    model: nn.Module, input_size: tuple[int, ...], batch_size: int, device: torch.device, record: bool
) -> tuple[_Tracer, Any]:
    tracer = _Tracer(tuple(input_size[1:]), record)
    handles = []
    for name, mod in model.named_modules():
        leaf = next(iter(mod.children()), None) is None
        handles.append(mod.register_forward_pre_hook(tracer.pre_hook(name, leaf)))
        handles.append(mod.register_forward_hook(tracer.post_hook))
    if device.type == "meta":
        x = torch.empty((batch_size, *input_size), device=device)
    else:
        x = torch.randn((batch_size, *input_size), generator=torch.Generator().manual_seed(0)).to(device)
    nsp = len(input_size) - 1
    tracer.set_state(x, _RF((1,) * nsp, (1,) * nsp, (0.0,) * nsp))
    if record:
        tracer.rows.append(
            LayerRow(
                "input",
                "Input",
                tuple(input_size),
                activation_bytes=x.numel() * FLOAT32_BYTES,
                receptive_field=(1,) * nsp,
                jump=(1,) * nsp,
            )
        )
    try:
        with torch.no_grad(), tracer:
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    return tracer, out


def _size_str(input_size: Sequence[int]) -> str:
    return "x".join(str(s) for s in input_size)


@dataclass
class Profile:
    """The per-layer table and totals of one model at one input size (see the module docstring for the
    conventions). MACs and activation bytes are for the whole batch (``batch_size``, default 1: per image)."""

    model_name: str
    input_size: tuple[int, ...]
    batch_size: int
    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    receptive_field: tuple[int, ...] | None
    jump: tuple[int, ...] | None
    unused_params: int = 0
    _model: nn.Module | None = field(default=None, repr=False)
    _min_input: int | None = field(default=None, repr=False)

    @property
    def frozen_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def total_flops(self) -> int:
        """FLOPs = 2 x MACs (one multiply and one add)."""
        return 2 * self.total_macs

    @property
    def activation_bytes(self) -> int:
        """Bytes of all kept outputs at float32, the input included (the lecture's "memory" column x 4)."""
        return sum(r.activation_bytes for r in self.rows)

    @property
    def activation_values(self) -> int:
        return self.activation_bytes // FLOAT32_BYTES

    @property
    def param_bytes(self) -> int:
        return self.total_params * FLOAT32_BYTES

    @property
    def training_bytes_estimate(self) -> int:
        """A rough training footprint at float32 with SGD + momentum: weights, gradients and momentum
        (3 x params) plus the forward activations kept for the backward pass and their gradients (2 x, the
        lecture's "~x2 for bwd")."""
        return 3 * self.param_bytes + 2 * self.activation_bytes

    @property
    def doesnt_fit(self) -> list[LayerRow]:
        """Rows where ``(N - F + 2P) / S + 1`` is not whole."""
        return [r for r in self.rows if not r.fits]

    @property
    def min_input_size(self) -> int:
        """The smallest square input (H = W) on which the model runs (searched on ``meta``)."""
        if self._min_input is None:
            self._min_input = _min_square(self._model, self.input_size, max(self.input_size[1:]))
        return self._min_input

    # -- output formats ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "input": list(self.input_size),
            "batch_size": self.batch_size,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "frozen_params": self.frozen_params,
            "unused_params": self.unused_params,
            "total_macs": self.total_macs,
            "total_flops": self.total_flops,
            "activation_bytes": self.activation_bytes,
            "param_bytes": self.param_bytes,
            "training_bytes_estimate": self.training_bytes_estimate,
            "receptive_field": _squash(self.receptive_field),
            "jump": _squash(self.jump),
            "min_input_size": self.min_input_size,
            "doesnt_fit": [r.name for r in self.doesnt_fit],
            "layers": [r.as_dict() for r in self.rows],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    _COLUMNS = (
        "name",
        "type",
        "output_shape",
        "params",
        "macs",
        "activation_bytes",
        "receptive_field",
        "jump",
        "note",
    )

    def _cells(self, r: LayerRow) -> list[str]:
        rf = _squash(r.receptive_field)
        jump = _squash(r.jump)
        return [
            r.name,
            r.type,
            "x".join(map(str, r.output_shape)),
            f"{r.params:,}",
            f"{r.macs:,}",
            f"{r.activation_bytes:,}",
            "-" if rf is None else str(rf).replace(" ", ""),
            "-" if jump is None else str(jump).replace(" ", ""),
            r.note,
        ]

    def _footer(self) -> list[str]:
        return [
            "total",
            "",
            "",
            f"{self.total_params:,}",
            f"{self.total_macs:,}",
            f"{self.activation_bytes:,}",
            str(_squash(self.receptive_field)),
            "",
            "",
        ]

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(
            [
                "name",
                "type",
                "output_shape",
                "params",
                "trainable_params",
                "frozen_params",
                "macs",
                "activation_bytes",
                "receptive_field",
                "jump",
                "fits",
                "note",
            ]
        )
        for r in self.rows:
            d = r.as_dict()
            w.writerow(
                [
                    r.name,
                    r.type,
                    "x".join(map(str, r.output_shape)),
                    r.params,
                    r.trainable_params,
                    r.frozen_params,
                    r.macs,
                    r.activation_bytes,
                    d["receptive_field"],
                    d["jump"],
                    r.fits,
                    r.note,
                ]
            )
        return buf.getvalue()

    def to_markdown(self) -> str:
        head = ["layer", "type", "output", "params", "MACs", "activation bytes", "RF", "jump", "note"]
        lines = [
            "| " + " | ".join(head) + " |",
            "|" + "|".join(["---", "---", "---", "--:", "--:", "--:", "--:", "--:", "---"]) + "|",
        ]
        for cells in [self._cells(r) for r in self.rows] + [self._footer()]:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + "\n\n" + self.summary_line() + "\n"

    def to_table(self) -> str:
        head = ["layer", "type", "output", "params", "MACs", "act. bytes", "RF", "jump", "note"]
        body = [self._cells(r) for r in self.rows]
        foot = self._footer()
        widths = [max(len(c[i]) for c in [head, *body, foot]) for i in range(len(head))]
        right = {3, 4, 5, 6, 7}

        def fmt(cells: list[str]) -> str:
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
            ).rstrip()

        rule = "-" * len(fmt(head))
        return "\n".join([fmt(head), rule, *map(fmt, body), rule, fmt(foot), "", self.summary_line()]) + "\n"

    def summary_line(self) -> str:
        return (
            f"{self.model_name} at {_size_str(self.input_size)} (batch {self.batch_size}): "
            f"{self.total_params:,} parameters ({self.trainable_params:,} trainable), "
            f"{si(self.total_macs)} MACs (= {si(self.total_flops)} FLOPs), "
            f"{self.activation_bytes / 2**20:.1f} MiB of float32 activations (input included), "
            f"receptive field {_squash(self.receptive_field)}."
        )

    def __str__(self) -> str:
        return self.to_table()


def si(x: float | None) -> str:
    """A count with a readable unit: ``326.5 K``, ``724.4 M``, ``15.47 G`` (``-`` for None)."""
    if x is None:
        return "-"
    for scale, unit, fmt in ((1e9, "G", ".2f"), (1e6, "M", ".1f"), (1e3, "K", ".1f")):
        if x >= scale:
            return f"{x / scale:{fmt}} {unit}"
    return f"{x:.0f}"


def parse_input_size(value: Sequence[int] | str | int, in_chans: int = 3) -> tuple[int, ...]:
    """``(3, 224, 224)``, ``"3x224x224"``, ``"224"`` or ``224`` -> ``(C, H, W)``; sizes must be positive."""
    if isinstance(value, str):
        parts = value.lower().replace(",", "x").split("x")
        try:
            dims = tuple(int(p) for p in parts)
        except ValueError:
            raise CnnzooError(
                f"cannot read input size {value!r}; write it as CxHxW, e.g. 3x224x224."
            ) from None
    elif isinstance(value, int):
        dims = (value,)
    else:
        dims = tuple(int(v) for v in value)
    if len(dims) == 1:
        dims = (in_chans, dims[0], dims[0])
    if len(dims) < 2 or any(d < 1 for d in dims):
        raise CnnzooError(
            f"input size {_size_str(dims)} is not valid; give positive sizes as CxHxW, e.g. 3x224x224."
        )
    return dims


def _fits_at(model: nn.Module, input_size: tuple[int, ...], s: int) -> bool:
    size = (input_size[0],) + (s,) * (len(input_size) - 1)
    try:
        _run(model, size, 1, torch.device("meta"), record=False)
    except _TooSmall:
        return False
    except Exception:  # noqa: BLE001 - anything else at a size that is not too small counts as accepted
        return True
    return True


def _min_square(model: nn.Module | None, input_size: tuple[int, ...], hi: int) -> int:
    """Binary search for the smallest square size at which no feature map vanishes (monotone in size)."""
    if model is None:
        raise CnnzooError("this profile holds no model to search the minimum input size with.")
    lo = 1
    if not _fits_at(model, input_size, hi):
        while not _fits_at(model, input_size, hi):
            hi *= 2
            if hi > 1 << 16:
                raise CnnzooError("found no square input size up to 65536 that this model accepts.")
    while lo < hi:
        mid = (lo + hi) // 2
        if _fits_at(model, input_size, mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def profile(
    model: nn.Module,
    input_size: Sequence[int] | str | int = (3, 224, 224),
    batch_size: int = 1,
    device: str | torch.device = "meta",
    name: str | None = None,
) -> Profile:
    """Profile ``model`` on an input of ``input_size`` = (C, H, W) (or ``"CxHxW"``).

    The model is never changed: it is copied (on ``meta``, by creating its parameters there, so VGG-19 or
    NASNet-Large cost no real memory), put in eval mode and run once. An input on which some feature map
    vanishes raises :class:`~cnnzoo.errors.InputTooSmallError` naming the layer and the smallest size.
    """
    size = parse_input_size(input_size)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise CnnzooError(f"batch size must be a positive integer, got {batch_size!r}.")
    dev = torch.device(device)
    work = _meta_copy(model, dev)
    label = name or getattr(model, "cnnzoo_name", None) or type(model).__name__
    try:
        tracer, out = _run(work, size, batch_size, dev, record=True)
    except _TooSmall as e:
        smallest = _min_square(_meta_copy(model, torch.device("meta")), size, max(size[1:]))
        raise InputTooSmallError(
            f"input {_size_str(size)} is too small for {label}: at layer {e.layer!r} {e.why}; the smallest "
            f"square input it accepts is {size[0]}x{smallest}x{smallest}."
        ) from None
    except _TooLarge as e:
        raise CnnzooError(
            f"input {_size_str(size)} does not fit {label}: at layer {e.layer!r} {e.why}; use the input "
            f"size the model was built for."
        ) from None
    except _LayerError as e:
        raise CnnzooError(
            f"{label} cannot run on a {_size_str(size)} input: at layer {e.layer!r} torch says: {e.why}."
        ) from None
    seen: set[int] = set()
    total = trainable = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
            trainable += p.numel() if p.requires_grad else 0
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
        _model=work if dev.type == "meta" else _meta_copy(model, torch.device("meta")),
    )
