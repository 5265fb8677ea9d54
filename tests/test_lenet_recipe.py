"""LeNet-5's training (LeCun et al. 1998): the recipe, the paper's affine distortions (Sec. III-C) and the
dense-kernel training path of the sparse C3 (same function, same gradients, 1,516 parameters)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import cnnzoo
from cnnzoo.data.transforms import AffineDistortion, train_transform
from cnnzoo.train import get_recipe


def test_sparse_c3_trains_as_one_dense_convolution_with_the_grouped_outputs_and_gradients() -> None:
    m = cnnzoo.create_model("lenet5")
    c3 = m.c3.conv
    x = torch.randn(4, 6, 14, 14, generator=torch.Generator().manual_seed(1))
    grads = []
    for training in (True, False):
        c3.train(training)
        c3.zero_grad()
        y = c3(x)
        y.pow(2).sum().backward()
        grads.append([p.grad.clone() for p in c3.parameters()])
        if training:
            y_train = y.detach()
    assert y_train.shape == (4, 16, 10, 10)
    assert torch.allclose(y_train, y.detach(), atol=1e-5)
    for g_dense, g_grouped in zip(*grads):
        assert torch.allclose(g_dense, g_grouped, rtol=1e-4, atol=1e-4)
    w, b = c3.dense_weight()
    # 60 live 5x5 kernels of Table I (6x3 + 9x4 + 1x6), 36 dead ones stay exactly zero
    assert w.shape == (16, 6, 5, 5) and b.shape == (16,)
    assert int((w.abs().sum((2, 3)) > 0).sum()) == 60
    assert sum(p.numel() for p in c3.parameters()) == 1_516


def test_lenet5_training_step_is_the_same_in_both_c3_paths() -> None:
    torch.manual_seed(0)
    a = cnnzoo.create_model("lenet5")
    b = cnnzoo.create_model("lenet5")
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(8, 1, 32, 32), torch.arange(8) % 10
    a.train()
    b.eval()  # grouped convolutions (eval mode has no other difference in LeNet-5)
    for m in (a, b):
        F.cross_entropy(m(x), y).backward()
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-5), n


def _dot(h: int = 32, w: int = 32, r: int = 16, c: int = 16) -> torch.Tensor:
    img = torch.zeros(1, h, w)
    img[0, r, c] = 1.0
    return img


def _where(img: torch.Tensor) -> tuple[int, int]:
    i = int(img[0].argmax())
    return i // img.shape[-1], i % img.shape[-1]


def test_affine_distortion_translates_by_whole_pixels_and_squeezes() -> None:
    # normalised coordinates span 2 over 32 pixels: 2 pixels right = 0.125, 3 pixels up = -0.1875
    moved = AffineDistortion.apply(_dot(), torch.tensor([[1.0, 0.0, 0.125], [0.0, 1.0, -0.1875]]))
    assert _where(moved) == (13, 18) and abs(float(moved.max()) - 1.0) < 1e-6
    # a horizontal bar squeezed (x * 0.5, y * 2): half as wide
    bar = torch.zeros(1, 32, 32)
    bar[0, 15:17, 8:24] = 1.0
    sq = AffineDistortion.apply(bar, torch.tensor([[0.5, 0.0, 0.0], [0.0, 2.0, 0.0]]))
    cols = (sq[0] > 0.5).any(0).nonzero().flatten()
    assert (int(cols.min()), int(cols.max())) == (12, 19)
    # a horizontal shear leaves the middle row in place and moves the top row left (y < 0: x += 0.25 y)
    col = torch.zeros(1, 32, 32)
    col[0, :, 16] = 1.0
    sh = AffineDistortion.apply(col, torch.tensor([[1.0, 0.25, 0.0], [0.0, 1.0, 0.0]]))
    assert int(sh[0, 16].argmax()) == 16 and int(sh[0, 0].argmax()) < 16 < int(sh[0, 31].argmax())


def test_affine_distortion_draws_within_its_ranges_and_repeats_with_the_seed() -> None:
    d = AffineDistortion(translate=2 / 32, scale=(0.9, 1.1), squeeze=(0.9, 1.1), shear=0.2)
    torch.manual_seed(3)
    ms = torch.stack([d.matrix() for _ in range(300)])
    sx, sy, h, tx, ty = ms[:, 0, 0], ms[:, 1, 1], ms[:, 0, 1], ms[:, 0, 2], ms[:, 1, 2]
    assert float(tx.abs().max()) <= 0.125 and float(ty.abs().max()) <= 0.125 and float(h.abs().max()) <= 0.2
    s, q = (sx * sy).sqrt(), (sx / sy).sqrt()
    for v in (s, q):
        assert float(v.min()) >= 0.9 and float(v.max()) <= 1.1
    assert float(tx.std()) > 0.03  # really random
    torch.manual_seed(3)
    assert torch.equal(ms[0], d.matrix())


def test_distort_augmentation_keeps_digits_unflipped_and_normalised() -> None:
    tf = train_transform("distort", (32, 32), (0.5,), (0.5,), flip=True)
    img = torch.zeros(1, 28, 28, dtype=torch.uint8)
    torch.manual_seed(0)
    out = tf(img)
    assert out.shape == (1, 32, 32) and out.dtype == torch.float32
    assert torch.allclose(out, torch.full_like(out, -1.0))  # background stays background after normalising
    assert not any("Flip" in type(t).__name__ for t in tf.transforms)


def test_lenet5_recipe_trains_the_papers_20_distorted_passes_on_a_clipped_one_cycle() -> None:
    r = get_recipe("lenet5")
    assert (r.optimizer, r.lr, r.momentum, r.weight_decay, r.batch_size, r.epochs) == (
        "sgd",
        0.012,
        0.9,
        0.0,
        48,
        20,
    )
    assert (r.augment, r.val_fraction, r.label_smoothing, r.clip_grad_norm) == ("distort", 0.0, 0.0, 5.0)
    opt = r.make_optimizer(torch.nn.Linear(2, 2))
    steps_per_epoch = 30  # the digits' 1,437 training images in batches of 48
    sched = r.make_scheduler(opt, steps_per_epoch)
    assert getattr(sched, "per_step", False)
    lrs = []
    for _ in range(r.epochs * steps_per_epoch):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # 600 steps: up from 0.0012 to 0.012 over the first 150, then linearly down to 0 at step 600
    assert lrs[0] == pytest.approx(0.0012)
    assert max(lrs) == pytest.approx(0.012) and lrs.index(max(lrs)) == 150
    assert lrs[375] == pytest.approx(0.006) and lrs[-1] == pytest.approx(0.012 / 450)
    assert all(a < b for a, b in zip(lrs[:150], lrs[1:151]))
    assert all(a > b for a, b in zip(lrs[150:-1], lrs[151:]))


def test_batch_distortion_moves_each_image_by_its_own_map_as_the_single_image_path_does() -> None:
    d = AffineDistortion()
    imgs = torch.zeros(3, 1, 32, 32)
    imgs[:, 0, 16, 16] = 1.0
    mats = torch.tensor(
        [
            [[1.0, 0.0, 0.125], [0.0, 1.0, 0.0]],  # 2 pixels right
            [[1.0, 0.0, 0.0], [0.0, 1.0, -0.1875]],  # 3 pixels up
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],  # identity
        ]
    )
    out = d.apply(imgs, mats)
    assert [_where(o) for o in out] == [(16, 18), (13, 16), (16, 16)]
    for o, m in zip(out, mats):
        assert torch.allclose(o, AffineDistortion.apply(imgs[0], m), atol=1e-6)


def test_batch_matrices_draw_within_the_ranges_and_one_per_image() -> None:
    d = AffineDistortion(translate=2 / 32, scale=(0.9, 1.1), squeeze=(0.9, 1.1), shear=0.2)
    torch.manual_seed(3)
    ms = d.matrices(500)
    sx, sy, h, tx, ty = ms[:, 0, 0], ms[:, 1, 1], ms[:, 0, 1], ms[:, 0, 2], ms[:, 1, 2]
    assert ms.shape == (500, 2, 3) and bool((ms[:, 1, 0] == 0).all())
    assert float(tx.abs().max()) <= 0.125 and float(ty.abs().max()) <= 0.125 and float(h.abs().max()) <= 0.2
    for v in ((sx * sy).sqrt(), (sx / sy).sqrt()):
        assert float(v.min()) >= 0.9 - 1e-6 and float(v.max()) <= 1.1 + 1e-6
    assert float(tx.std()) > 0.03 and len(torch.unique(tx)) == 500  # a map drawn for each image


def test_digits_batches_equal_the_per_image_transform_when_there_is_no_randomness() -> None:
    from cnnzoo.data import load_data

    data = load_data("digits", 1, 32, augment="none")
    idx = torch.tensor([0, 5, 17, 300])
    xb, yb = data.train.batch(idx)
    xs = torch.stack([data.train[int(i)][0] for i in idx])
    assert xb.shape == (4, 1, 32, 32) and torch.allclose(xb, xs, atol=1e-6)
    assert yb.tolist() == [data.train[int(i)][1] for i in idx]
    xt, _ = data.test.batch(torch.arange(3))
    assert torch.allclose(xt, torch.stack([data.test[i][0] for i in range(3)]), atol=1e-6)


def test_the_linear_output_variants_train_the_lenet5_recipe_at_a_larger_first_rate() -> None:
    rbf, linear = get_recipe("lenet5"), get_recipe("lenet5_linear_head")
    assert [cnnzoo.model_info(n).recipe for n in ("lenet5", "lenet5_linear", "lenet5_modern")] == [
        "lenet5",
        "lenet5_linear_head",
        "lenet5_linear_head",
    ]
    assert (rbf.lr, linear.lr) == (0.012, 0.05)
    same = [f for f in ("batch_size", "epochs", "schedule", "clip_grad_norm", "augment", "momentum")]
    assert {f: getattr(linear, f) for f in same} == {f: getattr(rbf, f) for f in same}
