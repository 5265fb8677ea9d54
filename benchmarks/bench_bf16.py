"""bf16 against fp32 on this CPU (issue #16), each ratio from interleaved rounds in one run:

1. inference, ResNet-50 batch 16: eager and OpenVINO, each bf16 beside the same backend in fp32
   (`cnnzoo.deploy.benchmark` with the ``eager-bf16`` / ``openvino-bf16`` backends);
2. one training step, ResNet-50 batch 16: cnnzoo's bf16 step (autocast, channels-last, FP32 master weights,
   what `cnnzoo train --precision bf16` runs) against torchvision's ResNet-50 in fp32 eager;
3. the accuracy cost: ResNet-20 trained on a fixed subset of Fashion-MNIST (Debian's dataset-fashion-mnist,
   IDX files) in fp32 and in bf16 from the same seed, both evaluated on the same test images.

    python benchmarks/bench_bf16.py                       # all three, writes BENCHMARKS.md
    python benchmarks/bench_bf16.py --parts infer train --repeats 5 --no-write

Needs a CPU with native bf16 (AVX512_BF16 or AMX); elsewhere it says so and stops. Each part prints its
table as it finishes; the CPU model and flags head the section.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _report import cpu_line, summary_line  # noqa: E402

FASHION = Path("/usr/share/datasets/fashion-mnist")


def part_infer(repeats: int, batch: int) -> list[str]:
    from cnnzoo.deploy import benchmark

    rep = benchmark(
        "resnet50",
        batch=batch,
        backends=["eager", "channels-last", "eager-bf16", "openvino-fp32", "openvino-bf16"],
        warmup=2,
        repeats=repeats,
        peak=False,
        progress=lambda m: print("  " + m, flush=True),
    )
    ips = {r.backend: r.images_per_s for r in rep.results}
    err = {r.backend: r.error for r in rep.results if r.error}
    lines = [
        f"ResNet-50, batch {batch}, {rep.threads} threads, {repeats} interleaved rounds:",
        "",
        "| backend | images/s | bf16 / same backend fp32 |",
        "|---|---:|---:|",
    ]
    pairs = {"eager-bf16": "eager", "openvino-bf16": "openvino-fp32"}
    for b, v in ips.items():
        if v is None:
            lines.append(f"| {b} | error: {err.get(b, '?')} | |")
            continue
        ref = pairs.get(b)
        ratio = (
            f"{v / ips[ref]:.2f}x (vs {ref}; {v / ips['channels-last']:.2f}x vs channels-last)"
            if (b == "eager-bf16" and ips.get(ref) and ips.get("channels-last"))
            else (f"{v / ips[ref]:.2f}x" if ref and ips.get(ref) else "")
        )
        lines.append(f"| {b} | {v:.1f} | {ratio} |")
    if ips.get("openvino-bf16") and ips.get("openvino-fp32") and ips.get("eager-bf16") and ips.get("eager"):
        lines.append(
            summary_line(
                f"ResNet-50 inference, batch {batch}: bf16 vs the same backend's FP32 (interleaved)",
                f"OpenVINO **{ips['openvino-bf16'] / ips['openvino-fp32']:.2f}x** "
                f"({ips['openvino-bf16']:.1f} vs {ips['openvino-fp32']:.1f} img/s); eager "
                f"{ips['eager-bf16'] / ips['eager']:.2f}x",
                ">= 1.8x",
                cpu_line(),
            )
        )
    return lines


def part_train(repeats: int, batch: int) -> list[str]:
    import torch
    import torchvision

    import cnnzoo
    from cnnzoo.precision import autocast
    from cnnzoo.timing import interleaved_times, median

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 224, 224, generator=gen)
    y = torch.randint(0, 1000, (batch,), generator=gen)

    def step_fn(model: torch.nn.Module, bf16: bool):  # noqa: ANN202
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        xx = x.contiguous(memory_format=torch.channels_last) if bf16 else x
        if bf16:
            model.to(memory_format=torch.channels_last)
        model.train()

        def run() -> None:
            with autocast("bf16" if bf16 else "fp32", "cpu"):
                loss = torch.nn.functional.cross_entropy(model(xx), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return run

    runners = {
        "torchvision fp32 eager": step_fn(torchvision.models.resnet50(), False),
        "cnnzoo fp32 eager": step_fn(cnnzoo.create_model("resnet50_v1_5"), False),
        "cnnzoo bf16 (autocast, channels-last)": step_fn(cnnzoo.create_model("resnet50_v1_5"), True),
    }
    for fn in runners.values():  # warm-up, untimed
        fn()
    times = interleaved_times(runners, repeats)
    ref = batch / median(times["torchvision fp32 eager"])
    lines = [
        f"ResNet-50 training step (forward, loss, backward, SGD), batch {batch}, "
        f"{repeats} interleaved rounds:",
        "",
        "| step | images/s | vs torchvision fp32 |",
        "|---|---:|---:|",
    ]
    for n, t in times.items():
        ips = batch / median(t)
        lines.append(f"| {n} | {ips:.2f} | {ips / ref:.2f}x |")
    bf16 = batch / median(times["cnnzoo bf16 (autocast, channels-last)"])
    lines.append(
        summary_line(
            f"ResNet-50 v1.5 training step, batch {batch}: cnnzoo bf16 vs torchvision FP32 eager",
            f"{bf16:.2f} vs {ref:.2f} img/s: **{bf16 / ref:.2f}x**",
            ">= 2x",
            cpu_line(),
        )
    )
    return lines


def part_accuracy(train_images: int, test_images: int, epochs: int) -> list[str]:
    import torch
    from torch.utils.data import Subset

    import cnnzoo
    from cnnzoo.data import load_data
    from cnnzoo.train import evaluate, get_recipe, seed_everything
    from cnnzoo.train.loop import Trainer

    if not FASHION.is_dir():
        return [f"accuracy part skipped: {FASHION} is missing (apt-get install dataset-fashion-mnist)."]
    data = load_data(f"mnist:{FASHION}", 1, 32, augment="none")
    g = torch.Generator().manual_seed(0)
    tr = Subset(data.train, torch.randperm(len(data.train), generator=g)[:train_images].tolist())
    te = Subset(data.test, torch.randperm(len(data.test), generator=g)[:test_images].tolist())
    rec = get_recipe("resnet_cifar").with_overrides(
        epochs=epochs, batch_size=64, lr=0.05, schedule="constant"
    )
    res = {}
    for precision in ("fp32", "bf16"):
        seed_everything(0)
        model = cnnzoo.create_model("resnet20", num_classes=10, in_chans=1)
        opt = rec.make_optimizer(model)
        t = Trainer(model, opt, tr, epochs=epochs, batch_size=64, progress=False, precision=precision)
        t.fit()
        res[precision] = evaluate(model, te, precision=precision).top1
        print(f"  {precision}: test top-1 {res[precision]:.4f}", flush=True)
    return [
        f"ResNet-20 on Fashion-MNIST ({train_images:,} training images, {epochs} epochs, SGD lr 0.05, "
        f"batch 64; {test_images:,} test images), same seed:",
        "",
        "| precision | test top-1 |",
        "|---|---:|",
        f"| fp32 | {res['fp32']:.4f} |",
        f"| bf16 | {res['bf16']:.4f} |",
        "",
        f"Change: {100 * (res['bf16'] - res['fp32']):+.2f} points (target: within 0.2 for inference, 0.3 for "
        "training).",
    ]


def main(argv: list[str] | None = None) -> int:
    from cnnzoo.precision import cpu_has_native_bf16
    from cnnzoo.timing import cpu_description, write_section

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--parts", nargs="+", choices=("infer", "train", "accuracy"), default=["infer", "train", "accuracy"]
    )
    ap.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--train-images", type=int, default=4000)
    ap.add_argument("--test-images", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    cpu = cpu_description()
    print(f"CPU: {cpu}", flush=True)
    if not cpu_has_native_bf16():
        print("this CPU has no native bf16 (AVX512_BF16 or AMX): nothing to measure.", file=sys.stderr)
        return 2
    sections = [
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `benchmarks/bench_bf16.py`. CPU: {cpu}."
    ]
    for part in args.parts:
        print(f"\n[{part}]", flush=True)
        if part == "infer":
            lines = part_infer(args.repeats, args.batch)
        elif part == "train":
            lines = part_train(args.repeats, args.batch)
        else:
            lines = part_accuracy(args.train_images, args.test_images, args.epochs)
        print("\n".join(lines), flush=True)
        sections.append("\n".join(lines))
    if not args.no_write:
        write_section(args.out, "bf16", "\n\n".join(sections), "bf16 on CPUs that have it")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
