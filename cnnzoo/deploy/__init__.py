"""Deployment: ONNX export checked against eager, INT8 static quantization that is really faster, a session
that classifies images on ONNX Runtime or OpenVINO, and a benchmark of every CPU backend.

>>> from cnnzoo.deploy import export_onnx, export_int8, OnnxClassifier, benchmark   # doctest: +SKIP
>>> export_onnx(create_model("resnet20"), "r20.onnx").max_rel_error < 1e-4           # doctest: +SKIP
True
"""

from __future__ import annotations

from ..registries import BACKENDS, RUNTIMES
from .bench import BackendResult, BenchReport, benchmark, format_report, measure_matmul_peak
from .onnx_export import DeployError, ExportResult, check_onnx, export_onnx, relative_error
from .quantize import Int8Report, QuantConfig, as_arrays, evaluate_top1, export_int8, quantize_onnx
from .runtimes import open_runtime
from .session import OnnxClassifier

__all__ = [
    "BACKENDS",
    "RUNTIMES",
    "BackendResult",
    "BenchReport",
    "DeployError",
    "ExportResult",
    "Int8Report",
    "OnnxClassifier",
    "QuantConfig",
    "as_arrays",
    "benchmark",
    "check_onnx",
    "evaluate_top1",
    "export_int8",
    "export_onnx",
    "format_report",
    "measure_matmul_peak",
    "open_runtime",
    "quantize_onnx",
    "relative_error",
]
