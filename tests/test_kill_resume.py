"""A kill while the best/last checkpoint pair is written (issue #17): the run folder is made whole on
resume (best.pt rewritten from last.pt when last.pt already names that epoch the best; temporary files
of killed writes removed), so the resumed run reports and evaluates the right epoch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from cnnzoo.checkpoint import load_checkpoint, save_checkpoint
from cnnzoo.errors import CheckpointError
from cnnzoo.train.loop import reconcile_run

_SCRIPT = textwrap.dedent(
    """
    import os, sys, tempfile
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset
    import cnnzoo.train.loop as loop

    out, epochs, kill_at = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    real = loop.save_checkpoint

    def dying_save(path, record, state_dict, run):
        # killed (SIGKILL-like: no clean-up runs) half-way through writing the named file at the last epoch
        if kill_at != "none" and os.path.basename(path) == kill_at and run["epoch"] == epochs:
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=out)
            os.write(fd, b"PK half a checkpoint")
            os._exit(137)
        return real(path, record, state_dict, run)

    real_link = loop.same_file_atomic

    def dying_link(src, path, what):  # best.pt made from the last.pt just written: killed the same way
        from cnnzoo.checkpoint import load_checkpoint
        if os.path.basename(path) == kill_at and load_checkpoint(src).run["epoch"] == epochs:
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=out)
            os.write(fd, b"PK half a checkpoint")
            os._exit(137)
        return real_link(src, path, what)

    loop.save_checkpoint = dying_save
    loop.same_file_atomic = dying_link
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 1, 6, 6, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    t = loop.Trainer(net, opt, TensorDataset(x, y), epochs=epochs, batch_size=8, out_dir=out, progress=False,
                     log=False, seed=0)
    if os.path.exists(os.path.join(out, "last.pt")):
        t.load_state(os.path.join(out, "last.pt"))
    r = t.fit()
    print("best_epoch", r.best_epoch)
    """
)


def _run(out: Path, epochs: int, kill_at: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(out), str(epochs), kill_at],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _resume_in_process(out: Path, epochs: int) -> int | None:
    from torch import nn
    from torch.utils.data import TensorDataset

    from cnnzoo.train.loop import Trainer

    x = torch.randn(32, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    t = Trainer(
        net, opt, TensorDataset(x, y), epochs=epochs, batch_size=8, out_dir=out, progress=False, log=False
    )
    t.load_state(out / "last.pt")
    return t.fit().best_epoch


def test_kill_while_the_final_best_pt_is_written_is_repaired_on_resume(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    killed = _run(run, 1, "best.pt")  # a real process, killed half-way through the final best.pt
    assert killed.returncode == 137, killed.stderr
    assert (run / "last.pt").is_file() and not (run / "best.pt").exists()
    assert [p.name.startswith(".best.pt.") for p in run.glob(".*.tmp")] == [True]
    assert _resume_in_process(run, 1) == 1  # trains nothing: the run is complete
    err = capsys.readouterr().err
    assert "rewrote it from last.pt" in err and "removed .best.pt." in err
    assert list(run.glob(".*.tmp")) == []
    best, last = load_checkpoint(run / "best.pt"), load_checkpoint(run / "last.pt")
    assert best.run["epoch"] == last.run["epoch"] == 1 and best.run["best"]["epoch"] == 1
    for k, v in last.state_dict.items():  # at an improving epoch both files hold the same state
        assert torch.equal(best.state_dict[k], v)


def _pair(out: Path, last_epoch: int, best_recorded: int, best_file_epoch: int | None) -> None:
    w = {"w": torch.full((2,), float(last_epoch))}
    save_checkpoint(
        out / "last.pt",
        None,
        w,
        {"epoch": last_epoch, "step": 0, "best": {"epoch": best_recorded, "value": 0.5}},
    )
    if best_file_epoch is not None:
        sd = {"w": torch.full((2,), float(best_file_epoch))}
        save_checkpoint(out / "best.pt", None, sd, {"epoch": best_file_epoch, "step": 0})


def test_stale_best_behind_an_improving_last_is_rewritten(tmp_path: Path) -> None:
    _pair(tmp_path, 6, 6, 5)  # the case: last.pt at epoch 6 (the best), best.pt at 5
    (tmp_path / ".last.pt.abc123.tmp").write_bytes(b"x")
    notes = reconcile_run(tmp_path)
    assert len(notes) == 2 and "from epoch 5" in notes[1]
    best = load_checkpoint(tmp_path / "best.pt")
    assert best.run["epoch"] == 6 and torch.equal(best.state_dict["w"], torch.full((2,), 6.0))


def test_consistent_or_ahead_pairs_are_left_alone(tmp_path: Path) -> None:
    _pair(tmp_path, 6, 4, 4)
    assert reconcile_run(tmp_path) == []
    _pair(tmp_path, 6, 6, 7)  # best written first, then killed before last: resume re-trains epoch 7
    assert reconcile_run(tmp_path) == []


def test_lost_best_weights_are_one_sentence(tmp_path: Path) -> None:
    _pair(tmp_path, 6, 4, 3)
    with pytest.raises(CheckpointError, match="best epoch is 4, whose weights were not kept"):
        reconcile_run(tmp_path)
