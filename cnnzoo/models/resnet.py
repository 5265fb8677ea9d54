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

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .base import ZooModel
from .layers import SqueezeExcite, StochasticDepth

RESNET_PAPER = (
    "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition, CVPR 2016 (arXiv:1512.03385)"
)
STOCHASTIC_DEPTH_PAPER = "Huang, Sun, Liu, Sedra & Weinberger, Deep Networks with Stochastic Depth, ECCV 2016"

SHORTCUTS = ("A", "B", "C")


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

    downsample: nn.Module | None
    se: nn.Module | None

    def _init_common(
        self,
        out_ch: int,
        shortcut: nn.Module | None,
        residual: bool,
        se_reduction: int | None,
        drop_prob: float,
    ) -> None:
        self.residual = residual
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
        *,
        shortcut: nn.Module | None = None,
        residual: bool = True,
        se_reduction: int | None = None,
        drop_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self._init_common(out_ch, shortcut, residual, se_reduction, drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(self._merge(out, x))


class Bottleneck(_Residual):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand, post-activation (He et al. 2016, Fig. 5 right).

    ``stride_in_1x1=True`` is the paper's v1 (stride in ``conv1``); ``False`` is v1.5 / ResNeXt (stride in
    ``conv2``). ``width1`` is the output of ``conv1`` (normally ``width``; SENet-154 uses half of it).
    """

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
        shortcut: nn.Module | None = None,
        residual: bool = True,
        se_reduction: int | None = None,
        drop_prob: float = 0.0,
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
        self._init_common(out_ch, shortcut, residual, se_reduction, drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(self._merge(out, x))


class PreActBasicBlock(_Residual):
    """BN-ReLU-conv3x3, BN-ReLU-(dropout)-conv3x3, identity added without a ReLU after it (He et al.,
    "Identity Mappings in Deep Residual Networks", ECCV 2016, Fig. 4e; Zagoruyko & Komodakis's WRN block with
    dropout).

    ``preact`` says where the first BN-ReLU goes: ``"branch"`` (the residual branch only), ``"both"`` (its
    output also feeds the projection shortcut: the first block of a stage), ``"none"`` (no first BN-ReLU,
    because the stem already ended with one).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int = 1,
        *,
        preact: str = "branch",
        shortcut: nn.Module | None = None,
        residual: bool = True,
        dropout: float = 0.0,
        se_reduction: int | None = None,
        drop_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.preact = preact
        self.bn1 = nn.BatchNorm2d(in_ch) if preact != "none" else None
        self.relu = nn.ReLU(inplace=False)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self._init_common(out_ch, shortcut, residual, se_reduction, drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = x if self.bn1 is None else self.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.dropout(self.relu(self.bn2(out))))
        return self._merge(out, pre if self.preact == "both" else x)


