"""`cnnzoo summary` and `cnnzoo compare`, through the real command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _cnnzoo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cnnzoo", *args], capture_output=True, text=True, timeout=120
    )


def test_summary_json_of_vgg16_has_the_totals_and_layers():
    r = _cnnzoo("summary", "vgg16", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["model"], d["input"], d["total_params"], d["trainable_params"]) == (
        "vgg16",
        [3, 224, 224],
        138_357_544,
        138_357_544,
    )
    assert (
        d["activation_bytes"] == 15_237_608 * 4 and d["min_input_size"] == 224 and d["receptive_field"] == 224
    )
    first = d["layers"][1]
    assert {
        k: first[k] for k in ("name", "type", "output_shape", "params", "macs", "receptive_field", "jump")
    } == {
        "name": "features.0",
        "type": "Conv2d",
        "output_shape": [64, 224, 224],
        "params": 1792,
        "macs": 64 * 224 * 224 * 27,
        "receptive_field": 3,
        "jump": 1,
    }


def test_summary_of_a_spec_in_csv_and_md():
    spec = "conv 8 3x3 s1 same; conv 16 5x5 s2 same; flatten; dense 512; dense 4"
    r = _cnnzoo("summary", spec, "--input", "3x32x32", "--format", "csv")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("name,type,output_shape,params") and lines[2].startswith(
        "0,Conv2d,8x32x32,224,"
    )
    md = _cnnzoo("summary", spec, "--input", "3x32x32", "--format", "md").stdout
    assert "| 5 | Linear | 512 | 2,097,664 |" in md


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "vgg61"], "unknown model 'vgg61'. Did you mean: vgg19, vgg16"),
        (["summary", "conv3-x, maxpool", "--input", "3x8x8"], "spec token 1 'conv3-x'"),
        (["summary", "vgg16", "--input", "3xax4"], "cannot read input size '3xax4'"),
        (["summary", "vgg16", "--input", "3x0x224"], "is not valid"),
        (["summary", "vgg16", "--input", "3x100x100"], "smallest square input it accepts is 3x224x224"),
        (["summary", "conv3-8, maxpool, maxpool", "--input", "3x2x2"], "does not fit the 1x1 map"),
        (["summary", "conv3-1/s3/p0", "--input", "1x7x7", "--strict"], "doesn't fit"),
        (["compare", "vgg11", "nosuchnet"], "unknown model 'nosuchnet'"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(args, message):
    r = _cnnzoo(*args)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_doesnt_fit_without_strict_is_a_note():
    r = _cnnzoo("summary", "conv3-1/s3/p0", "--input", "1x7x7")
    assert r.returncode == 0 and "doesn't fit" in r.stdout


def test_compare_json_and_plot(tmp_path):
    png = tmp_path / "chart.png"
    r = _cnnzoo("compare", "vgg11", "vgg16_bn", "--json", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [m["model"] for m in d["models"]] == ["vgg11", "vgg16_bn"]
    assert d["models"][0]["total_params"] == 132_863_336 and d["models"][0]["paper_top1_error"] == 29.6
    assert d["models"][1]["paper_top1_error"] is None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "model, params, macs",
    [
        ("alexnet", 60_965_224, 724_406_816),  # the paper's two-tower network, 227x227
        ("googlenet", 13_378_280, 1_582_671_872),  # aux heads hold parameters but run only in training
        ("resnet50", 25_557_032, 3_857_973_248),  # v1: stride in the first 1x1 (ResNet paper, 3.8 G)
    ],
)
def test_summary_of_the_papers_networks_prints_the_papers_totals(
    model: str, params: int, macs: int, capsys: pytest.CaptureFixture
) -> None:
    from cnnzoo.cli import main

    assert main(["summary", model, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["total_params"], d["total_macs"]) == (params, macs)
    assert main(["summary", model]) == 0
    table = capsys.readouterr().out
    assert f"{params:,}" in table
