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
from .resnet import STOCHASTIC_DEPTH_OPTIONS, ResNet, cifar_network, imagenet_resnet, residual_factory

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
        "basic",
        n,
        (16 * k, 32 * k, 64 * k),
        num_classes=num_classes,
        in_chans=in_chans,
        preact=True,
        shortcut="B",
        block_dropout=dropout,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


@register_model(
    "wrn",
    family="wide_resnet",
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


_CIFAR_OPTIONS = {"dropout": 0.0, **STOCHASTIC_DEPTH_OPTIONS}
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
for (_d, _k), (_params, _paper, _top1, _macs, _protocol) in _CIFAR.items():
    register_model(
        f"wrn{_d}_{_k}",
        family="wide_resnet",
        paper=WRN_PAPER,
        year=2016,
        input_size=(3, 32, 32),
        num_classes=10,
        description=f"WRN-{_d}-{_k} for CIFAR (Zagoruyko & Komodakis 2016); dropout=0.3 as in the paper.",
        paper_params=_params,
        paper_macs=_macs,
        figures_note=f"Exact count for CIFAR-10; the paper says {_paper}."
        + (" MACs: osmr's third-party count (the paper gives none)." if _macs else ""),
        paper_top1=_top1,
        error_protocol=_protocol,
        deviations=_DEVIATIONS,
    )(residual_factory(wide_resnet_cifar, _d, _k, num_classes=10, options=_CIFAR_OPTIONS))


for _depth, _params, _top in ((50, 68_849_128, (21.9, 5.79)), (101, None, (None, None))):
    register_model(
        f"wide_resnet{_depth}_2",
        family="wide_resnet",
        paper=WRN_PAPER,
        year=2016,
        input_size=(3, 224, 224),
        description=f"WRN-{_depth}-2-bottleneck for ImageNet, torchvision's wide_resnet{_depth}_2 layout.",
        paper_params=_params,
        figures_note=(
            "osmr's count of the authors' released model, which folds BatchNorm into conv biases; ours "
            "keeps BN: 68,883,240 = 68,849,128 + 34,112 BN channels (see the module docstring)."
            if _params
            else "No reference figure; torchvision's layout."
        ),
        paper_top1=_top[0],
        paper_top5=_top[1],
        error_protocol="ImageNet val, single crop (szagoruyko/wide-residual-networks README)"
        if _top[0]
        else "",
        deviations=(
            "Stride in the 3x3 (torchvision's layout), as in the authors' fb.resnet.torch-based code.",
            "BatchNorm kept as separate layers (the released model folds it into conv biases).",
        ),
        peer=f"torchvision.models.wide_resnet{_depth}_2",
    )(residual_factory(imagenet_resnet, _depth, v1_5=True, base_width=128))
