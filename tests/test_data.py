"""Data sources: digits, MNIST IDX (gz and raw), CIFAR batches, image folders (with bad files), synthetic."""

from __future__ import annotations

import gzip
import pickle
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnzoo.data import build_data, load_data, load_source, read_idx
from cnnzoo.data.sources import adapt_channels
from cnnzoo.errors import DataError


def _idx_bytes(arr: np.ndarray) -> bytes:
    return (
        bytes([0, 0, 0x08, arr.ndim])
        + struct.pack(f">{arr.ndim}I", *arr.shape)
        + arr.astype(np.uint8).tobytes()
    )


def _write_mnist(d: Path, prefix: str, n: int, gz: bool) -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n) % 10
    for kind, arr, nd in (("images", imgs, 3), ("labels", labels, 1)):
        name = f"{prefix}-{kind}-idx{nd}-ubyte"
        data = _idx_bytes(arr)
        if gz:
            with gzip.open(d / f"{name}.gz", "wb") as f:
                f.write(data)
        else:
            (d / name).write_bytes(data)


def test_digits_is_a_fixed_stratified_1437_360_split():
    raw = load_source("digits")
    assert (len(raw.train), len(raw.test)) == (1437, 360)
    assert raw.train.images.shape[1:] == (1, 28, 28) and raw.train.images.dtype == torch.uint8
    assert int(raw.train.images[:, :, :4].max()) == 0  # a 20x20 digit centred in 28x28, as MNIST
    assert torch.bincount(raw.test.labels).tolist() == [36, 36, 35, 37, 36, 37, 36, 36, 35, 36]
    again = load_source("digits")
    assert torch.equal(raw.test.labels, again.test.labels) and torch.equal(raw.test.images, again.test.images)


def test_digits_for_lenet_are_32x32_with_training_mean_and_std():
    b = load_data("digits", 1, 32, val_fraction=0.1)
    assert (len(b.train), len(b.val), len(b.test)) == (1293, 144, 360)
    x, y = b.train[0]
    assert x.shape == (1, 32, 32) and x.dtype == torch.float32 and 0 <= y < 10
    stack = torch.stack([b.train[i][0] for i in range(len(b.train))])
    # normalised with the training images' own statistics: mean 0, std 1 over the training set
    assert abs(float(stack.mean())) < 1e-4 and abs(float(stack.std()) - 1) < 1e-3


def test_mnist_idx_gzipped_and_raw_read_the_same(tmp_path):
    for gz, sub in ((True, "gz"), (False, "raw")):
        d = tmp_path / sub
        d.mkdir()
        _write_mnist(d, "t10k", 50, gz)
    a, b = load_source(f"mnist:{tmp_path / 'gz'}"), load_source(f"mnist:{tmp_path / 'raw'}")
    assert (len(a.train), len(a.test)) == (40, 10)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)


def test_mnist_train_and_t10k_files_are_used_as_given(tmp_path):
    _write_mnist(tmp_path, "train", 30, gz=True)
    _write_mnist(tmp_path, "t10k", 20, gz=False)
    raw = load_source(f"mnist:{tmp_path}")
    assert (len(raw.train), len(raw.test)) == (30, 20)


def test_truncated_idx_file_is_a_data_error(tmp_path):
    data = _idx_bytes(np.zeros((10, 28, 28), np.uint8))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(data[:-5])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "t10k-images-idx3-ubyte")


