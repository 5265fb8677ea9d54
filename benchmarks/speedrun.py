"""Time to accuracy on a CPU (issue #30): ResNet-20 to 93% Fashion-MNIST test top-1, the ``fast`` recipe
against the paper's recipe in plain FP32, and what each lever buys.

Two parts, both written into BENCHMARKS.md (section ``speedrun``) with the CPU line:

1. **Whole runs**, as a user types them, one process each, alternating reference and fast run for every seed
   (3 seeds: median and spread of wall seconds and test top-1; the checkpoint is picked on the validation
   split, the test set is read once, at the end):

   - reference: ``cnnzoo train resnet20 --data fashion-mnist --recipe resnet_cifar --epochs 8`` (the paper's
     recipe, FP32 NCHW, 3x32x32 = the greyscale image copied 3 times and padded, batch 128, step schedule);
   - fast: ``cnnzoo train resnet20 --data fashion-mnist --recipe fast --input 1x28x28 --channels-last``,
     with ``--precision bf16`` on CPUs that compute in bf16 natively (AVX-512 BF16, AMX).

   The accuracy-against-seconds curve of each run is its per-epoch validation top-1 at the cumulative
   training seconds (``metrics.csv``).

2. **Levers**, one added at a time to the reference's training step, timed in interleaved rounds in this
   process (images per second over whole batches: read, augment, forward, backward, update): the native
   1x28x28 input, channels-last, the uint8 batch augmentation (one gather per batch instead of torchvision
   per image), batch 256, bf16 autocast where the CPU has it natively. The schedule's share is read off
   part 1.

Usage::

    python benchmarks/speedrun.py                      # ~45 min on 2 quiet cores; writes BENCHMARKS.md
    python benchmarks/speedrun.py --seeds 0 --levers-only --no-write     # the lever table alone, ~2 min
    python benchmarks/speedrun.py --seeds 0 --epochs-ref 1 --epochs-fast 1 --no-write   # a smoke run, ~10 min

The targets (issue #30): >= 93.0% test top-1 in <= 300 s wall on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _report import summary_line  # noqa: E402

TARGET_TOP1, TARGET_S = 0.93, 300.0
TIMEOUT_S = 3600.0  # a whole run's limit: the FP32 reference took ~10.5 min on a 2-core AVX-512 EPYC


def _commands(args: argparse.Namespace, tmp: Path) -> dict:
    base = [
        sys.executable,
        "-m",
        "cnnzoo",
        "train",
        "resnet20",
        "--data",
        args.data,
        "--no-progress",
        "--json",
    ]
    threads = ["--threads", str(args.threads)] if args.threads else []

    def ref(r: int) -> list[str]:
        seed = args.seeds[r]
        return [*base, "--recipe", "resnet_cifar", "--epochs", str(args.epochs_ref), "--seed", str(seed),
                *threads, "--out", str(tmp / f"ref-{seed}")]  # fmt: skip

    def fast(r: int) -> list[str]:
        seed = args.seeds[r]
        out = str(tmp / f"fast-{seed}")
        precision = ["--precision", "bf16"] if _fast_precision(args) == "bf16" else []
        return [*base, "--recipe", "fast", "--epochs", str(args.epochs_fast), "--input", "1x28x28",
                "--channels-last", *precision, "--seed", str(seed), *threads, "--out", out]  # fmt: skip

    return {"reference": ref, "fast": fast}


def _fast_precision(args: argparse.Namespace) -> str:
    """The fast run's precision: ``--precision``, or bf16 where the CPU computes in bf16 natively (AVX-512
    BF16 or AMX; the lever table measures what it buys) and FP32 elsewhere."""
    if args.precision != "auto":
        return args.precision
    from cnnzoo.precision import cpu_has_native_bf16

    return "bf16" if cpu_has_native_bf16() else "fp32"


def _test_top1(output: str) -> float:
    """The test top-1 from a ``cnnzoo train --json`` run's output: its JSON result line (stdout), which need
    not be the last line, since the run's stderr (its progress lines) comes after it."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                return float(json.loads(line)["top1"])
    raise SystemExit(f"no JSON result line in a run's output: {output[-300:]!r}")


def _curve(run_dir: Path) -> list[tuple[float, float]]:
    """``(cumulative training seconds, validation top-1)`` per epoch from the run's ``metrics.csv``."""
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    out, t = [], 0.0
    for r in rows:
        t += float(r["time_s"])
        out.append((t, float(r.get("val_top1") or r["train_top1"])))
    return out


