"""Inception-v4, Inception-ResNet-v1 and Inception-ResNet-v2: Szegedy, Ioffe, Vanhoucke & Alemi,
"Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning", AAAI 2017
(arXiv:1602.07261): Fig. 9 (Inception-v4 = Figs. 3-8), Fig. 15 (Inception-ResNet schema), Figs. 10-14
(Inception-ResNet-v1 blocks and stem), Figs. 16-19 (Inception-ResNet-v2 blocks), Table 1 (Reduction-A filter
banks k, l, m, n), Sec. 3.3 (residual scaling by 0.1-0.3).

All convolutions are conv -> BatchNorm (eps 1e-3) -> ReLU (the shared helpers of
:mod:`cnnzoo.models.inception`), except the linear 1x1 "up-projection" of each Inception-ResNet block (a
biased convolution without BN or activation, "batch-normalization only on top of the traditional layers, but
not on top of the summations", Sec. 3.2). Input 299x299.

Figures reproduced (``tests/models/test_inception.py``):

- ``inception_v4``: 42,679,816 parameters, 12.254 G MACs (osmr 12.30 G).
- ``inception_resnet_v2``: 55,843,464 parameters, 13.156 G MACs (osmr 13.19 G).
- ``inception_resnet_v1``: the paper's network (Fig. 15 with Figs. 10-14: 5 / 10 / 5 blocks, 1792
  features, a single linear classifier) has 22,756,328 parameters and 6.206 G MACs. osmr's 23,995,624 /
  6.33 G is a different network (FaceNet's: a sixth, un-scaled, un-activated 8x8 block and a
  1792-512-1000 bottleneck head with BatchNorm1d); the test pins our count and rebuilds osmr's exactly
  from ours plus those two changes.

Deviations (also in each model's metadata):

- Inception-v4: the figures' order of the factorised n x 1 / 1 x n convolutions (stem 7x1 then 1x7; the
  5-conv branch of Inception-B 1x7 first; Inception-C 1x3 then 3x1) is the default; the released TF-slim
  code (and timm) uses the other order in those three places: ``kernel_order="tf"``. Same counts either way.
- Inception-ResNet-v2 is the released TF-slim network (the paper's schema is not self-consistent: Fig. 17's
  1x1 up-projection has 1154 channels while Reduction-A outputs 1152, and Fig. 15 gives no width for the
  final layers): the Inception-v3 stem plus a Fig. 4-style "Mixed_5b" module to 320 channels, 10 x Block35
  (Fig. 16), Reduction-A (k, l, m, n = 256, 256, 384, 384), 20 x Block17 (Fig. 17, to 1088), Reduction-B
  (Fig. 18), 9 x Block8 (Fig. 19, to 2080) + one without ReLU, a 1x1 conv to 1536. The reference figures
  (55,843,464 / 13.19 G) describe this network.
- Residual scales 0.17 / 0.10 / 0.20 (35x35 / 17x17 / 8x8 blocks), the released code's choice within the
  paper's "between 0.1 and 0.3".
- Dropout before the classifier: keep probability 0.8 (Inception-v4 Figs. 9 and 15).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, CnnzooError
from ..registry import register_model
from .inception import _avg_pool, _check_drop, _conv, _InceptionBase, stem_layers

V4_PAPER = (
    "Szegedy et al., Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning, "
    "AAAI 2017"
)
#: what every registration of each paper of this file shares
_V4_INFO: dict[str, Any] = dict(
    family="inception", recipe="inception_v4", paper=V4_PAPER, year=2017, input_size=(3, 299, 299)
)

_V4_COMMON = (
    "Residual scales 0.17 / 0.10 / 0.20 for the 35x35 / 17x17 / 8x8 blocks (the released code's choice "
    "within the paper's 0.1-0.3).",
)


# ----------------------------------------------------------------------------------------------------------
# Inception-v4 (timm's parameter names)
# ----------------------------------------------------------------------------------------------------------


class _Concat(nn.Module):
    """A split-and-concatenate module (Inception-v4 paper, Figs. 3-8, 12 and 18; the released
    Inception-ResNet-v2's Mixed_5b): every child, in the order it was assigned (``branch0``, ``branch1``,
    ...), sees the input, and their outputs are concatenated along the channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.children()], 1)


