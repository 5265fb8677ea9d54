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
# Nothing downloads in tests: named datasets come from the disk (Debian's Fashion-MNIST...) or fail.
os.environ["CNNZOO_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]
# MNIST's 10k test set (t10k-images/labels IDX files) is not installable from a package: tests that use it
# read the folder named by $CNNZOO_MNIST_T10K (CI points it at the project's copy) and skip without it.
MNIST_DIR = Path(os.environ.get("CNNZOO_MNIST_T10K", REPO / "no-mnist-t10k"))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST test set, $CNNZOO_MNIST_T10K (skips with a reason where it is absent)."""
    if not MNIST_DIR.is_dir():
        pytest.skip(
            "the real MNIST test set (t10k IDX files) is not here: set CNNZOO_MNIST_T10K to its folder"
        )
    return MNIST_DIR
