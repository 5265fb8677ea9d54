"""ONNX export with a dynamic batch dimension, checked against the eager model.

The exported graph takes one input ``input`` of shape ``(batch, C, H, W)`` (already normalised, as the model
sees it in PyTorch) and returns ``logits`` of shape ``(batch, num_classes)``. After writing the file we run it
in ONNX Runtime at two batch sizes and compare with the eager model; the maximum relative error
``max|onnx - eager| / max|eager|`` must stay under ``rtol`` (1e-4 by default) or the export fails with a clear
error. What a classifier needs to be used on its own -- the model's :class:`~cnnzoo.record.ModelRecord` (name,
class names, input size, the eval view and ``mean``/``std``) -- is stored as JSON under the ``cnnzoo_record``
key of the ONNX ``metadata_props``, which :class:`cnnzoo.deploy.session.OnnxClassifier` and
:func:`cnnzoo.classify.load_model` (``cnnzoo predict``, ``serve --photo``) read back.

Exporter: torch's TorchScript-based exporter (``dynamo=False``) is the default because it is quick (a
ResNet-18 in 0.3 s here against 2.5 s) and handles every operator of the classic CNNs (LRN, grouped
convolutions, channel shuffle, adaptive pooling) -- with one fix: its ``avg_pool2d`` dropped
``divisor_override`` (see :func:`_avg_pool2d_symbolic`). ``exporter="dynamo"`` uses the ``torch.export``-based
exporter instead; either one is the fallback when the other fails or is not faithful.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CnnzooError
from ..options import Exporter
from ..outputs import atomic_path, is_disk_full
from ..record import ModelRecord
from ..sizes import parse_input_size

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
DEFAULT_OPSET = 17
EXPORTERS = Exporter.values()


class DeployError(CnnzooError):
    """An export, quantisation or benchmark that cannot be done as asked."""


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote and how closely the ONNX graph follows the eager model."""

    path: Path
    input_size: tuple[int, int, int]
    opset: int
    exporter: str
    max_rel_error: float
    metadata: dict[str, str] = field(default_factory=dict)


def model_record(model: nn.Module) -> ModelRecord | None:
    """The :class:`~cnnzoo.record.ModelRecord` a model built by cnnzoo carries (``None`` for others)."""
    rec = getattr(model, "cnnzoo_record", None)
    return rec if isinstance(rec, ModelRecord) else None


def default_input_size(model: nn.Module) -> tuple[int, int, int]:
    """The input size a model expects: its record's (a checkpoint's, the weights', or the registered one)."""
    rec = model_record(model)
    if rec is None:
        raise DeployError(
            "cannot tell the input size of this model; pass input_size (e.g. --input 3x224x224)."
        )
    return tuple(int(v) for v in rec.input_size)  # type: ignore[return-value]


def record_at(rec: ModelRecord, input_size: Sequence[int]) -> ModelRecord:
    """``rec`` for a graph exported at ``input_size``: the eval view scaled to that size where it differs."""
    c, h, w = (int(v) for v in input_size)
    if (c, h, w) == tuple(rec.input_size):
        return rec
    side = rec.crop or rec.input_size[1]
    resize = round(rec.resize * h / side) if rec.resize else None
    return rec.with_(input_size=(c, h, w), resize=resize, crop=h if rec.crop and h == w else None)


