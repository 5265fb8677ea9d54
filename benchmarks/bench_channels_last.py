"""FP32 training steps on the CPU in the default (NCHW) layout vs channels-last (``cnnzoo train
--channels-last``, ``Trainer(channels_last=True)``), for the networks users train here: LeNet-5 and the CIFAR
ResNets of the degradation experiment, at their own input size and batch.

Each step is forward, cross-entropy, backward and an SGD step on one fixed random batch; the two layouts of
each network alternate in interleaved rounds (:func:`cnnzoo.timing.interleaved_times`) and the median is
reported with the ratio. Writes BENCHMARKS.md between ``channels-last:start`` and ``channels-last:end``.

    python benchmarks/bench_channels_last.py                       # 8 rounds, batch 128
    python benchmarks/bench_channels_last.py --rounds 2 --models resnet20 --no-write   # smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from _report import ROOT, cpu_line, summary_line, write_section

START, END = "<!-- channels-last:start -->", "<!-- channels-last:end -->"


def make_step(name: str, batch: int, channels_last: bool) -> Callable[[], None]:
    """One training step of ``name`` (1-channel input at its registered size) in the given layout, warmed
    up."""
    import torch

    from cnnzoo import create_model
    from cnnzoo.registry import model_info

    size = model_info(name).input_size[1:]
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=1).train()
    x = torch.randn(batch, 1, *size)
    y = torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss_fn(out[0] if isinstance(out, tuple) else out, y).backward()
        opt.step()

    for _ in range(2):
        step()
    return step


def main(argv: list[str] | None = None) -> None:
    import torch

    from cnnzoo.timing import interleaved_times

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["lenet5", "resnet20", "resnet56"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--md", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--no-write", action="store_true", help="print the table only (smoke runs)")
    args = ap.parse_args(argv)
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    cpu = cpu_line()
    rows = []
    for name in args.models:
        runners = {
            layout: make_step(name, args.batch, layout == "channels-last")
            for layout in ("NCHW", "channels-last")
        }
        times = interleaved_times(runners, args.rounds)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((name, med["NCHW"], med["channels-last"]))
        a, b = 1000 * med["NCHW"], 1000 * med["channels-last"]
        print(f"{name}: NCHW {a:.0f} ms, channels-last {b:.0f} ms a step")
    lines = [
        f"`python benchmarks/bench_channels_last.py {argv_text}` ({datetime.now():%Y-%m-%d %H:%M}; {cpu}; "
        f"torch {torch.__version__}, {args.threads} thread(s)): FP32 training step (forward, loss, backward, "
        f"SGD) on a fixed batch of {args.batch}, 1-channel input at each model's size, median of "
        f"{args.rounds} interleaved rounds.",
        "",
        "| model | NCHW ms/step | channels-last ms/step | channels-last speed-up |",
        "|---|---:|---:|---:|",
    ]
    for name, a, b in rows:
        lines.append(f"| {name} | {1000 * a:.0f} | {1000 * b:.0f} | {a / b:.2f}x |")
    lines += [
        "",
        "`cnnzoo train MODEL --channels-last` (Python: `Trainer(..., channels_last=True)`) trains in that "
        "layout; bf16 training always does. The default stays NCHW: the gain depends on the CPU and the "
        "network.",
    ]
    lines.append(
        summary_line(
            f"FP32 training step, batch {args.batch}: channels-last vs NCHW (interleaved)",
            ", ".join(f"{n} **{a / b:.2f}x**" for n, a, b in rows),
            "",
            cpu,
        )
    )
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(args.md, START, END, text, "FP32 training on the CPU: channels-last")
        print(f"wrote the channels-last section of {args.md}")


if __name__ == "__main__":
    main()
