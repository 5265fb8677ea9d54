"""``cnnzoo export`` and ``cnnzoo bench`` as a user runs them (subprocesses): results and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _cnnzoo(*args: str, cwd: Path | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cnnzoo", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "missing/model.pt", "--out", "x.onnx"], "does not exist"),
        (["export", "resnet20", "--out", "x.onnx", "--input", "3x32"], "CxHxW"),
        (
            ["export", "resnet20", "--out", "x.onnx", "--int8", "--calibration", "mnist:/no/such/dir"],
            "does not exist",
        ),
        pytest.param(
            ["export", "resnet20", "--out", "x.onnx", "--int8"], "needs --calibration", marks=pytest.mark.slow
        ),
        (["bench", "resnet20", "--backends", "eager,tensorrt"], "unknown backend 'tensorrt'"),
        (["export", "resnet20", "--out", "x.onnx", "--runtime", "openvino"], "only used with --int8"),
        pytest.param(["bench", "resnet20", "--input", "3xbig"], "CxHxW", marks=pytest.mark.slow),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path, args, message) -> None:
    res = _cnnzoo(*args, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in res.stderr
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.slow  # > 20 s on 2 cores: CI runs it (`-m slow`), the quick tier skips it
def test_export_writes_a_checked_onnx_file_and_reports_json(tmp_path) -> None:
    out = tmp_path / "r20.onnx"
    res = _cnnzoo("export", "resnet20", "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["path"] == str(out) and out.is_file()
    assert d["input"] == "3x32x32" and d["opset"] == 17 and d["max_rel_error"] < 1e-4


@pytest.mark.slow  # > 20 s on 2 cores: CI runs it (`-m slow`), the quick tier skips it
def test_bench_json_is_one_object_with_each_backend(tmp_path) -> None:
    res = _cnnzoo(
        "bench",
        "lenet5",
        "--batch",
        "4",
        "--backends",
        "torchvision-eager",
        "eager",
        "onnxruntime-fp32",
        "openvino-fp32",
        "--warmup",
        "1",
        "--repeats",
        "2",
        "--no-peak",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert (d["model"], d["batch"], d["input"]) == ("lenet5", 4, "1x32x32")
    names = [r["backend"] for r in d["results"]]
    assert names == ["torchvision-eager", "eager", "onnxruntime-fp32", "openvino-fp32"]
    assert "error" in d["results"][0]  # torchvision has no LeNet-5
    assert all(r["images_per_s"] > 0 and r["p95_ms"] >= r["p50_ms"] for r in d["results"][1:])