def check_runs(model: nn.Module, input_size: Sequence[int], batch: int = 2) -> None:
    """Check that a ``batch`` of ``input_size`` fits in memory (:mod:`cnnzoo.analysis.memory`, before any
    tensor is made), then that ``model`` takes it by running it once on a batch of 2; a failure is the
    user's input size, said so."""
    from ..analysis.memory import check_fits, forward_bytes

    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    n = max(batch, 2)
    what = f"a batch of {n} inputs of {'x'.join(map(str, input_size))}"
    need = forward_bytes(
        model, input_size, n, trace=False
    )  # no meta pass: the real one below checks the size
    check_fits(need, what, "give a smaller --input or --batch", dev)
    try:
        with torch.no_grad():
            model(torch.randn(2, *input_size))
    except (RuntimeError, ValueError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DeployError(
            f"the model cannot run on input {'x'.join(map(str, input_size))} ({msg}); "
            "pass a size it accepts with --input CxHxW."
        ) from None


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max|actual - expected| / max|expected|`` (the scale of the outputs, so near-zero logits do not blow
    it up); 0 when both are all zeros, infinite when either holds a NaN or an infinity (a NaN must never
    compare as "close": ``max(0.0, nan)`` is 0.0 in Python)."""
    if not (np.isfinite(actual).all() and np.isfinite(expected).all()):
        return float("inf")
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    gap = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    diff = float(gap.max()) if expected.size else 0.0
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / scale


def _ort_session(path: str | os.PathLike[str], threads: int | None = None) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _avg_pool2d_symbolic(
    g: Any,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: Any,
    count_include_pad: Any,
    divisor_override: Any,
) -> Any:
    """``aten::avg_pool2d`` for the TorchScript exporter, honouring ``divisor_override``.

    torch's own symbolic (opset >= 10) drops ``divisor_override`` silently and exports a mean; LeNet-5's
    trainable subsampling (LeCun et al. 1998: the *sum* of each 2x2 window times a coefficient) uses
    ``divisor_override=1``, so its ONNX graph was wrong by a factor of 4 at S2/S4. With an override we emit
    the mean over the full window (``count_include_pad``) times ``kh * kw / divisor``, which is the same sum.
    """
    from torch.onnx._internal.torchscript_exporter import symbolic_helper as sh
    from torch.onnx._internal.torchscript_exporter import symbolic_opset10 as s10

    base = s10._avg_pool("avg_pool2d", 2)
    divisor = None if sh._is_none(divisor_override) else sh._maybe_get_const(divisor_override, "i")
    if divisor is None:
        return base(g, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    k = sh._maybe_get_const(kernel_size, "is")
    include_pad = g.op("Constant", value_t=torch.tensor(1, dtype=torch.int64))
    mean = base(g, input, kernel_size, stride, padding, ceil_mode, include_pad, None)
    scale = g.op("Constant", value_t=torch.tensor(float(k[0] * k[-1]) / float(divisor), dtype=torch.float32))
    return g.op("Mul", mean, scale)


def _register_symbolics(opset: int) -> None:
    if opset >= 10:  # registration is per opset version; registering again replaces it
        torch.onnx.register_custom_op_symbolic("aten::avg_pool2d", _avg_pool2d_symbolic, opset)


def _run_export(model: nn.Module, dummy: torch.Tensor, path: Path, opset: int, exporter: str) -> None:
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            _register_symbolics(opset)
            torch.onnx.export(
                model,
                (dummy,),
                str(path),
                dynamo=False,
                opset_version=opset,
                do_constant_folding=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            )
        else:
            batch = torch.export.Dim("batch", min=1, max=4096)
            prog = torch.onnx.export(
                model,
                (dummy,),
                dynamo=True,
                opset_version=max(opset, 18),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},),
                verbose=False,
            )
            prog.save(str(path))


def _add_metadata(path: Path, metadata: Mapping[str, str]) -> None:
    import onnx

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for k, v in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(path))


def model_metadata(model: nn.Module, input_size: Sequence[int]) -> dict[str, str]:
    """The ``metadata_props`` written into the ONNX file: the model's record at the exported input size
    (``cnnzoo_record``, JSON), when it has one."""
    rec = model_record(model)
    return {} if rec is None else {"cnnzoo_record": record_at(rec, input_size).to_json()}


def check_onnx(
    path: str | os.PathLike[str],
    model: nn.Module,
    input_size: Sequence[int],
    batch_sizes: Sequence[int] = (1, 3),
    seed: int = 0,
) -> float:
    """Largest relative error of the ONNX file against the eager ``model`` over random inputs at each batch
    size (two sizes prove the batch dimension is dynamic)."""
    sess = _ort_session(path)
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    for b in batch_sizes:
        x = torch.randn(b, *input_size, generator=gen)
        with torch.no_grad():
            ref = model(x).float().numpy()
        if not np.isfinite(ref).all():
            raise DeployError(
                f"the model's own eager outputs are not finite (NaN or infinity) at batch {b}, so no export "
                "can be checked against them; load trained weights (or re-estimate BatchNorm statistics, "
                "e.g. with torch.optim.swa_utils.update_bn) before exporting."
            )
        out = sess.run(None, {INPUT_NAME: x.numpy()})[0]
        if out.shape != ref.shape:
            raise DeployError(
                f"the ONNX graph returns shape {out.shape} at batch {b}, the model "
                f"{ref.shape}; "
                "its batch dimension is not dynamic."
            )
        worst = max(worst, relative_error(out, ref))
    return worst


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    input_size: Sequence[int] | str | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    exporter: str = "torchscript",
    rtol: float = 1e-4,
    check: bool = True,
) -> ExportResult:
    """Export ``model`` to ONNX at ``path`` with a dynamic batch dimension and check it against eager.

    Args:
        model: any classifier ``nn.Module`` (it is put in eval mode, on the CPU, in float32).
        path: the ``.onnx`` file to write (its folder is created).
        input_size: ``(C, H, W)`` or ``"CxHxW"``; default: the model's record's.
        opset: ONNX opset (7 to 21; the dynamo exporter needs 18 or more and raises it itself).
        exporter: ``"torchscript"`` (default) or ``"dynamo"``; the other one is tried if the first fails.
        rtol: largest relative error ``max|onnx - eager| / max|eager|`` accepted.
        check: run the comparison (default); without it ``max_rel_error`` is NaN.

    The model's record (``model.cnnzoo_record``: class names, mean/std, eval view) goes into the metadata.
    """
    exporter = Exporter.parse(exporter, DeployError).value
    if not 7 <= int(opset) <= 21:
        raise DeployError(f"opset {opset} is not supported; choose an opset between 7 and 21 (default 17).")
    size = parse_input_size(input_size) if input_size is not None else default_input_size(model)
    from ..outputs import check_output_file

    out = check_output_file(path, "ONNX file")
    model = model.eval().float().cpu()
    check_runs(model, size)  # the size against the model and the memory, before any tensor is made
    dummy = torch.randn(2, *size)
    order = [exporter] + [e for e in EXPORTERS if e != exporter]
    errors = []
    meta = model_metadata(model, size)
    weight_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    for name in order:  # the other exporter is the fallback when one fails or is not faithful
        try:
            # written beside ``out`` and renamed onto it only once checked: a kill (SIGTERM, SIGKILL, a full
            # disk) mid-export leaves the previous file at ``out``, or none, never a half-written model
            with atomic_path(out, "ONNX file", size_hint=weight_bytes) as tmp:
                try:
                    _run_export(model, dummy, tmp, int(opset), name)
                except Exception as e:  # noqa: BLE001 - any exporter failure is reported below with its cause
                    if is_disk_full(e):
                        raise
                    raise _NotExported(f"{name} exporter failed: {_first_line(e)}") from None
                meta["exporter"] = name
                _add_metadata(tmp, meta)
                err = check_onnx(tmp, model, size) if check else float("nan")
                if check and not err <= rtol:
                    raise _NotExported(
                        f"{name} exporter's graph differs from eager by {err:.3g} relative (allowed {rtol:g})"
                    )
        except _NotExported as e:
            errors.append(str(e))
            continue
        used_opset = int(opset) if name == "torchscript" else max(int(opset), 18)
        return ExportResult(out, size, used_opset, name, err, meta)
    what = getattr(model, "cnnzoo_name", type(model).__name__)
    raise DeployError(f"ONNX export of {what} is not faithful: {'; '.join(errors)}.")


class _NotExported(Exception):
    """One exporter's failure; the next exporter is tried."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__
