"""Receptive fields of shape-changing and global-context operations (issue #17): ShuffleNet's channel
shuffle keeps the field; squeeze-and-excitation gates are flagged, not counted; both figures stay the same
at two input sizes and equal a hand computation or the gradient support of a real forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.analysis import profile
from cnnzoo.analysis.result import GLOBAL_CONTEXT
from cnnzoo.models.layers import SqueezeExcite, channel_shuffle


def _support(model: nn.Module, size: int, cin: int) -> tuple[int, int]:
    """Extent of the input pixels that get gradient from the centre unit of the output map, every weight
    positive (so no gradient cancels), in float64."""
    m = model.double().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.rand_like(p) + 0.1)
    # small inputs keep the SE sigmoid off saturation (where its gradient would round to exactly zero)
    x = torch.full((1, cin, size, size), 0.01, dtype=torch.float64, requires_grad=True)
    y = m(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


class Shuffled(nn.Module):
    """3x3 grouped conv, channel shuffle, 3x3 grouped conv, stride-2 3x3 conv: field 3 + 2 + 2 = 7, jump 2."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1, groups=2)
        self.b = nn.Conv2d(4, 4, 3, padding=1, groups=2)
        self.c = nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(channel_shuffle(self.b(channel_shuffle(self.a(x), 2)), 2))


class Gated(nn.Module):
    """3x3 conv, SE block, 3x3 conv: the convolutional path's field is 5. ``hold`` detaches the SE gate,
    which is what the defined field measures (the gate's own view of the whole image is not counted)."""

    def __init__(self, hold: bool = False) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.se = SqueezeExcite(4, reduction=2)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.hold = hold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        if self.hold:
            s = y.mean((2, 3), keepdim=True)
            s = self.se.sigmoid(self.se.fc2(self.se.relu(self.se.fc1(s)))).detach()
            y = y * s
        else:
            y = self.se(y)
        return self.b(y)


@pytest.mark.parametrize("size", [24, 40])
def test_channel_shuffle_keeps_the_field_and_equals_gradient_support(size):
    p = profile(Shuffled(), (4, size, size))
    assert p.receptive_field == (7, 7) and p.jump == (2, 2)
    assert _support(Shuffled(), size, 4) == (7, 7)


@pytest.mark.parametrize("size", [24, 40])
def test_se_gate_is_flagged_and_the_field_is_the_convolutional_path(size):
    p = profile(Gated(), (4, size, size))
    assert p.receptive_field == (5, 5)
    assert p.global_context == ["se:mul"]
    assert GLOBAL_CONTEXT in next(r.note for r in p.rows if r.name == "se:mul")
    assert "1 global-context layer" in p.summary_line()
    assert _support(Gated(hold=True), size, 4) == (5, 5)
    # and the gate really does see the whole image: without holding it, the support is the input
    assert _support(Gated(), size, 4) == (size, size)


def _meta(name: str) -> nn.Module:
    with torch.device("meta"):
        return cnnzoo.create_model(name)


# By hand (3x3 kernels throughout): conv1 s2 -> 3 (jump 2), maxpool 3 s2 -> 7 (jump 4); each stage opens
# with a stride-2 3x3 depthwise conv (both branches) and repeats 3x3 depthwise convs at the new jump:
# stage 2: 7 + 2*4 = 15 (jump 8), + 3 * 2*8 = 63; stage 3: 63 + 2*8 = 79 (jump 16), + 7 * 2*16 = 303;
# stage 4: 303 + 2*16 = 335 (jump 32), + 3 * 2*32 = 527. 1x1 convs and shuffles add nothing.
@pytest.mark.parametrize("name", ["shufflenet_v1", "shufflenet_v1_g8_x1_0", "shufflenet_v2_x1_0"])
def test_shufflenet_field_is_527_at_224_and_320(name):
    m = _meta(name)
    assert [profile(m, (3, s, s)).receptive_field for s in (224, 320)] == [(527, 527)] * 2


def test_se_resnet50_field_is_resnet50_field_at_224_and_320():
    se, plain = _meta("se_resnet50"), _meta("resnet50")
    figures = {profile(m, (3, s, s)).receptive_field for m in (se, plain) for s in (224, 320)}
    assert figures == {(483, 483)}
    assert len(profile(se, (3, 224, 224)).global_context) == 16  # one SE block per bottleneck


def test_nasnet_field_does_not_move_with_the_input_size():
    """NASNet pads with F.pad (asymmetric 'same' padding, a one-pixel shift): the pad moves the field's
    origin, which must be counted or the union of its branches depends on the size's parity."""
    m = _meta("nasnet_a_mobile")
    assert len({profile(m, (3, s, s)).receptive_field for s in (224, 225, 331)}) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "size", "field"),
    [
        ("shufflenet_v2_x1_0", 736, 527),  # channel shuffle's reshape once made it 736 (and 832 at 320 px)
        ("fractalnet_cifar", 352, 280),  # its join (stack, then mean over branches) once made it 307
    ],
)
def test_field_equals_gradient_support_of_a_real_forward_pass(name, size, field):
    """The profile's figure against the real network: every weight positive, ReLUs removed and max-pools made
    average-pools (so no gradient is masked; the geometry is unchanged), on an input large enough that the
    field is not clipped; the centre unit of the last feature map (before global pooling)."""
    m = cnnzoo.create_model(name).double().eval()
    for sub, mod in list(m.named_modules()):
        parent = m.get_submodule(sub.rpartition(".")[0]) if "." in sub else m
        if isinstance(mod, nn.ReLU):
            setattr(parent, sub.rpartition(".")[2], nn.Identity())
        elif isinstance(mod, nn.MaxPool2d):
            pool = nn.AvgPool2d(mod.kernel_size, mod.stride, mod.padding, ceil_mode=mod.ceil_mode)
            setattr(parent, sub.rpartition(".")[2], pool)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.rand_like(p) + 0.1)
    x = torch.full((1, 3, size, size), 0.01, dtype=torch.float64, requires_grad=True)
    y = m.forward_features(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    support = (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))
    features = _Features(_meta(name))  # the field of the last feature map, not of the pooled logits
    assert support == profile(features, (3, size, size)).receptive_field == (field, field)


class _Features(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)


def test_fractalnet_field_does_not_move_with_the_input_size():
    m = _meta("fractalnet_cifar")
    assert [profile(m, (3, s, s)).receptive_field for s in (32, 64)] == [(280, 280)] * 2
