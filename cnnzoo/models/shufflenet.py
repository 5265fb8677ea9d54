"""ShuffleNets.

**v1**: Zhang, Zhou, Lin and Sun, "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile
Devices", CVPR 2018. Reproduces Table 1: a 3x3/2 conv with 24 maps and a 3x3/2 max pool, three stages of
ShuffleNet units (4, 8, 4 units; the first of each has stride 2), global pooling and a fully connected layer,
for group counts g in {1, 2, 3, 4, 8} (stage widths 144/200/240/272/384 doubling per stage) and the scale
factor s of Sec. 4.1.1 ("ShuffleNet sx" multiplies every layer's filters by s, Table 2). The unit is Fig. 2(b,
c): grouped 1x1 conv to a quarter of the output width -> BN -> ReLU -> **channel shuffle** -> 3x3 depthwise
conv (stride) -> BN -> grouped 1x1 conv -> BN; stride-1 units add the input, stride-2 units **concatenate** a
3x3/2 average pool of the input (so their grouped convolutions produce ``out - in`` maps); ReLU after the
merge. As the paper says (Sec. 3.3), the first pointwise layer of stage 2 is not grouped, its input having
only 24 maps.

**v2**: Ma, Zhang, Zheng and Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
ECCV 2018. Reproduces Table 5 (0.5x / 1x / 1.5x / 2x) with the units of Fig. 3(c, d): channel split in half,
1x1 conv -> BN -> ReLU -> 3x3 depthwise -> BN -> 1x1 conv -> BN -> ReLU on one half, concatenation, channel
shuffle with 2 groups; the stride-2 unit runs both halves through (a depthwise+pointwise branch on the other
side). Module names are torchvision's (``stage2.0.branch1.0.weight``, ``conv5.0.weight``, ``fc.weight``), so
torchvision's state dicts load unchanged.

Deviations from the papers:

- v1: the paper does not give the stem width under a scale factor; we scale it with the rest (12 / 24 / 36 /
  48 maps at 0.5x / 1x / 1.5x / 2x). The shuffle is applied whenever g > 1, also after the ungrouped first 1x1
  of stage 2 (as in the authors' released code), which changes nothing but the order of channels.
- v2: none in the architecture; weights start from PyTorch's default initialisation (as torchvision's), not
  from the authors' released scheme.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..errors import CnnzooError
from ..registry import register_model
from .base import ZooModel
from .layers import channel_shuffle

PAPER_V1 = (
    "Zhang, Zhou, Lin, Sun: ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile "
    "Devices (CVPR 2018)"
)
PAPER_V2 = (
    "Ma, Zhang, Zheng, Sun: ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design "
    "(ECCV 2018)"
)

# --------------------------------------------------------------------------------------------------- v1

# Table 1: output channels of stages 2-4 for each number of groups g (ShuffleNet 1x).
V1_STAGE_CHANNELS: dict[int, tuple[int, int, int]] = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
V1_REPEATS = (4, 8, 4)


class ShuffleV1Unit(nn.Module):
    """ShuffleNet unit (Fig. 2 b/c). ``out_ch`` is the unit's output width; a stride-2 unit's residual branch
    makes ``out_ch - in_ch`` maps, concatenated with the 3x3/2 average-pooled input."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, groups: int, group_first: bool = True) -> None:
        super().__init__()
        mid = out_ch // 4
        branch_out = out_ch - in_ch if stride == 2 else out_ch
        g1 = groups if group_first else 1
        for c, g, what in ((in_ch, g1, "input"), (mid, groups, "bottleneck"), (branch_out, groups, "output")):
            if c % g:
                raise CnnzooError(
                    f"ShuffleNet v1 unit {what} width {c} does not split into {g} groups; choose "
                    "another groups/scale combination."
                )
        self.stride, self.groups = stride, groups
        self.gconv1 = nn.Conv2d(in_ch, mid, 1, groups=g1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.dwconv = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.gconv2 = nn.Conv2d(mid, branch_out, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(branch_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.AvgPool2d(3, 2, 1) if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.gconv1(x)))
        if self.groups > 1:
            y = channel_shuffle(y, self.groups)
        y = self.bn2(self.dwconv(y))
        y = self.bn3(self.gconv2(y))
        if self.stride == 2:
            return self.relu(torch.cat([self.shortcut(x), y], 1))
        return self.relu(x + y)


class ShuffleNetV1(ZooModel):
    """ShuffleNet v1 (Table 1) with ``groups`` g and scale factor ``scale`` (ShuffleNet sx)."""

    classifier_attr = "fc"
    layer_group_names = {a: (a,) for a in ("stem", "stage2", "stage3", "stage4", "fc")}

    def __init__(
        self, groups: int = 3, scale: float = 1.0, num_classes: int = 1000, in_chans: int = 3
    ) -> None:
        super().__init__()
        if groups not in V1_STAGE_CHANNELS:
            raise CnnzooError(
                f"ShuffleNet v1 groups must be one of {sorted(V1_STAGE_CHANNELS)}, got {groups!r}."
            )
        if not scale > 0:
            raise CnnzooError(f"ShuffleNet v1 scale must be positive, got {scale!r}.")
        self.num_classes = num_classes
        ch = int(24 * scale)
        self.stem = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(in_chans, ch, 3, 2, 1, bias=False),
                bn=nn.BatchNorm2d(ch),
                act=nn.ReLU(inplace=True),
                pool=nn.MaxPool2d(3, 2, 1),
            )
        )
        for s, (repeats, width) in enumerate(zip(V1_REPEATS, V1_STAGE_CHANNELS[groups])):
            out = int(width * scale)
            units = [ShuffleV1Unit(ch, out, 2, groups, group_first=s > 0)]
            units += [ShuffleV1Unit(out, out, 1, groups) for _ in range(repeats - 1)]
            setattr(self, f"stage{s + 2}", nn.Sequential(*units))
            ch = out
        self.num_features = ch
        self.fc = nn.Linear(ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage4(self.stage3(self.stage2(self.stem(x))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean((2, 3))
        return x if pre_logits else self.fc(x)


_V1_ERR = "ILSVRC-2012 val, single crop (ShuffleNet v1 Tables 2-3); top-5 not reported"
_V1_DEV = ("the stem width is scaled with the rest under a scale factor (the paper does not say)",)
_V1_NOTE_1X = (
    "no parameter count in the paper; 1,865,728 for g=3 is osmr's count, which ours reproduces; "
    "compute: the paper's 140 MFLOPs (= multiply-adds) design budget for every 1x network (Table 2)"
)


@register_model(
    family="shufflenet",
    recipe="shufflenet_v1",
    paper=PAPER_V1,
    year=2018,
    paper_params=1_865_728,
    paper_macs=140e6,
    figures_note=_V1_NOTE_1X + " (osmr: 145.5 M)",
    paper_top1=32.6,
    error_protocol=_V1_ERR,
    deviations=_V1_DEV,
)
def shufflenet_v1(
    num_classes: int = 1000, in_chans: int = 3, groups: int = 3, scale: float = 1.0
) -> ShuffleNetV1:
    """ShuffleNet v1, any ``groups`` in {1, 2, 3, 4, 8} and ``scale`` (default 1x, g=3)."""
    return ShuffleNetV1(groups, scale, num_classes, in_chans)


def _register_v1(name: str, groups: int, scale: float, **info: object) -> None:
    register_model(
        name,
        family="shufflenet",
        recipe="shufflenet_v1",
        paper=PAPER_V1,
        year=2018,
        defaults={"groups": groups, "scale": scale},
        error_protocol=_V1_ERR,
        deviations=_V1_DEV,
        description=f"ShuffleNet v1 {scale:g}x, g={groups} (Tables 1-2).",
        **info,
    )(shufflenet_v1)


_register_v1(
    "shufflenet_v1_g3_x1_0",
    3,
    1.0,
    paper_params=1_865_728,
    paper_macs=140e6,
    figures_note=_V1_NOTE_1X + " (osmr: 145.5 M)",
    paper_top1=32.6,
)
_register_v1(
    "shufflenet_v1_g3_x0_5",
    3,
    0.5,
    paper_macs=38e6,
    figures_note="no parameter count in the paper; 38 MFLOPs (= multiply-adds) for 0.5x, Table 2",
)
_register_v1(
    "shufflenet_v1_g3_x1_5",
    3,
    1.5,
    paper_params=3_400_000,
    figures_note="3.4M is the MobileNetV2 paper's figure for ShuffleNet 1.5x (g=3), Table 4",
)
_register_v1(
    "shufflenet_v1_g3_x2_0",
    3,
    2.0,
    paper_params=5_400_000,
    paper_macs=524e6,
    figures_note=(
        "5.4M is the MobileNetV2 paper's figure for ShuffleNet 2x (g=3), Table 4; 524 MFLOPs "
        "(= multiply-adds) in the ShuffleNet paper"
    ),
)
_V1_NOTE_G = (
    "no parameter count in the paper; every 1x network is designed for 140 MFLOPs (= multiply-adds), Table 2"
)
_register_v1(
    "shufflenet_v1_g1_x1_0",
    1,
    1.0,
    paper_macs=140e6,
    figures_note=_V1_NOTE_G,
)
_register_v1(
    "shufflenet_v1_g2_x1_0",
    2,
    1.0,
    paper_macs=140e6,
    figures_note=_V1_NOTE_G,
)
_register_v1(
    "shufflenet_v1_g4_x1_0",
    4,
    1.0,
    paper_macs=140e6,
    figures_note=_V1_NOTE_G,
)
_register_v1(
    "shufflenet_v1_g8_x1_0",
    8,
    1.0,
    paper_macs=140e6,
    figures_note=_V1_NOTE_G,
    paper_top1=32.4,
)

# --------------------------------------------------------------------------------------------------- v2


class ShuffleV2Unit(nn.Module):
    """ShuffleNet v2 unit (Fig. 3 c/d) with torchvision's names (``branch1``, ``branch2``)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        bf = out_ch // 2
        if stride == 1 and in_ch != 2 * bf:
            raise ValueError(f"a stride-1 ShuffleNet v2 unit needs in == out, got {in_ch} -> {out_ch}")
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(in_ch, in_ch, 3, stride, 1, groups=in_ch, bias=False),
                nn.BatchNorm2d(in_ch),
                nn.Conv2d(in_ch, bf, 1, bias=False),
                nn.BatchNorm2d(bf),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_ch if stride > 1 else bf, bf, 1, bias=False),
            nn.BatchNorm2d(bf),
            nn.ReLU(inplace=True),
            nn.Conv2d(bf, bf, 3, stride, 1, groups=bf, bias=False),
            nn.BatchNorm2d(bf),
            nn.Conv2d(bf, bf, 1, bias=False),
            nn.BatchNorm2d(bf),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), 1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), 1)
        return channel_shuffle(out, 2)


# Table 5: output channels of conv1, stages 2-4 and conv5.
V2_CHANNELS: dict[str, tuple[int, int, int, int, int]] = {
    "0.5": (24, 48, 96, 192, 1024),
    "1.0": (24, 116, 232, 464, 1024),
    "1.5": (24, 176, 352, 704, 1024),
    "2.0": (24, 244, 488, 976, 2048),
}


class ShuffleNetV2(ZooModel):
    """ShuffleNet v2 (Table 5) with torchvision's module names."""

    classifier_attr = "fc"
    layer_group_names = {
        "stem": ("conv1", "maxpool"),
        "stage2": ("stage2",),
        "stage3": ("stage3",),
        "stage4": ("stage4",),
        "head": ("conv5", "fc"),
    }

    def __init__(self, scale: str = "1.0", num_classes: int = 1000, in_chans: int = 3) -> None:
        super().__init__()
        if scale not in V2_CHANNELS:
            raise CnnzooError(f"ShuffleNet v2 scale must be one of {sorted(V2_CHANNELS)}, got {scale!r}.")
        c = V2_CHANNELS[scale]
        self.num_classes = num_classes
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_chans, c[0], 3, 2, 1, bias=False), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True)
        )
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        ch = c[0]
        for i, (repeats, out) in enumerate(zip((4, 8, 4), c[1:4])):
            units = [ShuffleV2Unit(ch, out, 2)] + [ShuffleV2Unit(out, out, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*units))
            ch = out
        self.conv5 = nn.Sequential(
            nn.Conv2d(ch, c[4], 1, bias=False), nn.BatchNorm2d(c[4]), nn.ReLU(inplace=True)
        )
        self.num_features = c[4]
        self.fc = nn.Linear(c[4], num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        return self.conv5(self.stage4(self.stage3(self.stage2(x))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean((2, 3))
        return x if pre_logits else self.fc(x)


_V2_ERR = "ILSVRC-2012 val, single crop (ShuffleNet v2 Table 5 / ShuffleNet-Series README)"
_V2_DEV = (
    "none in the architecture; torchvision's parameter names and PyTorch's default initialisation, not the "
    "authors' released scheme",
)


def _v2_variant(num_classes: int = 1000, in_chans: int = 3, scale: str = "1.0") -> ShuffleNetV2:
    """A ShuffleNet v2 size (Table 5)."""
    return ShuffleNetV2(scale, num_classes, in_chans)


def _register_v2(name: str, scale: str, **info: object) -> None:
    register_model(
        name,
        family="shufflenet",
        recipe="shufflenet_v2",
        paper=PAPER_V2,
        year=2018,
        defaults={"scale": scale},
        deviations=_V2_DEV,
        error_protocol=_V2_ERR,
        peer=f"torchvision.models.{name}",
        description=f"ShuffleNet v2 {scale}x (Table 5).",
        **info,
    )(_v2_variant)


_V2_NOTE = "paper's rounded figures (Table 5): params and FLOPs (= multiply-adds)"
_register_v2("shufflenet_v2_x0_5", "0.5", paper_params=1_400_000, paper_macs=41e6, figures_note=_V2_NOTE)
_register_v2(
    "shufflenet_v2_x1_0",
    "1.0",
    paper_params=2_278_604,
    paper_macs=146e6,
    paper_top1=30.6,
    paper_top5=11.1,
    figures_note="params: osmr's exact count (paper 2.3M), which ours reproduces; 146 MFLOPs "
    "(= multiply-adds) in the paper, osmr 149.7 M",
)
_register_v2("shufflenet_v2_x1_5", "1.5", paper_params=3_500_000, paper_macs=299e6, figures_note=_V2_NOTE)
_register_v2("shufflenet_v2_x2_0", "2.0", paper_params=7_400_000, paper_macs=591e6, figures_note=_V2_NOTE)
