"""The deconvolutional network of Zeiler & Fergus ("Visualizing and Understanding Convolutional Networks",
ECCV 2014, Sec. 2.1 and Fig. 1), built explicitly.

To see what one activation responds to, Zeiler & Fergus set every other activation of its layer to zero and
pass the map back down through a "deconvnet" attached to each layer:

* max-pooling is inverted by *unpooling*: the value goes back to the location of the maximum, recorded in
  the forward pass as a "switch";
* the ReLU is inverted by a ReLU ("rectification"), so the reconstruction stays positive;
* a convolution is inverted by the *transposed* filters (``conv_transpose2d`` with the layer's weights,
  "flipped vertically and horizontally"), without the bias.

Supported: sequential stacks such as LeNet-5, AlexNet, ZFNet and VGG -- convolutions, ReLUs (module or
functional, in-place or not), max- and average-pooling, local response normalisation and dropout (passed
through unchanged: Zeiler & Fergus do not invert them), batch normalisation (its per-channel scale, like a
filter, without the shift), flatten/reshape and linear layers (transposed weights, so a fully connected unit
can be projected too), and other element-wise activations (tanh, sigmoid: passed through, a choice of ours
since the paper has only ReLUs). A branch (residual addition, concatenation) or any other operation between
the input and the chosen layer raises a :class:`LayerError`; :func:`cnnzoo.explain.deconvnet_backprop` gives
the deconvnet rule on any architecture, by back-propagation.

The forward pass is recorded at the level of functional calls with a
:class:`torch.overrides.TorchFunctionMode`, so it sees ``F.relu`` inside ``forward`` as well as modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from ..errors import CnnzooError
from ..registries import register_method
from ._common import LayerError, check_input, default_layer, get_layer, model_device

_CONV = {torch.conv2d, F.conv2d}
_LINEAR = {F.linear}
_RELU = {F.relu, torch.relu, torch.Tensor.relu, torch.relu_, F.relu_, torch.Tensor.relu_}
_MAXPOOL = {F.max_pool2d, F.max_pool2d_with_indices, torch.max_pool2d}
# linear maps inverted by their transpose (a vector-Jacobian product): pooling, reshaping, scaling
_TRANSPOSE = {
    F.avg_pool2d,
    F.adaptive_avg_pool2d,
    torch.flatten,
    torch.Tensor.flatten,
    torch.Tensor.view,
    torch.Tensor.reshape,
    torch.reshape,
    torch.mul,
    torch.Tensor.mul,
    torch.Tensor.mul_,
    torch.Tensor.__mul__,
    torch.Tensor.__rmul__,
    torch.Tensor.__imul__,
    torch.div,
    torch.Tensor.div,
    torch.Tensor.div_,
    torch.Tensor.__truediv__,
    torch.Tensor.__itruediv__,
}
# passed through unchanged: normalisation and dropout (not inverted by Zeiler & Fergus), biases and shifts
# (dropped, like the convolutions' biases), other element-wise activations (a choice of ours)
_PASS = {
    F.local_response_norm,
    F.dropout,
    F.dropout2d,
    F.alpha_dropout,
    F.feature_alpha_dropout,
    torch.tanh,
    torch.Tensor.tanh,
    torch.sigmoid,
    torch.Tensor.sigmoid,
    F.tanh,
    F.sigmoid,
    F.hardtanh,
    F.elu,
    F.leaky_relu,
    F.relu6,
    torch.Tensor.contiguous,
    torch.Tensor.clone,
    torch.add,
    torch.Tensor.add,
    torch.Tensor.add_,
    torch.Tensor.__add__,
    torch.Tensor.__radd__,
    torch.Tensor.__iadd__,
    torch.sub,
    torch.Tensor.sub,
    torch.Tensor.sub_,
    torch.Tensor.__sub__,
    torch.Tensor.__isub__,
}
_BN = {F.batch_norm}


@dataclass
class _Op:
    func: Any
    args: tuple
    kwargs: dict
    pos: int  # where the chain tensor is among args
    out: torch.Tensor
    in_shape: tuple[int, ...]
    switches: torch.Tensor | None = None


def _kind(func: Any) -> str | None:
    for kind, funcs in (
        ("conv", _CONV),
        ("linear", _LINEAR),
        ("relu", _RELU),
        ("maxpool", _MAXPOOL),
        ("transpose", _TRANSPOSE),
        ("pass", _PASS),
        ("bn", _BN),
    ):
        if func in funcs:
            return kind
    return None


def _fname(func: Any) -> str:
    return getattr(func, "__name__", None) or repr(func)


class _Recorder(TorchFunctionMode):
    """Records, in order, the functional calls that take the current end of the chain that starts at the
    input, and notes the first call that leaves the chain (a branch, or an operation without a deconvnet
    inverse)."""

    def __init__(self, x: torch.Tensor) -> None:
        super().__init__()
        self.chain: list[_Op] = []
        self.on_chain: dict[int, int] = {id(x): -1}  # id(tensor) -> index of the op that produced it
        self.keep: list[torch.Tensor] = [x]  # keeps the recorded tensors alive, so their ids stay unique
        self.problem: str | None = None
        self.paused = False

    def head(self) -> torch.Tensor:
        return self.chain[-1].out if self.chain else self.keep[0]

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        out = result[0] if func in _MAXPOOL and isinstance(result, tuple) else result
        if self.paused or self.problem is not None:
            return result
        flat = list(args) + list(kwargs.values())
        used = [i for i, a in enumerate(flat) if isinstance(a, torch.Tensor) and id(a) in self.on_chain]
        if any(
            isinstance(a, (list, tuple))
            and any(id(t) in self.on_chain for t in a if isinstance(t, torch.Tensor))
            for a in flat
        ):  # torch.cat([...]) and friends
            self.problem = f"{_fname(func)} combines feature maps (a branch)"
            return result
        if not used:
            return result
        if not isinstance(out, torch.Tensor):
            if isinstance(out, (tuple, list)) and any(isinstance(o, torch.Tensor) for o in out):
                self.problem = f"{_fname(func)} splits the feature map (a branch)"
            return result
        head, kind = self.head(), _kind(func)
        if len(used) > 1 or flat[used[0]] is not head or used[0] >= len(args):
            self.problem = f"{_fname(func)} combines or reuses earlier feature maps (a branch)"
        elif kind is None:
            self.problem = f"{_fname(func)} has no deconvnet inverse"
        elif kind != "transpose" and kind != "pass" and used[0] != 0:
            self.problem = f"{_fname(func)} is used in a way the deconvnet does not invert"
        else:
            op = _Op(func, args, kwargs, used[0], out, tuple(head.shape))
            if kind == "maxpool":
                op.switches = _switches(args, kwargs)
            self.chain.append(op)
            self.on_chain[id(out)] = len(self.chain) - 1
            self.keep.append(out)
        return result


def _switches(args: tuple, kwargs: dict) -> torch.Tensor:
    """The positions of the maxima (Zeiler & Fergus' "switches") of a max-pooling call."""
    kw = dict(kwargs)
    kw.pop("return_indices", None)
    names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
    kw.update(dict(zip(names, args[1:])))
    with torch.no_grad():
        _, idx = F.max_pool2d_with_indices(args[0].detach(), **kw)
    return idx


def _transpose(op: _Op, r: torch.Tensor) -> torch.Tensor:
    """The transpose of a linear op (convolution or linear layer without bias, pooling, reshaping, scaling)
    applied to ``r``: a vector-Jacobian product, which for a convolution is ``conv_transpose2d`` with the
    layer's own filters."""
    z = torch.zeros(op.in_shape, dtype=r.dtype, device=r.device, requires_grad=True)
    args = [a.detach() if isinstance(a, torch.Tensor) else a for a in op.args]
    kwargs = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in op.kwargs.items()}
    if _kind(op.func) in ("conv", "linear"):
        if len(args) > 2:
            args[2] = None
        kwargs.pop("bias", None)
    with torch.enable_grad():
        args[op.pos] = z * 1  # a non-leaf, so in-place ops (x *= s) can be replayed
        y = op.func(*args, **kwargs)
        (g,) = torch.autograd.grad(y, z, r)
    return g


