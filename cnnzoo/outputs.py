"""The one check that an output can be written, made before the work starts.

Every verb that writes (``train``/``transfer --out``, ``eval --confusion``, ``explain``/``filters``/
``activations``/``export --out``, ``compare --plot``) calls :func:`check_output_file` or
:func:`check_output_dir` first, so a read-only folder, a file where a folder is needed or a path under a
file is one sentence before an epoch is trained or a model exported, not a traceback after. The check
really writes (and removes) a probe file in the nearest existing folder, because permission bits do not tell
the truth for root, on read-only mounts or on full disks. :func:`writing` turns a failure that happens
anyway (the disk fills up mid-write) into the same kind of sentence.

Every output is then written through one door, :func:`atomic_path` (and its short forms
:func:`write_atomic` for bytes or text and :func:`save_figure` for matplotlib figures): the writer writes a
temporary file beside the target (``.NAME.PID-XXXX.tmp``), which is flushed to disk and renamed onto the
target only when complete, so an interrupted write (Ctrl-C, SIGTERM, SIGKILL, a full disk, an exception)
leaves the previous file or none at the requested path, never a half-written one. A temporary file that a
killed writer left behind is removed by the next write to the same path (its PID is in its name). A full
disk is one sentence with the room to make: "the disk is full at PATH; free N MB".
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import CnnzooError

__all__ = [
    "FIGURE_SUFFIXES",
    "DiskFullError",
    "OutputError",
    "atomic_path",
    "check_output_dir",
    "check_output_file",
    "disk_full_error",
    "is_disk_full",
    "save_figure",
    "write_atomic",
    "writing",
]

FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".eps", ".ps")
"""File types matplotlib writes; any other suffix on a figure path is refused before drawing."""


class OutputError(CnnzooError):
    """An output path that cannot be written."""


class DiskFullError(OutputError):
    """The disk (or quota) filled up while writing an output; nothing half-written was left."""


def _nearest_existing(p: Path) -> Path:
    q = p
    while not q.exists() and not q.is_symlink():
        if q.parent == q:
            break
        q = q.parent
    return q


def _probe(folder: Path, target: Path, what: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=".cnnzoo-probe-", dir=folder)
    except OSError as e:
        reason = {errno.EACCES: "permission denied", errno.EPERM: "permission denied"}.get(e.errno)
        reason = reason or {errno.EROFS: "read-only file system", errno.ENOSPC: "the disk is full"}.get(
            e.errno, e.strerror or type(e).__name__
        )
        raise OutputError(
            f"cannot write the {what} {str(target)!r}: {str(folder)!r} is not writable ({reason}); choose "
            "another path."
        ) from None
    os.close(fd)
    os.unlink(tmp)


def check_output_dir(path: str | os.PathLike[str], what: str = "output folder") -> Path:
    """Check that ``path`` is, or can be created as, a folder we can write in; create nothing."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"the {what} {str(p)!r} is an existing file, not a folder; choose another path.")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise OutputError(
            f"cannot create the {what} {str(p)!r}: {str(base)!r} is a file, not a folder; "
            "choose another path."
        )
    _probe(base, p, what)
    return p


def check_output_file(
    path: str | os.PathLike[str], what: str = "output file", suffixes: Sequence[str] | None = None
) -> Path:
    """Check that the file ``path`` can be written (its folder may not exist yet); create nothing.

    ``suffixes`` (lower case, with the dot) restricts the file type, e.g. :data:`FIGURE_SUFFIXES`.
    """
    p = Path(path)
    if not str(path).strip():
        raise OutputError(f"the {what} path is empty; give a file name.")
    if suffixes is not None and p.suffix.lower() not in suffixes:
        shown = f"the suffix {p.suffix!r}" if p.suffix else "no suffix"
        raise OutputError(
            f"the {what} {str(p)!r} has {shown}, which is not a type that can be written here; "
            f"end it in one of {' '.join(suffixes)}."
        )
    if p.is_dir():
        raise OutputError(f"the {what} {str(p)!r} is a folder; give a file name inside it.")
    base = _nearest_existing(p.parent)
    if not base.is_dir():
        raise OutputError(
            f"cannot write the {what} {str(p)!r}: {str(base)!r} is a file, not a folder; choose another path."
        )
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"cannot overwrite the {what} {str(p)!r}: it is read-only; choose another path.")
    _probe(base, p, what)
    return p


@contextlib.contextmanager
def writing(path: str | os.PathLike[str], what: str = "output file") -> Iterator[None]:
    """Turn an :class:`OSError` while writing ``path`` (a full disk, a folder removed meanwhile) into one
    sentence."""
    try:
        yield
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(path, 0) from None
        raise OutputError(
            f"could not write the {what} {str(path)!r}: {e.strerror or type(e).__name__}."
        ) from None


# ------------------------------------------------------------------------------------ atomic writes ------
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_FULL_TEXT = ("no space left on device", "disk quota exceeded", "file too large")
MB = 1_000_000
FULL_BELOW = 1 << 16
"""A write that fails with less free space than this (64 KiB) left in its folder failed for lack of space,
whatever the writer's exception says."""


