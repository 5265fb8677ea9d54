"""Residual networks: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition" (CVPR 2016,
arXiv:1512.03385), and the one residual-network engine that the other residual families configure.

Reproduced: Table 1 (ImageNet ResNet-18/34/50/101/152 and the plain-18/34 baselines of Table 2 / Fig. 3),
the shortcut options A/B/C of Sec. 3.3 / Table 3, and the CIFAR-10 networks of Sec. 4.2 / Table 6
(ResNet-20/32/44/56/110/1202 with option-A shortcuts, and the plain-20...110 baselines of Fig. 6).

Variants and deviations, each also listed in the model's :class:`~cnnzoo.registry.ModelInfo`:

- ``resnet50/101/152`` are the paper's "v1": the stride-2 of a down-sampling bottleneck sits in its first 1x1
  convolution (as in the authors' released Caffe models), giving 3.86 / 7.57 / 11.28 G MACs at 224x224 (the
  paper's Table 1 rounds to 3.8 / 7.6 / 11.3). ``resnet50_v1_5`` etc. move the stride into the 3x3 (Facebook's
  fb.resnet.torch and torchvision): same parameters, 4.09 / 7.80 / 11.51 G MACs. For the basic block of
  ResNet-18/34 the two are the same network.
- ``shortcut="A"``: identity shortcuts everywhere; when the shape changes, the input is sub-sampled with
  stride 2 and the new channels are zeros (no parameters). ``"B"`` (default for ImageNet): a 1x1 projection
  (+BN) only where the shape changes. ``"C"``: a projection on every block.
- The stem max-pool uses padding 1 (torchvision) where the authors' Caffe model pools with ``ceil_mode``
  and no padding; the two select the same 56x56 grid at 224 but different windows.
- BatchNorm uses PyTorch's defaults (eps 1e-5, momentum 0.1); weights are initialised as in He et al. 2015
  ("MSRA" fan-out normal) with BN gamma 1 and beta 0, and the classifier with PyTorch's default.
- Parameter names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0``,
  ``fc``), so torchvision state dicts load directly into ``resnet18/34`` and the ``*_v1_5`` models.

Stochastic depth (Huang, Sun, Liu, Sedra & Weinberger, "Deep Networks with Stochastic Depth", ECCV 2016) is a
keyword of every residual network in this package: ``stochastic_depth=p_L`` (the survival probability of the
last block; the paper uses 0.5) or equivalently ``drop_path_rate=1 - p_L``. Block ``l`` of ``L`` survives with
``p_l = 1 - l / L * (1 - p_L)`` (Eq. 4, with ``p_0 = 1`` standing for the input), drops its whole residual
branch per sample in training, and is scaled by ``p_l`` at test time
(:class:`~cnnzoo.models.layers.StochasticDepth`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CnnzooError
from ..options import Shortcut
from ..registry import register_model
from .base import ZooModel
from .layers import SqueezeExcite, StochasticDepth, init_he

RESNET_PAPER = (
    "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR 2016 (arXiv:1512.03385)"
)
#: what every model of this paper registers, beside the IMAGENET_INFO or CIFAR10_INFO of its layout
_FAMILY: dict[str, Any] = dict(family="resnet", paper=RESNET_PAPER, year=2015)

SHORTCUTS = Shortcut.values()
#: stems as data, one ``(out_channels, kernel, stride)`` per convolution (each followed by BN-ReLU)
IMAGENET_STEM = ((64, 7, 2),)  # 7x7/2 conv with 64 filters, BN, ReLU, then the 3x3/2 max-pool
DEEP_STEM = ((64, 3, 2), (64, 3, 1), (128, 3, 1))  # SENet-154: three 3x3 convolutions, then the max-pool


# ----------------------------------------------------------------------------------------------------------
# Shortcuts and blocks
# ----------------------------------------------------------------------------------------------------------
class ZeroPadShortcut(nn.Module):
    """Option A of He et al. (2016, Sec. 3.3): identity with stride-``s`` sub-sampling, the extra output
    channels filled with zeros. It has no parameters."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.in_ch, self.out_ch, self.stride = in_ch, out_ch, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.out_ch > self.in_ch:
            x = F.pad(x, (0, 0, 0, 0, 0, self.out_ch - self.in_ch))
        return x

    def extra_repr(self) -> str:
        return f"{self.in_ch} -> {self.out_ch}, stride={self.stride}"


