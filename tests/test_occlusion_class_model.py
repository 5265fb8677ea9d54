"""Occlusion sensitivity (Zeiler & Fergus 2014, Fig. 7) and class model visualisation (Simonyan et al. 2014,
Sec. 2): the map equals the model run on each occluded copy; hiding the object lowers the class probability
more than hiding the background; the ascent raises the class score step after step at first and its image
stays inside the bound that the L2 term gives."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnzoo.errors import CnnzooError
from cnnzoo.explain import explain
from cnnzoo.explain.class_model import class_model, to_pixels
from cnnzoo.explain.occlusion import default_window, occlusion

BOX = (6, 18, 14, 26)  # top, left, bottom (exclusive), right (exclusive) of the object in the scenes
MEAN, STD = 0.22, 0.25  # the scenes' pixel mean and std: inputs are zero-centred, as Simonyan et al. assume


def _scenes(n: int, g: torch.Generator, with_object: bool) -> torch.Tensor:
    """Grey 32x32 scenes: a random texture of bars (the context) and, for class 1, a bright 8x8 square at a
    random place."""
    x = torch.rand(n, 1, 32, 32, generator=g) * 0.3
    for i in range(n):
        for _ in range(3):  # distracting bars, present in both classes
            r, c = (int(v) for v in torch.randint(0, 28, (2,), generator=g))
            x[i, 0, r : r + 2, c : c + 12] = 0.9
        if with_object:
            r, c = (int(v) for v in torch.randint(0, 24, (2,), generator=g))
            x[i, 0, r : r + 8, c : c + 8] = 1.0
    return (x - MEAN) / STD


@pytest.fixture(scope="module")
def detector() -> nn.Module:
    return train_detector()


def train_detector(epochs: int = 25) -> nn.Module:
    """A small ReLU CNN trained (a few seconds) to tell scenes with the square from scenes without it."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.cat([_scenes(200, g, False), _scenes(200, g, True)])
    y = torch.cat([torch.zeros(200), torch.ones(200)]).long()
    model = nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5, padding=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 2),
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        perm = torch.randperm(400, generator=g)
        for s in range(0, 400, 100):
            idx = perm[s : s + 100]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    test = torch.cat([_scenes(50, g, False), _scenes(50, g, True)])
    acc = (model(test).argmax(1) == torch.cat([torch.zeros(50), torch.ones(50)])).float().mean()
    assert acc >= 0.95, f"the detector learnt only {acc:.2f}"
    return model


def _scene_with_object_at_box() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    x = _scenes(1, g, False)
    t, left, b, r = BOX
    x[0, 0, t:b, left:r] = (1.0 - MEAN) / STD
    return x


def test_the_map_is_the_model_on_each_occluded_copy(detector: nn.Module) -> None:
    x = _scene_with_object_at_box()
    occ = occlusion(detector, x, target=1, window=6, stride=5, fill=-1.0)
    assert occ.tops == [0, 5, 10, 15, 20, 25, 26] and occ.lefts == occ.tops  # the far border is covered
    assert occ.grid.shape == (1, 7, 7) and occ.pixels.shape == (1, 32, 32)
    for i, a in enumerate(occ.tops):
        for j, b in enumerate(occ.lefts):
            y = x.clone()
            y[..., a : a + 6, b : b + 6] = -1.0
            with torch.no_grad():
                p = detector(y).softmax(1)[0, 1]
            assert float(occ.grid[0, i, j]) == pytest.approx(float(p), abs=1e-6)
    # each pixel shows the square centred nearest to it
    assert float(occ.pixels[0, 0, 0]) == float(occ.grid[0, 0, 0])
    assert float(occ.pixels[0, 31, 31]) == float(occ.grid[0, -1, -1])
    assert float(occ.pixels[0, 13, 8]) == float(occ.grid[0, 2, 1])  # centres 12.5 and 7.5
    with torch.no_grad():
        assert float(occ.clean[0]) == pytest.approx(float(detector(x).softmax(1)[0, 1]), abs=1e-6)


def test_hiding_the_object_lowers_its_probability_more_than_hiding_the_background(
    detector: nn.Module,
) -> None:
    x = _scene_with_object_at_box()
    occ = occlusion(detector, x, target=1, window=10, stride=2)  # fill 0: the data's mean grey
    clean = float(occ.clean[0])
    assert clean > 0.9
    t, left, b, r = BOX
    cy = torch.tensor([a + 4.5 for a in occ.tops])
    cx = torch.tensor([c + 4.5 for c in occ.lefts])
    over = (
        (cy[:, None] >= t) & (cy[:, None] < b) & (cx[None] >= left) & (cx[None] < r)
    )  # square on the object
    away = ((cy[:, None] + 5 < t) | (cy[:, None] - 5 >= b)) | ((cx[None] + 5 < left) | (cx[None] - 5 >= r))
    p_over, p_away = occ.grid[0][over], occ.grid[0][away]
    assert float(p_over.mean()) < clean - 0.5  # hiding the object: the class is gone
    assert float(p_away.mean()) > clean - 0.05  # hiding the context: barely a change
    assert float(p_over.max()) < float(p_away.median())
    i, j = divmod(int(occ.grid[0].argmin()), occ.grid.shape[2])
    assert t - 5 <= occ.tops[i] + 4.5 < b + 5 and left - 5 <= occ.lefts[j] + 4.5 < r + 5
    # explain() shows the same map and, as heat, the drop
    exp = explain(detector, x, "occlusion", target=1, window=10, stride=2)
    assert torch.equal(exp.attribution, occ.pixels) and float(exp.heat.max()) == pytest.approx(
        clean - float(occ.grid.min())
    )


