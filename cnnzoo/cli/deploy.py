"""``cnnzoo export`` and ``cnnzoo bench``: ONNX / INT8 deployment and the speed of every CPU backend."""

from __future__ import annotations

import argparse
import json
import sys

from ..options import Calibration, Exporter, Int8Weights
from ..registries import BACKENDS, RUNTIMES
from ._args import add_precision, call_with_args, command

ORDER = 80


_EXPORT_HELP = "export a model or checkpoint to ONNX (optionally INT8)"
_EXPORT = (
    "Export a cnnzoo checkpoint (or a fresh registered model) to ONNX with a dynamic batch "
    "dimension, and check the ONNX graph against the eager model (max relative error printed, 1e-4 "
    "allowed). With --int8, quantize it statically (QDQ, per-channel 8-bit weights, uint8 activations, "
    "calibrated on DATA's training images), report top-1 of FP32 and INT8 on DATA's test part and the "
    "speed of each, and write INT8 only when it is faster and costs at most --max-drop points; "
    "otherwise the FP32 model is written, named for what it holds (int8 in the file name becomes fp32), "
    "and the last line says so. The class names and preprocessing travel in the file's metadata, so "
    "`cnnzoo predict FILE.onnx` and `cnnzoo serve --photo FILE.onnx` use it as they use a checkpoint. "
    "The weights suit this CPU's integer kernels, measured: int8 where they sum exactly (VNNI, AMX); "
    "without VNNI uint8, or int8 in 7 bits when uint8 is not faster (see --weights)."
)

_EXPORT_EXAMPLES = (
    "examples:\n  cnnzoo export runs/lenet5/best.pt --out lenet5.onnx\n"
    "  cnnzoo export runs/r20/best.pt --out r20.onnx --int8 --calibration mnist:DIR\n"
    "  cnnzoo export resnet50 --out r50.onnx --input 3x224x224 --opset 17"
)

_BENCH_HELP = "images/s and latency of a model on every CPU backend"
_BENCH = (
    "Time a model on PyTorch eager FP32, channels-last, bf16, torch.compile, "
    "ONNX Runtime FP32 and INT8, and OpenVINO FP32, bf16 and INT8 (the same two ONNX files), beside "
    "torchvision's implementation of the same architecture, all in one run: fixed warm-up calls, "
    "then rounds that call every backend once in turn, so a slow spell of the machine hits all alike. "
    "Reports images/s, median and p95 latency, achieved GFLOP/s (FLOPs = 2 x MACs) and its fraction "
    "of this machine's sgemm rate, measured in the same rounds."
)

_BENCH_EXAMPLES = (
    "example:\n  cnnzoo bench resnet50 --batch 16 --backends eager onnxruntime-fp32 onnxruntime-int8"
)


def register(sub: argparse._SubParsersAction) -> None:
    e = command(sub, "export", run_export, _EXPORT_HELP, _EXPORT, epilog=_EXPORT_EXAMPLES, raw=True)
    e.add_argument(
        "model", metavar="CHECKPOINT|MODEL", help="a cnnzoo checkpoint file or a registered model name"
    )
    e.add_argument("--out", required=True, metavar="FILE.onnx", help="the ONNX file to write")
    e.add_argument("--input", metavar="CxHxW", help="input size (default: the checkpoint's or the model's)")
    e.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    e.add_argument(
        "--exporter",
        choices=Exporter.values(),
        default="torchscript",
        help="torch.onnx exporter to try first (default torchscript; the other is the fallback)",
    )
    e.add_argument("--int8", action="store_true", help="quantize to INT8 (needs --calibration)")
    e.add_argument(
        "--calibration",
        metavar="DATA",
        help="images to calibrate on: digits, mnist:DIR, cifar:DIR, folder:DIR, or a .pt tensor file",
    )
    e.add_argument(
        "--heldout", metavar="DATA", help="separate held-out set for top-1 (default: DATA's test part)"
    )
    e.add_argument(
        "--calibration-samples", type=int, default=128, metavar="N", help="calibration images (default 128)"
    )
    e.add_argument(
        "--method",
        choices=Calibration.values(),
        default="minmax",
        help="calibration method (default minmax)",
    )
    e.add_argument(
        "--weights",
        choices=Int8Weights.values(),
        help="INT8 weight scheme (default auto: int8 where this CPU's U8S8 kernels sum exactly, as with "
        "VNNI or AMX; without VNNI they saturate, so uint8, or int8-7bit when uint8 is not faster)",
    )
    e.add_argument(
        "--max-drop",
        type=float,
        default=1.0,
        metavar="POINTS",
        help="largest top-1 loss accepted for INT8 (default 1.0 point)",
    )
    e.add_argument(
        "--min-speedup",
        type=float,
        default=1.0,
        metavar="X",
        help="INT8 must run at least X times FP32's images/s on this machine to be kept (default 1.0; 0 "
        "keeps it on accuracy alone, for a device other than this one)",
    )
    e.add_argument(
        "--runtime",
        choices=("auto", *RUNTIMES.names()),
        help="runtime the file will be deployed on, where INT8's accuracy and speed are measured (default "
        "auto: the one that runs the INT8 file faster on this machine; OpenVINO uses AMX where there is)",
    )
    e.add_argument("--json", action="store_true", help="print one JSON object")

    b = command(sub, "bench", run_bench, _BENCH_HELP, _BENCH, epilog=_BENCH_EXAMPLES, raw=True)
    b.add_argument("model", metavar="MODEL|CHECKPOINT", help="a registered model name or a cnnzoo checkpoint")
    b.add_argument("--batch", type=int, default=16, help="images per call (default 16)")
    b.add_argument("--input", metavar="CxHxW", help="input size (default: the model's)")
    b.add_argument(
        "--backends",
        nargs="+",
        metavar="BACKEND",
        help=f"subset of: {' '.join(BACKENDS.names())} (default: all; commas also accepted); the -bf16 ones "
        "need a CPU with native bf16 (AVX512_BF16 or AMX)",
    )
    add_precision(
        b,
        "bf16: time each bf16 backend beside the same backend in fp32 (eager, channels-last, "
        "eager-bf16, openvino-fp32, openvino-bf16) instead of the default set",
        default=None,
    )
    b.add_argument("--warmup", type=int, default=3, help="untimed calls per backend (default 3)")
    b.add_argument(
        "--repeats",
        type=int,
        default=10,
        help="timed rounds; each calls every backend once, in rotating order (default 10)",
    )
    b.add_argument("--threads", type=int, help="CPU threads for torch and ONNX Runtime (default: torch's)")
    b.add_argument(
        "--calibration",
        metavar="DATA",
        help="images to calibrate the INT8 backend on (default: 32 synthetic standard-normal images)",
    )
    b.add_argument("--no-peak", action="store_true", help="skip measuring the sgemm peak")
    b.add_argument("--json", action="store_true", help="print one JSON object")


