"""Issue #30's speed work, pinned by behaviour: no ``torch._dynamo`` import on the training path or in
meta-device summaries, the dynamo-free optimizers equal torch's, LeNet-5's C3 as one convolution equals its
grouped definition (state-dict names and shapes unchanged), batched crops and flips, the per-step one-cycle
schedule, the lazily counted training top-k, and the serve warm-up."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import cnnzoo
from cnnzoo import create_model
from cnnzoo.data.transforms import RandomCropFlip, batch_transform
from cnnzoo.errors import CnnzooError
from cnnzoo.models.lenet import C3_TABLE, SparseConv2d
from cnnzoo.train import get_recipe
from cnnzoo.train.metrics import Meter
from cnnzoo.train.optim import SGD, Adam, RMSprop
from cnnzoo.train.recipes import OneCycleScale

REPO = Path(__file__).resolve().parents[1]


def _python(code: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO
    )


# ------------------------------------------------------------------------------------------ no torch._dynamo
def test_meta_summaries_of_every_family_import_no_dynamo_nor_sympy_and_leave_the_real_modules_importable():
    code = """
import sys
from cnnzoo import create_model, model_info
from cnnzoo.analysis import profile
from cnnzoo.meta import meta_device
names = ["alexnet", "resnet50", "inception_v3", "densenet121", "lenet5", "efficientnet_lite0", "mobilenet_v2",
         "fractalnet_cifar", "vgg11", "nasnet_a_large"]
macs = {}
for n in names:
    with meta_device():
        m = create_model(n)
    macs[n] = profile(m, model_info(n).input_size, name=n).total_macs
print(macs["alexnet"], macs["lenet5"], macs["nasnet_a_large"], "torch._dynamo" in sys.modules,
      "sympy" in sys.modules, "torch.fx.experimental.symbolic_shapes" in sys.modules)
import sympy
from torch.fx.experimental.symbolic_shapes import guard_or_false, ShapeEnv
print(type(sympy.Symbol("n")).__name__, ShapeEnv.__module__, guard_or_false(True))
# a meta forward after the real modules are in: they are used as they are
with meta_device():
    m = create_model("alexnet")
print(profile(m, model_info("alexnet").input_size, name="alexnet").total_macs)
"""
    r = _python(code)
    assert r.returncode == 0, r.stderr
    first, second, third = r.stdout.splitlines()
    assert first.split() == ["724406816", "326520", "23783414658", "False", "False", "False"]
    assert second.split() == ["Symbol", "torch.fx.experimental.symbolic_shapes", "True"]
    assert third == "724406816"


def test_the_symbolic_shapes_stand_ins_answer_as_torchs_functions():
    from torch.fx.experimental import symbolic_shapes as real

    from cnnzoo.meta import _stand_ins

    shapes = _stand_ins()["torch.fx.experimental.symbolic_shapes"]
    for name in ("guard_or_false", "guard_or_true", "guard_size_oblivious", "statically_known_true"):
        for v in (True, False):
            assert getattr(shapes, name)(v) is getattr(real, name)(v)
        with pytest.raises(AssertionError):  # torch's own answer to a non-bool
            getattr(shapes, name)(1)
    assert shapes.expect_true(True) is True and shapes.guarding_hint_or_throw(7) == 7
    for a, b in (((1, 2), (1, 2)), ((1, 2), (1, 3)), ([4], (4, 5)), (3, 3)):
        assert shapes.sym_eq(a, b) == real.sym_eq(a, b)
    assert shapes.sym_and(True, False) == real.sym_and(True, False) and shapes.sym_or(False, True)
    assert shapes.is_nested_int(3) is False and shapes.has_guarding_hint(3) is True
    assert shapes.ShapeEnv is real.ShapeEnv  # any other name: torch's module


def test_the_summary_command_imports_no_dynamo():
    code = """
import sys, contextlib, io
from cnnzoo.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    assert main(["summary", "resnet18"]) == 0
print("11,689,512" in out.getvalue(), "torch._dynamo" in sys.modules)
"""
    r = _python(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "False"]


def test_the_training_path_imports_neither_dynamo_nor_matplotlib(tmp_path):
    code = f"""
import sys
from cnnzoo.train import train_model
r = train_model("lenet5", "synthetic:96", epochs=2, batch_size=16, out={str(tmp_path / "run")!r},
                progress=False)
print((r.out / "curves.png").is_file(), (r.out / "confusion.png").is_file(), "torch._dynamo" in sys.modules,
      "matplotlib" in sys.modules)
