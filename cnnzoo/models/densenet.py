"""DenseNet: Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional Networks", CVPR 2017.

Reproduces the ImageNet DenseNet-BC networks of the paper's Table 1 (DenseNet-121/169/201/264, growth rate
k=32, bottleneck 1x1 conv to 4k channels, compression theta=0.5 in the transitions) and the CIFAR networks of
Table 2 / Sec. 3 (three dense blocks on 32x32 inputs: the basic DenseNet L=40, k=12 with BN-ReLU-Conv(3x3)
layers and no compression, and DenseNet-BC L=100 k=12, L=250 k=24, L=190 k=40).

Every layer is pre-activation, BN-ReLU-Conv, as in the paper (Sec. 3, "Composite function"); convolutions have
no bias. Parameter and buffer names are torchvision's (``features.denseblock1.denselayer1.norm1.weight``), so
a state dict saved from ``torchvision.models.densenet121`` loads unchanged.

Deviations from the paper:

- ImageNet models: none in the architecture. torchvision's 2x2 average pool in the transitions and the 3x3 max
  pool of the stem are the paper's. The classifier acts on the BN-ReLU'd last feature map after global average
  pooling, as in the paper.
- CIFAR models: the stem is a single 3x3 convolution with 16 output channels (2k for DenseNet-BC), as in the
  paper's Sec. 3 "Implementation Details"; the last layer is a linear classifier after BN-ReLU and global
  average pooling. Dropout (the paper uses 0.2 after each conv when training without data augmentation) is an
  option, ``drop_rate``, off by default as in the augmented (C10+/C100+) runs.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .base import ZooModel

PAPER = "Huang, Liu, van der Maaten, Weinberger: Densely Connected Convolutional Networks (CVPR 2017)"
_TV = "torchvision.models.densenet"


class DenseLayer(nn.Module):
    """One layer H_l of a dense block (Sec. 3): BN-ReLU-Conv(1x1, bn_size*k) -> BN-ReLU-Conv(3x3, k) for
    DenseNet-B, or BN-ReLU-Conv(3x3, k) alone for the basic DenseNet (``bn_size=None``). Its input is the
    concatenation of all preceding feature maps of the block."""

    def __init__(self, in_ch: int, growth_rate: int, bn_size: int | None, drop_rate: float = 0.0) -> None:
        super().__init__()
        self.bottleneck = bn_size is not None
        self.norm1 = nn.BatchNorm2d(in_ch)
        self.relu1 = nn.ReLU(inplace=True)
        if bn_size is not None:
            self.conv1 = nn.Conv2d(in_ch, bn_size * growth_rate, 1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_ch, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = drop_rate

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        x = self.conv1(self.relu1(self.norm1(x)))
        if self.bottleneck:
            x = self.conv2(self.relu2(self.norm2(x)))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; layer l sees ``in_ch + l*k`` channels; the block outputs the concatenation
    of its input and every layer's k new maps (``in_ch + num_layers*k`` channels)."""

    def __init__(
        self, num_layers: int, in_ch: int, growth_rate: int, bn_size: int | None, drop_rate: float = 0.0
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            self.add_module(
                f"denselayer{i + 1}", DenseLayer(in_ch + i * growth_rate, growth_rate, bn_size, drop_rate)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """Transition layer between dense blocks (Sec. 3, "Pooling layers"): BN-ReLU-Conv(1x1)-AvgPool(2x2, 2)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(in_ch))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(in_ch, out_ch, 1, bias=False))
        self.add_module("pool", nn.AvgPool2d(2, 2))


class DenseNet(ZooModel):
    """DenseNet with torchvision's module names.

    Args:
        growth_rate: k, the number of feature maps each dense layer adds.
        block_config: number of layers in each dense block.
        num_init_features: output channels of the stem convolution.
        bn_size: bottleneck width factor (the 1x1 conv outputs ``bn_size*k`` maps); ``None`` for the basic
            DenseNet layer without bottleneck.
        compression: theta, the fraction of channels a transition keeps (``floor(theta*m)``).
        stem: ``"imagenet"`` (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or ``"cifar"`` (one 3x3 conv).
        drop_rate: dropout after each dense layer's last convolution (training only).
    """

    classifier_attr = "classifier"

    def __init__(
        self,
        growth_rate: int,
        block_config: tuple[int, ...],
        num_init_features: int,
        bn_size: int | None = 4,
        compression: float = 0.5,
        stem: str = "imagenet",
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        if not 0.0 < compression <= 1.0:
            raise CnnzooError(f"compression must be in (0, 1], got {compression}.")
        if not 0.0 <= drop_rate < 1.0:
            raise CnnzooError(f"drop_rate must be in [0, 1), got {drop_rate}.")
        self.num_classes = num_classes
        if stem == "imagenet":
            layers: list[tuple[str, nn.Module]] = [
                ("conv0", nn.Conv2d(in_chans, num_init_features, 7, 2, 3, bias=False)),
                ("norm0", nn.BatchNorm2d(num_init_features)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(3, 2, 1)),
            ]
        elif stem == "cifar":
            layers = [("conv0", nn.Conv2d(in_chans, num_init_features, 3, 1, 1, bias=False))]
        else:
            raise CnnzooError(f"stem must be 'imagenet' or 'cifar', got {stem!r}.")
        self._stem_names = [n for n, _ in layers]
        ch = num_init_features
        for i, n in enumerate(block_config):
            layers.append((f"denseblock{i + 1}", DenseBlock(n, ch, growth_rate, bn_size, drop_rate)))
            ch += n * growth_rate
            if i != len(block_config) - 1:
                out = int(ch * compression)
                layers.append((f"transition{i + 1}", Transition(ch, out)))
                ch = out
        layers.append(("norm5", nn.BatchNorm2d(ch)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.num_features = ch
        self.classifier = nn.Linear(ch, num_classes)
        # ``stem``, ``block1`` ... (each dense block with the transition after it), ``head`` (final BN and
        # the classifier)
        n_blocks = len(block_config)
        self.layer_group_names = {
            "stem": tuple(f"features.{n}" for n in self._stem_names),
            **{
                f"block{i}": (f"features.denseblock{i}", f"features.transition{i}")
                for i in range(1, n_blocks + 1)
            },
            "head": ("features.norm5", "classifier"),
        }
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.features(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return x if pre_logits else self.classifier(x)


def _cifar_depth_to_layers(depth: int, bottleneck: bool) -> int:
    """Layers per dense block of a 3-block CIFAR DenseNet of depth L: (L-4)/3, halved with bottlenecks."""
    per = (depth - 4) // (6 if bottleneck else 3)
    if per < 1 or (depth - 4) % (6 if bottleneck else 3):
        kind = "(L-4)/6" if bottleneck else "(L-4)/3"
        raise CnnzooError(f"DenseNet depth {depth} does not give a whole number of layers per block {kind}.")
    return per


_IMAGENET_ERR = "ILSVRC-2012 val, single 224 crop (DenseNet Table 3)"
_IMAGENET_FIG = (
    "exact count computed from Table 1 (the paper only plots it, Fig. 3); MACs are osmr's "
    "third-party count (conv+FC)"
)
_IMAGENET_DEV = ("none in the architecture; torchvision's parameter names",)


def _imagenet(block_config: tuple[int, ...], num_classes: int, in_chans: int, drop_rate: float) -> DenseNet:
    return DenseNet(
        32,
        block_config,
        64,
        bn_size=4,
        compression=0.5,
        stem="imagenet",
        drop_rate=drop_rate,
        num_classes=num_classes,
        in_chans=in_chans,
    )


_CIFAR_ERR = "CIFAR-10+ test error (standard translation/flip augmentation), DenseNet Table 2"
_CIFAR_DEV = (
    "the classifier is a linear layer after BN-ReLU and 8x8 global average pooling, as in the paper; "
    "dropout (0.2, used only without augmentation) is the drop_rate option, off by default",
)


def _cifar(
    depth: int, k: int, bottleneck: bool, num_classes: int, in_chans: int, drop_rate: float
) -> DenseNet:
    per = _cifar_depth_to_layers(depth, bottleneck)
    if bottleneck:
        return DenseNet(
            k,
            (per,) * 3,
            2 * k,
            bn_size=4,
            compression=0.5,
            stem="cifar",
            drop_rate=drop_rate,
            num_classes=num_classes,
            in_chans=in_chans,
        )
    return DenseNet(
        k,
        (per,) * 3,
        16,
        bn_size=None,
        compression=1.0,
        stem="cifar",
        drop_rate=drop_rate,
        num_classes=num_classes,
        in_chans=in_chans,
    )


# depth: blocks of Table 1, reference parameters and MACs, top-1 / top-5 error (Table 3)
_IMAGENET_MODELS: dict[int, tuple[tuple[int, ...], int, float | None, float, float]] = {
    121: ((6, 12, 24, 16), 7_978_856, 2.87e9, 25.02, 7.71),
    169: ((6, 12, 32, 32), 14_149_480, 3.40e9, 23.80, 6.85),
    201: ((6, 12, 48, 32), 20_013_928, 4.35e9, 22.58, 6.34),
    264: ((6, 12, 64, 48), 33_337_704, None, 22.15, 6.12),
}


def _imagenet_info(depth: int) -> dict[str, object]:
    blocks, params, macs, top1, top5 = _IMAGENET_MODELS[depth]
    desc = f"DenseNet-{depth} (k=32, blocks {'-'.join(map(str, blocks))}), Table 1"
    return dict(
        family="densenet",
        recipe="densenet_imagenet",
        paper=PAPER,
        year=2017,
        input_size=(3, 224, 224),
        description=f"{desc}." if macs else f"{desc} (no torchvision peer).",
        paper_params=params,
        paper_macs=macs,
        figures_note=_IMAGENET_FIG if macs else "exact count computed from Table 1; no reference MAC figure",
        paper_top1=top1,
        paper_top5=top5,
        error_protocol=_IMAGENET_ERR,
        deviations=_IMAGENET_DEV,
        peer=f"{_TV}.densenet{depth}" if macs else None,
    )


@register_model(**_imagenet_info(121))
def densenet121(num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-121 (Huang et al. 2017, Table 1): k = 32, dense blocks of 6-12-24-16 layers."""
    return _imagenet((6, 12, 24, 16), num_classes, in_chans, drop_rate)


@register_model(**_imagenet_info(169))
def densenet169(num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-169 (Huang et al. 2017, Table 1): k = 32, dense blocks of 6-12-32-32 layers."""
    return _imagenet((6, 12, 32, 32), num_classes, in_chans, drop_rate)


@register_model(**_imagenet_info(201))
def densenet201(num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-201 (Huang et al. 2017, Table 1): k = 32, dense blocks of 6-12-48-32 layers."""
    return _imagenet((6, 12, 48, 32), num_classes, in_chans, drop_rate)


@register_model(**_imagenet_info(264))
def densenet264(num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-264 (Huang et al. 2017, Table 1): k = 32, dense blocks of 6-12-64-48 layers."""
    return _imagenet((6, 12, 64, 48), num_classes, in_chans, drop_rate)


@register_model(
    family="densenet",
    recipe="densenet_imagenet",
    paper=PAPER,
    year=2017,
    input_size=(3, 224, 224),
    description="DenseNet-161 (k=48, 96 stem channels, blocks 6-12-36-24), the authors' wider ImageNet net.",
    paper_params=28_681_000,
    paper_macs=7.728e9,
    figures_note="not in the paper's tables (the authors' GitHub README lists it): parameters and "
    "multiply-adds as torchvision's weights metadata gives them (num_params, _ops)",
    paper_top1=22.20,
    paper_top5=6.15,
    error_protocol="ILSVRC-2012 val, single 224 crop (the authors' README, Torch model)",
    deviations=_IMAGENET_DEV,
    peer=f"{_TV}.densenet161",
)
def densenet161(num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-161 (Huang et al., 2017): growth rate k=48, 2k=96 stem channels, blocks 6-12-36-24 with
    bottlenecks (bn_size 4) and compression 0.5, the wide model the authors released beside Table 3's."""
    return DenseNet(
        48,
        (6, 12, 36, 24),
        96,
        bn_size=4,
        compression=0.5,
        stem="imagenet",
        drop_rate=drop_rate,
        num_classes=num_classes,
        in_chans=in_chans,
    )


# name: L, k, bottleneck and compression (BC), reference parameters, C10+ error (Table 2), note, description
_CIFAR_MODELS: dict[str, tuple[int, int, bool, int, float, str, str]] = {
    "densenet40_k12": (
        40,
        12,
        False,
        1_000_000,
        5.24,
        "paper's rounded 1.0M (Table 2); our exact count is 1,019,722 with 10 classes",
        "Basic DenseNet, L=40, k=12 (three blocks of 12 BN-ReLU-Conv3x3 layers, no bottleneck, no "
        "compression),\nTable 2.",
    ),
    "densenet_bc100_k12": (
        100,
        12,
        True,
        769_162,
        4.51,
        "exact count computed (paper: 0.8M; 800,032 with 100 classes)",
        "DenseNet-BC, L=100, k=12 (three blocks of 16 bottleneck layers, theta=0.5), Table 2.",
    ),
    "densenet_bc250_k24": (
        250,
        24,
        True,
        15_324_406,
        3.62,
        "exact count computed (paper: 15.3M)",
        "DenseNet-BC, L=250, k=24, Table 2.",
    ),
    "densenet_bc190_k40": (
        190,
        40,
        True,
        25_624_430,
        3.46,
        "exact count computed (paper: 25.6M)",
        "DenseNet-BC, L=190, k=40, Table 2.",
    ),
}


def _cifar_info(name: str) -> dict[str, object]:
    _depth, _k, _bc, params, top1, note, desc = _CIFAR_MODELS[name]
    return dict(
        family="densenet",
        recipe="densenet_cifar",
        paper=PAPER,
        year=2017,
        input_size=(3, 32, 32),
        num_classes=10,
        description=desc,
        paper_params=params,
        paper_top1=top1,
        error_protocol=_CIFAR_ERR,
        figures_note=note,
        deviations=_CIFAR_DEV,
    )


@register_model(**_cifar_info("densenet40_k12"))
def densenet40_k12(num_classes: int = 10, in_chans: int = 3, drop_rate: float = 0.0) -> DenseNet:
    """CIFAR DenseNet L=40, k=12 (Huang et al. 2017, Table 2): basic DenseNet, no bottleneck"""
    return _cifar(40, 12, False, num_classes, in_chans, drop_rate)


@register_model(**_cifar_info("densenet_bc100_k12"))
def densenet_bc100_k12(num_classes: int = 10, in_chans: int = 3, drop_rate: float = 0.0) -> DenseNet:
    """CIFAR DenseNet L=100, k=12 (Huang et al. 2017, Table 2): DenseNet-BC."""
    return _cifar(100, 12, True, num_classes, in_chans, drop_rate)


@register_model(**_cifar_info("densenet_bc250_k24"))
def densenet_bc250_k24(num_classes: int = 10, in_chans: int = 3, drop_rate: float = 0.0) -> DenseNet:
    """CIFAR DenseNet L=250, k=24 (Huang et al. 2017, Table 2): DenseNet-BC."""
    return _cifar(250, 24, True, num_classes, in_chans, drop_rate)


@register_model(**_cifar_info("densenet_bc190_k40"))
def densenet_bc190_k40(num_classes: int = 10, in_chans: int = 3, drop_rate: float = 0.0) -> DenseNet:
    """CIFAR DenseNet L=190, k=40 (Huang et al. 2017, Table 2): DenseNet-BC."""
    return _cifar(190, 40, True, num_classes, in_chans, drop_rate)
