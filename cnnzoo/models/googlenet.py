"""GoogLeNet: Szegedy et al., "Going Deeper with Convolutions" (CVPR 2015; ILSVRC 2014), Table 1 and Fig. 3.

``googlenet`` reproduces Table 1 exactly, without BatchNorm (which came a year later)::

    224x224x3 -> conv 7x7/2, 64 -> maxpool 3x3/2 -> LRN -> conv 1x1, 64 -> conv 3x3, 192 -> LRN
    -> maxpool 3x3/2 -> inception 3a, 3b -> maxpool 3x3/2 -> inception 4a..4e -> maxpool 3x3/2
    -> inception 5a, 5b -> avgpool 7x7 -> dropout 0.4 -> linear -> logits

Each inception module (Fig. 2b) concatenates a 1x1 branch, a 1x1 -> 3x3 branch, a 1x1 -> **5x5** branch and a
3x3/1 max-pool -> 1x1 projection branch, with Table 1's widths; every convolution is followed by ReLU. Two
auxiliary classifiers (Sec. 5) sit on inception 4a and 4d: 5x5/3 average pool, 1x1 conv with 128 filters,
FC 1024, dropout 0.7, FC to the classes. They exist only to help training: in ``train()`` mode the model
returns :class:`GoogLeNetOutputs` ``(logits, aux_logits2, aux_logits1)`` (torchvision's field order), in
``eval()`` mode plain logits. The paper weights the auxiliary losses by 0.3 (:func:`googlenet_loss`).

6,998,552 parameters without the auxiliary heads (Table 1's "params" column sums to about 6.8M; the exact
count with biases is 7.0M), 13,378,280 with them; 1.58 G MACs at 224 (the paper's "1.5 billion
multiply-adds" is a design budget). Pools round up (Caffe's convention; 112 -> 56 -> 28 -> 14 -> 7).
The module and parameter names are torchvision's (``conv1``, ``conv2``, ``conv3``, ``inception3a``, ...,
``aux1``, ``aux2``, ``fc``), with ``conv1.conv.weight``/``.bias`` where torchvision has ``.conv``/``.bn``.

Deviations of ``googlenet``: the LRN constants are those of the BVLC Caffe reproduction (size 5,
alpha 1e-4 divided by the size as in Caffe, beta 0.75, k 1), and initialisation follows it (Xavier weights,
biases 0.2); the paper gives neither.

``googlenet_bn`` is torchvision's GoogLeNet: BatchNorm (eps 1e-3) after every convolution (no conv biases),
no LRN, dropout 0.2, a 2x2/2 ``maxpool4``, and torchvision's known quirk of a **3x3** convolution in the
"5x5" branch (pytorch/vision#906); its auxiliary heads use an adaptive 4x4 average pool and BatchNorm after
their 1x1 convolution. Its state dicts load directly (``create_model("googlenet_bn",
weights="torchvision:FILE")``); ``transform_input=True`` reproduces torchvision's re-normalisation of inputs
used with its ImageNet weights.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .base import ZooModel
from .layers import LocalResponseNorm, conv_bn_act

PAPER = (
    "Going Deeper with Convolutions "
    "(Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke, Rabinovich)"
)
#: what every registration of each paper of this file shares
_PAPER_INFO: dict[str, Any] = dict(
    family="googlenet", recipe="googlenet", paper=PAPER, year=2014, input_size=(3, 224, 224)
)

#: Table 1: (name, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) of every inception module.
INCEPTION_TABLE: tuple[tuple[str, int, int, int, int, int, int], ...] = (
    ("inception3a", 64, 96, 128, 16, 32, 32),
    ("inception3b", 128, 128, 192, 32, 96, 64),
    ("inception4a", 192, 96, 208, 16, 48, 64),
    ("inception4b", 160, 112, 224, 24, 64, 64),
    ("inception4c", 128, 128, 256, 24, 64, 64),
    ("inception4d", 112, 144, 288, 32, 64, 64),
    ("inception4e", 256, 160, 320, 32, 128, 128),
    ("inception5a", 256, 160, 320, 32, 128, 128),
    ("inception5b", 384, 192, 384, 48, 128, 128),
)

#: The weight the paper gives the auxiliary classifiers' losses (Sec. 5).
AUX_LOSS_WEIGHT = 0.3


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode (field names and order as torchvision's)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor | None
    aux_logits1: torch.Tensor | None


def googlenet_loss(
    output: GoogLeNetOutputs | torch.Tensor, target: torch.Tensor, aux_weight: float = AUX_LOSS_WEIGHT
) -> torch.Tensor:
    """Cross-entropy of the main logits plus ``aux_weight`` times that of each auxiliary classifier (Sec. 5);
    plain cross-entropy for a tensor (eval-mode) output."""
    if isinstance(output, torch.Tensor):
        return F.cross_entropy(output, target)
    loss = F.cross_entropy(output.logits, target)
    for aux in (output.aux_logits1, output.aux_logits2):
        if aux is not None:
            loss = loss + aux_weight * F.cross_entropy(aux, target)
    return loss


class _Conv:
    """Builds GoogLeNet's conv blocks: conv + ReLU (the paper) or conv + BN + ReLU (torchvision)."""

    def __init__(self, batch_norm: bool) -> None:
        self.batch_norm = batch_norm

    def __call__(
        self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, padding: int = 0
    ) -> nn.Module:
        return conv_bn_act(in_ch, out_ch, kernel_size, stride, padding, bn=self.batch_norm, bn_eps=1e-3)


