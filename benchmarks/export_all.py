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


def _conditioning(model: torch.nn.Module, size: tuple[int, int, int]) -> float:
    """How far eager float32 is from eager float64 on one random image (relative, as the check measures;
    infinite when float32 overflows). A network whose float32 forward is already this far from exact
    arithmetic cannot be matched closer by any exporter."""
    import copy

    from cnnzoo.deploy import relative_error

    x = torch.randn(1, *size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a = model(x).numpy()
        b = copy.deepcopy(model).double()(x.double()).float().numpy()
    return relative_error(a, b)


def _build(name: str, size: tuple[int, int, int]) -> tuple[torch.nn.Module, str, float]:
    """The model with random weights, the weights' description, and its float32 conditioning.

    Default initialisation first (BatchNorm at mean 0 / variance 1, an identity in eval mode; with He-init
    convolutions the activations keep their scale). Where that is not numerically sound -- through 600
    residual blocks (ResNet-1202, pre-act ResNet-1001) the activations overflow to NaN, SE-ResNet-152's
    float32 and float64 forwards differ by 0.55 -- the BatchNorm statistics are set as training would set them
    (``update_bn``: averages over 16 random images in train mode). That is not the default for every model:
    batch-normalised deep plain nets are chaotic (Yang et al., "A Mean Field Theory of Batch Normalization",
    ICLR 2019), so for plain-110 it turns a well-conditioned function into one whose own float32 and float64
    forwards differ by 15%."""
    from torch.optim.swa_utils import update_bn

    import cnnzoo

    torch.manual_seed(0)
    model = cnnzoo.create_model(name).eval()
    cond = _conditioning(model, size)
    if cond <= 1e-5 or not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model, "default init", cond
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        update_bn([torch.randn(4, *size, generator=gen) for _ in range(4)], model)
    model.eval()
    return model, f"BN stats estimated (default init: {cond:.1g})", _conditioning(model, size)


def main() -> int:
    import cnnzoo
    from cnnzoo.deploy import export_onnx

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "patterns", nargs="*", default=["*"], help="fnmatch patterns of model names (default: all)"
    )
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
            weights, cond_text = "-", "-"
            try:
                model, weights, cond = _build(name, size)
                cond_text = f"{cond:.1e}"
                onnx_path = Path(tmp) / f"{name}.onnx"
                res = export_onnx(model, onnx_path, opset=args.opset)
                onnx_path.unlink()  # VGG's file alone is 0.5 GB: keep the disk use to one model at a time
                row = (
                    name,
                    "x".join(map(str, res.input_size)),
                    weights,
                    cond_text,
                    "pass",
                    f"{res.max_rel_error:.1e}",
                    res.exporter,
                )
            except Exception as e:  # noqa: BLE001 - every failure is recorded, the sweep goes on
                failed += 1
                msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:200].replace("|", "/")
                row = (name, "x".join(map(str, size)), weights, cond_text, f"FAIL: {msg}", "-", "-")
            rows.append((*row, f"{time.time() - t0:.1f}"))
            print(" | ".join(rows[-1]), flush=True)
    pattern_note = "all registered models" if args.patterns == ["*"] else f"models matching {args.patterns}"
    shown = "" if args.patterns == ["*"] else " " + " ".join(args.patterns)
    lines = [
        f"`python benchmarks/export_all.py{shown}` "
        f"({time.strftime('%Y-%m-%d %H:%M')}): {pattern_note}, opset {args.opset}, random weights "
        "(default initialisation; where that overflows or is chaotic in float32, BatchNorm statistics "
        "estimated on 16 random images, see `_build`), registered input size, dynamic batch, checked in "
        "ONNX Runtime at batch 1 and 3 against eager (relative error = max|onnx - eager| / max|eager|, "
        "allowed 1e-4). *fp32 vs fp64*: how far eager float32 itself is from float64 on a random image "
        "with those weights -- no exporter can be expected to match eager closer than that. "
        f"**{len(rows) - failed} / {len(rows)} pass.**",
        "",
        "| model | input | weights | fp32 vs fp64 | result | max rel. error | exporter | seconds |",
        "|---|---|---|---:|---|---:|---|---:|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    write_section(args.out, START, END, "\n".join(lines), "ONNX export of every model")
    print(f"{len(rows) - failed}/{len(rows)} pass; wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
