"""One process per run folder: an exclusive lock file, taken before anything is written into the folder.

Two trainings (or two ``--resume``s, or a ``--resume`` beside the orphaned ranks of a killed ``torchrun``)
writing into one folder would interleave their checkpoints, report one run's accuracy as the other's and mix
their TensorBoard curves. So the run folder holds ``.cnnzoo-run.lock`` while a run writes there:

- the lock is an exclusive ``flock`` on that file (POSIX advisory lock: the kernel drops it when the process
  ends, however it ends, so a lock left by a killed process is never mistaken for a live one), and the file
  says who holds it: PID, host, start time and command;
- a second process is refused in one sentence naming the holder (:class:`RunFolderBusy`);
- a lock file whose holder is gone (``kill -9``, a crash, a power cut) is taken over, with a note naming
  the process that left it;
- where the file system offers no ``flock`` (some network mounts), the PID and host in the file decide: a
  holder on this host whose PID is not alive is stale; one on another host cannot be checked, so it is
  refused with the file to delete once that run is known to be over.

:func:`acquire` takes the lock; :func:`scope` releases, when it ends, every lock its thread took inside it
(:func:`scoped` is its decorator form: ``train_model`` and ``transfer`` wear it).
``cnnzoo.train.run.choose_out_dir`` is the one caller of :func:`acquire`.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from ..errors import CnnzooError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: the PID check alone
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".cnnzoo-run.lock"
P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["LOCK_NAME", "RunFolderBusy", "RunLock", "acquire", "holder_of", "scope", "scoped"]


class RunFolderBusy(CnnzooError):
    """A run folder that another live process is writing into."""


@dataclass(frozen=True)
class Holder:
    """Who holds a run folder's lock."""

    pid: int
    host: str
    started: str = ""
    command: str = ""

    def describe(self) -> str:
        cmd = f" ({self.command})" if self.command else ""
        since = f" since {self.started}" if self.started else ""
        return f"process {self.pid} on {self.host}{since}{cmd}"

    @staticmethod
    def read(text: str) -> Holder | None:
        try:
            d = json.loads(text)
            return Holder(int(d["pid"]), str(d["host"]), str(d.get("started", "")), str(d.get("command", "")))
        except (ValueError, KeyError, TypeError):
            return None


def _me() -> Holder:
    argv = " ".join(sys.argv[1:])[:200]
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    command = "cnnzoo " + argv if prog in ("cnnzoo", "__main__.py", "-m") else f"{prog} {argv}".strip()
    return Holder(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%d %H:%M:%S"), command)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class RunLock:
    """A held lock on one run folder; :meth:`release` (or the end of the process) frees it."""

    def __init__(
        self, folder: Path, fd: int | None, took_over: Holder | None, created: Path | None = None
    ) -> None:
        self.folder = folder
        self.created = created  # the outermost folder the lock had to create, if any
        self.path = folder / LOCK_NAME
        self._fd = fd
        self.took_over = took_over

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file and drop the lock (in that order: a process waiting on the old file then
        sees that it was replaced and tries again); a folder the lock created and nothing filled is removed
        too."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            if os.fstat(self._fd).st_ino == os.stat(self.path).st_ino:
                self.path.unlink()
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None
        _forget(self)
        if self.created is not None:  # folders made for the lock and left empty (a refused run): removed
            d = self.folder
            while True:
                try:
                    d.rmdir()
                except OSError:
                    break
                if d == self.created:
                    break
                d = d.parent

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def holder_of(folder: str | os.PathLike[str]) -> Holder | None:
    """The holder named in ``folder``'s lock file (live or not), or ``None``."""
    try:
        return Holder.read((Path(folder) / LOCK_NAME).read_text())
    except OSError:
        return None


def _busy(folder: Path, holder: Holder | None, checked: bool = True) -> RunFolderBusy:
    who = holder.describe() if holder else "another process"
    if checked:
        return RunFolderBusy(
            f"the run folder {str(folder)!r} is in use by {who}; wait for it to finish (or stop it), or "
            "choose another --out."
        )
    return RunFolderBusy(
        f"the run folder {str(folder)!r} is locked by {who}, which cannot be checked from this host; if "
        f"that run is over, delete {str(folder / LOCK_NAME)!r}, else choose another --out."
    )


def acquire(folder: str | os.PathLike[str]) -> RunLock:
    """Take ``folder``'s lock (creating the folder), or raise :class:`RunFolderBusy` naming the holder."""
    folder = Path(folder)
    created = None
    if not folder.exists():
        created = folder
        while not created.parent.exists() and created.parent != created:
            created = created.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CnnzooError(
            f"cannot create the run folder {str(folder)!r} ({e.strerror}); choose another --out."
        ) from None
    path = folder / LOCK_NAME
    for _ in range(20):  # the file may be replaced between open and lock by a releasing holder: retry
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise CnnzooError(
                f"cannot create the lock file {str(path)!r} ({e.strerror}); choose another --out."
            ) from None
        try:
            previous = _lock(fd, folder)
            if os.fstat(fd).st_ino != os.stat(path).st_ino:  # released and removed meanwhile
                os.close(fd)
                continue
        except FileNotFoundError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        _write(fd, _me())
        lock = RunLock(folder, fd, previous, created)
        _remember(lock)
        if previous is not None and previous.pid != os.getpid():
            print(
                f"note: took over the run folder's lock left by {previous.describe()}, which has ended",
                file=sys.stderr,
                flush=True,
            )
        return lock
    raise _busy(folder, holder_of(folder))  # pragma: no cover - 20 releases in a row


def _lock(fd: int, folder: Path) -> Holder | None:
    """Lock ``fd`` exclusively without waiting; returns the stale holder the file still names (or None).
    Raises :class:`RunFolderBusy` when a live process holds it."""
    text = _read(fd)
    previous = Holder.read(text) if text.strip() else None
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return Holder.read(_read(fd)) if previous else None  # re-read: the content under the lock
        except BlockingIOError:
            raise _busy(folder, Holder.read(_read(fd))) from None
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
    # no flock here: the PID and host in the file decide
    if previous is None or previous.pid == os.getpid():
        return None
    if previous.host != socket.gethostname():
        raise _busy(folder, previous, checked=False)
    if _alive(previous.pid):
        raise _busy(folder, previous)
    return previous


def _read(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 4096).decode(errors="replace")
    except OSError:
        return ""


def _write(fd: int, holder: Holder) -> None:
    data = json.dumps(
        {"pid": holder.pid, "host": holder.host, "started": holder.started, "command": holder.command}
    ).encode()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data + b"\n")
    with contextlib.suppress(OSError):
        os.fsync(fd)


# ------------------------------------------------------------------------------ who holds what, per thread
_LOCAL = threading.local()


def _held() -> list[RunLock]:
    if not hasattr(_LOCAL, "locks"):
        _LOCAL.locks = []
    return _LOCAL.locks


def _remember(lock: RunLock) -> None:
    _held().append(lock)


def _forget(lock: RunLock) -> None:
    with contextlib.suppress(ValueError):
        _held().remove(lock)


def scoped(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run inside :func:`scope` (a decorator for the functions that run a whole training)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with scope():
            return fn(*args, **kwargs)

    return run


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """Release, when the block ends (normally, by an error or Ctrl-C), every lock this thread took in it."""
    before = list(_held())
    try:
        yield
    finally:
        for lock in [x for x in _held() if x not in before]:
            lock.release()
