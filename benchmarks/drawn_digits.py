"""Drawn digits through ``POST /api/draw``: how often the LeNet-5 that ``cnnzoo serve`` ships reads digits
drawn as pen strokes -- our own stroke renderer (:mod:`cnnzoo.serve.strokes`: hand-written skeletons,
jittered, slanted, rotated, scaled, drawn with a round pen on the page's 280x280 pad), not MNIST pixels.
Every drawing goes through
the server's whole path (multipart upload, PNG decoding, MNIST's preparation, the network). The acceptance
floor (issue #25) is 95%. Writes ``drawn-digits:start``/``end`` in BENCHMARKS.md.

    python benchmarks/drawn_digits.py                  # 100 drawings a digit (~1 min)
    python benchmarks/drawn_digits.py --per-class 20 --no-write
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _report import write_section  # noqa: E402

START, END = "<!-- drawn-digits:start -->", "<!-- drawn-digits:end -->"


def measure(per_class: int, seed: int, checkpoint: str | None = None) -> dict:
    """Accuracy of the Draw model on ``per_class`` stroke renderings of each digit, through the API."""
    from fastapi.testclient import TestClient

    from cnnzoo.serve import app as web
    from cnnzoo.serve import core
    from cnnzoo.serve.strokes import stroke_digits

    state = web.ServeState(draw=core.load_draw_model(checkpoint))
    client = TestClient(web.create_app(state))
    confusion = torch.zeros(10, 10, dtype=torch.long)
    for label, png in stroke_digits(per_class, seed):
        r = client.post("/api/draw", files={"image": ("d.png", png, "image/png")})
        r.raise_for_status()
        confusion[label, int(r.json()["top5"][0]["name"])] += 1
    right = int(confusion.diag().sum())
    return {
        "n": int(confusion.sum()),
        "right": right,
        "accuracy": right / int(confusion.sum()),
        "per_class": (confusion.diag().float() / confusion.sum(1).float()).tolist(),
        "confusion": confusion,
        "model": state.draw.source,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", default=None, help="default: the shipped LeNet-5")
    ap.add_argument("--md", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    r = measure(args.per_class, args.seed, args.checkpoint)
    worst = sorted(range(10), key=lambda d: r["per_class"][d])[:3]
    conf = r["confusion"].clone()
    conf.fill_diagonal_(0)
    flat = int(conf.argmax())
    lines = [
        f"`python benchmarks/drawn_digits.py --per-class {args.per_class} --seed {args.seed}` "
        f"({datetime.now():%Y-%m-%d %H:%M}): {r['n']:,} digits drawn as pen strokes by our renderer "
        "(`cnnzoo/serve/strokes.py`: 2-3 hand-written skeletons a digit, jittered, slanted, rotated, "
        "squeezed, a round pen 14-24 px wide on the page's 280x280 pad; not MNIST pixels), each sent through "
        f"`POST /api/draw` to {r['model']}.",
        "",
        "| digits | right | accuracy | floor (#25) | weakest digits |",
        "|---:|---:|---:|---:|---|",
        f"| {r['n']:,} | {r['right']:,} | {100 * r['accuracy']:.1f}% | 95% | "
        + ", ".join(f"{d}: {100 * r['per_class'][d]:.0f}%" for d in worst)
        + " |",
        "",
        f"Most frequent confusion: {flat // 10} read as {flat % 10} ({int(conf.max())} times).",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(args.md, START, END, text, "Drawn digits through the serve API")
        print(f"wrote the drawn-digits section of {args.md}")


if __name__ == "__main__":
    main()
