"""FractalNet (Larsson et al. 2017): pinned parameter counts, the fractal block's joins (eval: mean of all
columns), local and global drop-path in training, single-column extraction.
"""

from __future__ import annotations

import random

import pytest
import torch
from modelkit import assert_trains, meta_model, n_params
from torch import nn

import cnnzoo
from cnnzoo.errors import CnnzooError
from cnnzoo.models.fractalnet import FractalBlock


def test_fractalnet_cifar_20_layers_has_33724618_parameters() -> None:
    # The paper's Table 1 says 38.6M; the architecture its text describes (B=5, C=3, 64-128-256-512-512, 3x3
    # conv + BN per layer, linear classifier) has 35 convolutions and this many parameters.
    m = meta_model("fractalnet_cifar")
    assert n_params(m) == 33_724_618
    assert sum(isinstance(c, nn.Conv2d) for c in m.modules()) == 5 * 7
    assert [len(col) for col in m.blocks[0].columns] == [1, 2, 4]  # deepest path: 5 x 4 = 20 layers


def test_fractalnet40_cifar_has_76106634_parameters() -> None:
    m = meta_model("fractalnet40_cifar")
    assert n_params(m) == 76_106_634
    assert [len(col) for col in m.blocks[0].columns] == [1, 2, 4, 8]


def test_fractalnet_cifar_macs_at_32() -> None:
    assert cnnzoo.profile(meta_model("fractalnet_cifar"), (3, 32, 32)).total_macs == 845_222_912


def test_fractal_block_in_eval_mode_averages_columns_at_each_join() -> None:
    blk = FractalBlock(3, 4, num_columns=3).eval()
    a, (b0, b1), (c0, c1, c2, c3) = blk.columns
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        j2 = (b0(x) + c1(c0(x))) / 2  # f_3 = [f_2 o f_2] (+) conv: first join of the two deeper columns
        expected = (a[0](x) + b1(j2) + c3(c2(j2))) / 3  # last join: all three columns, one mean
        torch.testing.assert_close(blk(x), expected)


def test_join_mean_and_local_drop_path_keeps_at_least_one_input() -> None:
    outs = [torch.full((1, 1), v) for v in (1.0, 2.0, 6.0)]
    assert FractalBlock.join(outs, 0.0).item() == 3.0
    random.seed(0)
    for _ in range(20):  # dropping (almost) everything still leaves one whole input
        assert FractalBlock.join(outs, 0.999999).item() in (1.0, 2.0, 6.0)
    random.seed(1)
    seen = {FractalBlock.join(outs, 0.5).item() for _ in range(200)}
    assert seen == {1.0, 2.0, 6.0, 1.5, 3.5, 4.0, 3.0}  # every non-empty subset's mean


def test_fractalnet_single_column_is_that_columns_plain_chain() -> None:
    m = cnnzoo.create_model("fractalnet_cifar").eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(m(x), m(x))  # eval: no dropout, no drop-path
    for j in range(3):
        m.column = j
        y = x
        with torch.no_grad():
            for blk in m.blocks:
                for unit in blk.columns[j]:
                    y = unit(y)
                y = m.pool(y)
            torch.testing.assert_close(m(x), m.fc(y.flatten(1)))
    m.column = 3
    with pytest.raises(CnnzooError, match="column must be"):
        m(x)


def test_fractalnet_training_mixes_global_and_local_drop_path() -> None:
    m = meta_model("fractalnet_cifar")
    random.seed(0)
    modes = [m.train().sample_mode() for _ in range(400)]
    n_global = sum(mode == "column" for mode, _ in modes)
    assert 160 < n_global < 240  # half of the mini-batches (binomial(400, 0.5): 200 +- 10)
    assert {c for mode, c in modes if mode == "column"} == {0, 1, 2}
    assert {mode for mode, _ in modes} == {"column", "local"}
    assert m.eval().sample_mode() == ("all", None)


def test_fractalnet_global_drop_path_in_training_runs_one_column_only() -> None:
    m = cnnzoo.create_model("fractalnet_cifar", global_fraction=1.0).train()
    random.seed(3)
    x = torch.randn(2, 3, 32, 32)
    m(x).sum().backward()
    used = [j for j in range(3) if m.blocks[0].columns[j][0].conv.weight.grad is not None]
    assert len(used) == 1
    assert all(blk.columns[used[0]][0].conv.weight.grad is not None for blk in m.blocks)


def test_fractalnet_trains_with_finite_outputs_and_a_grad_on_every_parameter() -> None:
    m = cnnzoo.create_model("fractalnet_cifar", local_drop=0.0, global_fraction=0.0)
    assert_trains(m, torch.randn(2, 3, 32, 32), 10)


def test_fractalnet_dropout_rates_per_block() -> None:
    m = meta_model("fractalnet_cifar")
    assert [{u.drop.p for col in blk.columns for u in col} for blk in m.blocks] == [
        {0.0},
        {0.1},
        {0.2},
        {0.3},
        {0.4},
    ]


@pytest.mark.parametrize("name", ["fractalnet_cifar", "fractalnet40_cifar"])
def test_fractalnet_meta_forward_gives_logits(name: str) -> None:
    m = meta_model(name).eval()
    assert m(torch.empty(2, 3, 32, 32, device="meta")).shape == (2, 10)
    groups = m.layer_groups()
    assert sum(n_params(g) for g in groups.values()) == n_params(m)
