"""Every output through one atomic door (cnnzoo.outputs, issue #27): an interrupted write (SIGKILL,
SIGTERM, an exception, a full disk) leaves the previous file or none at the requested path; a killed
writer's temporary file is swept by the next write; a full disk is one sentence saying how much to free."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from cnnzoo.cli import main
from cnnzoo.outputs import DiskFullError, OutputError, atomic_path, sweep_temporaries, write_atomic

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def test_an_exception_mid_write_leaves_the_previous_file(tmp_path: Path) -> None:
    p = write_atomic(tmp_path / "r.json", '{"v": 1}')
    with pytest.raises(RuntimeError), atomic_path(p) as tmp:
        tmp.write_text('{"v": 2, "half')
        raise RuntimeError("the writer broke")
    assert p.read_text() == '{"v": 1}' and sorted(x.name for x in tmp_path.iterdir()) == ["r.json"]
    with pytest.raises(OutputError, match="wrote nothing"), atomic_path(tmp_path / "none.png"):
        pass
    assert not (tmp_path / "none.png").exists()


def test_a_killed_writers_temporary_file_is_swept_by_the_next_write_but_a_live_ones_is_not(tmp_path: Path):
    target = tmp_path / "model.onnx"
    dead = subprocess.run([sys.executable, "-c", "print(__import__('os').getpid())"], capture_output=True)
    stale = tmp_path / f".model.onnx.{int(dead.stdout)}-abcd1234.tmp"
    live = tmp_path / f".model.onnx.{os.getppid()}-abcd1234.tmp"  # pytest's parent: alive
    stale.write_bytes(b"half")
    live.write_bytes(b"half")
    assert sweep_temporaries(target) == [stale]
    write_atomic(target, b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "model.onnx"])


_EXPORT = textwrap.dedent(
    """
    import sys, time
    import cnnzoo.deploy.onnx_export as ox
    real = ox._add_metadata

    def slow(path, meta):  # the exporter has written the whole graph: die now, mid-export
        real(path, meta)
        open(sys.argv[2], "w").write(str(path))
        time.sleep(600)

    ox._add_metadata = slow
    from cnnzoo.cli import main
    main(["export", "lenet5", "--out", sys.argv[1]])
    """
)


@pytest.mark.slow  # a real export in a subprocess, killed: ~40 s a case on a loaded machine
@pytest.mark.parametrize(("sig", "previous"), [(signal.SIGKILL, True), (signal.SIGTERM, False)])
def test_a_kill_during_export_leaves_no_half_written_model(tmp_path: Path, sig, previous: bool) -> None:
    out, marker = tmp_path / "lenet5.onnx", tmp_path / "marker"
    if previous:
        out.write_bytes(b"the previous model")
    p = subprocess.Popen([sys.executable, "-c", _EXPORT, str(out), str(marker)], env=_env())
    t0 = time.monotonic()
    while not marker.exists():
        assert p.poll() is None and time.monotonic() - t0 < 300, "the export never got under way"
        time.sleep(0.05)
    temp = Path(marker.read_text())
    assert temp.parent == out.parent and temp.name.startswith(".lenet5.onnx.") and temp.is_file()
    p.send_signal(sig)
    p.wait(timeout=60)
    assert (out.read_bytes() == b"the previous model") if previous else not out.exists()
    if sig == signal.SIGTERM:
        assert not temp.exists()  # unwound: the temporary file removed
    else:
        assert temp.exists()  # SIGKILL runs nothing: the next write sweeps it
        assert main(["export", "lenet5", "--out", str(out)]) == 0
        assert not temp.exists() and out.stat().st_size > 1000
    assert [x.name for x in tmp_path.iterdir() if x.name.startswith(".")] == []


# ------------------------------------------------------------------------------------- a real full disk
def _fill(disk: Path, leave: int = 32 * 1024) -> None:
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "ballast").write_bytes(b"\0" * max(0, free - leave))


def _assert_disk_full(err: str, disk: Path) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "the disk is full at" in err and str(disk) in err and " MB" in err and "free" in err, err
    assert "run the command again" not in err


def test_a_full_disk_under_export_checkpoint_figure_and_csv_is_one_sentence(small_disk: Path, capfd) -> None:
    from cnnzoo.checkpoint import save_checkpoint
    from cnnzoo.train.logs import RunLogger
    from cnnzoo.train.metrics import plot_confusion

    _fill(small_disk)
    before = sorted(p.name for p in small_disk.iterdir())
    assert main(["export", "lenet5", "--out", str(small_disk / "l.onnx")]) == 2
    _assert_disk_full(capfd.readouterr().err, small_disk)
    with pytest.raises(DiskFullError, match=r"free \d+ MB") as e:
        save_checkpoint(
            small_disk / "last.pt", None, {"w": torch.zeros(100_000)}
        )  # torch says "unexpected pos"
    _assert_disk_full(str(e.value), small_disk)
    with pytest.raises(DiskFullError):
        plot_confusion(
            torch.eye(40, dtype=torch.long) * 7, [f"class {i}" for i in range(40)], small_disk / "c.png"
        )
    log = RunLogger(small_disk, tensorboard=False)
    with pytest.raises(DiskFullError):
        log.log([{"epoch": i, "loss": 0.1, "note": "x" * 2000} for i in range(1, 40)], curves=False)
    assert sorted(p.name for p in small_disk.iterdir()) == before  # nothing half-written, no temporaries


def test_a_full_disk_during_training_is_one_line_and_the_cli_exit_2(
    small_disk: Path, tmp_path, capfd
) -> None:
    _fill(small_disk, leave=64 * 1024)
    out = small_disk / "run"
    code = main(
        ["train", "lenet5", "--data", "synthetic:40", "--epochs", "1", "--no-progress", "--out", str(out)]
    )
    assert code == 2
    _assert_disk_full(capfd.readouterr().err.replace("\r", "\n").split("\n")[-2], small_disk)
    assert not [p for p in small_disk.rglob(".*.tmp")]


def test_best_pt_made_from_last_pt_keeps_its_bytes_when_last_pt_is_rewritten(tmp_path, monkeypatch) -> None:
    """``Trainer.fit`` makes best.pt from the last.pt it just wrote (same state): a hard link, or a copy where
    the file system has none; either way a later last.pt leaves best.pt as it was, and no temporary stays."""
    from cnnzoo.outputs import same_file_atomic, write_atomic

    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    write_atomic(last, b"epoch 1")
    same_file_atomic(last, best)
    write_atomic(last, b"epoch 2")
    assert best.read_bytes() == b"epoch 1" and last.read_bytes() == b"epoch 2"

    def no_links(*a, **k):
        raise OSError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    same_file_atomic(last, best)
    write_atomic(last, b"epoch 3")
    assert best.read_bytes() == b"epoch 2" and last.read_bytes() == b"epoch 3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]