"""
    r = _python(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-4:] == ["True", "True", "False", "False"]  # nor matplotlib: Pillow draws both
    # the result line comes before the figures are drawn, and the curves' line after them
    lines = r.stdout.splitlines()
    assert [i for i, s in enumerate(lines) if s.startswith("test top-1")] < [
        i for i, s in enumerate(lines) if s.startswith("curves:")
    ]


def test_every_recipe_optimizer_with_its_param_groups_imports_no_dynamo():
    """TF's RMSProp (Inception, MobileNet, NASNet) and the no-weight-decay param groups too."""
    code = """
import sys, torch
import cnnzoo
from cnnzoo.train.recipes import RECIPES
model = cnnzoo.create_model("lenet5_modern", num_classes=10)
for name in ("mobilenet_v1", "inception_v3", "fast", "resnet_cifar"):
    rec = RECIPES[name]
    opt = rec.make_optimizer(model)
    sched = rec.make_scheduler(opt, 3)
    model(torch.randn(2, 1, 32, 32)).sum().backward()
    opt.step(); opt.zero_grad(); sched.step(); opt.load_state_dict(opt.state_dict())
    print(type(opt).__name__, len(opt.param_groups))
print("torch._dynamo" in sys.modules)
"""
    r = _python(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["RMSpropTF", "2", "RMSpropTF", "2", "SGD", "1", "SGD", "1", "False"]


def test_one_cycle_refuses_a_second_warm_up():
    with pytest.raises(CnnzooError, match="own warm-up"):
        get_recipe("fast").with_overrides(warmup_epochs=1)
    with pytest.raises(CnnzooError, match="warmup_fraction"):
        get_recipe("fast").with_overrides(warmup_fraction=1.0)


def test_meta_device_skips_fills_of_meta_tensors_only():
    from cnnzoo.meta import meta_device

    with meta_device():
        t = torch.empty(4, 4)
        torch.nn.init.kaiming_normal_(t)
        real = torch.zeros(1000, device="cpu").normal_()
    assert t.is_meta and t.shape == (4, 4)
    assert real.device.type == "cpu" and 0.9 < float(real.std()) < 1.1  # real tensors are still filled


def test_meta_device_skips_an_initialiser_whose_tensor_comes_by_keyword(monkeypatch):
    """torch.nn.init hands its tensor to function modes as ``tensor=``: the initialiser itself is skipped on
    meta (it used to run down to torch's Python reference of ``normal_``)."""
    from cnnzoo.meta import meta_device

    calls = []
    monkeypatch.setattr(torch.nn.init, "_no_grad_normal_", lambda *a, **k: calls.append(a))
    with meta_device():
        t = torch.empty(3, 3)
        out = torch.nn.init.normal_(t, 0.0, 0.01)
    assert out is t and calls == []
    torch.nn.init.normal_(torch.empty(3, 3), 0.0, 0.01)  # a real tensor still reaches the fill
    assert len(calls) == 1


def test_each_op_of_a_summary_forward_passes_through_one_python_mode():
    """meta_ops() nested in meta_device() adds no second mode, and during the profiler's forward its tracer
    is the only torch-function mode (it applies meta_ops()'s rules itself; the summary's model was built in
    the device block, and profiled outside it)."""
    from torch.overrides import _get_current_function_mode_stack as mode_stack

    from cnnzoo.analysis import profile
    from cnnzoo.meta import meta_device, meta_ops

    with meta_device(), meta_ops(), meta_ops():
        assert [type(m).__name__ for m in mode_stack()] == ["DeviceContext", "_SkipMetaFills"]
    assert mode_stack() == []

    seen: list[list[str]] = []

    class Spy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append([type(m).__name__ for m in mode_stack()])
            return x

    with meta_device():
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), Spy(), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    p = profile(model, (3, 8, 8))
    assert seen == [["_Tracer"]]
    assert [r.output_shape for r in p.rows][-1] == (4, 6, 6)


# ------------------------------------------------------------------------------------------ optimizers
@pytest.mark.parametrize(
    "ours, theirs, kw",
    [
        (SGD, torch.optim.SGD, dict(momentum=0.9, nesterov=True, weight_decay=1e-3)),
        (RMSprop, torch.optim.RMSprop, dict(momentum=0.9, alpha=0.9, eps=1.0)),
        (Adam, torch.optim.Adam, dict(weight_decay=1e-4)),
    ],
)
def test_dynamo_free_optimizers_step_and_save_exactly_as_torchs(ours, theirs, kw):
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    b = copy.deepcopy(a)
    oa, ob = ours(a.parameters(), lr=0.05, **kw), theirs(b.parameters(), lr=0.05, **kw)
    assert isinstance(oa, theirs)
    for _ in range(4):
        x = torch.randn(8, 5)
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad()
            m(x).square().mean().backward()
            o.step()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    sa, sb = oa.state_dict(), ob.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    fresh = ours(copy.deepcopy(a).parameters(), lr=0.05, **kw)
    fresh.load_state_dict(sb)  # torch's state loads into ours and back
    assert fresh.state_dict()["param_groups"] == sb["param_groups"]


