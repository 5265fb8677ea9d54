"""Every environment variable cnnzoo reads, read and checked in this one place.

A variable is read through its typed reader (:func:`flag`, :func:`seconds`, :func:`folder`,
:func:`location`, :func:`url`, :func:`integer`), which refuses a malformed value in one sentence naming the
variable, its value and what it accepts, instead of a traceback or a silent fallback (``0`` seconds would
make sockets non-blocking; ``-3`` would be a traceback deep in ``socket``). :func:`check_all` reads every
variable that is set; the command line calls it before any verb runs, so a typo in the environment is said
once, up front, whatever the verb. ``cnnzoo --help`` lists the variables (:func:`describe`).

An empty value means "not set" for every variable, as in most Unix tools.

This module imports nothing heavy.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .errors import CnnzooError

__all__ = [
    "EnvError",
    "VARIABLES",
    "Var",
    "check_all",
    "describe",
    "flag",
    "folder",
    "integer",
    "location",
    "seconds",
    "secret",
    "url",
]

#: The largest timeout accepted, in seconds (a day): anything larger is a typo, and a socket waiting that
#: long is a hang.
MAX_SECONDS = 86_400.0

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class EnvError(CnnzooError):
    """An environment variable whose value cnnzoo cannot use."""


@dataclass(frozen=True)
class Var:
    """One variable: its name, the kind of value (``flag``, ``seconds``, ``folder``, ``location`` = URL
    or existing folder, ``url``, ``count`` >= 1, ``index`` >= 0) and what it does."""

    name: str
    kind: str
    doc: str


VARIABLES: tuple[Var, ...] = (
    Var("CNNZOO_OFFLINE", "flag", "1 never touches the network (weights and named datasets)"),
    Var("HF_HUB_OFFLINE", "flag", "the Hugging Face Hub's own offline switch, honoured the same way"),
    Var("CNNZOO_DOWNLOAD_TIMEOUT", "seconds", "network timeout of weights downloads in seconds (default 60)"),
    Var("CNNZOO_WEIGHTS_DIR", "folder", "the weights cache (default: torch.hub's checkpoints folder)"),
    Var("CNNZOO_WEIGHTS_MIRROR", "location", "a base URL or folder replacing the official weights hosts"),
    Var("HF_ENDPOINT", "url", "the Hugging Face Hub's base URL (default https://huggingface.co)"),
    Var("HF_TOKEN", "secret", "a Hugging Face access token, sent to the Hub only (for gated repositories)"),
    Var("CNNZOO_DATA", "folder", "where named datasets are looked for and downloaded to"),
    Var("CNNZOO_DATA_URL", "url", "a base URL replacing the official dataset hosts (a local mirror)"),
    Var("XDG_CACHE_HOME", "folder", "the user's cache folder (default ~/.cache): datasets go to cnnzoo/data"),
    Var("WORLD_SIZE", "count", "set by torchrun: the number of processes"),
    Var("RANK", "index", "set by torchrun: this process's rank"),
    Var("LOCAL_RANK", "index", "set by torchrun: this process's rank on its machine"),
    Var(
        "OMP_NUM_THREADS",
        "count",
        "CPU threads of each process (set: train keeps it; unset: chosen per model)",
    ),
)
_BY_NAME = {v.name: v for v in VARIABLES}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _bad(name: str, value: str, accepts: str) -> EnvError:
    return EnvError(f"the environment variable {name}={value!r} is not valid: {accepts}; fix or unset it.")


def flag(name: str) -> bool:
    """``1/true/yes/on`` -> True, ``0/false/no/off`` or unset -> False; anything else is refused."""
    value = _raw(name)
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _bad(name, value, "give 1 (on) or 0 (off)")


def seconds(name: str, default: float) -> float:
    """A positive, finite number of seconds up to a day; ``default`` when unset."""
    value = _raw(name)
    if value is None:
        return default
    try:
        s = float(value)
    except ValueError:
        s = math.nan
    if not (math.isfinite(s) and 0 < s <= MAX_SECONDS):
        raise _bad(name, value, f"give a number of seconds above 0 and at most {MAX_SECONDS:.0f}")
    return s


def folder(name: str) -> Path | None:
    """A folder path (it may not exist yet, but must not be an existing file); ``None`` when unset."""
    value = _raw(name)
    if value is None:
        return None
    if "\0" in value:
        raise _bad(name, value, "give a folder path")
    try:
        p = Path(value).expanduser()
    except RuntimeError:  # "~name" of a user this system does not know
        raise _bad(
            name, value, "its ~user names no user of this system; give the folder's full path"
        ) from None
    if p.exists() and not p.is_dir():
        raise _bad(name, value, "it names a file where a folder is needed; give a folder path")
    return p


def url(name: str) -> str | None:
    """An ``http(s)://`` or ``file://`` URL; ``None`` when unset."""
    value = _raw(name)
    if value is None:
        return None
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file" and not parts.hostname):
        raise _bad(name, value, "give an http://, https:// or file:// URL")
    try:
        _ = parts.port  # a malformed port ("host:abc") raises here, not deep in urllib later
    except ValueError:
        raise _bad(name, value, "its port is not a number") from None
    return value


def location(name: str) -> str | None:
    """A URL (as :func:`url`) or an existing folder; ``None`` when unset."""
    value = _raw(name)
    if value is not None and "://" in value:
        return url(name)
    p = folder(name)  # not a file
    if p is not None and not p.is_dir():
        raise _bad(
            name, str(value), "it names a folder that does not exist; give a base URL or an existing one"
        )
    return value


def secret(name: str) -> str | None:
    """A token: any single-line text, never printed; ``None`` when unset."""
    value = _raw(name)
    if value is not None and ("\n" in value or " " in value):
        raise EnvError(
            f"the environment variable {name} holds spaces or several lines; give the token alone."
        )
    return value


def integer(name: str, default: int, minimum: int = 0) -> int:
    """A whole number ``>= minimum``; ``default`` when unset."""
    value = _raw(name)
    if value is None:
        return default
    if not value.lstrip("+").isdigit() or int(value) < minimum:
        raise _bad(name, value, f"give a whole number from {minimum}")
    return int(value)


_READERS = {
    "flag": flag,
    "folder": folder,
    "location": location,
    "url": url,
    "secret": secret,
    "seconds": lambda n: seconds(n, 0.0),
    "count": lambda n: integer(n, 1, 1),
    "index": lambda n: integer(n, 0, 0),
}


def check_all() -> None:
    """Read every variable that is set, raising :class:`EnvError` (one sentence) for the first bad one;
    also check that ``RANK`` is below ``WORLD_SIZE``."""
    for var in VARIABLES:
        _READERS[var.kind](var.name)
    world, rank = integer("WORLD_SIZE", 1, 1), integer("RANK", 0, 0)
    if rank >= world:
        raise EnvError(
            f"the environment variable RANK={rank} is not below WORLD_SIZE={world}; launch with torchrun, "
            "which sets both."
        )


def describe() -> str:
    """The variables as ``--help`` text lines."""
    width = max(len(v.name) for v in VARIABLES)
    return "\n".join(f"  {v.name:<{width}}  {v.doc}" for v in VARIABLES)
