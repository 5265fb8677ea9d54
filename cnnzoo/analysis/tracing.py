"""Tracing for :func:`cnnzoo.analysis.profile`: one forward pass on the ``meta`` device under a
:class:`torch.overrides.TorchFunctionMode` that follows every tensor operation and works out, per tensor, its
receptive field, jump and the MACs of the operation that made it (the conventions are in
:mod:`cnnzoo.analysis.profile`). Nothing here formats or totals; :mod:`.result` does.

What the tracer knows of an operator is one entry of :data:`OP_HANDLERS` (fvcore's table of op handles):
its MACs, the sliding window it applies (checked before it runs, so an input that is too small is named at
its layer) or the other way it moves the receptive field. ``@op_handler("conv2d", ...)`` on a MACs function
adds one. Operators that only re-describe memory (:data:`SHAPE_OPS`) make no row; the ones known to count no
MACs by the papers' convention (:data:`ZERO_MAC_OPS`: activations, normalisation, element-wise arithmetic,
concatenation) keep the field of their inputs; any other operator that touches the traced tensors is counted
in ``unsupported_ops`` and named under the table, as fvcore reports the operators it has no handle for.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..errors import CnnzooError
from ..meta import meta_rules_in_caller, plain_call
from .result import FLOAT32_BYTES, GLOBAL_CONTEXT, LayerRow

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
# Operations that only re-describe memory: no row, no activation bytes.
SHAPE_OPS = {
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

#: Operators that count no MACs (by the papers' and fvcore's convention) and keep the field of their inputs:
#: activations, normalisation, dropout, element-wise arithmetic, reductions and concatenation.
ZERO_MAC_OPS = {
    *("relu", "relu_", "relu6", "hardtanh", "hardtanh_", "leaky_relu", "elu", "gelu", "silu", "mish"),
    *("sigmoid", "sigmoid_", "tanh", "tanh_", "hardswish", "hardsigmoid", "softplus", "softmax"),
    *("log_softmax", "batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm"),
    *("dropout", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "add", "add_", "sub"),
    *("sub_", "mul", "mul_", "div", "div_", "neg", "pow", "exp", "log", "sqrt", "rsqrt", "abs", "clamp"),
    *("clamp_", "maximum", "minimum", "where", "__add__", "__iadd__", "__radd__", "__sub__", "__rsub__"),
    *("__mul__", "__imul__", "__rmul__", "__truediv__", "__rtruediv__", "__neg__", "__pow__", "cat"),
    *("stack", "mean", "sum", "amax", "amin", "max", "min", "ones_like", "zeros_like", "full_like"),
    *("index_select", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear"),
}


class _RF:
    """Receptive-field state of one tensor, per spatial dimension: size, jump and the centre of the first
    output unit's field in input coordinates (pixel centres at 0, 1, ...)."""

    __slots__ = ("rf", "jump", "start", "glob")

    def __init__(
        self, rf: tuple[int, ...], jump: tuple[int, ...], start: tuple[float, ...], glob: bool = False
    ):
        self.rf, self.jump, self.start, self.glob = rf, jump, start, glob