# ------------------------------------------------------------------------------------------ LeNet-5's C3
def test_c3_trains_as_one_dense_convolution_equal_to_its_grouped_definition():
    torch.manual_seed(0)
    c3 = SparseConv2d(C3_TABLE, 5)
    assert [(k, tuple(v.shape)) for k, v in c3.state_dict().items()] == [
        ("convs.0.weight", (6, 3, 5, 5)),
        ("convs.0.bias", (6,)),
        ("convs.1.weight", (9, 4, 5, 5)),
        ("convs.1.bias", (9,)),
        ("convs.2.weight", (1, 6, 5, 5)),
        ("convs.2.bias", (1,)),
    ]
    x = torch.randn(4, 6, 14, 14, requires_grad=True)
    g = torch.randn(4, 16, 10, 10)
    c3.train()
    (c3(x) * g).sum().backward()
    ours = [p.grad.clone() for p in c3.parameters()] + [x.grad.clone()]
    c3.zero_grad()
    x.grad = None
    c3.eval()  # the grouped convolutions over the gathered maps of Table I
    y = c3(x)
    (y * g).sum().backward()
    ref = [p.grad for p in c3.parameters()] + [x.grad]
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(ours, ref))
    c3.train()
    assert torch.allclose(c3(x), y, atol=1e-5)
    w, b = c3.dense_weight()  # the serve page's view of C3, unchanged
    assert w.shape == (16, 6, 5, 5) and int((w.abs().sum((2, 3)) > 0).sum()) == 60
    assert torch.allclose(F.conv2d(x, w, b), y, atol=1e-5)


@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
def test_lenet5_trains_with_the_same_function_and_gradients_as_it_evaluates(name):
    # training computes the squashing as 2A sigmoid(2Sa) - A and C5 as one matrix product (faster on CPU)
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.randn(8, 1, 32, 32)
    target = torch.randint(0, 10, (8,))
    grads = {}
    for mode in (True, False):
        model.train(mode)
        model.zero_grad()
        out = model(x)
        F.cross_entropy(out, target).backward()
        grads[mode] = (out.detach(), [p.grad.clone() for p in model.parameters()])
    (out_t, g_t), (out_e, g_e) = grads[True], grads[False]
    assert torch.allclose(out_t, out_e, atol=1e-4)
    assert all(torch.allclose(a, b, atol=1e-5, rtol=1e-4) for a, b in zip(g_t, g_e))
    assert type(model.c5.conv).__mro__[1] is torch.nn.Conv2d  # a convolution to exports and profilers
    model.train()
    assert model.c5.conv(torch.randn(2, 16, 7, 7)).shape == (2, 120, 3, 3)  # another size: the convolution


def test_distortion_grid_equals_affine_grid():
    from cnnzoo.data.transforms import AffineDistortion

    torch.manual_seed(0)
    aug = AffineDistortion()
    imgs = torch.rand(16, 1, 32, 32)
    mats = aug.matrices(16)
    full = torch.cat([mats.double(), torch.tensor([0.0, 0.0, 1.0]).double().expand(16, 1, 3)], 1)
    theta = torch.linalg.inv(full)[:, :2].float()
    ref = F.grid_sample(imgs, F.affine_grid(theta, [16, 1, 32, 32], align_corners=False), align_corners=False)
    assert torch.allclose(aug.apply(imgs, mats), ref, atol=1e-5)
    one = torch.rand(3, 20, 28)  # one image, not square
    m = aug.matrix()
    theta = torch.linalg.inv(torch.cat([m.double(), torch.tensor([[0.0, 0.0, 1.0]]).double()]))[:2].float()
    ref = F.grid_sample(one[None], F.affine_grid(theta[None], [1, 3, 20, 28], align_corners=False))
    assert torch.allclose(aug.apply(one, m), ref[0], atol=1e-5)


