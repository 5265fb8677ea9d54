"""Network in Network: Lin, Chen and Yan, "Network In Network" (ICLR 2014), the CIFAR-10 model.

The paper (Sec. 3-4, Fig. 2) builds the network from three *mlpconv* layers — a convolution followed by a
two-layer perceptron shared across positions, i.e. two 1x1 convolutions, each with ReLU — with dropout
between them and *global average pooling* over one feature map per class instead of fully connected layers.
The paper does not print the widths; we take them from the authors' released Caffe model (the model-zoo
``cifar10_nin`` configuration that reproduces the paper's 10.41% error), which is also what osmr's
``nin_cifar10`` builds (966,986 parameters)::

    32x32x3 -> mlpconv(5x5 192 pad 2, 1x1 160, 1x1 96) -> maxpool 3x3/2 -> dropout 0.5
            -> mlpconv(5x5 192 pad 2, 1x1 192, 1x1 192) -> avgpool 3x3/2 -> dropout 0.5
            -> mlpconv(3x3 192 pad 1, 1x1 192, 1x1 10) -> global average pool (8x8) -> 10 logits

The last 1x1 convolution is the classifier (``classifier``; one map per class). Pools round up, as Caffe
does (32 -> 16 -> 8). As in the released model, a ReLU follows every convolution, the classifier included
(``final_relu=False`` drops it), and weights start from N(0, 0.05) with zero biases.

Deviations: the widths, the pooling types and the final ReLU are the released configuration's, not printed in
the paper.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..registry import register_model
from .base import ZooModel

PAPER = "Network In Network (Lin, Chen, Yan)"


def mlpconv(in_ch: int, widths: tuple[int, ...], kernel_size: int, padding: int) -> nn.Sequential:
    """An mlpconv layer (Lin et al. Sec. 3.1): a ``kernel_size`` convolution then 1x1 convolutions, all with
    ReLU; ``widths`` are the output channels of each."""
    layers: list[tuple[str, nn.Module]] = []
    for i, out_ch in enumerate(widths):
        k, p = (kernel_size, padding) if i == 0 else (1, 0)
        layers += [(f"conv{i}", nn.Conv2d(in_ch, out_ch, k, padding=p)), (f"relu{i}", nn.ReLU(inplace=True))]
        in_ch = out_ch
    return nn.Sequential(OrderedDict(layers))


class NiN(ZooModel):
    """Network in Network for 32x32 images (CIFAR-10), see the module docstring.

    Args:
        num_classes: maps of the last 1x1 convolution, one per class.
        in_chans: input channels.
        dropout: dropout after the first and second mlpconv layers (paper: 0.5).
        final_relu: keep the released model's ReLU after the classifier convolution.
    """

    classifier_attr = "classifier"
    layer_group_names = {a: (a,) for a in ("block1", "block2", "block3", "classifier")}

    def __init__(
        self, num_classes: int = 10, in_chans: int = 3, dropout: float = 0.5, final_relu: bool = True
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.block1 = mlpconv(in_chans, (192, 160, 96), 5, 2)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.drop1 = nn.Dropout(dropout)
        self.block2 = mlpconv(96, (192, 192, 192), 5, 2)
        self.pool2 = nn.AvgPool2d(3, 2, ceil_mode=True)
        self.drop2 = nn.Dropout(dropout)
        self.block3 = mlpconv(192, (192, 192), 3, 1)
        self.classifier: nn.Module = nn.Conv2d(192, num_classes, 1)
        self.final_act: nn.Module = nn.ReLU() if final_relu else nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.05)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The three mlpconv layers up to the classifier convolution: 192x8x8 at 32x32."""
        x = self.drop1(self.pool1(self.block1(x)))
        x = self.drop2(self.pool2(self.block2(x)))
        return self.block3(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Classifier 1x1 convolution (one map per class), ReLU, global average pooling. ``pre_logits``: the
        globally averaged 192 features."""
        if pre_logits:
            return x.mean((2, 3))
        return self.final_act(self.classifier(x)).mean((2, 3))


@register_model(
    family="nin",
    recipe="nin",
    paper=PAPER,
    year=2014,
    input_size=(3, 32, 32),
    num_classes=10,
    paper_params=966_986,
    paper_macs=None,
    figures_note="the paper states no parameter count; 966,986 is osmr's nin_cifar10 and the exact count of "
    "the released Caffe configuration (computed); no reference MACs (ours: 222.5 M at 32x32).",
    paper_top1=10.41,
    error_protocol="CIFAR-10 test error (%) without data augmentation (8.81 with translation + flipping); "
    "NiN Table 1 via secondary sources",
    deviations=(
        "widths (192-160-96 / 192-192-192 / 192-192-10), max- then average-pooling and the ReLU "
        "after the classifier are from the authors' released Caffe configuration; the paper does not "
        "print them",
    ),
    peer=None,
)
def nin_cifar(num_classes: int = 10, in_chans: int = 3, dropout: float = 0.5, final_relu: bool = True) -> NiN:
    """Network in Network (Lin et al. 2014), CIFAR-10 model: three mlpconv layers, global average pooling."""
    return NiN(num_classes, in_chans, dropout, final_relu)
