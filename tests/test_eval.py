"""Evaluation: top-k on fixed tensors, confusion matrix, 10-crop averaging, ensembles."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from cnnzoo.data import TestViews
from cnnzoo.train import Meter, confusion_matrix, evaluate, topk_accuracy, topk_correct


def test_topk_counts_on_fixed_scores():
    scores = torch.tensor(
        [[0.1, 0.5, 0.2, 0.15, 0.05], [0.3, 0.1, 0.4, 0.15, 0.05], [0.05, 0.1, 0.2, 0.3, 0.35]]
    )
    target = torch.tensor([1, 0, 0])
    assert topk_correct(scores, target, (1, 2, 5)) == {1: 1, 2: 2, 5: 3}
    assert topk_accuracy(scores, target, (1, 3)) == {1: 1 / 3, 3: 2 / 3}
    # k beyond the number of classes counts every row
    assert topk_correct(scores[:, :3], target, (5,)) == {5: 3}


def test_confusion_matrix_rows_are_true_classes():
    cm = confusion_matrix(torch.tensor([0, 1, 1, 2, 2]), torch.tensor([0, 1, 2, 2, 0]), 3)
    assert cm.tolist() == [[1, 0, 1], [0, 1, 0], [0, 1, 1]]
    m = Meter(3, (1,))
    m.update(torch.eye(3)[[0, 1, 1, 2, 2]], torch.tensor([0, 1, 2, 2, 0]), loss_sum=5.0)
    r = m.result()
    assert r.n == 5 and r.top1 == 3 / 5 and r.loss == 1.0
    assert r.per_class == [0.5, 1.0, 0.5]


class _Fixed(Dataset):
    def __init__(self, n: int, transform=None) -> None:
        g = torch.Generator().manual_seed(7)
        self.x = (torch.rand(n, 3, 12, 14, generator=g) * 255).to(torch.uint8)
        self.y = torch.arange(n) % 4
        self.t = transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        x = self.x[i]
        return (self.t(x) if self.t else x.float() / 255), int(self.y[i])


def _net() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4))


def test_ten_crop_evaluation_averages_exactly_the_ten_views():
    views = TestViews(10, (8, 8), (0.5,) * 3, (0.25,) * 3, in_memory=False)
    ds = _Fixed(6, views)
    net = _net().eval()
    res = evaluate(net, ds, batch_size=4, ks=(1, 2))
    assert res.crops == 10 and res.n == 6
    with torch.no_grad():
        probs = torch.stack([net(views(ds.x[i])).softmax(-1).mean(0) for i in range(6)])
    y = ds.y
    expected_loss = float(-probs[torch.arange(6), y].log().mean())
    assert abs(res.loss - expected_loss) < 1e-6
    assert round(res.top1 * 6) == int((probs.argmax(1) == y).sum())
    # and it differs from the centre view alone (the views do matter)
    centre = TestViews(1, (8, 8), (0.5,) * 3, (0.25,) * 3, in_memory=False)
    assert abs(evaluate(net, _Fixed(6, centre), batch_size=4).loss - res.loss) > 1e-4


def test_ensemble_of_a_model_with_itself_equals_the_model():
    ds = _Fixed(10)
    net = _net()
    one = evaluate(net, ds, batch_size=3)
    two = evaluate([net, net], ds, batch_size=3)
    assert one.loss == two.loss and one.topk == two.topk and torch.equal(one.confusion, two.confusion)


def test_ensemble_averages_softmax_not_logits():
    ds = _Fixed(5)
    a, b = _net(), _net()
    with torch.no_grad():
        for p in b.parameters():
            p.mul_(1.5)
    res = evaluate([a, b], ds, batch_size=5)
    x = torch.stack([ds[i][0] for i in range(5)])
    with torch.no_grad():
        probs = (a(x).softmax(-1) + b(x).softmax(-1)) / 2
    expected = float(-probs[torch.arange(5), ds.y[:5]].log().mean())
    assert abs(res.loss - expected) < 1e-6
