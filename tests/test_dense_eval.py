"""Dense multi-scale evaluation (VGG Sec. 3.2) and the protocol every evaluation report states."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from cnnzoo.data.transforms import DenseViews, describe_views
from cnnzoo.train.dense import evaluate_dense


def test_dense_views_resize_the_shorter_side_to_each_scale_and_add_the_mirror():
    img = (torch.rand(3, 30, 40) * 255).to(torch.uint8)
    dv = DenseViews((8, 8), (0.0,) * 3, (1.0,) * 3, scales=[256, 512])
    assert dv.sides() == [9, 18]
    views = dv(img)
    assert [tuple(v.shape) for v in views] == [(2, 3, 9, 12), (2, 3, 18, 24)]
    torch.testing.assert_close(views[1][1], views[1][0].flip(-1))
    assert [v.shape[0] for v in DenseViews((8, 8), (0.0,) * 3, (1.0,) * 3, flips=False)(img)] == [1]


class _Photos(Dataset):
    """Uint8 images of two sizes with labels, seen through a transform."""

    def __init__(self, transform) -> None:
        g = torch.Generator().manual_seed(3)
        self.x = [(torch.rand(3, 10 + 2 * i, 13 + i, generator=g) * 255).to(torch.uint8) for i in range(5)]
        self.x += [self.x[0].clone()]  # two same-size images go through together
        self.y = [0, 1, 2, 1, 0, 2]
        self.t = transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.t(self.x[i]), self.y[i]


class _FCNet(nn.Module):
    """A tiny FC-headed network (like VGG: ``features`` then ``classifier``) for 8x8 inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(4 * 4 * 4, 5), nn.ReLU(), nn.Linear(5, 3))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def test_dense_evaluation_is_the_mean_posterior_of_the_averaged_score_maps():
    torch.manual_seed(0)
    net = _FCNet().eval()
    dv = DenseViews((8, 8), (0.5,) * 3, (0.25,) * 3, scales=[256, 384])
    ds = _Photos(dv)
    res = evaluate_dense(net, ds, input_size=(3, 8, 8), ks=(1, 2), classes=["a", "b", "c"], batch_size=4)
    # by hand: conv head = the FC weights reshaped; score map averaged; softmax; mean over views
    w1 = net.classifier[0].weight.view(5, 4, 4, 4)
    probs = []
    with torch.no_grad():
        for i in range(len(ds)):
            views, _ = ds[i]
            ps = []
            for v in views:
                h = F.relu(F.conv2d(net.features(v), w1, net.classifier[0].bias))
                s = F.conv2d(h, net.classifier[2].weight.view(3, 5, 1, 1), net.classifier[2].bias)
                ps.append(F.softmax(s.mean((2, 3)), 1))
            probs.append(torch.cat(ps).mean(0))
    p = torch.stack(probs)
    y = torch.tensor(ds.y)
    assert res.n == 6
    assert res.top1 == pytest.approx(float((p.argmax(1) == y).double().mean()))
    assert res.loss == pytest.approx(float(F.nll_loss(p.log(), y)), rel=1e-5)


def test_protocol_names_views_scales_flips_and_resize():
    d = describe_views(1, (224, 224), [256, 384, 512], dense=True, flips=True)
    assert (d["dense"], d["views_per_image"], d["scale_pixels"], d["flips"]) == (
        True,
        6,
        [256, 384, 512],
        True,
    )
    assert "Q=256,384,512" in d["text"] and "flips" in d["text"]
    t = describe_views(10, (227, 227), None)
    assert (t["crops"], t["views_per_image"], t["scale_pixels"], t["flips"]) == (10, 10, [259], True)
    g = describe_views(144, (224, 224))
    assert (g["views_per_image"], g["scale_pixels"]) == (144, [256, 288, 320, 352])


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    from cnnzoo.train import train_model

    out = tmp_path_factory.mktemp("dense") / "lenet"
    train_model("lenet5", data="digits", epochs=1, out=out, progress=False, threads=1)
    return out / "best.pt"


@pytest.mark.slow  # > 20 s on 2 cores: CI runs it (`-m slow`), the quick tier skips it
def test_eval_dense_cli_prints_one_json_document_with_its_protocol(lenet_run, capsys):
    from cnnzoo.cli import main
    from cnnzoo.train import evaluate_checkpoints

    conf = str(lenet_run.with_name("c.png"))
    assert (
        main(["eval", str(lenet_run), "--dense", "--scales", "256,320", "--json", "--confusion", conf]) == 0
    )
    d = json.loads(capsys.readouterr().out)
    p = d["protocol"]
    assert (p["dense"], p["scales"], p["scale_pixels"], p["flips"], p["views_per_image"]) == (
        True,
        [256, 320],
        [37, 46],
        False,  # digits are not mirrored
        2,
    )
    assert "mean of softmax" in p["combine"] and p["models"][0]["model"] == "lenet5"
    twin = evaluate_checkpoints([str(lenet_run)], dense=True, scales=[256, 320])
    assert (d["top1"], d["n"], twin.n) == (twin.top1, 360, 360)
    assert main(["eval", str(lenet_run), str(lenet_run), "--crops", "10", "--confusion", conf]) == 0
    text = capsys.readouterr().out
    assert "protocol: ensemble of 2 models: 10 crop(s) of 32x32" in text and "mirrors included" in text


def test_dense_refuses_crops(lenet_run):
    from cnnzoo.errors import CnnzooError
    from cnnzoo.train import evaluate_checkpoints

    with pytest.raises(CnnzooError, match="dense"):
        evaluate_checkpoints([str(lenet_run)], dense=True, crops=10)
