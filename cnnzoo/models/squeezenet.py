"""SqueezeNet: Iandola, Han, Moskewicz, Ashraf, Dally and Keutzer, "SqueezeNet: AlexNet-level accuracy with
50x fewer parameters and <0.5MB model size", arXiv:1602.07360, 2016.

Reproduces Table 1 (SqueezeNet v1.0: conv1 96x7x7/2, fire2-fire9, conv10 1x1 to the classes, global average
pool; 1,248,424 parameters before pruning), the repository's SqueezeNet v1.1 (conv1 64x3x3/2, pooling moved
earlier; 2.4x less compute at the same accuracy), and the two bypass variants of Sec. 6 / Fig. 2 (Table 3):

- simple bypass: an identity shortcut around fire3, fire5, fire7 and fire9 (the Fire modules whose input and
  output widths agree), ``out = fire(x) + x``;
- complex bypass: additionally a 1x1 convolution shortcut (with bias, as Caffe's default) around fire2, fire4,
  fire6 and fire8, whose widths differ.

Fire modules are squeeze 1x1 -> ReLU -> [expand 1x1 -> ReLU, expand 3x3 -> ReLU] concatenated. The classifier
is Dropout(0.5) -> conv10 (1x1, to the classes) -> ReLU -> global average pool, as in the paper. Module names
are torchvision's (``features.3.squeeze.weight``, ``classifier.1.weight``), so its state dicts load unchanged.

Deviations from the paper:

- Max pools use ``ceil_mode=True`` (Caffe's rounding), as torchvision does; at 224 inputs this gives 55-27-13
  feature maps as in the released prototxt at 227.
- Initialisation is torchvision's (Kaiming-uniform; conv10 normal, std 0.01); the paper uses Caffe's Xavier.
- The paper's 4.8 MB / 7.7 MB sizes for the bypass models in Table 3 cannot be reproduced from the text: the
  complex bypass's four 1x1 shortcuts add 341,248 parameters (1.36 MB at float32), so we pin our own count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .base import ZooModel

PAPER = (
    "Iandola, Han, Moskewicz, Ashraf, Dally, Keutzer: SqueezeNet: AlexNet-level accuracy with 50x fewer "
    "parameters and <0.5MB model size (arXiv 2016)"
)


class Fire(nn.Module):
    """Fire module (Sec. 3.2, Fig. 1): squeeze 1x1 (s1x1 maps) -> expand 1x1 (e1x1) and 3x3 (e3x3)
    concatenated, every convolution followed by ReLU. ``bypass`` adds the Sec. 6 shortcut: ``"simple"``
    (identity; needs equal widths) or ``"complex"`` (a 1x1 convolution)."""

    def __init__(self, in_ch: int, squeeze: int, e1x1: int, e3x3: int, bypass: str | None = None) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(in_ch, squeeze, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, e1x1, 1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, e3x3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)
        out_ch = e1x1 + e3x3
        self.bypass = bypass
        if bypass == "simple" and in_ch != out_ch:
            raise ValueError(f"a simple bypass needs equal widths, got {in_ch} -> {out_ch}")
        if bypass == "complex":
            self.bypass_conv = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze_activation(self.squeeze(x))
        y = torch.cat(
            [self.expand1x1_activation(self.expand1x1(s)), self.expand3x3_activation(self.expand3x3(s))], 1
        )
        if self.bypass == "simple":
            y = y + x
        elif self.bypass == "complex":
            y = y + self.bypass_conv(x)
        return y


# (in, squeeze, e1x1, e3x3) for fire2..fire9.
_FIRES = (
    (96, 16, 64, 64),
    (128, 16, 64, 64),
    (128, 32, 128, 128),
    (256, 32, 128, 128),
    (256, 48, 192, 192),
    (384, 48, 192, 192),
    (384, 64, 256, 256),
    (512, 64, 256, 256),
)


class SqueezeNet(ZooModel):
    """SqueezeNet v1.0 / v1.1 with torchvision's module names; ``bypass`` in {None, "simple", "complex"} (v1.0
    only, Sec. 6)."""

    classifier_attr = "classifier.1"

    def __init__(
        self,
        version: str = "1_0",
        bypass: str | None = None,
        num_classes: int = 1000,
        in_chans: int = 3,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if version not in ("1_0", "1_1"):
            raise CnnzooError(f"SqueezeNet version must be '1_0' or '1_1', got {version!r}.")
        if bypass not in (None, "simple", "complex"):
            raise CnnzooError(f"bypass must be None, 'simple' or 'complex', got {bypass!r}.")
        if bypass is not None and version != "1_0":
            raise CnnzooError("the bypass variants of the paper exist only for SqueezeNet 1.0.")
        self.num_classes = num_classes

        def fire(i: int, in_ch: int | None = None) -> Fire:  # i: the paper's fire number, 2..9
            cin, s, e1, e3 = _FIRES[i - 2]
            kind = None
            if bypass is not None and i in (3, 5, 7, 9):
                kind = "simple"
            elif bypass == "complex":
                kind = "complex"
            return Fire(in_ch or cin, s, e1, e3, kind)

        def pool() -> nn.MaxPool2d:
            return nn.MaxPool2d(3, 2, ceil_mode=True)

        if version == "1_0":
            layers: list[nn.Module] = [
                nn.Conv2d(in_chans, 96, 7, 2),
                nn.ReLU(inplace=True),
                pool(),
                fire(2),
                fire(3),
                fire(4),
                pool(),
                fire(5),
                fire(6),
                fire(7),
                fire(8),
                pool(),
                fire(9),
            ]
        else:
            layers = [
                nn.Conv2d(in_chans, 64, 3, 2),
                nn.ReLU(inplace=True),
                pool(),
                fire(2, 64),
                fire(3),
                pool(),
                fire(4),
                fire(5),
                pool(),
                fire(6),
                fire(7),
                fire(8),
                fire(9),
            ]
        self.features = nn.Sequential(*layers)
        # ``stem`` (conv1), ``fires`` (fire2..fire9 and their pools), ``head`` (conv10)
        self.layer_group_names = {
            "stem": ("features.0",),
            "fires": tuple(f"features.{i}" for i in range(1, len(layers))),
            "head": ("classifier",),
        }
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Conv2d(512, num_classes, 1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is self.classifier[1]:
                    nn.init.normal_(m.weight, 0.0, 0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pre-logits are the globally pooled fire9 features (512); logits: conv10 -> ReLU -> pool."""
        if pre_logits:
            return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return torch.flatten(self.classifier(x), 1)

    def reset_classifier(self, num_classes: int) -> None:
        super().reset_classifier(num_classes)
        conv = self.classifier[1]
        if isinstance(conv, nn.Conv2d):
            nn.init.normal_(conv.weight, 0.0, 0.01)
            nn.init.zeros_(conv.bias)


