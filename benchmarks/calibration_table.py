"""Calibration of classic networks on Fashion-MNIST before and after temperature scaling (issue #28; Guo et
al. 2017, whose Fig. 1 compares LeNet-5 with ResNet-110): LeNet-5 (faithful and modern, no BatchNorm) against
ResNet-20 and ResNet-56 (BatchNorm; the zoo has no BN-free ResNet), each trained with its own recipe by
``cnnzoo train`` on a fixed subset of the training images with a 10% validation split
(``_fashion_runs.py``). For each: a temperature fitted on that validation split (``cnnzoo calibrate``), then
ECE (15 bins), adaptive ECE, NLL and Brier on all 10,000 held-out test images, raw and scaled. Writes the
table into BENCHMARKS.md (``calibration:start``/``calibration:end``) and the reliability diagrams into
``benchmarks/figures/calibration_fashion.png``.

    python benchmarks/calibration_table.py          # trains what runs/bench lacks (~1 h on 2 quiet cores)
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fashion_runs import BUDGETS, ROOT, TRAIN_IMAGES, ensure_trained, subset_dir  # noqa: E402
from _report import cpu_line, write_section  # noqa: E402

START, END = "<!-- calibration:start -->", "<!-- calibration:end -->"
FIGURE = ROOT / "benchmarks" / "figures" / "calibration_fashion.png"
BN = {"lenet5": "no", "lenet5_modern": "no", "resnet20": "yes", "resnet56": "yes", "plain20": "yes"}


def _pair(raw: dict, scaled: dict, key: str, percent: bool) -> str:
    if percent:
        return f"{100 * raw[key]:.2f}% -> {100 * scaled[key]:.2f}%"
    return f"{raw[key]:.4f} -> {scaled[key]:.4f}"


def _nll_sentence(nlls: dict[str, tuple[float, float, float]]) -> str:
    """What temperature scaling did to the test NLL, said from the figures: which networks it helped, and by
    how much it hurt the others."""
    lower = [m for m, (_, raw, sc) in nlls.items() if sc < raw]
    higher = {m: (t, sc - raw) for m, (t, raw, sc) in nlls.items() if sc >= raw}
    text = f"Temperature scaling lowered the test NLL of {', '.join(lower) or 'none of them'}"
    if higher:
        worst = max(d for _, d in higher.values())
        temps = ", ".join(f"{m} T {t:.3f}" for m, (t, _) in higher.items())
        text += (
            f"; for {temps} the temperature fitted on the validation images raised it by at most {worst:.4f} "
            "(a temperature near 1 fitted on 1,200 images does not carry over to the test set to the fourth "
            "decimal)"
        )
    return text + "."


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import torch

    from cnnzoo.checkpoint import load_checkpoint
    from cnnzoo.train.calibration import (
        Bin,
        CalibrationResult,
        calibrate_checkpoint,
        evaluate_calibration,
        plot_reliability,
    )

    torch.set_num_threads(1)
    data = subset_dir()
    rows: list[str] = []
    raws: list[CalibrationResult] = []
    names: list[str] = []
    nlls: dict[str, tuple[float, float, float]] = {}  # model -> (T, raw NLL, scaled NLL)
    for m in args.models:
        best = ensure_trained(m, data)
        cal_path = best.with_name("calibrated.pt")
        fit = calibrate_checkpoint(best, out=cal_path)
        ev = evaluate_calibration(cal_path)
        ck = load_checkpoint(best)
        raw, sc = ev["raw"], ev["scaled"]
        from cnnzoo.factory import model_from_checkpoint

        params = sum(p.numel() for p in model_from_checkpoint(str(best)).parameters())
        budget = f"{ck.run['recipe']['name']}, {BUDGETS[m][0]} ep. (best {ck.run['best']['epoch']})"
        cells = [m, BN[m], f"{params:,}", budget, f"{100 * raw['top1']:.2f}%", f"{fit['temperature']:.3f}"]
        cells += [_pair(raw, sc, "ece", True), _pair(raw, sc, "adaptive_ece", True)]
        cells += [_pair(raw, sc, "nll", False), _pair(raw, sc, "brier", False)]
        cells.append("yes" if sc["nll"] < raw["nll"] else "NO")
        rows.append("| " + " | ".join(cells) + " |")
        nlls[m] = (fit["temperature"], raw["nll"], sc["nll"])
        raws.append(CalibrationResult(**{**raw, "bins": [Bin(**b) for b in raw["bins"]]}))
        names.append(m)
        print(rows[-1], flush=True)
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    plot_reliability(raws, FIGURE, "Fashion-MNIST test set, raw logits (before temperature scaling)", names)
    cmd = "python benchmarks/calibration_table.py" + (
        f" --models {' '.join(args.models)}" if args.models != list(BUDGETS) else ""
    )
    body = (
        f"`{cmd}` ({datetime.now():%Y-%m-%d %H:%M}; {cpu_line()}). Each network trained by `cnnzoo train` "
        f"with its own recipe on a fixed stratified {TRAIN_IMAGES:,} of Fashion-MNIST's 60,000 training "
        "images (90% train, 10% validation; best epoch by validation top-1), for the epochs shown (short "
        "budgets: a "
        "shared 2-core CPU). Temperature fitted on the validation split (`cnnzoo calibrate`); every figure "
        "below is on all 10,000 test images, which neither training nor the temperature saw. ECE: 15 "
        "equal-width bins (Guo et al. 2017); adaptive: 15 equal-mass bins. Reliability diagrams (raw): "
        "`benchmarks/figures/calibration_fashion.png`.\n\n"
        "| model | BatchNorm | params | recipe, budget | test top-1 | T | ECE raw -> scaled | adaptive ECE "
        "| NLL | Brier | NLL lower after |\n|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|\n"
        + "\n".join(rows)
        + "\n\nT > 1: the network was overconfident (scaling softens it); T < 1: underconfident. Accuracy is "
        "unchanged by construction. The zoo's ResNets are BatchNorm networks as the paper drew them, so the "
        "BN-free rows are the LeNets. " + _nll_sentence(nlls)
    )
    write_section(
        ROOT / "BENCHMARKS.md",
        START,
        END,
        body,
        "Calibration on Fashion-MNIST: before and after temperature scaling",
    )
    print(f"wrote BENCHMARKS.md ({START}) and {FIGURE}")


if __name__ == "__main__":
    main()
