"""``cnnzoo transfer``: a torchvision ResNet-18 file transferred end to end; wrong or unsafe files are
one-line
errors with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cnnzoo.checkpoint import load_checkpoint
from cnnzoo.cli import main


def test_torchvision_resnet18_file_transfers_to_new_classes_end_to_end(tmp_path: Path, capsys) -> None:
    torchvision = pytest.importorskip("torchvision")
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)  # random init, torchvision's names
    out = tmp_path / "run"
    code = main(
        [
            "transfer",
            "resnet18",
            "--weights",
            f"torchvision:{weights}",
            "--data",
            "synthetic:40",
            "--strategy",
            "feature-extraction",
            "--epochs",
            "1",
            "--input-size",
            "32",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["strategy"] == "feature-extraction" and 0.0 <= res["top1"] <= 1.0
    ckpt = load_checkpoint(out / "best.pt")
    assert ckpt.record.name == "resnet18" and ckpt.record.model_kwargs["num_classes"] == 10
    assert ckpt.state_dict["fc.weight"].shape == (10, 512) and ckpt.record.num_classes == 10
    assert ckpt.record.input_size == (3, 32, 32) and ckpt.run["transfer"]["strategy"] == "feature-extraction"
    # the body is torchvision's file, unchanged by feature extraction
    tv = torch.load(weights, weights_only=True)
    assert torch.equal(ckpt.state_dict["layer4.1.bn2.running_var"], tv["layer4.1.bn2.running_var"])
    assert (out / "confusion.png").is_file() and (out / "metrics.csv").is_file()


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize("kind", ["missing", "garbage", "unsafe", "wrong_arch"])
def test_wrong_or_unsafe_weights_file_exits_2_with_one_line(kind: str, tmp_path: Path, capsys) -> None:
    f = tmp_path / "w.pth"
    if kind == "garbage":
        f.write_bytes(b"not a checkpoint at all")
    elif kind == "unsafe":
        torch.save({"fc.weight": _Evil()}, f)
    elif kind == "wrong_arch":
        torch.save({"conv.weight": torch.zeros(3, 3)}, f)
    code = main(
        [
            "transfer",
            "resnet18",
            "--weights",
            f"torchvision:{f}",
            "--data",
            "synthetic:40",
            "--strategy",
            "finetune",
            "--input-size",
            "32",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("cnnzoo transfer: error:")
    assert "pwned" not in err


def test_joint_without_old_data_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "transfer",
            "lenet5_modern",
            "--data",
            "synthetic:40",
            "--strategy",
            "joint",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    assert "--old-data" in capsys.readouterr().err
