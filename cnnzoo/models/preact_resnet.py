"""Pre-activation residual networks: He, Zhang, Ren & Sun, "Identity Mappings in Deep Residual Networks"
(ECCV 2016, arXiv:1603.05027).

Every block is BN-ReLU-conv, BN-ReLU-conv(, BN-ReLU-conv) with a clean identity path and no ReLU after the sum
(Fig. 1b / Fig. 4e); a final BN-ReLU precedes global average pooling. Built with the residual engine of
:mod:`cnnzoo.models.resnet`.

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

from ..errors import CnnzooError
from ..registry import register_model
from .resnet import ResNet, cifar_network, imagenet_resnet, residual_factory

PREACT_PAPER = (
    "He, Zhang, Ren & Sun, Identity Mappings in Deep Residual Networks, ECCV 2016 (arXiv:1603.05027)"
)
_DEVIATIONS = (
    "The first block of every stage shares its BN-ReLU with the projection shortcut (the authors' code); "
    "projections are a 1x1 convolution without BN.",
    "BatchNorm with PyTorch defaults; classifier initialised with PyTorch's default.",
)


def cifar_preact_resnet(
    depth: int,
    *,
    num_classes: int = 10,
    in_chans: int = 3,
    bottleneck: bool | None = None,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """A pre-activation CIFAR ResNet: 3x3 conv (16), three stages on 32/16/8 maps, final BN-ReLU, pooling, fc.

    With basic blocks ``depth = 6n + 2`` (ResNet-110: n = 18); with bottlenecks ``depth = 9n + 2`` and stage
    outputs 64/128/256 (ResNet-164: n = 18, ResNet-1001: n = 111). ``bottleneck`` defaults to ``depth > 110``.
    """
    bottleneck = depth > 110 if bottleneck is None else bottleneck
    per_block = 9 if bottleneck else 6
    if (depth - 2) % per_block or depth < per_block + 2:
        kind = "9n+2 with bottlenecks (164, 1001)" if bottleneck else "6n+2 with basic blocks (110)"
        raise CnnzooError(f"a pre-activation CIFAR ResNet has depth {kind}, got {depth}.")
    n = (depth - 2) // per_block
    return cifar_network(
        "bottleneck" if bottleneck else "basic",
        n,
        (16, 32, 64),
        num_classes=num_classes,
        in_chans=in_chans,
        preact=True,
        shortcut="B",
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


_IMAGENET_TOP = {200: (20.1, 4.8)}
for _depth in (18, 34, 50, 101, 152, 200):
    register_model(
        f"preact_resnet{_depth}",
        family="preact_resnet",
        paper=PREACT_PAPER,
        year=2016,
        input_size=(3, 224, 224),
        description=f"Pre-activation ResNet-{_depth} for ImageNet (Identity Mappings, Fig. 4e / Table 5).",
        figures_note="The paper tabulates no parameter or MAC counts for the ImageNet models; the layers are "
        "those of ResNet Table 1 (ResNet-200: 3, 24, 36, 3 bottlenecks).",
        paper_top1=_IMAGENET_TOP.get(_depth, (None, None))[0],
        paper_top5=_IMAGENET_TOP.get(_depth, (None, None))[1],
        error_protocol="ImageNet val, single crop, Inception-style augmentation (quoted in TF-slim's README)"
        if _depth == 200
        else "",
        deviations=(*_DEVIATIONS, "Stem max-pool pads by 1 (torchvision) instead of Caffe's ceil_mode."),
    )(residual_factory(imagenet_resnet, _depth, preact=True, v1_5=True))

_CIFAR = {
    110: (None, "1.7M (Table 2)", None, ""),
    164: (1_703_258, "1.7M", 5.46, "C10 test error, median of 5 runs (WRN README quoting the paper)"),
    1001: (10_327_706, "10.2M (Table 4)", 4.92, "C10 test error, median of 5 runs (resnet-1k-layers README)"),
}
for _depth, (_params, _paper, _top1, _protocol) in _CIFAR.items():
    register_model(
        f"preact_resnet{_depth}",
        family="preact_resnet",
        paper=PREACT_PAPER,
        year=2016,
        input_size=(3, 32, 32),
        num_classes=10,
        description=f"Pre-activation ResNet-{_depth} for CIFAR-10 (Identity Mappings, "
        f"{'basic blocks' if _depth <= 110 else 'bottlenecks'}).",
        paper_params=_params,
        figures_note=f"The paper says {_paper}. "
        + (
            "The exact count is 10,327,706 (10.3M); see the module docstring."
            if _depth == 1001
            else "Exact count of this design."
        ),
        paper_top1=_top1,
        error_protocol=_protocol,
        deviations=_DEVIATIONS,
    )(residual_factory(cifar_preact_resnet, _depth, num_classes=10))
