"""LeNet-5, as LeCun, Bottou, Bengio and Haffner drew it in "Gradient-Based Learning Applied to Document
Recognition" (Proc. IEEE, 1998), Sec. II-B and Fig. 2.

The network reproduces the paper layer by layer (see ``paper_numbers.md`` section 6)::

    input 32x32x1 -> C1 conv 5x5, 6 maps (156 params) -> S2 trainable 2x2 subsampling (12)
    -> C3 conv 5x5, 16 maps, sparse connection table (Table I; 1,516) -> S4 subsampling (32)
    -> C5 conv 5x5, 120 maps (48,120) -> F6 fully connected, 84 units (10,164)
    -> 10 Euclidean RBF units with fixed +1/-1 prototypes (840 fixed weights, not trainable)

That is 60,000 trainable parameters and 340,908 connections (:meth:`LeNet5.connections`). Every layer up to
F6 is followed by the squashing function ``f(a) = A tanh(S a)`` with ``A = 1.7159`` and ``S = 2/3``
(Appendix A). A subsampling unit adds its four inputs, multiplies the sum by a trainable coefficient, adds a
trainable bias (one of each per map) and squashes the result. C3 is built from three grouped convolutions
over the gathered input maps of Table I (maps 0-5 see 3 inputs, 6-14 see 4, map 15 sees all 6), so its
parameters *are* the 1,516 of the paper and a convolution-counting profiler sees its true 150,000 MACs.

**Output.** The RBF unit ``i`` computes ``y_i = sum_j (x_j - w_ij)^2``, a distance: smaller means more
likely. :meth:`LeNet5.forward` returns the logits ``-y`` so that ``cross_entropy(-y, target)`` is the paper's
maximum a-posteriori criterion, Eq. (9), without its constant "rubbish class" term ``e^{-j}``.

Deviations of ``lenet5`` from the paper (also in its ``ModelInfo``):

- The paper's RBF prototypes are 7x12 bitmaps of its stylised ASCII characters (Fig. 3), not published as
  numbers. We hand-draw a 7x12 bitmap font of the digits 0-9 (:data:`DIGIT_BITMAPS`) as a deterministic
  stand-in; for ``num_classes != 10`` the prototypes are a fixed pseudo-random +1/-1 code (seed 0).
- The criterion's constant ``j`` (rubbish class) is dropped: cross-entropy on ``-y`` is Eq. (9) with
  ``j -> infinity``.

**Training arithmetic.** In training mode three layers compute the same function by faster sums (each
measured on a 2-core AMD EPYC, interleaved, batch 16): the squashing function as ``2A sigmoid(2S a) - A``
(torch's CPU ``tanh`` of C1's 16x6x28x28 outputs took 180 us, its ``sigmoid`` 19 us), C5 as one matrix
product over its 5x5 input (``F.linear`` with the same weights; oneDNN's convolution backward for a 1x1 output
was the slower), and C3 as one dense 6->16 convolution over a kernel whose dead connections are zero (see
:class:`SparseConv2d`): together 11-15% less time per step. Evaluation, export and the profilers keep the
paper's form (``A tanh(S a)``, C5 a convolution, C3's grouped convolutions); the two agree to float rounding.

Variants: ``lenet5_linear`` replaces the RBF by ``Linear(84, num_classes)`` (60,850 params);
``lenet5_modern`` uses ReLU, 2x2 max-pooling, a fully connected C3 (2,416) and a linear output (61,706).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .base import ZooModel

PAPER = "Gradient-Based Learning Applied to Document Recognition (LeCun, Bottou, Bengio, Haffner)"
#: what every registration of each paper of this file shares
_PAPER_INFO: dict[str, Any] = dict(
    family="lenet", recipe="lenet5", paper=PAPER, year=1998, input_size=(1, 32, 32)
)

#: LeNet-5 Table I: for each C3 map (0..15), the S2 maps it sees.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (0, 4, 5),
    (0, 1, 5),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (0, 3, 4, 5),
    (0, 1, 4, 5),
    (0, 1, 2, 5),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

#: Our hand-drawn 7-wide, 12-high digit bitmaps, 0 to 9 from left to right: the stand-in for the paper's RBF
#: prototypes (Fig. 3 draws its ASCII set the same way). ``#`` is +1, ``.`` is -1.
_DIGIT_FONT = """
    ....... ....... ....... ....... ....... ....... ....... ....... ....... .......
    ..###.. ...#... .####.. ######. ....#.. ####### ..###.. ####### ..###.. ..###..
    .#...#. ..##... #....#. .....#. ...##.. #...... .#..... ......# .#...#. .#...#.
    #.....# .#.#... ......# ....#.. ..#.#.. #...... #...... .....#. .#...#. #.....#
    #.....# ...#... .....#. ...##.. .#..#.. #####.. #.###.. ....#.. ..###.. #.....#
    #.....# ...#... ....#.. .....#. #...#.. .....#. ##...#. ...#... .#...#. .#...##
    #.....# ...#... ...#... ......# ####### ......# #.....# ...#... #.....# ..###.#
    #.....# ...#... ..#.... ......# ....#.. ......# #.....# ..#.... #.....# ......#
    .#...#. ...#... .#..... #....#. ....#.. #....#. .#...#. ..#.... .#...#. .....#.
    ..###.. .#####. ####### .####.. ....#.. .####.. ..###.. ..#.... ..###.. ..###..
    ....... ....... ....... ....... ....... ....... ....... ....... ....... .......
    ....... ....... ....... ....... ....... ....... ....... ....... ....... .......
