"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
ICLR 2015).

The six configurations of the paper's Table 1 (A, A-LRN, B, C, D, E) are written below in the paper's own
notation and built with :func:`cnnzoo.models.spec.build_from_spec`: 3x3 convolutions with stride 1 and
padding 1, 2x2 max-pooling with stride 2, ReLU after every hidden layer, three fully-connected layers
(4096, 4096, 1000) with dropout 0.5 after the first two (Sec. 3.1). Configuration C has 1x1 convolutions as
the third layer of its last three stages; A-LRN adds Krizhevsky et al.'s local response normalisation
after the first layer. The ``_bn`` variants (not in the paper) put BatchNorm after every convolution as
torchvision does.

Parameter names are torchvision's (``features.N``, ``classifier.N``), so ``torchvision:FILE`` state dicts of
``vgg11``...``vgg19_bn`` load directly.

Deviation, decided here: the paper's network takes a fixed 224x224 crop (7x7x512 reach the first FC layer),
and at test time converts its FC layers to convolutions for dense evaluation. torchvision instead inserts an
``AdaptiveAvgPool2d((7, 7))`` so any input >= 32 pixels works. We follow the paper by default (no pool; input
exactly 224..255) and offer ``adaptive_pool=True`` for torchvision's behaviour (it has no parameters, so state
dicts load either way).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..registry import register_model
from .base import ZooModel
from .layers import init_he
from .spec import build_from_spec

VGG_PAPER = (
    "K. Simonyan, A. Zisserman. Very Deep Convolutional Networks for Large-Scale Image Recognition. "
    "ICLR 2015 (arXiv:1409.1556)."
)
#: what every registration of each paper of this file shares
_VGG_INFO: dict[str, Any] = dict(
    family="vgg", recipe="vgg", paper=VGG_PAPER, year=2014, input_size=(3, 224, 224)
)

_HEAD = "fc-4096, dropout-0.5, fc-4096, dropout-0.5, fc-1000"

# Table 1 of the paper, stage by stage (a stage ends with "maxpool"), in the lecture notation.
_C64, _C128, _C256, _C512 = "conv3-64", "conv3-128", "conv3-256", "conv3-512"
_STAGES: dict[str, list[list[str]]] = {
    "A": [[_C64], [_C128], [_C256] * 2, [_C512] * 2, [_C512] * 2],
    "A-LRN": [[_C64, "LRN"], [_C128], [_C256] * 2, [_C512] * 2, [_C512] * 2],
    "B": [[_C64] * 2, [_C128] * 2, [_C256] * 2, [_C512] * 2, [_C512] * 2],
    "C": [
        [_C64] * 2,
        [_C128] * 2,
        [_C256] * 2 + ["conv1-256"],
        [_C512] * 2 + ["conv1-512"],
        [_C512] * 2 + ["conv1-512"],
    ],
    "D": [[_C64] * 2, [_C128] * 2, [_C256] * 3, [_C512] * 3, [_C512] * 3],
    "E": [[_C64] * 2, [_C128] * 2, [_C256] * 4, [_C512] * 4, [_C512] * 4],
}

#: One spec string per configuration, e.g. ``VGG_SPECS["A"] == "conv3-64, maxpool, conv3-128, maxpool, ..."``.
VGG_SPECS: dict[str, str] = {
    cfg: "".join(", ".join(stage) + ", maxpool, " for stage in stages) + _HEAD
    for cfg, stages in _STAGES.items()
}