def _pair(n: int, order_paper_first_row: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """The factorised kernels of an n x n conv: ((n,1),(1,n)) if ``order_paper_first_row``, else swapped."""
    return ((n, 1), (1, n)) if order_paper_first_row else ((1, n), (n, 1))


class Mixed3a(_Concat):
    """Stem, first split (Inception-v4 Fig. 3): 3x3/2 max-pool beside a 3x3/2 conv to 96."""

    def __init__(self) -> None:
        super().__init__()
        self.maxpool = nn.MaxPool2d(3, 2)
        self.conv = _conv(64, 96, 3, 2, valid=True)


class Mixed4a(_Concat):
    """Stem, second split (Inception-v4 Fig. 3): 1x1 64, 3x3 96 V beside 1x1 64, 7x1, 1x7, 3x3 96 V."""

    def __init__(self, paper_order: bool = True) -> None:
        super().__init__()
        k1, k2 = _pair(7, paper_order)
        self.branch0 = nn.Sequential(_conv(160, 64, 1), _conv(64, 96, 3, valid=True))
        self.branch1 = nn.Sequential(
            _conv(160, 64, 1), _conv(64, 64, k1), _conv(64, 64, k2), _conv(64, 96, 3, valid=True)
        )


class Mixed5a(_Concat):
    """Stem, third split (Inception-v4 Fig. 3): 3x3/2 conv 192 V beside a 3x3/2 max-pool."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = _conv(192, 192, 3, 2, valid=True)
        self.maxpool = nn.MaxPool2d(3, 2)


class InceptionV4A(_Concat):
    """Inception-A, 35x35 (Inception-v4 Fig. 4): 96 | 64-96 | 64-96-96 | avg-pool 96."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = _conv(384, 96, 1)
        self.branch1 = nn.Sequential(_conv(384, 64, 1), _conv(64, 96, 3))
        self.branch2 = nn.Sequential(_conv(384, 64, 1), _conv(64, 96, 3), _conv(96, 96, 3))
        self.branch3 = nn.Sequential(_avg_pool(False), _conv(384, 96, 1))


class ReductionA(_Concat):
    """Reduction-A, 35x35 -> 17x17 (Inception-v4 Fig. 7, Table 1's k, l, m, n)."""

    def __init__(self, cin: int, k: int, l: int, m: int, n: int) -> None:  # noqa: E741 (the paper's names)
        super().__init__()
        self.branch0 = _conv(cin, n, 3, 2, valid=True)
        self.branch1 = nn.Sequential(_conv(cin, k, 1), _conv(k, l, 3), _conv(l, m, 3, 2, valid=True))
        self.branch2 = nn.MaxPool2d(3, 2)


class InceptionV4B(_Concat):
    """Inception-B, 17x17 (Inception-v4 Fig. 5): 384 | 192-224-256 | 192-192-224-224-256 | avg-pool 128."""

    def __init__(self, paper_order: bool = True) -> None:
        super().__init__()
        a, b = _pair(7, not paper_order)  # the figure starts both factorised branches with 1x7
        self.branch0 = _conv(1024, 384, 1)
        self.branch1 = nn.Sequential(_conv(1024, 192, 1), _conv(192, 224, (1, 7)), _conv(224, 256, (7, 1)))
        self.branch2 = nn.Sequential(
            _conv(1024, 192, 1),
            _conv(192, 192, a),
            _conv(192, 224, b),
            _conv(224, 224, a),
            _conv(224, 256, b),
        )
        self.branch3 = nn.Sequential(_avg_pool(False), _conv(1024, 128, 1))


class ReductionB(_Concat):
    """Reduction-B, 17x17 -> 8x8 (Inception-v4 Fig. 8): 192-192/2 | 256-1x7 256-7x1 320-320/2 | max-pool."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(_conv(1024, 192, 1), _conv(192, 192, 3, 2, valid=True))
        self.branch1 = nn.Sequential(
            _conv(1024, 256, 1),
            _conv(256, 256, (1, 7)),
            _conv(256, 320, (7, 1)),
            _conv(320, 320, 3, 2, valid=True),
        )
        self.branch2 = nn.MaxPool2d(3, 2)


class InceptionV4C(nn.Module):
    """Inception-C, 8x8 (Inception-v4 Fig. 6): 256 | 384-(1x3 256, 3x1 256) | 384-448-512-(1x3 256, 3x1 256)
    | avg-pool 256."""

    def __init__(self, paper_order: bool = True) -> None:
        super().__init__()
        a, b = _pair(3, not paper_order)  # the figure: 1x3 to 448, then 3x1 to 512
        self.branch0 = _conv(1536, 256, 1)
        self.branch1_0 = _conv(1536, 384, 1)
        self.branch1_1a = _conv(384, 256, (1, 3))
        self.branch1_1b = _conv(384, 256, (3, 1))
        self.branch2_0 = _conv(1536, 384, 1)
        self.branch2_1 = _conv(384, 448, a)
        self.branch2_2 = _conv(448, 512, b)
        self.branch2_3a = _conv(512, 256, (1, 3))
        self.branch2_3b = _conv(512, 256, (3, 1))
        self.branch3 = nn.Sequential(_avg_pool(False), _conv(1536, 256, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1_0(x)
        b2 = self.branch2_2(self.branch2_1(self.branch2_0(x)))
        return torch.cat(
            [
                self.branch0(x),
                self.branch1_1a(b1),
                self.branch1_1b(b1),
                self.branch2_3a(b2),
                self.branch2_3b(b2),
                self.branch3(x),
            ],
            1,
        )


def _kernel_order(kernel_order: str) -> bool:
    if kernel_order not in ("paper", "tf"):
        raise CnnzooError(f"kernel_order must be 'paper' or 'tf', got {kernel_order!r}.")
    return kernel_order == "paper"


class InceptionV4(_InceptionBase):
    """Inception-v4 (Szegedy et al., 2017, Fig. 9): stem, 4 x Inception-A, Reduction-A, 7 x Inception-B,
    Reduction-B, 3 x Inception-C, average pool, dropout (keep 0.8), linear. Parameter names follow timm's
    ``inception_v4`` (``features.N``, ``last_linear``)."""

    classifier_attr = "last_linear"
    layer_group_names = {
        "stem": tuple(f"features.{i}" for i in range(6)),
        "inception_a": tuple(f"features.{i}" for i in range(6, 10)),
        "inception_b": tuple(f"features.{i}" for i in range(10, 18)),
        "inception_c": tuple(f"features.{i}" for i in range(18, 22)),
        "head": ("last_linear",),
    }
    # feature levels as timm's inception_v4: at reduction 4 the stem's Mixed_3a (160), not Mixed_4a after it
    feature_points = ("features.2", "features.3", "features.9", "features.17", "features.21")

    def __init__(
        self, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2, kernel_order: str = "paper"
    ) -> None:
        super().__init__()
        paper = _kernel_order(kernel_order)
        self.kernel_order = kernel_order
        self.num_classes, self.num_features = num_classes, 1536
        blocks: list[nn.Module] = [
            _conv(in_chans, 32, 3, 2, valid=True),
            _conv(32, 32, 3, valid=True),
            _conv(32, 64, 3),
            Mixed3a(),
            Mixed4a(paper),
            Mixed5a(),
        ]
        blocks += [InceptionV4A() for _ in range(4)]
        blocks += [ReductionA(384, 192, 224, 256, 384)]
        blocks += [InceptionV4B(paper) for _ in range(7)]
        blocks += [ReductionB()]
        blocks += [InceptionV4C(paper) for _ in range(3)]
        self.features = nn.Sequential(*blocks)
        self.head_drop = nn.Dropout(_check_drop(drop_rate))
        self.last_linear = nn.Linear(1536, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def remap_state_dict(self, state_dict: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
        """timm's names are ours; a timm (TF-slim) file needs ``kernel_order="tf"``, said in one sentence."""
        if source == "timm" and self.kernel_order == "paper":
            w = state_dict.get("features.4.branch1.1.conv.weight")
            if w is not None and tuple(w.shape[-2:]) == (1, 7):
                raise CheckpointError(
                    "this timm inception_v4 file uses the TF-slim kernel order; build the model with "
                    "kernel_order='tf' to load it."
                )
        return state_dict


# ----------------------------------------------------------------------------------------------------------
# Inception-ResNet-v1 / v2
# ----------------------------------------------------------------------------------------------------------


class _Residual(nn.Module):
    """x + scale * up(concat(branches(x))), then ReLU unless ``activate`` is False (Inception-v4 Sec. 3.3)."""

    scale: float
    activate: bool

    def _branches(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.scale * self.conv2d(torch.cat(self._branches(x), 1))
        return torch.relu(out) if self.activate else out

    def extra_repr(self) -> str:
        return f"scale={self.scale}, activate={self.activate}"


class Block35(_Residual):
    """Inception-ResNet-A, 35x35 (v1 Fig. 10: widths 32/32/32; v2 Fig. 16: 32/32/(48, 64))."""

    def __init__(self, cin: int, c2: tuple[int, int], scale: float = 0.17) -> None:
        super().__init__()
        self.scale, self.activate = scale, True
        self.branch0 = _conv(cin, 32, 1)
        self.branch1 = nn.Sequential(_conv(cin, 32, 1), _conv(32, 32, 3))
        self.branch2 = nn.Sequential(_conv(cin, 32, 1), _conv(32, c2[0], 3), _conv(c2[0], c2[1], 3))
        self.conv2d = nn.Conv2d(64 + c2[1], cin, 1)

    def _branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.branch0(x), self.branch1(x), self.branch2(x)]


class Block17(_Residual):
    """Inception-ResNet-B, 17x17 (v1 Fig. 11: 128 | 128-1x7 128-7x1 128; v2 Fig. 17: 192 | 128-160-192)."""

    def __init__(self, cin: int, c0: int, c1: tuple[int, int, int], scale: float = 0.10) -> None:
        super().__init__()
        self.scale, self.activate = scale, True
        self.branch0 = _conv(cin, c0, 1)
        self.branch1 = nn.Sequential(
            _conv(cin, c1[0], 1), _conv(c1[0], c1[1], (1, 7)), _conv(c1[1], c1[2], (7, 1))
        )
        self.conv2d = nn.Conv2d(c0 + c1[2], cin, 1)

    def _branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.branch0(x), self.branch1(x)]


