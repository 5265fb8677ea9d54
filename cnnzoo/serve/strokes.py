"""Digits drawn as pen strokes, the way a student draws on the Draw page: our own renderer, not MNIST pixels.

Each digit has a few hand-written skeletons (polylines and arcs in a unit box: the common ways of writing it,
e.g. a 7 with and without a crossbar, a 4 open and closed, a 1 with and without its flag and foot). A
rendering draws one skeleton with its points jittered, slanted, rotated, squeezed and scaled at random, with a
round pen of random width, white on a black 280x280 pad (the page's canvas and pen: ``lineWidth`` 20, round
caps and joins), and returns the PNG the page would send to ``POST /api/draw``. Used by
``benchmarks/drawn_digits.py`` (the acceptance figure: the shipped LeNet-5 must read >= 95% of them) and by
the tests; never by training.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence

Point = tuple[float, float]
Stroke = list[Point]


def arc(cx: float, cy: float, rx: float, ry: float, t0: float, t1: float, n: int = 24) -> Stroke:
    """Points of an elliptic arc from angle ``t0`` to ``t1`` degrees (0 = right, 90 = down: screen axes)."""
    return [
        (
            cx + rx * math.cos(math.radians(t0 + (t1 - t0) * i / n)),
            cy + ry * math.sin(math.radians(t0 + (t1 - t0) * i / n)),
        )
        for i in range(n + 1)
    ]


#: digit -> its skeletons; a skeleton is a list of strokes, a stroke a list of (x, y) in a box 0..1 (y down).
SKELETONS: dict[int, list[list[Stroke]]] = {
    0: [
        [arc(0.5, 0.5, 0.3, 0.45, -90, 270)],
        [arc(0.5, 0.5, 0.26, 0.46, -100, 265)],
    ],
    1: [
        [[(0.5, 0.05), (0.5, 0.95)]],
        [[(0.3, 0.22), (0.55, 0.05), (0.55, 0.95)]],
        [[(0.32, 0.2), (0.52, 0.05), (0.52, 0.95)], [(0.3, 0.95), (0.74, 0.95)]],
    ],
    2: [
        [
            arc(0.5, 0.3, 0.3, 0.25, 190, 360)
            + arc(0.5, 0.3, 0.3, 0.25, 0, 40, 6)[1:]
            + [(0.18, 0.95), (0.85, 0.95)]
        ],
        [arc(0.5, 0.28, 0.28, 0.23, 200, 380) + [(0.2, 0.92), (0.82, 0.9)]],
    ],
    3: [
        [arc(0.48, 0.28, 0.28, 0.23, 200, 450) + arc(0.48, 0.72, 0.32, 0.23, -90, 160)],
        [[(0.2, 0.05), (0.8, 0.05), (0.45, 0.42)] + arc(0.48, 0.7, 0.32, 0.25, -100, 160)],
    ],
    4: [
        [[(0.68, 0.95), (0.68, 0.05), (0.12, 0.66), (0.92, 0.66)]],
        [[(0.22, 0.05), (0.15, 0.6), (0.88, 0.6)], [(0.66, 0.2), (0.66, 0.95)]],
    ],
    5: [
        [[(0.8, 0.05), (0.27, 0.05), (0.22, 0.45)] + arc(0.5, 0.68, 0.32, 0.27, -150, 150)],
        [[(0.25, 0.06), (0.2, 0.46)] + arc(0.5, 0.68, 0.32, 0.26, -150, 150), [(0.25, 0.05), (0.82, 0.05)]],
    ],
    6: [
        [[(0.72, 0.05), (0.45, 0.22), (0.26, 0.48)] + arc(0.5, 0.7, 0.3, 0.25, 180, -180)],
        [arc(0.95, 0.62, 0.75, 0.6, 225, 180, 10) + arc(0.5, 0.72, 0.3, 0.23, 180, -175)],
    ],
    7: [
        [[(0.15, 0.05), (0.85, 0.05), (0.4, 0.95)]],
        [[(0.15, 0.12), (0.15, 0.05), (0.85, 0.05), (0.42, 0.95)], [(0.35, 0.5), (0.78, 0.5)]],
        [[(0.15, 0.05), (0.85, 0.05), (0.6, 0.5), (0.5, 0.95)]],
    ],
    8: [
        [
            arc(0.5, 0.27, 0.24, 0.22, -30, -270)
            + arc(0.5, 0.72, 0.3, 0.24, -90, 270)
            + arc(0.5, 0.27, 0.24, 0.22, 90, -30)
        ],
        [arc(0.5, 0.27, 0.23, 0.22, 0, 360), arc(0.5, 0.72, 0.3, 0.24, -90, 270)],
    ],
    9: [
        [arc(0.5, 0.3, 0.3, 0.25, -10, -370) + [(0.78, 0.95)]],
        [arc(0.5, 0.3, 0.28, 0.25, -10, -370) + [(0.76, 0.6), (0.62, 0.95)]],
    ],
}


def _transform(strokes: Sequence[Stroke], rng: random.Random) -> list[Stroke]:
    """Jitter each point, then slant, rotate, squeeze and scale the whole digit (a hand, not a font)."""
    shear, rot = rng.uniform(-0.3, 0.15), math.radians(rng.uniform(-10, 10))
    sx, sy = rng.uniform(0.75, 1.2), rng.uniform(0.9, 1.1)
    cos, sin = math.cos(rot), math.sin(rot)
    out = []
    for stroke in strokes:
        pts = []
        for x, y in stroke:
            x, y = x + rng.gauss(0, 0.015) - 0.5, y + rng.gauss(0, 0.015) - 0.5
            x = (x + shear * y) * sx * 0.6  # a digit is about 0.6 as wide as it is tall
            y = y * sy
            pts.append((x * cos - y * sin, x * sin + y * cos))
        out.append(pts)
    return out


def render_digit(digit: int, rng: random.Random, size: int = 280, pen: float | None = None) -> bytes:
    """One stroke rendering of ``digit`` as a PNG: white ink on a black ``size`` x ``size`` pad."""
    from PIL import Image, ImageDraw

    strokes = _transform(rng.choice(SKELETONS[digit]), rng)
    height = rng.uniform(0.55, 0.85) * size  # how large the student draws
    cx, cy = size / 2 + rng.uniform(-0.1, 0.1) * size, size / 2 + rng.uniform(-0.08, 0.08) * size
    width = pen if pen is not None else rng.uniform(14, 24)
    im = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(im)
    r = width / 2
    for stroke in strokes:
        pts = [(cx + x * height, cy + y * height) for x, y in stroke]
        draw.line(pts, fill=255, width=round(width), joint="curve")
        for x, y in pts:  # round caps and joins, as the page's canvas pen
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def stroke_digits(per_class: int, seed: int = 0) -> list[tuple[int, bytes]]:
    """``per_class`` renderings of each digit 0-9 (labels, PNG bytes), the same for a given ``seed``."""
    rng = random.Random(seed)
    return [(d, render_digit(d, rng)) for _ in range(per_class) for d in range(10)]
