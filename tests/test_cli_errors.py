"""The CLI error matrix (issue #17): for every verb and every flag that takes a value, bad values exit
with status 2 and ONE line on stderr, never a traceback, and before any real work starts. Run in-process
(``cnnzoo.cli.main``) to stay fast, with stderr captured at the file descriptor so that C libraries'
messages count; an alarm fails a case that starts training or exporting instead of refusing."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnnzoo.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    d = tmp_path_factory.mktemp("bad")
    (d / "text.pt").write_text("hello world\n")
    (d / "noise.pt").write_bytes(bytes(range(256)) * 8)
    (d / "empty.pt").write_bytes(b"")
    (d / "folder.pt").mkdir()
    (d / "afile").write_text("x")
    (d / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (d / "plain.txt").write_text("x")
    (d / "empty_dir").mkdir()
    from cnnzoo.checkpoint import save_checkpoint
    from cnnzoo.factory import create_model
    from cnnzoo.train import runlock

    lenet = create_model("lenet5", num_classes=2)
    rec = lenet.cnnzoo_record.with_new_head(2, ("a", "b"), "synthetic:40").with_(mean=(0.5,), std=(0.5,))
    save_checkpoint(d / "lenet5.pt", rec, lenet.state_dict(), {"epoch": 1})
    held = runlock.acquire(d / "held_run")  # a run folder in use (by this process, through another lock)
    yield {
        "text": str(d / "text.pt"),
        "noise": str(d / "noise.pt"),
        "empty": str(d / "empty.pt"),
        "folder": str(d / "folder.pt"),
        "missing": str(d / "nope.pt"),
        "under_file": str(d / "afile" / "out.png"),
        "under_file_dir": str(d / "afile" / "run"),
        "afile": str(d / "afile"),
        "dir": str(d),
        "badimg": str(d / "img.png"),
        "txt": str(d / "out.txt"),
        "txtfile": str(d / "plain.txt"),
        "empty_dir": str(d / "empty_dir"),
        "ckpt": str(d / "lenet5.pt"),
        "held": str(d / "held_run"),
    }
    held.release()


def _cases(f: dict[str, str]) -> list[list[str]]:
    """One argv per bad input. Grouped by verb; each group walks the verb's flags."""
    scratch_40 = ["transfer", "lenet5", "--strategy", "finetune", "--from-scratch", "--data", "synthetic:40"]
    return [
        # list / recipes
        ["recipes", "nope"],
        # summary
        ["summary", "vgg16x"],
        ["summary", "vgg16", "--input", "3xax4"],
        ["summary", "alexnet", "--input", "3x227x227x5"],
        ["summary", "alexnet", "--input", "0x227x227"],
        ["summary", "alexnet", "--input", "3x99999999x4"],
        ["summary", "alexnet", "--input", ""],
        ["summary", "alexnet", "--input", "3x-1x4"],
        ["summary", "vgg16", "--input", "3x8x8"],
        ["summary", "vgg16", "--batch", "0"],
        ["summary", "vgg16", "--batch", "x"],
        ["summary", "vgg16", "--format", "xml"],
        ["summary", "conv3-64, /", "--input", "3x8x8"],
        ["summary", "conv3-64, //", "--input", "3x8x8"],
        ["summary", "/", "--input", "3x8x8"],
        ["summary", "fc-99999999999", "--input", "3x8x8"],
        ["summary", "conv3-64/s0", "--input", "3x8x8"],
        ["summary", "conv3-64/p99999999", "--input", "3x8x8"],
        ["summary", "conv3-64, fc-10"],
        ["summary", "maxpool3/s2"],
        ["summary", "conv11-96/s4/p0, maxpool3/s2", "--input", "3x9x9"],
        ["summary", "nonsense-layer, fc-2", "--input", "3x8x8"],
        # compare
        ["compare", "vgg16x", "alexnet"],
        ["compare", "lenet5", "--input", "1x2x2"],
        ["compare", "lenet5", "--input", "abc"],
        ["compare", "lenet5", "--plot", f["txt"]],
        ["compare", "lenet5", "--plot", f["under_file"]],
        ["compare", "lenet5", "--plot", f["dir"]],
        # train
        ["train", "vgg16x"],
        ["train", "lenet5", "--data", "foo:bar"],
        ["train", "lenet5", "--data", "folder:" + f["missing"]],
        ["train", "lenet5", "--data", "synthetic:abc"],
        ["train", "lenet5", "--data", "synthetic:0"],
        ["train", "lenet5", "--epochs", "0"],
        ["train", "lenet5", "--epochs", "x"],
        ["train", "lenet5", "--batch-size", "-1"],
        ["train", "lenet5", "--weight-decay", "-1"],
        ["train", "lenet5", "--momentum", "nan"],
        ["train", "lenet5", "--recipe", "nope"],
        ["train", "lenet5", "--optimizer", "nope"],
        ["train", "lenet5", "--out", f["under_file_dir"]],
        ["train", "lenet5", "--out", f["afile"]],
        ["train", "lenet5", "--out", f["dir"] + "/fresh", "--resume"],
        ["train", "lenet5", "--workers", "-1"],
        ["train", "lenet5", "--threads", "0"],
        ["train", "lenet5", "--seed", "x"],
        ["train", "lenet5", "--drop-path", "0.1"],
        ["train", "lenet5", "--label-smoothing", "1.5"],
        ["train", "lenet5", "--ema-decay", "1"],
        ["train", "lenet5", "--randaugment", "x"],
        ["train", "lenet5", "--randaugment", "2,31"],
        ["train", "lenet5", "--mixup", "-1"],
        ["train", "lenet5", "--random-erasing", "2"],
        ["train", "lenet5", "--dropout", "0.2"],
        # train: issue #27 (named data DIR, a folder in use, sizes that cannot fit)
        ["train", "lenet5", "--data", "fashion-mnist:/nonexistent"],
        ["train", "lenet5", "--data", "fashion-mnist:" + f["empty_dir"]],
        ["train", "lenet5", "--data", "cifar10:" + f["missing"]],
        ["train", "lenet5", "--data", "mnist-5k:" + f["afile"]],
        ["train", "lenet5", "--data", "synthetic:40", "--out", f["held"]],
        ["train", "lenet5", "--data", "synthetic:40", "--out", f["held"], "--resume"],
        ["train", "lenet5", "--data", "synthetic:40", "--batch-size", "100000000"],
        # eval
        ["eval", f["text"]],
        ["eval", f["noise"]],
        ["eval", f["empty"]],
        ["eval", f["folder"]],
        ["eval", f["missing"]],
        ["eval", f["text"], "--confusion", f["under_file"]],
        ["eval", f["text"], "--confusion", f["txt"]],
        ["eval", f["text"], "--topk", "0"],
        ["eval", f["text"], "--topk", "a,b"],
        ["eval", f["text"], "--crops", "3"],
        ["eval", f["text"], "--scales", "-5"],
        ["eval", f["text"], "--batch-size", "0"],
        ["eval", f["text"], "--reliability", "r.png"],
        ["eval", f["text"], "--calibration", "--crops", "10"],
        ["eval", f["text"], f["noise"], "--calibration"],
        # calibrate / robustness
        ["calibrate", f["missing"]],
        ["calibrate", f["text"]],
        ["calibrate", f["folder"]],
        ["calibrate", f["text"], "--out", f["txt"]],
        ["robustness", f["missing"]],
        ["robustness", f["text"]],
        ["robustness", f["text"], "--limit", "0"],
        ["robustness", f["text"], "--corruptions", "nope"],
        ["robustness", f["text"], "--png", f["txt"]],
        ["robustness", f["text"], "--reference", f["txtfile"].replace(".txt", ".json")],
        ["eval", f["ckpt"], "--dense", "--scales", "100000"],
        ["eval", f["ckpt"], "--dense", "--scales", "60000"],
        ["eval", f["ckpt"], "--dense", "--scales", "2"],
        # transfer
        ["transfer", "vgg16x", "--strategy", "finetune"],
        ["transfer", "lenet5", "--strategy", "nope"],
        ["transfer", "lenet5", "--strategy", "finetune", "--weights", f["text"]],
        ["transfer", "lenet5", "--strategy", "finetune", "--weights", f["noise"]],
        ["transfer", "lenet5", "--strategy", "finetune", "--weights", f["folder"]],
        ["transfer", "lenet5", "--strategy", "finetune", "--weights", "torchvision:" + f["text"]],
        ["transfer", "lenet5", "--strategy", "finetune", "--from-scratch", "--out", f["under_file_dir"]],
        ["transfer", "lenet5", "--strategy", "finetune", "--from-scratch", "--data", "foo:bar"],
        ["transfer", "lenet5", "--strategy", "distill", "--from-scratch", "--teacher", f["text"]],
        ["transfer", "lenet5", "--strategy", "finetune"],  # no published weights: --weights or --from-scratch
        ["transfer", "lenet5", "--strategy", "finetune", "--from-scratch", "--weights", f["text"]],
        ["transfer", "lenet5", "--strategy", "finetune", "--from-scratch", "--bn", "half"],
        [*scratch_40, "--input-size", "70000"],
        [*scratch_40, "--input-size", "30000"],
        # explain / filters / activations
        ["explain", f["text"], f["badimg"], "--out", "x.png"],
        ["explain", f["folder"], f["badimg"], "--out", "x.png"],
        ["explain", "lenet5", f["badimg"], "--out", f["txt"]],
        ["explain", "lenet5", f["badimg"], "--out", f["under_file"]],
        ["explain", "lenet5", f["badimg"], "--out", f["dir"]],
        ["explain", "lenet5", f["missing"], "--out", f["dir"] + "/e.png"],
        ["explain", "lenet5", f["badimg"], "--out", f["dir"] + "/e.png"],
        ["explain", "lenet5", f["txtfile"], "--out", f["dir"] + "/e.png"],
        ["explain", "lenet5", f["badimg"], "--method", "nope", "--out", "x.png"],
        ["filters", f["noise"], "--out", "x.png"],
        ["filters", "lenet5", "--out", f["txt"]],
        ["filters", "lenet5", "--out", f["under_file"]],
        ["filters", "lenet5", "--layer", "nope", "--out", f["dir"] + "/f.png"],
        ["activations", f["text"], f["badimg"], "--layer", "c1", "--out", "x.png"],
        ["activations", "lenet5", f["badimg"], "--layer", "c1", "--out", f["txt"]],
        ["activations", "lenet5", f["badimg"], "--layer", "c1", "--out", f["under_file"]],
        ["activations", "lenet5", f["badimg"], "--layer", "c1", "--out", f["dir"] + "/a.png"],
        ["activations", "lenet5", f["badimg"], "--layer", "c1", "--max-maps", "0", "--out", "x.png"],
        ["explain", "lenet5", "--method", "class-model", "--out", "x.png"],
        ["explain", "lenet5", f["badimg"], "--method", "class-model", "--class", "1", "--out", "x.png"],
        ["explain", "lenet5", "--method", "class-model", "--class", "10", "--out", f["dir"] + "/c.png"],
        ["explain", "lenet5", "--method", "class-model", "--class", "1", "--steps", "0", "--out", "x.png"],
        ["explain", "lenet5", f["badimg"], "--method", "occlusion", "--window", "0", "--out", "x.png"],
        ["explain", "lenet5", f["badimg"], "--method", "occlusion", "--class", "1,2", "--out", "x.png"],
        # units
        ["units", f["text"], "--data", "digits", "--out", "u"],
        ["units", "lenet5", "--out", "u"],
        ["units", "lenet5", "--data", "nope", "--out", "u"],
        ["units", "lenet5", "--data", "digits", "--out", f["afile"]],
        ["units", "lenet5", "--data", "digits", "--out", f["under_file_dir"]],
        ["units", "lenet5", "--images", f["missing"], "--out", "u"],
        ["units", "lenet5", "--data", "digits", "--layers", "nope", "--out", "u"],
        ["units", "lenet5", "--data", "digits", "--units", "x", "--out", "u"],
        ["units", "lenet5", "--data", "digits", "--top", "0", "--out", "u"],
        ["units", "lenet5", "--data", "digits", "--images", f["badimg"], "--out", "u"],
        ["serve", "--units", f["dir"]],
        # export
        ["export", f["text"], "--out", "x.onnx"],
        ["export", f["folder"], "--out", "x.onnx"],
        ["export", "vgg16x", "--out", "x.onnx"],
        ["export", "lenet5", "--out", f["under_file"]],
        ["export", "lenet5", "--out", f["dir"]],
        ["export", "lenet5", "--out", "x.onnx", "--input", "1x32"],
        ["export", "lenet5", "--out", "x.onnx", "--opset", "99"],
        ["export", "lenet5", "--out", "x.onnx", "--int8"],
        ["export", "lenet5", "--out", "x.onnx", "--calibration", "digits"],
        ["export", "lenet5", "--out", "x.onnx", "--weights", "uint8"],
        ["export", "lenet5", "--out", "x.onnx", "--input", "1x60000x60000"],
        ["export", "lenet5", "--out", "x.onnx", "--input", "3x32x32"],
        # erf: the input checked against the model and the memory before any tensor is made
        ["erf", "lenet5", "--input", "1x60000x60000"],
        ["erf", "lenet5", "--input", "3x32x32"],
        ["erf", "lenet5", "--input", "1x28x28"],
        ["erf", "lenet5", "--input", "1x32x32x32"],
        ["erf", "resnet50", "--input", "3x8000x8000", "--samples", "64"],
        # bench
        ["bench", f["text"]],
        ["bench", "vgg16x"],
        ["bench", "lenet5", "--backends", "nope"],
        ["bench", "lenet5", "--input", "3x4"],
        ["bench", "lenet5", "--threads", "0"],
        ["bench", "lenet5", "--batch", "0"],
        ["bench", "lenet5", "--calibration", "foo:bar", "--backends", "onnxruntime-int8"],
        ["bench", "lenet5", "--batch", "100000000"],
        ["bench", "lenet5", "--input", "3x32x32"],
        # weights: a file never downloaded is said to be so (the cache is an empty folder here)
        ["weights", "verify", "resnet18"],
    ]