class PreActBottleneck(_Residual):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3 (stride), BN-ReLU-conv1x1 (Identity Mappings, Fig. 4e / Fig. 5)."""

    def __init__(
        self,
        in_ch: int,
        width: int,
        out_ch: int,
        stride: int = 1,
        *,
        groups: int = 1,
        preact: str = "branch",
        shortcut: nn.Module | None = None,
        residual: bool = True,
        dropout: float = 0.0,
        se_reduction: int | None = None,
        drop_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.preact = preact
        self.bn1 = nn.BatchNorm2d(in_ch) if preact != "none" else None
        self.relu = nn.ReLU(inplace=False)
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self._init_common(out_ch, shortcut, residual, se_reduction, drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = x if self.bn1 is None else self.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.dropout(self.relu(self.bn3(out))))
        return self._merge(out, pre if self.preact == "both" else x)


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


class _Group(nn.Module):
    """A view that gathers existing modules into one layer group (not registered on the model)."""

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(modules)


class ResNet(ZooModel):
    """The residual-network engine: a stem, stages of residual blocks, global average pooling and ``fc``.

    Every residual family of cnnzoo (ResNet v1/v1.5, plain nets, CIFAR ResNets, pre-activation ResNets, Wide
    ResNets, ResNeXt, SENet) is one configuration of this class.

    Args:
        block: ``"basic"`` or ``"bottleneck"``.
        layers: number of blocks per stage.
        planes: per stage, the block output channels (basic) or ``out / expansion`` (bottleneck).
        stem: ``"imagenet"`` (7x7/2 conv, BN, ReLU, 3x3/2 max-pool), ``"cifar"`` (3x3 conv, BN, ReLU; in a
            pre-activation net the conv alone), ``"deep"`` (SENet-154: three 3x3 convs, then the max-pool).
        stem_width: output channels of the stem.
        strides: per stage (default 1, 2, 2, ...).
        shortcut: ``"A"``, ``"B"`` or ``"C"`` (He et al. 2016, Sec. 3.3).
        residual: ``False`` builds the plain counterpart (no shortcuts at all).
        preact: pre-activation blocks (Identity Mappings) with a final BN-ReLU before pooling.
        stride_in_1x1: v1 bottleneck (stride in the first 1x1) instead of v1.5.
        groups, base_width: ResNeXt's cardinality and width per group; the 3x3 of a bottleneck has
            ``int(planes * base_width / 64) * groups`` channels (torchvision's rule).
        width1_factor: if given, ``conv1`` of a bottleneck outputs ``planes * width1_factor`` (SENet-154).
        expansion: bottleneck output = ``planes * expansion``.
        se_reduction: ratio ``r`` of a squeeze-and-excitation block on every residual branch (None: none).
        block_dropout: dropout between the convolutions of a pre-activation block (WRN).
        head_dropout: dropout before ``fc`` (SENet-154).
        drop_path_rate / stochastic_depth: see :func:`drop_path_schedule`.
        caffe_pool: stem max-pool ``ceil_mode=True`` without padding (the authors' Caffe models) instead of
            padding 1.
        downsample_kernel: kernel size of the projection shortcuts after the first stage (SENet-154: 3).
    """

    classifier_attr = "fc"

    def __init__(
        self,
        block: str,
        layers: Sequence[int],
        planes: Sequence[int] = (64, 128, 256, 512),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str = "imagenet",
        stem_width: int = 64,
        strides: Sequence[int] | None = None,
        shortcut: str = "B",
        residual: bool = True,
        preact: bool = False,
        stride_in_1x1: bool = False,
        groups: int = 1,
        base_width: int = 64,
        width1_factor: float | None = None,
        expansion: int = 4,
        se_reduction: int | None = None,
        block_dropout: float = 0.0,
        head_dropout: float = 0.0,
        drop_path_rate: float = 0.0,
        stochastic_depth: float | None = None,
        caffe_pool: bool = False,
        downsample_kernel: int = 1,
    ) -> None:
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise CnnzooError(
                f"shortcut must be one of 'A', 'B', 'C' (He et al. 2016, Sec. 3.3), got {shortcut!r}."
            )
        if se_reduction is not None and (not isinstance(se_reduction, int) or se_reduction < 1):
            raise CnnzooError(f"se_reduction must be a positive integer such as 16, got {se_reduction!r}.")
        for name, p in (("dropout", block_dropout), ("head_dropout", head_dropout)):
            if not (isinstance(p, (int, float)) and 0.0 <= p < 1.0):
                raise CnnzooError(f"{name} must be a probability in [0, 1), got {p!r}.")
        strides = tuple(strides) if strides is not None else (1,) + (2,) * (len(layers) - 1)
        self.num_classes, self.preact = num_classes, preact
        drops = iter(drop_path_schedule(drop_path_rate, stochastic_depth, sum(layers)))

        # ---- stem -----------------------------------------------------------------------------------------
        self._stem_names: list[str] = []
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_chans, stem_width, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(stem_width)
            self._stem_names = ["conv1", "bn1"]
        elif stem == "deep":
            self.conv1 = nn.Conv2d(in_chans, 64, 3, 2, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.conv2 = nn.Conv2d(64, 64, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(64)
            self.conv3 = nn.Conv2d(64, stem_width, 3, 1, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(stem_width)
            self._stem_names = ["conv1", "bn1", "conv2", "bn2", "conv3", "bn3"]
        elif stem == "cifar":
            self.conv1 = nn.Conv2d(in_chans, stem_width, 3, 1, 1, bias=False)
            self._stem_names = ["conv1"]
            if not preact:
                self.bn1 = nn.BatchNorm2d(stem_width)
                self._stem_names.append("bn1")
        else:
            raise ValueError(f"unknown stem {stem!r}")
        self.stem_type = stem
        self.relu = nn.ReLU(inplace=True)
        if stem in ("imagenet", "deep"):
            self.maxpool = nn.MaxPool2d(3, 2, ceil_mode=True) if caffe_pool else nn.MaxPool2d(3, 2, 1)
        # the stem ends with BN-ReLU except for a pre-activation CIFAR net (conv alone)
        stem_activated = not (preact and stem == "cifar")

        # ---- stages ---------------------------------------------------------------------------------------
        in_ch = stem_width
        self.stage_names: list[str] = []
        for si, (n, p, s) in enumerate(zip(layers, planes, strides)):
            blocks: list[nn.Module] = []
            for bi in range(n):
                stride = s if bi == 0 else 1
                out_ch = p * expansion if block == "bottleneck" else p
                kernel = downsample_kernel if si > 0 else 1
                sc = make_shortcut(shortcut, in_ch, out_ch, stride, preact, kernel) if residual else None
                common: dict[str, Any] = dict(
                    shortcut=sc, residual=residual, se_reduction=se_reduction, drop_prob=next(drops)
                )
                if preact:
                    mode = ("none" if stem_activated and si == 0 else "both") if bi == 0 else "branch"
                    common.update(preact=mode, dropout=block_dropout)
                if block == "basic":
                    basic = PreActBasicBlock if preact else BasicBlock
                    blk: nn.Module = basic(in_ch, out_ch, stride, **common)
                elif block == "bottleneck":
                    width = int(p * base_width / 64) * groups
                    if preact:
                        blk = PreActBottleneck(in_ch, width, out_ch, stride, groups=groups, **common)
                    else:
                        w1 = int(p * width1_factor) if width1_factor is not None else None
                        blk = Bottleneck(
                            in_ch,
                            width,
                            out_ch,
                            stride,
                            groups=groups,
                            width1=w1,
                            stride_in_1x1=stride_in_1x1,
                            **common,
                        )
                else:
                    raise ValueError(f"unknown block {block!r}")
                blocks.append(blk)
                in_ch = out_ch
            name = f"layer{si + 1}"
            setattr(self, name, nn.Sequential(*blocks))
            self.stage_names.append(name)

        # ---- head -----------------------------------------------------------------------------------------
        self.num_features = in_ch
        self.bn_final = nn.BatchNorm2d(in_ch) if preact else None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.head_drop = nn.Dropout(head_dropout) if head_dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_ch, num_classes)
        self.group_attrs = ("stem", *self.stage_names, "head")
        self._init_weights()

    def _init_weights(self) -> None:
        """He et al. (2015, "Delving Deep into Rectifiers") normal init for convolutions, BN to (1, 0)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.weight.device.type != "meta":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d) and m.weight.device.type != "meta":
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # ---- layer groups (stem / stages / head); the views are built on demand -----------------------------
    @property
    def stem(self) -> nn.Module:
        return _Group([getattr(self, n) for n in self._stem_names])

    @property
    def head(self) -> nn.Module:
        return _Group([m for m in (self.bn_final, self.fc) if m is not None])

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
        if self.stem_type != "cifar":
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
# Registered models: He et al. 2016
# ----------------------------------------------------------------------------------------------------------
IMAGENET_DEPTHS: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}

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