class Block8(_Residual):
    """Inception-ResNet-C, 8x8 (v1 Fig. 13: 192 | 192-1x3 192-3x1 192; v2 Fig. 19: 192 | 192-224-256)."""

    def __init__(
        self, cin: int, c1: tuple[int, int, int], scale: float = 0.20, activate: bool = True
    ) -> None:
        super().__init__()
        self.scale, self.activate = scale, activate
        self.branch0 = _conv(cin, 192, 1)
        self.branch1 = nn.Sequential(
            _conv(cin, c1[0], 1), _conv(c1[0], c1[1], (1, 3)), _conv(c1[1], c1[2], (3, 1))
        )
        self.conv2d = nn.Conv2d(192 + c1[2], cin, 1)

    def _branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.branch0(x), self.branch1(x)]


class Mixed5b(_Concat):
    """The released Inception-ResNet-v2's 35x35 entry module (an Inception-v3 35x35 module widened to 320)."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = _conv(192, 96, 1)
        self.branch1 = nn.Sequential(_conv(192, 48, 1), _conv(48, 64, 5))
        self.branch2 = nn.Sequential(_conv(192, 64, 1), _conv(64, 96, 3), _conv(96, 96, 3))
        self.branch3 = nn.Sequential(_avg_pool(False), _conv(192, 64, 1))


class ResReductionB(_Concat):
    """Reduction-B of the Inception-ResNets (v1 Fig. 12 with c = (384, 256, 256, 256); v2 Fig. 18 with
    (384, 288, 288, 320)): max-pool | 1x1 256 -> 3x3/2 | 1x1 256 -> 3x3/2 | 1x1 256 -> 3x3 -> 3x3/2."""

    def __init__(self, cin: int, c: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(_conv(cin, 256, 1), _conv(256, c[0], 3, 2, valid=True))
        self.branch1 = nn.Sequential(_conv(cin, 256, 1), _conv(256, c[1], 3, 2, valid=True))
        self.branch2 = nn.Sequential(
            _conv(cin, 256, 1), _conv(256, c[2], 3), _conv(c[2], c[3], 3, 2, valid=True)
        )
        self.branch3 = nn.MaxPool2d(3, 2)


class _InceptionResNet(_InceptionBase):
    """What the two Inception-ResNets share: the stem up to the 3x3 conv to 192 maps (the Inception-v3 stem of
    the released networks, Fig. 14's first six layers for v1), the ``classif`` head, and a trunk that runs
    every sub-module in the order it was assigned, up to the dropout before the classifier."""

    classifier_attr = "classif"

    def _stem(self, in_chans: int) -> None:
        names = ("conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b", "conv2d_4a")
        for name, layer in zip(names, stem_layers(in_chans)):  # the timm port's names
            setattr(self, name, layer)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for name, module in self.named_children():
            if name == "head_drop":
                break
            x = module(x)
        return x


class InceptionResNetV1(_InceptionResNet):
    """Inception-ResNet-v1 as the paper draws it (Fig. 15 with Figs. 10-14): stem to 35x35x256, 5 x IR-A,
    Reduction-A (k, l, m, n = 192, 192, 256, 384), 10 x IR-B, Reduction-B, 5 x IR-C, average pool, dropout
    (keep 0.8), linear on 1792 features. Names follow the Inception-ResNet-v2 port's style."""

    layer_group_names = {
        "stem": ("conv2d_1a", "conv2d_2a", "conv2d_2b", "conv2d_3b", "conv2d_4a", "conv2d_4b"),
        "blocks_35": ("repeat",),
        "blocks_17": ("mixed_6a", "repeat_1"),
        "blocks_8": ("mixed_7a", "repeat_2"),
        "head": ("classif",),
    }

    def __init__(self, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2) -> None:
        super().__init__()
        self.num_classes, self.num_features = num_classes, 1792
        self._stem(in_chans)
        self.conv2d_4b = _conv(192, 256, 3, 2, valid=True)
        self.repeat = nn.Sequential(*[Block35(256, (32, 32)) for _ in range(5)])
        self.mixed_6a = ReductionA(256, 192, 192, 256, 384)
        self.repeat_1 = nn.Sequential(*[Block17(896, 128, (128, 128, 128)) for _ in range(10)])
        self.mixed_7a = ResReductionB(896, (384, 256, 256, 256))
        self.repeat_2 = nn.Sequential(*[Block8(1792, (192, 192, 192)) for _ in range(5)])
        self.head_drop = nn.Dropout(_check_drop(drop_rate))
        self.classif = nn.Linear(1792, num_classes)


class InceptionResNetV2(_InceptionResNet):
    """Inception-ResNet-v2, the authors' released network (see the module docstring for why not Fig. 15's
    schema). Parameter names follow timm's ``inception_resnet_v2``."""

    layer_group_names = {
        "stem": ("conv2d_1a", "conv2d_2a", "conv2d_2b", "conv2d_3b", "conv2d_4a", "mixed_5b"),
        "blocks_35": ("repeat",),
        "blocks_17": ("mixed_6a", "repeat_1"),
        "blocks_8": ("mixed_7a", "repeat_2", "block8", "conv2d_7b"),
        "head": ("classif",),
    }

    def __init__(self, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2) -> None:
        super().__init__()
        self.num_classes, self.num_features = num_classes, 1536
        self._stem(in_chans)
        self.maxpool_5a = nn.MaxPool2d(3, 2)
        self.mixed_5b = Mixed5b()
        self.repeat = nn.Sequential(*[Block35(320, (48, 64)) for _ in range(10)])
        self.mixed_6a = ReductionA(320, 256, 256, 384, 384)
        self.repeat_1 = nn.Sequential(*[Block17(1088, 192, (128, 160, 192)) for _ in range(20)])
        self.mixed_7a = ResReductionB(1088, (384, 288, 288, 320))
        self.repeat_2 = nn.Sequential(*[Block8(2080, (192, 224, 256)) for _ in range(9)])
        self.block8 = Block8(2080, (192, 224, 256), scale=1.0, activate=False)
        self.conv2d_7b = _conv(2080, 1536, 1)
        self.head_drop = nn.Dropout(_check_drop(drop_rate))
        self.classif = nn.Linear(1536, num_classes)


# ----------------------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------------------
@register_model(
    **_V4_INFO,
    paper_params=42_679_816,
    paper_macs=12.30e9,
    figures_note="The paper reports no counts; 42,679,816 parameters and 12.30 G MACs at 299 are osmr's.",
    paper_top1=20.0,
    paper_top5=5.0,
    error_protocol="single crop 299x299, non-blacklisted ILSVRC-2012 validation",
    deviations=(
        "Factorised convolutions in the figures' order by default (stem 7x1 then 1x7, Inception-B 1x7 first, "
        "Inception-C 1x3 then 3x1); the released TF-slim code and timm use the other order there: "
        "kernel_order='tf'. Same parameter and MAC counts.",
        "Module average pools exclude padding (TensorFlow SAME).",
    ),
    peer="timm inception_v4 (kernel_order='tf')",
)
def inception_v4(
    num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2, kernel_order: str = "paper"
) -> InceptionV4:
    """Inception-v4 (Szegedy et al., 2017, Fig. 9), 299x299 input."""
    return InceptionV4(num_classes, in_chans, drop_rate, kernel_order)


@register_model(
    **_V4_INFO,
    paper_params=23_995_624,
    paper_macs=6.33e9,
    figures_note=(
        "The paper reports no counts. osmr's 23,995,624 / 6.33 G is FaceNet's variant (6 un-scaled "
        "last 8x8 blocks, a 1792-512-1000 bottleneck head); the paper's network built here has "
        "22,756,328 parameters and 6.206 G MACs at 299."
    ),
    paper_top1=21.3,
    paper_top5=5.5,
    error_protocol="single crop, non-blacklisted ILSVRC-2012 validation (Inception-v4 Table 2; unconfirmed)",
    deviations=_V4_COMMON,
    peer=None,
)
def inception_resnet_v1(
    num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2
) -> InceptionResNetV1:
    """Inception-ResNet-v1 (Szegedy et al., 2017, Figs. 10-15), 299x299 input."""
    return InceptionResNetV1(num_classes, in_chans, drop_rate)


@register_model(
    **_V4_INFO,
    paper_params=55_843_464,
    paper_macs=13.19e9,
    figures_note="The paper reports no counts; 55,843,464 parameters and 13.19 G MACs at 299 are osmr's, "
    "of the released network built here.",
    paper_top1=19.9,
    paper_top5=4.9,
    error_protocol="single crop, non-blacklisted ILSVRC-2012 validation (Inception-v4 Table 2; unconfirmed)",
    deviations=(
        "The released TF-slim network, not Fig. 15's schema (not self-consistent: Fig. 17 up-projects to "
        "1154 channels, Reduction-A gives 1152): Inception-v3 stem + Mixed_5b to 320, 10 x Block35, "
        "Reduction-A "
        "(256, 256, 384, 384), 20 x Block17 (1088), Reduction-B, 9 x Block8 (2080) + one without ReLU, "
        "1x1 conv to 1536.",
        *_V4_COMMON,
    ),
    peer="timm inception_resnet_v2",
)
def inception_resnet_v2(
    num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2
) -> InceptionResNetV2:
    """Inception-ResNet-v2 (Szegedy et al., 2017), the released network, 299x299 input."""
    return InceptionResNetV2(num_classes, in_chans, drop_rate)
