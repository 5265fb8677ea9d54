"""`cnnzoo samples` writes the example images the README uses; `cnnzoo list` refuses what matches nothing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnzoo.cli import main
from cnnzoo.data.samples import write_samples
from cnnzoo.data.sources import load_source


def test_samples_writes_the_digits_test_split_as_pngs(tmp_path):
    paths = write_samples("digits", tmp_path / "digits", n=5)
    raw = load_source("digits")
    assert [p.name for p in paths] == [f"{i:02d}_{int(raw.test.labels[i])}.png" for i in range(5)]
    for i, p in enumerate(paths):
        arr = np.asarray(Image.open(p))
        assert arr.shape == (28, 28)
        assert np.array_equal(arr, raw.test.images[i, 0].numpy())  # the exact pixels, losslessly


def test_samples_cli_prints_each_path_and_refuses_a_file_as_folder(tmp_path, capsys):
    assert main(["samples", "digits", "--out", str(tmp_path / "d"), "--n", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["samples", "digits", "--out", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a folder" in err[0]


@pytest.mark.parametrize(
    "argv, words",
    [(["list", "--family", "nosuch"], "no family 'nosuch'"), (["list", "zzz*"], "no model matches 'zzz*'")],
)
def test_list_that_matches_nothing_is_an_error(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_samples_photos_copies_foolboxs_labelled_imagenet_photos(tmp_path):
    import importlib.util

    if importlib.util.find_spec("foolbox") is None:
        pytest.skip("the photos ship in `pip install foolbox`")
    paths = write_samples("photos", tmp_path / "photos", n=3)
    assert [p.name for p in paths] == ["00_bull_mastiff.jpg", "01_folding_chair.jpg", "02_beaker.jpg"]
    assert Image.open(paths[0]).size == (512, 512)
