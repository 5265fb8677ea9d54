"""Training: recipes, the loop (aux losses, NaN stop, seeds), checkpoints that resume exactly after SIGKILL
or Ctrl-C, bad data, the command line's one-line errors, and the two real-data figures (slow)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnzoo.checkpoint import load_checkpoint
from cnnzoo.cli import main
from cnnzoo.errors import CnnzooError
from cnnzoo.factory import model_from_checkpoint
from cnnzoo.train import RECIPES, Trainer, TrainingDiverged, choose_out_dir, fit, get_recipe, seed_everything

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ recipes
def test_every_recipe_cites_its_paper_section():
    # the 28 papers' recipes and issue #30's time-to-accuracy recipe (citing the papers it compresses)
    assert len(RECIPES) == 30 and {"lenet5", "resnet_cifar", "inception_v3", "nasnet", "fast"} <= set(RECIPES)
    for r in RECIPES.values():
        assert any(w in r.source for w in ("Sec.", "Appendix")), r.name
        r.validate()


def test_resnet_cifar_recipe_is_the_papers():
    r = get_recipe("resnet_cifar")
    assert (r.optimizer, r.lr, r.momentum, r.weight_decay, r.batch_size) == ("sgd", 0.1, 0.9, 1e-4, 128)
    opt = r.make_optimizer(nn.Linear(2, 2))
    sched = r.make_scheduler(opt)
    lrs = []
    for _ in range(r.epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # 32k and 48k of 64k iterations: epochs 91 and round(136.5) = 136 of 182
    assert abs(lrs[90] - 0.1) < 1e-12 and abs(lrs[91] - 0.01) < 1e-12
    assert abs(lrs[135] - 0.01) < 1e-12 and abs(lrs[136] - 0.001) < 1e-12


def test_the_shipped_lenet5s_pinned_recipe_keeps_the_papers_stepwise_rate_shape():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import lenet5_mnist  # the settings cnnzoo/serve/weights/lenet5-mnist5k.pt was trained with

    r = get_recipe("lenet5").with_overrides(**{**lenet5_mnist.SHIPPED_RECIPE, "epochs": 20, "lr": 1.0})
    assert (r.batch_size, r.clip_grad_norm, r.schedule) == (16, 0.0, "piecewise")
    opt = r.make_optimizer(nn.Linear(2, 2))
    sched = r.make_scheduler(opt)
    lrs = []
    for _ in range(20):
        lrs.append(round(opt.param_groups[0]["lr"], 6))
        opt.step()
        sched.step()
    # LeCun et al. 1998's steps 0.0005, 0.0002, 0.0001, 0.00005, 0.00001 (x 1/0.0005), moved to 40/60/75/90%
    # of the run (1,437 digits per pass, not 60,000)
    assert lrs == [1.0] * 8 + [0.4] * 4 + [0.2] * 3 + [0.1] * 3 + [0.02] * 2


def test_recipe_overrides_are_checked():
    assert get_recipe("vgg").with_overrides(lr=0.5, epochs=None).lr == 0.5
    for bad in ({"lr": 0.0}, {"epochs": 0}, {"optimizer": "lbfgs"}, {"nope": 1}):
        with pytest.raises(CnnzooError):
            get_recipe("vgg").with_overrides(**bad)
    with pytest.raises(CnnzooError, match="unknown recipe"):
        get_recipe("resnet")


# ------------------------------------------------------------------------------------------ the loop
def _toy(n: int = 48, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 6, 6, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    return TensorDataset(x, y)


class _AuxNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(36, 8), nn.Tanh())
        self.fc = nn.Linear(8, 2)
        self.aux = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor):
        h = self.body(x)
        return (self.fc(h), self.aux(h)) if self.training else self.fc(h)


def test_auxiliary_losses_are_weighted_0_3():
    torch.manual_seed(0)
    net = _AuxNet()
    data = _toy(8)
    seen = []

    class Hook:
        def on_step_end(self, trainer, step, loss):
            seen.append(loss)

    ref = _AuxNet()
    ref.load_state_dict(net.state_dict())
    x, y = data.tensors
    with torch.no_grad():
        main_out, aux_out = ref(x)
    expected = float(nn.functional.cross_entropy(main_out, y) + 0.3 * nn.functional.cross_entropy(aux_out, y))
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    fit(net, opt, data, epochs=1, batch_size=8, hooks=[Hook()], progress=False)
    assert abs(seen[0] - expected) < 1e-6


def _train_toy(seed: int, out: Path | None = None, epochs: int = 3) -> nn.Module:
    seed_everything(seed)
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(36, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    fit(
        net,
        opt,
        _toy(),
        epochs=epochs,
        batch_size=8,
        out_dir=out,
        seed=seed,
        progress=False,
        val_data=_toy(16, 1),
    )
    return net


def test_same_seed_gives_the_same_weights_on_cpu():
    a, b, c = _train_toy(3), _train_toy(3), _train_toy(4)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))


def test_resume_from_an_epoch_checkpoint_in_process_is_exact(tmp_path):
    full = _train_toy(5, tmp_path / "full", epochs=3)
    _train_toy(5, tmp_path / "part", epochs=1)
    seed_everything(123)  # the resumed run must not depend on the state of the process
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(36, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    r = fit(
        net,
        opt,
        _toy(),
        epochs=3,
        batch_size=8,
        out_dir=tmp_path / "part",
        seed=5,
        progress=False,
        val_data=_toy(16, 1),
        resume=tmp_path / "part" / "last.pt",
    )
    assert all(torch.equal(p, q) for p, q in zip(full.state_dict().values(), net.state_dict().values()))
    assert [h["epoch"] for h in r.history] == [1, 2, 3]
    lines = (tmp_path / "part" / "metrics.csv").read_text().splitlines()
    assert len(lines) == 4  # header + 3 epochs, no duplicates


def test_channels_last_trains_the_same_network_in_the_faster_layout(tmp_path):
    def run(channels_last: bool | None) -> tuple[nn.Module, list[float]]:
        seed_everything(7)
        conv = (nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
        net = nn.Sequential(*conv, nn.Flatten(), nn.Linear(64, 2))
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        r = fit(net, opt, _toy(), epochs=2, batch_size=8, seed=7, progress=False, channels_last=channels_last)
        return net, [h["train_loss"] for h in r.history]

    plain, plain_losses = run(None)
    fast, fast_losses = run(True)
    assert plain[3].weight.is_contiguous() and not fast[3].weight.is_contiguous()
    assert fast[3].weight.is_contiguous(memory_format=torch.channels_last)
    assert fast_losses == pytest.approx(plain_losses, rel=1e-4)  # the same training, up to float rounding
    for p, q in zip(plain.state_dict().values(), fast.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-5)
    # the command line's flag is stored in the run, and a resumed run keeps it
    assert main(["train", "lenet5", "--data", "synthetic:40", "--epochs", "1", "--channels-last", "--out",
                 str(tmp_path / "cl"), "--no-progress"]) == 0  # fmt: skip
    assert load_checkpoint(tmp_path / "cl" / "last.pt").run["channels_last"] is True


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))

    class Poison:
        def on_epoch_start(self, trainer, epoch):
            if epoch == 1:
                with torch.no_grad():
                    net[1].weight.fill_(float("nan"))

    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(TrainingDiverged, match="became nan at epoch 2.*last good checkpoint"):
        fit(net, opt, _toy(), epochs=3, batch_size=8, out_dir=tmp_path, hooks=[Poison()], progress=False)
    ck = load_checkpoint(tmp_path / "last.pt")
    assert ck.run["epoch"] == 1 and torch.isfinite(ck.state_dict["1.weight"]).all()


def test_batch_size_must_split_over_processes():
    from cnnzoo.train import DistContext

    with pytest.raises(CnnzooError, match="divisible"):
        Trainer(
            nn.Linear(1, 1),
            torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1),
            _toy(),
            epochs=1,
            batch_size=5,
            ctx=DistContext(rank=0, world_size=2),
        )


# ------------------------------------------------------------------------------------------ run folders
def test_default_run_folder_is_never_clobbered(tmp_path, monkeypatch):
    from cnnzoo.train import runlock

    monkeypatch.chdir(tmp_path)
    with runlock.scope():
        p, note = choose_out_dir("lenet5", "digits", None, resume=False)
        assert p == Path("runs/lenet5-digits") and note == "writing to runs/lenet5-digits"
        assert runlock.holder_of(p).pid == os.getpid()  # locked for this process
    assert not p.exists()  # released: the folder made for the lock, still empty, is not left behind
    p.mkdir(parents=True)
    (p / "last.pt").write_bytes(b"x")
    with runlock.scope():
        p2, note2 = choose_out_dir("lenet5", "digits", None, resume=False)
        assert p2 == Path("runs/lenet5-digits-2") and "already holds a run" in note2
    with runlock.scope():
        assert choose_out_dir("lenet5", "digits", None, resume=True)[0] == p
    with runlock.scope(), pytest.raises(CnnzooError, match="pass resume to continue") as e:
        choose_out_dir("lenet5", "digits", str(p), resume=False)
    from cnnzoo.cli._args import as_flags

    assert "pass --resume to continue it or choose another --out" in as_flags(e.value)  # the CLI's flags
    with runlock.scope(), pytest.raises(CnnzooError, match="no last.pt"):
        choose_out_dir("lenet5", "digits", str(tmp_path / "fresh"), resume=True)
    assert not (tmp_path / "fresh").exists() and not list(p.glob(".*"))


# ------------------------------------------------------------------------------------------ CLI runs
def _cli(*args: str, timeout: int = 300, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cnnzoo", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=kw.get("cwd", REPO),
    )


TINY = [
    "--data",
    "synthetic:300",
    "--epochs",
    "3",
    "--batch-size",
    "8",
    "--seed",
    "7",
    "--no-progress",
    "--threads",
    "1",
    "--val-fraction",
    "0.2",
]


# The kill tests need a run long enough that a signal lands mid-run however fast the machine trains.
LONG = [a if a != "synthetic:300" else "synthetic:3000" for a in TINY]


def _popen(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "cnnzoo", "train", "lenet5", *LONG, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.time() - t0 < timeout
        time.sleep(0.05)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).state_dict


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "run"
    r = _cli("train", "lenet5", *TINY, "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def uninterrupted_long(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full_long") / "run"
    r = _cli("train", "lenet5", *LONG, "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    return out


def _same_run(a: Path, b: Path) -> None:
    wa, wb = _weights(a / "last.pt"), _weights(b / "last.pt")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    ha, hb = load_checkpoint(a / "last.pt").run["history"], load_checkpoint(b / "last.pt").run["history"]
    keys = ("train_loss", "train_top1", "val_loss", "val_top1", "lr")
    assert [[h[k] for k in keys] for h in ha] == [[h[k] for k in keys] for h in hb]


@pytest.mark.slow  # > 20 s on 2 cores: CI runs it (`-m slow`), the quick tier skips it
def test_sigkill_mid_epoch_then_resume_gives_the_same_final_weights(uninterrupted_long, tmp_path):
    out = tmp_path / "run"
    proc = _popen(out)
    _wait_for(out / "last.pt", proc)  # epoch 1 written: epoch 2 is under way
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ck = load_checkpoint(out / "last.pt")  # never unreadable
    assert ck.run["epoch"] in (1, 2) and ck.run["step"] == 0
    r = _cli("train", "lenet5", *LONG, "--out", str(out), "--resume")
    assert r.returncode == 0, r.stderr
    assert "resuming the run" in r.stdout and "test top-1" in r.stdout
    _same_run(uninterrupted_long, out)


@pytest.mark.slow  # > 20 s on 2 cores: CI runs it (`-m slow`), the quick tier skips it
def test_ctrl_c_saves_mid_epoch_and_resume_continues_exactly(uninterrupted_long, tmp_path):
    out = tmp_path / "run"
    proc = _popen(out)
    _wait_for(out / "last.pt", proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    text = proc.communicate(timeout=120)[0]
    if proc.returncode == 0:
        pytest.skip("the run finished before Ctrl-C arrived (machine too fast for this timing)")
    assert proc.returncode == 130, text
    assert "interrupted: saved" in text
    ck = load_checkpoint(out / "last.pt")
    assert ck.run["step"] > 0 or ck.run["epoch"] >= 1
    r = _cli("train", "lenet5", *LONG, "--out", str(out), "--resume")
    assert r.returncode == 0, r.stderr
    _same_run(uninterrupted_long, out)


def test_checkpoint_holds_what_rebuilds_and_evaluates_the_model(uninterrupted, capsys):
    ck = load_checkpoint(uninterrupted / "best.pt")
    rec = ck.record
    assert rec.name == "lenet5" and rec.model_kwargs == {"num_classes": 10, "in_chans": 1}
    assert rec.input_size == (1, 32, 32) and rec.dataset == "synthetic:300" and len(rec.classes) == 10
    assert len(rec.mean) == 1 and len(rec.std) == 1 and ck.run["recipe"]["name"] == "lenet5"
    assert (rec.resize, rec.crop) == (None, None)  # in-memory pictures: fitted, as training fitted them
    for key in ("optimizer", "scheduler", "rng", "epoch", "history", "best"):
        assert key in ck.run
    model = model_from_checkpoint(str(uninterrupted / "best.pt"))
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 60000
    assert main(["eval", str(uninterrupted / "best.pt"), "--json", "--crops", "10", "--topk", "1,3,5"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["n"] == 60 and d["crops"] == 10 and 0 <= d["top1"] <= d["top3"] <= d["top5"] <= 1
    assert (uninterrupted / "curves.png").stat().st_size > 0 and (uninterrupted / "metrics.csv").is_file()
    assert any((uninterrupted / "tb").iterdir())


def test_bad_files_in_a_folder_are_skipped_and_named_and_training_finishes(tmp_path):
    from test_data import add_bad_files, make_folder

    make_folder(tmp_path / "imgs", n=6)
    bad = add_bad_files(tmp_path / "imgs")
    r = _cli(
        "train",
        "lenet5",
        "--data",
        f"folder:{tmp_path / 'imgs'}",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
        "--threads",
        "1",
    )
    assert r.returncode == 0, r.stderr
    assert "skipped 4 unreadable file(s)" in r.stdout
    for name in bad:
        assert name in r.stdout
    assert "test top-1" in r.stdout
    r = _cli(
        "train",
        "lenet5",
        "--data",
        f"folder:{tmp_path / 'imgs'}",
        "--strict-data",
        "--out",
        str(tmp_path / "run2"),
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "strict-data" in r.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "nosuchnet"], "unknown model"),
        (["train", "lenet5", "--data", "folder:/no/such/dir"], "does not exist"),
        (["train", "lenet5", "--data", "imagenet"], "unknown data source"),
        (["train", "lenet5", "--lr", "-1"], "learning rate must be positive"),
        (["train", "lenet5", "--epochs", "0"], "expected a positive number"),
        (["eval", "/no/such.pt"], "does not exist"),
        (["eval", "x.pt", "--crops", "7"], "invalid choice"),
    ],
)
def test_each_bad_argument_is_a_one_line_error_with_status_2(args, needle, tmp_path):
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr


def test_recipes_command_lists_every_recipe(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in RECIPES:
        assert name in out
    assert main(["recipes", "resnet_cifar", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recipes"][0]["weight_decay"] == 1e-4


# ------------------------------------------------------------------------------------------ real data (slow)
@pytest.mark.slow
def test_main_job_lenet5_on_digits_reaches_98_3_percent(tmp_path):
    r = _cli("train", "lenet5", "--json", "--no-progress", cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d["top1"] >= 0.983 and d["n"] == 360  # issue #16: the plain-PyTorch baseline's 98.33%
    assert "runs/lenet5-digits" in d["checkpoint"] and d["curves"].endswith("curves.png")


@pytest.mark.slow
def test_lenet5_on_the_real_mnist_split_reaches_98_4_percent(mnist_dir, tmp_path):
    r = _cli(
        "train",
        "lenet5",
        "--data",
        f"mnist:{mnist_dir}",
        "--json",
        "--no-progress",
        "--out",
        str(tmp_path / "run"),
        timeout=1800,
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    # the paper's protocol (no held-out images, the last epoch): 98.70% on a 2-core AMD EPYC (AVX-512) with
    # the clipped one-cycle recipe of 20 passes (the stepwise recipe of 30 passes at batch 16 held 98.30%);
    # 0.3 points of slack for another CPU's float kernels and thread count.
    assert d["n"] == 2000 and d["top1"] >= 0.984, d
