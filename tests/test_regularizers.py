"""The regularisers (issue #28) change training as their definitions say: EMA weights equal the closed form,
the smoothed-target loss equals the formula, clipping bounds the norm, mixup/CutMix mix as written, the
recipe's dropout/drop-path reach the model or are refused, TF's RMSProp is TF's; and a run with all of them
on resumes exactly (EMA state in the checkpoint)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnzoo.checkpoint import load_checkpoint
from cnnzoo.data.transforms import RandAugmentUint8, RandomErasing
from cnnzoo.errors import CheckpointError, OptionError
from cnnzoo.train import Trainer, fit, get_recipe, seed_everything
from cnnzoo.train.recipes import RMSpropTF, no_decay_names
from cnnzoo.train.regularizers import (
    FilterRmsRenorm,
    MixedTarget,
    Mixer,
    ModelEma,
    RecipeLoss,
    ScheduledDropPath,
    model_kwargs_for,
)


def _toy(n: int = 48, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 6, 6, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    return TensorDataset(x, y)


# ------------------------------------------------------------------------------------------------ EMA
def test_ema_weights_equal_the_closed_form_after_k_steps():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()
    d, k = 0.9, 7
    ema = ModelEma(net, d)
    history = [{n: t.clone() for n, t in net.state_dict().items()}]
    opt = torch.optim.SGD(net.parameters(), lr=0.3)
    for _ in range(k):
        loss = net(torch.randn(8, 3, dtype=torch.float64)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.update(net)
        history.append({n: t.clone() for n, t in net.state_dict().items()})
    got = ema.module.state_dict()
    for name, w0 in history[0].items():
        if not w0.is_floating_point():  # integer buffers (num_batches_tracked) are copied
            assert torch.equal(got[name], history[-1][name])
            continue
        closed = d**k * w0 + (1 - d) * sum(d ** (k - i) * history[i][name] for i in range(1, k + 1))
        assert torch.allclose(got[name], closed, rtol=0, atol=1e-12), name
    assert (got["2.weight"] - history[-1]["2.weight"]).abs().max() > 1e-3  # the average is not the last


def test_ema_warmup_is_tensorflows_num_updates_rule():
    net = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = ModelEma(net, 0.9999, warmup=True)
    decays = []
    for t in range(3):
        decays.append(ema.current_decay())
        with torch.no_grad():
            net.weight.fill_(float(t + 1))
        ema.update(net)
    assert decays == [1 / 10, 2 / 11, 3 / 12]
    expect = 0.0
    for t, dt in enumerate(decays):
        expect = dt * expect + (1 - dt) * (t + 1)
    assert math.isclose(float(ema.module.weight), expect, rel_tol=1e-6)


# ------------------------------------------------------------------------------------------------ loss
def test_the_smoothed_target_loss_equals_the_formula():
    torch.manual_seed(0)
    logits, y, eps, k = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 3, 1, 1, 2]), 0.1, 4
    logp = logits.log_softmax(1)
    formula = ((1 - eps) * -logp.gather(1, y[:, None]).squeeze(1) + eps * (-logp).mean(1)).mean()
    soft = torch.full((5, k), eps / k, dtype=torch.float64)
    soft[torch.arange(5), y] += 1 - eps  # the target (1 - eps) onehot + eps / K of Szegedy et al. Sec. 7
    assert torch.allclose(RecipeLoss(eps)(logits, y), formula, atol=1e-12)
    assert torch.allclose(RecipeLoss(eps)(logits, y), -(soft * logp).sum(1).mean(), atol=1e-12)
    assert not torch.allclose(RecipeLoss(0.0)(logits, y), formula)
    mixed = RecipeLoss(eps)(logits, MixedTarget(y, y.flip(0), 0.7))
    assert torch.allclose(mixed, 0.7 * RecipeLoss(eps)(logits, y) + 0.3 * RecipeLoss(eps)(logits, y.flip(0)))


# ------------------------------------------------------------------------------------------------ clipping
class _NormRecorder(torch.optim.SGD):
    """SGD that records the global gradient norm it is asked to apply."""

    norms: list[float]

    def step(self, closure=None):  # type: ignore[override]
        g = [p.grad for grp in self.param_groups for p in grp["params"] if p.grad is not None]
        self.norms.append(
            float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in g])))
        )
        return super().step(closure)


@pytest.mark.parametrize("clip", [0.0, 0.05])
def test_clipping_bounds_the_global_gradient_norm(clip):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    opt = _NormRecorder(net.parameters(), lr=0.5)
    opt.norms = []
    Trainer(net, opt, _toy(), epochs=2, batch_size=8, progress=False, log=False, clip_grad_norm=clip).fit()
    if clip:
        assert max(opt.norms) <= clip * (1 + 1e-5)
        assert min(opt.norms) > 0.5 * clip  # the raw gradients are larger than the bound: it does clip
    else:
        assert max(opt.norms) > 0.05  # without clipping the same run exceeds the bound


# ------------------------------------------------------------------------------------------------ mixing
def test_mixup_and_cutmix_mix_as_their_papers_write():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    y = torch.tensor([0, 1])
    torch.manual_seed(3)
    xm, t = Mixer(mixup=0.4)(x, y)
    assert torch.allclose(xm, t.lam * x + (1 - t.lam) * x.flip(0)) and torch.equal(t.b, y.flip(0))
    torch.manual_seed(3)
    assert torch.equal(Mixer(mixup=0.4)(x, y)[0], xm)  # the torch RNG: repeatable under a seed
    torch.manual_seed(5)
    xc, t = Mixer(cutmix=1.0)(x, y)
    pasted = (xc != x).float().mean().item()  # every pixel of the pasted box differs (the pair differs)
    assert math.isclose(pasted, 1 - t.lam, abs_tol=1e-6)


# ------------------------------------------------------------------------------------------------ models
def test_recipe_dropout_and_drop_path_reach_the_model_or_are_refused():
    assert model_kwargs_for("resnet20", None, 0.2) == {"drop_path_rate": 0.2}
    assert model_kwargs_for("densenet40_k12", 0.2, None) == {"drop_rate": 0.2}
    assert model_kwargs_for("fractalnet_cifar", None, 0.1) == {"local_drop": 0.1}
    assert model_kwargs_for("alexnet", 0.3, None) == {"dropout": 0.3}
    with pytest.raises(OptionError, match="lenet5 has no drop-path option"):
        model_kwargs_for("lenet5", None, 0.1)


def test_scheduled_drop_path_rises_linearly_with_the_steps():
    from cnnzoo import create_model

    net = create_model("resnet20", num_classes=10, drop_path_rate=0.4)
    hook = ScheduledDropPath(net, steps_per_epoch=10, epochs=2)

    class T:
        epoch = 1

    hook.on_batch_start(T, 5, None)  # 15 of 20 steps done
    probs = [m.drop_prob for m in hook.mods]
    assert probs[-1] == pytest.approx(0.4 * 0.75) and probs[0] == pytest.approx(0.4 / 9 * 0.75)
    with pytest.raises(OptionError):
        ScheduledDropPath(create_model("resnet20", num_classes=10), 10, 2)  # nothing to schedule


def test_filter_rms_renormalisation_caps_each_filter_at_the_radius():
    conv = nn.Conv2d(1, 3, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.05, 0.3]).view(3, 1, 1, 1).expand_as(conv.weight))
    FilterRmsRenorm(conv, 0.1).on_step_end(None, 0, 0.0)
    rms = conv.weight.pow(2).flatten(1).mean(1).sqrt()
    assert torch.allclose(rms, torch.tensor([0.1, 0.05, 0.1]))


def test_no_weight_decay_leaves_out_biases_norms_and_depthwise_filters():
    net = nn.Sequential(nn.Conv2d(4, 4, 3, groups=4), nn.BatchNorm2d(4), nn.Conv2d(4, 8, 1), nn.Flatten())
    assert no_decay_names(net, ("bias", "norm", "depthwise")) == {
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "2.bias",
    }
    opt = get_recipe("mobilenet_v1").make_optimizer(net)
    assert [len(g["params"]) for g in opt.param_groups] == [1, 5]
    assert [g["weight_decay"] for g in opt.param_groups] == [4e-5, 0.0]


def test_rmsprop_tf_is_tensorflows_update():
    w = nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = RMSpropTF([w], lr=0.1, alpha=0.9, eps=1.0, momentum=0.9)
    ms, mom, ref = torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64), w.detach().clone()
    for _ in range(3):
        g = 2 * w.detach().clone()  # d/dw of w^2
        w.grad = g.clone()
        opt.step()
        ms = 0.9 * ms + 0.1 * g * g
        mom = 0.9 * mom + 0.1 * g / torch.sqrt(ms + 1.0)
        ref = ref - mom
        assert torch.allclose(w.detach(), ref, atol=1e-14)


# ------------------------------------------------------------------------------------------------ augment
def test_random_erasing_and_randaugment_repeat_under_a_seed():
    img = torch.randint(0, 256, (1, 32, 32), dtype=torch.uint8)
    torch.manual_seed(1)
    a = RandAugmentUint8(2, 9)(img)
    torch.manual_seed(1)
    assert torch.equal(RandAugmentUint8(2, 9)(img), a)
    er = RandomErasing(p=1.0)
    for seed in range(20):
        torch.manual_seed(seed)
        out = er(torch.zeros(1, 32, 32))
        frac = (out != 0).float().mean().item()
        assert 0.015 <= frac <= 0.41  # the paper's area range 2%-40% (rounding to whole pixels)


# ------------------------------------------------------------------------------------------------ resume
def _run(out, epochs: int, resume: bool = False):
    seed_everything(123 if resume else 7)  # the resumed run must not depend on the process's RNG
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(36, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    kw = dict(
        epochs=epochs,
        batch_size=8,
        out_dir=out,
        seed=5,
        progress=False,
        val_data=_toy(16, 1),
        ema_decay=0.9,
        ema_warmup=True,
        clip_grad_norm=1.0,
        mix=Mixer(mixup=0.2, cutmix=1.0),
        loss_fn=RecipeLoss(0.1),
    )
    r = fit(net, opt, _toy(), resume=out / "last.pt" if resume else None, **kw)
    return net, r


def test_a_run_with_ema_mixing_clipping_and_smoothing_resumes_exactly(tmp_path):
    full, _ = _run(tmp_path / "full", 3)
    _run(tmp_path / "part", 1)
    part, r = _run(tmp_path / "part", 3, resume=True)
    a, b = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(tmp_path / "part" / "last.pt")
    for k, v in a.state_dict.items():  # the averaged weights: the saved model
        assert torch.equal(v, b.state_dict[k]), k
    for k, v in a.run["ema"]["training_state_dict"].items():  # the raw weights
        assert torch.equal(v, b.run["ema"]["training_state_dict"][k]), k
        assert torch.equal(v, full.state_dict()[k])
    assert a.run["ema"]["updates"] == b.run["ema"]["updates"] == 18
    assert [h["val_loss"] for h in a.run["history"]] == [h["val_loss"] for h in b.run["history"]]
    # the saved model is the average, not the last raw weights
    assert not torch.equal(a.state_dict["2.weight"], a.run["ema"]["training_state_dict"]["2.weight"])
    # a checkpoint without EMA state cannot continue an EMA run (and the other way round)
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(36, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    t = Trainer(net, torch.optim.SGD(net.parameters(), lr=0.1), _toy(), epochs=4, progress=False, log=False)
    with pytest.raises(CheckpointError, match="weight averaging"):
        t.load_state(a)


@pytest.mark.slow
def test_train_model_with_every_regulariser_resumes_exactly(tmp_path, capsys):
    from cnnzoo.train import train_model

    flags = dict(
        batch_size=32,
        seed=3,
        progress=False,
        threads=1,
        val_fraction=0.2,
        label_smoothing=0.1,
        ema_decay=0.99,
        clip_grad_norm=2.0,
        mixup=0.2,
        cutmix=1.0,
        randaugment_n=2,
        randaugment_m=9,
        random_erasing=0.5,
        drop_path=0.1,
    )
    full = train_model("resnet20", "synthetic:96", epochs=2, out=tmp_path / "full", **flags)
    train_model("resnet20", "synthetic:96", epochs=1, out=tmp_path / "part", **flags)
    part = train_model("resnet20", "synthetic:96", epochs=2, out=tmp_path / "part", resume=True, **flags)
    first = capsys.readouterr().out.splitlines()[0]
    assert (
        "label smoothing 0.1, EMA 0.99" in first
        and "RandAugment N=2 M=9" in first
        and "drop-path 0.1" in first
    )
    a, b = load_checkpoint(full.checkpoint), load_checkpoint(part.checkpoint)
    assert a.record.model_kwargs["drop_path_rate"] == 0.1
    for k, v in a.state_dict.items():
        assert torch.equal(v, b.state_dict[k]), k
    assert a.run["ema"]["updates"] == b.run["ema"]["updates"] == 4  # 2 epochs of 2 batches
    assert full.test is not None and part.test is not None and full.test.top1 == part.test.top1


def test_cli_flags_reach_the_recipe_and_bad_values_are_one_sentence(tmp_path):
    from cnnzoo.cli import main

    with pytest.raises(SystemExit):
        main(["train", "lenet5", "--randaugment", "2,40"])
    with pytest.raises(OptionError, match="drop-path option"):
        from cnnzoo.train import train_model

        train_model("lenet5", "synthetic:40", epochs=1, drop_path=0.1, out=tmp_path / "x", progress=False)
