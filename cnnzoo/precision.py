"""Numeric precision of inference and training: ``fp32`` (the default) or ``bf16`` (bfloat16: float32's
8-bit exponent with a 7-bit mantissa, so no loss scaling is needed).

bf16 is offered only where the hardware computes it natively: on CPUs with AVX512_BF16 (Intel Cooper Lake
and later, AMD Zen 4 and later) or AMX-BF16 (Intel Sapphire Rapids and later), and on CUDA GPUs that support
it (Ampere and later). Elsewhere bf16 is emulated and slower than float32, so asking for it is an error
that says so. Inside torch it is autocast (:func:`autocast`): convolutions and matrix products run in bf16
while the weights, the optimizer state and reductions stay float32 ("FP32 master weights", Micikevicius et
al. 2018, "Mixed Precision Training", ICLR; Kalamkar et al. 2019, "A Study of BFLOAT16 for Deep Learning
Training"). OpenVINO takes it as its ``INFERENCE_PRECISION_HINT``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .errors import CnnzooError
from .options import Precision

PRECISIONS = Precision.values()


class PrecisionError(CnnzooError):
    """A precision this machine (or this code path) cannot run natively."""


def cpu_has_native_bf16(flags: set[str] | None = None) -> bool:
    """True when the CPU computes bf16 dot products natively (AVX512_BF16 or AMX-BF16 in its flags)."""
    if flags is None:
        from .timing import cpu_flags

        flags = cpu_flags()
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def native_bf16(device: Any = "cpu") -> bool:
    """True when ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``) runs bf16 natively."""
    kind = str(device).split(":")[0]
    if kind == "cuda":
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return kind == "cpu" and cpu_has_native_bf16()


def check_precision(precision: str, device: Any = "cpu") -> str:
    """``precision`` itself when ``device`` can run it natively; else :class:`PrecisionError`."""
    precision = Precision.parse(precision, PrecisionError).value
    if precision == "bf16" and not native_bf16(device):
        where = "this GPU" if str(device).startswith("cuda") else "this CPU"
        raise PrecisionError(
            f"bf16 needs native support (a CPU with AVX512_BF16 or AMX, or an Ampere or later GPU) and "
            f"{where} has none, so it would be slower than fp32; use precision fp32."
        )
    return precision


def autocast(precision: str, device: Any = "cpu") -> contextlib.AbstractContextManager[Any]:
    """The context in which a forward pass (and its loss) runs at ``precision``: nothing for fp32, torch's
    bf16 autocast on the CPU or CUDA for bf16 (parameters and gradients stay float32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    check_precision(precision, device)
    import torch

    return torch.autocast(device_type=str(device).split(":")[0], dtype=torch.bfloat16)


def openvino_hint(precision: str) -> str:
    """OpenVINO's ``INFERENCE_PRECISION_HINT`` for ``precision`` (``f32`` or ``bf16``)."""
    return {"fp32": "f32", "bf16": "bf16"}[precision]


__all__ = [
    "PRECISIONS",
    "PrecisionError",
    "autocast",
    "check_precision",
    "cpu_has_native_bf16",
    "native_bf16",
    "openvino_hint",
]
