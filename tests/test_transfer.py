"""Transfer learning: frozen means frozen, per-group learning rates, distillation/LwF losses, LwF keeps the
old
task (Li & Hoiem 2016), task construction."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cnnzoo.data.sources import MemoryImages, RawSplits, build_data, load_source
from cnnzoo.errors import CnnzooError
from cnnzoo.factory import create_model
from cnnzoo.transfer import (
    HeadView,
    Settings,
    class_subset,
    discriminative_param_groups,
    distillation_loss,
    feature_extraction,
    few_shot,
    finetune,
    freeze,
    freeze_body,
    is_frozen,
    joint_loss,
    learning_without_forgetting,
    lwf_loss,
    unfreeze,
    unfreeze_last,
)


def _tiny_raw(n: int = 40, classes: int = 4, size: int = 12) -> RawSplits:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % classes
    imgs = (torch.rand(n, 3, size, size, generator=g) * 255).to(torch.uint8)
    imgs[:, labels % 3, :2] = 255  # a little signal
    data = MemoryImages(imgs, labels)
    return RawSplits(
        "tiny", data, data.subset(range(0, n, 2)), [f"c{i}" for i in range(classes)], natural=False
    )


def _body_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}


@pytest.mark.parametrize("cache", [True, False])
def test_feature_extraction_keeps_resnet20_body_and_batchnorm_statistics_bit_identical(cache: bool) -> None:
    bundle = build_data(_tiny_raw(), 3, 12)
    model = create_model("resnet20", num_classes=10, in_chans=3)
    model.train()  # running statistics would move on the first batch if BN were not pinned
    before = _body_state(model)
    res = feature_extraction(model, bundle, Settings(epochs=1, lr=0.1, batch_size=8), cache=cache)
    after = model.state_dict()
    assert before.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert (
        after["layer1.0.bn1.num_batches_tracked"].item() == before["layer1.0.bn1.num_batches_tracked"].item()
    )
    assert model.fc.out_features == 4 and res.test is not None and res.test.n == 20
    model.train()  # what the loop does every epoch: the body's BatchNorm stays in eval mode
    bns = [m for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 19 and not any(bn.training for bn in bns)
    assert all(not p.requires_grad for n, p in model.named_parameters() if not n.startswith("fc."))


def test_freeze_pins_batchnorm_and_unfreeze_releases_it() -> None:
    model = create_model("resnet20", in_chans=3)
    freeze(model.layer1)
    model.train()
    assert is_frozen(model.layer1) and not model.layer1[0].bn1.training and model.layer2[0].bn1.training
    x = torch.randn(4, 3, 8, 8)
    stats = model.layer1[0].bn1.running_mean.clone()
    model(x)
    assert torch.equal(stats, model.layer1[0].bn1.running_mean)
    assert not torch.equal(model.layer2[0].bn1.running_mean, torch.zeros(32))
    unfreeze(model.layer1)
    model.train()
    assert model.layer1[0].bn1.training and all(p.requires_grad for p in model.layer1.parameters())


def test_unfreeze_last_two_groups_of_lenet5_modern_trains_c5_f6_and_head_only() -> None:
    model = create_model("lenet5_modern")
    freeze_body(model)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["output.weight", "output.bias"]
    assert unfreeze_last(model, 2) == ["c5", "f6", "head"]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == 48_120 + 10_164 + 850
    with pytest.raises(CnnzooError):
        unfreeze_last(model, -1)


def _ratios(opt: torch.optim.Optimizer) -> list[float]:
    head = opt.param_groups[-1]["lr"]
    return [g["lr"] / head for g in opt.param_groups]


def test_discriminative_param_groups_divide_by_factor_per_group_and_survive_schedulers() -> None:
    model = create_model("lenet5_modern")
    groups = discriminative_param_groups(model, 0.1, 3.0)
    assert [g["name"] for g in groups] == ["c1", "c3", "c5", "f6", "head"]
    assert [g["lr"] for g in groups] == pytest.approx([0.1 / 81, 0.1 / 27, 0.1 / 9, 0.1 / 3, 0.1])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    expected = [1 / 81, 1 / 27, 1 / 9, 1 / 3, 1.0]
    s = torch.optim.lr_scheduler
    makers = [
        lambda o: s.StepLR(o, step_size=1, gamma=0.1),
        lambda o: s.CosineAnnealingLR(o, T_max=10),
        lambda o: s.ReduceLROnPlateau(o, factor=0.5, patience=0),
    ]
    for make in makers:
        opt = torch.optim.SGD(discriminative_param_groups(model, 0.1, 3.0), lr=0.1, momentum=0.9)
        sched = make(opt)
        for _ in range(3):
            opt.step()
            sched.step(1.0) if isinstance(sched, s.ReduceLROnPlateau) else sched.step()
        assert opt.param_groups[-1]["lr"] < 0.1  # the schedule did change the rates...
        assert _ratios(opt) == pytest.approx(expected, rel=1e-9)  # ...and kept their ratios
    with pytest.raises(CnnzooError):
        discriminative_param_groups(model, 0.1, 0.5)


def test_distillation_loss_equals_hand_computed_value() -> None:
    s = torch.tensor([[1.0, 2.0, 0.0]])
    t = torch.tensor([[0.0, 3.0, 1.0]])
    y = torch.tensor([1])
    T, alpha = 2.0, 0.7

    def softmax(v: list[float]) -> list[float]:
        e = [math.exp(x) for x in v]
        return [x / sum(e) for x in e]

    p = softmax([0.0, 1.5, 0.5])  # teacher / T
    q = softmax([0.5, 1.0, 0.0])  # student / T
    kl = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    ce = -math.log(softmax([1.0, 2.0, 0.0])[1])
    expected = alpha * T * T * kl + (1 - alpha) * ce
    assert distillation_loss(s, t, y, T, alpha).item() == pytest.approx(expected, rel=1e-6)
    assert distillation_loss(t, t, None, T).item() == pytest.approx(0.0, abs=1e-7)


def test_lwf_and_joint_losses_equal_hand_computed_values() -> None:
    new, old, rec = (
        torch.tensor([[2.0, 0.0]]),
        torch.tensor([[0.0, 1.0, 0.0]]),
        torch.tensor([[1.0, 1.0, 3.0]]),
    )
    p = F.softmax(rec / 2, 1)
    lq = F.log_softmax(old / 2, 1)
    expected = F.cross_entropy(new, torch.tensor([0])) + 0.5 * -(p * lq).sum()
    assert lwf_loss(new, torch.tensor([0]), old, rec, 2.0, 0.5).item() == pytest.approx(
        expected.item(), rel=1e-6
    )
    logits = torch.tensor([[3.0, 0.0, 9.0, 9.0], [9.0, 9.0, 0.0, 2.0]])  # 2 old + 2 new columns
    y = torch.tensor([0, 3])
    per = [-math.log(math.exp(3) / (math.exp(3) + 1)), -math.log(math.exp(2) / (math.exp(2) + 1))]
    assert joint_loss(logits, y, 2).item() == pytest.approx(sum(per) / 2, rel=1e-6)


def test_class_subset_and_few_shot_build_the_digit_tasks() -> None:
    raw = load_source("digits")
    new = class_subset(raw, [5, 6, 7, 8, 9])
    assert new.classes == ["5", "6", "7", "8", "9"]
    assert sorted(new.train.labels.unique().tolist()) == [0, 1, 2, 3, 4]
    assert len(new.train) + len(new.test) == int(
        (torch.as_tensor([int(c) for c in raw.train.labels.tolist() + raw.test.labels.tolist()]) >= 5).sum()
    )
    few = few_shot(new, 10)
    assert len(few.train) == 50 and torch.bincount(few.train.labels).tolist() == [10] * 5
    assert few_shot(new, 10).train.labels.tolist() == few.train.labels.tolist()  # fixed draw
    with pytest.raises(CnnzooError):
        few_shot(new, 10_000)


def _old_task_model() -> tuple[torch.nn.Module, object, object]:
    """lenet5_modern trained briefly on digits 0-4 (the old task); digits 5-9 are the new one."""
    raw = load_source("digits")
    old = build_data(class_subset(raw, range(5)), 1, 32)
    new = build_data(class_subset(raw, range(5, 10)), 1, 32, mean=old.mean, std=old.std)
    model = create_model("lenet5_modern", num_classes=5)
    finetune(  # from scratch: every layer at lr (lr_factor=1)
        model,
        old,
        Settings(epochs=4, lr=0.05, batch_size=32),
        freeze_epochs=0,
        reset_head=False,
        lr_factor=1.0,
    )
    return model, old, new


@pytest.mark.slow  # ~25 s on a quiet 2-core machine (12 short epochs of LeNet-5)
def test_lwf_keeps_old_head_outputs_close_while_finetuning_drifts() -> None:
    import copy

    base, old, new = _old_task_model()
    x = torch.stack([old.test[i][0] for i in range(len(old.test))])  # plain [C, H, W] images
    with torch.no_grad():
        ref = F.softmax(base.eval()(x), 1)
    drift = {}
    for name in ("lwf", "finetune"):
        model = copy.deepcopy(base)
        s = Settings(epochs=4, lr=0.05, batch_size=32)
        if name == "lwf":
            res = learning_without_forgetting(model, new, s, warmup_epochs=1)
        else:
            res = finetune(model, new, s, freeze_epochs=1)
        assert res.test is not None and res.test.top1 > 0.8
        with torch.no_grad():
            now = F.softmax(HeadView(res.model, res.old_head).eval()(x), 1)
        drift[name] = (now - ref).abs().sum(1).mean().item() / 2  # mean total-variation distance
    assert drift["lwf"] < 0.1
    assert drift["lwf"] < drift["finetune"]


def test_lwf_keeps_old_top1_within_3_points_while_finetuning_loses_more() -> None:
    """Li & Hoiem 2016, Fig. 1/Table 1 in miniature: sklearn digits 0-4 -> 5-9, the same budget for both
    (lr 0.05 for the head-only epoch, lr/10 for the rest); LwF's joint phase at fine-tuning's body rate."""
    import copy

    from cnnzoo.train.loop import evaluate

    raw = load_source("digits")
    old = build_data(class_subset(raw, range(5)), 1, 32)
    new = build_data(class_subset(raw, range(5, 10)), 1, 32, mean=old.mean, std=old.std)
    base = create_model("lenet5_modern", num_classes=5)
    finetune(
        base,
        old,
        Settings(epochs=6, lr=0.03, batch_size=32),
        freeze_epochs=0,
        reset_head=False,
        lr_factor=1.0,
    )
    original = evaluate(base.eval(), old.test).top1
    assert original > 0.95
    s = Settings(epochs=8, lr=0.05, batch_size=32)
    lwf = learning_without_forgetting(copy.deepcopy(base), new, s, warmup_epochs=1, old_data=old)
    ft = finetune(copy.deepcopy(base), new, s, freeze_epochs=1, old_data=old)
    assert lwf.old_test is not None and ft.old_test is not None and lwf.test is not None
    assert lwf.test.top1 > 0.95 and ft.test.top1 > 0.95
    assert lwf.old_test.top1 >= original - 0.03
    assert ft.old_test.top1 < lwf.old_test.top1
