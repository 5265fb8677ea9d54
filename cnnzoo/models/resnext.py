"""ResNeXt: Xie, Girshick, Dollar, Tu & He, "Aggregated Residual Transformations for Deep Neural Networks"
(CVPR 2017, arXiv:1611.05431).

A ResNeXt bottleneck aggregates ``C`` (cardinality) parallel paths of 1x1 -> 3x3 -> 1x1 of width ``d`` each
(Fig. 1 right / Fig. 3a); Fig. 3c shows that this equals one bottleneck whose 3x3 is a grouped convolution
with ``C`` groups and ``C * d`` channels, which is what we build (the test suite checks the equivalence on a
real tensor). Built with the residual engine of :mod:`cnnzoo.models.resnet`; the stride is in the 3x3 (the
authors' fb.resnext code, like torchvision).

Reproduced: Table 1 (ResNeXt-50 32x4d: 25,028,904 parameters, 4.23 G MACs by an exact conv+fc count; the
table's "4.2 x 10^9 FLOPs" are multiply-adds; osmr's tool says 4.26 G because it also counts non-conv
operations), the ResNeXt-101 32x8d / 64x4d models of Table 3/5 (torchvision's layouts and parameter names),
and the CIFAR ResNeXt-29 8x64d / 16x64d of Table 7. For ResNeXt-29 the paper gives 34.4M / 68.1M parameters;
the exact counts of this design (3x3 conv with 64 filters + BN-ReLU, three stages of three bottlenecks with
64/128/256 x C grouped widths and 256/512/1024 outputs, projection shortcuts) are 34,426,698 and 68,155,210
for CIFAR-10, which round to the paper's figures.

Deviations: BatchNorm with PyTorch defaults; the ImageNet stem max-pool pads by 1 (torchvision).
"""

from __future__ import annotations

from ..registry import register_model
from .resnet import CIFAR_LAYOUT, Bottleneck, ResNet, _resnet

RESNEXT_PAPER = (
    "Xie, Girshick, Dollar, Tu & He, Aggregated Residual Transformations for Deep Neural Networks, "
    "CVPR 2017 (arXiv:1611.05431)"
)
_DEVIATIONS = ("BatchNorm with PyTorch defaults; classifier initialised with PyTorch's default.",)


_IMAGENET = {
    # name: depth, C, d, reference params, reference MACs, note, top-1 error
    "resnext50_32x4d": (
        50,
        32,
        4,
        25_028_904,
        4.26e9,
        "25,028,904 is exact (paper Table 1: 25.0M). MACs: osmr's 4.26 G; the exact conv+fc count "
        "is 4.23 G, the paper's Table 1 says 4.2 G 'FLOPs' (multiply-adds).",
        22.2,
    ),
    "resnext101_32x8d": (101, 32, 8, None, None, "No reference figure; torchvision's layout.", None),
    "resnext101_64x4d": (101, 64, 4, None, None, "No exact reference figure; torchvision's layout.", 20.4),
}


def _imagenet_info(name: str) -> dict[str, object]:
    depth, c, d, params, macs, note, top1 = _IMAGENET[name]
    return dict(
        family="resnext",
        recipe="resnext_imagenet",
        paper=RESNEXT_PAPER,
        year=2016,
        input_size=(3, 224, 224),
        description=f"ResNeXt-{depth} ({c}x{d}d) for ImageNet (Xie et al. 2017), torchvision's layout.",
        paper_params=params,
        paper_macs=macs,
        figures_note=note,
        paper_top1=top1,
        error_protocol="ImageNet val, single 224 crop (ResNeXt README)" if top1 else "",
        deviations=(*_DEVIATIONS, "Stem max-pool pads by 1 (torchvision)."),
        peer=f"torchvision.models.{name}",
    )


def _cifar_info(c: int, paper_m: str) -> dict[str, object]:
    return dict(
        family="resnext",
        recipe="resnext_cifar",
        paper=RESNEXT_PAPER,
        year=2016,
        input_size=(3, 32, 32),
        num_classes=10,
        description=f"ResNeXt-29 ({c}x64d) for CIFAR-10 (Xie et al. 2017, Table 7).",
        figures_note=f"The paper's Table 7 says {paper_m}; the exact count of this design rounds to it (see "
        "the module docstring).",
        error_protocol="CIFAR-10 test error (Table 7); not in the reference file, so not recorded here",
        deviations=(*_DEVIATIONS, "Projection (option B) shortcuts where the shape changes."),
    )


@register_model(**_imagenet_info("resnext50_32x4d"))
def resnext50_32x4d(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNeXt-50 (32x4d): ResNet's bottlenecks with a 32-group 3x3 of width 4 per group."""
    arch = dict(block=Bottleneck, layers=(3, 4, 6, 3), groups=32, base_width=4)
    return _resnet(
        arch, num_classes, in_chans, drop_path_rate=drop_path_rate, stochastic_depth=stochastic_depth
    )


@register_model(**_imagenet_info("resnext101_32x8d"))
def resnext101_32x8d(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNeXt-101 (32x8d): ResNet's bottlenecks with a 32-group 3x3 of width 8 per group."""
    arch = dict(block=Bottleneck, layers=(3, 4, 23, 3), groups=32, base_width=8)
    return _resnet(
        arch, num_classes, in_chans, drop_path_rate=drop_path_rate, stochastic_depth=stochastic_depth
    )


@register_model(**_imagenet_info("resnext101_64x4d"))
def resnext101_64x4d(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNeXt-101 (64x4d): ResNet's bottlenecks with a 64-group 3x3 of width 4 per group."""
    arch = dict(block=Bottleneck, layers=(3, 4, 23, 3), groups=64, base_width=4)
    return _resnet(
        arch, num_classes, in_chans, drop_path_rate=drop_path_rate, stochastic_depth=stochastic_depth
    )


@register_model(**_cifar_info(8, "34.4M"))
def resnext29_8x64d(
    num_classes: int = 10,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNeXt-29 (8x64d) for CIFAR (Xie et al. 2017, Sec. 5.2): 9n+2 layers with n = 3, a 3x3 stem of 64."""
    arch = dict(
        CIFAR_LAYOUT,
        block=Bottleneck,
        layers=(3, 3, 3),
        planes=(64, 128, 256),
        stem=((64, 3, 1),),
        groups=8,
        base_width=64,
    )
    return _resnet(
        arch, num_classes, in_chans, drop_path_rate=drop_path_rate, stochastic_depth=stochastic_depth
    )


@register_model(**_cifar_info(16, "68.1M"))
def resnext29_16x64d(
    num_classes: int = 10,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNeXt-29 (16x64d) for CIFAR (Xie et al. 2017, Sec. 5.2): 9n+2 layers with n = 3, a 3x3 stem of 64."""
    arch = dict(
        CIFAR_LAYOUT,
        block=Bottleneck,
        layers=(3, 3, 3),
        planes=(64, 128, 256),
        stem=((64, 3, 1),),
        groups=16,
        base_width=64,
    )
    return _resnet(
        arch, num_classes, in_chans, drop_path_rate=drop_path_rate, stochastic_depth=stochastic_depth
    )