def is_disk_full(e: BaseException) -> bool:
    """True when ``e`` (or an exception it was raised from) says the disk or quota is full. Libraries wrap
    ENOSPC in their own exceptions (torch.save: ``RuntimeError: ... file write failed``; protobuf, PIL...),
    so the text and the chain are read too."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in _FULL:
            return True
        if any(t in str(cur).lower() for t in _FULL_TEXT):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(_nearest_existing(folder)).free
    except OSError:
        return 0


def disk_full_error(
    path: str | os.PathLike[str], need: int, *, at_least: bool = False, free: int | None = None
) -> DiskFullError:
    """The sentence for a full disk at ``path``: how many MB to free so that a file of ``need`` bytes fits
    (``at_least`` when ``need`` is only a lower bound: the writer stopped before it knew its size);
    ``free``: the free bytes once the failed write's own are given back (default: measured now)."""
    p = Path(path)
    free = _free_bytes(p.parent) if free is None else free
    short = need - free
    if short <= 0 and not at_least:  # the need is unknown (0) or fits now: say what is certain
        return DiskFullError(
            f"the disk is full at {str(p)!r} ({free / MB:.1f} MB free); free some space and write it again."
        )
    mb = max(1, math.ceil(max(short, 0) / MB))
    return DiskFullError(
        f"the disk is full at {str(p)!r}; free {'at least ' if at_least else ''}{mb} MB "
        f"({free / MB:.1f} MB free now)."
    )


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    except OSError:
        return False
    return True


def sweep_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files of writes to ``path`` whose writer process is gone (killed mid-write);
    those of live writers are left alone. Returns what was removed."""
    p = Path(path)
    gone = []
    try:
        candidates = list(p.parent.glob(f".{_glob_escape(p.name)}.*-*.tmp"))
    except OSError:
        return gone
    for t in candidates:
        pid_text = t.name[len(p.name) + 2 :].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
            with contextlib.suppress(OSError):
                t.unlink()
                gone.append(t)
    return gone


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _mkdir(folder: Path, target: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(target, 0) from None
        raise OutputError(
            f"cannot create the folder of the {what} {str(target)!r} ({e.strerror or type(e).__name__}); "
            "choose another path."
        ) from None


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], what: str = "output file", *, size_hint: int | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer to write; when the block ends normally, the file
    is flushed to disk and renamed onto ``path`` (atomic on POSIX and Windows). On any exception, Ctrl-C or
    SIGTERM included, the temporary file is removed and ``path`` keeps its previous content (or stays
    absent). A full disk becomes :class:`DiskFullError` ("free N MB", from ``size_hint``, the expected size
    in bytes, when given); any other OS failure one :class:`OutputError` sentence.

    Writers that pick the file type from the name (matplotlib, PIL) must be told the type (``format=``):
    the temporary name ends in ``.tmp``.
    """
    p = Path(path)
    _mkdir(p.parent, p, what)
    sweep_temporaries(p)
    tmp = _temp_name(p)
    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(f"the {what} {str(p)!r} was not written (the writer wrote nothing).")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, p)
        _fsync_dir(p.parent)
    except CnnzooError:
        _unlink(tmp)
        raise
    except BaseException as e:
        written = _size(tmp)
        # torch.save reports a full disk as "unexpected pos 576 vs 534": the free space tells the truth
        free = _free_bytes(p.parent)
        full = isinstance(e, Exception) and (is_disk_full(e) or free < FULL_BELOW)
        _unlink(tmp)
        if full:  # the temporary file's bytes come back once the writer lets go of it
            need = max(size_hint or 0, written + 1)
            err = disk_full_error(p, need, at_least=size_hint is None, free=free + written)
            kept = "the file there is unchanged" if p.exists() else "nothing was written there"
            raise type(err)(f"{str(err).rstrip('.')}; {kept}.") from None
        if isinstance(e, OSError):
            raise OutputError(
                f"could not write the {what} {str(p)!r}: {e.strerror or type(e).__name__}; nothing was "
                "left half-written."
            ) from None
        raise


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


def _unlink(p: Path) -> None:
    with contextlib.suppress(OSError):
        p.unlink()


def write_atomic(path: str | os.PathLike[str], data: bytes | str, what: str = "output file") -> Path:
    """Write ``data`` (text is UTF-8) to ``path`` through :func:`atomic_path`; returns ``path``."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    p = Path(path)
    with atomic_path(p, what, size_hint=len(raw)) as tmp, open(tmp, "wb") as f:
        f.write(raw)
    return p


def same_file_atomic(
    src: str | os.PathLike[str], path: str | os.PathLike[str], what: str = "output file"
) -> Path:
    """Make ``path`` hold the content of the finished file ``src`` atomically: a hard link to it (no second
    serialisation or fsync of the same bytes; ``src`` is itself only ever replaced by rename, so ``path``
    keeps this content when ``src`` is rewritten), or a copy through :func:`write_atomic` where the file
    system has no hard links."""
    s, p = Path(src), Path(path)
    tmp = _temp_name(p)
    try:
        os.link(s, tmp)
    except OSError:
        return write_atomic(p, s.read_bytes(), what)
    try:
        os.replace(tmp, p)
    except BaseException:
        _unlink(tmp)
        raise
    _fsync_dir(p.parent)
    return p


def save_figure(fig: Any, path: str | os.PathLike[str], what: str = "figure", **savefig_kw: Any) -> Path:
    """Render the matplotlib figure ``fig`` in the type its suffix names (``.png``, ``.pdf``...) and write it
    with :func:`write_atomic`."""
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".") or "png"
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, **savefig_kw)
    return write_atomic(p, buf.getvalue(), what)
