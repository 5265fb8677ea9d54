"""Getting a weights file onto this machine: the cache, downloads, a mirror, offline use.

Downloads go through the ecosystem's own machinery: :func:`torch.hub.download_url_to_file` (progress bar on
stderr, SHA-256 prefix check, a ``.partial`` file renamed into place only when complete) for URLs, and
:func:`huggingface_hub.hf_hub_download` for the Hugging Face Hub. Every file lands in one cache folder:

- ``$CNNZOO_WEIGHTS_DIR`` if set, else ``torch.hub``'s own ``<TORCH_HOME>/hub/checkpoints`` (so a file
  torchvision already downloaded is reused, and ``TORCH_HOME`` moves both);
- URL files keep their published name (``resnet50-11ad3fa6.pth``); Hub files go to
  ``hf/<org>/<repo>/<file>``.

A **mirror** (``$CNNZOO_WEIGHTS_MIRROR`` or :func:`configure(mirror=...) <configure>`) replaces the
official hosts: a base URL (``https://mirror.example/weights``) or a folder. A file's place on the mirror is
the path of its official URL (``models/resnet50-11ad3fa6.pth`` for download.pytorch.org,
``timm/<repo>/resolve/main/<file>`` for the Hub, which is also how Hub mirrors lay files out); a folder may
also hold URL files flat, under their own name. **Offline** (``$CNNZOO_OFFLINE=1``, ``HF_HUB_OFFLINE=1``,
or no network), a missing file is one sentence naming the URL and the exact path to put it at.

Every failure is one :class:`~cnnzoo.errors.WeightsError` sentence and leaves nothing half-written in the
cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import importlib.resources
import importlib.util
import os
import socket
import urllib.error
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import WeightsError
from .table import WeightsEntry

ENV_CACHE = "CNNZOO_WEIGHTS_DIR"
ENV_MIRROR = "CNNZOO_WEIGHTS_MIRROR"
ENV_OFFLINE = "CNNZOO_OFFLINE"
ENV_TIMEOUT = "CNNZOO_DOWNLOAD_TIMEOUT"


@dataclass
class _Settings:
    cache_dir: str | None = None
    mirror: str | None = None
    offline: bool | None = None
    timeout: float | None = None
    progress: bool = True


_SETTINGS = _Settings()


def configure(
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    mirror: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
    timeout: float | None = None,
    progress: bool | None = None,
) -> None:
    """Set, for this process, what the environment variables set: the cache folder, a mirror (base URL or
    folder) replacing the official hosts, offline mode, the network timeout in seconds, the progress bar.
    An argument left ``None`` keeps the current value; ``configure(mirror="")`` clears a mirror."""
    if cache_dir is not None:
        _SETTINGS.cache_dir = str(cache_dir) or None
    if mirror is not None:
        _SETTINGS.mirror = str(mirror) or None
    if offline is not None:
        _SETTINGS.offline = offline
    if timeout is not None:
        if not timeout > 0:
            raise WeightsError(f"timeout must be a positive number of seconds, got {timeout!r}.")
        _SETTINGS.timeout = float(timeout)
    if progress is not None:
        _SETTINGS.progress = progress


def cache_dir() -> Path:
    """The folder downloaded weights are kept in (see the module docstring)."""
    if _SETTINGS.cache_dir:
        return Path(_SETTINGS.cache_dir).expanduser()
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def mirror() -> str | None:
    """The mirror in force, or ``None``."""
    return _SETTINGS.mirror or os.environ.get(ENV_MIRROR) or None


def offline() -> bool:
    """True when downloads are switched off."""
    if _SETTINGS.offline is not None:
        return _SETTINGS.offline
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in (ENV_OFFLINE, "HF_HUB_OFFLINE"))


def _timeout() -> float:
    if _SETTINGS.timeout:
        return _SETTINGS.timeout
    try:
        return float(os.environ.get(ENV_TIMEOUT, "60"))
    except ValueError:
        raise WeightsError(
            f"{ENV_TIMEOUT} must be a number of seconds, got {os.environ[ENV_TIMEOUT]!r}."
        ) from None


def cached_path(entry: WeightsEntry) -> Path:
    """Where ``entry``'s file lives in the cache (it may not be there yet); a package file's own path."""
    if entry.source == "package":
        return package_path(entry)
    if entry.hf_hub:
        return cache_dir() / "hf" / entry.hf_hub / str(entry.hf_file)
    return cache_dir() / entry.file_name


def url_path(url: str) -> str:
    """The path part of ``url`` (what a mirror keeps), without the leading ``/``."""
    return urllib.parse.urlsplit(url).path.lstrip("/")


def mirror_location(entry: WeightsEntry, base: str) -> str:
    """Where ``entry``'s file is on the mirror ``base`` (a URL, or a folder path)."""
    rel = url_path(entry.location)
    if "://" in base:
        return base.rstrip("/") + "/" + rel
    folder = Path(base).expanduser()
    flat = folder / entry.file_name
    if entry.url and not (folder / rel).is_file() and flat.is_file():
        return str(flat)
    return str(folder / rel)


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _dist(entry: WeightsEntry) -> str:
    return str(entry.package).replace("_", "-")