def make_shortcut(
    kind: str, in_ch: int, out_ch: int, stride: int, preact: bool = False, kernel_size: int = 1
) -> nn.Module | None:
    """The shortcut of one block: ``None`` for the identity, else option A, or a projection (B/C).

    A projection is ``Sequential(conv, bn)`` (torchvision's ``downsample.0`` / ``downsample.1``); in a
    pre-activation network it is the convolution alone, as in He et al.'s Identity-Mappings code.
    ``kernel_size`` 3 is SENet-154's projection.
    """
    changes = stride != 1 or in_ch != out_ch
    if kind == "C" or (kind == "B" and changes):
        conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding=kernel_size // 2, bias=False)
        return nn.Sequential(conv) if preact else nn.Sequential(conv, nn.BatchNorm2d(out_ch))
    if kind == "A" and changes:
        return ZeroPadShortcut(in_ch, out_ch, stride)
    return None


class _Residual(nn.Module):
    """What every block shares: optional SE on the branch, stochastic depth, the shortcut and the sum.

    ``residual=False`` turns the block into its "plain" counterpart (He et al. 2016, Sec. 4.1): same layers,
    no shortcut.
    """

    #: the block's output is ``planes * expansion`` channels and it takes a ``width`` (bottleneck) or not
    bottleneck: ClassVar[bool] = False
    #: pre-activation (Identity Mappings): BN-ReLU before each conv, projection without BN, a final BN-ReLU
    preact: ClassVar[bool] = False

    downsample: nn.Module | None
    se: nn.Module | None

    def _init_common(
        self,
        out_ch: int,
        *,
        shortcut: nn.Module | None = None,
        residual: bool = True,
        se_reduction: int | None = None,
        drop_prob: float = 0.0,
    ) -> None:
        """What every block takes as keywords (the ``**common`` of the block classes): its ``shortcut``
        module (:func:`make_shortcut`; ``None``: the identity), ``residual``, the SE ratio ``se_reduction``
        and the stochastic-depth probability ``drop_prob``."""
        self.residual, self.out_channels = residual, out_ch
        self.downsample = shortcut
        self.se = SqueezeExcite(out_ch, se_reduction) if se_reduction else None
        self.drop_path = StochasticDepth(drop_prob) if residual and drop_prob > 0 else nn.Identity()

    def _merge(self, out: torch.Tensor, shortcut_input: torch.Tensor) -> torch.Tensor:
        if self.se is not None:
            out = self.se(out)
        if not self.residual:
            return out
        identity = shortcut_input if self.downsample is None else self.downsample(shortcut_input)
        return self.drop_path(out) + identity


