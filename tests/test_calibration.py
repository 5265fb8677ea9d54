"""Calibration (issue #28; Guo et al. 2017): ECE of a perfectly calibrated predictor is ~0 and of a known
overconfident one the closed form; NLL and Brier are their formulas; temperature scaling recovers a known
temperature, is fitted on validation data only, is stored in the checkpoint's record and used by predict."""

from __future__ import annotations

import json
import math

import pytest
import torch

from cnnzoo.checkpoint import load_checkpoint
from cnnzoo.cli import main
from cnnzoo.errors import DataError
from cnnzoo.train.calibration import (
    brier_score,
    calibrate_checkpoint,
    calibration_of,
    expected_calibration_error,
    fit_temperature,
    nll,
    reliability_bins,
)


def _probs(conf: torch.Tensor, pred: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Probabilities with ``conf`` on ``pred`` and the rest spread evenly over the other classes."""
    p = ((1 - conf) / (k - 1)).unsqueeze(1).repeat(1, k)
    p[torch.arange(len(conf)), pred] = conf
    return p.double()


def test_ece_of_a_perfectly_calibrated_predictor_is_about_zero():
    g = torch.Generator().manual_seed(0)
    n = 200_000
    conf = 0.1 + 0.9 * torch.rand(n, generator=g, dtype=torch.float64)
    pred = torch.randint(0, 10, (n,), generator=g)
    right = torch.rand(n, generator=g, dtype=torch.float64) < conf  # correct with probability conf
    labels = torch.where(right, pred, (pred + 1 + torch.randint(0, 9, (n,), generator=g)) % 10)
    probs = _probs(conf, pred)
    assert expected_calibration_error(probs, labels) < 0.005
    assert expected_calibration_error(probs, labels, adaptive=True) < 0.005


def test_ece_of_a_known_overconfident_predictor_is_the_closed_form():
    """900 predictions at confidence 0.9 of which 60% are right, 600 at 0.7 of which 70% are right:
    ECE = 900/1500 * |0.6 - 0.9| + 600/1500 * |0.7 - 0.7| = 0.18, in equal-width and equal-mass bins."""
    conf = torch.cat(
        [torch.full((900,), 0.9, dtype=torch.float64), torch.full((600,), 0.7, dtype=torch.float64)]
    )
    pred = torch.zeros(1500, dtype=torch.long)
    right = torch.cat([torch.tensor([1, 1, 1, 0, 0]).repeat(180), torch.tensor([1] * 7 + [0] * 3).repeat(60)])
    labels = torch.where(right.bool(), pred, torch.ones_like(pred))
    probs = _probs(conf, pred)
    assert math.isclose(expected_calibration_error(probs, labels), 0.18, abs_tol=1e-12)
    assert math.isclose(expected_calibration_error(probs, labels, adaptive=True), 0.18, abs_tol=1e-12)
    bins = reliability_bins(probs, labels)
    assert [b.count for b in bins if b.count] == [600, 900] and len(bins) == 15
    assert sum(b.count for b in reliability_bins(probs, labels, adaptive=True)) == 1500


def test_nll_and_brier_are_their_formulas():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]], dtype=torch.float64)
    labels = torch.tensor([0, 2])
    p = logits.softmax(1)
    assert math.isclose(nll(logits, labels), float(-(p[0, 0].log() + p[1, 2].log()) / 2), rel_tol=1e-12)
    onehot = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]], dtype=torch.float64)
    assert math.isclose(brier_score(p, labels), float(((p - onehot) ** 2).sum() / 2), rel_tol=1e-12)
    assert math.isclose(
        nll(logits, labels, 2.0), float(torch.nn.functional.cross_entropy(logits / 2, labels))
    )


def test_temperature_scaling_recovers_a_known_temperature_and_lowers_nll():
    g = torch.Generator().manual_seed(1)
    true = 2.0 * torch.randn(20_000, 10, generator=g, dtype=torch.float64)
    labels = torch.multinomial(true.softmax(1), 1, generator=g).squeeze(1)  # calibrated at T = 1 ...
    over = 3.0 * true  # ... so these logits need T = 3
    t = fit_temperature(over, labels)
    assert abs(t - 3.0) < 0.1
    before, after = calibration_of(over, labels), calibration_of(over, labels, t)
    assert after.nll < before.nll and after.ece < before.ece and after.top1 == before.top1


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from cnnzoo.train import train_model

    out = tmp_path_factory.mktemp("cal") / "run"
    train_model("lenet5", "synthetic:300", epochs=2, out=out, progress=False, threads=1, val_fraction=0.2)
    return out


def test_calibrate_fits_on_validation_and_stores_the_temperature(small_run, tmp_path, capsys):
    from PIL import Image

    import cnnzoo
    from cnnzoo.factory import model_from_checkpoint

    dest = tmp_path / "calibrated.pt"
    r = calibrate_checkpoint(small_run / "best.pt", out=dest)
    assert r["n"] == 48  # 20% of the 240 training images: the run's own validation split
    assert r["val_nll_after"] <= r["val_nll_before"]
    ck = load_checkpoint(dest)
    assert ck.record.temperature == pytest.approx(r["temperature"])
    assert ck.run["calibration"]["temperature"] == pytest.approx(r["temperature"])
    assert load_checkpoint(small_run / "best.pt").record.temperature is None  # --out left it alone
    model = model_from_checkpoint(str(dest))
    assert model.cnnzoo_record.temperature == pytest.approx(r["temperature"])
    # predict divides the logits by the stored temperature
    img = tmp_path / "x.png"
    Image.fromarray((torch.rand(32, 32) * 255).byte().numpy()).save(img)
    got = cnnzoo.predict(str(dest), [str(img)], top=1)[0]["predictions"][0]
    with torch.no_grad():
        z = model(cnnzoo.transforms(model)(str(img))[None])
    p = (z / r["temperature"]).softmax(1)
    assert got["index"] == int(p.argmax()) and got["probability"] == pytest.approx(float(p.max()), abs=1e-5)
    # eval --calibration reports before and after, and draws the reliability diagram
    png = tmp_path / "rel.png"
    assert main(["eval", str(dest), "--calibration", "--reliability", str(png), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    cal = d["calibration"]
    assert cal["temperature"] == pytest.approx(r["temperature"]) and cal["raw"]["n"] == 60
    assert png.stat().st_size > 1000 and cal["scaled"]["top1"] == cal["raw"]["top1"] == d["top1"]


def test_a_run_without_validation_data_cannot_be_calibrated(tmp_path):
    from cnnzoo.train import train_model

    train_model("lenet5", "synthetic:100", epochs=1, out=tmp_path / "r", progress=False, threads=1)
    with pytest.raises(DataError, match="no validation split"):
        calibrate_checkpoint(tmp_path / "r" / "best.pt")
