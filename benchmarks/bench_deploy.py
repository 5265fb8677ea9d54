"""Deployment benchmark (issue #8): ResNet-50 speed on every CPU backend, and what INT8 costs in accuracy.

1. Speed: ``cnnzoo.deploy.benchmark("resnet50_v1_5", batch=16)`` -- torchvision's eager ResNet-50, cnnzoo's
   eager, channels-last, torch.compile, ONNX Runtime FP32 and INT8, OpenVINO FP32 and INT8 (the same two
   files; INT8 calibrated on synthetic images, which does not change speed) in one run of interleaved rounds.
   Targets: INT8 >= 4x ORT FP32; best FP32 backend >= 2.5x torchvision eager.
2. Accuracy: LeNet-5 and a CIFAR ResNet-20 trained on the real MNIST test set's fixed 8,000 / 2,000 split
   (``mnist:$CNNZOO_MNIST_T10K``), then quantized (calibration on 128 training images) and evaluated on
   the 2,000 held-out images. Target: INT8 loses at most 0.5 points of top-1.

Results go into BENCHMARKS.md between ``<!-- bench-deploy:start -->`` and ``<!-- bench-deploy:end -->``
(other sections are kept). Timings on a busy machine are disturbed; rerun on a quiet one::

    python benchmarks/bench_deploy.py                        # full: 5 warm-up, 20 repeats, 3 epochs
    python benchmarks/bench_deploy.py --quick                # proves it works: 1 warm-up, 3 repeats, 1 epoch
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import cpu_line, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MNIST = Path(os.environ.get("CNNZOO_MNIST_T10K", ROOT / "no-mnist-t10k"))  # the t10k IDX files
START, END = "<!-- bench-deploy:start -->", "<!-- bench-deploy:end -->"


def speed_section(args: argparse.Namespace) -> tuple[str, dict]:
    from cnnzoo.deploy import benchmark, format_report

    # v1.5 is the architecture torchvision's resnet50 has, so the comparison is like for like.
    rep = benchmark(
        "resnet50_v1_5",
        batch=args.batch,
        warmup=args.warmup,
        repeats=args.repeats,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(format_report(rep))
    from cnnzoo.deploy.bench import INT8_BACKENDS

    r = {x.backend: x for x in rep.results}
    ips = {k: v.images_per_s for k, v in r.items() if v.images_per_s}
    fp32 = {k: v for k, v in ips.items() if k not in INT8_BACKENDS and k != "torchvision-eager"}
    best = max(fp32, key=fp32.get) if fp32 else None
    ort = ips.get("onnxruntime-fp32")
    ratios = {
        "int8_vs_ort_fp32": {k: ips[k] / ort for k in INT8_BACKENDS if k in ips and ort},
        "best_fp32": best,
        "best_fp32_vs_torchvision": fp32[best] / ips["torchvision-eager"]
        if best and "torchvision-eager" in ips
        else None,
    }
    lines = [
        f"ResNet-50 v1.5 (cnnzoo `resnet50_v1_5`, the same architecture as torchvision's "
        f"`{rep.torchvision_model}`) at batch "
        f"{rep.batch}, input {'x'.join(map(str, rep.input))}, {rep.threads} threads; every backend "
        f"built and warmed up ({rep.warmup} calls), then {rep.repeats} interleaved rounds each calling "
        "every backend and a 2048x2048 sgemm once, in rotating order (so a slow spell of this shared "
        f"virtual machine falls on all of them alike); INT8 calibration: {rep.calibration}.",
        "",
        "| backend | images/s | p50 ms | p95 ms | GFLOP/s | of sgemm rate | vs torchvision eager |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    base = ips.get("torchvision-eager")
    for x in rep.results:
        if x.error:
            lines.append(f"| {x.backend} | error: {x.error} | | | | | |")
            continue
        gf = f"{x.gflops:.1f}" if x.gflops is not None else "-"
        pf = f"{100 * x.peak_fraction:.1f}%" if x.peak_fraction is not None else "-"
        rel = f"{x.images_per_s / base:.2f}x" if base else "-"
        lines.append(
            f"| {x.backend} | {x.images_per_s:.2f} | {x.p50_ms:.1f} | {x.p95_ms:.1f} | {gf} | {pf} | {rel} |"
        )
    lines.append("")
    if rep.macs_per_image:
        lines.append(
            f"FLOPs per image: {2 * rep.macs_per_image / 1e9:.3f} G (2 x MACs from "
            "`cnnzoo.profile`); "
            f"sgemm rate in the same rounds (median): {rep.peak_gflops:.1f} GFLOP/s."
        )
    for k, q in ratios["int8_vs_ort_fp32"].items():
        verdict = "met" if q >= 4 else "NOT met"
        lines.append(f"- {k} vs onnxruntime-fp32: **{q:.2f}x** (target >= 4x: {verdict})")
    if not ratios["int8_vs_ort_fp32"]:
        lines.append("- INT8 vs ONNX Runtime FP32: not measured")
    b = ratios["best_fp32_vs_torchvision"]
    lines.append(
        f"- best FP32 backend ({best}) vs torchvision eager: **{b:.2f}x** (target >= 2.5x: "
        f"{'met' if b >= 2.5 else 'NOT met'})"
        if b
        else "- best FP32 vs torchvision: not measured"
    )
    tv, bst = r.get("torchvision-eager"), r.get(best) if best else None
    if tv and bst and tv.peak_fraction and bst.peak_fraction and b and b < 2.5:
        need = 250 * tv.peak_fraction
        lines.append(
            f"  The best FP32 backend runs at {100 * bst.peak_fraction:.0f}% of the sgemm rate and "
            f"torchvision eager at {100 * tv.peak_fraction:.0f}%, so 2.5x torchvision needs "
            f"{need:.0f}% of it"
            + (
                ": more than a float32 GEMM itself reaches here, for a network "
                "that must still do all of its multiply-adds."
                if need > 100
                else "."
            )
        )
    return "\n".join(lines), ratios


def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int) -> torch.nn.Module:
    """Adam, batch 64, fixed seed: enough for a good MNIST model in a few epochs."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def accuracy_section(args: argparse.Namespace) -> tuple[str, list[dict]]:
    import cnnzoo
    from cnnzoo.data import load_data
    from cnnzoo.deploy import as_arrays, export_int8

    if not MNIST.is_dir():
        return f"MNIST not found at {MNIST}; accuracy not measured.", []
    rows = []
    for name in ("lenet5", "resnet20"):
        torch.manual_seed(0)
        in_chans, size = 1, 32
        bundle = load_data(f"mnist:{MNIST}", in_chans=in_chans, input_size=size)
        x, y = as_arrays(bundle, (in_chans, size, size), split="train")
        t0 = time.time()
        model = train(
            cnnzoo.create_model(name, num_classes=10, in_chans=in_chans),
            torch.from_numpy(x),
            torch.from_numpy(y),
            args.epochs,
        )
        ckpt = {"classes": bundle.classes, "mean": bundle.mean, "std": bundle.std}
        out = ROOT / "runs" / "bench_deploy" / f"{name}_mnist.onnx"
        rep = export_int8(
            model,
            out,
            bundle,
            checkpoint=ckpt,
            input_size=(in_chans, size, size),
            num_heldout=10_000,
            min_speedup=0.0,
            max_top1_drop=100.0,
            bench_repeats=args.repeats,
        )
        ov = export_int8(
            model,
            out.with_name(f"{name}_mnist_openvino.onnx"),
            bundle,
            checkpoint=ckpt,
            input_size=(in_chans, size, size),
            num_heldout=10_000,
            min_speedup=0.0,
            max_top1_drop=100.0,
            bench_repeats=args.repeats,
            runtime="openvino",
        )
        drop = rep.fp32_top1 - rep.int8_top1
        print(
            f"{name}: train {len(x)} imgs {time.time() - t0:.0f}s, FP32 {rep.fp32_top1:.2f}% INT8 "
            f"{rep.int8_top1:.2f}% (drop {drop:.2f}), speed {rep.speedup:.2f}x; OpenVINO INT8 "
            f"{ov.int8_top1:.2f}%, speed {ov.speedup:.2f}x",
            flush=True,
        )
        rows.append(
            {
                "model": name,
                "train": len(x),
                "heldout": rep.heldout_images,
                "fp32": rep.fp32_top1,
                "int8": rep.int8_top1,
                "drop": drop,
                "speedup": rep.speedup,
                "fp32_ips": rep.fp32_images_per_s,
                "int8_ips": rep.int8_images_per_s,
                "ov_int8": ov.int8_top1,
                "ov_drop": ov.fp32_top1 - ov.int8_top1,
                "ov_speedup": ov.speedup,
            }
        )
    lines = [
        f"Trained {args.epochs} epoch(s) (Adam 1e-3, batch 64) on MNIST t10k's fixed 8,000-image "
        "training split at 1x32x32; INT8 = QDQ, per-channel int8 weights, uint8 activations, MinMax "
        "calibration on 128 training images; top-1 on the 2,000 held-out images. The same INT8 file run "
        "by ONNX Runtime and by OpenVINO (`--runtime openvino`); speed of INT8 vs FP32 on each runtime "
        "at batch 16.",
        "",
        "| model | train / held-out | FP32 top-1 | INT8 top-1 (ORT) | drop (points) | ORT INT8 speed "
        "| ORT ships | INT8 top-1 (OpenVINO) | drop | OpenVINO INT8 speed | OpenVINO ships |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]

    def ships(speedup: float, drop: float) -> str:
        return "INT8" if speedup >= 1.0 and drop <= 1.0 else "FP32 (INT8 not faster)"

    for r in rows:
        lines.append(
            f"| {r['model']} | {r['train']:,} / {r['heldout']:,} | {r['fp32']:.2f}% | "
            f"{r['int8']:.2f}% | "
            f"{r['drop']:.2f} {'(<= 0.5: met)' if r['drop'] <= 0.5 else '(> 0.5: NOT met)'} | "
            f"{r['speedup']:.2f}x | {ships(r['speedup'], r['drop'])} | {r['ov_int8']:.2f}% | "
            f"{r['ov_drop']:.2f} | {r['ov_speedup']:.2f}x | "
            f"{ships(r['ov_speedup'], r['ov_drop'])} |"
        )
    return "\n".join(lines), rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few repeats and 1 epoch: proves the script works")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args()
    if args.quick:
        args.warmup, args.repeats, args.epochs = 1, 3, 1
    parts = [
        f"Machine: {cpu_line()}; torch {torch.__version__}. Command: `python benchmarks/bench_deploy.py"
        f"{' --quick' if args.quick else ''}` ({time.strftime('%Y-%m-%d %H:%M')})."
    ]
    if args.quick:
        parts.append(
            "**Quick run (few repeats, 1 epoch) on a shared, busy machine: figures prove the script "
            "works; rerun without --quick on a quiet machine for the real ones.**"
        )
    if not args.skip_speed:
        parts.append("### Speed\n\n" + speed_section(args)[0])
    if not args.skip_accuracy:
        parts.append("### INT8 accuracy on real MNIST\n\n" + accuracy_section(args)[0])
    write_section(args.out, START, END, "\n\n".join(parts), "Deployment: ONNX Runtime, INT8 and backends")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
