"""The lecture notation for plain networks: ``"conv3-64, conv3-64, maxpool, ..., fc-4096, fc-4096, fc-1000"``.

Simonyan & Zisserman (2015, Table 1) write a VGG network as a column of tokens, ``conv<receptive field
size>-<number of channels>``, ``maxpool``, ``FC-4096``, ``soft-max``; the CS109B lectures write layers as
"Conv1: 8 3x3 filters, stride 1, padding=same". :func:`build_from_spec` reads both into an
:class:`torch.nn.Sequential`; :func:`parse_spec` returns the parsed tokens.

It lives with the models because the VGG family is built from it (:mod:`cnnzoo.models.vgg`); the analysis
side (:mod:`cnnzoo.analysis`, ``cnnzoo summary "conv3-64, ..."``) imports it from here.

Grammar (case-insensitive; tokens separated by ``,`` ``;`` or new lines; options after ``/`` or spaces)::

    conv<K>-<N>[/opts]      N filters of KxK (K may be "KxL"):   conv3-64   conv1-256   conv11-96/s4/p0
    conv <N> <K>x<K> [opts] the CS109B form:                    conv 8 3x3 s1 same   conv 16 5x5 s2 same
    maxpool[<K>][/opts]     max pooling, default 2x2 stride 2:   maxpool   maxpool3/s2   pool2
                                                                 maxpool 3x3 s2
    avgpool[<K>][/opts]     average pooling, same defaults:      avgpool   avgpool3/s1/p1
    gap                     global average pooling to 1x1
    fc-<N>  dense-<N>       a fully-connected layer (a Flatten is inserted before the first one after
                            spatial layers):                     fc-4096   dense 512
    flatten  relu  bn  lrn  softmax  dropout[-<p>]              (dropout default p = 0.5; bn picks 2d/1d)

    options: s<S> stride, p<P> padding, same ('same' padding, (K-1)/2*D, the default for convolutions),
             valid (= p0), d<D> dilation, g<G> groups, nobias, linear (no activation after this layer),
             ceil (ceil_mode for pooling)

Conventions (the VGG paper's, Sec. 2.1): convolutions are padded "same" (3x3: 1 pixel) and have a bias; every
convolution and fully-connected layer is followed by the activation (``act``, default ReLU; "the ReLU
activation function is not shown for brevity", Table 1) except the final fully-connected layer;
``batch_norm=True`` puts a BatchNorm between a convolution and its activation (torchvision's ``vgg*_bn``).
Pools default to 2x2, stride 2, no padding. ``LRN`` is Krizhevsky et al.'s local response normalisation
(:class:`cnnzoo.models.layers.LocalResponseNorm`, k=2, n=5, alpha=1e-4, beta=0.75).

Examples::

    build_from_spec("conv 8 3x3 s1 same; conv 16 5x5 s2 same; flatten; dense 512; dense 4", 3, (32, 32))
    build_from_spec("conv11-96/s4/p0, maxpool3/s2", in_chans=3, input_size=227)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from torch import nn

from ..errors import SpecError
from .layers import LocalResponseNorm

__all__ = ["SpecToken", "build_from_spec", "parse_spec"]

_KINDS = {
    "conv": "conv",
    "maxpool": "maxpool",
    "pool": "maxpool",
    "avgpool": "avgpool",
    "gap": "gap",
    "fc": "fc",
    "dense": "fc",
    "linear": "fc",
    "flatten": "flatten",
    "relu": "relu",
    "bn": "bn",
    "batchnorm": "bn",
    "lrn": "lrn",
    "softmax": "softmax",
    "dropout": "dropout",
}
_HEAD = re.compile(r"([a-z]+)(\d+(?:x\d+)?)?(?:-(\d+(?:\.\d+)?))?")
_OPTION = re.compile(r"([spdg])(\d+)")
_FLAGS = {"same", "valid", "nobias", "linear", "ceil"}
MAX_WIDTH = 1 << 20
"""The most filters or units one layer may have (1,048,576): more is a typo, and would not fit in memory."""
MAX_SIZE = 1 << 16
"""The largest kernel size, stride, padding, dilation or group count (65536)."""


@dataclass
class SpecToken:
    """One parsed token: ``kind`` (conv, maxpool, avgpool, gap, fc, flatten, relu, bn, lrn, softmax,
    dropout), its numbers and options, and where it was in the text (1-based index and column)."""

    kind: str
    text: str
    index: int
    column: int
    n: float | None = None
    kernel: tuple[int, int] | None = None
    stride: int | None = None
    padding: int | None = None
    dilation: int = 1
    groups: int = 1
    flags: set[str] = field(default_factory=set)


def _fail(tok: str, index: int, column: int, why: str) -> SpecError:
    return SpecError(f"spec token {index} {tok!r} (column {column}): {why}.")


def _kernel(text: str) -> tuple[int, int]:
    a, _, b = text.partition("x")
    return (int(a), int(b or a))


def parse_spec(spec: str) -> list[SpecToken]:
    """Parse the lecture notation into :class:`SpecToken` s (see the module docstring for the grammar)."""
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError("the layer spec is empty; write layers like 'conv3-64, maxpool, fc-10'.")
    tokens: list[SpecToken] = []
    for m in re.finditer(r"[^,;\n]+", spec):
        raw = m.group(0)
        text = raw.strip()
        if not text:
            continue
        index, column = len(tokens) + 1, m.start() + (len(raw) - len(raw.lstrip())) + 1
        words = [w for w in re.split(r"[\s/]+", text.lower()) if w]
        if not words:  # a token of only '/' (e.g. "conv3-64, /" or "conv3-64 //")
            raise _fail(text, index, column, "an option separator '/' with no layer; remove it")
        head = _HEAD.fullmatch(words[0])
        if head is None or head.group(1) not in _KINDS:
            raise _fail(
                text,
                index,
                column,
                "unknown layer; use conv, maxpool, avgpool, gap, fc, dense, flatten, "
                "relu, bn, lrn, softmax or dropout",
            )
        tok = SpecToken(_KINDS[head.group(1)], text, index, column)
        if head.group(2):
            tok.kernel = _kernel(head.group(2))
        if head.group(3):
            tok.n = float(head.group(3))
        for w in words[1:]:
            opt = _OPTION.fullmatch(w)
            if opt:
                key, val = opt.group(1), int(opt.group(2))
                if key == "s":
                    tok.stride = val
                elif key == "p":
                    tok.padding = val
                elif key == "d":
                    tok.dilation = val
                else:
                    tok.groups = val
            elif w in _FLAGS:
                tok.flags.add(w)
            elif re.fullmatch(r"\d+x\d+", w) and tok.kernel is None:
                tok.kernel = _kernel(w)
            elif re.fullmatch(r"\d+(\.\d+)?", w) and tok.n is None:
                tok.n = float(w)
            elif re.fullmatch(r"\d+", w) and tok.kernel is None:
                tok.kernel = _kernel(w)
            else:
                raise _fail(
                    text,
                    index,
                    column,
                    f"cannot read {w!r}; options are s<stride>, p<padding>, "
                    "d<dilation>, g<groups>, same, valid, nobias, linear, ceil",
                )
        _validate(tok)
        tokens.append(tok)
    if not tokens:
        raise SpecError("the layer spec is empty; write layers like 'conv3-64, maxpool, fc-10'.")
    return tokens


def _validate(tok: SpecToken) -> None:
    def bad(why: str) -> SpecError:
        return _fail(tok.text, tok.index, tok.column, why)

    if tok.kind in ("conv", "fc") and (tok.n is None or tok.n != int(tok.n) or tok.n < 1):
        raise bad(
            f"give a positive whole number of {'filters' if tok.kind == 'conv' else 'units'}, e.g. "
            f"{'conv3-64' if tok.kind == 'conv' else 'fc-4096'}"
        )
    if tok.kind == "conv" and tok.kernel is None:
        raise bad("give the filter size, e.g. conv3-64 or 'conv 64 3x3'")
    if tok.kind == "dropout" and tok.n is not None and not 0 <= tok.n < 1:
        raise bad("the dropout probability must be in [0, 1), e.g. dropout-0.5")
    if tok.n is not None and tok.kind in ("conv", "fc") and tok.n > MAX_WIDTH:
        raise bad(
            f"{int(tok.n):,} is more {'filters' if tok.kind == 'conv' else 'units'} than one layer can "
            f"have here (at most {MAX_WIDTH:,})"
        )
    if tok.kernel is not None and min(tok.kernel) < 1:
        raise bad("the kernel size must be positive")
    sizes = [*(tok.kernel or ()), tok.stride or 1, tok.padding or 0, tok.dilation, tok.groups]
    if max(sizes) > MAX_SIZE:
        raise bad(f"kernel size, stride, padding, dilation and groups must be at most {MAX_SIZE}")
    if (tok.stride is not None and tok.stride < 1) or tok.dilation < 1 or tok.groups < 1:
        raise bad("stride, dilation and groups must be positive")
    if tok.kind not in ("conv", "maxpool", "avgpool", "fc") and (tok.kernel or tok.stride or tok.padding):
        raise bad(f"{tok.kind} takes no size or stride")


def build_from_spec(
    spec: str,
    in_chans: int = 3,
    input_size: int | Sequence[int] | None = None,
    act: str | None = "relu",
    batch_norm: bool = False,
) -> nn.Sequential:
    """Build the network that ``spec`` describes (grammar in the module docstring) as an ``nn.Sequential``.

    Args:
        spec: the layers, e.g. ``"conv3-64, conv3-64, maxpool, fc-4096, fc-4096, fc-1000"``.
        in_chans: channels of the input image.
        input_size: spatial size ``H`` or ``(H, W)``; needed when a fully-connected layer follows spatial
            layers (to know its number of inputs) and to check that every layer fits.
        act: the activation after every convolution and fully-connected layer except the last
            fully-connected one (``"relu"`` or ``None`` for none; explicit ``relu`` tokens always work).
        batch_norm: put a BatchNorm after every convolution (before its activation).
    """
    if not isinstance(in_chans, int) or in_chans < 1:
        raise SpecError(f"in_chans must be a positive integer, got {in_chans!r}.")
    if act not in ("relu", None):
        raise SpecError(f"unknown activation {act!r}; use 'relu' or None.")
    tokens = parse_spec(spec)
    hw: tuple[int, int] | None
    if input_size is None:
        hw = None
    else:
        hw = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)[-2:]  # type: ignore[assignment]
        if len(hw) != 2 or min(hw) < 1:  # type: ignore[arg-type]
            raise SpecError(f"input_size must be positive, got {input_size!r}.")
    last_fc = max((t.index for t in tokens if t.kind == "fc"), default=0)
    layers: list[nn.Module] = []
    ch: int = in_chans
    flat: int | None = None  # features when the tensor is flat (N, F)

    for tok in tokens:

        def bad(why: str, tok: SpecToken = tok) -> SpecError:
            return _fail(tok.text, tok.index, tok.column, why)

        if tok.kind in ("conv", "maxpool", "avgpool", "gap") and flat is not None:
            raise bad("a spatial layer cannot follow a flattened one")
        if tok.kind == "conv":
            out, k = int(tok.n), tok.kernel  # type: ignore[arg-type]
            assert k is not None
            if ch % tok.groups or out % tok.groups:
                raise bad(f"{tok.groups} groups do not divide {ch} input and {out} output channels")
            stride = tok.stride or 1
            if tok.padding is not None:
                pad: tuple[int, int] = (tok.padding, tok.padding)
            elif "valid" in tok.flags:
                pad = (0, 0)
            else:
                pad = ((k[0] - 1) // 2 * tok.dilation, (k[1] - 1) // 2 * tok.dilation)
            layers.append(
                nn.Conv2d(
                    ch,
                    out,
                    k,
                    stride,
                    pad,
                    dilation=tok.dilation,
                    groups=tok.groups,
                    bias="nobias" not in tok.flags,
                )
            )
            hw = _out_hw(hw, k, (stride, stride), pad, tok.dilation, False, bad)
            ch = out
            if batch_norm:
                layers.append(nn.BatchNorm2d(ch))
            if act and "linear" not in tok.flags:
                layers.append(nn.ReLU(inplace=True))
        elif tok.kind in ("maxpool", "avgpool"):
            k = tok.kernel or (2, 2)
            s = tok.stride or k[0]
            p = tok.padding or 0
            ceil = "ceil" in tok.flags
            kk = k[0] if k[0] == k[1] else k
            if tok.kind == "maxpool":
                layers.append(nn.MaxPool2d(kk, s, p, ceil_mode=ceil))
            else:
                layers.append(nn.AvgPool2d(kk, s, p, ceil_mode=ceil))
            hw = _out_hw(hw, k, (s, s), (p, p), 1, ceil, bad)
        elif tok.kind == "gap":
            layers.append(nn.AdaptiveAvgPool2d(1))
            hw = (1, 1)
        elif tok.kind == "flatten":
            if flat is None:
                layers.append(nn.Flatten())
                flat = ch * math.prod(hw) if hw is not None else None
                if hw is None:
                    flat = -1
        elif tok.kind == "fc":
            if flat is None:
                if hw is None:
                    raise bad(
                        "a fully-connected layer after spatial layers needs input_size (e.g. --input "
                        "3x224x224) to know its number of inputs"
                    )
                layers.append(nn.Flatten())
                flat = ch * hw[0] * hw[1]
            if flat == -1:
                raise bad(
                    "a fully-connected layer after flatten needs input_size to know its number of inputs"
                )
            out = int(tok.n)  # type: ignore[arg-type]
            layers.append(nn.Linear(flat, out, bias="nobias" not in tok.flags))
            flat = out
            if act and tok.index != last_fc and "linear" not in tok.flags:
                layers.append(nn.ReLU(inplace=True))
        elif tok.kind == "relu":
            layers.append(nn.ReLU(inplace=True))
        elif tok.kind == "bn":
            layers.append(nn.BatchNorm2d(ch) if flat is None else nn.BatchNorm1d(flat))
        elif tok.kind == "lrn":
            if flat is not None:
                raise bad(
                    "LRN normalises across channels of a feature map and cannot follow a flattened layer"
                )
            layers.append(LocalResponseNorm())
        elif tok.kind == "dropout":
            layers.append(nn.Dropout(0.5 if tok.n is None else tok.n))
        elif tok.kind == "softmax":
            layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers)


def _out_hw(
    hw: tuple[int, int] | None,
    k: tuple[int, int],
    s: tuple[int, int],
    p: tuple[int, int],
    d: int,
    ceil: bool,
    bad,
) -> tuple[int, int] | None:  # noqa: ANN001
    """Output size ``floor((N + 2P - D(K-1) - 1) / S) + 1`` (ceil with ``ceil_mode``); vanishing is an
    error."""
    if hw is None:
        return None
    out = []
    for n, kk, ss, pp in zip(hw, k, s, p):
        span = n + 2 * pp - d * (kk - 1) - 1
        if span < 0:
            raise bad(f"the {kk}x{kk} window does not fit the {hw[0]}x{hw[1]} map it gets")
        o = (-(-span // ss) if ceil else span // ss) + 1
        if ceil and (o - 1) * ss >= n + pp:
            o -= 1
        out.append(o)
    return (out[0], out[1])