def _is_context(s: _RF, t: torch.Tensor, nsp: int) -> bool:
    """A global-context input of an element-wise operation: a tensor that saw the whole image and is
    broadcast over the positions of the other inputs (an SE block's channel weights, shape (B, C, 1, 1))."""
    return s.glob and (t.ndim < nsp + 2 or all(n == 1 for n in t.shape[-nsp:]))


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
        #: operators without a handler that touched the traced tensors, and how often (fvcore's report)
        self.unsupported: Counter[str] = Counter()
        #: how each op is called: with meta_ops()'s rules where _run took its mode off the stack
        self.call: Callable[[Any, tuple, dict], Any] = plain_call

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
        handler = OP_HANDLERS.get(name)
        # (state, fits, note) of a convolution or pooling window, computed before it runs
        window = handler.before(self, name, args, kwargs) if handler and handler.before else None
        try:
            out = self.call(func, args, kwargs)
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
        field = (
            handler.field(self, in_states, x, outs[0], args, kwargs) if handler and handler.field else None
        )
        if handler is None and name not in SHAPE_OPS and name not in ZERO_MAC_OPS:
            self.unsupported[name] += 1
        if window is not None:
            st, fits, note = window
        elif field is not None:
            st = field
        else:
            # Global context broadcast over a spatial map (SE's x * s, a gate from pooled features) is
            # flagged, not counted: the field stays that of the convolutional path, so it does not grow
            # with the input size (see the module docstring).
            pairs = [(t, s) for t in ins if (s := self.get_state(t)) is not None]
            local = [s for t, s in pairs if not _is_context(s, t, self.nsp)]
            if local and len(local) < len(pairs):
                x = next(t for t, s in pairs if not _is_context(s, t, self.nsp))
                st = self.generic_state(_union(local), x, outs[0])
                note = GLOBAL_CONTEXT
            else:
                st = self.generic_state(_union(in_states), x, outs[0])
        for o in outs:
            self.set_state(o, st)
        macs = handler.macs(args, kwargs, outs[0]) if handler else 0
        leaf = self.frames[-1] if self.frames and self.frames[-1].leaf else None
        if leaf is not None:
            leaf.macs += macs
            if not fits:
                leaf.fits = False
            if note:
                leaf.notes.append(note)
        elif self.record and name not in SHAPE_OPS:
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

    def pad_state(self, s: _RF, pad: Sequence[int]) -> _RF:
        """``F.pad`` (NASNet's asymmetric "same" padding, its one-pixel shift): the field keeps its size
        and jump, but the first output unit now sits ``before`` units earlier (later when cropping)."""
        pad = tuple(int(v) for v in pad)
        before = [0] * self.nsp
        for i in range(self.nsp):
            j = 2 * (self.nsp - 1 - i)
            if j < len(pad):
                before[i] = pad[j]
        start = tuple(s.start[i] - before[i] * s.jump[i] for i in range(self.nsp))
        return _RF(s.rf, s.jump, start, s.glob)

    def generic_state(self, s: _RF, x: torch.Tensor, out: torch.Tensor) -> _RF:
        if s.glob:
            return s
        n_in, n_out = self.spatial(x), self.spatial(out)
        # An operation that keeps the trailing spatial sizes keeps the field, whatever it does to the other
        # dimensions: channel shuffle's view (B, C, H, W) -> (B, g, C/g, H, W) -> transpose -> reshape back
        # moves channels, never pixels. Only an output that lost its spatial dimensions (flatten, a mean
        # over H and W) mixes all positions.
        if out.ndim < self.nsp + 2:
            return self.global_state(s)
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
        row = self.make_row(f.name, layer_type(module), out, ins, list(module.parameters()))
        row.macs, row.fits, row.note = f.macs, f.fits, "; ".join(dict.fromkeys(f.notes))
        self.rows.append(row)


# ---------------------------------------------------------------------------------------- the op handles
@dataclass(frozen=True)
class OpHandler:
    """What the profile knows of one operator: its ``macs(args, kwargs, out)``, a ``before(tracer, name, args,
    kwargs)`` check run before it (a sliding window's field and fit, or a linear layer's input size) and a
    ``field(tracer, in_states, x, out, args, kwargs)`` rule for the receptive field of its output (``None``:
    the generic rule)."""

    macs: Callable[[tuple, dict, torch.Tensor], int]
    before: Callable[..., tuple[_RF, bool, str] | None] | None = None
    field: Callable[..., _RF | None] | None = None


#: operator name (``func.__name__`` as the mode sees it) -> its handle
OP_HANDLERS: dict[str, OpHandler] = {}


def op_handler(
    *names: str,
    before: Callable[..., tuple[_RF, bool, str] | None] | None = None,
    field: Callable[..., _RF | None] | None = None,
) -> Callable[[Callable[[tuple, dict, torch.Tensor], int]], Callable[[tuple, dict, torch.Tensor], int]]:
    """Register the decorated MACs function (and the field rules) as the handle of the operators ``names``."""

    def decorator(
        macs: Callable[[tuple, dict, torch.Tensor], int],
    ) -> Callable[[tuple, dict, torch.Tensor], int]:
        for name in names:
            if name in OP_HANDLERS:
                raise RuntimeError(f"operator {name!r} has two handles")
            OP_HANDLERS[name] = OpHandler(macs, before, field)
        return macs

    return decorator


def _input_state(t: _Tracer, args: tuple, kwargs: dict) -> tuple[_RF, torch.Tensor] | None:
    x = args[0] if args else kwargs.get("input")
    s = t.get_state(x) if isinstance(x, torch.Tensor) else None
    return None if s is None else (s, x)


