"""The runtimes an exported ONNX file runs on: ONNX Runtime and OpenVINO, behind one small interface.

Both read the same file -- FP32, or the INT8 QDQ file of :func:`cnnzoo.deploy.quantize_onnx` -- so the
quantization is done once and each runtime executes it its own way:

* ``onnxruntime`` (the default everywhere): fuses QDQ into ``QLinearConv`` and runs MLAS's u8s8 kernels.
* ``openvino``: turns QDQ into its low-precision graph and runs oneDNN's int8 convolutions, which use AMX
  tiles where the CPU has them (Sapphire Rapids and later). On this repository's 2-core Xeon (AVX-512 VNNI +
  AMX) ResNet-50 INT8 ran about 3x faster on OpenVINO than on ONNX Runtime from the same file, while both
  run FP32 at about the same speed (``BENCHMARKS.md``).

OpenVINO is compiled with ``INFERENCE_PRECISION_HINT=f32``: on CPUs with AMX-BF16 its default silently runs
"FP32" models in bfloat16, which would make an FP32 figure a BF16 one and shift the outputs. With the hint,
float layers are float32 and only the quantized layers of an INT8 file run in int8.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..registries import RUNTIMES, register_runtime
from .onnx_export import INPUT_NAME, DeployError, _ort_session


class Runtime:
    """A compiled ONNX classifier: ``run(batch) -> logits`` (NumPy, float32 NCHW in), and what the file says
    of itself (``describe``: its metadata and its input's shape, names for dynamic dimensions)."""

    name = "runtime"

    def run(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> tuple[dict[str, str], list[int | str]]:  # pragma: no cover - interface
        raise NotImplementedError


@register_runtime("onnxruntime", help="ONNX Runtime: QDQ fused into QLinearConv, MLAS kernels (the default)")
class OnnxRuntime(Runtime):
    """ONNX Runtime's CPU session on ``threads`` threads; the batch dimension stays as the file has it."""

    name = "onnxruntime"

    def __init__(
        self, path: Path, threads: int | None, batch: int | None = None, precision: str = "fp32"
    ) -> None:
        if precision != "fp32":
            raise DeployError(
                "ONNX Runtime runs this file in fp32 only; use precision fp32 or runtime openvino."
            )
        self.session = _ort_session(path, threads)
        self.input_name = self.session.get_inputs()[0].name or INPUT_NAME

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: x})[0]

    def describe(self) -> tuple[dict[str, str], list[int | str]]:
        meta = self.session.get_modelmeta().custom_metadata_map
        return dict(meta), list(self.session.get_inputs()[0].shape)


@register_runtime("openvino", help="OpenVINO: oneDNN's int8 convolutions, AMX tiles where the CPU has them")
class OpenVinoRuntime(Runtime):
    """OpenVINO's CPU plugin, FP32 float layers (see the module doc), latency mode on ``threads`` threads.

    With ``batch`` the graph is reshaped to that static batch (faster; other batch sizes are then refused by
    OpenVINO); without it the batch dimension stays dynamic."""

    name = "openvino"

    def __init__(
        self, path: Path, threads: int | None, batch: int | None = None, precision: str = "fp32"
    ) -> None:
        from ..precision import check_precision, openvino_hint

        check_precision(precision, "cpu")
        try:
            import openvino as ov
        except ImportError:
            raise DeployError(
                "OpenVINO is not installed; install cnnzoo's dependencies again "
                "(pip install -e .) or pip install openvino."
            ) from None
        self.path = path
        core = ov.Core()
        model = core.read_model(str(path))
        if batch is not None:
            shape = model.inputs[0].get_partial_shape()
            shape[0] = int(batch)
            model.reshape({model.inputs[0]: shape})
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": openvino_hint(precision),
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self.compiled = core.compile_model(model, "CPU", config)
        self.request = self.compiled.create_infer_request()

    def run(self, x: np.ndarray) -> np.ndarray:
        self.request.infer({0: np.ascontiguousarray(x, dtype=np.float32)})
        return np.array(self.request.get_output_tensor(0).data, copy=True)

    def describe(self) -> tuple[dict[str, str], list[int | str]]:
        """From the ONNX file itself: OpenVINO's model does not carry ONNX ``metadata_props``."""
        import onnx

        proto = onnx.load(str(self.path), load_external_data=False)
        dims = proto.graph.input[0].type.tensor_type.shape.dim
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
        return {p.key: p.value for p in proto.metadata_props}, shape


def open_runtime(
    path: str | os.PathLike[str],
    runtime: str = "onnxruntime",
    threads: int | None = None,
    batch: int | None = None,
    precision: str = "fp32",
) -> Runtime:
    """Compile the ONNX file at ``path`` on ``runtime`` (a name of :data:`cnnzoo.registries.RUNTIMES`);
    ``precision="bf16"`` (OpenVINO only, native bf16 CPUs only) sets OpenVINO's bf16 inference-precision
    hint."""
    cls = RUNTIMES.get(runtime, DeployError).obj
    p = Path(path)
    if not p.is_file():
        raise DeployError(f"ONNX file {str(p)!r} does not exist; export one with `cnnzoo export`.")
    return cls(p, threads, batch, precision)


__all__ = ["RUNTIMES", "OnnxRuntime", "OpenVinoRuntime", "Runtime", "open_runtime"]
