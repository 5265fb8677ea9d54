"""Inception-v3: Szegedy, Vanhoucke, Ioffe, Shlens & Wojna, "Rethinking the Inception Architecture for
Computer Vision", CVPR 2016 (arXiv:1512.00567): Table 1 (the network), Figs. 5/6/7 (the 35x35 / 17x17 / 8x8
modules), Fig. 10 (grid reduction), Fig. 8 and Sec. 4/7 (the auxiliary classifier, batch-normalised).

This module also holds what the Inception papers share: conv -> BatchNorm (eps 1e-3, as in the authors'
TensorFlow code) -> ReLU (:func:`_conv`), TensorFlow-style average pools and the pooled-dropout-linear head
(:class:`_InceptionBase`), which :mod:`cnnzoo.models.inception_v4` (Inception-v4 / Inception-ResNet, AAAI
2017) reuses. Convolutions marked "V" in the figures are valid-padded, the others "same"-padded. Input
299x299.

Figures reproduced (``tests/models/test_inception.py``): ``inception_v3`` has 23,834,568 parameters without
the auxiliary head (27,161,264 with it, the torchvision ``inception_v3(aux_logits=True)`` count); 5.713 G
MACs at 299 for the inference network (osmr: 5.74 G, 0.5% higher, as for the other models here; the tests
allow 1%). The Xception paper's Table 3 figure 23,626,728 is 207,840 below the auxiliary-free count; no
arrangement of BN scales or biases, class count or auxiliary head that we tried reproduces it, so it is noted,
not asserted.

Deviations (also in the model's metadata):

- Inception-v3 follows the authors' released network (TF-slim, ported by torchvision), which differs from the
  paper's Table 1 in the stem (1x1 conv to 80 then 3x3 to 192, then a max-pool, instead of three 3x3 convs)
  and in the 35x35 modules' widths (256/288/288 outputs, not 288): Table 1's shapes do not chain, and every
  reported figure comes from the released network.
- Average pools in the modules exclude the padding from the count (TensorFlow "SAME" pooling);
  torchvision's port counts it: ``count_include_pad=True`` gives the torchvision form.
- Dropout before the classifier: the released code's keep probability 0.8 (torchvision uses 0.5; no
  parameters either way).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import torch
from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .base import ZooModel
from .layers import conv_bn_act

V3_PAPER = "Szegedy et al., Rethinking the Inception Architecture for Computer Vision, CVPR 2016"
#: what every registration of each paper of this file shares
_V3_INFO: dict[str, Any] = dict(
    family="inception", recipe="inception_v3", paper=V3_PAPER, year=2016, input_size=(3, 299, 299)
)

InceptionOutputs = namedtuple("InceptionOutputs", ["logits", "aux_logits"])
InceptionOutputs.__doc__ = (
    "What Inception-v3 returns in training mode with its auxiliary head: two logit tensors."
)

_BN_EPS = 1e-3  # the authors' TensorFlow BatchNorm epsilon


def _conv(
    cin: int, cout: int, k: int | tuple[int, int], stride: int = 1, valid: bool = False
) -> nn.Sequential:
    """conv (no bias) -> BN(eps 1e-3) -> ReLU; "same" padding unless ``valid`` (the figures' "V")."""
    return conv_bn_act(cin, cout, k, stride, 0 if valid else None, bn_eps=_BN_EPS)


def stem_layers(in_chans: int) -> list[nn.Module]:
    """The released Inception-v3's stem up to 192 maps, in order: 3x3/2 V to 32, 3x3 V to 32, 3x3 to 64, 3x3/2
    max-pool, 1x1 to 80, 3x3 V to 192 (the stem deviation of the module docstring). The Inception-ResNets of
    :mod:`cnnzoo.models.inception_v4` open with the same six layers; each network names them its own way."""
    return [
        _conv(in_chans, 32, 3, 2, valid=True),
        _conv(32, 32, 3, valid=True),
        _conv(32, 64, 3),
        nn.MaxPool2d(3, 2),
        _conv(64, 80, 1),
        _conv(80, 192, 3, valid=True),
    ]


def _avg_pool(count_include_pad: bool) -> nn.AvgPool2d:
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=count_include_pad)


def _check_drop(drop_rate: float) -> float:
    if not isinstance(drop_rate, (int, float)) or not 0.0 <= drop_rate < 1.0:
        raise CnnzooError(f"drop_rate must be a number in [0, 1), got {drop_rate!r}.")
    return float(drop_rate)


class _InceptionBase(ZooModel):
    """Shared head: global average pool -> dropout -> linear classifier (``classifier_attr``)."""

    num_features: int

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(x.mean((2, 3), keepdim=True), 1)
        x = self.head_drop(x)
        return x if pre_logits else self.get_classifier()(x)


# ----------------------------------------------------------------------------------------------------------
# Inception-v3 (torchvision's parameter names)
# ----------------------------------------------------------------------------------------------------------


