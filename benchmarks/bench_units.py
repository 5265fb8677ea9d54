"""``cnnzoo units`` on Fashion-MNIST's 10,000 test images with the ResNet-20 of ``scripts/units_figures.py``:
the time of the whole command against one evaluation pass over the same images (``cnnzoo eval``, the least a
pass over the data costs), timed as whole processes in interleaved rounds, and the peak memory of the units
pass at 1,000 and 10,000 images (it must not grow with the images: one streamed pass keeps ``units x 9``
values). Writes BENCHMARKS.md between ``<!-- units:start -->`` and ``<!-- units:end -->``.

Target (issue #29): the ResNet-20 units pass over the 10,000 images in <= 2 minutes on 2 cores.

    python benchmarks/bench_units.py                     # 3 rounds, 2 threads (~6 min on two quiet cores)
    python benchmarks/bench_units.py --rounds 1 --no-write   # a quick look

Needs the checkpoint ``runs/units/resnet20-fashion/best.pt`` (``python scripts/units_figures.py --only
fashion`` trains it) or ``--checkpoint``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import BENCHMARKS_MD, ROOT, cpu_line, summary_line, write_section  # noqa: E402

START, END = "<!-- units:start -->", "<!-- units:end -->"
CKPT = ROOT / "runs" / "units" / "resnet20-fashion" / "best.pt"
TARGET_S = 120.0


def child(ckpt: str, limit: int) -> None:
    """One units pass over the first ``limit`` test images, in this process: prints the peak RSS after the
    data is loaded and after the pass, and the pass's seconds."""
    sys.path.insert(0, str(ROOT))
    from cnnzoo.analysis.erf import default_erf_layers
    from cnnzoo.explain.unit_patches import top_activations
    from cnnzoo.explain.unit_report import FirstN, _source_for
    from cnnzoo.factory import model_from_checkpoint

    model = model_from_checkpoint(ckpt)
    source = FirstN(_source_for(model, "fashion-mnist", "test", None), limit)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    res = top_activations(model, source, default_erf_layers(model))
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    units = sum(lt.units for lt in res.layers.values())
    print(
        json.dumps(
            {
                "images": res.images,
                "units": units,
                "rss_loaded_mib": before / 1024,
                "rss_peak_mib": after / 1024,
                "pass_s": seconds,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=str(CKPT))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--memory-only",
        action="store_true",
        help="measure and write the memory table only (peak RSS does not depend on the machine's load; "
        "timings on a shared machine are not results)",
    )
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        child(args.checkpoint, args.child)
        return 0
    if not Path(args.checkpoint).is_file():
        raise SystemExit(
            f"{args.checkpoint} is missing: run `python scripts/units_figures.py --only fashion`."
        )
    from cnnzoo.timing import interleaved_processes, run_process

    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT)}
    py = sys.executable
    mem = {}
    for n in (1000, 10000):
        r = run_process([py, __file__, "--checkpoint", args.checkpoint, "--child", str(n)], env=env)
        if r.returncode:
            raise SystemExit(r.output)
        mem[n] = json.loads(r.last_line)
        print(f"memory at {n:,} images: {mem[n]}", flush=True)
    grow = mem[10000]["rss_peak_mib"] - mem[1000]["rss_peak_mib"]
    mem_rows = [
        f"| {n:,} | {m['rss_loaded_mib']:.0f} MiB | {m['rss_peak_mib']:.0f} MiB | {m['pass_s']:.1f} |"
        for n, m in mem.items()
    ]
    mem_text = [
        "| images | peak RSS with the data loaded | peak RSS after the pass | pass s |",
        "|---:|---:|---:|---:|",
        *mem_rows,
        "",
        f"Memory: 10x the images adds {grow:+.0f} MiB to the peak (the pass keeps 9 values per unit; the "
        "rest is torch and the data set).",
    ]
    cmd = " ".join(["python benchmarks/bench_units.py", *(sys.argv[1:] if argv is None else argv)])
    shown = Path(args.checkpoint)
    shown = shown.resolve().relative_to(ROOT) if shown.resolve().is_relative_to(ROOT) else shown
    head = (
        f"ResNet-20 trained on Fashion-MNIST (`{shown}`), its default layers (bn1, layer1, layer2, "
        f"layer3: {mem[10000]['units']} units), top 9, Fashion-MNIST's test images; {args.threads} threads. "
        f"{cpu_line()}."
    )
    if args.memory_only:
        body = "\n".join(
            [
                head,
                "",
                *mem_text,
                "",
                "The time of the whole command against one evaluation pass is measured on a quiet machine by "
                "`python benchmarks/bench_units.py` (this section is then rewritten with both tables); the "
                "`pass s` column above was taken on a shared machine and is not a result.",
                "",
                f"Command: `{cmd}` ({time.strftime('%Y-%m-%d %H:%M')}).",
            ]
        )
        print(body)
        if not args.no_write:
            write_section(BENCHMARKS_MD, START, END, body, "Units pass (top-9 patches)")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-units-"))
    commands = {
        "cnnzoo units": lambda r: [
            py,
            "-m",
            "cnnzoo",
            "units",
            args.checkpoint,
            "--data",
            "fashion-mnist",
            "--no-progress",
            "--recompute",
            "--out",
            str(tmp / f"u{r}"),
        ],
        "cnnzoo eval": [py, "-m", "cnnzoo", "eval", args.checkpoint, "--data", "fashion-mnist"],
    }

    def say(name: str, r: int, res) -> None:  # noqa: ANN001
        if res.returncode:
            raise SystemExit(f"{name} failed:\n{res.output}")
        print(f"round {r + 1}: {name}: {res.wall:.1f} s wall, {res.cpu:.1f} s CPU", flush=True)

    times = interleaved_processes(commands, args.rounds, env=env, progress=say)
    wall = {k: statistics.median(t.wall for t in v) for k, v in times.items()}
    cpu = {k: statistics.median(t.cpu for t in v) for k, v in times.items()}
    units_s, eval_s = wall["cnnzoo units"], wall["cnnzoo eval"]
    ok = "yes" if units_s <= TARGET_S else "NO"
    units_row = (
        f"| `cnnzoo units CKPT --data fashion-mnist --out DIR` | {units_s:.1f} | {cpu['cnnzoo units']:.1f}"
    )
    eval_row = f"| `cnnzoo eval CKPT --data fashion-mnist` | {eval_s:.1f} | {cpu['cnnzoo eval']:.1f}"
    body = "\n".join(
        [
            head
            + " Whole processes (start-up, data, pass, 64 unit pictures, 4 grids, index, page) on the 10,000 "
            f"test images, median of {args.rounds} interleaved rounds.",
            "",
            "| command | wall s | CPU s | ratio to one eval pass |",
            "|---|---:|---:|---:|",
            f"{units_row} | {units_s / eval_s:.2f}x |",
            f"{eval_row} | 1.00x |",
            "",
            f"Target <= {TARGET_S:.0f} s on 2 cores: {ok}.",
            "",
            *mem_text,
            "",
            f"Command: `{cmd}` ({time.strftime('%Y-%m-%d %H:%M')}).",
            summary_line(
                "cnnzoo units, ResNet-20 over 10,000 Fashion-MNIST images",
                f"{units_s:.0f} s",
                f"<= {TARGET_S:.0f} s",
                cpu_line(),
            ),
        ]
    )
    print(body)
    if not args.no_write:
        write_section(BENCHMARKS_MD, START, END, body, "Units pass (top-9 patches)")
        print(f"wrote {BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
