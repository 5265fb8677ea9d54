"""Wide residual networks: Zagoruyko & Komodakis, "Wide Residual Networks" (BMVC 2016, arXiv:1605.07146).

CIFAR WRN-d-k (Table 1): a 3x3 conv with 16 filters, three groups of ``N = (d - 4) / 6`` pre-activation basic
blocks with ``16k / 32k / 64k`` filters on 32/16/8 maps, optional dropout between the two convolutions of a
block (Sec. 2.4, "B(3,3) with dropout"), final BN-ReLU, global average pooling and fc. Built with the residual
engine of :mod:`cnnzoo.models.resnet`. Reproduced: Table 4 / 5 networks WRN-28-10 (36.5M), WRN-40-4 (8.9M),
WRN-16-8 (11.0M), WRN-16-4 (2.7M); exact counts 36,479,194 / 8,949,210 / 10,961,370 / 2,748,890 for CIFAR-10.

ImageNet WRN-50-2 (the authors' "WRN-50-2-bottleneck", Sec. 5 / README): ResNet-50 with the 3x3 (and first
1x1) of every bottleneck twice as wide, laid out as torchvision's ``wide_resnet50_2`` (stride in the 3x3,
parameter names identical), 68,883,240 parameters. osmr's table lists 68,849,128 for the authors' released
model: that model has BatchNorm folded into convolution biases (one bias per channel instead of BN's two
parameters), and the 34,112 difference is exactly the number of BN channels.

Deviations: the first block of each group shares its BN-ReLU with the 1x1 projection shortcut (as in the
authors' code); BatchNorm uses PyTorch's defaults; no weights are provided.
"""

from __future__ import annotations

from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .preact_resnet import PreActBasicBlock
from .resnet import CIFAR_LAYOUT, Bottleneck, ResNet, _resnet, cifar_network

WRN_PAPER = "Zagoruyko & Komodakis, Wide Residual Networks, BMVC 2016 (arXiv:1605.07146)"
_DEVIATIONS = (
    "The first block of each group shares its BN-ReLU with the 1x1 projection shortcut (the authors' code).",
    "BatchNorm with PyTorch defaults; classifier initialised with PyTorch's default.",
)


