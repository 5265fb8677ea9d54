"""Inference speed of one model on every CPU backend, in one run, with deterministic warm-up and repeats.

Backends (names as in ``--json``): ``torchvision-eager`` (torchvision's implementation of the same
architecture, where one exists), ``eager`` (cnnzoo's model, PyTorch FP32), ``channels-last`` (NHWC memory
format, which oneDNN's convolutions prefer), ``compile`` (``torch.compile`` with Inductor weight freezing, on
channels-last), ``onnxruntime-fp32`` and ``onnxruntime-int8`` (static INT8 from :mod:`cnnzoo.deploy.quantize`,
calibrated on the given data or on synthetic standard-normal images -- the report says which), and
``openvino-fp32`` / ``openvino-int8``: the same two ONNX files on OpenVINO (:mod:`cnnzoo.deploy.runtimes`).
On CPUs with native bf16 (AVX512_BF16 or AMX, :mod:`cnnzoo.precision`): ``eager-bf16`` (cnnzoo's model under
torch's bf16 autocast, channels-last) and ``openvino-bf16`` (the FP32 file with OpenVINO's bf16
``INFERENCE_PRECISION_HINT``); elsewhere they are listed with the sentence saying why they cannot run.

Every backend is built and runs ``warmup`` untimed batches first; then ``repeats`` rounds each call every
backend once, in rotating order (:func:`interleaved_times`), so that the ratios between backends do not hang
on which one happened to run during a slow spell of the machine. We report images/s from the median
latency, the median and 95th-percentile latency, the achieved GFLOP/s (FLOPs = 2 x MACs, MACs from
``cnnzoo.profile``) and its fraction of this machine's measured matrix-multiply rate (a 2048 x 2048 float32
GEMM in torch, the best the CPU does on dense FP32 work, timed in the same interleaved rounds, median).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..registries import BACKENDS, register_backend
from ..sizes import parse_input_size
from ..timing import interleaved_times, time_callable
from .onnx_export import DeployError, check_runs, export_onnx
from .runtimes import open_runtime


@dataclass
class BackendResult:
    """Speed of one backend; ``error`` instead of figures when it cannot run."""

    backend: str
    images_per_s: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    gflops: float | None = None
    peak_fraction: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if v is not None}
        if self.error is None:
            d.pop("error", None)
        return d


@dataclass
class BenchReport:
    """All backends of one :func:`benchmark` run."""

    model: str
    batch: int
    input: tuple[int, int, int]
    threads: int
    warmup: int
    repeats: int
    macs_per_image: int | None
    peak_gflops: float | None
    calibration: str
    torchvision_model: str | None
    results: list[BackendResult] = field(default_factory=list)

    def result(self, backend: str) -> BackendResult:
        return next(r for r in self.results if r.backend == backend)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "batch": self.batch,
            "input": "x".join(map(str, self.input)),
            "threads": self.threads,
            "warmup": self.warmup,
            "repeats": self.repeats,
            "macs_per_image": self.macs_per_image,
            "gflop_per_image": None if self.macs_per_image is None else 2 * self.macs_per_image / 1e9,
            "peak_gflops": self.peak_gflops,
            "calibration": self.calibration,
            "torchvision_model": self.torchvision_model,
            "results": [r.as_dict() for r in self.results],
        }


SGEMM = "sgemm"  # the matrix-multiply probe's name among the interleaved runners


def _sgemm_runner(n: int = 2048) -> tuple[Callable[[], Any], float]:
    """A call of one ``n x n`` float32 matrix multiply in torch, and its FLOPs (``2 n^3``)."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    return (lambda: torch.mm(a, b)), 2.0 * n**3


def measure_matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matrix-multiply rate in GFLOP/s: the best of ``repeats`` ``n x n`` sgemms in
    torch, at torch's current thread count. (:func:`benchmark` measures it inside its interleaved rounds.)"""
    fn, flops = _sgemm_runner(n)
    times = time_callable(fn, warmup=1, repeats=repeats)
    return flops / min(times) / 1e9


def count_macs(model: nn.Module, input_size: Sequence[int]) -> int:
    """Multiply-accumulates of one image, from ``cnnzoo.profile`` (conv and linear layers only)."""
    from ..analysis import profile  # written in parallel; the error below says so if it is missing

    return int(profile(model, input_size=tuple(input_size)).total_macs)


