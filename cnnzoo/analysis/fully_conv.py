"""Fully convolutional form of the networks whose heads are fully-connected layers over a fixed map, for the
dense evaluation of Simonyan & Zisserman (ICLR 2015, Sec. 3.2): "the fully-connected layers are first
converted to convolutional layers (the first FC layer to a 7x7 conv. layer, the last two FC layers to 1x1
conv. layers). The resulting fully-convolutional net is then applied to the whole (uncropped) image. The
result is a class score map ... spatially averaged (sum-pooled)". Sermanet et al.'s OverFeat (ICLR 2014,
Sec. 3.5) describes the same equivalence.

>>> from cnnzoo.factory import create_model
>>> from cnnzoo.analysis.fully_conv import to_fully_convolutional
>>> net = to_fully_convolutional(create_model("vgg16", num_classes=10)).eval()   # doctest: +SKIP
>>> net(torch.zeros(1, 3, 384, 512)).shape                                        # doctest: +SKIP
torch.Size([1, 10, 6, 10])

Which networks: those with a ``classifier`` ``nn.Sequential`` of ``nn.Linear`` layers after a ``features``
trunk (AlexNet, its single-tower and OWT variants, ZFNet, VGG A-E with or without BatchNorm) and LeNet-5
(F6 and the output layer over C5's 1x1 map). Every other registered network ends in global pooling and
already runs on any input at least its receptive field: :func:`to_fully_convolutional` returns it unchanged
(its logits are the spatial mean of its score map whenever a linear layer follows the global average pool,
because the two commute).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import CnnzooError, OptionError

__all__ = ["FullyConvolutional", "dense_logits", "has_fc_head", "to_fully_convolutional"]


class _ForwardFeatures(nn.Module):
    """The trunk of a model given as its ``forward_features`` method."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)  # type: ignore[operator]


