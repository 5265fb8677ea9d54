"""Export every registered model to ONNX and check it against eager (max relative error <= 1e-4).

Each model is built fresh (random weights, BatchNorm statistics re-estimated on random images in train mode
so that very deep networks give finite, well-scaled outputs as a trained one would), exported at its
registered input size with a dynamic batch, run in ONNX Runtime at batch 1 and 3 and compared with the eager
model. Pass/fail per model goes into BENCHMARKS.md between ``<!-- export-all:start -->`` and
``<!-- export-all:end -->``::

    python benchmarks/export_all.py                  # every model (big ones take a while on 2 cores)
    python benchmarks/export_all.py 'lenet*' 'resnet2*'   # a subset, e.g. to prove it works
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_deploy import ROOT, write_section  # noqa: E402

START, END = "<!-- export-all:start -->", "<!-- export-all:end -->"


def _build(name: str, size: tuple[int, int, int]) -> torch.nn.Module:
    """The model with random weights and BatchNorm running statistics estimated on random images.

    Freshly initialised BatchNorm layers hold mean 0 / variance 1, so in eval mode nothing rescales the
    activations: through 600 residual blocks (ResNet-1202, pre-act ResNet-1001) they overflow to NaN, and
    SE-ResNet-152 becomes chaotic (float32 and float64 eager differ by 0.55 relative). A NaN compared with a
    NaN proves nothing, so the statistics are set as training would set them (``update_bn``: cumulative
    averages over a few train-mode batches), then the model goes back to eval mode."""
    from torch.optim.swa_utils import update_bn

    import cnnzoo

    torch.manual_seed(0)
    model = cnnzoo.create_model(name)
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():
            update_bn([torch.randn(4, *size, generator=gen) for _ in range(4)], model)
    return model.eval()


def _float32_note(name: str, size: tuple[int, int, int]) -> str:
    """Whether eager float32 itself disagrees with float64 on this input: then no exporter can match it."""
    model = _build(name, size)
    x = torch.randn(1, *size)
    with torch.no_grad():
        a, b = model(x), model.double()(x.double()).float()
    rel = ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()
    return f" (eager float32 vs float64 differ by {rel:.2g} relative on the same input)" if rel > 1e-4 else ""


def main() -> int:
    import cnnzoo
    from cnnzoo.deploy import export_onnx

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("patterns", nargs="*", default=["*"],
                    help="fnmatch patterns of model names (default: all)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args()
    names = sorted({n for p in args.patterns for n in cnnzoo.list_models(p)})
    rows, failed = [], 0
    with tempfile.TemporaryDirectory(prefix="cnnzoo-export-all-") as tmp:
        for name in names:
            torch.manual_seed(0)
            t0 = time.time()
            size = cnnzoo.model_info(name).input_size
            try:
                model = _build(name, size)
                onnx_path = Path(tmp) / f"{name}.onnx"
                res = export_onnx(model, onnx_path, opset=args.opset)
                onnx_path.unlink()  # VGG's file alone is 0.5 GB: keep the disk use to one model at a time
                row = (name, "x".join(map(str, res.input_size)), "pass", f"{res.max_rel_error:.1e}",
                       res.exporter)
            except Exception as e:  # noqa: BLE001 - every failure is recorded, the sweep goes on
                failed += 1
                msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:160].replace("|", "/")
                msg += _float32_note(name, size)
                row = (name, "x".join(map(str, size)), f"FAIL: {msg}", "-", "-")
            rows.append((*row, f"{time.time() - t0:.1f}"))
            print(" | ".join(rows[-1]), flush=True)
    pattern_note = "all registered models" if args.patterns == ["*"] else f"models matching {args.patterns}"
    shown = "" if args.patterns == ["*"] else " " + " ".join(args.patterns)
    lines = [f"`python benchmarks/export_all.py{shown}` "
             f"({time.strftime('%Y-%m-%d %H:%M')}): {pattern_note}, opset {args.opset}, random weights with "
             f"BatchNorm statistics estimated on 16 random images, "
             f"registered input size, dynamic batch, checked in ONNX Runtime at batch 1 and 3 against eager "
             f"(relative error = max|onnx - eager| / max|eager|, allowed 1e-4). "
             f"**{len(rows) - failed} / {len(rows)} pass.**",
             "",
             "| model | input | result | max rel. error | exporter | seconds |",
             "|---|---|---|---:|---|---:|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    write_section(args.out, START, END, "\n".join(lines), "ONNX export of every model")
    print(f"{len(rows) - failed}/{len(rows)} pass; wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