def _run(argv: list[str], capfd: pytest.CaptureFixture[str], seconds: int = 20) -> tuple[int, str]:
    def too_long(*_: object) -> None:
        raise TimeoutError(f"{argv} started real work instead of refusing the input")

    old = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(seconds)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    _, err = capfd.readouterr()
    return int(code or 0), err


def test_every_bad_input_is_one_line_and_exit_2(files, capfd, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # default outputs (runs/, x.png) land here
    monkeypatch.setenv("CNNZOO_WEIGHTS_DIR", str(tmp_path / "weights-cache"))
    failures = []
    for argv in _cases(files):
        code, err = _run(argv, capfd)
        lines = [ln for ln in err.splitlines() if ln.strip() and "note:" not in ln]
        if code != 2 or len(lines) != 1 or "Traceback" in err:
            failures.append(f"{argv}: exit {code}, stderr {err!r}")
        elif argv[1:2] == [files["folder"]] and "is a folder" not in err:
            failures.append(f"{argv}: a folder must be called a folder, got {err!r}")
    assert not failures, "\n".join(failures)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.name != "weights-cache")
    assert left == [], f"refused commands left files behind: {left}"  # nothing half-written anywhere


def test_train_json_stdout_is_one_document_and_resume_refuses_changes(capfd, tmp_path: Path) -> None:
    import json

    out = str(tmp_path / "run")
    argv = ["train", "lenet5", "--data", "synthetic:40", "--epochs", "1", "--json", "--no-progress"]
    code, _ = _run([*argv, "--out", out], capfd, seconds=120)
    assert code == 0
    code = main(["train", "lenet5", "--resume", "--out", out, "--json", "--no-progress"])
    stdout, err = capfd.readouterr()
    assert code == 0 and "continuing at epoch 2" not in stdout  # logs went to stderr
    doc = json.loads(stdout)  # the whole of stdout is one JSON document
    assert doc["best_epoch"] == 1 and doc["n"] == 8
    assert main(["train", "lenet5", "--resume", "--out", out, *argv[2:]]) == 0  # the same command again
    capfd.readouterr()
    for extra in (["--lr", "0.5"], ["--data", "synthetic:60"], ["--recipe", "resnet"]):
        code, err = _run(["train", "lenet5", "--resume", "--out", out, *extra], capfd)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
