"""Tracing for :func:`cnnzoo.analysis.profile`: one forward pass on the ``meta`` device under a
:class:`torch.overrides.TorchFunctionMode` that follows every tensor operation and works out, per tensor, its
receptive field, jump and the MACs of the operation that made it (the conventions are in
:mod:`cnnzoo.analysis.profile`). Nothing here formats or totals; :mod:`.result` does.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..errors import CnnzooError
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
        elif name == "pad" and not in_states[0].glob:
            st = self.pad_state(in_states[0], _arg(args, kwargs, 1, "pad", ()))
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
