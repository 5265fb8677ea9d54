"""AlexNet and ZFNet.

**AlexNet** (``alexnet``): Krizhevsky, Sutskever and Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks" (NeurIPS 2012), Sec. 3 and Fig. 2 — the two-tower network on one device::

    227x227x3 -> conv1 96 11x11/4 -> ReLU -> LRN -> maxpool 3x3/2 (overlapping, Sec. 3.4)
    -> conv2 256 5x5 pad 2, 2 groups -> ReLU -> LRN -> maxpool 3x3/2
    -> conv3 384 3x3 pad 1 (sees both towers) -> conv4 384 3x3, 2 groups -> conv5 256 3x3, 2 groups
    -> maxpool 3x3/2 -> fc6 4096 -> dropout 0.5 -> fc7 4096 -> dropout 0.5 -> fc8 1000

60,965,224 parameters and 724.4 M MACs. LRN is the paper's (Sec. 3.3: k=2, n=5, alpha=1e-4, beta=0.75), after
the ReLU of conv1 and conv2; dropout zeroes the outputs of fc6 and fc7 (Sec. 4.2). Initialisation follows
Sec. 5: weights N(0, 0.01), biases 1 in conv2, conv4, conv5, fc6, fc7 and 0 elsewhere.
Deviation: the input is 227x227, not the 224x224 the paper states, because its own layer arithmetic (11x11
stride 4 to 55x55) needs 227; the two GPUs are modelled as grouped convolutions on one device.

**Variants.**

- ``alexnet_single``: the same network with every convolution ungrouped (one tower): 62,378,344 params and
  1,135 M MACs — the figures "62.3M" and "1.1 billion" quoted in lectures.
- ``alexnet_owt``: torchvision's AlexNet, from Krizhevsky's "One weird trick for parallelizing convolutional
  neural networks" (2014): 64-192-384-256-256 channels, padding 2 in conv1, no LRN, no groups, an adaptive
  6x6 average pool, dropout *before* fc6 and fc7, 224x224 input; 61,100,840 params. Its parameter names are
  torchvision's, so ``create_model("alexnet_owt", weights="torchvision:FILE")`` loads a torchvision file.
- ``zfnet``: Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks" (ECCV 2014), Fig. 3:
  224x224 input, conv1 96 7x7/2 (pad 1 -> 110x110), maxpool 3x3/2 -> 55x55, contrast normalisation,
  conv2 256 5x5/2 (no pad -> 26x26), maxpool -> 13x13, conv3-5 384-384-256 3x3 dense (not grouped, Sec. 3),
  maxpool -> 6x6, fc 4096-4096-classes: 62,357,608 params and 1.17 G MACs. Pools round up (Caffe's
  ``ceil`` convention), which the 55 and 13 of Fig. 3 need. Deviations: the paper's "contrast normalisation
  across feature maps" uses the AlexNet LRN constants (Fig. 3 gives none); the padding of conv1 (1) is chosen
  to reproduce Fig. 3's 110x110.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..registry import register_model
from .base import ZooModel
from .layers import LocalResponseNorm

ALEXNET_PAPER = (
    "ImageNet Classification with Deep Convolutional Neural Networks (Krizhevsky, Sutskever, Hinton)"
)
OWT_PAPER = "One weird trick for parallelizing convolutional neural networks (Krizhevsky)"
ZFNET_PAPER = "Visualizing and Understanding Convolutional Networks (Zeiler, Fergus)"

ALEXNET_ERRORS = dict(
    paper_top1=40.7,
    paper_top5=18.2,
    error_protocol="ILSVRC-2012 val, 1 CNN, averaged over 10 patches (4 corners + centre, x2 flips); Table 2",
)


class AlexNet(ZooModel):
    """The 2012 AlexNet layout (``features`` then ``classifier``), parameterised so that one class also builds
    the ungrouped single-tower network and ZFNet.

    Args:
        num_classes: outputs of fc8.
        in_chans: input channels.
        widths: output channels of conv1..conv5.
        groups: groups of conv2, conv4, conv5 (2 = the paper's two GPUs; 1 = one tower).
        conv1: ``(kernel, stride, padding)`` of conv1.
        conv2: ``(kernel, stride, padding)`` of conv2.
        norm_after_pool: apply the normalisation after the pool (ZFNet) instead of before it (AlexNet).
        dropout: dropout probability on the outputs of fc6 and fc7.
        bias_one: initialise the biases of conv2, conv4, conv5, fc6, fc7 to 1 (AlexNet Sec. 5) instead of 0.
    """

    classifier_attr = "classifier.fc8"
    layer_group_names = {
        a: (a,)
        for a in (
            "features.conv1",
            "features.conv2",
            "features.conv3",
            "features.conv4",
            "features.conv5",
            "classifier.fc6",
            "classifier.fc7",
            "classifier.fc8",
        )
    }

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        widths: tuple[int, int, int, int, int] = (96, 256, 384, 384, 256),
        groups: int = 2,
        conv1: tuple[int, int, int] = (11, 4, 0),
        conv2: tuple[int, int, int] = (5, 1, 2),
        norm_after_pool: bool = False,
        dropout: float = 0.5,
        bias_one: bool = True,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        w1, w2, w3, w4, w5 = widths

        def lrn() -> LocalResponseNorm:
            return LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)

        def pool() -> nn.MaxPool2d:
            return nn.MaxPool2d(3, 2, ceil_mode=True)

        def norm_pool(i: int) -> list[tuple[str, nn.Module]]:
            pair = [(f"norm{i}", lrn()), (f"pool{i}", pool())]
            return pair[::-1] if norm_after_pool else pair

        layers: list[tuple[str, nn.Module]] = [
            ("conv1", nn.Conv2d(in_chans, w1, conv1[0], conv1[1], conv1[2])),
            ("relu1", nn.ReLU(inplace=True)),
            *norm_pool(1),
            ("conv2", nn.Conv2d(w1, w2, conv2[0], conv2[1], conv2[2], groups=groups)),
            ("relu2", nn.ReLU(inplace=True)),
            *norm_pool(2),
            ("conv3", nn.Conv2d(w2, w3, 3, padding=1)),
            ("relu3", nn.ReLU(inplace=True)),
            ("conv4", nn.Conv2d(w3, w4, 3, padding=1, groups=groups)),
            ("relu4", nn.ReLU(inplace=True)),
            ("conv5", nn.Conv2d(w4, w5, 3, padding=1, groups=groups)),
            ("relu5", nn.ReLU(inplace=True)),
            ("pool5", pool()),
        ]
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("fc6", nn.Linear(w5 * 6 * 6, 4096)),
                    ("relu6", nn.ReLU(inplace=True)),
                    ("drop6", nn.Dropout(dropout)),
                    ("fc7", nn.Linear(4096, 4096)),
                    ("relu7", nn.ReLU(inplace=True)),
                    ("drop7", nn.Dropout(dropout)),
                    ("fc8", nn.Linear(4096, num_classes)),
                ]
            )
        )
        self._init_weights(bias_one)

    def _init_weights(self, bias_one: bool) -> None:
        """N(0, 0.01) weights; biases as Krizhevsky et al. Sec. 5 (Zeiler & Fergus: ``bias_one=False``)."""
        ones = {"features.conv2", "features.conv4", "features.conv5", "classifier.fc6", "classifier.fc7"}
        for name, m in self.named_modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.constant_(m.bias, 1.0 if bias_one and name in ones else 0.0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """conv1..pool5: the 256x6x6 map at the default input size."""
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """fc6, fc7 (pre-logits: fc7's 4096 outputs after ReLU and dropout), fc8."""
        x = torch.flatten(x, 1)
        for name, layer in self.classifier.named_children():
            if name == "fc8" and pre_logits:
                return x
            x = layer(x)
        return x


class AlexNetOWT(ZooModel):
    """torchvision's AlexNet ("one weird trick" variant) with torchvision's exact module names.

    ``features`` (indices 0..12), ``avgpool`` (adaptive 6x6) and ``classifier`` (indices 0..6; dropout before
    the linear layers); PyTorch's default initialisation, like torchvision.
    """

    classifier_attr = "classifier.6"
    layer_group_names = {
        a: (a,)
        for a in (
            "features.0",
            "features.3",
            "features.6",
            "features.8",
            "features.10",
            "classifier.1",
            "classifier.4",
            "classifier.6",
        )
    }

    def __init__(self, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The convolutional trunk, before the adaptive average pool."""
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Adaptive 6x6 average pool, then the classifier (pre-logits: the 4096 outputs of its last ReLU)."""
        x = torch.flatten(self.avgpool(x), 1)
        x = self.classifier[:6](x)
        return x if pre_logits else self.classifier[6](x)


@register_model(
    family="alexnet",
    recipe="alexnet",
    paper=ALEXNET_PAPER,
    year=2012,
    input_size=(3, 227, 227),
    paper_params=60_965_224,
    paper_macs=724.4e6,
    figures_note="paper: '60 million parameters'; 60,965,224 is the exact count of the grouped network "
    "(computed); 724.4 M MACs computed, MobileNet/ShuffleNet quote 720 M.",
    deviations=(
        "227x227 input instead of the paper's stated 224x224 (its layer arithmetic needs 227)",
        "the two GPUs are grouped convolutions (groups=2 in conv2, conv4, conv5) on one device",
        "pools use ceil rounding (Caffe); identical sizes to floor rounding at 227",
    ),
    peer=None,
    **ALEXNET_ERRORS,
)
def alexnet(num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> AlexNet:
    """AlexNet as in Krizhevsky et al. 2012: two towers (grouped conv2/4/5), LRN, overlapping pooling."""
    return AlexNet(num_classes, in_chans, groups=2, dropout=dropout)


@register_model(
    family="alexnet",
    recipe="alexnet",
    paper=ALEXNET_PAPER,
    year=2012,
    input_size=(3, 227, 227),
    paper_params=62_378_344,
    paper_macs=1_135e6,
    figures_note="lecture figures '62.3M' and '1.1 billion' describe this ungrouped network; exact counts "
    "62,378,344 and 1,135.3 M MACs (computed; osmr agrees on the parameters).",
    deviations=(
        "no groups: conv2, conv4 and conv5 see all input channels (one tower, as lectures draw it)",
        "227x227 input instead of the paper's stated 224x224",
    ),
    peer=None,
    **ALEXNET_ERRORS,
)
def alexnet_single(num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> AlexNet:
    """AlexNet with ungrouped convolutions (one tower): the "62.3M parameters" network of the lectures."""
    return AlexNet(num_classes, in_chans, groups=1, dropout=dropout)


@register_model(
    family="alexnet",
    recipe="alexnet",
    paper=OWT_PAPER,
    year=2014,
    input_size=(3, 224, 224),
    paper_params=61_100_840,
    paper_macs=714.2e6,
    figures_note="61,100,840 computed (osmr 'AlexNet-b' agrees); 714.2 M MACs computed at 224.",
    deviations=(
        "torchvision's variant, not the 2012 network: 64-192-384-256-256 channels, no LRN, "
        "no groups, conv1 padding 2, adaptive 6x6 average pool, dropout before fc6/fc7",
        "PyTorch default initialisation (as torchvision)",
    ),
    peer="torchvision:alexnet",
    **ALEXNET_ERRORS,
)
def alexnet_owt(num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> AlexNetOWT:
    """torchvision's AlexNet ("one weird trick") with torchvision's parameter names: its state dicts load."""
    return AlexNetOWT(num_classes, in_chans, dropout)


@register_model(
    family="alexnet",
    recipe="zfnet",
    paper=ZFNET_PAPER,
    year=2013,
    input_size=(3, 224, 224),
    paper_params=62_357_608,
    paper_macs=1.168e9,
    figures_note="the paper states no totals; 62,357,608 params and 1,168.0 M MACs computed from the Fig. 3 "
    "dimensions (osmr agrees on the parameters).",
    paper_top1=38.4,
    paper_top5=16.5,
    error_protocol="ILSVRC-2012 val, '1 convnet as per Fig. 3' (ZF Table 2), test protocol as Krizhevsky's "
    "(10 patches; unconfirmed)",
    deviations=(
        "'contrast normalisation across feature maps' uses the AlexNet LRN constants (k=2, n=5, "
        "alpha=1e-4, beta=0.75); the paper gives none",
        "conv1 padding 1 and ceil-rounded pools, chosen to reproduce Fig. 3's 110/55/26/13/6 maps",
    ),
    peer=None,
)
def zfnet(num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> AlexNet:
    """ZFNet (Zeiler & Fergus, Fig. 3): AlexNet with a 7x7/2 conv1, a 5x5/2 conv2 and dense conv3-5."""
    return AlexNet(
        num_classes,
        in_chans,
        groups=1,
        conv1=(7, 2, 1),
        conv2=(5, 2, 0),
        norm_after_pool=True,
        dropout=dropout,
        bias_one=False,
    )
