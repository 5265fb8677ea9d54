"""Checkpoints: atomic writes, safe loads, and clear errors for files that do not fit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnzoo.checkpoint import check_fit, load_checkpoint, safe_load, save_checkpoint
from cnnzoo.errors import CheckpointError
from cnnzoo.record import ModelRecord
from cnnzoo.weights.load import load_weights


class Evil:
    """An object whose unpickling would run code: `torch.load(weights_only=True)` must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_save_checkpoint_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    p = save_checkpoint(
        tmp_path / "a" / "ckpt.pt", ModelRecord("x"), {"w": torch.ones(2)}, {"epoch": 3, "rng": (1, [2, 3])}
    )
    assert torch.load(p, weights_only=True)["format"] == "cnnzoo-checkpoint"
    data = load_checkpoint(p)
    assert data.record == ModelRecord("x") and data.run == {"epoch": 3, "rng": (1, [2, 3])}
    assert data.version == 2 and torch.equal(data.state_dict["w"], torch.ones(2))
    assert [f.name for f in p.parent.iterdir()] == ["ckpt.pt"]


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "evil.pt"
    torch.save({"state_dict": Evil()}, p)
    with pytest.raises(CheckpointError, match="refusing to load .* would run code"):
        safe_load(p)


@pytest.mark.parametrize("cut", [0, 10, 200])
def test_truncated_file_is_a_clear_error(tmp_path: Path, cut: int) -> None:
    p = tmp_path / "t.pt"
    torch.save(nn.Linear(20, 20).state_dict(), p)
    p.write_bytes(p.read_bytes()[:cut])
    with pytest.raises(CheckpointError, match="empty|truncated or corrupt"):
        safe_load(p)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        safe_load(tmp_path / "nope.pt")


def test_state_dict_that_does_not_fit_lists_missing_unexpected_and_misshaped_keys(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    sd = {"0.weight": torch.zeros(3, 5), "0.bias": torch.zeros(3), "2.weight": torch.zeros(2, 3)}
    with pytest.raises(CheckpointError) as e:
        check_fit(model, sd, "f.pt")
    msg = str(e.value)
    assert "2 missing (1.weight, 1.bias)" in msg
    assert "1 unexpected (2.weight)" in msg
    assert "1 mis-shaped (0.weight (3, 5) vs (3, 4))" in msg


def test_load_weights_accepts_a_torchvision_style_state_dict_and_a_wrapped_one(tmp_path: Path) -> None:
    src = nn.Linear(4, 3)
    dst = nn.Linear(4, 3)
    torch.save(src.state_dict(), tmp_path / "plain.pth")
    load_weights(dst, f"torchvision:{tmp_path / 'plain.pth'}")
    assert torch.equal(dst.weight, src.weight)
    torch.save({"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()}}, tmp_path / "wrap.pth")
    dst2 = nn.Linear(4, 3)
    load_weights(dst2, str(tmp_path / "wrap.pth"))
    assert torch.equal(dst2.bias, src.bias)


def _garbage(tmp_path: Path) -> dict[str, Path]:
    """Files that are not checkpoints, each of a kind that once escaped torch's loader as a traceback."""
    import pickle
    import random
    import zipfile

    files = {
        "text": tmp_path / "notes.pt",
        "bytes": tmp_path / "noise.pt",
        "zip": tmp_path / "archive.pt",
        "list_pickle": tmp_path / "list.pt",
        "raw_evil": tmp_path / "raw.pt",
    }
    files["text"].write_text("hello world\n")
    files["bytes"].write_bytes(random.Random(0).randbytes(4096))
    with zipfile.ZipFile(files["zip"], "w") as z:
        z.writestr("a", "b")
    files["list_pickle"].write_bytes(b"\x80\x02]q\x00.")
    with open(files["raw_evil"], "wb") as f:
        pickle.dump(Evil(), f)
    (tmp_path / "folder.pt").mkdir()
    files["folder"] = tmp_path / "folder.pt"
    return files


@pytest.mark.parametrize("kind", ["text", "bytes", "zip", "list_pickle", "raw_evil", "folder"])
def test_every_loader_turns_garbage_into_one_sentence(tmp_path: Path, kind: str) -> None:
    import cnnzoo

    path = _garbage(tmp_path)[kind]
    expected = {"raw_evil": "would run code", "folder": "is a folder"}.get(kind, "truncated or corrupt")
    for load in (
        safe_load,
        load_checkpoint,
        lambda p: load_weights(nn.Linear(2, 2), str(p)),
        lambda p: cnnzoo.create_model("lenet5", weights=str(p)),
    ):
        with pytest.raises(CheckpointError, match=expected) as e:
            load(path)
        assert "\n" not in str(e.value) and str(e.value).endswith(".")


def test_random_bytes_never_escape_as_another_exception(tmp_path: Path) -> None:
    import random

    rng = random.Random(1)
    p = tmp_path / "x.pt"
    for _ in range(200):
        p.write_bytes(rng.randbytes(rng.randint(1, 300)))
        with pytest.raises(CheckpointError):
            safe_load(p)
