"""Line panels and heat maps drawn with Pillow: the figures every ``cnnzoo train`` run writes (``curves.png``,
``confusion.png``) without matplotlib, whose import alone took 0.5 s of the 8-12 s main job on 2 cores.

The drawing is done at twice the size and shrunk with a Lanczos filter (anti-aliased lines and text); the text
is DejaVu Sans (matplotlib's default face, read from its installed font file where present; Pillow's own
font otherwise); colours follow matplotlib's defaults (the ``tab10`` cycle, ColorBrewer's 9-class Blues).
Other figure formats (``--confusion x.pdf``) stay with matplotlib (:mod:`cnnzoo.train.metrics`).
"""

from __future__ import annotations

import importlib.util
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

#: matplotlib's default colour cycle (``tab10``), first five
CYCLE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")
#: ColorBrewer's 9-class sequential Blues, light to dark (matplotlib's ``Blues`` is built from the same)
BLUES = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")
_SS = 2  # supersampling factor


@lru_cache(maxsize=8)
def font(size: int) -> Any:
    """DejaVu Sans at ``size`` pixels: matplotlib's file if matplotlib is installed (found without importing
    it), else Pillow's bundled font."""
    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")
    for root in (spec.submodule_search_locations or ()) if spec else ():
        ttf = Path(root) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if ttf.is_file():
            return ImageFont.truetype(str(ttf), size)
    return ImageFont.load_default(size)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def blues(v: float) -> tuple[int, int, int]:
    """The Blues colour of ``v`` in [0, 1] (linear between ColorBrewer's nine steps)."""
    v = min(1.0, max(0.0, float(v))) * (len(BLUES) - 1)
    i = min(int(v), len(BLUES) - 2)
    a, b, t = _rgb(BLUES[i]), _rgb(BLUES[i + 1]), v - i
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values inside ``[lo, hi]``, about ``target`` intervals apart (the step of 1, 2, 2.5, 5 or
    10 x 10^k nearest to the range / target)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        lo, hi = lo - (abs(lo) or 1) * 0.05, hi + (abs(hi) or 1) * 0.05
    raw = (hi - lo) / target
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10)), key=lambda st: abs(math.log(st / raw)))
    first = math.ceil(lo / step - 1e-9)
    return [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def _label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{v:.4g}"


@dataclass
class Panel:
    """One set of axes: named series ``(label, xs, ys)``, a title and an x label; ``log_y`` for rates."""

    title: str
    series: list[tuple[str, Sequence[float], Sequence[float]]] = field(default_factory=list)
    xlabel: str = ""
    log_y: bool = False
    legend: bool = True


def _draw_panel(draw: Any, box: tuple[int, int, int, int], p: Panel, s: int) -> None:
    left, top, right, bottom = box
    f_title, f_tick = font(13 * s), font(10 * s)
    draw.text(((left + right) / 2, top - 8 * s), p.title, fill="black", font=f_title, anchor="md")
    if p.xlabel:
        draw.text(((left + right) / 2, bottom + 30 * s), p.xlabel, fill="black", font=f_tick, anchor="ma")
    pts = [(x, y) for _, xs, ys in p.series for x, y in zip(xs, ys) if math.isfinite(y)]
    if p.log_y:
        pts = [(x, y) for x, y in pts if y > 0]
    if not pts:
        draw.rectangle(box, outline="black", width=s)
        return
    fy = (lambda y: math.log10(y)) if p.log_y else (lambda y: y)
    x_lo, x_hi = min(x for x, _ in pts), max(x for x, _ in pts)
    y_lo, y_hi = min(fy(y) for _, y in pts), max(fy(y) for _, y in pts)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    if y_hi == y_lo:
        pad = abs(y_lo) * 0.05 or 0.05
        y_lo, y_hi = y_lo - pad, y_hi + pad
    mx, my = (x_hi - x_lo) * 0.05, (y_hi - y_lo) * 0.05
    x_lo, x_hi, y_lo, y_hi = x_lo - mx, x_hi + mx, y_lo - my, y_hi + my

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * (right - left)

    def py(y: float) -> float:
        return bottom - (fy(y) - y_lo) / (y_hi - y_lo) * (bottom - top)

    grid = (222, 222, 222)
    for t in nice_ticks(x_lo, x_hi, 6):
        if x_lo <= t <= x_hi and float(t).is_integer():
            x = px(t)
            draw.line([(x, top), (x, bottom)], fill=grid, width=s)
            draw.line([(x, bottom), (x, bottom + 4 * s)], fill="black", width=s)
            draw.text((x, bottom + 6 * s), f"{t:g}", fill="black", font=f_tick, anchor="ma")
    if p.log_y:  # decades, or 1-2-5 steps where the range spans less than two
        span = range(math.floor(y_lo) - 1, math.ceil(y_hi) + 1)
        y_ticks = [10.0**k for k in span if y_lo <= k <= y_hi]
        if len(y_ticks) < 2:
            y_ticks = [m * 10.0**k for k in span for m in (1, 2, 5) if y_lo <= math.log10(m) + k <= y_hi]
    else:
        y_ticks = nice_ticks(y_lo, y_hi, 5)
    for t in y_ticks:
        y = py(t)
        if top <= y <= bottom:
            draw.line([(left, y), (right, y)], fill=grid, width=s)
            draw.line([(left - 4 * s, y), (left, y)], fill="black", width=s)
            draw.text((left - 6 * s, y), _label(t), fill="black", font=f_tick, anchor="rm")
    draw.rectangle(box, outline="black", width=s)
    shown, drawn = [], []  # the series in the legend; every point's pixel position
    for i, (label, xs, yv) in enumerate(p.series):
        colour = CYCLE[i % len(CYCLE)]
        xy = [(px(x), py(y)) for x, y in zip(xs, yv) if math.isfinite(y) and (y > 0 or not p.log_y)]
        if not xy:
            continue
        drawn += xy
        shown.append((label, colour))
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2 * s, joint="curve")
        r = 2.5 * s
        for x, y in xy:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    if p.legend and shown:
        width = max(draw.textlength(label, font=f_tick) for label, _ in shown) + 30 * s
        height = 15 * s * len(shown) + 3 * s

        def covered(corner: tuple[float, float]) -> int:  # points under the legend box at this corner
            cx, cy = corner
            return sum(cx - width <= x <= cx and cy - 3 * s <= y <= cy + height for x, y in drawn)

        corners = [(right - 8 * s, top + 8 * s), (right - 8 * s, bottom - 8 * s - height)]
        corners += [(left + 8 * s + width, top + 8 * s), (left + 8 * s + width, bottom - 8 * s - height)]
        lx, ly = min(corners, key=covered)  # the first corner that hides the fewest points, as "best" does
        frame = [lx - width, ly - 3 * s, lx + 2 * s, ly + 15 * s * len(shown)]
        draw.rectangle(frame, fill="white", outline=(200, 200, 200))
        for j, (label, colour) in enumerate(shown):
            yy = ly + 15 * s * j + 6 * s
            draw.line([(lx - width + 4 * s, yy), (lx - width + 22 * s, yy)], fill=colour, width=2 * s)
            draw.text((lx - width + 26 * s, yy), label, fill="black", font=f_tick, anchor="lm")


