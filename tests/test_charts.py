"""The run figures drawn with Pillow (cnnzoo.charts): where the data sit on the canvas, the colours, ticks."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from cnnzoo.charts import BLUES, CYCLE, Panel, _rgb, blues, heatmap, line_panels, nice_ticks
from cnnzoo.train.logs import plot_curves
from cnnzoo.train.metrics import plot_confusion


@pytest.mark.parametrize(
    "lo, hi, want",
    [(0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]), (1, 30, [5, 10, 15, 20, 25, 30]), (0.97, 1.0, None)],
)
def test_nice_ticks_are_round_and_cover_the_range(lo, hi, want):
    ticks = nice_ticks(lo, hi)
    if want is not None:
        assert ticks == pytest.approx(want)
    steps = {round(b - a, 12) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1 and 3 <= len(ticks) <= 8
    assert all(lo - 1e-9 <= t <= hi + 1e-9 for t in ticks)


def test_blues_runs_from_colorbrewer_white_to_navy():
    assert blues(0.0) == _rgb(BLUES[0]) and blues(1.0) == _rgb(BLUES[-1]) and blues(0.5) == _rgb(BLUES[4])
    assert blues(-3) == blues(0) and blues(7) == blues(1)


def _count(img: Image.Image, colour: str, box: tuple[int, int, int, int] | None = None) -> int:
    """Pixels within 24 levels of ``colour`` on each channel (the shrunk drawing blends its edges)."""
    rgb = _rgb(colour)
    region = img.crop(box) if box else img
    return sum(n for n, c in region.getcolors(1 << 20) if max(abs(a - b) for a, b in zip(c, rgb)) <= 24)


def test_a_rising_series_is_drawn_from_lower_left_to_upper_right():
    series = [("train", [1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0])]
    img = line_panels([Panel("loss", series, xlabel="epoch", legend=False)])
    assert img.size == (360, 324)
    w, h = img.size
    # the series' own colour lies in the lower-left and upper-right quarters of the plot, not the others
    ll, ur = (58, h // 2, w // 2, h - 52), (w // 2, 28, w - 12, h // 2)
    ul, lr = (58, 28, w // 2 - 20, h // 2 - 20), (w // 2 + 20, h // 2 + 20, w - 12, h - 52)
    assert _count(img, CYCLE[0], ll) > 20 and _count(img, CYCLE[0], ur) > 20
    assert _count(img, CYCLE[0], ul) == 0 and _count(img, CYCLE[0], lr) == 0


def test_the_run_curves_have_one_colour_per_split(tmp_path):
    hist = [
        {"epoch": e, "lr": 0.01 / e, "train_loss": 1 / e, "train_top1": 0.5 + e / 40, "val_top1": e / 40}
        for e in range(1, 11)
    ]
    img = Image.open(io.BytesIO(plot_curves(hist, tmp_path / "curves.png").read_bytes())).convert("RGB")
    assert img.size == (1440, 324)
    top1 = (360, 0, 720, 324)  # the second panel holds train (blue) and val (orange)
    assert _count(img, CYCLE[0], top1) > 50 and _count(img, CYCLE[1], top1) > 50
    assert _count(img, CYCLE[1], (0, 0, 360, 324)) == 0  # the loss panel has no val_loss: no orange


def test_the_confusion_png_shades_each_cell_by_its_row_share(tmp_path):
    cm = torch.tensor([[9, 1], [0, 10]])
    path = plot_confusion(cm, ["cat", "dog"], tmp_path / "cm.png")
    img = Image.open(path).convert("RGB")
    assert _count(img, BLUES[-1]) > 1000  # the 100% cell, navy
    assert "matplotlib" not in str(img.info)
    assert heatmap([[1.0]], ["a"]).size[0] > 0


def test_a_long_confusion_title_is_wrapped_inside_the_image(tmp_path):
    """cnnzoo train titles its confusion matrix with the evaluation protocol: a line wider than the figure
    is broken between words, so no text runs off either edge."""
    from cnnzoo.charts import font, wrap

    protocol = (
        "lenet5: 1 view: the whole image fitted to 32x32; mean of softmax: softmax of each view's logits, "
        "averaged over the views"
    )
    lines = wrap(f"lenet5 on digits (test top-1 0.9250)\n{protocol}", font(26), 900)
    assert lines[0] == "lenet5 on digits (test top-1 0.9250)" and len(lines) >= 3
    assert all(font(26).getlength(ln) <= 900 for ln in lines) and " ".join(lines[1:]) == protocol
    img = heatmap([[1.0, 0.0], [0.0, 1.0]], ["a", "b"], title=f"lenet5 on digits\n{protocol}").convert("L")
    band = img.crop((0, 0, img.width, 60))
    sides = (0, 1, 2, img.width - 3, img.width - 1)
    edges = [band.getpixel((x, y)) for y in range(band.height) for x in sides]
    assert min(edges) == 255  # nothing drawn at the left or right edge of the title band
    assert min(band.getdata()) < 100  # and the title is there