def imagenet_resnet(
    depth: int,
    *,
    num_classes: int = 1000,
    in_chans: int = 3,
    v1_5: bool = False,
    shortcut: str = "B",
    residual: bool = True,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
    **engine: Any,
) -> ResNet:
    """An ImageNet ResNet of Table 1 of He et al. (2016) with ``depth`` in 18/34/50/101/152 (200 for the
    pre-activation family)."""
    block, layers = IMAGENET_DEPTHS[depth]
    return ResNet(
        block,
        layers,
        num_classes=num_classes,
        in_chans=in_chans,
        shortcut=shortcut,
        residual=residual,
        stride_in_1x1=not v1_5,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
        **engine,
    )


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
        family="resnet",
        paper=RESNET_PAPER,
        year=2015,
        input_size=(3, 224, 224),
        paper_params=_RESNET_PARAMS[depth],
        paper_macs=macs,
        figures_note=note,
        paper_top1=None if v1_5 else top1,
        paper_top5=None if v1_5 else top5,
        error_protocol=_TEN_CROP + ("; no paper figure for the v1.5 variant" if v1_5 else ""),
        deviations=tuple(devs),
        peer=peer,
    )


STOCHASTIC_DEPTH_OPTIONS: dict[str, Any] = {"drop_path_rate": 0.0, "stochastic_depth": None}


