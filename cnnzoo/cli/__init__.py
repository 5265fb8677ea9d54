"""The ``cnnzoo`` command: one sub-command per verb, each a thin layer over the Python API.

Errors a user can cause are printed as one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from ..errors import CnnzooError
from ._args import as_flags

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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cnnzoo",
        description="The classic CNNs (LeNet-5 to NASNet) as their papers drew them, and the tools taught "
        "with them: per-layer accounting, training, transfer, explanation and deployment.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for mod in _command_modules():
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except CnnzooError as e:
        if os.environ.get("RANK", "0") == "0":  # under torchrun: said once, not once per process
            print(f"cnnzoo {args.command}: error: {as_flags(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # the machine said no (disk full, permission, a file vanished): one sentence too
        if os.environ.get("RANK", "0") == "0":
            where = f" ({e.filename})" if getattr(e, "filename", None) else ""
            print(f"cnnzoo {args.command}: error: {e.strerror or e}{where}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cnnzoo {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)
