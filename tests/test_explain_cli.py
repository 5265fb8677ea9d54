"""``cnnzoo explain`` / ``filters`` / ``activations``: the figures are written, and user errors exit 2 with
one line. Uses the registered ``lenet5_modern`` (1x32x32) with a checkpoint written here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from cnnzoo.checkpoint import save_checkpoint
from cnnzoo.cli import main
from cnnzoo.factory import create_model

MODEL = "lenet5_modern"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A LeNet-5 checkpoint with class names and normalisation, two digit-like images in a folder, a
    non-square colour photo and a broken file."""
    d = tmp_path_factory.mktemp("explain_cli")
    torch.manual_seed(0)
    model = create_model(MODEL, num_classes=10)
    record = model.cnnzoo_record.with_new_head(10, [f"digit {i}" for i in range(10)])
    ckpt = save_checkpoint(d / "lenet.pt", record.with_(mean=(0.13,), std=(0.31,)), model.state_dict())
    folder = d / "digits"
    folder.mkdir()
    for k in range(2):
        img = Image.new("L", (28, 28), 0)
        for i in range(6, 22):
            img.putpixel((10 + 4 * k, i), 255)
            img.putpixel((i, 8 + 6 * k), 200)
        img.save(folder / f"d{k}.png")
    Image.new("RGB", (64, 40), (200, 40, 40)).save(d / "wide.jpg")
    (d / "broken.png").write_bytes(b"\x89PNG but not really")
    return {"ckpt": ckpt, "folder": folder, "wide": d / "wide.jpg", "broken": d / "broken.png", "dir": d}


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


@pytest.mark.parametrize("method", ["saliency", "gradcam", "guided-backprop", "deconvnet"])
def test_explain_writes_a_grid_figure_for_a_folder(files: dict[str, Path], method: str, capsys) -> None:  # type: ignore[no-untyped-def]
    out = files["dir"] / f"{method}.png"
    assert (
        main(["explain", str(files["ckpt"]), str(files["folder"]), "--method", method, "--out", str(out)])
        == 0
    )
    w, h = _png_size(out)
    assert w > 800 and h > 500  # two rows of three panels
    assert "2 image(s)" in capsys.readouterr().out


def test_explain_a_model_name_and_a_non_square_colour_image(files: dict[str, Path]) -> None:
    out = files["dir"] / "smooth.png"
    assert (
        main(
            [
                "explain",
                MODEL,
                str(files["wide"]),
                "--method",
                "smoothgrad",
                "--samples",
                "4",
                "--class",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert _png_size(out)[0] > 800


def test_filters_and_activations_figures(files: dict[str, Path]) -> None:
    f, a = files["dir"] / "filters.png", files["dir"] / "acts.png"
    assert main(["filters", str(files["ckpt"]), "--out", str(f)]) == 0
    assert (
        main(
            [
                "activations",
                str(files["ckpt"]),
                str(files["folder"] / "d0.png"),
                "--layer",
                "c1",
                "--out",
                str(a),
            ]
        )
        == 0
    )
    assert min(_png_size(f)) > 200 and min(_png_size(a)) > 200


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--layer", "c9"], "has no layer 'c9'; valid names include"),
        (["--class", "10"], "class index 10 is out of range: the model has 10 classes"),
    ],
)
def test_bad_layer_and_class_exit_2_with_one_line(
    files: dict[str, Path], argv: list[str], message: str, capsys
) -> None:  # type: ignore[no-untyped-def]
    out = files["dir"] / "never.png"
    code = main(
        ["explain", str(files["ckpt"]), str(files["folder"]), "--method", "gradcam", *argv, "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and not out.exists()


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnnzoo", *argv], capture_output=True, text=True, timeout=120
    )


def test_unreadable_image_exits_2_with_one_line_from_the_command(files: dict[str, Path]) -> None:
    r = _run("explain", str(files["ckpt"]), str(files["broken"]), "--out", str(files["dir"] / "x.png"))
    assert r.returncode == 2
    assert r.stderr.startswith("cnnzoo explain: error: cannot read image") and r.stderr.count("\n") == 1


@pytest.mark.slow
def test_unknown_layer_and_bad_class_exit_2_from_the_command(files: dict[str, Path]) -> None:
    r = _run(
        "explain",
        str(files["ckpt"]),
        str(files["folder"]),
        "--method",
        "gradcam",
        "--layer",
        "nope",
        "--out",
        str(files["dir"] / "x.png"),
    )
    assert r.returncode == 2 and "has no layer 'nope'" in r.stderr and r.stderr.count("\n") == 1
    r = _run("filters", str(files["ckpt"]), "--layer", "s2.pool", "--out", str(files["dir"] / "x.png"))
    assert r.returncode == 2 and "not a convolution" in r.stderr and r.stderr.count("\n") == 1
