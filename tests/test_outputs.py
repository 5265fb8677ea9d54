"""The one writability check (issue #17), including the cases root cannot see through permission bits: a
read-only folder and a full disk are simulated where the probe file is created."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import cnnzoo.outputs as outputs
from cnnzoo.outputs import FIGURE_SUFFIXES, OutputError, check_output_dir, check_output_file, writing


def _refuse(code: int):
    def mkstemp(*a, **k):
        raise OSError(code, "refused")

    return mkstemp


@pytest.mark.parametrize(("code", "words"), [(errno.EACCES, "permission denied"), (errno.EROFS, "read-only"),
                                             (errno.ENOSPC, "disk is full")])  # fmt: skip
def test_unwritable_folders_are_one_sentence_before_any_work(tmp_path, monkeypatch, code, words):
    monkeypatch.setattr(outputs.tempfile, "mkstemp", _refuse(code))
    for check in (lambda: check_output_dir(tmp_path / "run"), lambda: check_output_file(tmp_path / "a.png")):
        with pytest.raises(OutputError, match=words) as e:
            check()
        assert "\n" not in str(e.value)


def test_paths_under_files_folders_as_files_and_wrong_suffixes(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_file(tmp_path / "f" / "a.png")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "f" / "run")
    with pytest.raises(OutputError, match="is an existing file"):
        check_output_dir(tmp_path / "f")
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(OutputError, match="'.txt'"):
        check_output_file(tmp_path / "c.txt", suffixes=FIGURE_SUFFIXES)
    assert check_output_file(tmp_path / "new" / "deep" / "c.png", suffixes=FIGURE_SUFFIXES).name == "c.png"
    assert not (tmp_path / "new").exists() and list(tmp_path.iterdir()) == [tmp_path / "f"]  # nothing left


def test_a_full_disk_while_writing_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="disk is full"), writing(tmp_path / "x.png", "figure"):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_during_a_checkpoint_write_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    import torch

    from cnnzoo.checkpoint import load_checkpoint, save_checkpoint
    from cnnzoo.outputs import DiskFullError

    p = save_checkpoint(tmp_path / "last.pt", None, {}, {"epoch": 1})

    def full_os(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    for failure in (full_os,):
        monkeypatch.setattr(torch, "save", failure)
        with pytest.raises(DiskFullError, match="the disk is full at .*last.pt.*; free .*unchanged"):
            save_checkpoint(p, None, {}, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(p).run["epoch"] == 1 and [f.name for f in tmp_path.iterdir()] == ["last.pt"]
