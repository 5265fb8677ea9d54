"""Common corruptions (issue #28; Hendrycks & Dietterich 2019): each of the 15 types at each severity is
deterministic for a seed and changes real images by an amount that grows with the severity; mCE and relative
mCE are the paper's formulas; the command's JSON can serve as a later run's reference."""

from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest
import torch

from cnnzoo.cli import main
from cnnzoo.data.corruptions import CORRUPTIONS, corrupt, generator_for
from cnnzoo.data.sources import load_source
from cnnzoo.errors import CnnzooError, OptionError
from cnnzoo.train.robustness import Evaluated, corrupted, corruption_errors


def _digits() -> np.ndarray:
    """16 real handwritten digits, 28x28 greyscale (scikit-learn's, as the ``digits`` source gives them)."""
    return load_source("digits").test.images[:16].permute(0, 2, 3, 1).numpy()


def _cifar() -> np.ndarray:
    """12 real CIFAR-10 photographs, 32x32 RGB (shipped with PyPI foolbox)."""
    import foolbox  # noqa: F401  (only to find its data folder; nothing of it runs)
    from PIL import Image

    folder = os.path.join(os.path.dirname(foolbox.__file__), "data")
    files = sorted(glob.glob(os.path.join(folder, "cifar10_*.png")))[:12]
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return {"digits 28x28x1": _digits(), "CIFAR-10 32x32x3": _cifar()}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_each_corruption_is_deterministic_and_grows_with_severity(name, images):
    for kind, imgs in images.items():
        amounts = []
        for s in range(1, 6):
            outs = [corrupt(im, name, s, generator_for(0, name, s, i)) for i, im in enumerate(imgs)]
            again = [corrupt(im, name, s, generator_for(0, name, s, i)) for i, im in enumerate(imgs)]
            assert all(np.array_equal(a, b) for a, b in zip(outs, again)), (kind, s)
            assert all(o.shape == im.shape and o.dtype == np.uint8 for o, im in zip(outs, imgs))
            amounts.append(float(np.mean([np.abs(o.astype(float) - im).mean() for o, im in zip(outs, imgs)])))
        assert amounts[0] > 0, (kind, amounts)
        assert all(a < b for a, b in zip(amounts, amounts[1:])), (kind, amounts)


def test_random_corruptions_depend_on_the_seed_and_the_image_index():
    im = _digits()[0]
    a = corrupt(im, "gaussian_noise", 3, generator_for(0, "gaussian_noise", 3, 0))
    assert not np.array_equal(a, corrupt(im, "gaussian_noise", 3, generator_for(1, "gaussian_noise", 3, 0)))
    assert not np.array_equal(a, corrupt(im, "gaussian_noise", 3, generator_for(0, "gaussian_noise", 3, 1)))
    batch = torch.from_numpy(_digits()[:4]).permute(0, 3, 1, 2)
    assert torch.equal(corrupted(batch, "gaussian_noise", 3, 0)[0].permute(1, 2, 0), torch.from_numpy(a))
    with pytest.raises(OptionError, match="severity must be 1 to 5"):
        corrupt(im, "fog", 6, generator_for(0, "fog", 5, 0))


def test_mce_and_relative_mce_are_the_papers_formulas():
    ref = Evaluated("ref.pt", "lenet5", 0.1, {c: [0.2, 0.3, 0.4, 0.5, 0.6] for c in CORRUPTIONS})
    errs = {c: [0.15, 0.2, 0.25, 0.3, 0.35] for c in CORRUPTIONS}
    errs["fog"] = [0.1] * 5  # no loss at all under fog
    m = Evaluated("m.pt", "resnet20", 0.1, errs)
    r = corruption_errors(m, ref)
    assert r["ce"]["snow"] == pytest.approx(1.25 / 2.0)  # sum_s E / sum_s E_ref
    assert r["relative_ce"]["snow"] == pytest.approx((1.25 - 0.5) / (2.0 - 0.5))
    assert r["relative_ce"]["fog"] == 0.0
    assert r["mce"] == pytest.approx((14 * 0.625 + 0.25) / 15)
    zero = Evaluated("z.pt", "x", 0.0, {c: [0.0] * 5 for c in CORRUPTIONS})
    with pytest.raises(CnnzooError, match="reference makes no error"):
        corruption_errors(m, zero)


@pytest.mark.slow
def test_the_command_reports_mce_against_a_reference_and_reuses_its_json(tmp_path, capsys):
    from cnnzoo.train import train_model

    for name in ("lenet5", "lenet5_modern"):
        train_model(name, "synthetic:200", epochs=1, out=tmp_path / name, progress=False, threads=1)
    ref, model = str(tmp_path / "lenet5" / "best.pt"), str(tmp_path / "lenet5_modern" / "best.pt")
    capsys.readouterr()
    args = [
        "robustness",
        model,
        "--reference",
        ref,
        "--limit",
        "20",
        "--png",
        str(tmp_path / "r.png"),
        "--json",
    ]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    row = first["models"][0]
    assert first["n"] == 20 and set(row["errors"]) == set(CORRUPTIONS) and len(row["errors"]["fog"]) == 5
    assert row["mce"] == pytest.approx(
        np.mean([sum(row["errors"][c]) / sum(first["reference_errors"][c]) for c in CORRUPTIONS])
    )
    (tmp_path / "ref.json").write_text(json.dumps(first))
    args[3] = str(tmp_path / "ref.json")  # the reference's results, read back: the same figures
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["models"][0]["mce"] == row["mce"] and (tmp_path / "r.png").stat().st_size > 10_000
    args[5] = "40"  # other images than the JSON was measured on: refused
    assert main(args) == 2
    assert "measured on other images" in capsys.readouterr().err
