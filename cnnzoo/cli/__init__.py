"""The ``cnnzoo`` command: one sub-command per verb, each a thin layer over the Python API.

Errors a user can cause are printed as one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import threading
from collections.abc import Sequence

from ..env import describe
from ..errors import CnnzooError
from ._args import as_flags, imports_without_gc

# Each module in cnnzoo/cli/ defines ``register(subparsers)``, which adds its sub-command(s) and sets
# ``func(args) -> int`` as the handler, and ``ORDER`` (an int), its place in ``cnnzoo --help``.


def _command_modules() -> list:
    mods = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)]
    mods = [m for m in mods if hasattr(m, "register")]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 99), m.__name__))


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _version() -> str:
    """``cnnzoo 0.1.0 (torch 2.14.1, Python 3.11.2)``, read from the installed metadata (no torch import)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    try:
        torch_version = version("torch")
    except PackageNotFoundError:  # pragma: no cover - cnnzoo cannot run without torch
        torch_version = "not installed"
    py = ".".join(map(str, sys.version_info[:3]))
    return f"cnnzoo {__version__} (torch {torch_version}, Python {py})"


class _VersionAction(argparse.Action):
    """``--version``: reads the installed metadata only when asked (``importlib.metadata`` costs ~20 ms,
    which every other command would pay at parser build time)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(_version(), flush=True)
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cnnzoo",
        description="The classic CNNs (LeNet-5 to NASNet) as their papers drew them, and the tools taught "
        "with them: per-layer accounting, training, transfer, explanation and deployment.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="environment variables (each checked before any command runs):\n" + describe(),
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="print cnnzoo's and torch's versions and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for mod in _command_modules():
        mod.register(sub)
    return parser


def _disk_full(e: BaseException) -> str | None:
    """The one sentence for a full disk that a writer outside :mod:`cnnzoo.outputs` ran into, else None."""
    from ..outputs import disk_full_error, is_disk_full

    if not is_disk_full(e):
        return None
    return str(disk_full_error(getattr(e, "filename", None) or os.getcwd() + "/.", 0))


def _launcher_gone() -> bool:
    """Whether this process is a rank whose torchrun launcher died (without importing torch to ask)."""
    dist = sys.modules.get("cnnzoo.train.distributed")
    return bool(dist is not None and dist.LAUNCHER_GONE.is_set())


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (``kill``, a job scheduler, a container stop) unwinds like Ctrl-C, so that the atomic writers
    remove their temporary files and locks are released (the trainer installs its own handler, which saves
    first)."""
    raise KeyboardInterrupt


#: The commands whose work starts by importing torch: main() imports it for them with the garbage collector
#: off and then freezes what it made (:func:`._args.imports_without_gc`: 0.1-0.3 s less start-up on a
#: 2-core AMD EPYC, and no full collections walking torch's objects during the work). ``list``, ``weights``
#: and ``samples`` are not among them (they need no torch, or not at once).
_TORCH_FIRST = frozenset(
    [
        "summary",
        "compare",
        "erf",
        "train",
        "eval",
        "recipes",
        "calibrate",
        "robustness",
        "predict",
        "transfer",
        "explain",
        "filters",
        "activations",
        "units",
        "export",
        "bench",
        "serve",
    ]
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    old_term = None
    if threading.current_thread() is threading.main_thread():
        old_term = signal.signal(signal.SIGTERM, _terminate)
    try:
        from ..env import check_all

        check_all()  # every environment variable, read and checked once, before any work
        if args.command in _TORCH_FIRST:
            with imports_without_gc():
                import torch  # noqa: F401 - what these commands import first anyway, without the collector
        code = args.func(args)
    except CnnzooError as e:
        if os.environ.get("RANK", "0") == "0":  # under torchrun: said once, not once per process
            print(f"cnnzoo {args.command}: error: {as_flags(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # the machine said no (disk full, permission, a file vanished): one sentence too
        if os.environ.get("RANK", "0") == "0":
            where = f" ({e.filename})" if getattr(e, "filename", None) else ""
            text = _disk_full(e) or f"{e.strerror or e}{where}."
            print(f"cnnzoo {args.command}: error: {text}", file=sys.stderr)
        return 2
    except Exception as e:  # a library's wrapper of a full disk (torch.save: RuntimeError), else a bug
        text = _disk_full(e)
        if text is None and _launcher_gone():
            print(f"cnnzoo {args.command}: stopped: its launcher (torchrun) has ended", file=sys.stderr)
            return 143
        if text is None:
            raise
        if os.environ.get("RANK", "0") == "0":
            print(f"cnnzoo {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if _launcher_gone():
            print(f"cnnzoo {args.command}: stopped: its launcher (torchrun) has ended", file=sys.stderr)
            return 143
        print(f"cnnzoo {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return int(code or 0)