def torchvision_counterpart(name: str | None, num_classes: int, in_chans: int) -> tuple[str, nn.Module]:
    """torchvision's model of the same architecture (the registry's ``peer``, else the same name)."""
    import torchvision

    if name is None:
        raise DeployError("the model has no registered name, so its torchvision counterpart is unknown.")
    from ..registry import is_model, model_info

    peer = model_info(name).peer if is_model(name) else None
    candidates = []
    if peer:
        candidates.append(peer.split(":")[-1].split(".")[-1].split("(")[0].strip())
    candidates.append(name)
    available = set(torchvision.models.list_models(module=torchvision.models))
    tv_name = next((c for c in candidates if c in available), None)
    if tv_name is None:
        raise DeployError(f"torchvision has no model matching {name!r}.")
    if in_chans != 3:
        raise DeployError(f"torchvision's {tv_name} takes 3 input channels, this model {in_chans}.")
    return tv_name, torchvision.models.get_model(tv_name, weights=None, num_classes=num_classes).eval()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0][:200]}" if text else type(e).__name__


def _torch_runner(model: nn.Module, x: torch.Tensor) -> Callable[[], Any]:
    def run() -> Any:
        with torch.inference_mode():
            return model(x)

    return run


def _bf16_runner(model: nn.Module, x: torch.Tensor) -> Callable[[], Any]:
    from ..precision import autocast

    xc = x.contiguous(memory_format=torch.channels_last)

    def run() -> Any:
        with torch.inference_mode(), autocast("bf16", "cpu"):
            return model(xc)

    return run


def _compiled_runner(model: nn.Module, x: torch.Tensor) -> Callable[[], Any]:
    import logging

    import torch._inductor.config as inductor_config

    # a CUDA build of torch on a machine without CUDA warns "No CUDA runtime is found" when Inductor loads its
    # C++ toolchain: nothing to do with a CPU benchmark, and a dated line in every report
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)

    inductor_config.freezing = True  # fold weights/BatchNorm as constants: the CPU inference setting
    cm = torch.compile(model.to(memory_format=torch.channels_last))
    xc = x.contiguous(memory_format=torch.channels_last)
    return _torch_runner(cm, xc)


@dataclass
class _Bench:
    """What every backend builder needs: the model and its input (NCHW tensor and NumPy copy), the registered
    name, the class count, the report to note facts in, and a scratch folder where the ONNX files are
    exported and quantized once, whichever backends use them."""

    model: nn.Module
    x: torch.Tensor
    name: str | None
    num_classes: int
    tmp: Path
    threads: int
    calib_images: Any
    report: BenchReport

    def onnx_file(self, int8: bool) -> Path:
        """The FP32 ONNX file (exported on first use) or its INT8 QDQ copy (quantized on first use)."""
        from .quantize import QuantConfig, as_arrays, quantize_onnx

        size = tuple(self.x.shape[1:])
        fp32 = self.tmp / "fp32.onnx"
        if not fp32.is_file():
            export_onnx(self.model, fp32, size)
        if not int8:
            return fp32
        path = self.tmp / "int8.onnx"
        if not path.is_file():  # quantized once, run by both runtimes
            images = self.calib_images
            if images is None:
                noise = torch.randn(32, *size, generator=torch.Generator().manual_seed(1))
                images, _ = as_arrays(noise, size, limit=128)
            quantize_onnx(fp32, path, images, QuantConfig(num_samples=len(images)))
        return path


# The backends, in the order a full run times them. A builder gets the bench and the backend's name and
# returns a call that runs one batch.
@register_backend("torchvision-eager", help="torchvision's implementation of the same architecture, FP32")
def _torchvision_eager(b: _Bench, backend: str) -> Callable[[], Any]:
    tv_name, tv = torchvision_counterpart(b.name, b.num_classes, b.x.shape[1])
    b.report.torchvision_model = tv_name
    return _torch_runner(tv, b.x)


@register_backend("eager", help="cnnzoo's model, PyTorch FP32")
def _eager(b: _Bench, backend: str) -> Callable[[], Any]:
    return _torch_runner(b.model, b.x)


@register_backend(
    "channels-last", help="the same in the NHWC memory format, which oneDNN's convolutions prefer"
)
def _channels_last(b: _Bench, backend: str) -> Callable[[], Any]:
    cl = copy.deepcopy(b.model).to(memory_format=torch.channels_last)
    return _torch_runner(cl, b.x.contiguous(memory_format=torch.channels_last))


@register_backend("eager-bf16", help="torch's bf16 autocast on channels-last", precision="bf16")
def _eager_bf16(b: _Bench, backend: str) -> Callable[[], Any]:
    return _bf16_runner(copy.deepcopy(b.model).to(memory_format=torch.channels_last), b.x)


@register_backend("compile", help="torch.compile with Inductor weight freezing, on channels-last")
def _compile(b: _Bench, backend: str) -> Callable[[], Any]:
    return _compiled_runner(copy.deepcopy(b.model), b.x)


@register_backend("onnxruntime-fp32", help="the exported ONNX file on ONNX Runtime")
@register_backend("onnxruntime-int8", help="its static INT8 QDQ copy on ONNX Runtime", int8=True)
@register_backend("openvino-fp32", help="the exported ONNX file on OpenVINO, FP32 float layers")
@register_backend("openvino-bf16", help="the same file with OpenVINO's bf16 precision hint", precision="bf16")
@register_backend("openvino-int8", help="the INT8 QDQ copy on OpenVINO (AMX where the CPU has it)", int8=True)
def _onnx(b: _Bench, backend: str) -> Callable[[], Any]:
    entry = BACKENDS.entry(backend)
    runtime = open_runtime(
        b.onnx_file(int8=bool(entry.meta.get("int8"))),
        backend.split("-")[0],
        threads=b.threads,
        batch=len(b.x),
        precision=entry.meta.get("precision", "fp32"),
    )
    return partial(runtime.run, b.x.numpy())


#: bf16 backends (native bf16 CPUs only) and the ones that run the INT8 file
BF16_BACKENDS = tuple(n for n, e in BACKENDS.entries().items() if e.meta.get("precision") == "bf16")
INT8_BACKENDS = tuple(n for n, e in BACKENDS.entries().items() if e.meta.get("int8"))


def benchmark(
    model_ref: str | nn.Module,
    batch: int = 16,
    input_size: Sequence[int] | str | None = None,
    backends: Sequence[str] | None = None,
    warmup: int = 3,
    repeats: int = 10,
    calibration: Any = None,
    threads: int | None = None,
    peak: bool = True,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Time ``model_ref`` (a registered name, a checkpoint path or a module) on each backend.

    Args:
        batch: images per call; input: ``(C, H, W)``/``"CxHxW"`` (default: the model's).
        backends: names of :data:`cnnzoo.registries.BACKENDS`, run in that order (default: all).
        warmup, repeats: untimed calls per backend, then timed rounds of one call per backend (fixed counts,
            no adaptive stopping).
        calibration: data for the INT8 backend (anything :func:`cnnzoo.deploy.quantize.as_arrays` takes);
            default: 32 synthetic standard-normal images.
        threads: CPU threads for torch and ONNX Runtime alike (default: torch's current setting).
        peak: also measure the sgemm peak (for ``peak_fraction``).
    """
    from ..factory import model_from_checkpoint
    from .onnx_export import default_input_size
    from .quantize import as_arrays

    backends = BACKENDS.names() if backends is None else tuple(backends)
    builders = {name: BACKENDS.get(name, DeployError).obj for name in backends}
    if batch < 1 or warmup < 0 or repeats < 1:
        raise DeployError("batch and repeats must be at least 1 and warmup at least 0.")
    model = model_ref.eval() if isinstance(model_ref, nn.Module) else model_from_checkpoint(model_ref)
    name = getattr(model, "cnnzoo_name", None)
    size = parse_input_size(input_size) if input_size is not None else default_input_size(model)
    check_runs(model, size, batch)
    if threads:
        torch.set_num_threads(threads)
    n_threads = torch.get_num_threads()
    say = progress or (lambda _msg: None)
    x = torch.randn(batch, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        num_classes = int(model(x[:1]).shape[1])
    try:
        macs: int | None = count_macs(model, size)
    except Exception as e:  # noqa: BLE001 - reported, the speeds are still useful without it
        say(f"MACs unavailable ({_first_line(e)})")
        macs = None
    calib_images = None
    if calibration is not None and set(INT8_BACKENDS) & set(backends):
        # read (and refuse) the calibration data before any backend is built, not inside the per-backend
        # error capture, where a typo in DATA became "INT8: error" and an exit status of 0
        calib_images, _ = as_arrays(calibration, size, limit=128)
    calib_note = (
        "synthetic: 32 standard-normal images"
        if calibration is None
        else f"given data: {calibration}"
        if isinstance(calibration, str)
        else "given data"
    )
    report = BenchReport(
        name or type(model).__name__,
        batch,
        size,
        n_threads,
        warmup,
        repeats,
        macs,
        None,
        calib_note if set(INT8_BACKENDS) & set(backends) else "not used",
        None,
    )
    with tempfile.TemporaryDirectory(prefix="cnnzoo-bench-") as tmp:
        bench = _Bench(model, x, name, num_classes, Path(tmp), n_threads, calib_images, report)
        runners: dict[str, Callable[[], Any]] = {}
        errors: dict[str, str] = {}
        for backend in backends:  # build and warm every backend first; none is timed yet
            say(f"{backend}: preparing ...")
            try:
                fn = builders[backend](bench, backend)
                for _ in range(max(warmup, 1 if backend == "compile" else 0)):  # compiling is never timed
                    fn()
                runners[backend] = fn
            except DeployError as e:
                errors[backend] = str(e)
            except Exception as e:  # noqa: BLE001 - a backend that cannot run is listed with its error
                errors[backend] = _first_line(e)
        if not runners:
            raise DeployError(
                "no backend could run: " + "; ".join(f"{b}: {e.rstrip('.')}" for b, e in errors.items()) + "."
            )
        if peak and runners:  # the sgemm probe takes part in the rounds, so it sees the same spells
            sgemm, sgemm_flops = _sgemm_runner()
            sgemm()
            runners[SGEMM] = sgemm
        say(f"timing {len(runners)} runner(s), {repeats} interleaved round(s) ...")
        times = interleaved_times(runners, repeats)
        if SGEMM in times:
            report.peak_gflops = sgemm_flops / float(np.median(times[SGEMM])) / 1e9
        for backend in backends:
            if backend in errors or backend not in times:
                report.results.append(BackendResult(backend, error=errors.get(backend, "did not run")))
                continue
            med = float(np.median(times[backend]))
            ips = batch / med
            gflops = None if macs is None else 2 * macs * ips / 1e9
            report.results.append(
                BackendResult(
                    backend,
                    round(ips, 3),
                    round(med * 1e3, 6),  # ms to the nanosecond: a small model's p50 is a fraction of a ms
                    round(float(np.percentile(times[backend], 95)) * 1e3, 6),
                    None if gflops is None else round(gflops, 3),
                    None
                    if gflops is None or not report.peak_gflops
                    else round(gflops / report.peak_gflops, 4),
                )
            )
    return report


def format_report(report: BenchReport) -> str:
    """A plain-text table of a :class:`BenchReport`, with speed-ups against torchvision's eager model."""
    head = (
        f"{report.model}  batch {report.batch}  input {'x'.join(map(str, report.input))}  "
        f"threads {report.threads}  warmup {report.warmup}  repeats {report.repeats}"
    )
    lines = [head]
    if report.macs_per_image is not None:
        lines.append(
            f"{2 * report.macs_per_image / 1e9:.3f} GFLOP per image (2 x {report.macs_per_image:,} MACs)"
        )
    if report.peak_gflops:
        lines.append(f"sgemm 2048 rate in the same rounds: {report.peak_gflops:.1f} GFLOP/s")
    if report.calibration != "not used":
        lines.append(f"INT8 calibration: {report.calibration}")
    base = next(
        (r.images_per_s for r in report.results if r.backend == "torchvision-eager" and r.images_per_s), None
    )
    lines.append(
        f"{'backend':<18} {'img/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'GFLOP/s':>8} {'of sgemm':>8} "
        f"{'vs tv':>6}"
    )
    for r in report.results:
        if r.error:
            lines.append(f"{r.backend:<18} error: {r.error}")
            continue
        gf = f"{r.gflops:8.1f}" if r.gflops is not None else f"{'-':>8}"
        pf = f"{100 * r.peak_fraction:7.1f}%" if r.peak_fraction is not None else f"{'-':>8}"
        rel = f"{r.images_per_s / base:5.2f}x" if base else f"{'-':>6}"
        lines.append(f"{r.backend:<18} {r.images_per_s:9.2f} {r.p50_ms:9.2f} {r.p95_ms:9.2f} {gf} {pf} {rel}")
    return "\n".join(lines)


__all__ = [
    "BACKENDS",
    "INT8_BACKENDS",
    "BackendResult",
    "BenchReport",
    "benchmark",
    "count_macs",
    "format_report",
    "measure_matmul_peak",
    "torchvision_counterpart",
]
