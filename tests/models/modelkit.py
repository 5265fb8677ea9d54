"""Helpers shared by the model tests."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

import cnnzoo


def n_params(model: nn.Module) -> int:
    """Parameters counted from the model, as the papers count them (BN gamma/beta included, buffers not)."""
    return sum(p.numel() for p in model.parameters())


def meta_model(name: str, **kw: object) -> nn.Module:
    """A registered model built on the meta device: no memory, no initialisation cost."""
    with torch.device("meta"):
        return cnnzoo.create_model(name, **kw)


@functools.cache
def shared_meta_model(name: str) -> nn.Module:
    """One meta-device model per registered name for the whole session, for tests that only read it
    (parameter counts, layer groups): the deepest nets take about a second to build even on meta."""
    return meta_model(name)


def macs(model: nn.Module, size: tuple[int, int, int]) -> int:
    """Conv + linear + matmul MACs of one image, from ``cnnzoo.profile``."""
    return int(cnnzoo.profile(model, size).total_macs)


def randomize_bn(model: nn.Module, seed: int = 1) -> None:
    """Move every BatchNorm's running statistics and affine parameters away from their 0 / 1 initial values,
    so that an eval-mode comparison with a peer tests that each of them was loaded into the right place."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                    m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)


def assert_matches_peer(
    peer: nn.Module,
    path: Path,
    name: str,
    source: str,
    input_size: tuple[int, int, int],
    *,
    batch: int = 2,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    atol_scales_with_output: bool = False,
    **kw: object,
) -> nn.Module:
    """Our ``name`` loaded from a peer's state dict computes the peer's function.

    The peer's BatchNorm statistics are randomized (:func:`randomize_bn`), its state dict is saved to
    ``path`` and loaded with ``cnnzoo.create_model(name, weights=f"{source}:{path}", **kw)``; both models in
    eval mode must then agree on a random batch: ``|ours - peer| <= atol + rtol * |peer|`` element-wise, where
    ``atol`` is multiplied by ``max(1, max|peer|)`` if ``atol_scales_with_output`` (deep nets with large
    logits). Returns our loaded model (in eval mode).
    """
    randomize_bn(peer)
    peer.eval()
    torch.save(peer.state_dict(), path)
    ours = cnnzoo.create_model(name, weights=f"{source}:{path}", **kw).eval()
    x = torch.randn(batch, *input_size)
    with torch.no_grad():
        want, got = peer(x), ours(x)
    if atol_scales_with_output:
        atol *= max(want.abs().max().item(), 1.0)
    torch.testing.assert_close(got, want, rtol=rtol, atol=atol)
    return ours


def assert_trains(model: nn.Module, x: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """One training step works: finite logits of shape ``(batch, num_classes)`` (when given) and a finite
    gradient on every parameter (the loss is ``logsumexp`` of the logits, which reaches every class).
    Returns the logits."""
    model.train()
    out = model(x)
    assert torch.isfinite(out).all()
    if num_classes is not None:
        assert tuple(out.shape) == (x.shape[0], num_classes)
    out.logsumexp(1).sum().backward()
    missing = [k for k, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []
    return out


def assert_random_only_in_training(model: nn.Module, x: torch.Tensor) -> None:
    """Dropout (or drop-path) acts: two training-mode passes differ, two eval-mode passes are equal."""
    with torch.no_grad():
        model.train()
        assert not torch.equal(model(x), model(x))
        model.eval()
        assert torch.equal(model(x), model(x))


def assert_groups_partition(
    model: nn.Module, names: Sequence[str] | None = None
) -> OrderedDict[str, nn.Module]:
    """``model.layer_groups()`` (named ``names``, when given) holds every parameter of the model exactly once.
    Returns the groups."""
    groups = model.layer_groups()
    if names is not None:
        assert list(groups) == list(names)
    ids = [id(p) for g in groups.values() for p in g.parameters()]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    return groups
