"""Xception (Chollet, 2017): Inception modules replaced by depthwise separable convolutions.

Paper: François Chollet. "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017
(arXiv:1610.02357). Reproduced: Fig. 5 (the architecture: entry flow, middle flow repeated eight times, exit
flow), Sec. 4.3 ("all Convolution and SeparableConvolution layers are followed by batch normalization"; no
non-linearity between the depthwise and the pointwise step, Sec. 4.7 / Fig. 10), Sec. 4.3.1 (dropout 0.5
before the logistic regression layer on ImageNet), Table 3 (22,855,952 parameters).

Structure: a stride-2 3x3 conv to 32 and a 3x3 conv to 64 (both valid-padded, BN, ReLU); three entry
modules (separable 3x3 convs to 128 / 256 / 728, a 3x3/2 max-pool, a strided 1x1 conv + BN shortcut);
eight middle modules (three ReLU-separable-BN to 728, identity shortcut); an exit module (separable to 728
and 1024, max-pool, 1x1 shortcut) and separable convs to 1536 and 2048, each followed by BN and ReLU;
global average pooling, dropout, linear. Input 299x299.

Figures (``tests/models/test_xception.py``): 22,855,952 parameters, exactly Table 3; 8.357 G MACs at 299
(osmr: 8.40 G, 0.5% higher).

Deviations:

- BatchNorm epsilon 1e-3 (the author's Keras implementation); timm's port of the Keras weights uses
  PyTorch's 1e-5: ``bn_eps=1e-5`` gives the timm form. The paper does not state it.
- Parameter names follow timm's ``legacy_xception`` (the original Xception), so timm files load as they are.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .base import ZooModel

PAPER = "Chollet, Xception: Deep Learning with Depthwise Separable Convolutions, CVPR 2017"
#: what every registration of each paper of this file shares
_PAPER_INFO: dict[str, Any] = dict(
    family="xception", recipe="xception", paper=PAPER, year=2017, input_size=(3, 299, 299)
)


class SeparableConv2d(nn.Module):
    """Depthwise ``k x k`` conv (one filter per channel) then pointwise 1x1 conv, no bias, no non-linearity in
    between (Xception Sec. 3 / Fig. 4 discussion)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1, padding: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, kernel_size, stride, padding, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class Block(nn.Module):
    """One Xception module (Fig. 5): ``reps`` x (ReLU, separable 3x3, BN), then a 3x3/2 max-pool when
    ``stride`` is 2, plus a shortcut (a strided 1x1 conv + BN where the shape changes, else identity).

    ``grow_first`` puts the channel increase in the first separable conv (entry flow) rather than the last
    (the exit flow's 728 -> 1024 module). The first module starts without ReLU (it follows the stem's ReLU).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        reps: int,
        stride: int = 1,
        start_with_relu: bool = True,
        grow_first: bool = True,
        bn_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        if cout != cin or stride != 1:
            self.skip: nn.Module | None = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
            self.skipbn: nn.Module | None = nn.BatchNorm2d(cout, eps=bn_eps)
        else:
            self.skip = self.skipbn = None
        layers: list[nn.Module] = []
        for i in range(reps):
            if grow_first:
                a, b = (cin if i == 0 else cout), cout
            else:
                a, b = cin, (cin if i < reps - 1 else cout)
            # the first ReLU must not overwrite the module's input, which the shortcut still needs
            layers += [nn.ReLU(inplace=i > 0), SeparableConv2d(a, b), nn.BatchNorm2d(b, eps=bn_eps)]
        if not start_with_relu:
            layers = layers[1:]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skipbn(self.skip(x)) if self.skip is not None and self.skipbn is not None else x
        return self.rep(x) + skip


class Xception(ZooModel):
    """Xception (Chollet, 2017, Fig. 5) with timm ``legacy_xception`` parameter names."""

    classifier_attr = "fc"
    layer_group_names = {
        "stem": ("conv1", "bn1", "conv2", "bn2"),
        "entry_flow": ("block1", "block2", "block3"),
        "middle_flow": tuple(f"block{i}" for i in range(4, 12)),
        "exit_flow": ("block12", "conv3", "bn3", "conv4", "bn4"),
        "head": ("fc",),
    }
    # feature levels as timm's legacy_xception: each reduction's last block output after the next block's
    # first ReLU (a pre-activation network), and the exit flow's last activation
    feature_points = ("act2", "block2.rep.0", "block3.rep.0", "block12.rep.0", "act4")

    def __init__(
        self, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.5, bn_eps: float = 1e-3
    ) -> None:
        super().__init__()
        if not isinstance(drop_rate, (int, float)) or not 0.0 <= drop_rate < 1.0:
            raise CnnzooError(f"drop_rate must be a number in [0, 1), got {drop_rate!r}.")
        self.num_classes, self.num_features = num_classes, 2048
        self.conv1 = nn.Conv2d(in_chans, 32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(32, eps=bn_eps)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(64, eps=bn_eps)
        self.act2 = nn.ReLU(inplace=True)
        self.block1 = Block(64, 128, 2, 2, start_with_relu=False, bn_eps=bn_eps)
        self.block2 = Block(128, 256, 2, 2, bn_eps=bn_eps)
        self.block3 = Block(256, 728, 2, 2, bn_eps=bn_eps)
        for i in range(4, 12):
            self.add_module(f"block{i}", Block(728, 728, 3, 1, bn_eps=bn_eps))
        self.block12 = Block(728, 1024, 2, 2, grow_first=False, bn_eps=bn_eps)
        self.conv3 = SeparableConv2d(1024, 1536)
        self.bn3 = nn.BatchNorm2d(1536, eps=bn_eps)
        self.act3 = nn.ReLU(inplace=True)
        self.conv4 = SeparableConv2d(1536, 2048)
        self.bn4 = nn.BatchNorm2d(2048, eps=bn_eps)
        self.act4 = nn.ReLU(inplace=True)
        self.head_drop = nn.Dropout(float(drop_rate))
        self.fc = nn.Linear(2048, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act2(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))))
        for i in range(1, 13):
            x = getattr(self, f"block{i}")(x)
        x = self.act3(self.bn3(self.conv3(x)))
        return self.act4(self.bn4(self.conv4(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(torch.flatten(x.mean((2, 3), keepdim=True), 1))
        return x if pre_logits else self.fc(x)


@register_model(
    **_PAPER_INFO,
    paper_params=22_855_952,
    paper_macs=8.40e9,
    figures_note=(
        "22,855,952 parameters: Xception Table 3 (Inception V3: 23,626,728). The paper reports no "
        "compute; 8.40 G MACs at 299 is osmr's count."
    ),
    paper_top1=21.0,
    paper_top5=5.5,
    error_protocol="single crop 299x299, ILSVRC-2012 validation (Table 1: accuracy 0.790 / 0.945)",
    deviations=(
        "BatchNorm epsilon 1e-3 as in the author's Keras implementation; timm's port uses 1e-5: bn_eps=1e-5.",
    ),
    peer="timm legacy_xception (bn_eps=1e-5)",
)
def xception(
    num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.5, bn_eps: float = 1e-3
) -> Xception:
    """Xception (Chollet, 2017, Fig. 5), 299x299 input, dropout 0.5 before the classifier."""
    return Xception(num_classes, in_chans, drop_rate, bn_eps)