# ------------------------------------------------------------------------------------------ batches
def test_batched_crop_flip_equals_crops_of_the_padded_images():
    imgs = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    torch.manual_seed(5)
    out = RandomCropFlip(4, flip=True)(imgs)
    torch.manual_seed(5)
    offsets, mirror = torch.randint(0, 9, (32, 2)), torch.rand(32, 1) < 0.5
    padded = F.pad(imgs, (4, 4, 4, 4))
    for i in range(32):
        r, c = int(offsets[i, 0]), int(offsets[i, 1])
        ref = padded[i, :, r : r + 28, c : c + 28]
        assert torch.equal(out[i], ref.flip(-1) if mirror[i] else ref)
    assert 4 <= int(mirror.sum()) <= 28


def test_crop_flip_batches_keep_digits_unmirrored_and_mirror_clothes():
    mean, std = (0.5,), (0.25,)
    assert batch_transform("cifar", (28, 28), mean, std, flip=False).crop.flip is False
    assert batch_transform("cifar", (32, 32), mean, std, flip=True).crop.flip is True
    assert batch_transform("crop-flip", (28, 28), mean, std).crop.flip is True
    assert batch_transform("shift", (32, 32), mean, std).crop.padding == 2
    out = batch_transform("crop-flip", (28, 28), mean, std)(torch.zeros(3, 1, 28, 28, dtype=torch.uint8))
    assert out.dtype == torch.float32 and torch.allclose(out, torch.full_like(out, -2.0))


# ------------------------------------------------------------------------------------------ schedules
def test_one_cycle_rises_over_the_warm_up_then_falls_to_zero():
    s = OneCycleScale(100, 0.2)
    assert s(0) == pytest.approx(0.1) and s(10) == pytest.approx(0.55) and s(20) == pytest.approx(1.0)
    assert s(60) == pytest.approx(0.5) and s(100) == 0.0


def test_the_fast_recipe_steps_its_schedule_every_batch(tmp_path):
    from cnnzoo.data import load_data
    from cnnzoo.train import Trainer

    bundle = load_data("synthetic:160", 1, (32, 32))
    rec = get_recipe("fast").with_overrides(epochs=2, batch_size=32)
    model = cnnzoo.create_model("lenet5_modern", num_classes=10)
    opt = rec.make_optimizer(model)
    assert opt.defaults["nesterov"] is True
    steps = -(-len(bundle.train) // 32)
    sched = rec.make_scheduler(opt, steps)
    t = Trainer(model, opt, bundle.train, epochs=2, batch_size=32, scheduler=sched, progress=False, log=False)
    res = t.fit()
    assert sched.last_epoch == 2 * steps  # stepped after every batch, not once an epoch
    assert res.history[0]["lr"] == pytest.approx(0.2 * OneCycleScale(2 * steps, 0.2)(steps))
    assert res.history[-1]["lr"] == 0.0


def test_training_top_k_counted_once_an_epoch_equal_per_batch_counting():
    torch.manual_seed(0)
    scores, target = torch.randn(50, 10), torch.randint(0, 10, (50,))
    a, b = Meter(10, (1, 5)), Meter(10, (1, 5))
    for i in range(0, 50, 16):
        a.update(scores[i : i + 16], target[i : i + 16], 1.0)
    b.update_top(scores.topk(5, 1).indices, target, 4.0)
    assert (a.n, a.correct, a.loss_sum) == (b.n, b.correct, b.loss_sum)
    assert torch.equal(a.cm, b.cm)


# ------------------------------------------------------------------------------------------ serve
def test_serve_warm_up_answers_each_kind_of_request_once():
    from cnnzoo.serve import core
    from cnnzoo.serve.app import ServeState, warm_up

    state = ServeState(draw=core.load_draw_model("lenet5"))
    core._profile_dict.cache_clear()
    assert warm_up(state) == ["anatomy", "draw"]
    assert core._profile_dict.cache_info().currsize == 1  # the Anatomy page's first model, profiled


def test_meta_batch_norm_and_relu_keep_layout_and_torchs_channel_check():
    from torch import nn

    from cnnzoo.meta import meta_device

    with meta_device():
        x = torch.empty(2, 8, 5, 7).to(memory_format=torch.channels_last)
        bn, wrong = nn.BatchNorm2d(8).eval(), nn.BatchNorm2d(6).eval()
        y = bn(x)
        assert y.shape == x.shape and y.stride() == x.stride() and y.is_meta and y is not x
        r = F.relu(y)
        assert r.stride() == y.stride() and r is not y
        assert F.relu(y, inplace=True) is y and nn.ReLU(inplace=True)(y) is y
        with pytest.raises(RuntimeError):  # 6 channels of statistics for 8 maps: torch's own error
            wrong(x)
        trained = nn.BatchNorm2d(8).train()(torch.empty(2, 8, 5, 7))  # training mode: torch's path
        assert trained.shape == (2, 8, 5, 7)
