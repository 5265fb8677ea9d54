"""Helpers shared by the model tests."""

from __future__ import annotations

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


def macs(model: nn.Module, size: tuple[int, int, int]) -> int:
    """Conv + linear + matmul MACs of one image, from ``cnnzoo.profile``."""
    return int(cnnzoo.profile(model, size).total_macs)
