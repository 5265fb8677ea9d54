"""Squeeze-and-excitation networks: Hu, Shen & Sun, "Squeeze-and-Excitation Networks" (CVPR 2018,
arXiv:1709.01507).

An SE block (Fig. 1 / Fig. 3, :class:`~cnnzoo.models.layers.SqueezeExcite`) recalibrates the residual branch
of every block before the identity is added: global average pooling, FC ``C -> C/r``, ReLU, FC ``C/r -> C``,
sigmoid, channel-wise scaling. ``se_reduction=r`` chooses the ratio (the paper's Table 10 ablation uses
r in {2, 4, 8, 16, 32}; 16 is the default). Built with the residual engine of :mod:`cnnzoo.models.resnet`.

Reproduced: Table 1 / Table 2 networks SE-ResNet-50/101/152, SE-ResNeXt-50/101 (32x4d) and SENet-154, laid out
as the authors' released Caffe models (mirrored by timm's ``legacy_*`` models, whose state dicts load via
:meth:`ResNet.remap_state_dict`):

- SE-ResNet: stride in the first 1x1 of the bottleneck (the original ResNet's v1); 28,088,024 parameters for
  SE-ResNet-50 = 25,557,032 (ResNet-50) + 2,530,992 (SE: FCs as 1x1 convolutions with biases), the paper's
  "~2.5 million additional parameters"; 3.86 G MACs by an exact conv+fc count (paper: 3.87 G, osmr: 3.88 G).
- SE-ResNeXt: stride in the 3x3, ``int(planes * 4 / 64) * 32`` grouped channels.
- SENet-154: a stem of three 3x3 convolutions (64, 64, 128), 64-group bottlenecks with a half-width first 1x1,
  3x3 projection shortcuts after the first stage and dropout 0.2 before the classifier. The paper gives no
  exact parameter count for it; ours is pinned in the tests (115,088,984, i.e. 115.1M).
- The stem max-pool uses ``ceil_mode=True`` without padding, as in the Caffe models.

Deviations: BatchNorm with PyTorch defaults; no weights are provided.
"""

from __future__ import annotations

from typing import Any

from ..registry import register_model
from .resnet import DEEP_STEM, Bottleneck, ResNet, _resnet

SENET_PAPER = "Hu, Shen & Sun, Squeeze-and-Excitation Networks, CVPR 2018 (arXiv:1709.01507)"
_DEVIATIONS = ("BatchNorm with PyTorch defaults; classifier initialised with PyTorch's default.",)


_TOP = "ImageNet val, single 224 crop (SENet Table 2)"
_INFO: dict[str, dict[str, Any]] = {
    "se_resnet50": dict(
        paper_params=28_088_024,
        paper_macs=3.87e9,
        paper_top1=23.29,
        paper_top5=6.62,
        error_protocol=_TOP,
        figures_note="28,088,024 = 25,557,032 + 2,530,992 (exact; paper: ~25M + ~2.5M, 28.1M). MACs: "
        "the paper's 3.87 G (our exact conv+fc count 3.86 G; osmr 3.88 G).",
        peer="timm.legacy_seresnet50",
    ),
    "se_resnet101": dict(peer="timm.legacy_seresnet101", figures_note="No exact reference figure."),
    "se_resnet152": dict(peer="timm.legacy_seresnet152", figures_note="No exact reference figure."),
    "se_resnext50_32x4d": dict(
        peer="timm.legacy_seresnext50_32x4d", figures_note="No exact reference figure."
    ),
    "se_resnext101_32x4d": dict(
        peer="timm.legacy_seresnext101_32x4d", figures_note="No exact reference figure."
    ),
    "senet154": dict(
        peer="timm.legacy_senet154",
        figures_note="The paper gives no exact count; ours (115,088,984) is pinned in the tests.",
    ),
}


def _info(name: str) -> dict[str, Any]:
    return dict(
        family="senet",
        recipe="senet",
        paper=SENET_PAPER,
        year=2017,
        input_size=(3, 224, 224),
        description=f"{name} (Hu et al. 2018), the authors' Caffe layout (timm legacy_* names via remap).",
        deviations=_DEVIATIONS,
        **_INFO[name],
    )


@register_model(**_info("se_resnet50"))
def se_resnet50(
    num_classes: int = 1000,
    in_chans: int = 3,
    se_reduction: int = 16,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """SE-ResNet-50 (Hu et al. 2018, Table 1): ResNet-50 v1 with an SE block on every residual branch."""
    arch = dict(block=Bottleneck, layers=(3, 4, 6, 3), stride_in_1x1=True, caffe_pool=True)
    return _resnet(
        arch,
        num_classes,
        in_chans,
        se_reduction=se_reduction,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(**_info("se_resnet101"))
def se_resnet101(
    num_classes: int = 1000,
    in_chans: int = 3,
    se_reduction: int = 16,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """SE-ResNet-101 (Hu et al. 2018): ResNet-101 v1 with SE blocks."""
    arch = dict(block=Bottleneck, layers=(3, 4, 23, 3), stride_in_1x1=True, caffe_pool=True)
    return _resnet(
        arch,
        num_classes,
        in_chans,
        se_reduction=se_reduction,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(**_info("se_resnet152"))
def se_resnet152(
    num_classes: int = 1000,
    in_chans: int = 3,
    se_reduction: int = 16,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """SE-ResNet-152 (Hu et al. 2018): ResNet-152 v1 with SE blocks."""
    arch = dict(block=Bottleneck, layers=(3, 8, 36, 3), stride_in_1x1=True, caffe_pool=True)
    return _resnet(
        arch,
        num_classes,
        in_chans,
        se_reduction=se_reduction,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(**_info("se_resnext50_32x4d"))
def se_resnext50_32x4d(
    num_classes: int = 1000,
    in_chans: int = 3,
    se_reduction: int = 16,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """SE-ResNeXt-50 (32x4d) (Hu et al. 2018, Table 1): ResNeXt-50 with SE blocks."""
    arch = dict(block=Bottleneck, layers=(3, 4, 6, 3), groups=32, base_width=4, caffe_pool=True)
    return _resnet(
        arch,
        num_classes,
        in_chans,
        se_reduction=se_reduction,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(**_info("se_resnext101_32x4d"))
def se_resnext101_32x4d(
    num_classes: int = 1000,
    in_chans: int = 3,
    se_reduction: int = 16,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """SE-ResNeXt-101 (32x4d) (Hu et al. 2018): ResNeXt-101 with SE blocks."""
    arch = dict(block=Bottleneck, layers=(3, 4, 23, 3), groups=32, base_width=4, caffe_pool=True)
    return _resnet(
        arch,
        num_classes,
        in_chans,
        se_reduction=se_reduction,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(**_info("senet154"))
def senet154(
    num_classes: int = 1000,
    in_chans: int = 3,
    se_reduction: int = 16,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """SENet-154 (Hu et al. 2018, Table 2): a deep stem, 64-group bottlenecks with a half-width first
    1x1, 3x3 projections and dropout 0.2 before the classifier."""
    arch = dict(
        block=Bottleneck,
        layers=(3, 8, 36, 3),
        groups=64,
        base_width=4,
        width1_factor=2,
        stem=DEEP_STEM,
        downsample_kernel=3,
        head_dropout=0.2,
        caffe_pool=True,
    )
    return _resnet(
        arch,
        num_classes,
        in_chans,
        se_reduction=se_reduction,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )
