"""INT8 static quantization with ONNX Runtime, on the path that is fast on x86 CPUs with VNNI.

Static post-training quantization (Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", CVPR 2018; Krishnamoorthi, "Quantizing deep convolutional networks for
efficient inference: A whitepaper", arXiv:1806.08342, 2018): activations get one affine (scale, zero-point)
range each, fixed from calibration images; weights get symmetric ranges *per output channel*.

What makes it fast here (this repository's 2-core Xeon with AVX-512 VNNI and AMX; cnnzoo's ResNet-50 v1.5
export at batch 16, 2 threads, ONNX Runtime, 8 interleaved rounds against FP32):

* QDQ format, weights ``QInt8`` per channel, activations ``QUInt8`` (asymmetric): ORT fuses it into
  ``QLinearConv`` on NHWC with its u8s8 kernels -- 3.0x FP32. Per-tensor weights gave 2.9x and the
  QOperator format 3.1x (the same kernels; QDQ stays the default because OpenVINO and other runtimes read
  it); ``QInt8`` activations (S8S8) 1.0x -- no fast kernel, so never the default.
* ONNX Runtime's pre-processing (``quant_pre_process``: symbolic shape inference and graph optimisation,
  which folds BatchNorm into the convolutions and makes the biases initializers) so the quantizer sees every
  tensor. On our exports it changes little (3.0x without it: torch's exporter already folds BatchNorm in
  eval mode); on graphs that arrive unfolded, unseen tensors stay float and INT8 can end up slower than FP32.

The file is plain ONNX QDQ, so it also runs on OpenVINO (:mod:`cnnzoo.deploy.runtimes`), whose oneDNN int8
convolutions use AMX tiles on CPUs that have them: there the same ResNet-50 INT8 file runs about 3.4x faster
than on ONNX Runtime (whose QLinearConv reaches ~1 int8 TOP/s here, though its int8 GEMM alone reaches ~4.3 on
AMX) -- ``BENCHMARKS.md`` has the side-by-side figures, ``export_int8(runtime="openvino")`` measures there.

Which weights, per CPU -- measured, not assumed. The integer kernels multiply uint8 activations by int8
weights (U8S8). With VNNI (AVX512_VNNI, AVX_VNNI) or AMX they accumulate the products in 32 bits. x86 CPUs
without them (AVX2, or AVX-512 without VNNI, e.g. AMD EPYC Zen 2/3, Skylake-SP) use ``vpmaddubsw``, which adds
each *pair* of u8 x s8 products into a *saturating int16*: 2 x 255 x 127 = 64,770 > 32,767, so where large
activations meet large weights of one sign the sum is clipped -- both ONNX Runtime and OpenVINO (ONNX
Runtime's quantization docs name the two ways out: 7-bit weights, ``reduce_range``, or U8U8).
:func:`int8_sum_ratio` measures it on a tiny graph whose every product is 255 x 127 (exact: 1.0 of the true
sum; without VNNI: 0.505), on every installed runtime. ``QuantConfig(weights="auto")`` then picks:

* U8S8 kernels exact (VNNI, AMX, non-x86): ``int8`` weights, as above.
* U8S8 kernels saturate: :func:`export_int8` tries ``uint8`` weights first (U8U8 kernels: 8-bit weights,
  exact, but slower kernels -- much slower on depthwise convolutions) and falls back to ``int8-7bit`` (int8
  in [-64, 64]: 2 x 255 x 64 = 32,640 cannot overflow, the fast U8S8 kernels stay) when U8U8 is not
  ``min_speedup`` times faster than FP32; :func:`quantize_onnx` alone, which times nothing, takes
  ``int8-7bit``.

Measured on an AMD EPYC (AVX2, no VNNI), ONNX Runtime 1.32: the shipped LeNet-5 (``cnnzoo.serve``'s
``lenet5-mnist5k.pt``, FP32 97.82%) on all 10,000 MNIST t10k digits gives 91.27% with 8-bit int8 weights
(OpenVINO: 93.28%), 97.83% with ``int8-7bit`` and 97.79% with ``uint8``; the test's small digits CNN (FP32
97.50% on 360 digits) 96.94% / 96.94% / 97.50%. The file's ``quantization`` metadata and
:class:`Int8Report` ``weights`` / ``weights_note`` say which was used and why.

Calibration is MinMax over real images by default (``method="percentile"`` / ``"entropy"`` are there for
models whose activations have long tails), flushed batch by batch so ResNet-50 calibrates in bounded memory.
:func:`export_int8` does the whole job and *keeps FP32* when INT8 is not faster or costs too much accuracy.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..options import Calibration, Int8Weights, QuantFormat, QuantType
from .onnx_export import INPUT_NAME, DeployError, export_onnx

ACTIVATION_TYPES = QuantType.values()
METHODS = Calibration.values()
FORMATS = QuantFormat.values()


@dataclass(frozen=True)
class QuantConfig:
    """How to quantize; the defaults are the fast and accurate combination on this CPU (module doc):
    ``weights="auto"`` measures whether its U8S8 integer kernels are exact and picks the weight scheme."""

    per_channel: bool = True
    weights: str = "auto"
    activation_type: str = "quint8"
    method: str = "minmax"
    quant_format: str = "qdq"
    preprocess: bool = True
    num_samples: int = 128
    batch_size: int = 8

    def __post_init__(self) -> None:
        for choice, name in (
            (Int8Weights, "weights"),
            (QuantType, "activation_type"),
            (Calibration, "method"),
            (QuantFormat, "quant_format"),
        ):
            choice.parse(getattr(self, name), DeployError, param=name)
        if self.num_samples < 1 or self.batch_size < 1:
            raise DeployError("num_samples and batch_size of the calibration must be positive.")


# ----------------------------------------------------------------------------------------------- data ----


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float32)


def load_data_source(
    spec: str,
    input_size: Sequence[int] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Any:
    """Resolve a DATA string (the grammar of :mod:`cnnzoo.data.spec`) at the model's ``input_size``.

    A ``.pt`` file holds a tensor of images or an ``(images, labels)`` pair, already normalised; every other
    form is a source of :func:`cnnzoo.data.load_data` (``digits``, ``fashion-mnist``, ``mnist:DIR``,
    ``folder:DIR``, ``synthetic:N``...) and returns its :class:`~cnnzoo.data.DataBundle` at the model's
    input size, normalised with ``mean``/``std`` (pass the checkpoint's). ``synthetic:N`` means here what it
    means everywhere: N labelled images of 10 learnable classes (calibration on its training part, accuracy
    on its test part).
    """
    from ..data.spec import parse_data_spec
    from ..errors import DataError

    parsed = parse_data_spec(spec)
    if parsed.kind == "tensors":
        from ..checkpoint import safe_load

        path = Path(parsed.path or spec)
        if not path.is_file():
            raise DataError(f"image data file {spec!r} does not exist; check the path.")
        obj = safe_load(path)
        return tuple(obj) if isinstance(obj, list) else obj
    if input_size is None:
        raise DataError(f"cannot load {spec!r} without knowing the model's input size.")
    from ..data import load_data

    return load_data(
        spec,
        in_chans=int(input_size[0]),
        input_size=(int(input_size[1]), int(input_size[2])),
        mean=mean,
        std=std,
    )


def as_arrays(
    data: Any,
    input_size: Sequence[int] | None = None,
    limit: int | None = None,
    split: str = "train",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Turn calibration/evaluation data into ``(images float32 NCHW, labels int64 or None)``.

    ``data`` may be a DATA string (:func:`load_data_source`), a :class:`~cnnzoo.data.DataBundle` (its
    ``split``: ``"train"`` for calibration, ``"test"`` for held-out accuracy), a tensor/array of images, an
    ``(images, labels)`` pair, or a dataset of images or ``(image, label)`` items. From a dataset larger than
    ``limit``, a fixed-seed random sample is taken (class-ordered folders would otherwise give one class).
    """
    from ..errors import DataError

    if isinstance(data, (str, os.PathLike)):
        data = load_data_source(str(data), input_size)
    if hasattr(data, "train") and hasattr(data, "test") and hasattr(data, "classes"):
        data = getattr(data, split) if getattr(data, split, None) is not None else data.test
    labels: np.ndarray | None = None
    if isinstance(data, (torch.Tensor, np.ndarray)):
        images = _to_numpy(data[:limit] if limit else data)
    elif isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape"):
        n = limit or len(data[0])
        images = _to_numpy(data[0][:n])
        labels = None if data[1] is None else np.asarray(_to_numpy(data[1][:n]), dtype=np.int64)
    elif hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        idx = np.arange(len(data))
        if limit and limit < len(data):
            idx = np.sort(np.random.default_rng(seed).permutation(len(data))[:limit])
        items = [it for it in (data[int(i)] for i in idx) if it is not None]
        if items and isinstance(items[0], (tuple, list)):
            images = np.stack([_to_numpy(it[0]) for it in items])
            labels = np.asarray([int(it[1]) for it in items], dtype=np.int64)
        else:
            images = np.stack([_to_numpy(it) for it in items]) if items else np.zeros((0,), np.float32)
    else:
        raise DataError(
            f"cannot use {type(data).__name__} as image data; give a tensor, an (images, labels) "
            "pair, a dataset or a DATA string."
        )
    if images.ndim == 5 and images.shape[1] == 1:  # test views of one crop: (N, 1, C, H, W)
        images = images[:, 0]
    if images.ndim == 3 and input_size is not None and len(input_size) == 3 and input_size[0] == 1:
        images = images[:, None]
    if len(images) == 0:
        raise DataError("the image data is empty; give at least one image.")
    if images.ndim != 4 or (input_size is not None and tuple(images.shape[1:]) != tuple(input_size)):
        want = "x".join(map(str, input_size)) if input_size is not None else "CxHxW"
        raise DataError(
            f"the images have shape {tuple(images.shape[1:])}, the model needs {want}; "
            "give data at the model's input size."
        )
    return np.ascontiguousarray(images, dtype=np.float32), labels


# ------------------------------------------------------------------------------- weights, per CPU ----

#: The instruction-set extensions whose integer dot products accumulate u8 x s8 products in 32 bits.
EXACT_U8S8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")
#: Each scheme's largest weight, as stored: the probe multiplies it by activations of 255.
_PROBE_WEIGHT = {"int8": (127, np.int8), "int8-7bit": (64, np.int8), "uint8": (255, np.uint8)}


def _probe_file(path: Path, weights: str) -> float:
    """Write the probe for ``weights`` and return its exact sum: a 3x3 convolution over 16 channels and a
    fully-connected layer over the same 144 values, in QDQ form (as :func:`quantize_onnx` writes them), every
    activation 255 and every weight the scheme's largest; the outputs are requantized so that the exact sum
    comes out as 200 steps of the output scale."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w, dtype = _PROBE_WEIGHT[weights]
    exact = 255.0 * w * 144

    def const(name: str, value: Any, dt: Any) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(value, dtype=dt), name)

    inits = [
        const("w_conv", np.full((8, 16, 3, 3), w), dtype),
        const("w_fc", np.full((8, 144), w), dtype),
        const("w_scale", np.ones(8), np.float32),
        const("w_zero", np.zeros(8), dtype),
        const("x_scale", 1.0, np.float32),
        const("zero", 0, np.uint8),
        const("y_scale", exact / 200.0, np.float32),
    ]
    node = helper.make_node
    nodes = [
        node("QuantizeLinear", [INPUT_NAME, "x_scale", "zero"], ["xq"]),
        node("DequantizeLinear", ["xq", "x_scale", "zero"], ["xd"]),
        node("DequantizeLinear", ["w_conv", "w_scale", "w_zero"], ["wc"], axis=0),
        node("DequantizeLinear", ["w_fc", "w_scale", "w_zero"], ["wf"], axis=0),
        node("Conv", ["xd", "wc"], ["c"]),
        node("QuantizeLinear", ["c", "y_scale", "zero"], ["cq"]),
        node("DequantizeLinear", ["cq", "y_scale", "zero"], ["cd"]),
        node("Flatten", ["cd"], ["conv_out"]),
        node("Flatten", ["xd"], ["xf"]),
        node("QuantizeLinear", ["xf", "x_scale", "zero"], ["xfq"]),
        node("DequantizeLinear", ["xfq", "x_scale", "zero"], ["xfd"]),
        node("Gemm", ["xfd", "wf"], ["f"], transB=1),
        node("QuantizeLinear", ["f", "y_scale", "zero"], ["fq"]),
        node("DequantizeLinear", ["fq", "y_scale", "zero"], ["fc_out"]),
        node("Concat", ["conv_out", "fc_out"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cnnzoo_int8_probe",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, 16, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return exact


@functools.cache
def int8_sum_ratio(weights: str = "int8", runtime: str = "onnxruntime") -> float:
    """The smallest ratio of computed to exact sum when ``runtime`` runs the probe of ``weights`` (``int8``,
    ``int8-7bit`` or ``uint8``) on this CPU: 1.0 where its integer kernels are exact; for ``int8`` on x86
    without VNNI about 0.505 (32,767 / 64,770: pairs of u8 x s8 products added into saturating int16).
    Measured once per process."""
    from .runtimes import open_runtime

    with tempfile.TemporaryDirectory(prefix="cnnzoo-probe-") as tmp:
        path = Path(tmp) / "probe.onnx"
        exact = _probe_file(path, weights)
        out = open_runtime(path, runtime, threads=1).run(np.full((1, 16, 3, 3), 255.0, np.float32))
    return float(out.min()) / exact


def inexact_runtimes(weights: str = "int8") -> list[str]:
    """The runtimes (of :data:`cnnzoo.deploy.runtimes.RUNTIMES`) whose integer kernels for ``weights`` get
    sums wrong on this CPU (:func:`int8_sum_ratio` below 0.99); one that is not installed is left out. An
    INT8 file may be deployed on any of them, so a scheme must be exact on all."""
    from .runtimes import RUNTIMES

    bad = []
    for rt in RUNTIMES.names():
        try:
            if int8_sum_ratio(weights, rt) < 0.99:
                bad.append(rt)
        except DeployError:
            continue
    return bad


def instruction_set() -> str:
    """This CPU's integer dot-product instructions, in words (``"AVX2 without VNNI"``) from its flags."""
    import platform

    from ..timing import cpu_flags

    flags = cpu_flags()
    have = [f.upper() for f in EXACT_U8S8_FLAGS if f in flags]
    if have:
        return ", ".join(have)
    if "avx512bw" in flags:
        return "AVX-512 without VNNI"
    if "avx2" in flags:
        return "AVX2 without VNNI"
    return platform.machine() or "unknown CPU"


def weight_choices(config: QuantConfig) -> list[QuantConfig]:
    """The concrete weight schemes ``config`` allows on this CPU, most precise first: its own ``weights`` when
    given; for ``"auto"``, ``int8`` where the U8S8 kernels sum it exactly, else those of ``uint8`` (8-bit
    weights, slower U8U8 kernels) and ``int8-7bit`` (7-bit weights, the fast U8S8 kernels) that are exact."""
    if config.weights != "auto":
        return [config]
    if not inexact_runtimes("int8"):
        return [replace(config, weights="int8")]
    exact = [w for w in ("uint8", "int8-7bit") if not inexact_runtimes(w)]
    return [replace(config, weights=w) for w in exact or ["int8-7bit"]]


def weights_note(config: QuantConfig) -> str:
    """One sentence: which integer kernels ``config``'s concrete weights run on, and whether they sum exactly
    on this CPU (measured by :func:`int8_sum_ratio`)."""
    isa = instruction_set()
    kernels = {
        "int8": "int8 weights, U8S8 kernels",
        "int8-7bit": "int8 weights in 7 bits (reduce_range), U8S8 kernels",
        "uint8": "uint8 weights, U8U8 kernels",
    }[config.weights]
    wrong = inexact_runtimes(config.weights)
    if wrong:
        return (
            f"{kernels}, which get sums wrong on this CPU ({isa}) in {' and '.join(wrong)} (measured); "
            "weights='auto' avoids them"
        )
    clipped = inexact_runtimes("int8")
    if config.weights != "int8" and clipped:
        return (
            f"{kernels}: exact, whereas 8-bit int8 weights saturate the 16-bit sums of "
            f"{' and '.join(clipped)}'s U8S8 kernels on this CPU ({isa}; measured)"
        )
    return f"{kernels}: exact on this CPU ({isa}; measured)"


# ------------------------------------------------------------------------------------------ quantize ----


class _Reader:
    """An ONNX Runtime ``CalibrationDataReader`` (it is duck-typed: ``get_next``) over fixed batches."""

    def __init__(self, images: np.ndarray, batch_size: int) -> None:
        self._batches = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
        self._it: Iterator[np.ndarray] = iter(self._batches)

    def __len__(self) -> int:
        return len(self._batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        return None if batch is None else {INPUT_NAME: batch}

    def set_range(self, start_index: int, end_index: int) -> None:
        """Serve batches ``start_index:end_index`` only (ORT's strided calibration calls this)."""
        self._it = iter(self._batches[start_index:end_index])


def quantize_onnx(
    fp32_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    calibration: Any,
    config: QuantConfig | None = None,
) -> Path:
    """Quantize the FP32 ONNX file to INT8 at ``out_path``, calibrated on the first ``config.num_samples``
    images of ``calibration`` (anything :func:`as_arrays` accepts); metadata is carried over, and the
    ``quantization`` / ``quantization_weights`` entries say how it was quantized and why those weights.

    ``weights="auto"`` takes the fast U8S8 kernels with the widest weights they sum exactly on this CPU:
    ``int8``, or ``int8-7bit`` where 8-bit weights would saturate (:func:`weight_choices`; only
    :func:`export_int8`, which times them, considers the slower ``uint8``)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    cfg = config or QuantConfig()
    if cfg.weights == "auto":
        cfg = weight_choices(cfg)[-1]
    src = Path(fp32_path)
    if not src.is_file():
        raise DeployError(f"ONNX file {str(src)!r} does not exist; export the model first.")
    proto = onnx.load(str(src), load_external_data=False)
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim][1:]
    images, _ = as_arrays(calibration, dims if all(dims) else None, limit=cfg.num_samples)
    reader = _Reader(images, cfg.batch_size)
    qtype = {"qint8": QuantType.QInt8, "quint8": QuantType.QUInt8}
    method = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }[cfg.method]
    # One batch at a time: the calibrator computes and merges the ranges after each, instead of keeping every
    # intermediate tensor of every batch (ResNet-50 would need ~100 MB per image).
    extra: dict[str, Any] = {"CalibStridedMinMax": 1}
    if cfg.method == "percentile":
        extra["CalibPercentile"] = 99.999
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cnnzoo-quant-") as tmp:
        model_in = src
        if cfg.preprocess:
            model_in = Path(tmp) / "pre.onnx"
            quant_pre_process(str(src), str(model_in), skip_symbolic_shape=False)
        tmp_out = Path(tmp) / "int8.onnx"
        import logging

        logging.disable(logging.WARNING)  # the quantizer logs a line per tensor it leaves in float
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # and the histogram calibrators print progress
                quantize_static(
                    str(model_in),
                    str(tmp_out),
                    reader,
                    quant_format=QuantFormat.QDQ if cfg.quant_format == "qdq" else QuantFormat.QOperator,
                    per_channel=cfg.per_channel,
                    weight_type=qtype["quint8" if cfg.weights == "uint8" else "qint8"],
                    reduce_range=cfg.weights == "int8-7bit",
                    activation_type=qtype[cfg.activation_type],
                    calibrate_method=method,
                    extra_options=extra,
                )
        finally:
            logging.disable(logging.NOTSET)
        q = onnx.load(str(tmp_out))
        del q.metadata_props[:]
        for p in proto.metadata_props:
            q.metadata_props.add().CopyFrom(p)
        entry = q.metadata_props.add()
        entry.key, entry.value = (
            "quantization",
            (
                f"static int8 ({cfg.quant_format}, weights {cfg.weights} "
                f"{'per-channel' if cfg.per_channel else 'per-tensor'}, activations {cfg.activation_type}, "
                f"{cfg.method} calibration on {len(images)} images)"
            ),
        )
        entry = q.metadata_props.add()
        entry.key, entry.value = "quantization_weights", weights_note(cfg)
        from ..outputs import atomic_path

        with atomic_path(out, "INT8 ONNX file", size_hint=q.ByteSize()) as tmp:
            onnx.save(q, str(tmp))
    return out


def evaluate_top1(
    path: str | os.PathLike[str],
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 64,
    runtime: str = "onnxruntime",
) -> float:
    """Top-1 accuracy in percent of the ONNX classifier at ``path`` on ``images``/``labels``, run on
    ``runtime`` (:data:`cnnzoo.deploy.runtimes.RUNTIMES`)."""
    from .runtimes import open_runtime

    rt = open_runtime(path, runtime)
    correct = 0
    for i in range(0, len(images), batch_size):
        logits = rt.run(images[i : i + batch_size])
        correct += int((logits.argmax(1) == labels[i : i + batch_size]).sum())
    return 100.0 * correct / len(images)


# --------------------------------------------------------------------------------------- the whole job ----


@dataclass
class Int8Report:
    """Outcome of :func:`export_int8`: accuracy and speed of both models and which one was written."""

    path: str
    kept: str  # "int8" or "fp32"
    reason: str
    max_rel_error: float
    calibration_images: int
    heldout_images: int
    fp32_top1: float | None
    int8_top1: float | None
    fp32_images_per_s: float
    int8_images_per_s: float
    bench_batch: int
    runtime: str = "onnxruntime"
    weights: str = "int8"  # the weight scheme of the INT8 model (QuantConfig.weights, resolved on this CPU)
    weights_note: str = ""  # which integer kernels run it, whether they are exact here, and why this scheme

    @property
    def speedup(self) -> float:
        return self.int8_images_per_s / self.fp32_images_per_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "speedup": self.speedup}


def split_calibration(
    data: Any, input_size: Sequence[int], num_calibration: int, num_heldout: int, seed: int = 0
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray | None]]:
    """Split one data source into disjoint calibration and held-out images (fixed-seed permutation)."""
    images, labels = as_arrays(data, input_size)
    if len(images) < 2:
        raise DeployError(
            "the calibration data holds fewer than 2 images; give more to calibrate and evaluate."
        )
    perm = np.random.default_rng(seed).permutation(len(images))
    n_cal = min(num_calibration, len(images) // 2)
    cal, held = perm[:n_cal], perm[n_cal : n_cal + num_heldout]
    return images[cal], (images[held], None if labels is None else labels[held])


def fastest_int8_runtime(path: str | os.PathLike[str], batch: int = 16, repeats: int = 5) -> str:
    """The runtime (of :data:`cnnzoo.deploy.runtimes.RUNTIMES`) that runs the INT8 ONNX file at ``path``
    fastest on this machine at ``batch``, timed in interleaved rounds. Which one wins depends on the
    instruction set (AMX, AVX512_VNNI, AVX_VNNI: OpenVINO's int8 kernels use them more fully), so it is
    measured, not assumed; a runtime that cannot open the file (e.g. not installed) is left out."""
    from ..timing import interleaved_times
    from .runtimes import RUNTIMES, open_runtime

    runners = {}
    for name in RUNTIMES:
        try:
            rt = open_runtime(path, name, batch=batch)
        except DeployError:
            continue
        shape = rt.describe()[1]
        dims = [batch] + [int(d) for d in shape[1:]]
        x = np.random.default_rng(0).standard_normal(dims).astype(np.float32)
        runners[name] = partial(rt.run, x)
        runners[name]()
    if len(runners) < 2:
        return next(iter(runners), "onnxruntime")
    times = interleaved_times(runners, repeats)
    return min(times, key=lambda n: float(np.median(times[n])))


def fp32_name(path: Path) -> Path:
    """The name of an FP32 file written where INT8 was asked for: ``int8`` in the file name becomes ``fp32``
    (any case), so the name never claims what the file does not hold; other names are kept."""
    import re

    new = re.sub("int8", lambda m: "FP32" if m.group(0).isupper() else "fp32", path.name, flags=re.IGNORECASE)
    return path.with_name(new)


def export_int8(
    model: nn.Module,
    out_path: str | os.PathLike[str],
    calibration: Any,
    heldout: Any = None,
    *,
    input_size: Sequence[int] | str | None = None,
    config: QuantConfig | None = None,
    opset: int = 17,
    num_heldout: int = 1000,
    bench_batch: int = 16,
    bench_repeats: int = 5,
    min_speedup: float = 1.0,
    max_top1_drop: float = 1.0,
    runtime: str = "onnxruntime",
) -> Int8Report:
    """Export ``model`` to FP32 ONNX, quantize it to INT8 on ``calibration``, measure both on a held-out set
    and in speed, and write the better one to ``out_path``.

    INT8 is kept only if it runs at least ``min_speedup`` times the FP32 images/s (batch ``bench_batch``)
    *and* loses at most ``max_top1_drop`` points of top-1 (when labels are known; else the agreement of the
    two models' predictions is reported as "top-1" against the FP32 model). Otherwise the FP32 model is
    written and ``reason`` says why -- a slower INT8 is never shipped silently -- under a name that says so:
    ``int8`` in ``out_path``'s file name becomes ``fp32`` (``ft_int8.onnx`` -> ``ft_fp32.onnx``; the report's
    ``path`` is the file written). The file's metadata says which it holds (``precision``).
    Accuracy and speed are measured on ``runtime`` (``"onnxruntime"`` or ``"openvino"``: where the file will
    be deployed decides whether INT8 pays; ``"auto"``: the one that runs this INT8 file faster on this
    machine, timed in interleaved rounds -- OpenVINO where the CPU has AMX or VNNI kernels it uses better, see
    :func:`fastest_int8_runtime`).
    ``heldout`` is a separate evaluation set; without it a DATA source's test part is used, and plain
    tensors are split into disjoint calibration and held-out parts.

    The weights (``config.weights="auto"``, module doc) are the most precise scheme this CPU's integer
    kernels sum exactly: ``int8`` with VNNI or AMX; without them ``uint8`` (U8U8 kernels), or, when that is
    not ``min_speedup`` times faster than FP32, ``int8-7bit`` (the fast U8S8 kernels). The choice is made by
    measuring (:func:`int8_sum_ratio`, then speed), never on the held-out labels; the report's ``weights``
    and ``weights_note`` say which and why.
    """
    from ..sizes import parse_input_size
    from ..timing import interleaved_times
    from .onnx_export import default_input_size, model_record
    from .runtimes import RUNTIMES, open_runtime

    cfg = config or QuantConfig()
    if runtime != "auto":
        RUNTIMES.entry(runtime, DeployError)
    from ..outputs import check_output_file

    check_output_file(out_path, "ONNX file")
    size = parse_input_size(input_size) if input_size is not None else default_input_size(model)
    rec = model_record(model)  # data is normalised as the model's weights expect
    mean, std = (rec.mean, rec.std) if rec is not None else (None, None)
    if isinstance(calibration, (str, os.PathLike)):
        calibration = load_data_source(str(calibration), size, mean, std)
    if isinstance(heldout, (str, os.PathLike)):
        heldout = load_data_source(str(heldout), size, mean, std)
    if heldout is None and hasattr(calibration, "test") and hasattr(calibration, "classes"):
        heldout = calibration  # a DataBundle: calibrate on its training part, evaluate on its test part
    if heldout is None:
        cal_images, (held_x, held_y) = split_calibration(calibration, size, cfg.num_samples, num_heldout)
    else:
        cal_images, _ = as_arrays(calibration, size, limit=cfg.num_samples)
        held_x, held_y = as_arrays(heldout, size, limit=num_heldout, split="test")
    out = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="cnnzoo-int8-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        res = export_onnx(model, fp32, size, opset=opset)
        x = np.random.default_rng(0).standard_normal((bench_batch, *size)).astype(np.float32)
        slower: list[str] = []
        # Most precise weights first; the next (faster kernels, coarser weights) only if these do not pay.
        choices = weight_choices(cfg)
        for i, choice in enumerate(choices):
            int8 = Path(tmp) / f"int8-{choice.weights}.onnx"
            quantize_onnx(fp32, int8, cal_images, choice)
            if runtime == "auto":
                runtime = fastest_int8_runtime(int8, bench_batch, bench_repeats)
            runners = {
                name: partial(open_runtime(p, runtime, batch=bench_batch).run, x)
                for name, p in (("fp32", fp32), ("int8", int8))
            }
            for fn in runners.values():
                for _ in range(2):
                    fn()
            times = interleaved_times(runners, bench_repeats)  # alternating, so a slow spell hits both alike
            speeds = {name: bench_batch / float(np.median(t)) for name, t in times.items()}
            speedup = speeds["int8"] / speeds["fp32"]
            if speedup >= min_speedup or i == len(choices) - 1:
                break
            slower.append(f"{choice.weights} weights ran {speedup:.2f}x FP32")
        note = weights_note(choice)
        if slower:
            note += f"; {', '.join(slower)} (under {min_speedup:g}x), so {choice.weights} weights were used"
        if held_y is None:
            ref = open_runtime(fp32, runtime).run(held_x).argmax(1)
            held_y, fp32_top1 = ref, None
        else:
            fp32_top1 = evaluate_top1(fp32, held_x, held_y, runtime=runtime)
        int8_top1 = evaluate_top1(int8, held_x, held_y, runtime=runtime)
        drop = (fp32_top1 if fp32_top1 is not None else 100.0) - int8_top1
        if speedup < min_speedup:
            kept, reason = (
                "fp32",
                (
                    f"INT8 is not faster than FP32 for this model ({speedup:.2f}x at batch "
                    f"{bench_batch}), so the FP32 model was written instead"
                ),
            )
        elif drop > max_top1_drop:
            kept, reason = (
                "fp32",
                (
                    f"INT8 loses {drop:.2f} points of top-1 (more than {max_top1_drop:g}), "
                    "so the FP32 model was written instead"
                ),
            )
        else:
            pace = (
                f"is {speedup:.2f}x faster than" if speedup >= 1 else f"runs at {speedup:.2f}x the speed of"
            )
            kept, reason = ("int8", f"INT8 {pace} FP32 and loses {drop:.2f} points of top-1")
        if kept == "fp32":
            out = fp32_name(out)
            check_output_file(out, "ONNX file")
        out.parent.mkdir(parents=True, exist_ok=True)
        from .onnx_export import _add_metadata

        # the record and the precision travel in the file (the quantizer does not copy metadata across), and
        # for INT8 how it was quantized and why those weights
        meta = {**res.metadata, "precision": kept}
        if kept == "int8":
            import onnx

            have = {p.key: p.value for p in onnx.load(str(int8), load_external_data=False).metadata_props}
            meta.update(quantization=have["quantization"], quantization_weights=note)
        _add_metadata(int8 if kept == "int8" else fp32, meta)
        shutil.copyfile(int8 if kept == "int8" else fp32, out)
    return Int8Report(
        str(out),
        kept,
        reason,
        res.max_rel_error,
        len(cal_images),
        len(held_x),
        fp32_top1,
        int8_top1,
        speeds["fp32"],
        speeds["int8"],
        bench_batch,
        runtime,
        choice.weights,
        note,
    )