class BasicBlock(_Residual):
    """Two 3x3 convolutions, post-activation (He et al. 2016, Fig. 2 / Fig. 5 left)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int = 1,
        **common: Any,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self._init_common(out_ch, **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(self._merge(out, x))


class Bottleneck(_Residual):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand, post-activation (He et al. 2016, Fig. 5 right).

    ``stride_in_1x1=True`` is the paper's v1 (stride in ``conv1``); ``False`` is v1.5 / ResNeXt (stride in
    ``conv2``). ``width1`` is the output of ``conv1`` (normally ``width``; SENet-154 uses half of it).
    """

    bottleneck = True

    def __init__(
        self,
        in_ch: int,
        width: int,
        out_ch: int,
        stride: int = 1,
        *,
        groups: int = 1,
        width1: int | None = None,
        stride_in_1x1: bool = False,
        **common: Any,
    ) -> None:
        super().__init__()
        width1 = width if width1 is None else width1
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(in_ch, width1, 1, s1, bias=False)
        self.bn1 = nn.BatchNorm2d(width1)
        self.conv2 = nn.Conv2d(width1, width, 3, s3, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self._init_common(out_ch, **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(self._merge(out, x))


# ----------------------------------------------------------------------------------------------------------
# The engine
# ----------------------------------------------------------------------------------------------------------
def drop_path_schedule(
    drop_path_rate: float = 0.0, stochastic_depth: float | None = None, num_blocks: int = 1
) -> list[float]:
    """Per-block drop probabilities of stochastic depth (Huang et al. 2016, Eq. 4, linear decay rule).

    ``stochastic_depth`` is the survival probability ``p_L`` of the last block; ``drop_path_rate`` is
    ``1 - p_L``; give one or the other. Block ``l = 1..L`` drops with probability ``l / L * (1 - p_L)``.
    """
    if stochastic_depth is not None:
        if not (isinstance(stochastic_depth, (int, float)) and 0.0 < stochastic_depth <= 1.0):
            raise CnnzooError(
                f"stochastic_depth is the last block's survival probability and must be in (0, 1], "
                f"got {stochastic_depth!r}."
            )
        if drop_path_rate and abs(drop_path_rate - (1.0 - stochastic_depth)) > 1e-12:
            raise CnnzooError(
                f"give either stochastic_depth={stochastic_depth} or drop_path_rate={drop_path_rate}, not "
                "both: drop_path_rate is 1 - stochastic_depth."
            )
        drop_path_rate = 1.0 - stochastic_depth
    if not (isinstance(drop_path_rate, (int, float)) and 0.0 <= drop_path_rate < 1.0):
        raise CnnzooError(f"drop_path_rate must be in [0, 1), got {drop_path_rate!r}.")
    return [drop_path_rate * (i + 1) / num_blocks for i in range(num_blocks)]


def make_block(
    block: type[_Residual],
    in_ch: int,
    planes: int,
    stride: int,
    *,
    drop_prob: float,
    shortcut: str = "B",
    residual: bool = True,
    preactivate: bool = True,
    shortcut_from_preact: bool = False,
    stride_in_1x1: bool = False,
    groups: int = 1,
    base_width: int = 64,
    width1_factor: float | None = None,
    expansion: int = 4,
    se_reduction: int | None = None,
    dropout: float = 0.0,
    downsample_kernel: int = 1,
) -> _Residual:
    """The one block constructor of every residual family: ``block`` (a class) with ``planes`` (its output, or
    ``output / expansion`` for a bottleneck), its shortcut (:func:`make_shortcut`) and what its class takes:

    - a bottleneck's 3x3 has ``int(planes * base_width / 64) * groups`` channels (torchvision's rule, which
      covers ResNeXt's cardinality and Wide ResNet's doubled width); a post-activation one takes
      ``stride_in_1x1`` (v1) and ``width1_factor`` (SENet-154's half-width first 1x1);
    - a pre-activation block takes ``preactivate`` / ``shortcut_from_preact`` (see
      :class:`~cnnzoo.models.preact_resnet._PreAct`) and WRN's ``dropout`` between its convolutions.
    """
    out_ch = planes * expansion if block.bottleneck else planes
    sc = make_shortcut(shortcut, in_ch, out_ch, stride, block.preact, downsample_kernel) if residual else None
    kw: dict[str, Any] = dict(shortcut=sc, residual=residual, se_reduction=se_reduction, drop_prob=drop_prob)
    if block.preact:
        kw.update(preactivate=preactivate, shortcut_from_preact=shortcut_from_preact, dropout=dropout)
    if not block.bottleneck:
        return block(in_ch, out_ch, stride, **kw)
    if not block.preact:
        w1 = int(planes * width1_factor) if width1_factor is not None else None
        kw.update(width1=w1, stride_in_1x1=stride_in_1x1)
    width = int(planes * base_width / 64) * groups
    return block(in_ch, width, out_ch, stride, groups=groups, **kw)


def make_stages(
    block: type[_Residual],
    layers: Sequence[int],
    planes: Sequence[int],
    strides: Sequence[int],
    in_ch: int,
    drops: Sequence[float],
    *,
    stem_norm: bool = True,
    downsample_kernel: int = 1,
    **block_options: Any,
) -> tuple[list[nn.Sequential], int]:
    """The stages of a residual network (as timm's ``make_blocks``): ``layers[i]`` blocks of ``planes[i]``,
    the first one with ``strides[i]``; ``drops`` are the blocks' stochastic-depth probabilities in order.
    Returns the stages and their output channels.

    A pre-activation stage's first block shares its BN-ReLU with the projection shortcut, and the network's
    very first block has none when the stem already ended with BN-ReLU (``stem_norm``), as in the authors'
    code; projections after the first stage have ``downsample_kernel`` (SENet-154: 3)."""
    stages, k = [], 0
    for si, (n, p, s) in enumerate(zip(layers, planes, strides)):
        blocks: list[nn.Module] = []
        for bi in range(n):
            own = not (bi == 0 and si == 0 and stem_norm)
            blocks.append(
                make_block(
                    block,
                    in_ch,
                    p,
                    s if bi == 0 else 1,
                    drop_prob=drops[k],
                    preactivate=own,
                    shortcut_from_preact=bi == 0 and own,
                    downsample_kernel=downsample_kernel if si > 0 else 1,
                    **block_options,
                )
            )
            in_ch, k = blocks[-1].out_channels, k + 1
        stages.append(nn.Sequential(*blocks))
    return stages, in_ch


class ResNet(ZooModel):
    """The residual-network engine: a stem, stages of residual blocks (:func:`make_stages`), global average
    pooling and ``fc``.

    Every residual family of cnnzoo (ResNet v1/v1.5, plain nets, CIFAR ResNets, pre-activation ResNets, Wide
    ResNets, ResNeXt, SENet) is one configuration of this class, built by :func:`_resnet` from the
    architecture its registered ``def`` hands over.

    Args:
        block: the block class (:class:`BasicBlock`, :class:`Bottleneck`, or a pre-activation block of
            :mod:`cnnzoo.models.preact_resnet`); its ``bottleneck`` and ``preact`` class attributes say how it
            is built (:func:`make_block`).
        layers: number of blocks per stage.
        planes: per stage, the block output channels (basic) or ``out / expansion`` (bottleneck).
        stem: the stem convolutions as ``(out_channels, kernel, stride)``, each followed by BN-ReLU when
            ``stem_norm``: :data:`IMAGENET_STEM` (7x7/2, 64), :data:`DEEP_STEM` (SENet-154: three 3x3),
            or a single 3x3/1 for CIFAR (:data:`CIFAR_LAYOUT`).
        stem_pool: a 3x3/2 max-pool after the stem (ImageNet layouts).
        stem_norm: BN-ReLU after each stem convolution (``False``: a pre-activation CIFAR net, whose first
            block normalises the stem's output itself).
        strides: per stage (default 1, 2, 2, ...).
        shortcut: ``"A"``, ``"B"`` or ``"C"`` (He et al. 2016, Sec. 3.3).
        residual: ``False`` builds the plain counterpart (no shortcuts at all).
        stride_in_1x1: v1 bottleneck (stride in the first 1x1) instead of v1.5.
        groups, base_width: ResNeXt's cardinality and width per group; the 3x3 of a bottleneck has
            ``int(planes * base_width / 64) * groups`` channels (torchvision's rule).
        width1_factor: if given, ``conv1`` of a bottleneck outputs ``planes * width1_factor`` (SENet-154).
        expansion: bottleneck output = ``planes * expansion``.
        se_reduction: ratio ``r`` of a squeeze-and-excitation block on every residual branch (None: none).
        dropout: dropout between the convolutions of a pre-activation block (WRN).
        head_dropout: dropout before ``fc`` (SENet-154).
        drop_path_rate / stochastic_depth: see :func:`drop_path_schedule`.
        caffe_pool: stem max-pool ``ceil_mode=True`` without padding (the authors' Caffe models) instead of
            padding 1.
        downsample_kernel: kernel size of the projection shortcuts after the first stage (SENet-154: 3).
    """

    classifier_attr = "fc"

    def __init__(
        self,
        block: type[_Residual],
        layers: Sequence[int],
        planes: Sequence[int] = (64, 128, 256, 512),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: Sequence[tuple[int, int, int]] = IMAGENET_STEM,
        stem_pool: bool = True,
        stem_norm: bool = True,
        strides: Sequence[int] | None = None,
        shortcut: str = "B",
        se_reduction: int | None = None,
        dropout: float = 0.0,
        head_dropout: float = 0.0,
        drop_path_rate: float = 0.0,
        stochastic_depth: float | None = None,
        caffe_pool: bool = False,
        **block_options: Any,
    ) -> None:
        super().__init__()
        Shortcut.parse(shortcut)  # He et al. 2016, Sec. 3.3
        if se_reduction is not None and (not isinstance(se_reduction, int) or se_reduction < 1):
            raise CnnzooError(f"se_reduction must be a positive integer such as 16, got {se_reduction!r}.")
        for name, p in (("dropout", dropout), ("head_dropout", head_dropout)):
            if not (isinstance(p, (int, float)) and 0.0 <= p < 1.0):
                raise CnnzooError(f"{name} must be a probability in [0, 1), got {p!r}.")
        strides = tuple(strides) if strides is not None else (1,) + (2,) * (len(layers) - 1)
        self.num_classes, self.preact = num_classes, block.preact

        # ---- stem: conv1 [bn1] conv2 [bn2] ... (torchvision's names) ------------------------------------
        self._stem_names: list[str] = []
        ch = in_chans
        for i, (out, k, s) in enumerate(stem, start=1):
            setattr(self, f"conv{i}", nn.Conv2d(ch, out, k, s, k // 2, bias=False))
            self._stem_names.append(f"conv{i}")
            if stem_norm:
                setattr(self, f"bn{i}", nn.BatchNorm2d(out))
                self._stem_names.append(f"bn{i}")
            ch = out
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = None
        if stem_pool:
            self.maxpool = nn.MaxPool2d(3, 2, ceil_mode=True) if caffe_pool else nn.MaxPool2d(3, 2, 1)

        # ---- stages: layer1, layer2, ... ------------------------------------------------------------------
        drops = drop_path_schedule(drop_path_rate, stochastic_depth, sum(layers))
        stages, ch = make_stages(
            block,
            layers,
            planes,
            strides,
            ch,
            drops,
            stem_norm=stem_norm,
            shortcut=shortcut,
            se_reduction=se_reduction,
            dropout=dropout,
            **block_options,
        )
        self.stage_names = [f"layer{i}" for i in range(1, len(stages) + 1)]
        for name, stage in zip(self.stage_names, stages):
            setattr(self, name, stage)

        # ---- head -----------------------------------------------------------------------------------------
        self.num_features = ch
        self.bn_final = nn.BatchNorm2d(ch) if block.preact else None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.head_drop = nn.Dropout(head_dropout) if head_dropout > 0 else nn.Identity()
        self.fc = nn.Linear(ch, num_classes)
        self.layer_group_names = {
            "stem": tuple(self._stem_names),
            **{name: (name,) for name in self.stage_names},
            "head": ("bn_final", "fc"),
        }
        init_he(self, linear_std=None)  # He et al. 2015 for the convolutions; the classifier as PyTorch's

    def remap_state_dict(self, state_dict: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
        """Map a peer's parameter names to ours. torchvision's ResNets already use our names; timm's legacy
        SENets (the authors' Caffe models) name the stem ``layer0.*``, the SE block ``se_module`` and the
        classifier ``last_linear``."""
        if source != "timm":
            return state_dict
        out: dict[str, torch.Tensor] = {}
        for key, value in state_dict.items():
            key = key.removeprefix("layer0.").replace(".se_module.", ".se.")
            if key.startswith("last_linear."):
                key = "fc." + key.removeprefix("last_linear.")
            out[key] = value
        return out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for name in self._stem_names:
            x = getattr(self, name)(x)
            if name.startswith("bn"):
                x = self.relu(x)
        if self.maxpool is not None:
            x = self.maxpool(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        if self.bn_final is not None:
            x = self.relu(self.bn_final(x))
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        if pre_logits:
            return x
        return self.fc(self.head_drop(x))


# ----------------------------------------------------------------------------------------------------------
# Layouts (architectures as data) and the one builder every registered residual network calls
# ----------------------------------------------------------------------------------------------------------
#: what an ImageNet / a CIFAR-10 residual network registers beside its paper's recipe: its input and classes
IMAGENET_INFO: dict[str, Any] = dict(input_size=(3, 224, 224))
CIFAR10_INFO: dict[str, Any] = dict(input_size=(3, 32, 32), num_classes=10)
#: He et al.'s CIFAR layout (Sec. 4.2): a 3x3 conv with 16 filters, three stages on 32/16/8 maps, no pool
CIFAR_LAYOUT: dict[str, Any] = dict(planes=(16, 32, 64), stem=((16, 3, 1),), stem_pool=False)


def _resnet(block: type[_Residual], layers: Sequence[int], **arch: Any) -> ResNet:
    """Build one registered residual network (as timm's ``_create_resnet``): its block class, its stage depths
    and the rest of its architecture as data, together with the options its ``def`` takes (each ``def``
    passes its own parameters, ``**locals()``). A pre-activation CIFAR stem is the convolution alone (its
    first block normalises)."""
    stem_norm = not (block.preact and not arch.get("stem_pool", True))
    return ResNet(block, layers, stem_norm=stem_norm, **arch)


# ----------------------------------------------------------------------------------------------------------
# Registered models: He et al. 2016
# ----------------------------------------------------------------------------------------------------------
_COMMON_DEVIATIONS = (
    "Stem max-pool pads by 1 (torchvision) where the authors' Caffe model uses ceil_mode without padding.",
    "BatchNorm with PyTorch defaults (eps 1e-5, momentum 0.1); classifier with PyTorch's default init.",
)
_TEN_CROP = "ImageNet val, 10-crop testing (ResNet Tables 2-3)"
_RESNET_TOP = {
    18: (27.88, None),
    34: (24.52, 7.46),
    50: (22.85, 6.71),
    101: (21.75, 6.05),
    152: (21.43, 5.71),
}
_RESNET_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
_RESNET_MACS_V1 = {18: 1.81e9, 34: 3.66e9, 50: 3.86e9, 101: 7.57e9, 152: 11.28e9}
_RESNET_MACS_V15 = {50: 4.09e9, 101: 7.80e9, 152: 11.51e9}
_PAPER_FLOPS = {18: "1.8", 34: "3.6", 50: "3.8", 101: "7.6", 152: "11.3"}


def _resnet_info(depth: int, v1_5: bool) -> dict[str, Any]:
    macs = (_RESNET_MACS_V15 if v1_5 and depth >= 50 else _RESNET_MACS_V1)[depth]
    top1, top5 = _RESNET_TOP[depth]
    devs = list(_COMMON_DEVIATIONS)
    if v1_5:
        devs.insert(
            0,
            "v1.5 (fb.resnet.torch / torchvision): the stride-2 of a down-sampling bottleneck is in "
            "the 3x3 convolution, not in the first 1x1 as in the paper; same parameters, more MACs.",
        )
    peer = f"torchvision.models.resnet{depth}" if (v1_5 or depth < 50) else None
    note = (
        f"Exact count, identical to torchvision (the paper gives none). MACs: exact conv+fc count at 224 "
        f"with the stride {'in the 3x3 (v1.5)' if v1_5 and depth >= 50 else 'as in the paper'}; the paper's "
        f"Table 1 says {_PAPER_FLOPS[depth]} x 10^9 'FLOPs' (multiply-adds)."
    )
    return dict(
        **_FAMILY,
        **IMAGENET_INFO,
        recipe="resnet_imagenet",
        description=f"ResNet-{depth} ("
        + ("v1.5, stride in the 3x3" if v1_5 else "v1 as in the paper")
        + "; shortcut option B by default).",
        paper_params=_RESNET_PARAMS[depth],
        paper_macs=macs,
        figures_note=note,
        paper_top1=None if v1_5 else top1,
        paper_top5=None if v1_5 else top5,
        error_protocol=_TEN_CROP + ("; no paper figure for the v1.5 variant" if v1_5 else ""),
        deviations=tuple(devs),
        peer=peer,
    )


def _plain_info(depth: int) -> dict[str, Any]:
    params, macs, top1, top5 = {
        18: (11_515_688, 1.79e9, 27.94, None),
        34: (21_623_848, 3.64e9, 28.54, 10.02),
    }[depth]
    return dict(
        **_FAMILY,
        **IMAGENET_INFO,
        recipe="resnet_imagenet",
        description=f"Plain-{depth}: ResNet-{depth}'s layers, no shortcuts (He et al. 2016, Table 2).",
        paper_params=params,
        paper_macs=macs,
        figures_note="Exact counts (the paper gives none for parameters; Fig. 3 says 3.6 G FLOPs "
        "= multiply-adds for plain-34).",
        paper_top1=top1,
        paper_top5=top5,
        error_protocol=_TEN_CROP,
        deviations=_COMMON_DEVIATIONS,
    )


# ---- CIFAR-10 (Sec. 4.2): 6n+2 layers, 16/32/64 filters, option A ---------------------------------------
_CIFAR_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962, 1202: 19_421_274}
_CIFAR_PAPER_M = {20: "0.27", 32: "0.46", 44: "0.66", 56: "0.85", 110: "1.7", 1202: "19.4"}
_CIFAR_MACS = {20: 41.3e6, 56: 127e6, 110: 256e6}
_CIFAR_TOP1 = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}


def _cifar_info(depth: int, plain: bool) -> dict[str, Any]:
    common: dict[str, Any] = dict(
        **_FAMILY,
        **CIFAR10_INFO,
        recipe="resnet_cifar",
    )
    if plain:
        return dict(
            common,
            description=f"CIFAR-10 plain-{depth}: ResNet-{depth} without shortcuts (He et al. 2016, Fig. 6).",
            paper_params=_CIFAR_PARAMS[depth],
            figures_note="Same parameters as the option-A ResNet (the shortcuts have none); the paper plots "
            "the errors of the plain nets (Fig. 6) but tabulates none.",
            error_protocol="CIFAR-10 test error (Fig. 6, plotted only)",
            deviations=("BatchNorm with PyTorch defaults; classifier initialised with PyTorch's default.",),
        )
    return dict(
        common,
        description=f"CIFAR-10 ResNet-{depth} (He et al. 2016, Sec. 4.2, Table 6; option A shortcuts).",
        paper_params=_CIFAR_PARAMS[depth],
        paper_macs=_CIFAR_MACS.get(depth),
        figures_note=f"Exact count; the paper's Table 6 says {_CIFAR_PAPER_M[depth]}M. MACs (if given) "
        "are osmr's third-party count for option B with non-conv operations; the paper "
        "reports none.",
        paper_top1=_CIFAR_TOP1[depth],
        error_protocol="CIFAR-10 test error, with augmentation (Table 6)",
        deviations=(
            "Option A pads the new channels after the old ones (the paper does not say where).",
            "BatchNorm with PyTorch defaults; classifier initialised with PyTorch's default.",
        ),
    )


@register_model(**_resnet_info(18, v1_5=False))
def resnet18(
    num_classes: int = 1000,
    in_chans: int = 3,
    shortcut: str = "B",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNet-18 of He et al. (2016), Table 1."""
    return _resnet(BasicBlock, (2, 2, 2, 2), **locals())


@register_model(**_resnet_info(34, v1_5=False))
def resnet34(
    num_classes: int = 1000,
    in_chans: int = 3,
    shortcut: str = "B",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNet-34 of He et al. (2016), Table 1."""
    return _resnet(BasicBlock, (3, 4, 6, 3), **locals())


@register_model(**_resnet_info(50, v1_5=False))
def resnet50(
    num_classes: int = 1000,
    in_chans: int = 3,
    shortcut: str = "B",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNet-50 of He et al. (2016), Table 1."""
    return _resnet(Bottleneck, (3, 4, 6, 3), stride_in_1x1=True, **locals())


@register_model(**_resnet_info(50, v1_5=True))
def resnet50_v1_5(
    num_classes: int = 1000,
    in_chans: int = 3,
    shortcut: str = "B",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNet-50 of He et al. (2016), Table 1, stride in the 3x3 (v1.5)."""
    return _resnet(Bottleneck, (3, 4, 6, 3), **locals())


@register_model(**_resnet_info(101, v1_5=False))
def resnet101(
    num_classes: int = 1000,
    in_chans: int = 3,
    shortcut: str = "B",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNet-101 of He et al. (2016), Table 1."""
    return _resnet(Bottleneck, (3, 4, 23, 3), stride_in_1x1=True, **locals())


@register_model(**_resnet_info(101, v1_5=True))
def resnet101_v1_5(
    num_classes: int = 1000,
    in_chans: int = 3,
    shortcut: str = "B",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNet-101 of He et al. (2016), Table 1, stride in the 3x3 (v1.5)."""
    return _resnet(Bottleneck, (3, 4, 23, 3), **locals())


@register_model(**_resnet_info(152, v1_5=False))
def resnet152(
    num_classes: int = 1000,
    in_chans: int = 3,
    shortcut: str = "B",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNet-152 of He et al. (2016), Table 1."""
    return _resnet(Bottleneck, (3, 8, 36, 3), stride_in_1x1=True, **locals())


@register_model(**_resnet_info(152, v1_5=True))
def resnet152_v1_5(
    num_classes: int = 1000,
    in_chans: int = 3,
    shortcut: str = "B",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """ResNet-152 of He et al. (2016), Table 1, stride in the 3x3 (v1.5)."""
    return _resnet(Bottleneck, (3, 8, 36, 3), **locals())


@register_model(**_plain_info(18))
def plain18(num_classes: int = 1000, in_chans: int = 3) -> ResNet:
    """Plain-18: ResNet-18's layers without shortcuts (He et al. 2016, Table 2 / Fig. 3)."""
    return _resnet(BasicBlock, (2, 2, 2, 2), residual=False, **locals())


@register_model(**_plain_info(34))
def plain34(num_classes: int = 1000, in_chans: int = 3) -> ResNet:
    """Plain-34: ResNet-34's layers without shortcuts (He et al. 2016, Table 2 / Fig. 3)."""
    return _resnet(BasicBlock, (3, 4, 6, 3), residual=False, **locals())


@register_model(**_cifar_info(20, plain=False))
def resnet20(
    num_classes: int = 10,
    in_chans: int = 3,
    shortcut: str = "A",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """CIFAR-10 ResNet-20 of He et al. (2016), Sec. 4.2: 6n+2 layers with n = 3."""
    return _resnet(BasicBlock, (3, 3, 3), **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(32, plain=False))
def resnet32(
    num_classes: int = 10,
    in_chans: int = 3,
    shortcut: str = "A",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """CIFAR-10 ResNet-32 of He et al. (2016), Sec. 4.2: 6n+2 layers with n = 5."""
    return _resnet(BasicBlock, (5, 5, 5), **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(44, plain=False))
def resnet44(
    num_classes: int = 10,
    in_chans: int = 3,
    shortcut: str = "A",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """CIFAR-10 ResNet-44 of He et al. (2016), Sec. 4.2: 6n+2 layers with n = 7."""
    return _resnet(BasicBlock, (7, 7, 7), **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(56, plain=False))
def resnet56(
    num_classes: int = 10,
    in_chans: int = 3,
    shortcut: str = "A",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """CIFAR-10 ResNet-56 of He et al. (2016), Sec. 4.2: 6n+2 layers with n = 9."""
    return _resnet(BasicBlock, (9, 9, 9), **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(110, plain=False))
def resnet110(
    num_classes: int = 10,
    in_chans: int = 3,
    shortcut: str = "A",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """CIFAR-10 ResNet-110 of He et al. (2016), Sec. 4.2: 6n+2 layers with n = 18."""
    return _resnet(BasicBlock, (18, 18, 18), **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(1202, plain=False))
def resnet1202(
    num_classes: int = 10,
    in_chans: int = 3,
    shortcut: str = "A",
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """CIFAR-10 ResNet-1202 of He et al. (2016), Sec. 4.2: 6n+2 layers with n = 200."""
    return _resnet(BasicBlock, (200, 200, 200), **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(20, plain=True))
def plain20(num_classes: int = 10, in_chans: int = 3) -> ResNet:
    """CIFAR-10 plain-20: ResNet-20 without shortcuts (He et al. 2016, Fig. 6)."""
    return _resnet(BasicBlock, (3, 3, 3), residual=False, **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(32, plain=True))
def plain32(num_classes: int = 10, in_chans: int = 3) -> ResNet:
    """CIFAR-10 plain-32: ResNet-32 without shortcuts (He et al. 2016, Fig. 6)."""
    return _resnet(BasicBlock, (5, 5, 5), residual=False, **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(44, plain=True))
def plain44(num_classes: int = 10, in_chans: int = 3) -> ResNet:
    """CIFAR-10 plain-44: ResNet-44 without shortcuts (He et al. 2016, Fig. 6)."""
    return _resnet(BasicBlock, (7, 7, 7), residual=False, **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(56, plain=True))
def plain56(num_classes: int = 10, in_chans: int = 3) -> ResNet:
    """CIFAR-10 plain-56: ResNet-56 without shortcuts (He et al. 2016, Fig. 6)."""
    return _resnet(BasicBlock, (9, 9, 9), residual=False, **CIFAR_LAYOUT, **locals())


@register_model(**_cifar_info(110, plain=True))
def plain110(num_classes: int = 10, in_chans: int = 3) -> ResNet:
    """CIFAR-10 plain-110: ResNet-110 without shortcuts (He et al. 2016, Fig. 6)."""
    return _resnet(BasicBlock, (18, 18, 18), residual=False, **CIFAR_LAYOUT, **locals())
