"""MobileNets.

**v1**: Howard, Zhu, Chen, Kalenichenko, Wang, Weyand, Andreetto and Adam, "MobileNets: Efficient
Convolutional Neural Networks for Mobile Vision Applications", arXiv:1704.04861, 2017. Reproduces Table 1 (the
body: a 3x3/2 convolution with 32 maps, 13 depthwise-separable layers 64-128-128-256-256-512-5x512-1024-1024,
global average pooling, a fully connected classifier), every convolution followed by BN and ReLU (Fig. 3),
with the width multiplier alpha of Sec. 3.3 (Table 6: 1.0 / 0.75 / 0.5 / 0.25) and the resolution multiplier
rho of Sec. 3.4 (Table 7), which is just the input size (224 / 192 / 160 / 128). The paper's Table 6 parameter
counts (4.2 / 2.6 / 1.3 / 0.5 M) count convolution weights and the classifier, not BN's gamma/beta; our models
carry BN (as the paper trains them), so their counts are higher by exactly the BN parameters.

**v2**: Sandler, Howard, Zhu, Zhmoginov and Chen, "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
CVPR 2018. Reproduces Table 2 (a 3x3/2 conv with 32 maps, 17 inverted-residual bottlenecks with expansion t,
linear 1x1 projections and ReLU6, a 1x1 conv to 1280, global pooling, classifier) with the width multiplier
(channels rounded to multiples of 8; the last conv is not thinned below 1280), and uses torchvision's module
names (``features.1.conv.0.0.weight``, ``classifier.1.weight``), so torchvision state dicts load unchanged.

Deviations from the papers:

- v1: none in the architecture; the classifier is ``fc`` (no dropout; the paper names none). Channels under a
  width multiplier are ``int(alpha * c)`` (as in the paper's Table 6 counts).
- v2: the classifier has Dropout(0.2) before it, as torchvision and the TF reference implementation.

Parameter counts of v2: torchvision's model, which we reproduce exactly, has 3,504,872 parameters (1000
classes, BN gamma/beta included). Without BN's gamma/beta it has 3,470,760, which is the TF checkpoint's
"3.47M" (and the paper's rounded 3.4M); for width 1.4 the same two counts are 6,108,776 and 6,060,840 (TF:
6.06M; the paper's Table 4 says 6.9M). osmr's 3,504,960 is 88 more than torchvision's; we could not check why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .base import ZooModel
from .layers import conv_bn_act, init_he

PAPER_V1 = (
    "Howard et al.: MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications "
    "(arXiv 2017)"
)
#: what every registration of each paper of this file shares
_V1_INFO: dict[str, Any] = dict(family="mobilenet", recipe="mobilenet_v1", paper=PAPER_V1, year=2017)
PAPER_V2 = (
    "Sandler, Howard, Zhu, Zhmoginov, Chen: MobileNetV2: Inverted Residuals and Linear Bottlenecks (CVPR'18)"
)
_V2_INFO: dict[str, Any] = dict(family="mobilenet", recipe="mobilenet_v2", paper=PAPER_V2, year=2018)

# --------------------------------------------------------------------------------------------------- v1

# (output channels, stride) of the 13 depthwise-separable layers of Table 1.
_V1_LAYERS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


def _check_multiplier(what: str, value: float) -> None:
    """A width multiplier must be positive (MobileNet Sec. 3.3; MobileNetV2 Sec. 6.1)."""
    if not value > 0:
        raise CnnzooError(f"{what} must be positive, got {value}.")


class DepthwiseSeparable(nn.Module):
    """Depthwise 3x3 conv (a filter per channel) -> BN -> ReLU -> pointwise 1x1 conv -> BN -> ReLU, Fig. 3."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.dw = conv_bn_act(in_ch, in_ch, 3, stride, groups=in_ch)
        self.pw = conv_bn_act(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class MobileNetV1(ZooModel):
    """MobileNet v1 (Table 1) with width multiplier ``alpha`` (Sec. 3.3)."""

    classifier_attr = "fc"
    layer_group_names = {a: (a,) for a in ("stem", "blocks", "fc")}

    def __init__(
        self, alpha: float = 1.0, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.0
    ) -> None:
        super().__init__()
        _check_multiplier("width multiplier alpha", alpha)

        def width(c: int) -> int:
            return max(1, int(c * alpha))

        self.num_classes = num_classes
        ch = width(32)
        self.stem = conv_bn_act(in_chans, ch, 3, 2)
        blocks = []
        for c, s in _V1_LAYERS:
            blocks.append(DepthwiseSeparable(ch, width(c), s))
            ch = width(c)
        self.blocks = nn.Sequential(*blocks)
        self.num_features = ch
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(ch, num_classes)
        init_he(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
        return x if pre_logits else self.fc(x)


_V1_ERR = "ILSVRC-2012 val, single crop (MobileNet Tables 6-7); top-5 not reported"
_V1_NOTE = (
    "paper_params is the paper's exact no-BN count (Table 6: conv weights + FC); our model has BN, so it "
    "has 2 x (BN channels) more; MACs exact conv+FC count at 224 (Table 6)"
)
_V1_DEV = ("BN gamma/beta are counted in our parameters (the paper's Table 6 count leaves them out)",)


@register_model(
    **_V1_INFO,
    paper_params=4_210_088,
    paper_macs=568.7e6,
    figures_note=_V1_NOTE + "; 192/160/128 inputs: 418/290/186 M (Table 7)",
    paper_top1=29.4,
    error_protocol=_V1_ERR,
    deviations=_V1_DEV,
)
def mobilenet_v1(
    num_classes: int = 1000, in_chans: int = 3, alpha: float = 1.0, dropout: float = 0.0
) -> MobileNetV1:
    """MobileNet v1 1.0 (Table 1; width multiplier ``alpha``, resolution multiplier = the input size)."""
    return MobileNetV1(alpha, num_classes, in_chans, dropout)


# name: width multiplier, the paper's no-BN parameters, MACs at 224 and top-1 error (Table 6)
_V1_THIN = {
    "mobilenet_v1_075": (0.75, 2_569_144, 325.4e6, 31.6),
    "mobilenet_v1_050": (0.5, 1_320_648, 149.5e6, 36.3),
    "mobilenet_v1_025": (0.25, 464_600, 41.0e6, 49.4),
}
for _name, (_alpha, _params, _macs, _top1) in _V1_THIN.items():
    register_model(
        _name,
        **_V1_INFO,
        defaults={"alpha": _alpha},
        paper_params=_params,
        paper_macs=_macs,
        figures_note=_V1_NOTE,
        paper_top1=_top1,
        error_protocol=_V1_ERR,
        deviations=_V1_DEV,
        description=f"MobileNet v1 {_alpha:g} (Table 6).",
    )(mobilenet_v1)


# --------------------------------------------------------------------------------------------------- v2


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round a channel count to the nearest multiple of ``divisor`` without losing more than 10% (TF rule)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_bn_relu6(in_ch: int, out_ch: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv -> BN -> ReLU6, an ``nn.Sequential`` with children 0, 1, 2 (as Conv2dNormActivation)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """Bottleneck residual block (Table 1 of the v2 paper): 1x1 expansion by t -> ReLU6 -> depthwise 3x3
    (stride) -> ReLU6 -> linear 1x1 projection (no activation); the input is added when stride is 1 and the
    widths agree. ``kernel_size`` 5 gives EfficientNet's MBConv k5x5 (without squeeze-and-excitation; used by
    :mod:`cnnzoo.models.efficientnet_lite`)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int, kernel_size: int = 3) -> None:
        super().__init__()
        hidden = int(round(in_ch * expand_ratio))
        self.use_res_connect = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_relu6(in_ch, hidden, 1))
        layers += [
            conv_bn_relu6(hidden, hidden, kernel_size, stride, groups=hidden),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


# t (expansion), c (channels), n (repeats), s (first stride): Table 2 of the v2 paper.
_V2_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def stage_groups(stage_ends: list[int], n_feats: int, first: int) -> dict[str, tuple[str, ...]]:
    """Layer groups of an inverted-residual network's ``features``: ``stem`` (``features.0``), one
    ``stage{first}``, ``stage{first + 1}``... per row of the paper's table (blocks up to each of
    ``stage_ends``), and ``head`` (the last 1x1 conv and the classifier)."""
    bounds = [1, *stage_ends]
    stages = {
        f"stage{i + first}": tuple(f"features.{j}" for j in range(a, b))
        for i, (a, b) in enumerate(zip(bounds, bounds[1:]))
    }
    return {"stem": ("features.0",), **stages, "head": (f"features.{n_feats - 1}", "classifier")}


class InvertedResidualNet(ZooModel):
    """What MobileNetV2 and EfficientNet-Lite share: a 3x3/2 stem convolution, rows of inverted-residual
    blocks (one layer group per row of the paper's table), a 1x1 convolution to the head width, global average
    pooling and a dropout-linear classifier, with torchvision's module names (``features.N``,
    ``classifier.1``)."""

    classifier_attr = "classifier.1"

    def _build(
        self,
        in_chans: int,
        stem: int,
        rows: Sequence[tuple[int, int, int, int, int]],
        last: int,
        num_classes: int,
        dropout: float,
        first_stage: int,
    ) -> None:
        """``rows`` of ``(expansion t, channels c, repeats n, first stride s, depthwise kernel k)``; the layer
        groups are ``stem``, ``stage{first_stage}``... (one per row) and ``head`` (the 1x1 conv and the
        classifier)."""
        self.num_classes, ch = num_classes, stem
        feats: list[nn.Module] = [conv_bn_relu6(in_chans, ch, 3, 2)]
        self._stage_ends: list[int] = []
        for t, c, n, s, k in rows:
            for i in range(n):
                feats.append(InvertedResidual(ch, c, s if i == 0 else 1, t, kernel_size=k))
                ch = c
            self._stage_ends.append(len(feats))
        feats.append(conv_bn_relu6(ch, last, 1))
        self.features = nn.Sequential(*feats)
        self.num_features = last
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        self.layer_group_names = stage_groups(self._stage_ends, len(feats), first=first_stage)
        # feature levels: the stages' last blocks, not the 1x1 head convolution (timm's choice)
        self.feature_points = tuple(f"features.{end - 1}" for end in self._stage_ends)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return x if pre_logits else self.classifier(x)


class MobileNetV2(InvertedResidualNet):
    """MobileNetV2 (Table 2) with torchvision's module names and width multiplier ``width_mult``."""

    def __init__(
        self, width_mult: float = 1.0, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.2
    ) -> None:
        super().__init__()
        _check_multiplier("width_mult", width_mult)
        rows = [(t, make_divisible(c * width_mult), n, s, 3) for t, c, n, s in _V2_SETTING]
        stem, last = make_divisible(32 * width_mult), make_divisible(1280 * max(1.0, width_mult))
        # groups: ``stem``, ``stage1`` ... ``stage7`` (the rows of Table 2), ``head``
        self._build(in_chans, stem, rows, last, num_classes, dropout, first_stage=1)
        init_he(self)


_V2_ERR = "ILSVRC-2012 val, single crop (MobileNetV2 Table 4); top-5 not reported in the paper"
_V2_DEV = ("Dropout(0.2) before the classifier, as torchvision and the TF implementation",)


@register_model(
    **_V2_INFO,
    paper_params=3_504_872,
    paper_macs=300e6,
    figures_note=(
        "paper: 3.4M, 300M MAdds (Table 4); exact params are torchvision's count, which we "
        "reproduce (TF checkpoint 3.47M, osmr 3,504,960); MACs our exact count is ~300.8M"
    ),
    paper_top1=28.0,
    error_protocol=_V2_ERR,
    deviations=_V2_DEV,
    peer="torchvision.models.mobilenet_v2",
)
def mobilenet_v2(
    num_classes: int = 1000, in_chans: int = 3, width_mult: float = 1.0, dropout: float = 0.2
) -> MobileNetV2:
    """MobileNetV2 1.0 (Table 2; width multiplier ``width_mult``)."""
    return MobileNetV2(width_mult, num_classes, in_chans, dropout)


register_model(
    "mobilenet_v2_140",
    **_V2_INFO,
    defaults={"width_mult": 1.4},
    paper_params=6_900_000,
    paper_macs=585e6,
    figures_note=(
        "paper's rounded 6.9M / 585M MAdds (Table 4); our exact count is 6,108,776 "
        "(torchvision's width_mult=1.4; TF's checkpoint reports 6.06M)"
    ),
    paper_top1=25.3,
    error_protocol=_V2_ERR,
    deviations=_V2_DEV,
    peer="torchvision.models.mobilenet_v2(width_mult=1.4)",
    description="MobileNetV2 1.4 (Table 4).",
)(mobilenet_v2)
