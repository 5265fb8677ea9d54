"""`cnnzoo train` picks one CPU thread for tiny models, and respects an explicit --threads."""

from __future__ import annotations

import pytest
import torch

import cnnzoo
from cnnzoo.train.distributed import DistContext
from cnnzoo.train.run import _threads_for_small_models


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_lenet5_trains_on_one_thread_and_resnet18_keeps_its_threads(two_threads: None) -> None:
    ctx = DistContext()
    _threads_for_small_models(cnnzoo.create_model("resnet18", num_classes=10), (3, 224, 224), ctx, None)
    assert torch.get_num_threads() == 2  # 1.8 G MACs: worth two threads
    _threads_for_small_models(cnnzoo.create_model("lenet5"), (1, 32, 32), ctx, None)
    assert torch.get_num_threads() == 1  # 0.33 M MACs


def test_an_explicit_thread_count_wins(two_threads: None) -> None:
    _threads_for_small_models(cnnzoo.create_model("lenet5"), (1, 32, 32), DistContext(), 2)
    assert torch.get_num_threads() == 2