def wide_resnet_cifar(
    depth: int = 28,
    widen_factor: int = 10,
    *,
    dropout: float = 0.0,
    num_classes: int = 10,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """WRN-``depth``-``widen_factor`` for CIFAR (Zagoruyko & Komodakis 2016, Table 1), any valid d and k."""
    if not isinstance(depth, int) or (depth - 4) % 6 or depth < 10:
        raise CnnzooError(f"a wide ResNet has depth 6N+4 (10, 16, 22, 28, 40, ...), got {depth!r}.")
    if not isinstance(widen_factor, int) or widen_factor < 1:
        raise CnnzooError(f"widen_factor must be a positive integer (e.g. 10), got {widen_factor!r}.")
    n = (depth - 4) // 6
    k = widen_factor
    return cifar_network(
        PreActBasicBlock,
        n,
        (16 * k, 32 * k, 64 * k),
        num_classes=num_classes,
        in_chans=in_chans,
        shortcut="B",
        block_dropout=dropout,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(
    "wrn",
    family="wide_resnet",
    recipe="wrn_cifar",
    paper=WRN_PAPER,
    year=2016,
    input_size=(3, 32, 32),
    num_classes=10,
    description="Generic CIFAR WRN-d-k: choose depth (6N+4) and widen_factor k (default WRN-28-10).",
    figures_note="Figures depend on depth and widen_factor; see the named models.",
    deviations=_DEVIATIONS,
)
def wrn(
    num_classes: int = 10,
    in_chans: int = 3,
    depth: int = 28,
    widen_factor: int = 10,
    dropout: float = 0.0,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> nn.Module:
    """Generic CIFAR WRN-d-k (Zagoruyko & Komodakis 2016)."""
    return wide_resnet_cifar(
        depth,
        widen_factor,
        dropout=dropout,
        num_classes=num_classes,
        in_chans=in_chans,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


_CIFAR = {
    (28, 10): (
        36_479_194,
        "36.5M",
        4.00,
        5.25e9,
        "C10 test error, mean/std preprocessing, median of 5 runs (README; 3.89 with dropout 0.3)",
    ),
    (40, 4): (8_949_210, "8.9M", 4.53, None, "C10 test error (third-party table of reported means)"),
    (16, 8): (10_961_370, "11.0M", 4.27, None, "C10 test error (third-party table of reported means)"),
    (16, 4): (2_748_890, "2.7M", 5.02, None, "C10 test error (third-party table of reported means)"),
}


def _cifar_info(d: int, k: int) -> dict[str, object]:
    params, paper, top1, macs, protocol = _CIFAR[(d, k)]
    return dict(
        family="wide_resnet",
        recipe="wrn_cifar",
        paper=WRN_PAPER,
        year=2016,
        input_size=(3, 32, 32),
        num_classes=10,
        description=f"WRN-{d}-{k} for CIFAR (Zagoruyko & Komodakis 2016); dropout=0.3 as in the paper.",
        paper_params=params,
        paper_macs=macs,
        figures_note=f"Exact count for CIFAR-10; the paper says {paper}."
        + (" MACs: osmr's third-party count (the paper gives none)." if macs else ""),
        paper_top1=top1,
        error_protocol=protocol,
        deviations=_DEVIATIONS,
    )


def _imagenet_info(depth: int) -> dict[str, object]:
    params, top = {50: (68_849_128, (21.9, 5.79)), 101: (None, (None, None))}[depth]
    return dict(
        family="wide_resnet",
        recipe="wrn_imagenet",
        paper=WRN_PAPER,
        year=2016,
        input_size=(3, 224, 224),
        description=f"WRN-{depth}-2-bottleneck for ImageNet, torchvision's wide_resnet{depth}_2 layout.",
        paper_params=params,
        figures_note=(
            "osmr's count of the authors' released model, which folds BatchNorm into conv biases; ours "
            "keeps BN: 68,883,240 = 68,849,128 + 34,112 BN channels (see the module docstring)."
            if params
            else "No reference figure; torchvision's layout."
        ),
        paper_top1=top[0],
        paper_top5=top[1],
        error_protocol="ImageNet val, single crop (szagoruyko/wide-residual-networks README)"
        if top[0]
        else "",
        deviations=(
            "Stride in the 3x3 (torchvision's layout), as in the authors' fb.resnet.torch-based code.",
            "BatchNorm kept as separate layers (the released model folds it into conv biases).",
        ),
        peer=f"torchvision.models.wide_resnet{depth}_2",
    )


@register_model(**_cifar_info(28, 10))
def wrn28_10(
    num_classes: int = 10,
    in_chans: int = 3,
    dropout: float = 0.0,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """WRN-28-10 (Zagoruyko & Komodakis 2016, Table 1): N = 4 pre-activation basic blocks a group, k = 10."""
    arch = dict(CIFAR_LAYOUT, block=PreActBasicBlock, layers=(4, 4, 4), planes=(160, 320, 640))
    return _resnet(
        arch,
        num_classes,
        in_chans,
        block_dropout=dropout,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(**_cifar_info(40, 4))
def wrn40_4(
    num_classes: int = 10,
    in_chans: int = 3,
    dropout: float = 0.0,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """WRN-40-4 (Zagoruyko & Komodakis 2016, Table 1): N = 6 pre-activation basic blocks a group, k = 4."""
    arch = dict(CIFAR_LAYOUT, block=PreActBasicBlock, layers=(6, 6, 6), planes=(64, 128, 256))
    return _resnet(
        arch,
        num_classes,
        in_chans,
        block_dropout=dropout,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(**_cifar_info(16, 8))
def wrn16_8(
    num_classes: int = 10,
    in_chans: int = 3,
    dropout: float = 0.0,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """WRN-16-8 (Zagoruyko & Komodakis 2016, Table 1): N = 2 pre-activation basic blocks a group, k = 8."""
    arch = dict(CIFAR_LAYOUT, block=PreActBasicBlock, layers=(2, 2, 2), planes=(128, 256, 512))
    return _resnet(
        arch,
        num_classes,
        in_chans,
        block_dropout=dropout,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(**_cifar_info(16, 4))
def wrn16_4(
    num_classes: int = 10,
    in_chans: int = 3,
    dropout: float = 0.0,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """WRN-16-4 (Zagoruyko & Komodakis 2016, Table 1): N = 2 pre-activation basic blocks a group, k = 4."""
    arch = dict(CIFAR_LAYOUT, block=PreActBasicBlock, layers=(2, 2, 2), planes=(64, 128, 256))
    return _resnet(
        arch,
        num_classes,
        in_chans,
        block_dropout=dropout,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(**_imagenet_info(50))
def wide_resnet50_2(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """WRN-50-2-bottleneck: ResNet-50 (v1.5) with every bottleneck's inner width doubled."""
    arch = dict(block=Bottleneck, layers=(3, 4, 6, 3), base_width=128)
    return _resnet(
        arch, num_classes, in_chans, drop_path_rate=drop_path_rate, stochastic_depth=stochastic_depth
    )


@register_model(**_imagenet_info(101))
def wide_resnet101_2(
    num_classes: int = 1000,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """WRN-101-2-bottleneck: ResNet-101 (v1.5) with every bottleneck's inner width doubled."""
    arch = dict(block=Bottleneck, layers=(3, 4, 23, 3), base_width=128)
    return _resnet(
        arch, num_classes, in_chans, drop_path_rate=drop_path_rate, stochastic_depth=stochastic_depth
    )