class VGG(ZooModel):
    """A VGG network built from one of :data:`VGG_SPECS` (``features`` up to the last pool, ``classifier``
    the three FC layers; names as in torchvision)."""

    classifier_attr = "classifier.6"

    def __init__(
        self,
        config: str = "D",
        num_classes: int = 1000,
        in_chans: int = 3,
        batch_norm: bool = False,
        dropout: float = 0.5,
        adaptive_pool: bool = False,
        input_size: int = 224,
    ) -> None:
        super().__init__()
        if config not in VGG_SPECS:
            raise ValueError(f"unknown VGG configuration {config!r}; use one of {', '.join(VGG_SPECS)}")
        spec = (
            VGG_SPECS[config]
            .replace("fc-1000", f"fc-{num_classes}")
            .replace("dropout-0.5", f"dropout-{dropout}")
        )
        seq = build_from_spec(
            spec, in_chans=in_chans, input_size=7 * 32 if adaptive_pool else input_size, batch_norm=batch_norm
        )
        cut = next(i for i, m in enumerate(seq) if isinstance(m, nn.Flatten))
        self.config, self.num_classes = config, num_classes
        self.features = nn.Sequential(*seq[:cut])
        self.avgpool: nn.Module = nn.AdaptiveAvgPool2d((7, 7)) if adaptive_pool else nn.Identity()
        self.classifier = nn.Sequential(*seq[cut + 1 :])
        self.layer_group_names = self._vgg_groups()
        # Sec. 3.1 draws weights from N(0, 10^-2) with zero biases (the deeper nets initialised from A; the
        # authors note Glorot init works as well); convolutions take He's fan-out init as torchvision's do,
        # which trains the deep configurations from scratch
        init_he(self)

    def _vgg_groups(self) -> dict[str, tuple[str, ...]]:
        """``block1``..``block5`` (each ending in its max-pool, parts of ``features``), ``fc`` (FC6, FC7 and
        their dropout) and ``head`` (the last FC): the units the transfer strategies freeze and tune."""
        groups: dict[str, tuple[str, ...]] = {}
        start = 0
        for i, m in enumerate(self.features):
            if isinstance(m, nn.MaxPool2d):
                groups[f"block{len(groups) + 1}"] = tuple(f"features.{j}" for j in range(start, i + 1))
                start = i + 1
        last = len(self.classifier) - 1
        groups["fc"] = tuple(f"classifier.{j}" for j in range(last))
        groups["head"] = (f"classifier.{last}",)
        return groups

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.avgpool(self.features(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(x, 1)
        if pre_logits:
            return self.classifier[:-1](x)
        return self.classifier(x)


_DEVIATIONS = (
    "Input fixed to 224x224 as in the paper's training crops (Sec. 2.1); the paper's dense test-time "
    "evaluation (FC layers as convolutions) is not built in. `adaptive_pool=True` adds torchvision's "
    "AdaptiveAvgPool2d(7).",
    "Convolution weights use He (fan-out) initialisation instead of the paper's N(0, 0.01) with the deeper "
    "nets initialised from A (Sec. 3.1).",
)
_BN_DEVIATION = (
    "BatchNorm after every convolution (torchvision's vgg*_bn; not in the paper, which predates BatchNorm).",
)
_NOTE = (
    "Parameter counts are exact (computed, VGG Table 2 gives 133/133/133/134/138/144 M); MACs are computed "
    "at 224x224 (the VGG paper gives none; the ResNet paper quotes 15.3 G / 19.6 G for D / E)."
)
_PROTO_256 = "single test scale Q=256, trained at S=256, dense evaluation (VGG Table 3)"
_PROTO_JITTER = (
    "single test scale Q=384, trained with scale jitter S in [256; 512], dense evaluation (Table 3)"
)

# name: config, batch_norm, paper params, paper MACs, top-1, top-5, protocol (Tables 1-3)
_FIGURES: dict[str, tuple[str, bool, int | None, float, float | None, float | None, str]] = {
    "vgg11": ("A", False, 132_863_336, 7.61e9, 29.6, 10.4, _PROTO_256),
    "vgg11_lrn": ("A-LRN", False, 132_863_336, 7.61e9, 29.7, 10.5, _PROTO_256),
    "vgg13": ("B", False, 133_047_848, 11.31e9, 28.7, 9.9, _PROTO_256),
    "vgg16_c": ("C", False, 133_638_952, 11.77e9, 27.3, 8.8, _PROTO_JITTER),
    "vgg16": ("D", False, 138_357_544, 15.47e9, 25.6, 8.1, _PROTO_JITTER),
    "vgg19": ("E", False, 143_667_240, 19.63e9, 25.5, 8.0, _PROTO_JITTER),
    "vgg11_bn": ("A", True, None, 7.61e9, None, None, ""),
    "vgg13_bn": ("B", True, None, 11.31e9, None, None, ""),
    "vgg16_bn": ("D", True, None, 15.47e9, None, None, ""),
    "vgg19_bn": ("E", True, None, 19.63e9, None, None, ""),
}
#: the variants torchvision has too (same parameter names, so its state dicts load)
_TORCHVISION = ("vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn")


def _info(name: str) -> dict[str, Any]:
    config, bn, params, macs, top1, top5, protocol = _FIGURES[name]
    bn_note = (
        " BN variants: the paper has no BatchNorm, so no paper figures; the MACs are those of the plain "
        "configuration (BN adds no MACs)."
    )
    return dict(
        **_VGG_INFO,
        description=f"VGG configuration {config}{' with BatchNorm' if bn else ''} (Simonyan & Zisserman "
        f"2015, Table 1): {VGG_SPECS[config]}.",
        paper_params=params,
        paper_macs=macs,
        figures_note=_NOTE + (bn_note if bn else ""),
        paper_top1=top1,
        paper_top5=top5,
        error_protocol=protocol,
        deviations=_DEVIATIONS + (_BN_DEVIATION if bn else ()),
        peer=f"torchvision.models.{name}" if name in _TORCHVISION else None,
    )


@register_model(**_info("vgg11"))
def vgg11(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
) -> VGG:
    """VGG configuration A (Table 1): 8 convolutions and 3 FC layers."""
    return VGG("A", **locals())


@register_model(**_info("vgg11_lrn"))
def vgg11_lrn(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
) -> VGG:
    """VGG configuration A-LRN (Table 1): A with local response normalisation after the first layer."""
    return VGG("A-LRN", **locals())


@register_model(**_info("vgg13"))
def vgg13(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
) -> VGG:
    """VGG configuration B (Table 1): 10 convolutions and 3 FC layers."""
    return VGG("B", **locals())


@register_model(**_info("vgg16_c"))
def vgg16_c(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
) -> VGG:
    """VGG configuration C (Table 1): B with a 1x1 convolution ending each of the last three stages."""
    return VGG("C", **locals())


@register_model(**_info("vgg16"))
def vgg16(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
) -> VGG:
    """VGG configuration D (Table 1): 13 convolutions and 3 FC layers."""
    return VGG("D", **locals())


@register_model(**_info("vgg19"))
def vgg19(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
) -> VGG:
    """VGG configuration E (Table 1): 16 convolutions and 3 FC layers."""
    return VGG("E", **locals())


@register_model(**_info("vgg11_bn"))
def vgg11_bn(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
) -> VGG:
    """VGG configuration A with BatchNorm after every convolution (torchvision's vgg11_bn)."""
    return VGG("A", batch_norm=True, **locals())


@register_model(**_info("vgg13_bn"))
def vgg13_bn(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
) -> VGG:
    """VGG configuration B with BatchNorm after every convolution (torchvision's vgg13_bn)."""
    return VGG("B", batch_norm=True, **locals())


@register_model(**_info("vgg16_bn"))
def vgg16_bn(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
) -> VGG:
    """VGG configuration D with BatchNorm after every convolution (torchvision's vgg16_bn)."""
    return VGG("D", batch_norm=True, **locals())


@register_model(**_info("vgg19_bn"))
def vgg19_bn(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
) -> VGG:
    """VGG configuration E with BatchNorm after every convolution (torchvision's vgg19_bn)."""
    return VGG("E", batch_norm=True, **locals())