class _ChannelsLast(nn.Module):
    """Applies a module written for ``[N, C]`` vectors at every position of a ``[N, C, H, W]`` map (for the
    non-linear layers between the FC layers, and LeNet-5's Euclidean RBF output)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class FullyConvolutional(nn.Module):
    """``trunk`` (the convolutional features, shared with the source model) then ``head`` (the FC layers as
    convolutions): any input at least the training size gives a class-score map ``[N, classes, h, w]``;
    at the training size ``h = w = 1`` and the scores equal the source model's logits."""

    def __init__(self, trunk: nn.Module, head: nn.Sequential, input_size: tuple[int, int, int]) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = head
        self.input_size = tuple(input_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


def _leaves(mods: Sequence[nn.Module]) -> list[nn.Module]:
    out: list[nn.Module] = []
    for m in mods:
        out += _leaves(list(m.children())) if isinstance(m, nn.Sequential) else [m]
    return out


def _trunk_and_head(model: nn.Module) -> tuple[nn.Module, list[nn.Module], nn.Module | None] | None:
    """(trunk, head layers, pooling between them or None) of a network with an FC head, else None."""
    cls = getattr(model, "classifier", None)
    if isinstance(cls, nn.Sequential) and isinstance(getattr(model, "features", None), nn.Module):
        head = _leaves(list(cls))
        if any(isinstance(m, nn.Linear) for m in head):
            return model.features, head, getattr(model, "avgpool", None)  # type: ignore[return-value]
    f6, out = getattr(model, "f6", None), getattr(model, "output", None)
    if isinstance(f6, nn.Module) and isinstance(out, nn.Module) and hasattr(model, "forward_features"):
        return _ForwardFeatures(model), _leaves([f6, out]), None  # LeNet-5
    return None


def has_fc_head(model: nn.Module, input_size: Sequence[int] | None = None) -> bool:
    """True for the networks whose head is FC layers over a fixed-size map (see the module docstring);
    False for those that pool globally before their classifier."""
    return _plan(model, input_size) is not None


def _input_size(model: nn.Module, input_size: Sequence[int] | None) -> tuple[int, int, int]:
    if input_size is not None:
        return tuple(int(v) for v in input_size)  # type: ignore[return-value]
    rec = getattr(model, "cnnzoo_record", None)
    if rec is None:
        raise OptionError(
            "this model was not made by create_model, so its training size is unknown; "
            "pass input_size=(C, H, W).",
            "input_size",
        )
    return tuple(int(v) for v in rec.input_size)  # type: ignore[return-value]


def _plan(
    model: nn.Module, input_size: Sequence[int] | None
) -> tuple[nn.Module, list[nn.Module], tuple[int, int, int], tuple[int, int, int]] | None:
    """(trunk, head layers, training size, trunk's map at that size) of an FC-headed network, else None."""
    parts = _trunk_and_head(model)
    if parts is None:
        return None
    trunk, head, pool = parts
    c, h, w = _input_size(model, input_size)
    p0 = next(model.parameters(), None)
    dev, dtype = (p0.device, p0.dtype) if p0 is not None else (torch.device("cpu"), torch.float32)
    was_training = trunk.training
    trunk.eval()
    try:
        with torch.no_grad():
            fmap = trunk(torch.zeros(1, c, h, w, device=dev, dtype=dtype))
    finally:
        trunk.train(was_training)
    with torch.no_grad():
        if pool is not None and not isinstance(pool, nn.Identity):
            pooled = pool(fmap)
            if pooled.shape != fmap.shape:
                raise CnnzooError(
                    f"the pool before the classifier changes the {tuple(fmap.shape[1:])} map at the training "
                    f"size {c}x{h}x{w}; pass the input_size the model was trained at."
                )
    if fmap.ndim != 4:
        return None
    ch, fh, fw = (int(v) for v in fmap.shape[1:])
    first = next(m for m in head if isinstance(m, nn.Linear))
    if fh * fw > 1 and first.in_features == ch:
        return None  # global pooling inside forward_head (MobileNet-style classifier)
    return trunk, head, (c, h, w), (ch, fh, fw)


def to_fully_convolutional(model: nn.Module, input_size: Sequence[int] | None = None) -> nn.Module:
    """The fully convolutional form of ``model`` (VGG Sec. 3.2): every FC layer becomes the convolution with
    the same weights — the first one a ``h x w`` convolution over the ``C x h x w`` map it was trained on
    (``Linear.weight`` reshaped ``[out, C, h, w]``, matching ``torch.flatten``'s C-H-W order), the later
    ones 1x1 convolutions. ``input_size`` (C, H, W) is the training size (default: the registered one).

    The trunk is shared with ``model`` (not copied); the head's weights are copies. A global-pooling
    network is returned unchanged. An adaptive pool between trunk and head (torchvision's VGG and AlexNet
    OWT) must be the identity at the training size; it is dropped.
    """
    plan = _plan(model, input_size)
    if plan is None:
        return model
    trunk, head, (c, h, w), (ch, fh, fw) = plan
    layers: list[nn.Module] = []
    first = True
    for m in head:
        if isinstance(m, nn.Flatten):
            continue
        if isinstance(m, nn.Linear):
            k = (fh, fw) if first else (1, 1)
            cin = ch if first else m.in_features
            if m.in_features != cin * k[0] * k[1]:
                raise CnnzooError(
                    f"the FC layer with {m.in_features} inputs does not match the {ch}x{fh}x{fw} map at the "
                    f"training size {c}x{h}x{w}; pass the input_size the model was trained at."
                )
            conv = nn.Conv2d(cin, m.out_features, k, bias=m.bias is not None, device=m.weight.device)
            with torch.no_grad():
                conv.weight.copy_(m.weight.detach().reshape(m.out_features, cin, *k))
                if m.bias is not None:
                    conv.bias.copy_(m.bias.detach())  # type: ignore[union-attr]
            conv.to(m.weight.dtype)
            layers.append(conv)
            first = False
        elif isinstance(m, nn.ReLU | nn.Dropout | nn.Identity | nn.Tanh | nn.Sigmoid):
            layers.append(m)  # elementwise, any layout
        elif first:
            raise CnnzooError(f"cannot convert {type(m).__name__} before the first FC layer to a conv.")
        else:
            layers.append(_ChannelsLast(m))  # e.g. LeNet-5's scaled tanh and Euclidean RBF output
    net = FullyConvolutional(trunk, nn.Sequential(*layers), (c, h, w))
    net.train(model.training)
    return net


def dense_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The class scores of ``x`` [N, C, H, W] under dense evaluation: the score map of a fully convolutional
    network averaged over its positions (VGG Sec. 3.2 "spatially averaged"), or the logits of a network that
    already pools globally."""
    out = model(x)
    if isinstance(out, tuple | list):  # auxiliary heads in training mode
        out = out[0]
    return out.mean(dim=(2, 3)) if out.ndim == 4 else out