def test_real_mnist_t10k_gives_a_fixed_8000_2000_split(mnist_dir):
    raw = load_source(f"mnist:{mnist_dir}")
    assert (len(raw.train), len(raw.test)) == (8000, 2000)
    counts = torch.bincount(raw.train.labels) + torch.bincount(raw.test.labels)
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _write_cifar10(d: Path) -> None:
    rng = np.random.default_rng(0)
    for i in (1, 2):
        batch = {
            "data": rng.integers(0, 256, (20, 3072), dtype=np.uint8),
            "labels": [j % 10 for j in range(20)],
        }
        with open(d / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch, f)
    with open(d / "test_batch", "wb") as f:
        pickle.dump({"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8), "labels": list(range(10))}, f)
    with open(d / "batches.meta", "wb") as f:
        pickle.dump(
            {
                "label_names": [
                    "airplane",
                    "automobile",
                    "bird",
                    "cat",
                    "deer",
                    "dog",
                    "frog",
                    "horse",
                    "ship",
                    "truck",
                ]
            },
            f,
        )


def test_cifar10_python_batches_load_with_class_names(tmp_path):
    _write_cifar10(tmp_path)
    raw = load_source(f"cifar:{tmp_path}")
    assert (len(raw.train), len(raw.test)) == (40, 10)
    assert raw.train.images.shape[1:] == (3, 32, 32) and raw.classes[0] == "airplane" and raw.natural


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_cifar_pickle_that_would_run_code_is_refused(tmp_path):
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({"data": _Evil(), "labels": [0]}, f)
    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump({"data": np.zeros((1, 3072), np.uint8), "labels": [0]}, f)
    with pytest.raises(DataError, match="refusing"):
        load_source(f"cifar:{tmp_path}")


def make_folder(root: Path, classes=("cat", "dog"), n: int = 6, size=(40, 30)) -> Path:
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / c / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


def add_bad_files(root: Path) -> list[str]:
    """A corrupt JPEG, a truncated PNG, a zero-byte file and a text file; returns their names."""
    (root / "cat" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    good = (root / "cat" / "1.png").read_bytes()
    (root / "dog" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "dog" / "empty.jpg").write_bytes(b"")
    (root / "cat" / "notes.txt").write_text("not an image\n")
    return ["corrupt.jpg", "truncated.png", "empty.jpg", "notes.txt"]


def test_folder_with_bad_files_skips_and_names_each(tmp_path):
    make_folder(tmp_path)
    bad = add_bad_files(tmp_path)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        raw = load_source(f"folder:{tmp_path}")
    assert len(raw.skipped) == 4
    for name in bad:
        assert any(name in s for s in raw.skipped)
        assert any(name in str(x.message) for x in w)
    assert len(raw.train) + len(raw.test) == 12


def test_strict_data_makes_a_bad_file_fatal(tmp_path):
    make_folder(tmp_path)
    add_bad_files(tmp_path)
    with pytest.raises(DataError, match="drop strict_data"):
        load_source(f"folder:{tmp_path}", strict=True)


def test_folder_train_val_layout_is_used_as_given(tmp_path):
    make_folder(tmp_path / "train", n=4)
    make_folder(tmp_path / "val", n=2)
    raw = load_source(f"folder:{tmp_path}")
    assert (len(raw.train), len(raw.test), raw.classes) == (8, 4, ["cat", "dog"])


def test_folder_images_adapt_to_gray_and_input_size(tmp_path):
    make_folder(tmp_path)
    b = load_data(f"folder:{tmp_path}", 1, 32)
    x, _ = b.test[0]
    assert x.shape == (1, 32, 32)  # one centre view, a plain image
    assert len(b.mean) == 1


@pytest.mark.parametrize(
    "setup, match",
    [
        ("missing", "does not exist"),
        ("empty_class", "holds no readable image"),
        ("one_class", "at least two"),
    ],
)
def test_bad_folders_are_one_clear_data_error(tmp_path, setup, match):
    if setup == "empty_class":
        make_folder(tmp_path, classes=("a", "b"))
        (tmp_path / "c").mkdir()
    elif setup == "one_class":
        make_folder(tmp_path, classes=("a",))
    spec = f"folder:{tmp_path / 'nope'}" if setup == "missing" else f"folder:{tmp_path}"
    with pytest.raises(DataError, match=match) as e:
        load_source(spec)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("spec", ["imagenet", "cifar", "folder:", "synthetic:x", "synthetic:0"])
def test_unknown_or_malformed_source_is_a_data_error(spec):
    with pytest.raises(DataError):
        load_source(spec)


def test_synthetic_source_is_deterministic_and_balanced():
    a, b = load_source("synthetic:100"), load_source("synthetic:100")
    assert (len(a.train), len(a.test)) == (80, 20)
    assert torch.equal(a.train.images, b.train.images)
    assert torch.bincount(a.test.labels).tolist() == [2] * 10


def test_gray_to_rgb_repeats_and_rgb_to_gray_uses_itu601_luma():
    g = torch.tensor([[[10, 200]]], dtype=torch.uint8)
    assert adapt_channels(g, 3).tolist() == [[[10, 200]], [[10, 200]], [[10, 200]]]
    rgb = torch.tensor([[[100]], [[200]], [[50]]], dtype=torch.uint8)
    assert adapt_channels(rgb, 1).tolist() == [[[round(0.299 * 100 + 0.587 * 200 + 0.114 * 50)]]]


def test_given_mean_and_std_are_kept():
    raw = load_source("synthetic:40")
    b = build_data(raw, 3, 32, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert b.mean == (0.5, 0.5, 0.5)
    x, _ = b.train[0]
    img = raw.train.images[0].float() / 255
    assert torch.allclose(x, (img - 0.5) / 0.25, atol=1e-6)


def test_synthetic_sizes_past_memory_are_one_sentence_before_anything_is_allocated():
    from cnnzoo.data.spec import MAX_SYNTHETIC, parse_data_spec

    with pytest.raises(DataError, match="more images than fit in memory"):
        load_source("synthetic:99999999999")
    assert parse_data_spec(f"synthetic:{MAX_SYNTHETIC}").count == MAX_SYNTHETIC


def test_dangling_and_looping_symlinks_in_a_folder_are_named_not_dropped(tmp_path):
    make_folder(tmp_path / "imgs", n=6)
    cls = sorted(p for p in (tmp_path / "imgs").iterdir() if p.is_dir())[0]
    (cls / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (cls / "loop.png").symlink_to(cls / "loop.png")
    with pytest.warns(UserWarning):
        raw = load_source(f"folder:{tmp_path / 'imgs'}")
    named = " ".join(raw.skipped)
    assert "gone.png" in named and "loop.png" in named
