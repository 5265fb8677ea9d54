"""Transfer strategies as phases run by one Trainer (issue #12), LeNet-5's parameter-free RBF head (issue #17,
item 3), and library errors that name parameters while the CLI names flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cnnzoo.cli import main
from cnnzoo.data.sources import MemoryImages, RawSplits, build_data
from cnnzoo.errors import OptionError
from cnnzoo.factory import create_model
from cnnzoo.transfer import Settings, feature_extraction, finetune
from cnnzoo.transfer.freeze import head_modules


def _digits_like(n: int = 24, classes: int = 4) -> RawSplits:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % classes
    imgs = (torch.rand(n, 1, 32, 32, generator=g) * 255).to(torch.uint8)
    data = MemoryImages(imgs, labels)
    return RawSplits(
        "tiny", data, data.subset(range(0, n, 3)), [f"c{i}" for i in range(classes)], natural=False
    )


def test_lenet5_rbf_head_has_no_parameters_so_the_head_phase_trains_f6() -> None:
    model = create_model("lenet5")
    assert list(model.output.parameters()) == []
    heads = head_modules(model)
    assert len(heads) == 2 and heads[-1] is model.output
    assert {id(p) for p in heads[0].parameters()} == {id(p) for p in model.f6.parameters()}
    modern = create_model("lenet5_modern")  # a Linear output: the head is the classifier alone
    assert len(head_modules(modern)) == 1 and head_modules(modern)[0] is modern.output


def test_feature_extraction_of_lenet5_trains_f6_keeps_the_body_and_new_prototypes_fixed() -> None:
    bundle = build_data(_digits_like(), 1, 32)
    model = create_model("lenet5")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = feature_extraction(model, bundle, Settings(epochs=1, lr=0.01, batch_size=8))
    after = model.state_dict()
    body = [k for k in before if not k.startswith(("f6.", "output."))]
    assert body and all(torch.equal(before[k], after[k]) for k in body)
    assert not torch.equal(before["f6.fc.weight"], after["f6.fc.weight"])
    assert model.output.prototypes.shape == (4, 84) and res.test is not None and res.test.n == 8
    assert len(res.history) == 1


def test_finetune_runs_its_phases_in_one_trainer_with_continuous_epochs(tmp_path: Path) -> None:
    bundle = build_data(_digits_like(), 1, 32)
    model = create_model("lenet5")
    res = finetune(
        model, bundle, Settings(epochs=3, lr=0.01, batch_size=8, out_dir=tmp_path), freeze_epochs=1
    )
    assert [row["epoch"] for row in res.history] == [1, 2, 3]
    # each row's rate is the epoch's: the head phase at lr, then lr / lr_factor decayed by a 2-epoch cosine
    assert [row["lr"] for row in res.history] == pytest.approx([0.01, 0.001, 0.0005])
    assert res.extra["trained_groups"][-1] == "head"
    run = torch.load(tmp_path / "last.pt", weights_only=True)["run"]
    assert run["epoch"] == 3 and run["epochs"] == 3 and run["seed"] == 1  # seed + epochs done at phase 2
    assert [r["epoch"] for r in run["history"]] == [1, 2, 3] and run["transfer"]["strategy"] == "finetune"


def test_library_errors_name_parameters_and_the_cli_names_flags(tmp_path: Path, capsys) -> None:
    bundle = build_data(_digits_like(), 1, 32)
    with pytest.raises(OptionError, match=r"^freeze_epochs must be between 0 and epochs \(2\), got 5\.$"):
        finetune(create_model("lenet5"), bundle, Settings(epochs=2), freeze_epochs=5)
    args = ["transfer", "lenet5", "--data", "synthetic:20", "--strategy", "finetune", "--epochs", "2"]
    args.append("--from-scratch")
    code = main([*args, "--freeze-epochs", "5", "--out", str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [
        "cnnzoo transfer: error: --freeze-epochs must be between 0 and --epochs (2), got 5."
    ]


@pytest.mark.parametrize("strategy", ["finetune", "feature-extraction"])
def test_cli_transfer_lenet5_with_its_fixed_rbf_head_works(strategy: str, tmp_path: Path, capsys) -> None:
    """Issue #17, item 3: both crashed with "optimizer got an empty parameter list"."""
    out = tmp_path / "run"
    args = ["transfer", "lenet5", "--data", "synthetic:20", "--strategy", strategy, "--epochs", "2"]
    args.append("--from-scratch")
    assert main([*args, "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["strategy"] == strategy and 0.0 <= res["top1"] <= 1.0
    ckpt = torch.load(out / "best.pt", weights_only=True)
    assert ckpt["record"]["name"] == "lenet5" and ckpt["state_dict"]["output.prototypes"].shape == (10, 84)