def residual_factory(
    build: Callable[..., ResNet],
    *args: Any,
    num_classes: int = 1000,
    options: Mapping[str, Any] = STOCHASTIC_DEPTH_OPTIONS,
    **fixed: Any,
) -> Callable[..., nn.Module]:
    """The registered factory of one residual network: ``build(*args, **fixed, num_classes=, in_chans=,
    **options)``.

    Every residual family (this module, pre-activation, wide, ResNeXt, SE) registers its depths with it. The
    factory's signature is explicit: ``num_classes`` (default ``num_classes``), ``in_chans`` (3), then the
    user options named in ``options`` with their defaults (by default the stochastic-depth keywords of
    Huang et al. 2016), so :func:`cnnzoo.create_model` names and rejects any other keyword; ``args`` and
    ``fixed`` are the architecture this name stands for and cannot be changed by a caller.
    """
    defaults = {"num_classes": num_classes, "in_chans": 3, **options}
    signature = inspect.Signature(
        [
            inspect.Parameter(
                key,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=value,
                annotation=type(value) if value is not None else float | None,
            )
            for key, value in defaults.items()
        ],
        return_annotation=nn.Module,
    )

    def factory(*call_args: Any, **call_kwargs: Any) -> nn.Module:
        bound = signature.bind(*call_args, **call_kwargs)
        bound.apply_defaults()
        return build(*args, **fixed, **bound.arguments)

    factory.__signature__ = signature  # type: ignore[attr-defined]
    return factory


_IMAGENET_OPTIONS = {"shortcut": "B", **STOCHASTIC_DEPTH_OPTIONS}
_CIFAR_OPTIONS = {"shortcut": "A", **STOCHASTIC_DEPTH_OPTIONS}


def _register_imagenet_resnets() -> None:
    for depth in (18, 34, 50, 101, 152):
        for v1_5 in (False, True) if depth >= 50 else (False,):
            name = f"resnet{depth}" + ("_v1_5" if v1_5 else "")
            desc = (
                f"ResNet-{depth} ({'v1.5, stride in the 3x3' if v1_5 else 'v1 as in the paper'}; "
                "shortcut option B by default)."
            )
            factory = residual_factory(imagenet_resnet, depth, v1_5=v1_5, options=_IMAGENET_OPTIONS)
            register_model(name, description=desc, **_resnet_info(depth, v1_5))(factory)


