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

import torch
from torch import nn

from ..registry import register_model
from .base import ZooModel
from .spec import build_from_spec

VGG_PAPER = (
    "K. Simonyan, A. Zisserman. Very Deep Convolutional Networks for Large-Scale Image Recognition. "
    "ICLR 2015 (arXiv:1409.1556)."
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
        self._init_weights()

    def _init_weights(self) -> None:
        """Sec. 3.1: weights from N(0, 10^-2), biases 0 (the paper initialised the deeper nets from A; the
        authors note that Glorot init works as well). Convolutions use He (fan-out) init as torchvision does,
        which trains the deep configurations from scratch."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

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

# name, config, batch_norm, paper params, paper MACs, top-1, top-5, protocol
_VARIANTS = [
    ("vgg11", "A", False, 132_863_336, 7.61e9, 29.6, 10.4, _PROTO_256),
    ("vgg11_lrn", "A-LRN", False, 132_863_336, 7.61e9, 29.7, 10.5, _PROTO_256),
    ("vgg13", "B", False, 133_047_848, 11.31e9, 28.7, 9.9, _PROTO_256),
    ("vgg16_c", "C", False, 133_638_952, 11.77e9, 27.3, 8.8, _PROTO_JITTER),
    ("vgg16", "D", False, 138_357_544, 15.47e9, 25.6, 8.1, _PROTO_JITTER),
    ("vgg19", "E", False, 143_667_240, 19.63e9, 25.5, 8.0, _PROTO_JITTER),
    ("vgg11_bn", "A", True, None, 7.61e9, None, None, ""),
    ("vgg13_bn", "B", True, None, 11.31e9, None, None, ""),
    ("vgg16_bn", "D", True, None, 15.47e9, None, None, ""),
    ("vgg19_bn", "E", True, None, 19.63e9, None, None, ""),
]


def _make_factory(config: str, batch_norm: bool):  # noqa: ANN202
    def factory(
        num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5, adaptive_pool: bool = False
    ) -> VGG:
        return VGG(
            config,
            num_classes=num_classes,
            in_chans=in_chans,
            batch_norm=batch_norm,
            dropout=dropout,
            adaptive_pool=adaptive_pool,
        )

    factory.__doc__ = (
        f"VGG configuration {config}{' with BatchNorm' if batch_norm else ''} "
        f"(Simonyan & Zisserman 2015, Table 1): {VGG_SPECS[config]}."
    )
    return factory


for _name, _cfg, _bn, _params, _macs, _top1, _top5, _proto in _VARIANTS:
    _f = _make_factory(_cfg, _bn)
    _f.__name__ = _f.__qualname__ = _name
    globals()[_name] = register_model(
        _name,
        family="vgg",
        recipe="vgg",
        paper=VGG_PAPER,
        year=2014,
        input_size=(3, 224, 224),
        paper_params=_params,
        paper_macs=_macs,
        figures_note=_NOTE
        + (
            " BN variants: the paper has no BatchNorm, so no paper figures; the MACs are "
            "those of the plain configuration (BN adds no MACs)."
            if _bn
            else ""
        ),
        paper_top1=_top1,
        paper_top5=_top5,
        error_protocol=_proto,
        deviations=_DEVIATIONS + (_BN_DEVIATION if _bn else ()),
        peer=f"torchvision.models.{_name}"
        if _name in ("vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn")
        else None,
    )(_f)