def _invert(op: _Op, r: torch.Tensor) -> torch.Tensor:
    kind = _kind(op.func)
    if kind == "relu":
        return F.relu(r)
    if kind == "maxpool":
        assert op.switches is not None
        n, c = r.shape[:2]
        flat = torch.zeros(n, c, op.in_shape[2] * op.in_shape[3], dtype=r.dtype, device=r.device)
        flat.scatter_add_(2, op.switches.flatten(2), r.flatten(2))
        return flat.view(op.in_shape)
    if kind == "pass":
        return r
    if kind == "bn":
        args = dict(
            zip(
                ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"),
                op.args,
            )
        )
        args.update(op.kwargs)
        var, eps, w = args["running_var"], args.get("eps", 1e-5), args.get("weight")
        scale = (var + eps).rsqrt() * (w if w is not None else 1.0)
        return r * scale.detach().view(1, -1, *([1] * (r.ndim - 2)))
    return _transpose(op, r)


@register_method(
    "deconvnet",
    help="one feature map projected to pixels, sequential conv/pool models only (Zeiler & Fergus 2014)",
    explains="channel",
)
def deconvnet(
    model: nn.Module,
    x: torch.Tensor,
    layer: str | None = None,
    channel: int | None = None,
    keep: str = "max",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Project one activation of ``layer`` back to pixel space through a deconvnet (Zeiler & Fergus,
    Sec. 2.1).

    Args:
        model: a sequential conv/pool network, in eval mode.
        x: images ``(N, C, H, W)``.
        layer: a module name (default: the last convolutional feature map).
        channel: the feature map to project (default: per image, the one with the strongest activation).
        keep: ``"max"`` keeps only the feature map's strongest activation, as in the paper's figures;
            ``"map"`` keeps the whole feature map.

    Returns:
        ``(reconstruction (N, C, H, W), channels (N,))``, the reconstruction signed and in input units.
    """
    if keep not in ("max", "map"):
        raise CnnzooError(f"keep must be 'max' or 'map', got {keep!r}.")
    x = check_input(x).to(model_device(model))
    layer = layer or default_layer(model, x)
    module = get_layer(model, layer)
    rec = _Recorder(x)
    seen: dict[str, Any] = {}

    def hook(_m: nn.Module, _i: object, out: object) -> None:
        if isinstance(out, torch.Tensor) and "value" not in seen:
            rec.paused = True
            seen["value"], seen["index"], seen["problem"] = (
                out.detach().clone(),
                rec.on_chain.get(id(out)),
                rec.problem,
            )
            rec.paused = False

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad(), rec:
            model(x)
    finally:
        handle.remove()
    if "value" not in seen:
        raise LayerError(f"layer {layer!r} returns no tensor in the forward pass; choose another layer.")
    index = seen["index"]
    if index is None or index < 0 or seen["problem"] is not None:
        why = f" ({seen['problem']})" if seen["problem"] else ""
        raise LayerError(
            f"the deconvnet cannot reach layer {layer!r} through a plain conv/pool chain{why}; use an "
            "earlier layer, a sequential model (lenet5_modern, alexnet, zfnet, vgg*) or guided-backprop."
        )
    act = seen["value"]
    if act.ndim != 4:
        act4 = act.view(act.shape[0], -1, 1, 1)
    else:
        act4 = act
    n, c = act4.shape[:2]
    strength = act4.flatten(2).amax(dim=2)
    if channel is None:
        chans = strength.argmax(dim=1)
    else:
        if not 0 <= channel < c:
            raise LayerError(
                f"layer {layer!r} has {c} channels (0 to {c - 1}); channel {channel} does not exist."
            )
        chans = torch.full((n,), channel, dtype=torch.long, device=act.device)
    r4 = torch.zeros_like(act4)
    for i in range(n):
        fmap = act4[i, chans[i]]
        if keep == "max":
            pos = int(fmap.flatten().argmax())
            r4[i, chans[i]].view(-1)[pos] = fmap.flatten()[pos]
        else:
            r4[i, chans[i]] = fmap
    r = r4.view(act.shape)
    for op in reversed(rec.chain[: index + 1]):
        r = _invert(op, r.reshape(op.out.shape))
    return r.reshape(x.shape).detach(), chans
