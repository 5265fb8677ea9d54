"""One process per run folder (issue #27): an exclusive lock file naming its holder, taken before anything
is written; a second training or resume refused in one sentence naming the holder; a dead holder's lock
taken over; the existing-run check independent of last.pt; torchrun's ranks ending with their launcher."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cnnzoo.cli import main
from cnnzoo.errors import CnnzooError
from cnnzoo.train import choose_out_dir, runlock

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _hold(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s lock until it is killed."""
    code = f"from cnnzoo.train import runlock; runlock.acquire({str(folder)!r}); print('held', flush=True); "
    code += "import time; time.sleep(600)"
    p = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def test_two_trainings_started_together_on_one_out_exactly_one_runs(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "cnnzoo", "train", "lenet5", "--data", "synthetic:60", "--epochs", "1"]
    argv += ["--no-progress", "--out", str(out)]
    procs = [
        subprocess.Popen(
            argv, env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    lines = [ln for ln in refused.splitlines() if ln.strip()]
    assert len(lines) == 1 and "is in use by process" in refused and "Traceback" not in refused
    winner = next(p for p, (code, _) in zip(procs, results) if code == 0)
    assert f"process {winner.pid} on " in refused  # the holder is named: its PID and host
    assert (out / "best.pt").is_file() and not (out / runlock.LOCK_NAME).exists()  # released at the end


def test_a_resume_or_a_new_run_on_a_held_folder_names_the_holder(tmp_path: Path, capfd) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes(b"not read: refused first")
    holder = _hold(out)
    try:
        for extra in (["--resume"], []):
            code = main(["train", "lenet5", "--data", "synthetic:40", "--out", str(out), *extra])
            err = capfd.readouterr().err
            assert (
                code == 2 and f"in use by process {holder.pid}" in err and len(err.strip().splitlines()) == 1
            )
        assert runlock.holder_of(out).pid == holder.pid  # the refused runs took nothing over
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_holders_lock_is_detected_and_taken_over(tmp_path: Path, capfd) -> None:
    out = tmp_path / "run"
    holder = _hold(out)
    holder.send_signal(signal.SIGKILL)  # no clean-up: the lock file stays, naming a dead process
    holder.wait()
    assert runlock.holder_of(out).pid == holder.pid
    with runlock.scope():
        lock = runlock.acquire(out)
        assert lock.took_over is not None and lock.took_over.pid == holder.pid
        assert runlock.holder_of(out).pid == os.getpid()
    assert f"left by process {holder.pid}" in capfd.readouterr().err
    assert not (out / runlock.LOCK_NAME).exists()


def test_without_flock_the_pid_and_host_decide(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(runlock, "fcntl", None)  # a file system without flock
    folder = tmp_path / "run"
    folder.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    import socket

    here = socket.gethostname()
    (folder / runlock.LOCK_NAME).write_text(f'{{"pid": {dead.stdout.strip()}, "host": "{here}"}}')
    with runlock.scope():
        assert runlock.acquire(folder).took_over is not None  # a dead PID on this host: stale
    (folder / runlock.LOCK_NAME).write_text(f'{{"pid": 1, "host": "{here}"}}')
    with pytest.raises(runlock.RunFolderBusy, match="in use by process 1 on"):
        runlock.acquire(folder)  # a live PID on this host
    (folder / runlock.LOCK_NAME).write_text('{"pid": 4242, "host": "another-machine"}')
    with pytest.raises(runlock.RunFolderBusy, match="cannot be checked from this host; if that run is over"):
        runlock.acquire(folder)


def test_the_existing_run_check_does_not_wait_for_last_pt(tmp_path: Path) -> None:
    """A run killed in its first epoch left logs but no last.pt: a new run would mix into them."""
    out = tmp_path / "run"
    (out / "tb").mkdir(parents=True)
    (out / "metrics.csv").write_text("epoch\n")
    with runlock.scope(), pytest.raises(CnnzooError, match="stopped before its first checkpoint"):
        choose_out_dir("lenet5", "digits", str(out), resume=False)
    with runlock.scope(), pytest.raises(CnnzooError, match="no last.pt to resume from.*stopped before"):
        choose_out_dir("lenet5", "digits", str(out), resume=True)
    assert not (out / runlock.LOCK_NAME).exists()


def test_the_default_folder_moves_past_one_in_use(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    base = Path("runs/lenet5-digits")
    holder = _hold(tmp_path / base)  # a run in its first moments: nothing written yet but the lock
    try:
        with runlock.scope():
            p, note = choose_out_dir("lenet5", "digits", None, resume=False)
            assert p == Path("runs/lenet5-digits-2") and "writing to runs/lenet5-digits-2" in note
    finally:
        holder.kill()
        holder.wait()


def test_a_rank_whose_launcher_dies_ends(tmp_path: Path) -> None:
    """A stand-in for torchrun (a parent process) starts a rank that watches it; kill -9 of the launcher
    ends the rank within a second or two (SIGTERM, then the grace period)."""
    rank = textwrap.dedent(
        """
        import sys, time
        from cnnzoo.train.distributed import watch_launcher
        assert watch_launcher(interval=0.1, grace=2.0)
        print("watching", flush=True)
        time.sleep(120)
        """
    )
    launcher = textwrap.dedent(
        f"""
        import subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", {rank!r}])
        print(p.pid, flush=True)
        time.sleep(120)
        """
    )
    lp = subprocess.Popen([sys.executable, "-c", launcher], env=_env(), stdout=subprocess.PIPE, text=True)
    assert lp.stdout is not None
    rank_pid = int(lp.stdout.readline())
    assert lp.stdout.readline().strip() == "watching"
    lp.kill()
    lp.wait()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        try:
            os.kill(rank_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
        with_zombie = Path(f"/proc/{rank_pid}/stat")
        if with_zombie.is_file() and with_zombie.read_text().split()[2] == "Z":
            break
    else:
        os.kill(rank_pid, signal.SIGKILL)
        pytest.fail("the rank outlived its launcher by 30 s")
    assert time.monotonic() - t0 < 10
