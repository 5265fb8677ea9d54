"""Argument types shared by the sub-commands: bad values become one-line argparse errors (exit 2)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..registries import Registry


@contextlib.contextmanager
def imports_without_gc() -> Iterator[None]:
    """A command's heavy imports (torch and what it brings: hundreds of thousands of objects, none of them
    garbage; :func:`cnnzoo.cli.main` runs ``import torch`` in it for every command that needs torch) with the
    cyclic garbage collector off, then those objects frozen out of its sight for the rest
    of the process: ``import torch`` alone spends ~0.2 s in collections that find nothing, and a summary of
    a 600-block model paid 0.25-0.35 s more for full collections walking them again (2-core AMD EPYC). The
    collector is back on afterwards for everything the command allocates."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()


def command(
    sub: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int] | None,
    help: str,  # noqa: A002  (argparse's word)
    description: str,
    epilog: str | None = None,
    raw: bool = False,
) -> argparse.ArgumentParser:
    """The sub-command ``cnnzoo NAME``: its one-line ``help`` (in ``cnnzoo --help``), its ``description``
    and ``epilog`` (in ``cnnzoo NAME --help``; ``raw`` keeps their line breaks as written), run by ``run``
    (``None``: its own sub-commands set theirs)."""
    formatter = argparse.RawDescriptionHelpFormatter if raw else argparse.HelpFormatter
    p = sub.add_parser(name, help=help, description=description, epilog=epilog, formatter_class=formatter)
    if run is not None:
        p.set_defaults(func=run)
    return p


def _number(s: str, cast: Callable[[str], float], kind: str, lowest: float, bound: str) -> float:
    try:
        v = cast(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {s!r}") from None
    if not v >= lowest:
        raise argparse.ArgumentTypeError(f"expected {bound}, got {s!r}")
    return v


def positive_int(s: str) -> int:
    """A whole number >= 1."""
    return int(_number(s, int, "a whole number", 1, "a positive number"))


def nonneg_int(s: str) -> int:
    """A whole number >= 0."""
    return int(_number(s, int, "a whole number", 0, "0 or more"))


def nonneg_float(s: str) -> float:
    """A number >= 0."""
    return _number(s, float, "a number", 0.0, "a non-negative number")


def call_with_args(
    fn: Callable[..., Any],
    args: argparse.Namespace,
    *positional: Any,
    rename: dict[str, str] | None = None,
    also: Iterable[str] = (),
    **given: Any,
) -> Any:
    """Call the library function ``fn`` with what the command line parsed: ``positional`` first, then every
    other parameter of ``fn`` that is an option of the same name (``rename``: parameter -> option, where they
    differ; ``also``: the names ``fn`` takes through ``**kwargs``), then ``given`` (values the command
    computed). The flags are the parameters said the command line's way (``freeze_epochs`` is
    ``--freeze-epochs``), so a new library option reaches it by name."""
    import inspect

    names = {**{k: k for k in vars(args)}, **(rename or {})}
    params = list(inspect.signature(fn).parameters.values())[len(positional) :]
    wanted = [p.name for p in params if p.kind != p.VAR_KEYWORD] + list(also)
    options = {name: getattr(args, names[name]) for name in wanted if name in names}
    return fn(*positional, **{**options, **given})


def add_precision(p: argparse.ArgumentParser, help: str, default: str | None = "fp32") -> None:  # noqa: A002
    """``--precision fp32|bf16`` (:class:`cnnzoo.options.Precision`)."""
    from ..options import Precision

    p.add_argument("--precision", choices=Precision.values(), default=default, help=help)


def listing(registry: Registry) -> str:
    """The entries of a registry as a help text says them: ``name: its help; name: its help``. Reads the
    declarations without importing them (no torch)."""
    return "; ".join(f"{e.name}: {e.help}" for e in registry.entries().values())


def name_list(s: str) -> list[str]:
    """Comma-separated names (layers), at least one."""
    vals = [x.strip() for x in s.split(",") if x.strip()]
    if not vals:
        raise argparse.ArgumentTypeError("expected comma-separated layer names")
    return vals


def as_flags(error: Exception) -> str:
    """The message of a library error with the Python parameter names it uses said as this CLI's flags
    (an :class:`~cnnzoo.errors.OptionError` names them: ``freeze_epochs`` -> ``--freeze-epochs``)."""
    message = str(error)
    for name in getattr(error, "names", ()):
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", "--" + name.replace("_", "-"), message)
    return message