def run_export(args: argparse.Namespace) -> int:
    from ..deploy import DeployError, QuantConfig, export_int8, export_onnx
    from ..factory import model_from_checkpoint
    from ..sizes import parse_input_size

    if args.int8 and not args.calibration:
        raise DeployError("--int8 needs --calibration DATA (real images to calibrate on, e.g. digits).")
    if args.runtime is not None and not args.int8:
        raise DeployError("--runtime is only used with --int8 (an FP32 file runs anywhere); add --int8.")
    if args.weights is not None and not args.int8:
        raise DeployError("--weights is only used with --int8; add --int8 or drop it.")
    if args.calibration and not args.int8:
        raise DeployError("--calibration is only used with --int8; add --int8 or drop it.")
    if args.min_speedup < 0:
        raise DeployError(f"--min-speedup must be 0 or more, got {args.min_speedup}.")
    size = parse_input_size(args.input) if args.input else None
    model = model_from_checkpoint(args.model)
    if not args.int8:
        res = export_onnx(model, args.out, size, opset=args.opset, exporter=args.exporter)
        if args.json:
            print(
                json.dumps(
                    {
                        "path": str(res.path),
                        "input": "x".join(map(str, res.input_size)),
                        "opset": res.opset,
                        "exporter": res.exporter,
                        "max_rel_error": res.max_rel_error,
                    }
                )
            )
        else:
            print(
                f"wrote {res.path} ({res.exporter} exporter, opset {res.opset}, input "
                f"{'x'.join(map(str, res.input_size))}, dynamic batch)"
            )
            print(f"max relative error vs eager: {res.max_rel_error:.2e} (allowed 1e-04)")
        return 0
    cfg = QuantConfig(
        method=args.method, num_samples=args.calibration_samples, weights=args.weights or "auto"
    )
    rep = export_int8(
        model,
        args.out,
        args.calibration,
        args.heldout,
        input_size=size,
        config=cfg,
        opset=args.opset,
        max_top1_drop=args.max_drop,
        min_speedup=args.min_speedup,
        runtime=args.runtime or "auto",
    )
    if args.json:
        print(json.dumps(rep.as_dict()))
        return 0
    print(f"FP32 ONNX: max relative error vs eager {rep.max_rel_error:.2e} (allowed 1e-04)")
    label = "top-1" if rep.fp32_top1 is not None else "agreement with FP32"
    fp = f"{rep.fp32_top1:.2f}%" if rep.fp32_top1 is not None else "100% (reference)"
    print(
        f"{label} on {rep.heldout_images} held-out images: FP32 {fp}, INT8 {rep.int8_top1:.2f}% "
        f"(calibrated on {rep.calibration_images} images)"
    )
    runtime = {"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}[rep.runtime]
    print(
        f"{runtime} speed at batch {rep.bench_batch}: FP32 {rep.fp32_images_per_s:.1f} img/s, "
        f"INT8 {rep.int8_images_per_s:.1f} img/s ({rep.speedup:.2f}x)"
    )
    print(f"INT8 model: {rep.weights_note}")
    if rep.kept == "int8":
        print(f"wrote {rep.path} (INT8): {rep.reason}")
    else:  # the last line says FP32 was kept, and the file is named for what it holds
        asked = "" if rep.path == str(args.out) else f" (not {args.out}: it holds no INT8)"
        print(f"kept FP32, not INT8: {rep.reason}; wrote the FP32 model to {rep.path}{asked}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from ..deploy import DeployError, benchmark, format_report

    backends: list[str] | None = None
    if args.precision == "bf16":
        from ..precision import check_precision

        check_precision("bf16", "cpu")
        backends = ["eager", "channels-last", "eager-bf16", "openvino-fp32", "openvino-bf16"]
    elif args.precision == "fp32":
        bf16 = {n for n, e in BACKENDS.entries().items() if e.meta.get("precision") == "bf16"}
        backends = [b for b in BACKENDS.names() if b not in bf16]
    if args.backends:
        backends = [b for item in args.backends for b in item.split(",") if b]
    if args.threads is not None and args.threads < 1:
        raise DeployError(f"--threads must be at least 1, got {args.threads}.")
    progress = None if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    given = dict(backends=backends, peak=not args.no_peak, progress=progress)
    report = call_with_args(benchmark, args, args.model, rename={"input_size": "input"}, **given)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(format_report(report))
    return 0
