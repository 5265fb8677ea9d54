"""The README tour check: which output lines it shows, and which differences it forgives."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("readme_tour", ROOT / "scripts" / "readme_tour.py")
tour = importlib.util.module_from_spec(spec)
sys.modules["readme_tour"] = tour
spec.loader.exec_module(tour)


def test_keep_spec_shows_ranges_and_marks_gaps():
    lines = [f"l{i}" for i in range(1, 11)]
    assert tour.kept(lines, "1-2,5,last2") == ["l1", "l2", "...", "l5", "...", "l9", "l10"]
    assert tour.kept(lines, "1-3") == ["l1", "l2", "l3", "..."]
    assert tour.kept(lines, None) == lines


def test_whole_numbers_must_be_equal_decimals_within_tolerance():
    assert tour.lines_match("total 60,965,224  724.4", "total 60,965,224  724.5")
    assert not tour.lines_match("total 60,965,224", "total 60,965,225")
    assert tour.lines_match("test top-1 0.9750  top-5 1.0000", "test top-1 0.9722  top-5 1.0000")
    assert not tour.lines_match("test top-1 0.9750", "test top-1 0.9000")
    assert not tour.lines_match("epoch 1/30 loss 0.5", "epoch 2/30 loss 0.5")


def test_what_another_cpus_float_kernels_move_is_tolerated_and_no_more():
    # ResNet-20's tour run, measured on an AMD EPYC (avx512_bf16) and on an Intel Xeon (none)
    amd = "test top-1 0.9139  top-5 1.0000  (n=360, best epoch 7 by val_top1; resnet20: 1 view)"
    xeon = "test top-1 0.9389  top-5 1.0000  (n=360, best epoch 8 by val_top1; resnet20: 1 view)"
    assert tour.lines_match(amd, xeon)
    assert not tour.lines_match(amd, xeon.replace("0.9389", "0.9500"))  # 3.6 points: a real change
    assert not tour.lines_match(amd, xeon.replace("n=360", "n=361"))  # image counts stay exact
    # the chosen epoch, as transfer and train print it beside best.pt; the epochs run stay exact
    a = "checkpoint: runs/looks/best.pt = epoch 7 of 10, chosen by validation top-1 0.8438 (loss 0.4112)"
    b = "checkpoint: runs/looks/best.pt = epoch 8 of 10, chosen by validation top-1 0.8438 (loss 0.4205)"
    assert tour.lines_match(a, b) and not tour.lines_match(a, b.replace("of 10", "of 11"))


def test_speed_lines_compare_only_their_first_word():
    assert not tour.lines_match("eager  1077.50  14.85", "eager  1301.00  12.10")  # no speed word...
    assert tour.lines_match("eager  1077.50  14.85", "eager  1301.00  12.10", timing=True)  # ...# timing
    assert tour.lines_match(
        "OpenVINO speed at batch 16: FP32 1.0 img/s", "OpenVINO speed at batch 16: 9 img/s"
    )
    assert not tour.lines_match("OpenVINO speed: 1 img/s", "ONNX speed: 1 img/s")


def test_template_blocks_parse_into_commands_with_keep_specs():
    text = "intro\n```tour\ncnnzoo list  # keep 1-3\ncnnzoo bench x # keep last2 # timing\n```\nafter\n"
    parts = tour.parse_template(text)
    assert parts[0] == "intro" and parts[2] == "after"
    got = [(c.text, c.keep, c.timing) for c in parts[1]]
    assert got == [("cnnzoo list", "1-3", False), ("cnnzoo bench x", "last2", True)]
