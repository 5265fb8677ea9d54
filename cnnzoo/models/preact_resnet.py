"""Pre-activation residual networks: He, Zhang, Ren & Sun, "Identity Mappings in Deep Residual Networks"
(ECCV 2016, arXiv:1603.05027).

Every block is BN-ReLU-conv, BN-ReLU-conv(, BN-ReLU-conv) with a clean identity path and no ReLU after the sum
(Fig. 1b / Fig. 4e); a final BN-ReLU precedes global average pooling. The pre-activation blocks
(:class:`PreActBasicBlock`, :class:`PreActBottleneck`) live here; the networks are built with the residual
engine of :mod:`cnnzoo.models.resnet`, to which the blocks are passed as classes.

Reproduced: the CIFAR-10 networks of Table 2 / Table 4 (ResNet-110 with basic blocks, ResNet-164 and
ResNet-1001 with bottlenecks, 16/32/64 filters x 4) and the ImageNet networks of Table 5 (ResNet-152,
ResNet-200, and the shallower depths of the original ResNet's Table 1 laid out the same way).

Layout and deviations (also in each model's metadata):

- As in the authors' code (``resnet-pre-act.lua`` for CIFAR, ``preresnet.lua`` of fb.resnet.torch for
  ImageNet), the first block of each stage shares its BN-ReLU with the projection shortcut; on ImageNet the
  first block of stage 1 has no BN-ReLU of its own because the stem (7x7 conv, BN, ReLU, max-pool) already
  ends with one. Projections (option B) are a 1x1 convolution without BN. The stride is in the 3x3
  convolution.
- Parameters of ResNet-1001: the paper (Table 4) says 10.2M; the exact count of this design is 10,327,706
  (10.3M, as third-party tables give). The difference is the paper's rounding or a slightly different count of
  the shortcut projections and BN layers; every layer here follows the paper's description. ResNet-164's
  1,703,258 rounds to the paper's 1.7M.
- ImageNet models follow Table 5's training regime only in architecture; no weights are provided. The paper's
  single-crop ResNet-200 figure is measured on a 320x320 crop; our default input size is 224.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..registry import register_model
from .resnet import CIFAR10_INFO, CIFAR_LAYOUT, IMAGENET_INFO, ResNet, _Residual, _resnet

PREACT_PAPER = (
    "He, Zhang, Ren & Sun, Identity Mappings in Deep Residual Networks, ECCV 2016 (arXiv:1603.05027)"
)
#: what every model of this paper registers, beside the IMAGENET_INFO or CIFAR10_INFO of its layout
_FAMILY: dict[str, Any] = dict(family="preact_resnet", paper=PREACT_PAPER, year=2016)
_DEVIATIONS = (
    "The first block of every stage shares its BN-ReLU with the projection shortcut (the authors' code); "
    "projections are a 1x1 convolution without BN.",
    "BatchNorm with PyTorch defaults; classifier initialised with PyTorch's default.",
)


# ----------------------------------------------------------------------------------------------------------
# Pre-activation blocks
# ----------------------------------------------------------------------------------------------------------
class _PreAct(_Residual):
    """What the pre-activation blocks share: the first BN-ReLU and which input the shortcut sees.

    ``preactivate=False`` drops the block's own first BN-ReLU (the stem already ended with one: the first
    block of an ImageNet network); ``shortcut_from_preact=True`` feeds the BN-ReLU'd input to the projection
    shortcut too (the first block of a stage, as in the authors' code), else the shortcut sees the raw input.
    """

    preact = True
    bn1: nn.BatchNorm2d | None

    def _init_preact(self, in_ch: int, preactivate: bool, shortcut_from_preact: bool) -> None:
        self.shortcut_from_preact = shortcut_from_preact
        self.bn1 = nn.BatchNorm2d(in_ch) if preactivate else None
        self.relu = nn.ReLU(inplace=False)

    def _preactivated(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the branch's input, the shortcut's input)."""
        pre = x if self.bn1 is None else self.relu(self.bn1(x))
        return pre, (pre if self.shortcut_from_preact else x)


class PreActBasicBlock(_PreAct):
    """BN-ReLU-conv3x3, BN-ReLU-(dropout)-conv3x3, identity added without a ReLU after it (He et al.,
    "Identity Mappings in Deep Residual Networks", ECCV 2016, Fig. 4e; Zagoruyko & Komodakis's WRN block with
    dropout)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int = 1,
        *,
        preactivate: bool = True,
        shortcut_from_preact: bool = False,
        dropout: float = 0.0,
        **common: Any,
    ) -> None:
        super().__init__()
        self._init_preact(in_ch, preactivate, shortcut_from_preact)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self._init_common(out_ch, **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre, identity = self._preactivated(x)
        out = self.conv1(pre)
        out = self.conv2(self.dropout(self.relu(self.bn2(out))))
        return self._merge(out, identity)


class PreActBottleneck(_PreAct):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3 (stride), BN-ReLU-conv1x1 (Identity Mappings, Fig. 4e / Fig. 5)."""

    bottleneck = True

    def __init__(
        self,
        in_ch: int,
        width: int,
        out_ch: int,
        stride: int = 1,
        *,
        groups: int = 1,
        preactivate: bool = True,
        shortcut_from_preact: bool = False,
        dropout: float = 0.0,
        **common: Any,
    ) -> None:
        super().__init__()
        self._init_preact(in_ch, preactivate, shortcut_from_preact)
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self._init_common(out_ch, **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre, identity = self._preactivated(x)
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.dropout(self.relu(self.bn3(out))))
        return self._merge(out, identity)


# ----------------------------------------------------------------------------------------------------------
# Registered models
# ----------------------------------------------------------------------------------------------------------
_IMAGENET_TOP = {200: (20.1, 4.8)}


def _imagenet_info(depth: int) -> dict[str, object]:
    top1, top5 = _IMAGENET_TOP.get(depth, (None, None))
    return dict(
        **_FAMILY,
        **IMAGENET_INFO,
        recipe="preact_resnet_imagenet",
        description=f"Pre-activation ResNet-{depth} for ImageNet (Identity Mappings, Fig. 4e / Table 5).",
        figures_note="The paper tabulates no parameter or MAC counts for the ImageNet models; the layers are "
        "those of ResNet Table 1 (ResNet-200: 3, 24, 36, 3 bottlenecks).",
        paper_top1=top1,
        paper_top5=top5,
        error_protocol="ImageNet val, single crop, Inception-style augmentation (quoted in TF-slim's README)"
        if depth == 200
        else "",
        deviations=(*_DEVIATIONS, "Stem max-pool pads by 1 (torchvision) instead of Caffe's ceil_mode."),
    )


_CIFAR = {
    110: (None, "1.7M (Table 2)", None, ""),
    164: (1_703_258, "1.7M", 5.46, "C10 test error, median of 5 runs (WRN README quoting the paper)"),
    1001: (10_327_706, "10.2M (Table 4)", 4.92, "C10 test error, median of 5 runs (resnet-1k-layers README)"),
}


def _cifar_info(depth: int) -> dict[str, object]:
    params, paper, top1, protocol = _CIFAR[depth]
    return dict(
        **_FAMILY,
        **CIFAR10_INFO,
        recipe="preact_resnet_cifar",
        description=f"Pre-activation ResNet-{depth} for CIFAR-10 (Identity Mappings, "
        f"{'basic blocks' if depth <= 110 else 'bottlenecks'}).",
        paper_params=params,
        figures_note=f"The paper says {paper}. "
        + (
            "The exact count is 10,327,706 (10.3M); see the module docstring."
            if depth == 1001
            else "Exact count of this design."
        ),
        paper_top1=top1,
        error_protocol=protocol,
        deviations=_DEVIATIONS,
    )


@register_model(**_imagenet_info(18))
def preact_resnet18(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """Pre-activation ResNet-18 (He et al. 2016, Identity Mappings) with the layers of ResNet-18."""
    return _resnet(PreActBasicBlock, (2, 2, 2, 2), **locals())


@register_model(**_imagenet_info(34))
def preact_resnet34(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """Pre-activation ResNet-34 (He et al. 2016, Identity Mappings) with the layers of ResNet-34."""
    return _resnet(PreActBasicBlock, (3, 4, 6, 3), **locals())


@register_model(**_imagenet_info(50))
def preact_resnet50(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """Pre-activation ResNet-50 (He et al. 2016, Identity Mappings) with the layers of ResNet-50."""
    return _resnet(PreActBottleneck, (3, 4, 6, 3), **locals())


@register_model(**_imagenet_info(101))
def preact_resnet101(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """Pre-activation ResNet-101 (He et al. 2016, Identity Mappings) with the layers of ResNet-101."""
    return _resnet(PreActBottleneck, (3, 4, 23, 3), **locals())


@register_model(**_imagenet_info(152))
def preact_resnet152(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """Pre-activation ResNet-152 (He et al. 2016, Identity Mappings) with the layers of ResNet-152."""
    return _resnet(PreActBottleneck, (3, 8, 36, 3), **locals())


@register_model(**_imagenet_info(200))
def preact_resnet200(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """Pre-activation ResNet-200 (He et al. 2016, Identity Mappings) with the layers of ResNet-200."""
    return _resnet(PreActBottleneck, (3, 24, 36, 3), **locals())


@register_model(**_cifar_info(110))
def preact_resnet110(
    num_classes: int = 10,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """Pre-activation CIFAR ResNet-110: 6n+2 with basic blocks, n = 18."""
    return _resnet(PreActBasicBlock, (18, 18, 18), **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(164))
def preact_resnet164(
    num_classes: int = 10,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """Pre-activation CIFAR ResNet-164: 9n+2 with bottlenecks (stage outputs 64/128/256), n = 18."""
    return _resnet(PreActBottleneck, (18, 18, 18), **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(1001))
def preact_resnet1001(
    num_classes: int = 10,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """Pre-activation CIFAR ResNet-1001: 9n+2 with bottlenecks (stage outputs 64/128/256), n = 111."""
    return _resnet(PreActBottleneck, (111, 111, 111), **CIFAR_LAYOUT, **locals())