"""
#: The same bitmaps one digit at a time, 12 rows of 7 each, read row by row into 84 values.
DIGIT_BITMAPS: tuple[tuple[str, ...], ...] = tuple(
    zip(*(row.split() for row in _DIGIT_FONT.splitlines() if row.strip()))
)


def rbf_prototypes(num_classes: int, dim: int = 84) -> torch.Tensor:
    """The fixed +1/-1 RBF prototypes, ``(num_classes, dim)``: our digit bitmaps for 10 classes and 84 inputs,
    else a pseudo-random +1/-1 code drawn with seed 0 (deterministic on every machine)."""
    if num_classes == 10 and dim == 84:
        rows = ["".join(bitmap) for bitmap in DIGIT_BITMAPS]
        return torch.tensor([[1.0 if ch == "#" else -1.0 for ch in row] for row in rows])
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 2, (num_classes, dim), generator=gen).float() * 2 - 1


class ScaledTanh(nn.Module):
    """LeNet-5's squashing function ``f(a) = A tanh(S a)``, ``A = 1.7159``, ``S = 2/3`` (LeCun 1998, App. A),
    chosen so that ``f(1) = 1`` and ``f(-1) = -1``."""

    def __init__(self, amplitude: float = 1.7159, slope: float = 2.0 / 3.0) -> None:
        super().__init__()
        self.amplitude, self.slope = amplitude, slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:  # the same function, ~9x cheaper on CPU (see the module docstring)
            return torch.sigmoid(x * (2 * self.slope)) * (2 * self.amplitude) - self.amplitude
        return self.amplitude * torch.tanh(self.slope * x)

    def extra_repr(self) -> str:
        return f"A={self.amplitude}, S={self.slope:.4f}"


class Subsampling(nn.Module):
    """S2/S4 of LeNet-5: each unit adds the four inputs of its non-overlapping 2x2 window, multiplies by a
    trainable coefficient and adds a trainable bias, one coefficient and one bias per map (2 params/map)."""

    def __init__(self, channels: int, kernel_size: int = 2) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.avg_pool2d(x, self.kernel_size, divisor_override=1)  # the sum of each window
        return s * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, kernel_size={self.kernel_size}"


class SparseConv2d(nn.Module):
    """A convolution whose output map ``i`` sees only the input maps ``table[i]`` (LeNet-5's C3, Table I).

    Consecutive output maps with the same fan-in form one grouped convolution over their gathered inputs, so
    the parameters are exactly the live connections and the MACs a profiler counts are the true ones.
    """

    def __init__(self, table: Sequence[Sequence[int]], kernel_size: int) -> None:
        super().__init__()
        self.table = tuple(tuple(t) for t in table)
        self.convs = nn.ModuleList()
        runs: list[list[tuple[int, ...]]] = []
        for inputs in self.table:
            if runs and len(runs[-1][0]) == len(inputs):
                runs[-1].append(inputs)
            else:
                runs.append([inputs])
        for i, run in enumerate(runs):
            fan_in = len(run[0])
            self.convs.append(nn.Conv2d(fan_in * len(run), len(run), kernel_size, groups=len(run)))
            index = torch.tensor([c for inputs in run for c in inputs], dtype=torch.long)
            self.register_buffer(f"index{i}", index, persistent=False)
        self.in_channels = 1 + max(c for inputs in self.table for c in inputs)
        # where each live kernel sits in a dense (out, in) kernel grid: output map o, input map table[o][j]
        dense = [o * self.in_channels + c for o, inputs in enumerate(self.table) for c in inputs]
        self.register_buffer("dense_index", torch.tensor(dense, dtype=torch.long), persistent=False)

    def dense_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The live kernels scattered into a zero ``(out, in, k, k)`` kernel, and the biases: the same
        function as the grouped convolutions, as one dense convolution (gradients reach only live weights)."""
        w0 = self.convs[0].weight
        k = w0.shape[-2:]
        live = torch.cat([conv.weight.reshape(-1, *k) for conv in self.convs])
        w = w0.new_zeros(len(self.table) * self.in_channels, *k).index_copy(0, self.dense_index, live)
        bias = torch.cat([conv.bias for conv in self.convs])
        return w.view(len(self.table), self.in_channels, *k), bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            # Training speed only: on CPU one dense 6->16 convolution is ~10x faster than the grouped
            # ones (oneDNN's grouped backward is slow for tiny groups). Evaluation keeps the grouped
            # convolutions, so profilers and exports see the 150,000 live MACs of Table I.
            w, b = self.dense_weight()
            return F.conv2d(x, w, b)
        outs = [conv(x.index_select(1, getattr(self, f"index{i}"))) for i, conv in enumerate(self.convs)]
        return torch.cat(outs, 1)

    def extra_repr(self) -> str:
        return f"out_channels={len(self.table)}, connections={sum(len(t) for t in self.table)}"


class WindowConv2d(nn.Conv2d):
    """A convolution (LeNet-5's C5) whose kernel covers its whole input in training: there it is one matrix
    product with the same weights, ``F.linear`` over the flattened window (faster to train on CPU); other
    input sizes, evaluation, export and profilers see the convolution, and summaries name it one."""

    summary_type = "Conv2d"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        whole = x.shape[-2:] == self.weight.shape[-2:] and self.padding == (0, 0) and self.dilation == (1, 1)
        whole = whole and self.groups == 1
        if self.training and whole and x.ndim == 4:
            return F.linear(x.flatten(1), self.weight.flatten(1), self.bias)[:, :, None, None]
        return super().forward(x)


class EuclideanRBF(nn.Module):
    """LeNet-5's output layer: ``y_i = sum_j (x_j - w_ij)^2`` with fixed prototypes ``w`` (a buffer, not a
    parameter). Returns the logits ``-y``: the largest logit is the nearest prototype."""

    def __init__(self, prototypes: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("prototypes", prototypes.clone())

    @property
    def in_features(self) -> int:
        return self.prototypes.shape[1]

    @property
    def out_features(self) -> int:
        return self.prototypes.shape[0]

    def distances(self, x: torch.Tensor) -> torch.Tensor:
        """The squared Euclidean distances ``y`` of each input to each prototype, ``(batch, classes)``.

        Computed as ``|x|^2 - 2 x.w + |w|^2``: the product ``x.w`` is the layer's 840 multiply-accumulates,
        which a profiler counts as a matrix product."""
        c = self.prototypes
        return x.pow(2).sum(-1, keepdim=True) - 2 * (x @ c.t()) + c.pow(2).sum(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -self.distances(x)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features} (fixed prototypes)"


class LeNet5(ZooModel):
    """LeNet-5 (LeCun et al., 1998) and its modern variants; see the module docstring.

    Args:
        num_classes: number of outputs.
        in_chans: input channels (the paper: 1).
        act: ``"scaled_tanh"`` (the paper's ``1.7159 tanh(2a/3)``) or ``"relu"``.
        pool: ``"trainable"`` (the paper's S2/S4) or ``"max"``.
        c3: ``"sparse"`` (Table I) or ``"full"``.
        head: ``"rbf"`` (fixed Euclidean RBF prototypes) or ``"linear"``.
    """

    classifier_attr = "output"
    layer_group_names = {a: (a,) for a in ("c1", "s2", "c3", "s4", "c5", "f6", "output")}

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 1,
        act: str = "scaled_tanh",
        pool: str = "trainable",
        c3: str = "sparse",
        head: str = "rbf",
    ) -> None:
        super().__init__()
        options = (
            ("act", act, ("scaled_tanh", "relu")),
            ("pool", pool, ("trainable", "max")),
            ("c3", c3, ("sparse", "full")),
            ("head", head, ("rbf", "linear")),
        )
        for opt, value, allowed in options:
            if value not in allowed:
                raise CnnzooError(f"LeNet-5 option {opt}={value!r} is not one of {', '.join(allowed)}.")
        self.num_classes, self.head_kind, self.paper_init = num_classes, head, act == "scaled_tanh"

        def activation() -> nn.Module:
            return ScaledTanh() if act == "scaled_tanh" else nn.ReLU(inplace=True)

        def subsample(channels: int) -> nn.Sequential:
            if pool == "trainable":
                return nn.Sequential(OrderedDict(pool=Subsampling(channels), act=activation()))
            return nn.Sequential(OrderedDict(pool=nn.MaxPool2d(2)))

        self.c1 = nn.Sequential(OrderedDict(conv=nn.Conv2d(in_chans, 6, 5), act=activation()))
        self.s2 = subsample(6)
        c3_conv: nn.Module = SparseConv2d(C3_TABLE, 5) if c3 == "sparse" else nn.Conv2d(6, 16, 5)
        self.c3 = nn.Sequential(OrderedDict(conv=c3_conv, act=activation()))
        self.s4 = subsample(16)
        self.c5 = nn.Sequential(OrderedDict(conv=WindowConv2d(16, 120, 5), act=activation()))
        self.f6 = nn.Sequential(OrderedDict(fc=nn.Linear(120, 84), act=activation()))
        self.output: nn.Module = self._make_output(num_classes)
        if self.paper_init:
            self.reset_parameters()

    def _make_output(self, num_classes: int) -> nn.Module:
        if num_classes == 0:
            return nn.Identity()
        if self.head_kind == "rbf":
            return EuclideanRBF(rbf_prototypes(num_classes, 84))
        return nn.Linear(84, num_classes)

    def reset_parameters(self) -> None:
        """The paper's initialisation (App. A/C): every weight and bias uniform in ``(-2.4/F, 2.4/F)``, ``F``
        the fan-in of the unit it feeds (4 for a subsampling unit)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                fan_in = m.weight[0].numel()
            elif isinstance(m, Subsampling):
                fan_in = m.kernel_size**2
            else:
                continue
            bound = 2.4 / fan_in
            for p in (m.weight, m.bias):
                if p is not None:
                    nn.init.uniform_(p, -bound, bound)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """C1..C5: the 120x1x1 map of C5 (at the paper's 32x32 input)."""
        return self.c5(self.s4(self.c3(self.s2(self.c1(x)))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """F6 and the output: logits (for the RBF head, minus the squared distances), or F6's 84 states."""
        x = self.f6(torch.flatten(x, 1))
        return x if pre_logits else self.output(x)

    def get_classifier(self) -> nn.Module:
        return self.output

    def reset_classifier(self, num_classes: int) -> None:
        """A new output layer of the same kind (RBF with fresh fixed prototypes, or Linear); 0: identity."""
        device = self.f6.fc.weight.device
        self.output = self._make_output(num_classes).to(device)
        self.num_classes = num_classes

    @torch.no_grad()
    def connections(self, input_size: tuple[int, int, int] | None = None) -> OrderedDict[str, int]:
        """Connections per layer as the paper counts them (Sec. II-B): every multiply of an input by a weight
        plus one per bias, for each output unit; a subsampling unit has 4 + 1; an RBF unit one per input.

        Computed from the modules and the shapes of a forward pass (``input_size`` default ``(C, 32, 32)``).
        For ``lenet5`` the total is 340,908.
        """
        counts: OrderedDict[str, int] = OrderedDict()
        in_chans = self.c1.conv.in_channels
        x = torch.zeros((1, *(input_size or (in_chans, 32, 32))), device=self.f6.fc.weight.device)
        for name in self.layer_group_names:
            group = getattr(self, name)
            total = 0
            if name == "output":
                x = torch.flatten(x, 1)
            for m in group.modules():
                if isinstance(m, nn.Conv2d):
                    out_elems = m.out_channels * _conv_out_area(m, x)
                    total += out_elems * (m.weight[0].numel() + (m.bias is not None))
                elif isinstance(m, nn.Linear):
                    total += m.out_features * (m.in_features + (m.bias is not None))
                elif isinstance(m, Subsampling | nn.MaxPool2d):
                    k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
                    pooled = x.shape[1] * (x.shape[2] // k) * (x.shape[3] // k)
                    total += pooled * (k * k + isinstance(m, Subsampling))
                elif isinstance(m, EuclideanRBF):
                    total += m.prototypes.numel()
            counts[name] = total
            x = group(x) if name != "f6" else group(torch.flatten(x, 1))
        return counts


def _conv_out_area(conv: nn.Conv2d, x: torch.Tensor) -> int:
    """Output height x width of ``conv`` on input ``x`` (no padding or dilation in LeNet-5)."""
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    return ((x.shape[2] - kh) // sh + 1) * ((x.shape[3] - kw) // sw + 1)


#: the variants with a trainable linear output train at a larger first rate (`cnnzoo recipes
#: lenet5_linear_head`: the same recipe otherwise)
_LINEAR_HEAD = "lenet5_linear_head"
_COMMON = dict(
    **_PAPER_INFO,
    num_classes=10,
    paper_top1=0.95,
    error_protocol="MNIST test error (%) without distortions (0.8 with them); "
    "from memory, unconfirmed (paper_numbers.md section 6)",
    peer=None,
)


@register_model(
    paper_params=60_000,
    paper_macs=None,
    figures_note="paper_params: 60,000 trainable (C1..F6, exact); no paper_macs: the paper counts 340,908 "
    "'connections' (multiplies + biases + subsampling + RBF; LeNet5.connections()), not MACs (we count "
    "326,520).",
    deviations=(
        "RBF prototypes are our hand-drawn 7x12 digit bitmaps (the paper's Fig. 3 bitmaps are not "
        "published as numbers); pseudo-random +1/-1 codes for num_classes != 10",
        "forward returns -y (negative squared RBF distances) as logits; cross-entropy on them is "
        "Eq. (9) without the rubbish-class constant j",
    ),
    **_COMMON,
)
def lenet5(num_classes: int = 10, in_chans: int = 1) -> LeNet5:
    """LeNet-5 as in LeCun et al. 1998: scaled tanh, trainable subsampling, sparse C3, fixed RBF output."""
    return LeNet5(num_classes, in_chans)


@register_model(
    paper_params=60_850,
    paper_macs=None,
    figures_note="60,000 + Linear(84, 10) = 60,850 (computed, paper_numbers.md section 6); no paper_macs: "
    "the paper counts connections, here 340,068 + 850 = 340,918 (LeNet5.connections()), not MACs.",
    deviations=("output layer is a trainable Linear(84, num_classes) instead of the fixed RBF units",),
    **{**_COMMON, "recipe": _LINEAR_HEAD},
)
def lenet5_linear(num_classes: int = 10, in_chans: int = 1) -> LeNet5:
    """LeNet-5 with a linear output layer instead of the RBF units; everything else as in the paper."""
    return LeNet5(num_classes, in_chans, head="linear")


@register_model(
    paper_params=61_706,
    paper_macs=None,
    figures_note="no paper figure: 61,706 = 156 + 2,416 (full C3) + 48,120 + 10,164 + 850 (Linear output), "
    "computed from paper_numbers.md section 6; conv/linear MACs 416,520.",
    deviations=(
        "ReLU instead of the scaled tanh",
        "2x2 max-pooling instead of trainable subsampling",
        "C3 fully connected to S2 (2,416 params instead of 1,516)",
        "Linear(84, num_classes) output instead of the RBF units",
        "PyTorch default initialisation",
    ),
    **{**_COMMON, "recipe": _LINEAR_HEAD},
)
def lenet5_modern(num_classes: int = 10, in_chans: int = 1) -> LeNet5:
    """The common modern re-implementation of LeNet-5: ReLU, max-pooling, full C3, linear output."""
    return LeNet5(num_classes, in_chans, act="relu", pool="max", c3="full", head="linear")