class Inception(nn.Module):
    """The inception module with dimension reductions (Szegedy et al. Fig. 2b); outputs concatenated."""

    def __init__(
        self,
        in_ch: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        conv: _Conv,
        five_kernel: int = 5,
    ) -> None:
        super().__init__()
        self.branch1 = conv(in_ch, ch1x1, 1)
        self.branch2 = nn.Sequential(conv(in_ch, ch3x3red, 1), conv(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(
            conv(in_ch, ch5x5red, 1), conv(ch5x5red, ch5x5, five_kernel, padding=five_kernel // 2)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), conv(in_ch, pool_proj, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """An auxiliary classifier (Sec. 5): average pool 5x5/3 (4x4 output at 14x14), 1x1 conv 128 + ReLU,
    FC 1024 + ReLU, dropout, FC to the classes. ``adaptive=True`` pools adaptively to 4x4 (torchvision)."""

    def __init__(
        self, in_ch: int, num_classes: int, conv: _Conv, dropout: float = 0.7, adaptive: bool = False
    ) -> None:
        super().__init__()
        self.pool: nn.Module = nn.AdaptiveAvgPool2d((4, 4)) if adaptive else nn.AvgPool2d(5, stride=3)
        self.conv = conv(in_ch, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))


class GoogLeNet(ZooModel):
    """GoogLeNet (Table 1) and torchvision's BatchNorm variant; see the module docstring.

    Args:
        num_classes: outputs of ``fc`` and of the auxiliary classifiers.
        in_chans: input channels.
        aux_logits: build the two auxiliary classifiers (used only in training mode).
        dropout: dropout before ``fc`` (paper 0.4, torchvision 0.2).
        dropout_aux: dropout in the auxiliary classifiers (0.7).
        batch_norm: torchvision's variant (BatchNorm, no LRN, 3x3 "5x5" branch, 2x2 maxpool4, adaptive aux
            pool, torchvision's initialisation) instead of the paper's network.
        transform_input: re-normalise ImageNet-normalised inputs as torchvision does for its weights.
    """

    classifier_attr = "fc"

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        aux_logits: bool = True,
        dropout: float = 0.4,
        dropout_aux: float = 0.7,
        batch_norm: bool = False,
        transform_input: bool = False,
    ) -> None:
        super().__init__()
        if transform_input and in_chans != 3:
            raise CnnzooError(f"transform_input needs 3 input channels, got in_chans={in_chans}; drop one.")
        self.num_classes, self.aux_logits, self.transform_input = num_classes, aux_logits, transform_input
        conv = _Conv(batch_norm)
        self.conv1 = conv(in_chans, 64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1: nn.Module = nn.Identity() if batch_norm else self._lrn()
        self.conv2 = conv(64, 64, 1)
        self.conv3 = conv(64, 192, 3, padding=1)
        self.lrn2: nn.Module = nn.Identity() if batch_norm else self._lrn()
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        in_ch = 192
        for name, *widths in INCEPTION_TABLE:
            setattr(self, name, Inception(in_ch, *widths, conv=conv, five_kernel=3 if batch_norm else 5))
            in_ch = widths[0] + widths[2] + widths[4] + widths[5]
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.maxpool4 = (
            nn.MaxPool2d(2, stride=2, ceil_mode=True)
            if batch_norm
            else nn.MaxPool2d(3, stride=2, ceil_mode=True)
        )
        self.aux1: InceptionAux | None = None
        self.aux2: InceptionAux | None = None
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, conv, dropout_aux, adaptive=batch_norm)
            self.aux2 = InceptionAux(528, num_classes, conv, dropout_aux, adaptive=batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        groups = ("conv1", "conv2", "conv3", *(row[0] for row in INCEPTION_TABLE))
        self.layer_group_names = {a: (a,) for a in (*groups, *(("aux1", "aux2") if aux_logits else ()), "fc")}
        self._init_weights(batch_norm)

    @staticmethod
    def _lrn() -> LocalResponseNorm:
        # BVLC Caffe: local_size 5, alpha 1e-4 (Caffe divides it by the size), beta 0.75, k 1.
        return LocalResponseNorm(size=5, alpha=1e-4 / 5, beta=0.75, k=1.0)

    def _init_weights(self, batch_norm: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                if batch_norm:  # torchvision's init_weights=True
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                else:  # BVLC Caffe: xavier weights, constant 0.2 biases
                    nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.0 if batch_norm else 0.2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        if not self.transform_input:
            return x
        mean = x.new_tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = x.new_tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return x * (std / 0.5) + (mean - 0.5) / 0.5

    def _trunk(
        self, x: torch.Tensor, with_aux: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        x = self._transform(x)
        x = self.lrn1(self.maxpool1(self.conv1(x)))
        x = self.maxpool2(self.lrn2(self.conv3(self.conv2(x))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if with_aux and self.aux1 is not None else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux and self.aux2 is not None else None
        x = self.maxpool4(self.inception4e(x))
        return self.inception5b(self.inception5a(x)), aux1, aux2

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk up to inception 5b (1024x7x7 at 224); never runs the auxiliary classifiers."""
        return self._trunk(x, with_aux=False)[0]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pool, dropout, linear (pre-logits: the pooled 1024 features after dropout)."""
        x = self.dropout(torch.flatten(self.avgpool(x), 1))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> GoogLeNetOutputs | torch.Tensor:  # type: ignore[override]
        """Plain logits in eval mode (or without auxiliary heads); :class:`GoogLeNetOutputs` in training."""
        with_aux = self.training and self.aux_logits
        features, aux1, aux2 = self._trunk(x, with_aux)
        logits = self.forward_head(features)
        return GoogLeNetOutputs(logits, aux2, aux1) if with_aux else logits

    def reset_classifier(self, num_classes: int) -> None:
        """Replace ``fc`` and the auxiliary classifiers' last layers (``fc2``) for ``num_classes``."""
        super().reset_classifier(num_classes)
        for aux in (self.aux1, self.aux2):
            if aux is not None:
                if num_classes:
                    aux.fc2 = nn.Linear(1024, num_classes).to(aux.fc1.weight.device)
                else:
                    aux.fc2 = nn.Identity()  # type: ignore[assignment]


@register_model(
    **_PAPER_INFO,
    paper_params=6_998_552,
    paper_macs=1.58e9,
    figures_note="Table 1's params column sums to ~6.8M (Inception-v3 says 5M); 6,998,552 is the exact count "
    "without the auxiliary heads (13,378,280 with them), computed; 1.5 G multiply-adds is the "
    "paper's budget, Table 1's ops column sums to 1.50 G, the exact count is 1.58 G MACs.",
    paper_top1=None,
    paper_top5=10.07,
    error_protocol="ILSVRC-2014 val, 1 model, 1 crop (Table 3; top-1 not reported; 6.67 for 7 models x 144 "
    "crops)",
    deviations=(
        "LRN constants and initialisation from the BVLC Caffe reproduction (the paper gives neither)",
        "pools round up (Caffe), which Table 1's sizes need",
    ),
    peer="torchvision:googlenet (BatchNorm variant; see googlenet_bn)",
)
def googlenet(
    num_classes: int = 1000,
    in_chans: int = 3,
    aux_logits: bool = True,
    dropout: float = 0.4,
    dropout_aux: float = 0.7,
) -> GoogLeNet:
    """GoogLeNet exactly per Szegedy et al. Table 1: no BatchNorm, LRN in the stem, two auxiliary heads."""
    return GoogLeNet(num_classes, in_chans, aux_logits, dropout, dropout_aux)


@register_model(
    **_PAPER_INFO,
    paper_params=6_624_904,
    paper_macs=1.50e9,
    figures_note="torchvision's variant: 6,624,904 params without the auxiliary heads (13,004,888 with "
    "them), 1.50 G MACs at 224, computed from torchvision's definition; not paper figures.",
    paper_top1=30.22,
    paper_top5=10.47,
    error_protocol="torchvision's ImageNet-1k weights, val, single 224 crop (torchvision's documentation); "
    "not a paper figure",
    deviations=(
        "BatchNorm (eps 1e-3) after every convolution, conv biases removed (Ioffe & Szegedy 2015)",
        "no LRN; dropout 0.2 before fc; maxpool4 is 2x2/2",
        "the '5x5' branch uses a 3x3 convolution (torchvision quirk, pytorch/vision#906)",
        "auxiliary heads pool adaptively to 4x4 and have BatchNorm after their 1x1 convolution",
        "torchvision's initialisation (truncated normal, std 0.01)",
    ),
    peer="torchvision:googlenet",
)
def googlenet_bn(
    num_classes: int = 1000,
    in_chans: int = 3,
    aux_logits: bool = True,
    dropout: float = 0.2,
    dropout_aux: float = 0.7,
    transform_input: bool = False,
) -> GoogLeNet:
    """torchvision's GoogLeNet (BatchNorm, 3x3 "5x5" branch) with its parameter names, so its weights load."""
    return GoogLeNet(
        num_classes,
        in_chans,
        aux_logits,
        dropout,
        dropout_aux,
        batch_norm=True,
        transform_input=transform_input,
    )
