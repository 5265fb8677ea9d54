"""Data-parallel training and evaluation on CPU (gloo), two processes started with torch.multiprocessing.

Same global batch, no augmentation and no BatchNorm: a 2-process run follows the 1-process run up to float
summation order (DDP averages the two half-batch gradients); we require final weights within 1e-5 and
metrics within 1e-6 (losses) / exactly equal counts (top-1).
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import TensorDataset

from cnnzoo.train import evaluate, fit, seed_everything, shard_indices
from cnnzoo.train.distributed import DistContext, ResumableSampler


def _data(n: int) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 6, 6, generator=g)
    y = (x[:, 0, :3].mean(dim=(1, 2)) > 0).long() + 2 * (x[:, 0, 3:].mean(dim=(1, 2)) > 0).long()
    return TensorDataset(x, y)


def _net() -> nn.Module:
    seed_everything(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.Tanh(), nn.Linear(16, 4))


def _run(world: int, rank: int, out: str | None) -> dict:
    ctx = DistContext(rank=rank, world_size=world)
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    r = fit(
        net, opt, _data(64), epochs=3, batch_size=16, ctx=ctx, progress=False, val_data=_data(101), seed=3
    )
    test = evaluate(net, _data(101), ctx=ctx, batch_size=7)
    return {
        "weights": {k: v.clone() for k, v in net.state_dict().items()},
        "history": r.history,
        "n": test.n,
        "top1": test.top1,
        "loss": test.loss,
    }


def _worker(rank: int, world: int, port: int, results: dict) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        res = _run(world, rank, None)
        if rank == 0:
            results.update(res)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shards_cover_every_sample_once_without_padding():
    shards = [shard_indices(101, r, 2) for r in range(2)]
    assert [len(s) for s in shards] == [51, 50]
    assert sorted(shards[0] + shards[1]) == list(range(101))


def test_resumable_sampler_skips_exactly_what_was_trained():
    ds = _data(20)
    full = ResumableSampler(ds, seed=4)
    full.set_epoch(2)
    order = list(full)
    part = ResumableSampler(ds, seed=4)
    part.set_position(2, 8)
    assert len(part) == 12 and list(part) == order[8:]
    assert list(part) == order  # the offset applies to one pass only


@pytest.fixture(scope="module")
def two_process_result() -> dict:
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_worker, args=(2, _free_port(), results), nprocs=2, join=True)
    return dict(results)


@pytest.mark.slow  # > 20 s on 2 cores: CI runs it (`-m slow`), the quick tier skips it
def test_two_processes_match_one_process_with_the_same_global_batch(two_process_result):
    torch.set_num_threads(1)
    one = _run(1, 0, None)
    two = two_process_result
    for k, v in one["weights"].items():
        assert torch.allclose(v, two["weights"][k], atol=1e-5), k
    for h1, h2 in zip(one["history"], two["history"]):
        assert abs(h1["train_loss"] - h2["train_loss"]) < 1e-6 and h1["train_top1"] == h2["train_top1"]
        assert abs(h1["val_loss"] - h2["val_loss"]) < 1e-6 and h1["val_top1"] == h2["val_top1"]
    assert one["top1"] == two["top1"]


def test_distributed_evaluation_counts_101_samples_once(two_process_result):
    assert two_process_result["n"] == 101