def line_panels(panels: Sequence[Panel], panel_size: tuple[int, int] = (360, 324)) -> Any:
    """The ``panels`` side by side, each ``panel_size`` pixels: a PIL image."""
    from PIL import Image, ImageDraw

    s, (w, h) = _SS, panel_size
    img = Image.new("RGB", (w * len(panels) * s, h * s), "white")
    draw = ImageDraw.Draw(img)
    for i, p in enumerate(panels):
        x0 = i * w * s
        _draw_panel(draw, (x0 + 58 * s, 28 * s, x0 + (w - 12) * s, h * s - 52 * s), p, s)
    return img.resize((w * len(panels), h), Image.LANCZOS)


def heatmap(
    values: Sequence[Sequence[float]],
    labels: Sequence[str],
    counts: Sequence[Sequence[int]] | None = None,
    title: str = "",
    xlabel: str = "predicted",
    ylabel: str = "true",
) -> Any:
    """A square matrix of ``values`` in [0, 1] in Blues, row and column ``labels`` (up to 40), the nonzero
    ``counts`` written in the cells (up to 20 rows), a colour bar from 0 to 1: a PIL image."""
    from PIL import Image, ImageDraw

    s, k = _SS, len(values)
    cell = max(8, min(48, 560 // max(k, 1)))
    f_title, f_tick, f_cell = font(13 * s), font(10 * s), font(max(7, min(11, cell // 3)) * s)
    lab_w = max((f_tick.getlength(str(c)) for c in labels), default=0) / s if k <= 40 else 0
    side = cell * k
    width = int(40 + lab_w) + side + 90
    title_lines = wrap(title, f_title, (width - 16) * s)
    left, top = int(40 + lab_w), 20 + 16 * len(title_lines)
    bottom_pad = int(44 + (lab_w if k > 10 else 0))
    img = Image.new("RGB", (width * s, (top + side + bottom_pad) * s), "white")
    draw = ImageDraw.Draw(img)
    L, T, C = left * s, top * s, cell * s
    for i in range(k):
        for j in range(k):
            v = float(values[i][j])
            draw.rectangle([L + j * C, T + i * C, L + (j + 1) * C, T + (i + 1) * C], fill=blues(v))
            if counts is not None and k <= 20 and counts[i][j]:
                colour = "white" if v > 0.5 else "black"
                centre = (L + j * C + C / 2, T + i * C + C / 2)
                draw.text(centre, str(int(counts[i][j])), fill=colour, font=f_cell, anchor="mm")
    draw.rectangle([L, T, L + k * C, T + k * C], outline="black", width=s)
    if k <= 40:
        for i, name in enumerate(labels):
            c = T + i * C + C / 2
            draw.text((L - 5 * s, c), str(name), fill="black", font=f_tick, anchor="rm")
            x = L + i * C + C / 2
            if k > 10:  # rotated column labels, as matplotlib's rotation=90
                tw = int(f_tick.getlength(str(name))) + 2 * s
                lab = Image.new("L", (tw, 14 * s), 0)
                ImageDraw.Draw(lab).text((0, 0), str(name), fill=255, font=f_tick)
                lab = lab.rotate(90, expand=True)
                img.paste((0, 0, 0), (int(x - lab.width / 2), T + k * C + 5 * s), lab)
            else:
                draw.text((x, T + k * C + 5 * s), str(name), fill="black", font=f_tick, anchor="ma")
    lab_h = (lab_w * s + 10 * s) if k > 10 else 20 * s
    draw.text((L + k * C / 2, T + k * C + lab_h), xlabel, fill="black", font=f_tick, anchor="ma")
    yl = Image.new("L", (int(f_tick.getlength(ylabel)) + 4 * s, 14 * s), 0)
    ImageDraw.Draw(yl).text((0, 0), ylabel, fill=255, font=f_tick)
    yl = yl.rotate(90, expand=True)
    img.paste((0, 0, 0), (6 * s, int(T + k * C / 2 - yl.height / 2)), yl)
    for i, line in enumerate(title_lines):  # centred on the image, wrapped to its width
        draw.text((width * s / 2, (8 + 16 * i) * s), line, fill="black", font=f_title, anchor="ma")
    # the colour bar, 0 (bottom) to 1 (top)
    bx, bw = L + k * C + 16 * s, 14 * s
    for y in range(k * C):
        draw.line([(bx, T + y), (bx + bw, T + y)], fill=blues(1 - y / max(k * C - 1, 1)))
    draw.rectangle([bx, T, bx + bw, T + k * C], outline="black", width=s)
    for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        y = T + (1 - t) * k * C
        draw.line([(bx + bw, y), (bx + bw + 4 * s, y)], fill="black", width=s)
        draw.text((bx + bw + 6 * s, y), f"{t:.1f}", fill="black", font=f_tick, anchor="lm")
    return img.resize((img.width // s, img.height // s), Image.LANCZOS)


def wrap(text: str, font: Any, width: float) -> list[str]:
    """``text`` as lines no wider than ``width`` pixels in ``font``: its own line breaks kept, each line
    broken between words (a single word wider than ``width`` stays whole)."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}" if line else word
            if line and font.getlength(trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return [ln for ln in lines if ln]


def png_bytes(img: Any) -> bytes:
    """The PNG file of a PIL image."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