_ERR = "ILSVRC-2012 val, single crop (SqueezeNet Table 2; MobileNet Table 9; ShuffleNet Table 6)"
_DEV = (
    "max pools round up (ceil_mode), as in Caffe and torchvision",
    "torchvision's initialisation instead of Caffe's Xavier",
)


def _factory(version: str, bypass: str | None) -> Callable[..., SqueezeNet]:
    """The registered factory of one SqueezeNet: the options every SqueezeNet takes, its layout fixed."""

    def factory(num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5) -> SqueezeNet:
        return SqueezeNet(version, bypass, num_classes, in_chans, dropout)

    return factory


_SIMPLE_BYPASS_NOTE = (
    "Table 3 gives the model size only (4.8 MB, as vanilla): identity shortcuts add no "
    "parameters, so our count equals SqueezeNet 1.0's; the Table 3 accuracies (60.4% / "
    "82.5%) are unconfirmed in the reference file"
)
_COMPLEX_BYPASS_NOTE = (
    "Table 3 gives 7.7 MB; our exact count is 1,589,672 (6.4 MB at float32): the four "
    "1x1 shortcuts (with bias) add 341,248 parameters; the Table 3 accuracies (58.8% / "
    "82.0%) are unconfirmed in the reference file"
)
_TABLE3 = "ILSVRC-2012 val, single crop (SqueezeNet Table 3)"
# name: (version, bypass), description, reference figures
_MODELS: dict[str, tuple[tuple[str, str | None], str, dict[str, Any]]] = {
    "squeezenet1_0": (
        ("1_0", None),
        "SqueezeNet v1.0 (Table 1).",
        dict(
            paper_params=1_248_424,
            paper_macs=819e6,
            paper_top1=42.5,
            paper_top5=19.7,
            figures_note=(
                "params: Table 1 before pruning; MACs: exact conv count at 224 (833 M at 227; "
                "MobileNet Table 9 says 1700 M, ShuffleNet 833 MFLOPs)"
            ),
            error_protocol=_ERR,
            peer="torchvision.models.squeezenet1_0",
        ),
    ),
    "squeezenet1_1": (
        ("1_1", None),
        "SqueezeNet v1.1 (the authors' repository): 3x3/2 conv1 with 64 maps, pools after conv1/fire3/fire5.",
        dict(
            paper_params=1_235_496,
            paper_macs=349e6,
            figures_note="repository-only model (SqueezeNet_v1.1/README.md); exact counts computed at 224",
            error_protocol="not reported in the paper",
            peer="torchvision.models.squeezenet1_1",
        ),
    ),
    "squeezenet1_0_simple_bypass": (
        ("1_0", "simple"),
        "SqueezeNet 1.0 with simple (identity) bypass around fire3, 5, 7, 9 (Sec. 6, Fig. 2 middle).",
        dict(
            paper_params=1_248_424,
            paper_top1=39.6,
            paper_top5=17.5,
            figures_note=_SIMPLE_BYPASS_NOTE,
            error_protocol=_TABLE3,
        ),
    ),
    "squeezenet1_0_complex_bypass": (
        ("1_0", "complex"),
        "SqueezeNet 1.0 with simple bypass around fire3, 5, 7, 9 and 1x1-conv bypass around fire2, 4, 6, 8\n"
        "(Sec. 6, Fig. 2 right).",
        dict(
            paper_params=None,
            paper_top1=41.2,
            paper_top5=18.0,
            figures_note=_COMPLEX_BYPASS_NOTE,
            error_protocol=_TABLE3,
        ),
    ),
}
for _name, (_arch, _desc, _info) in _MODELS.items():
    register_model(
        _name,
        family="squeezenet",
        recipe="squeezenet",
        paper=PAPER,
        year=2016,
        input_size=(3, 224, 224),
        description=_desc,
        deviations=_DEV,
        **_info,
    )(_factory(*_arch))