def test_occlusion_settings_and_errors(detector: nn.Module) -> None:
    assert default_window((224, 224)) == (32, 32) and default_window((32, 28)) == (4, 4)
    x = torch.zeros(2, 3, 16, 16)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
    occ = occlusion(model, x, window=(4, 8), fill=[1.0, 2.0, 3.0])
    assert occ.window == (4, 8) and occ.stride == (2, 4) and occ.grid.shape == (2, 7, 3)
    with pytest.raises(CnnzooError, match="larger than the 16x16 image"):
        occlusion(model, x, window=20)
    with pytest.raises(CnnzooError, match="one per channel"):
        occlusion(model, x, fill=[1.0, 2.0])
    with pytest.raises(CnnzooError, match="out of range"):
        occlusion(model, x, target=7)


def test_class_model_ascent_rises_then_stays_bounded(detector: nn.Module) -> None:
    lam = 0.01  # the defaults: 200 steps of 1, lambda 0.01
    res = class_model(detector, [1, 0], input_size=(1, 32, 32))
    assert res.image.shape == (2, 1, 32, 32) and res.settings["start"].startswith("zero")
    s = res.scores
    assert bool((s[1:11] > s[:10]).all())  # the score rises at every one of the first ten steps
    obj = res.objective
    assert bool((obj[1:11] >= obj[:10]).all())
    assert float(s[-1, 0]) > float(s[0, 0]) + 5  # and far: the square's class becomes certain
    assert float(res.probs[0]) > 0.99
    # bounded: 2 * lambda * step <= 1 makes every image a convex mix of the last and g / (2 lambda), so
    # ||I_t|| <= max_{s < t} ||g_s|| / (2 lambda)
    bound = torch.cummax(res.grad_norms, dim=0).values / (2 * lam)
    assert bool((res.norms[1:] <= bound * (1 + 1e-5)).all())
    assert float(res.norms[-1].max()) < float(bound[-1].max())
    # without the L2 term the same ascent runs away
    free = class_model(detector, [1], input_size=(1, 32, 32), l2=0.0)
    assert float(free.norms[-1, 0]) > 2 * float(res.norms[-1, 0])
    assert float(free.scores[-1, 0]) > float(res.scores[-1, 0])


def test_class_model_priors_pixels_and_errors(detector: nn.Module) -> None:
    plain = class_model(detector, 1, input_size=(1, 32, 32), steps=8)
    jit = class_model(detector, 1, input_size=(1, 32, 32), steps=8, jitter=2, blur=1.0, blur_every=2)
    assert not torch.equal(plain.image, jit.image) and jit.settings["jitter"] == 2
    again = class_model(detector, 1, input_size=(1, 32, 32), steps=8, jitter=2, blur=1.0, blur_every=2)
    assert torch.equal(jit.image, again.image)  # seeded
    pix = to_pixels(plain.image, (MEAN,), (STD,))
    assert float(pix.min()) >= 0 and float(pix.max()) <= 1
    assert float((pix - MEAN).abs().max()) == pytest.approx(MEAN, abs=1e-5)  # stretched around the mean grey
    for kw, words in [
        ({"steps": 0}, "steps"),
        ({"step_size": 0.0}, "step_size"),
        ({"l2": -1.0}, "l2"),
        ({"jitter": -1}, "jitter"),
    ]:
        with pytest.raises(CnnzooError, match=words):
            class_model(detector, 1, input_size=(1, 32, 32), **kw)
    with pytest.raises(CnnzooError, match="out of range"):
        class_model(detector, 5, input_size=(1, 32, 32), steps=1)
    with pytest.raises(CnnzooError, match="give the class"):
        explain(detector, torch.zeros(1, 1, 32, 32), "class-model")
    e = explain(detector, torch.zeros(1, 1, 32, 32), "class-model", target=1, steps=20)
    with torch.no_grad():
        start = detector(torch.zeros(1, 1, 32, 32))[0, 1]
    direct = class_model(detector, 1, start=torch.zeros(1, 1, 32, 32), steps=20)
    assert torch.equal(e.attribution, direct.image) and int(e.target[0]) == 1
    assert float(e.logits[0, 1]) == pytest.approx(float(direct.scores[-1, 0]), abs=1e-5)
    assert float(e.logits[0, 1]) > float(start)


def test_explain_cli_occlusion_and_class_model(tmp_path, capsys) -> None:  # noqa: ANN001
    from PIL import Image

    from cnnzoo.cli import main

    img = tmp_path / "digit.png"
    Image.fromarray((torch.rand(28, 28) * 255).byte().numpy(), "L").save(img)
    out = tmp_path / "occ.png"
    args = ["explain", "lenet5_modern", str(img), "--method", "occlusion", "--window", "8", "--stride", "8"]
    assert main([*args, "--fill", "0.5", "--out", str(out)]) == 0 and out.is_file()
    cm = tmp_path / "cm.png"
    assert (
        main(
            [
                "explain",
                "lenet5_modern",
                "--method",
                "class-model",
                "--class",
                "1,2",
                "--steps",
                "5",
                "--out",
                str(cm),
            ]
        )
        == 0
    )
    assert cm.is_file()
    capsys.readouterr()
    for argv, words in [
        (
            [
                "explain",
                "lenet5_modern",
                str(img),
                "--method",
                "class-model",
                "--class",
                "1",
                "--out",
                str(cm),
            ],
            "give no images",
        ),
        (["explain", "lenet5_modern", "--method", "class-model", "--out", str(cm)], "--class N"),
        (["explain", "lenet5_modern", "--method", "occlusion", "--out", str(out)], "name one or more image"),
        ([*args, "--class", "1,2", "--out", str(out)], "one class"),
        ([*args, "--window", "99", "--out", str(out)], "larger than the 32x32 image"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err
