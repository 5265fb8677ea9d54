"""NASNet-A (Zoph, Vasudevan, Shlens, Le, 2018): the architecture found by neural architecture search.

Paper: "Learning Transferable Architectures for Scalable Image Recognition", CVPR 2018 (arXiv:1707.07012).
Reproduced: Fig. 4 (the NASNet-A normal and reduction cells: five blocks of two operations each, outputs of
unused blocks concatenated), Fig. 2 (the ImageNet scheme: a 3x3/2 stem conv, two reduction "stem" cells,
then N normal cells, a reduction cell, N normal cells, a reduction cell, N normal cells), Appendix A.1
(separable convolutions applied twice, ReLU-conv-BN order, 1x1 projection of each cell input, factorised
reduction of a previous input whose grid is twice as large), Sec. 4 / Table 2 (NASNet-A "N @ P": N normal
cells per stage, P penultimate filters = 24 x the cell's base filter count) and ScheduledDropPath
(drop-path, linearly stronger with depth).

Models: ``nasnet_a_mobile`` = 4 @ 1056 (44 base filters, 32-filter stem conv) at 224x224;
``nasnet_a_large`` = 6 @ 4032 (168 base filters, 96-filter stem conv) at 331x331. Filters double at each
reduction; the stem cells use 1/4 and 1/2 of the base filters.

Figures (``tests/models/test_nasnet.py``): Mobile 5,289,978 parameters, 563.6 M MACs at
224 (paper 564 M; osmr 585 M, 3.8% more); Large 88,753,150 parameters, 23.78 G MACs at 331 (paper
23.8 B; osmr 23.98 G, 0.8% more). Both
parameter counts are osmr's / timm's exactly and round to Table 2's 5.3 M / 88.9 M (the paper's figure
includes the auxiliary head's ~0.1 M more for Large).

Details taken from the authors' released TF-slim code where the paper leaves them open:
"SAME" padding (asymmetric for stride-2 operations on even grids), BN epsilon 1e-3, average pools that
exclude padding, the factorised reduction (two 1x1/2 convs, the second on the input shifted by one pixel),
dense dropout keep probability 0.5, drop-path keep probability 0.7 for Large (1.0 for Mobile), and the
input of the cell after each reduction: the released Large model skips the reduction cell's input
(``skip_reduction_layer_input=1``), Mobile does not.

Deviations:

- No auxiliary classifier (the released code trains with one at weight 0.4); the parameter counts above are
  the inference network's.
- Drop-path probability grows with depth (cell ``i`` of ``T``: ``rate * (i + 1) / T``) but not with training
  time (the paper's "Scheduled" ramp over training steps is left to the training loop, which may set
  ``module.drop_prob`` on each :class:`~cnnzoo.models.layers.DropPath`).
- timm's ``nasnetalarge`` pads stride-2 average pools with zeros that it then counts; ours exclude the padding
  as TensorFlow does: ``count_include_pad=True`` gives timm's form (for loading timm files to 1e-5).
- Parameter names follow timm's ``nasnetalarge``.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .base import ZooModel
from .layers import DropPath, conv_bn_act

PAPER = "Zoph et al., Learning Transferable Architectures for Scalable Image Recognition, CVPR 2018"
_BN_EPS = 1e-3


def _same_pad_amounts(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) of one spatial dimension."""
    total = max((math.ceil(size / s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, k: int, s: int, value: float = 0.0) -> torch.Tensor:
    top, bottom = _same_pad_amounts(x.shape[-2], k, s)
    left, right = _same_pad_amounts(x.shape[-1], k, s)
    return F.pad(x, (left, right, top, bottom), value=value)


class SameConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow "SAME" padding (computed per input for stride 2)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            cin, cout, k, stride, padding=(k // 2 if stride == 1 else 0), groups=groups, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] > 1:
            x = _pad_same(x, self.kernel_size[0], self.stride[0])
        return super().forward(x)


class SamePool(nn.Module):
    """3x3 max or average pooling with TensorFlow "SAME" padding; average pools exclude the padding from the
    count unless ``count_include_pad`` (timm's stride-2 form)."""

    def __init__(self, kind: str, stride: int, count_include_pad: bool = False) -> None:
        super().__init__()
        self.kind, self.stride, self.count_include_pad = kind, stride, count_include_pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "max":
            if self.stride == 1:
                return F.max_pool2d(x, 3, 1, 1)
            return F.max_pool2d(_pad_same(x, 3, self.stride, float("-inf")), 3, self.stride)
        if self.stride == 1:
            return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        out = F.avg_pool2d(_pad_same(x, 3, self.stride), 3, self.stride)
        if self.count_include_pad:
            return out
        ones = _pad_same(torch.ones_like(x[:1, :1]), 3, self.stride)
        return out / F.avg_pool2d(ones, 3, self.stride)

    def extra_repr(self) -> str:
        return f"{self.kind}, stride={self.stride}"


class ReLUConvBN(nn.Module):
    """ReLU -> 1x1 conv -> BN: the projection of a cell input to the cell's filter count (Appendix A.1)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.act = nn.ReLU()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.act(x)))


class SeparableConv2d(nn.Module):
    """Depthwise k x k (stride ``stride``) then pointwise 1x1, no bias."""

    def __init__(self, cin: int, cout: int, k: int, stride: int) -> None:
        super().__init__()
        self.depthwise_conv2d = SameConv2d(cin, cin, k, stride, groups=cin)
        self.pointwise_conv2d = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv2d(self.depthwise_conv2d(x))


class BranchSeparables(nn.Module):
    """A "k x k separable" operation of Fig. 4: (ReLU, separable conv, BN) twice, the stride in the first.
    The first separable conv maps to ``cin`` channels, or to ``cout`` when ``cin != cout`` (the stem cell's
    operations on the raw stem output)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1) -> None:
        super().__init__()
        mid = cin if cin == cout else cout
        self.act_1 = nn.ReLU()
        self.separable_1 = SeparableConv2d(cin, mid, k, stride)
        self.bn_sep_1 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self.act_2 = nn.ReLU()
        self.separable_2 = SeparableConv2d(mid, cout, k, 1)
        self.bn_sep_2 = nn.BatchNorm2d(cout, eps=_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn_sep_1(self.separable_1(self.act_1(x)))
        return self.bn_sep_2(self.separable_2(self.act_2(x)))


class _Cell(nn.Module):
    """Shared input handling of a cell: the current input ``x`` is projected by ``conv_1x1``; the previous
    input ``x_prev`` is projected (``conv_prev_1x1``), factorised-reduced (``path_1``/``path_2``/
    ``final_path_bn``) when its grid is twice as large, or used raw (the first stem cell)."""

    def __init__(self, cin: int, cin_prev: int, f: int, prev_mode: str, drop_prob: float) -> None:
        super().__init__()
        self.conv_1x1 = ReLUConvBN(cin, f)
        self.prev_mode = prev_mode
        if prev_mode == "project":
            self.conv_prev_1x1 = ReLUConvBN(cin_prev, f)
        elif prev_mode == "factorized":
            self.act = nn.ReLU()
            half = f // 2
            self.path_1 = nn.Sequential(
                OrderedDict(
                    avgpool=nn.AvgPool2d(1, 2, count_include_pad=False),
                    conv=nn.Conv2d(cin_prev, half, 1, bias=False),
                )
            )
            self.path_2 = nn.Sequential(
                OrderedDict(
                    pad=nn.ZeroPad2d((-1, 1, -1, 1)),  # shift by one pixel: take the odd positions
                    avgpool=nn.AvgPool2d(1, 2, count_include_pad=False),
                    conv=nn.Conv2d(cin_prev, f - half, 1, bias=False),
                )
            )
            self.final_path_bn = nn.BatchNorm2d(f, eps=_BN_EPS)
        elif prev_mode != "raw":
            raise ValueError(f"unknown prev_mode {prev_mode!r}")
        self.drop_path = DropPath(drop_prob)

    def _inputs(self, x: torch.Tensor, x_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cur = self.conv_1x1(x)
        if self.prev_mode == "project":
            prev = self.conv_prev_1x1(x_prev)
        elif self.prev_mode == "factorized":
            p = self.act(x_prev)
            prev = self.final_path_bn(torch.cat([self.path_1(p), self.path_2(p)], 1))
        else:
            prev = x_prev
        return cur, prev


class NormalCell(_Cell):
    """NASNet-A normal cell (Fig. 4, left). With ``h`` the current and ``p`` the previous input (both
    projected to ``f`` channels): b0 = sep5(h) + sep3(p); b1 = sep5(p) + sep3(p); b2 = avg3(h) + p;
    b3 = avg3(p) + avg3(p);
    b4 = sep3(h) + h; output concat(p, b0..b4), ``6 f`` channels. Drop-path acts on every non-identity
    operation in training."""

    def __init__(
        self, cin: int, cin_prev: int, f: int, prev_mode: str = "project", drop_prob: float = 0.0
    ) -> None:
        super().__init__(cin, cin_prev, f, prev_mode, drop_prob)
        self.comb_iter_0_left = BranchSeparables(f, f, 5)
        self.comb_iter_0_right = BranchSeparables(f, f, 3)
        self.comb_iter_1_left = BranchSeparables(f, f, 5)
        self.comb_iter_1_right = BranchSeparables(f, f, 3)
        self.comb_iter_2_left = SamePool("avg", 1)
        self.comb_iter_3_left = SamePool("avg", 1)
        self.comb_iter_3_right = SamePool("avg", 1)
        self.comb_iter_4_left = BranchSeparables(f, f, 3)

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        h, p = self._inputs(x, x_prev)
        d = self.drop_path
        b0 = d(self.comb_iter_0_left(h)) + d(self.comb_iter_0_right(p))
        b1 = d(self.comb_iter_1_left(p)) + d(self.comb_iter_1_right(p))
        b2 = d(self.comb_iter_2_left(h)) + p
        b3 = d(self.comb_iter_3_left(p)) + d(self.comb_iter_3_right(p))
        b4 = d(self.comb_iter_4_left(h)) + h
        return torch.cat([p, b0, b1, b2, b3, b4], 1)


class ReductionCell(_Cell):
    """NASNet-A reduction cell (Fig. 4, right), stride 2: b0 = sep5(h) + sep7(p); b1 = max3(h) + sep7(p);
    b2 = avg3(h) + sep5(p); b3 = avg3/1(b0) + b1; b4 = sep3/1(b0) + max3(h); output concat(b1..b4), ``4 f``
    channels. The first stem cell applies its ``p`` operations to the raw stem output
    (``prev_mode="raw"``)."""

    def __init__(
        self,
        cin: int,
        cin_prev: int,
        f: int,
        prev_mode: str = "project",
        drop_prob: float = 0.0,
        count_include_pad: bool = False,
    ) -> None:
        super().__init__(cin, cin_prev, f, prev_mode, drop_prob)
        cp = cin_prev if prev_mode == "raw" else f
        self.comb_iter_0_left = BranchSeparables(f, f, 5, 2)
        self.comb_iter_0_right = BranchSeparables(cp, f, 7, 2)
        self.comb_iter_1_left = SamePool("max", 2)
        self.comb_iter_1_right = BranchSeparables(cp, f, 7, 2)
        self.comb_iter_2_left = SamePool("avg", 2, count_include_pad)
        self.comb_iter_2_right = BranchSeparables(cp, f, 5, 2)
        self.comb_iter_3_right = SamePool("avg", 1)
        self.comb_iter_4_left = BranchSeparables(f, f, 3, 1)
        self.comb_iter_4_right = SamePool("max", 2)

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        h, p = self._inputs(x, x_prev)
        d = self.drop_path
        b0 = d(self.comb_iter_0_left(h)) + d(self.comb_iter_0_right(p))
        b1 = d(self.comb_iter_1_left(h)) + d(self.comb_iter_1_right(p))
        b2 = d(self.comb_iter_2_left(h)) + d(self.comb_iter_2_right(p))
        b3 = d(self.comb_iter_3_right(b0)) + b1
        b4 = d(self.comb_iter_4_left(b0)) + d(self.comb_iter_4_right(h))
        return torch.cat([b1, b2, b3, b4], 1)


class NASNetA(ZooModel):
    """NASNet-A ``N @ P`` for ImageNet (Zoph et al., 2018, Fig. 2 and Table 2), timm ``nasnetalarge`` names:
    ``conv0``, ``cell_stem_0``, ``cell_stem_1``, ``cell_0``, ..., ``reduction_cell_0``, ...,
    ``last_linear``."""

    classifier_attr = "last_linear"

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        num_cells: int = 4,
        penultimate_filters: int = 1056,
        stem_filters: int = 32,
        skip_reduction_input: bool = False,
        drop_rate: float = 0.5,
        drop_path_rate: float = 0.0,
        count_include_pad: bool = False,
    ) -> None:
        super().__init__()
        for key, v in (("drop_rate", drop_rate), ("drop_path_rate", drop_path_rate)):
            if not isinstance(v, (int, float)) or not 0.0 <= v < 1.0:
                raise CnnzooError(f"{key} must be a number in [0, 1), got {v!r}.")
        if penultimate_filters % 24:
            raise CnnzooError(f"penultimate_filters must be a multiple of 24, got {penultimate_filters}.")
        self.num_classes = num_classes
        self.num_features = penultimate_filters
        self.skip_reduction_input = skip_reduction_input
        f = penultimate_filters // 24
        total = 3 * num_cells + 4  # normal + reduction + stem cells, for drop-path's depth ratio
        dp = [drop_path_rate * (i + 1) / total for i in range(total)]
        cip = count_include_pad

        self.conv0 = conv_bn_act(in_chans, stem_filters, 3, 2, 0, act=None, bn_eps=_BN_EPS)
        self.cell_stem_0 = ReductionCell(stem_filters, stem_filters, f // 4, "raw", dp[0], cip)
        self.cell_stem_1 = ReductionCell(4 * (f // 4), stem_filters, f // 2, "factorized", dp[1], cip)
        # (channels of the current and previous input) as the cells are stacked
        cur, prev = 4 * (f // 2), 4 * (f // 4)
        self.cell_names: list[str] = []
        idx, normal = 2, 0
        for stage in range(3):
            fs = f * 2**stage
            if stage > 0:
                name = f"reduction_cell_{stage - 1}"
                self.add_module(name, ReductionCell(cur, prev, fs, "project", dp[idx], cip))
                self.cell_names.append(name)
                idx += 1
                cur, prev = 4 * fs, (prev if skip_reduction_input else cur)
            for j in range(num_cells):
                name = f"cell_{normal}"
                mode = "factorized" if j == 0 else "project"
                self.add_module(name, NormalCell(cur, prev, fs, mode, dp[idx]))
                self.cell_names.append(name)
                idx += 1
                normal += 1
                cur, prev = 6 * fs, cur
        assert cur == penultimate_filters
        self.act = nn.ReLU()
        self.head_drop = nn.Dropout(float(drop_rate))
        self.last_linear = nn.Linear(penultimate_filters, num_classes)
        stage_len = num_cells + 1
        self.layer_group_names = {
            "stem": ("conv0", "cell_stem_0", "cell_stem_1"),
            **{
                f"stage_{s}": tuple(self.cell_names[s * stage_len - (s > 0) : (s + 1) * stage_len - 1])
                for s in range(3)
            },
            "head": ("last_linear",),
        }

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.conv0(x)
        s0 = self.cell_stem_0(x0, x0)
        prev, cur = s0, self.cell_stem_1(s0, x0)
        for name in self.cell_names:
            out = getattr(self, name)(cur, prev)
            if name.startswith("reduction") and self.skip_reduction_input:
                prev, cur = prev, out
            else:
                prev, cur = cur, out
        return self.act(cur)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(torch.flatten(x.mean((2, 3), keepdim=True), 1))
        return x if pre_logits else self.last_linear(x)


_COMMON_DEVIATIONS = (
    "No auxiliary classifier (the released code trains with one); counts are the inference network's.",
    "Drop-path probability grows with depth, not with training time (the schedule over steps is the training "
    "loop's: set DropPath.drop_prob).",
)


@register_model(
    family="nasnet",
    recipe="nasnet",
    paper=PAPER,
    year=2018,
    input_size=(3, 224, 224),
    paper_params=5_289_978,
    paper_macs=564e6,
    figures_note=(
        "Table 2: 5.3 M parameters, 564 M multiply-adds; 5,289,978 is the exact count (osmr, "
        "without the auxiliary head). osmr's compute count is 585 M."
    ),
    paper_top1=26.0,
    paper_top5=8.4,
    error_protocol="single crop 224x224, ILSVRC-2012 validation (Table 2: accuracy 74.0 / 91.6)",
    deviations=_COMMON_DEVIATIONS,
    peer=None,
)
def nasnet_a_mobile(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.5,
    drop_path_rate: float = 0.0,
    count_include_pad: bool = False,
) -> NASNetA:
    """NASNet-A Mobile, 4 @ 1056 (Zoph et al., 2018, Table 2), 224x224 input."""
    return NASNetA(num_classes, in_chans, 4, 1056, 32, False, drop_rate, drop_path_rate, count_include_pad)


@register_model(
    family="nasnet",
    recipe="nasnet",
    paper=PAPER,
    year=2018,
    input_size=(3, 331, 331),
    paper_params=88_753_150,
    paper_macs=23.8e9,
    figures_note=(
        "Table 2: 88.9 M parameters, 23.8 B multiply-adds; 88,753,150 is the exact count (osmr and "
        "timm nasnetalarge, without the auxiliary head). osmr's compute count is 23.98 G."
    ),
    paper_top1=17.3,
    paper_top5=3.8,
    error_protocol="single crop 331x331, ILSVRC-2012 validation (Table 2: accuracy 82.7 / 96.2)",
    deviations=(
        *_COMMON_DEVIATIONS,
        "Stride-2 average pools exclude the SAME padding (TensorFlow); timm's port counts it: "
        "count_include_pad=True.",
    ),
    peer="timm nasnetalarge (count_include_pad=True)",
)
def nasnet_a_large(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_rate: float = 0.5,
    drop_path_rate: float = 0.3,
    count_include_pad: bool = False,
) -> NASNetA:
    """NASNet-A Large, 6 @ 4032 (Zoph et al., 2018, Table 2), 331x331 input, drop-path keep prob. 0.7."""
    return NASNetA(num_classes, in_chans, 6, 4032, 96, True, drop_rate, drop_path_rate, count_include_pad)
