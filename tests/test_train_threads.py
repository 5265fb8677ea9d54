"""`cnnzoo train` measures the fastest CPU thread count for small models on the machine it runs on, keeps the
answer per machine (so a rerun repeats its result), and respects an explicit --threads."""

from __future__ import annotations

import json

import pytest
import torch

import cnnzoo
from cnnzoo.train import threads as T
from cnnzoo.train.distributed import DistContext
from cnnzoo.train.run import _choose_threads


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(T, "cores_available", lambda: 2)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield tmp_path
    torch.set_num_threads(before)


def test_resnet18_keeps_all_cores_without_a_measurement(two_threads, monkeypatch) -> None:
    monkeypatch.setattr(T, "time_steps", lambda *a, **k: pytest.fail("a 1.8 G MAC model is not measured"))
    model = cnnzoo.create_model("resnet18", num_classes=10)
    assert _choose_threads(model, "resnet18", (3, 224, 224), 32, DistContext(), None) == 2
    assert torch.get_num_threads() == 2


def test_lenet5_gets_the_measured_fastest_count_and_keeps_it(two_threads, monkeypatch) -> None:
    calls = []

    def fake(model, shape, counts, **kw):
        calls.append((shape, counts))
        return {1: 0.002, 2: 0.003}  # one thread faster

    monkeypatch.setattr(T, "time_steps", fake)
    model = cnnzoo.create_model("lenet5")
    assert _choose_threads(model, "lenet5", (1, 32, 32), 16, DistContext(), None) == 1
    assert torch.get_num_threads() == 1
    assert calls == [((16, 1, 32, 32), [1, 2])]
    cache = json.loads(T.cache_file().read_text())
    (entry,) = cache.values()
    assert entry == {"threads": 1, "ms_per_step": {"1": 2.0, "2": 3.0}}
    torch.set_num_threads(2)
    # a second run on the same machine reads the answer instead of measuring again
    assert _choose_threads(model, "lenet5", (1, 32, 32), 16, DistContext(), None) == 1
    assert len(calls) == 1
    # another batch size is another question
    monkeypatch.setattr(T, "time_steps", lambda *a, **k: {1: 0.004, 2: 0.003})
    torch.set_num_threads(2)
    assert _choose_threads(model, "lenet5", (1, 32, 32), 256, DistContext(), None) == 2


def test_an_explicit_thread_count_wins(two_threads, monkeypatch) -> None:
    monkeypatch.setattr(T, "time_steps", lambda *a, **k: pytest.fail("no measurement with --threads"))
    assert _choose_threads(cnnzoo.create_model("lenet5"), "lenet5", (1, 32, 32), 16, DistContext(), 2) == 2
    assert torch.get_num_threads() == 2


def test_the_measurement_times_real_steps_and_leaves_the_random_stream_alone() -> None:
    model = cnnzoo.create_model("lenet5")
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    before = torch.get_num_threads()
    per_step = T.time_steps(model, (4, 1, 32, 32), [1, 2], steps=1, rounds=1)
    assert set(per_step) == {1, 2} and all(t > 0 for t in per_step.values())
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == before


def test_candidates_double_up_to_the_core_count() -> None:
    assert T.candidates(2) == [1, 2]
    assert T.candidates(6) == [1, 2, 4, 6]
    assert T.candidates(8) == [1, 2, 4, 8]
