"""The one check that an output can be written, made before the work starts.

Every verb that writes (``train``/``transfer --out``, ``eval --confusion``, ``explain``/``filters``/
``activations``/``export --out``, ``compare --plot``) calls :func:`check_output_file` or
:func:`check_output_dir` first, so a read-only folder, a file where a folder is needed or a path under a
file is one sentence before an epoch is trained or a model exported, not a traceback after. The check
really writes (and removes) a probe file in the nearest existing folder, because permission bits do not tell
the truth for root, on read-only mounts or on full disks. :func:`writing` turns a failure that happens
anyway (the disk fills up mid-write) into the same kind of sentence.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import CnnzooError

__all__ = ["FIGURE_SUFFIXES", "OutputError", "check_output_dir", "check_output_file", "writing"]

FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".eps", ".ps")
"""File types matplotlib writes; any other suffix on a figure path is refused before drawing."""


class OutputError(CnnzooError):
    """An output path that cannot be written."""


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
        reason = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or type(e).__name__)
        raise OutputError(f"could not write the {what} {str(path)!r}: {reason}.") from None