def _register_plain() -> None:
    figures = {18: (11_515_688, 1.79e9, 27.94, None), 34: (21_623_848, 3.64e9, 28.54, 10.02)}
    for depth, (params, macs, top1, top5) in figures.items():
        register_model(
            f"plain{depth}",
            family="resnet",
            paper=RESNET_PAPER,
            year=2015,
            input_size=(3, 224, 224),
            description=f"Plain-{depth}: ResNet-{depth}'s layers, no shortcuts (He et al. 2016, Table 2).",
            paper_params=params,
            paper_macs=macs,
            figures_note="Exact counts (the paper gives none for parameters; Fig. 3 says 3.6 G FLOPs "
            "= multiply-adds for plain-34).",
            paper_top1=top1,
            paper_top5=top5,
            error_protocol=_TEN_CROP,
            deviations=_COMMON_DEVIATIONS,
        )(residual_factory(imagenet_resnet, depth, residual=False, options={}))


# ---- CIFAR-10 (Sec. 4.2): 6n+2 layers, 16/32/64 filters, option A ---------------------------------------
_CIFAR_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962, 1202: 19_421_274}
_CIFAR_PAPER_M = {20: "0.27", 32: "0.46", 44: "0.66", 56: "0.85", 110: "1.7", 1202: "19.4"}
_CIFAR_MACS = {20: 41.3e6, 56: 127e6, 110: 256e6}
_CIFAR_TOP1 = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}


def cifar_network(
    block: str, n: int, planes: Sequence[int], *, stem_width: int = 16, **engine: Any
) -> ResNet:
    """The CIFAR layout of He et al. (2016, Sec. 4.2) that every CIFAR residual family reuses: a 3x3 stem
    convolution with ``stem_width`` filters, three stages of ``n`` blocks on 32x32 / 16x16 / 8x8 maps (strides
    1, 2, 2) with ``planes`` per stage, global average pooling and a linear classifier."""
    return ResNet(block, (n, n, n), planes, stem="cifar", stem_width=stem_width, **engine)


def cifar_resnet(
    depth: int,
    *,
    num_classes: int = 10,
    in_chans: int = 3,
    shortcut: str = "A",
    residual: bool = True,
    drop_path_rate: float = 0.0,
    stochastic_depth: float | None = None,
) -> ResNet:
    """He et al.'s CIFAR-10 network (Sec. 4.2): a 3x3 conv with 16 filters, three stages of ``n`` basic blocks
    on 32x32 / 16x16 / 8x8 maps with 16 / 32 / 64 filters, global average pooling and a 10-way fc;
    ``depth = 6n + 2``."""
    if (depth - 2) % 6 or depth < 8:
        raise CnnzooError(f"a CIFAR ResNet has depth 6n+2 (20, 32, 44, 56, 110, ...), got {depth}.")
    n = (depth - 2) // 6
    return cifar_network(
        "basic",
        n,
        (16, 32, 64),
        num_classes=num_classes,
        in_chans=in_chans,
        shortcut=shortcut,
        residual=residual,
        drop_path_rate=drop_path_rate,
        stochastic_depth=stochastic_depth,
    )


def _register_cifar() -> None:
    for depth in (20, 32, 44, 56, 110, 1202):
        register_model(
            f"resnet{depth}",
            family="resnet",
            paper=RESNET_PAPER,
            year=2015,
            input_size=(3, 32, 32),
            num_classes=10,
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
        )(residual_factory(cifar_resnet, depth, num_classes=10, options=_CIFAR_OPTIONS))
    for depth in (20, 32, 44, 56, 110):
        register_model(
            f"plain{depth}",
            family="resnet",
            paper=RESNET_PAPER,
            year=2015,
            input_size=(3, 32, 32),
            num_classes=10,
            description=f"CIFAR-10 plain-{depth}: ResNet-{depth} without shortcuts (He et al. 2016, Fig. 6).",
            paper_params=_CIFAR_PARAMS[depth],
            figures_note="Same parameters as the option-A ResNet (the shortcuts have none); the paper plots "
            "the errors of the plain nets (Fig. 6) but tabulates none.",
            error_protocol="CIFAR-10 test error (Fig. 6, plotted only)",
            deviations=("BatchNorm with PyTorch defaults; classifier initialised with PyTorch's default.",),
        )(residual_factory(cifar_resnet, depth, num_classes=10, residual=False, options={}))


_register_imagenet_resnets()
_register_plain()
_register_cifar()
