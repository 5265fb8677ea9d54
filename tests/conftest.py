"""Shared fixtures. Tests make their own small data; seeds are fixed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist-t10k"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST test set shipped beside the repository (skips with a reason where it is absent)."""
    if not MNIST_DIR.is_dir():
        pytest.skip(f"real MNIST test set not found at {MNIST_DIR}")
    return MNIST_DIR
