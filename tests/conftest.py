"""Shared fixtures. Tests make their own small data; seeds are fixed."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 512 KiB tmpfs mounted at ``tmp_path/disk``, to fill up for real (ENOSPC); skipped with the reason
    where this user cannot mount one (not root, no CAP_SYS_ADMIN, a container without mount rights)."""
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the full-disk test runs where it can")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({r.stderr.decode().strip() or r.returncode})")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``(base URL, folder it serves)``."""
    root = tmp_path / "served"
    root.mkdir()
    from httpserve import serve

    with serve(root) as base:
        yield base, root


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh weights cache folder and fresh hub settings (no mirror, online, no Hub endpoint of the
    environment, 2 s timeout, no progress bar)."""
    from cnnzoo.weights import hub

    for var in (hub.ENV_CACHE, hub.ENV_MIRROR, hub.ENV_OFFLINE, "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub, "_SETTINGS", hub._Settings())
    folder = tmp_path / "cache"
    hub.configure(cache_dir=folder, timeout=2, progress=False)
    return folder
