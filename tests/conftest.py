"""Shared fixtures. Tests make their own small data; seeds are fixed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# One intra-op thread by default: most tests run small tensors, where OpenMP threads cost more than they
# give, and several tests start worker processes of their own (DDP, the CLI) that would oversubscribe the
# cores. CNNZOO_TEST_THREADS overrides it.
torch.set_num_threads(int(os.environ.get("CNNZOO_TEST_THREADS", "1")))
# Nothing downloads in tests: named datasets come from the disk (Debian's Fashion-MNIST, ../shared) or fail.
os.environ["CNNZOO_OFFLINE"] = "1"

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