def _conv_window(t: _Tracer, name: str, args: tuple, kwargs: dict) -> tuple[_RF, bool, str] | None:
    found = _input_state(t, args, kwargs)
    if found is None:
        return None
    w = args[1] if len(args) > 1 else kwargs["weight"]
    return t.conv_state(found[0], args, kwargs, tuple(w.shape[2:]), found[1])


def _pool_window(t: _Tracer, name: str, args: tuple, kwargs: dict) -> tuple[_RF, bool, str] | None:
    found = _input_state(t, args, kwargs)
    return None if found is None else t.pool_state(found[0], name, args, kwargs, found[1])


def _linear_check(t: _Tracer, name: str, args: tuple, kwargs: dict) -> None:
    t.check_linear(args, kwargs)


def _weight(args: tuple, kwargs: dict) -> torch.Tensor:
    return args[1] if len(args) > 1 else kwargs["weight"]


@op_handler(*_CONV, before=_conv_window)
def _conv_macs(args: tuple, kwargs: dict, out: torch.Tensor) -> int:
    w = _weight(args, kwargs)
    return out.numel() * w.shape[1] * math.prod(w.shape[2:])


@op_handler(*_CONV_T)
def _conv_transpose_macs(args: tuple, kwargs: dict, out: torch.Tensor) -> int:
    x, w = (args[0] if args else kwargs["input"]), _weight(args, kwargs)
    return x.numel() * w.shape[1] * math.prod(w.shape[2:])


@op_handler("linear", before=_linear_check)
def _linear_macs(args: tuple, kwargs: dict, out: torch.Tensor) -> int:
    return out.numel() * _weight(args, kwargs).shape[1]


def _global_field(t: _Tracer, states: list[_RF], *_: Any) -> _RF:
    """A matrix product mixes every position: the field covers the whole input."""
    return t.global_state(_union(states))


@op_handler("matmul", "mm", "bmm", "__matmul__", "__rmatmul__", field=_global_field)
def _matmul_macs(args: tuple, kwargs: dict, out: torch.Tensor) -> int:
    return out.numel() * args[0].shape[-1]


@op_handler("addmm", "baddbmm", field=_global_field)
def _addmm_macs(args: tuple, kwargs: dict, out: torch.Tensor) -> int:
    return out.numel() * args[1].shape[-1]  # args[0] is the added term


@op_handler("addbmm", field=_global_field)
def _addbmm_macs(args: tuple, kwargs: dict, out: torch.Tensor) -> int:
    return out.numel() * args[1].shape[-1] * args[1].shape[0]  # the batch of products is summed


def _adaptive_field(t: _Tracer, states: list[_RF], x: torch.Tensor, out: torch.Tensor, *_: Any) -> _RF:
    return t.adaptive_state(states[0], x, out)


def _pad_field(t: _Tracer, states: list[_RF], x: torch.Tensor, out: torch.Tensor, *ak: Any) -> _RF | None:
    """``F.pad`` shifts the field of a local map; on global context it changes nothing (generic rule)."""
    return None if states[0].glob else t.pad_state(states[0], _arg(ak[0], ak[1], 1, "pad", ()))


@op_handler(*_MAX_POOL, *_AVG_POOL, before=_pool_window)
@op_handler(*_ADAPTIVE, field=_adaptive_field)
@op_handler("pad", field=_pad_field)
def _no_macs(args: tuple, kwargs: dict, out: torch.Tensor) -> int:
    return 0


def layer_type(module: nn.Module) -> str:
    """The layer type a summary shows: the class name, or the ``summary_type`` of a layer subclassed only to
    compute faster (LeNet-5's C5 is a ``Conv2d``)."""
    return getattr(module, "summary_type", None) or type(module).__name__


def _meta_copy(model: nn.Module, device: torch.device) -> nn.Module:
    """A copy of ``model`` whose parameters and buffers live on ``device``; on ``meta`` no real memory is
    allocated (the copy's tensors are created there directly, never copied)."""
    memo: dict[int, Any] = {}
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) in memo:
            continue
        if device.type == "meta":
            # empty_strided, not empty_like: on meta, empty_like runs torch's Python reference
            new = torch.empty_strided(t.size(), t.stride(), dtype=t.dtype, device="meta")
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
        with torch.no_grad(), meta_rules_in_caller() as tracer.call, tracer:
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    return tracer, out


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
