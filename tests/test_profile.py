"""Per-layer accounting (cnnzoo.analysis.profile) against the lectures' hand computations, fvcore and a
brute-force receptive field."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import cnnzoo
from cnnzoo.analysis import build_from_spec, profile
from cnnzoo.errors import InputTooSmallError


def _rows(p, typ):
    return [r for r in p.rows if r.type == typ]


# -- the CS109B / CS231n slides ----------------------------------------------------------------------------


def test_one_3x3x3_filter_same_on_32x32x3_has_28_params():
    p = profile(nn.Conv2d(3, 1, 3, padding=1), (3, 32, 32))
    assert p.total_params == 28
    assert p.rows[1].output_shape == (1, 32, 32)


def test_sixteen_3x3_filters_on_rgb_have_448_params():
    assert profile(nn.Conv2d(3, 16, 3, padding=1), (3, 32, 32)).total_params == 448


def test_cs109b_network_layers_have_224_3216_2097664_2052_params():
    m = build_from_spec("conv 8 3x3 s1 same; conv 16 5x5 s2 same; flatten; dense 512; dense 4", 3, 32)
    p = profile(m, (3, 32, 32))
    weighted = [r for r in p.rows if r.type in ("Conv2d", "Linear")]
    assert [r.params for r in weighted] == [224, 3216, 2_097_664, 2052]
    assert [r.output_shape for r in weighted] == [(8, 32, 32), (16, 16, 16), (512,), (4,)]
    assert p.total_params == 2_103_156


def test_ten_5x5_filters_stride1_pad2_give_32x32x10_and_760_params():
    p = profile(nn.Conv2d(3, 10, 5, 1, 2), (3, 32, 32))
    assert p.rows[1].output_shape == (10, 32, 32)
    assert p.total_params == 760
    assert p.rows[1].fits


def test_alexnet_conv1_on_227_gives_55x55x96_34944_params_then_pool_27x27x96():
    p = profile(build_from_spec("conv11-96/s4/p0, maxpool3/s2", 3, 227), (3, 227, 227))
    conv, pool = _rows(p, "Conv2d")[0], _rows(p, "MaxPool2d")[0]
    assert (conv.output_shape, conv.params) == ((96, 55, 55), 34_944)
    assert (pool.output_shape, pool.params) == ((96, 27, 27), 0)
    assert conv.macs == 96 * 55 * 55 * 3 * 11 * 11


def test_3x3_filter_at_stride_3_on_7x7_doesnt_fit():
    p = profile(nn.Conv2d(1, 1, 3, stride=3), (1, 7, 7))
    assert not p.rows[1].fits
    assert "doesn't fit" in p.rows[1].note
    assert [r.name for r in p.doesnt_fit] == [p.rows[1].name]
    assert profile(nn.Conv2d(1, 1, 3, stride=2), (1, 7, 7)).doesnt_fit == []


# -- VGG-16, the CS231n table ------------------------------------------------------------------------------

VGG16_WEIGHTS_NO_BIAS = [
    1728,
    36864,
    73728,
    147456,
    294912,
    589824,
    589824,
    1179648,
    2359296,
    2359296,
    2359296,
    2359296,
    2359296,
    102760448,
    16777216,
    4096000,
]
VGG16_SHAPES = (
    [(64, 224, 224)] * 2
    + [(64, 112, 112)]
    + [(128, 112, 112)] * 2
    + [(128, 56, 56)]
    + [(256, 56, 56)] * 3
    + [(256, 28, 28)]
    + [(512, 28, 28)] * 3
    + [(512, 14, 14)]
    + [(512, 14, 14)] * 3
    + [(512, 7, 7)]
    + [(4096,), (4096,), (1000,)]
)


@pytest.fixture(scope="module")
def vgg16_profile():
    with torch.device("meta"):
        m = cnnzoo.create_model("vgg16")
    return profile(m, (3, 224, 224))


def test_vgg16_table_weight_counts_match_the_slide(vgg16_profile):
    weighted = [r for r in vgg16_profile.rows if r.type in ("Conv2d", "Linear")]
    biases = [r.output_shape[0] for r in weighted]
    assert [r.params - b for r, b in zip(weighted, biases)] == VGG16_WEIGHTS_NO_BIAS
    assert vgg16_profile.total_params == 138_357_544


def test_vgg16_table_shapes_and_memory_column_match_the_slide(vgg16_profile):
    kept = [r for r in vgg16_profile.rows if r.type in ("Conv2d", "MaxPool2d", "Linear")]
    assert [r.output_shape for r in kept] == VGG16_SHAPES
    assert [r.activation_bytes // 4 for r in kept] == [math.prod(s) for s in VGG16_SHAPES]
    # the slide's memory column (input included) sums to 15,237,608 values, not its "24M"
    assert vgg16_profile.activation_values == 15_237_608
    assert vgg16_profile.activation_bytes == 60_950_432


def test_vgg16_macs_equal_the_layer_formula_and_the_15_47g_reference(vgg16_profile):
    hw = [224, 224, 112, 112, 56, 56, 56, 28, 28, 28, 14, 14, 14]
    chans = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    conv = sum(h * h * chans[i + 1] * chans[i] * 9 for i, h in enumerate(hw))
    fc = 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert vgg16_profile.total_macs == conv + fc
    assert abs(vgg16_profile.total_macs / 15.47e9 - 1) < 1e-3


# -- GoogLeNet's Inception module (CS231n Lecture 9) -------------------------------------------------------


class NaiveInception(nn.Module):
    def __init__(self, cin: int = 256, bottleneck: bool = False) -> None:
        super().__init__()
        r = 64 if bottleneck else cin
        self.b1 = nn.Conv2d(cin, 128, 1)
        self.r3 = nn.Conv2d(cin, r, 1) if bottleneck else nn.Identity()
        self.b3 = nn.Conv2d(r, 192, 3, padding=1)
        self.r5 = nn.Conv2d(cin, r, 1) if bottleneck else nn.Identity()
        self.b5 = nn.Conv2d(r, 96, 5, padding=2)
        self.pool = nn.MaxPool2d(3, 1, 1)
        self.proj = nn.Conv2d(cin, 64, 1) if bottleneck else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(self.r3(x)), self.b5(self.r5(x)), self.proj(self.pool(x))], 1)


def test_naive_inception_module_gives_28x28x672_and_854196224_macs():
    p = profile(NaiveInception(), (256, 28, 28))
    assert p.rows[-1].type == "cat" and p.rows[-1].output_shape == (672, 28, 28)
    assert p.total_macs == 854_196_224


def test_bottleneck_inception_module_is_271351808_macs_not_the_slides_358m():
    p = profile(NaiveInception(bottleneck=True), (256, 28, 28))
    assert p.rows[-1].output_shape == (480, 28, 28)
    assert p.total_macs == 271_351_808


# -- receptive fields --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "rf"), [(1, 3), (2, 5), (3, 7)])
def test_stacked_3x3_convs_have_receptive_field_2n_plus_1(n, rf):
    m = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(n)])
    assert profile(m, (1, 16, 16)).receptive_field == (rf, rf)


def test_dilated_3x3_conv_has_receptive_field_5():
    assert profile(nn.Conv2d(1, 1, 3, padding=2, dilation=2), (1, 16, 16)).receptive_field == (5, 5)


def test_two_3x3_stride2_pad1_convs_on_5x5_give_3x3_then_2x2_with_rf_3_and_7():
    p = profile(nn.Sequential(nn.Conv2d(1, 1, 3, 2, 1), nn.Conv2d(1, 1, 3, 2, 1)), (1, 5, 5))
    assert [(r.output_shape, r.receptive_field, r.jump) for r in p.rows[1:]] == [
        ((1, 3, 3), (3, 3), (2, 2)),
        ((1, 2, 2), (7, 7), (4, 4)),
    ]


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(x)))


def test_residual_block_takes_the_larger_branch_and_has_an_add_row():
    p = profile(Residual(), (4, 16, 16))
    assert p.receptive_field == (5, 5)
    add = p.rows[-1]
    assert (add.name, add.type, add.activation_bytes) == ("model:add", "add", 4 * 16 * 16 * 4)


def _brute_force_rf(model: nn.Module, size: int, cin: int, unit: tuple[int, int]) -> tuple[int, int]:
    """Extent of the input pixels that get gradient from one output unit, with every weight positive, ReLUs
    removed and max-pools made average-pools (so no gradient is masked; the geometry is unchanged)."""
    m = copy.deepcopy(model).double().eval()
    for name, mod in list(m.named_modules()):
        parent = m.get_submodule(name.rpartition(".")[0]) if "." in name else m
        attr = name.rpartition(".")[2]
        if isinstance(mod, nn.ReLU):
            setattr(parent, attr, nn.Identity())
        elif isinstance(mod, nn.MaxPool2d):
            setattr(
                parent, attr, nn.AvgPool2d(mod.kernel_size, mod.stride, mod.padding, ceil_mode=mod.ceil_mode)
            )
    with torch.no_grad():
        for prm in m.parameters():
            prm.copy_(torch.rand_like(prm) + 0.1)
    x = torch.ones(1, cin, size, size, dtype=torch.float64, requires_grad=True)
    y = m(x)
    y[0, 0, unit[0], unit[1]].backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_rf_of_resnet18_stem_and_layer1_matches_brute_force():
    r = torchvision.models.resnet18(weights=None)
    m = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1)
    p = profile(m, (3, 96, 96))
    assert p.receptive_field == (43, 43) and p.jump == (4, 4)
    assert _brute_force_rf(m, 96, 3, (12, 12)) == (43, 43)


class InceptionLike(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(2, 2, 1)
        self.b3 = nn.Conv2d(2, 2, 3, padding=1)
        self.b5 = nn.Sequential(nn.Conv2d(2, 2, 3, padding=2, dilation=2), nn.Conv2d(2, 2, 5, 2, 2))
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.mix = nn.Conv2d(8, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([F.avg_pool2d(self.b1(x), 2), F.avg_pool2d(self.b3(x), 2), self.b5(x), self.pool(x)], 1)
        return self.mix(y)


def test_rf_of_a_branching_inception_like_block_matches_brute_force():
    m = InceptionLike()
    p = profile(m, (2, 40, 40))
    rf = p.receptive_field
    assert rf == (13, 13)  # dilated 3x3 -> 5, 5x5 stride 2 -> 9 (jump 2), mixing 3x3 at jump 2 -> 13
    assert _brute_force_rf(m, 40, 2, (10, 10)) == rf


# -- graph features ----------------------------------------------------------------------------------------


class Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.weight = nn.Parameter(torch.randn(8, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.conv(x))
        return F.relu(F.conv2d(x, self.weight))


def test_module_called_twice_gives_two_rows_and_params_counted_once_and_functional_conv_counts():
    p = profile(Twice(), (4, 8, 8))
    convs = [r for r in p.rows if r.name == "conv"]
    assert [r.params for r in convs] == [148, 0]
    assert [r.macs for r in convs] == [4 * 64 * 36] * 2
    fconv = next(r for r in p.rows if r.type == "conv2d")
    assert (fconv.params, fconv.macs, fconv.receptive_field) == (32, 8 * 64 * 4, (5, 5))
    assert p.total_params == 180 and p.unused_params == 0
    assert p.total_macs == 2 * 4 * 64 * 36 + 8 * 64 * 4


def test_grouped_and_depthwise_convs_count_cin_over_groups():
    p = profile(
        nn.Sequential(nn.Conv2d(8, 16, 3, padding=1, groups=4), nn.Conv2d(16, 16, 3, padding=1, groups=16)),
        (8, 10, 10),
    )
    assert [r.macs for r in p.rows[1:]] == [16 * 100 * 2 * 9, 16 * 100 * 1 * 9]


def test_matmul_counts_and_makes_the_field_global():
    class Attn(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = x.flatten(2)
            return torch.bmm(f.transpose(1, 2), f)

    p = profile(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), Attn()), (3, 6, 6))
    assert p.rows[-1].macs == 36 * 36 * 4
    assert p.receptive_field == (6, 6)


@pytest.mark.parametrize(
    "name", ["resnet18", "googlenet", "mobilenet_v2", "densenet121", "squeezenet1_0", "vgg11"]
)
def test_macs_agree_with_fvcore_conv_linear_matmul(name):
    fvcore = pytest.importorskip("fvcore.nn")
    kw = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    m = getattr(torchvision.models, name)(weights=None, **kw).eval()
    x = torch.randn(1, 3, 64, 64)
    f = fvcore.FlopCountAnalysis(m, x)
    f.unsupported_ops_warnings(False)
    f.uncalled_modules_warnings(False)
    ref = sum(v for k, v in f.by_operator().items() if k in ("conv", "linear", "matmul", "addmm", "bmm"))
    assert profile(m, (3, 64, 64)).total_macs == ref


def test_profile_runs_torchvision_vgg19_on_meta_without_touching_the_model():
    m = torchvision.models.vgg19(weights=None)
    m.train()
    before = {k: v.clone() for k, v in list(m.state_dict().items())[:2]}
    p = profile(m, (3, 224, 224))
    assert p.total_params == 143_667_240
    assert abs(p.total_macs / 19.63e9 - 1) < 1e-3
    assert m.training and all(t.device.type == "cpu" for t in m.parameters())
    assert all(torch.equal(before[k], m.state_dict()[k]) for k in before)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in m.modules())


def test_frozen_params_are_reported_apart():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3))
    m[0].requires_grad_(False)
    p = profile(m, (3, 8, 8))
    assert (p.trainable_params, p.frozen_params) == (148, 112)
    assert (p.rows[1].frozen_params, p.rows[2].trainable_params) == (112, 148)


def test_profile_on_cpu_equals_profile_on_meta():
    m = torchvision.models.resnet18(weights=None)
    a, b = profile(m, (3, 64, 64)), profile(m, (3, 64, 64), device="cpu")
    assert a.to_dict() == b.to_dict()


# -- input size --------------------------------------------------------------------------------------------


def test_input_too_small_names_the_layer_and_the_minimum():
    m = build_from_spec("conv3-8/p0, maxpool, conv3-8/p0")
    with pytest.raises(InputTooSmallError, match=r"layer '3'.*smallest square input it accepts is 3x8x8"):
        profile(m, (3, 7, 7))


def test_min_input_size_agrees_with_running_every_size_on_cpu():
    m = build_from_spec("conv3-8/p0, maxpool, conv3-8/p0")
    ok = []
    for s in range(1, 12):
        try:
            m(torch.zeros(1, 3, s, s))
            ok.append(s)
        except RuntimeError:
            pass
    assert profile(m, (3, 16, 16)).min_input_size == ok[0] == 8


def test_vgg16_min_input_size_is_224_because_the_fc_fixes_it(vgg16_profile):
    assert vgg16_profile.min_input_size == 224


# -- formats -----------------------------------------------------------------------------------------------


def test_formats_carry_the_same_totals(vgg16_profile):
    d = vgg16_profile.to_dict()
    assert d["total_params"] == 138_357_544 and d["layers"][1]["params"] == 1792
    assert d["receptive_field"] == 224
    csv_lines = vgg16_profile.to_csv().splitlines()
    assert len(csv_lines) == len(vgg16_profile.rows) + 1 and csv_lines[2].startswith(
        "features.0,Conv2d,64x224x224"
    )
    assert "| features.0 | Conv2d | 64x224x224 | 1,792 |" in vgg16_profile.to_markdown()
    assert "138,357,544" in vgg16_profile.to_table()


def test_to_dict_runs_nothing_and_min_input_size_is_searched_only_when_asked(monkeypatch):
    """#12: to_dict() used to run the minimum-input-size search (8-16 forward passes) behind the caller's
    back; now it reports what is known and the search runs on reading ``min_input_size``."""
    import cnnzoo.analysis.tracing as tracing

    p = profile(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)), (1, 16, 16))
    calls = []
    real = tracing._fits_at
    monkeypatch.setattr(tracing, "_fits_at", lambda *a: calls.append(a) or real(*a))
    assert p.to_dict()["min_input_size"] is None and calls == []
    assert p.min_input_size == 4  # 3x3 conv (needs 3) then a 2x2 pool (needs 2): 4 -> 2 -> 1
    assert calls and p.to_dict()["min_input_size"] == 4


def test_a_model_already_on_meta_is_profiled_in_place_and_left_as_it_was():
    # GoogLeNet's auxiliary classifiers run only in training mode: the pass must be in eval mode, and the
    # modules' own modes and hooks must be what they were before
    from cnnzoo.meta import meta_device, meta_ops

    with meta_device():
        model = cnnzoo.create_model("googlenet")
    model.train()
    model.aux1.eval()  # one module in another mode than its parent
    p = cnnzoo.profile(model, (3, 224, 224))
    assert p.total_macs == 1_582_671_872  # the eval path: no auxiliary heads counted
    assert model.training and not model.aux1.training and model.aux2.training
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    from cnnzoo.analysis.profile import _min_square_meta
    from cnnzoo.analysis.tracing import _meta_copy

    with meta_ops():
        expected = _min_square_meta(_meta_copy(model, torch.device("meta")), (3, 224, 224))
    assert p.min_input_size == expected  # the search runs on an eval-mode copy
    assert model.training and not model.aux1.training and model.aux2.training