class InceptionA(nn.Module):
    """35x35 module (Inception-v3 Fig. 5: the 5x5 replaced by two 3x3; the released network keeps one 5x5
    branch beside the double-3x3 branch)."""

    def __init__(self, cin: int, pool_features: int, count_include_pad: bool = False) -> None:
        super().__init__()
        self.branch1x1 = _conv(cin, 64, 1)
        self.branch5x5_1 = _conv(cin, 48, 1)
        self.branch5x5_2 = _conv(48, 64, 5)
        self.branch3x3dbl_1 = _conv(cin, 64, 1)
        self.branch3x3dbl_2 = _conv(64, 96, 3)
        self.branch3x3dbl_3 = _conv(96, 96, 3)
        self.pool = _avg_pool(count_include_pad)
        self.branch_pool = _conv(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(self.pool(x))], 1)


class InceptionB(nn.Module):
    """35x35 -> 17x17 grid reduction (Inception-v3 Fig. 10): stride-2 convs beside a stride-2 max-pool."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = _conv(cin, 384, 3, 2, valid=True)
        self.branch3x3dbl_1 = _conv(cin, 64, 1)
        self.branch3x3dbl_2 = _conv(64, 96, 3)
        self.branch3x3dbl_3 = _conv(96, 96, 3, 2, valid=True)
        self.pool = nn.MaxPool2d(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, self.pool(x)], 1)


class InceptionC(nn.Module):
    """17x17 module with n = 7 factorised into 1x7 and 7x1 (Inception-v3 Fig. 6)."""

    def __init__(self, cin: int, channels_7x7: int, count_include_pad: bool = False) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = _conv(cin, 192, 1)
        self.branch7x7_1 = _conv(cin, c7, 1)
        self.branch7x7_2 = _conv(c7, c7, (1, 7))
        self.branch7x7_3 = _conv(c7, 192, (7, 1))
        self.branch7x7dbl_1 = _conv(cin, c7, 1)
        self.branch7x7dbl_2 = _conv(c7, c7, (7, 1))
        self.branch7x7dbl_3 = _conv(c7, c7, (1, 7))
        self.branch7x7dbl_4 = _conv(c7, c7, (7, 1))
        self.branch7x7dbl_5 = _conv(c7, 192, (1, 7))
        self.pool = _avg_pool(count_include_pad)
        self.branch_pool = _conv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for i in range(1, 6):
            bd = getattr(self, f"branch7x7dbl_{i}")(bd)
        return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(self.pool(x))], 1)


class InceptionD(nn.Module):
    """17x17 -> 8x8 grid reduction (Inception-v3 Fig. 10 with factorised 7x7)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = _conv(cin, 192, 1)
        self.branch3x3_2 = _conv(192, 320, 3, 2, valid=True)
        self.branch7x7x3_1 = _conv(cin, 192, 1)
        self.branch7x7x3_2 = _conv(192, 192, (1, 7))
        self.branch7x7x3_3 = _conv(192, 192, (7, 1))
        self.branch7x7x3_4 = _conv(192, 192, 3, 2, valid=True)
        self.pool = nn.MaxPool2d(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, self.pool(x)], 1)


class InceptionE(nn.Module):
    """8x8 module with expanded filter banks, 3x3 split into parallel 1x3 and 3x1 (Inception-v3 Fig. 7)."""

    def __init__(self, cin: int, count_include_pad: bool = False) -> None:
        super().__init__()
        self.branch1x1 = _conv(cin, 320, 1)
        self.branch3x3_1 = _conv(cin, 384, 1)
        self.branch3x3_2a = _conv(384, 384, (1, 3))
        self.branch3x3_2b = _conv(384, 384, (3, 1))
        self.branch3x3dbl_1 = _conv(cin, 448, 1)
        self.branch3x3dbl_2 = _conv(448, 384, 3)
        self.branch3x3dbl_3a = _conv(384, 384, (1, 3))
        self.branch3x3dbl_3b = _conv(384, 384, (3, 1))
        self.pool = _avg_pool(count_include_pad)
        self.branch_pool = _conv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(self.pool(x))], 1)


class InceptionAux(nn.Module):
    """The auxiliary classifier on the last 17x17 layer (Inception-v3 Fig. 8, batch-normalised as in Sec. 7):
    5x5/3 average pool -> 1x1 conv 128 -> 5x5 conv 768 (valid, to 1x1) -> linear."""

    def __init__(self, cin: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(5, 3)
        self.conv0 = _conv(cin, 128, 1)
        self.conv1 = _conv(128, 768, 5, valid=True)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.conv0(self.pool(x)))
        return self.fc(torch.flatten(x.mean((2, 3), keepdim=True), 1))


