"""The digits source reads scikit-learn's file without importing scikit-learn, and its literal test split
(cnnzoo/data/_digits_split.py) is the one stratified_split computes (issue #16: ~1 s of `cnnzoo train`)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch


def test_digits_file_equals_load_digits_and_the_literal_split_equals_stratified_split() -> None:
    from sklearn.datasets import load_digits

    from cnnzoo.data._digits_split import DIGITS_TEST_ROWS
    from cnnzoo.data.sources import TEST_FRACTION, read_digits_file, stratified_split

    images, target = read_digits_file()
    d = load_digits()
    assert np.array_equal(images, d.images) and np.array_equal(target, d.target)
    keep, held = stratified_split(d.target, TEST_FRACTION)
    assert tuple(held.tolist()) == DIGITS_TEST_ROWS and len(keep) == 1437


def test_digits_source_splits_1437_and_360_with_every_class_and_no_scikit_learn() -> None:
    code = (
        "import sys; from cnnzoo.data.sources import load_digits_source; r = load_digits_source(); "
        "print(len(r.train), len(r.test), sorted(set(r.test.labels.tolist())) == list(range(10)), "
        "'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.split() == ["1437", "360", "True", "False"]


def test_digits_test_images_are_the_held_out_rows() -> None:
    from cnnzoo.data._digits_split import DIGITS_TEST_ROWS
    from cnnzoo.data.sources import load_digits_source, read_digits_file

    r = load_digits_source()
    _, target = read_digits_file()
    assert torch.equal(r.test.labels, torch.from_numpy(target[list(DIGITS_TEST_ROWS)]))