def _spread(values: list[float], fmt: str) -> str:
    from cnnzoo.timing import median

    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def whole_runs(args: argparse.Namespace) -> tuple[list[str], dict]:
    """Part 1: alternating whole processes; returns the table lines and the figures for the summary."""
    from cnnzoo.timing import interleaved_processes, median

    tmp = Path(tempfile.mkdtemp(prefix="cnnzoo-speedrun-"))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def show(name: str, r: int, res) -> None:  # noqa: ANN001
        print(f"seed {args.seeds[r]}  {name:<9} wall {res.wall:7.1f} s  exit {res.returncode}", flush=True)

    commands = _commands(args, tmp)
    rounds = len(args.seeds)
    if args.ref_seeds < rounds:  # the reference's seeds, run first, then the fast runs' remaining seeds
        ref, fast = commands["reference"], commands["fast"]
        both = interleaved_processes(
            {"reference": ref, "fast": fast}, args.ref_seeds, env=env, progress=show, timeout=TIMEOUT_S
        )
        rest = interleaved_processes(
            {"fast": lambda r: fast(r + args.ref_seeds)}, rounds - args.ref_seeds, env=env,
            progress=lambda name, r, res: show(name, r + args.ref_seeds, res), timeout=TIMEOUT_S,
        )  # fmt: skip
        results = {"reference": both["reference"], "fast": both["fast"] + rest["fast"]}
    else:
        results = interleaved_processes(commands, rounds, env=env, progress=show, timeout=TIMEOUT_S)
    lines = [
        "| run | command | wall s | test top-1 | validation top-1 after each epoch (at training seconds) |",
        "|---|---|---:|---:|---|",
    ]
    figures: dict = {}
    for name, runs in results.items():
        bad = [r for r in runs if r.returncode]
        if bad:
            raise SystemExit(f"a {name} run failed: {bad[0].last_line}")
        tops = [_test_top1(r.output) for r in runs]
        walls = [r.wall for r in runs]
        seed0 = tmp / f"{'ref' if name == 'reference' else 'fast'}-{args.seeds[0]}"
        curve = ", ".join(f"{acc:.2%} @ {t:.0f} s" for t, acc in _curve(seed0))
        argv = _commands(args, tmp)[name](0)
        shown = [a for a in argv[3 : argv.index("--seed")] if a not in ("--json", "--no-progress")]
        lines.append(
            f"| {name} | `cnnzoo {' '.join(shown)}` | {_spread(walls, '.0f')} | "
            f"{_spread([100 * t for t in tops], '.2f')}% | {curve} (seed {args.seeds[0]}) |"
        )
        figures[name] = {"wall": median(walls), "top1": median(tops), "walls": walls, "tops": tops}
    return lines, figures