def package_path(entry: WeightsEntry) -> Path:
    """The file ``entry`` names inside an installed Python package; one sentence when it is not installed."""
    pkg = str(entry.package)
    if importlib.util.find_spec(pkg) is None:
        raise WeightsError(
            f"the weights of {entry.model!r} ship in the Python package {pkg!r}, which is not installed; "
            f"run `pip install {_dist(entry)}`."
        )
    path = Path(str(importlib.resources.files(pkg).joinpath(str(entry.package_file))))
    if not path.is_file():
        raise WeightsError(
            f"package {pkg!r} is installed but has no file {entry.package_file!r}; reinstall it "
            f"(`pip install --force-reinstall {_dist(entry)}`)."
        )
    return path


def fetch(entry: WeightsEntry, *, force: bool = False) -> Path:
    """The local path of ``entry``'s file, downloading it into the cache first if it is not there.

    A file already in the cache is used as it is (``verify`` checks it again); ``force`` downloads anew.
    """
    if entry.source == "package":
        path = package_path(entry)
        if entry.sha256 and not sha256_of(path).startswith(entry.sha256):
            raise WeightsError(
                f"{str(path)!r} in package {entry.package!r} does not match its published SHA-256 prefix "
                f"{entry.sha256!r}; reinstall it (`pip install --force-reinstall {_dist(entry)}`)."
            )
        return path
    dst = cached_path(entry)
    if dst.is_file() and not force:
        return dst
    base = mirror()
    src = mirror_location(entry, base) if base else entry.location
    if base and "://" not in base:  # a folder mirror: copy, checking the hash like a download
        if not Path(src).is_file():
            raise WeightsError(
                f"the mirror folder {base!r} has no file for {entry.key} of {entry.model!r}; put "
                f"{entry.location} at {src!r}."
            )
        src = Path(src).resolve().as_uri()
    if offline() and not src.startswith("file:"):
        raise WeightsError(
            f"offline and {entry.key} of {entry.model!r} is not in the cache; download {src} and put it at "
            f"{str(dst)!r} (or set {ENV_MIRROR} to a folder or server that holds it)."
        )
    _check_writable(dst.parent)
    if entry.hf_hub and not base:
        return _hf_download(entry, dst)
    download(src, dst, hash_prefix=entry.sha256, what=f"{entry.key} of {entry.model!r}")
    return dst


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WeightsError(
            f"cannot create the weights cache folder {str(folder)!r} ({e.strerror}); set {ENV_CACHE} to a "
            "writable folder."
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WeightsError(
            f"the weights cache folder {str(folder)!r} is not writable; set {ENV_CACHE} to a writable folder."
        )


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    # torch.hub opens URLs without a timeout, so the process default applies for the download's duration.
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def download(url: str, dst: Path, *, hash_prefix: str | None = None, what: str = "weights") -> Path:
    """Download ``url`` to ``dst`` with :func:`torch.hub.download_url_to_file` (progress bar, SHA-256 prefix
    check, atomic rename), then check that the file is a readable checkpoint. On any failure nothing is left
    at ``dst`` or beside it, and the error is one sentence."""
    import torch.hub

    from ..checkpoint import safe_load
    from ..errors import CheckpointError

    dst.parent.mkdir(parents=True, exist_ok=True)
    before = set(dst.parent.glob(dst.name + ".*.partial"))
    try:
        with _socket_timeout(_timeout()):
            torch.hub.download_url_to_file(url, str(dst), hash_prefix, progress=_SETTINGS.progress)
    except urllib.error.HTTPError as e:
        _cleanup(dst, before)
        raise WeightsError(
            f"cannot download {what}: {url} answered HTTP {e.code} ({e.reason}); check the URL or the mirror "
            f"setting ({ENV_MIRROR}), or put the file at {str(dst)!r}."
        ) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        _cleanup(dst, before)
        reason = getattr(e, "reason", None) or e
        raise WeightsError(
            f"cannot download {what} from {url} ({reason}); connect to the network, set {ENV_MIRROR}, or put "
            f"the file at {str(dst)!r}."
        ) from None
    except (http.client.HTTPException, OSError) as e:
        _cleanup(dst, before)
        raise WeightsError(
            f"the download of {what} from {url} broke off ({type(e).__name__}); run the command again."
        ) from None
    except RuntimeError as e:  # torch.hub's hash check
        _cleanup(dst, before)
        if "hash" not in str(e):
            raise
        raise WeightsError(
            f"the file downloaded from {url} does not match its published SHA-256 prefix {hash_prefix!r} "
            "(corrupt, truncated or replaced on the way); nothing was kept, try again or check the mirror."
        ) from None
    try:
        safe_load(dst)
    except CheckpointError:
        kind = _sniff(dst)
        _cleanup(dst, before, final=True)
        raise WeightsError(
            f"the file downloaded from {url} is {kind}, not a PyTorch checkpoint; nothing was kept, check "
            "the URL or the mirror (a proxy may have answered instead)."
        ) from None
    return dst


def _sniff(path: Path) -> str:
    head = path.read_bytes()[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        return "an HTML page"
    return "truncated or corrupt"


def _cleanup(dst: Path, before: set[Path], final: bool = False) -> None:
    for p in set(dst.parent.glob(dst.name + ".*.partial")) - before:
        p.unlink(missing_ok=True)
    if final:
        dst.unlink(missing_ok=True)


def _hf_download(entry: WeightsEntry, dst: Path) -> Path:
    """Fetch a Hub file with ``huggingface_hub`` into ``dst``'s folder (atomic: its ``.incomplete`` file)."""
    try:
        import huggingface_hub
        from huggingface_hub.errors import (
            EntryNotFoundError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
        )
    except ImportError:
        raise WeightsError(
            f"{entry.key} comes from the Hugging Face Hub; run `pip install huggingface_hub`."
        ) from None
    try:
        path = huggingface_hub.hf_hub_download(
            str(entry.hf_hub), str(entry.hf_file), local_dir=dst.parent, etag_timeout=_timeout()
        )
    except LocalEntryNotFoundError:  # the Hub could not be reached
        raise WeightsError(
            f"cannot reach the Hugging Face Hub for {entry.key} of {entry.model!r}; connect to the network, "
            f"set {ENV_MIRROR}, or put {entry.location} at {str(dst)!r}."
        ) from None
    except (RepositoryNotFoundError, EntryNotFoundError):
        raise WeightsError(
            f"the Hugging Face Hub has no {entry.hf_file!r} in {entry.hf_hub!r}; check the tag."
        ) from None
    except Exception as e:  # network and Hub errors have many types; each becomes one sentence
        raise WeightsError(
            f"cannot download {entry.key} of {entry.model!r} from {entry.location} ({type(e).__name__}); "
            f"connect to the network, set {ENV_MIRROR}, or put the file at {str(dst)!r}."
        ) from None
    return Path(path)


def fetch_url(url: str) -> Path:
    """The local path of a user's ``https://``/``http://``/``file://`` weights URL (downloaded into the
    cache under its own file name; a ``file://`` URL is read in place)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = Path(urllib.parse.unquote(parts.path))
        if not path.is_file():
            raise WeightsError(f"no file at {url} ({str(path)!r} does not exist); check the path.")
        return path
    name = Path(urllib.parse.unquote(parts.path)).name
    if not name:
        raise WeightsError(f"{url} names no file; give the URL of a .pth, .pt or .safetensors file.")
    dst = cache_dir() / name
    if dst.is_file():
        return dst
    base = mirror()
    src = url
    if base and "://" in base:
        src = base.rstrip("/") + "/" + url_path(url)
    elif base:
        src = Path(mirror_location_url(url, base)).as_uri()
    if offline() and not src.startswith("file:"):
        raise WeightsError(f"offline and {url} is not in the cache; download it and put it at {str(dst)!r}.")
    _check_writable(dst.parent)
    return download(src, dst, what=name)


def mirror_location_url(url: str, folder: str) -> str:
    """Where a plain URL's file is in a mirror folder: its URL path, or flat under its own name."""
    base = Path(folder).expanduser()
    nested = base / url_path(url)
    flat = base / Path(url_path(url)).name
    if nested.is_file() or not flat.is_file():
        if not nested.is_file():
            raise WeightsError(
                f"the mirror folder {folder!r} has no file for {url}; put it at {str(nested)!r}."
            )
        return str(nested.resolve())
    return str(flat.resolve())