class InceptionV3(_InceptionBase):
    """Inception-v3 (Szegedy et al., 2016), the released network, with its auxiliary classifier.

    ``forward`` returns the logits in eval mode (and in training when ``aux_logits=False``); in training mode
    with the auxiliary head it returns ``InceptionOutputs(logits, aux_logits)`` (a named tuple, as torchvision
    does), the auxiliary logits being computed from the last 17x17 layer (``Mixed_6e``); how the two
    losses are combined is the training loop's choice. Parameter names follow torchvision's ``Inception3``.
    """

    classifier_attr = "fc"
    layer_group_names = {
        "stem": ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"),
        "mixed_5": ("Mixed_5b", "Mixed_5c", "Mixed_5d"),
        "mixed_6": ("Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"),
        "mixed_7": ("Mixed_7a", "Mixed_7b", "Mixed_7c"),
        "head": ("AuxLogits", "fc"),
    }

    #: the layers of :func:`stem_layers`, by torchvision's names
    _STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3")

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        aux_logits: bool = True,
        drop_rate: float = 0.2,
        count_include_pad: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes, self.num_features = num_classes, 2048
        cip = count_include_pad
        for name, layer in zip(self._STEM, stem_layers(in_chans)):
            setattr(self, name, layer)
        self.maxpool2 = nn.MaxPool2d(3, 2)
        self.Mixed_5b = InceptionA(192, 32, cip)
        self.Mixed_5c = InceptionA(256, 64, cip)
        self.Mixed_5d = InceptionA(288, 64, cip)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128, cip)
        self.Mixed_6c = InceptionC(768, 160, cip)
        self.Mixed_6d = InceptionC(768, 160, cip)
        self.Mixed_6e = InceptionC(768, 192, cip)
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, cip)
        self.Mixed_7c = InceptionE(2048, cip)
        self.head_drop = nn.Dropout(_check_drop(drop_rate))
        self.fc = nn.Linear(2048, num_classes)

    def _to_17x17(self, x: torch.Tensor) -> torch.Tensor:
        for name in (
            *self._STEM,
            "maxpool2",
            "Mixed_5b",
            "Mixed_5c",
            "Mixed_5d",
            "Mixed_6a",
            "Mixed_6b",
            "Mixed_6c",
            "Mixed_6d",
            "Mixed_6e",
        ):
            x = getattr(self, name)(x)
        return x

    def _to_8x8(self, x: torch.Tensor) -> torch.Tensor:
        return self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self._to_8x8(self._to_17x17(x))

    def forward(self, x: torch.Tensor) -> Any:
        x = self._to_17x17(x)
        aux = self.AuxLogits(x) if self.training and self.AuxLogits is not None else None
        logits = self.forward_head(self._to_8x8(x))
        return InceptionOutputs(logits, aux) if aux is not None else logits

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the main classifier and, where present, the auxiliary head's (which is dropped for 0)."""
        super().reset_classifier(num_classes)
        if self.AuxLogits is not None:
            if num_classes == 0:
                self.AuxLogits = None
            else:
                old = self.AuxLogits.fc
                self.AuxLogits.fc = nn.Linear(old.in_features, num_classes).to(old.weight.device)


# ----------------------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------------------

_V3_DEVIATIONS = (
    "Builds the authors' released network (TF-slim/torchvision) rather than Table 1, whose stem (three 3x3 "
    "convs after the pool) and 35x35 widths (288) do not chain; all reported figures come from the released "
    "network.",
    "Module average pools exclude padding (TensorFlow SAME); torchvision counts it: count_include_pad=True.",
    "Dropout keep probability 0.8 as in the released code (torchvision: 0.5); no parameters either way.",
    "forward returns InceptionOutputs(logits, aux_logits) in training mode when aux_logits=True, "
    "plain logits otherwise.",
)


@register_model(
    **_V3_INFO,
    paper_params=23_834_568,
    paper_macs=5.74e9,
    figures_note=(
        "Paper: 'less than 25 million' parameters, '5 billion multiply-adds'. 23,834,568 is the exact "
        "count without the auxiliary head (osmr; torchvision inception_v3 without AuxLogits); "
        "27,161,264 with it. The Xception paper's Table 3 gives 23,626,728, which we cannot "
        "reproduce. 5.74 G MACs is osmr's count at 299."
    ),
    paper_top1=21.2,
    paper_top5=5.6,
    error_protocol="single crop 299x299, ILSVRC-2012 validation",
    deviations=_V3_DEVIATIONS,
    peer="torchvision inception_v3 (aux_logits=True); count_include_pad=True",
)
def inception_v3(
    num_classes: int = 1000,
    in_chans: int = 3,
    aux_logits: bool = True,
    drop_rate: float = 0.2,
    count_include_pad: bool = False,
) -> InceptionV3:
    """Inception-v3 (Szegedy et al., 2016) with its batch-normalised auxiliary classifier, 299x299 input."""
    return InceptionV3(num_classes, in_chans, aux_logits, drop_rate, count_include_pad)