def levers(args: argparse.Namespace) -> tuple[list[str], dict]:
    """Part 2: images per second of the training step with one lever added at a time, interleaved; returns
    the table lines and the bound's figures (the best rate, the seconds the fast recipe's steps need)."""
    import torch
    import torch.nn.functional as F

    from cnnzoo import create_model
    from cnnzoo.data.sources import build_data, load_source
    from cnnzoo.precision import autocast, cpu_has_native_bf16
    from cnnzoo.timing import interleaved_times, median
    from cnnzoo.train.loop import TensorBatches
    from cnnzoo.train.optim import SGD

    if args.threads:
        torch.set_num_threads(args.threads)
    raw = load_source(args.data)
    steps = args.lever_steps

    def runner(in_chans: int, side: int, channels_last: int, batched: int, batch: int, bf16: int = 0):  # noqa: ANN202
        bundle = build_data(raw, in_chans, (side, side), augment="crop-flip")
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = create_model("resnet20", num_classes=10, in_chans=in_chans).to(memory_format=fmt).train()
        opt = SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        gen = torch.Generator().manual_seed(0)
        idx = torch.randperm(len(bundle.train), generator=gen)[: steps * batch]
        ds = bundle.train
        if batched:  # what the Trainer does with in-memory data: one read and one augmentation per batch
            batches = TensorBatches(ds, idx, batch)
        else:  # torchvision's crops and flips image by image, collated by a DataLoader
            from torch.utils.data import DataLoader, Subset

            batches = DataLoader(Subset(ds, idx.tolist()), batch_size=batch, num_workers=0)

        def run() -> None:
            for x, y in batches:
                with autocast("bf16" if bf16 else "fp32", "cpu"):
                    loss = F.cross_entropy(model(x.contiguous(memory_format=fmt)), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        return run, steps * batch

    ladder = [
        ("reference: 3x32x32, NCHW, torchvision crops+flips per image, batch 128", (3, 32, 0, 0, 128)),
        ("+ Fashion-MNIST's own 1x28x28 (no padding, no channel copies)", (1, 28, 0, 0, 128)),
        ("+ channels-last", (1, 28, 1, 0, 128)),
        ("+ uint8 batches, crops and flips as one gather per batch", (1, 28, 1, 1, 128)),
        ("+ batch 256 (the fast recipe's step)", (1, 28, 1, 1, 256)),
    ]  # fmt: skip
    if cpu_has_native_bf16():  # only where the CPU computes in bf16 itself (elsewhere autocast emulates it)
        ladder.append(("+ bf16 autocast (FP32 master weights; `--precision bf16`)", (1, 28, 1, 1, 256, 1)))
    runners, images = {}, {}
    from cnnzoo.train.recipes import get_recipe

    # the images a fast run trains on: the training set less its validation split
    n_train = round(len(raw.train) * (1 - (get_recipe("fast").val_fraction or 0.0)))
    for label, cfg in ladder:
        runners[label], images[label] = runner(*cfg)
        runners[label]()  # warm-up: kernels chosen, buffers allocated
    times = interleaved_times(runners, args.lever_rounds)
    rates = {k: images[k] / median(v) for k, v in times.items()}
    first = rates[ladder[0][0]]
    lines = [
        "| training step | images/s (median of rounds) | vs reference | this lever |",
        "|---|---:|---:|---:|",
    ]
    prev = first
    for label, _ in ladder:
        r = rates[label]
        lines.append(f"| {label} | {r:.0f} | {r / first:.2f}x | {r / prev:.2f}x |")
        prev = r
    best = max(rates.values())
    need = args.epochs_fast * n_train / best
    lines += [
        "",
        f"Bound: at the fastest step measured here ({best:.0f} images/s), the fast recipe's "
        f"{args.epochs_fast} epochs of {n_train:,} training images take at least **{need:.0f} s** of "
        f"training steps alone (no validation, no start-up); {TARGET_S:.0f} s buys "
        f"{TARGET_S * best / n_train:.1f} epochs.",
    ]
    return lines, {"rate": best, "need_s": need, "epochs_in_target": TARGET_S * best / n_train}


def main(argv: list[str] | None = None) -> int:
    from cnnzoo.timing import cpu_description, write_section

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument(
        "--ref-seeds", type=int, default=3,
        help="how many of the seeds the reference also runs (default 3; fewer halves the run: the "
        "reference is the slow one)",
    )  # fmt: skip
    ap.add_argument("--epochs-ref", type=int, default=8, help="the reference's epochs (default 8)")
    ap.add_argument("--epochs-fast", type=int, default=8, help="the fast recipe's epochs (default 8)")
    ap.add_argument(
        "--precision", choices=("auto", "fp32", "bf16"), default="auto",
        help="the fast run's precision (default auto: bf16 where the CPU has it natively, else fp32)",
    )  # fmt: skip
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: cnnzoo's own choice)")
    ap.add_argument("--lever-steps", type=int, default=20, help="training steps per lever and round")
    ap.add_argument("--lever-rounds", type=int, default=3)
    ap.add_argument("--levers-only", action="store_true", help="skip the whole runs")
    ap.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    cpu = cpu_description()
    print(f"CPU: {cpu}", flush=True)
    t0 = time.time()
    lever_lines, bound = levers(args)
    print("\n".join(lever_lines), flush=True)
    run_lines, figures = ([], {}) if args.levers_only else whole_runs(args)
    print("\n".join(run_lines), flush=True)
    body = [
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `python benchmarks/speedrun.py "
        f"{' '.join(sys.argv[1:] if argv is None else argv)}` ({time.time() - t0:.0f} s). CPU: {cpu}.",
        "",
        "Target (issue #30): >= 93.0% Fashion-MNIST test top-1 in <= 300 s wall on 2 cores. Each run "
        "picks its checkpoint on a validation split held out of the training images (10%) and reads the "
        "test set once.",
        "",
    ]
    if run_lines:
        fast, ref = figures["fast"], figures["reference"]
        body += [
            f"Whole runs, alternating reference and fast for seeds {', '.join(map(str, args.seeds))} "
            f"(the reference for the first {min(args.ref_seeds, len(args.seeds))}; median, min-max):",
            "",
            *run_lines,
            "",
            f"Fast recipe: **{fast['wall']:.0f} s at {fast['top1']:.2%}** against the plain-FP32 reference's "
            f"{ref['wall']:.0f} s at {ref['top1']:.2%} ({ref['wall'] / fast['wall']:.2f}x sooner).",
            "",
            summary_line(
                "time to accuracy: ResNet-20 on Fashion-MNIST, `--recipe fast` vs the paper's recipe (FP32)",
                f"**{fast['wall']:.0f} s, {fast['top1']:.2%}** (median of {len(args.seeds)} seeds); "
                f"reference {ref['wall']:.0f} s, {ref['top1']:.2%}",
                ">= 93.0% in <= 300 s",
                cpu,
            ),
            "",
        ]
    body += ["Each lever's share of the training step (interleaved rounds in one process):", "", *lever_lines]
    if not run_lines:  # the lever table alone: its bound is the headline
        body += [
            "",
            summary_line(
                "time to accuracy: ResNet-20 on Fashion-MNIST, `--recipe fast` (bound from the step rate)",
                f"best step {bound['rate']:.0f} images/s: {args.epochs_fast} epochs need >= "
                f"{bound['need_s']:.0f} s; 300 s buys {bound['epochs_in_target']:.1f} epochs",
                ">= 93.0% in <= 300 s",
                cpu,
            ),
        ]
    text = "\n".join(body)
    print("\n" + text)
    if not args.no_write:
        write_section(args.out, "speedrun", text, "Time to accuracy: Fashion-MNIST 93% on a CPU")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
