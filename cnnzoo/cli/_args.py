"""Argument types shared by the sub-commands: bad values become one-line argparse errors (exit 2)."""

from __future__ import annotations

import argparse
import re


def positive_int(s: str) -> int:
    """A whole number >= 1."""
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {s!r}")
    return v


def nonneg_float(s: str) -> float:
    """A number >= 0."""
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {s!r}")
    return v


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
