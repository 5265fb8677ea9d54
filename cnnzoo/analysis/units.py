"""Small formatting helpers shared by the profile's result (:mod:`.result`) and its text formats
(:mod:`.render`)."""

from __future__ import annotations

from collections.abc import Sequence


def squash(t: tuple[int, ...] | None) -> int | list[int] | None:
    """``(7, 7)`` -> ``7``; ``(7, 3)`` -> ``[7, 3]``; ``None`` stays."""
    if t is None:
        return None
    return t[0] if len(set(t)) == 1 else list(t)


def size_str(input_size: Sequence[int]) -> str:
    return "x".join(str(s) for s in input_size)


def si(x: float | None) -> str:
    """A count with a readable unit: ``326.5 K``, ``724.4 M``, ``15.47 G`` (``-`` for None)."""
    if x is None:
        return "-"
    for scale, unit, fmt in ((1e9, "G", ".2f"), (1e6, "M", ".1f"), (1e3, "K", ".1f")):
        if x >= scale:
            return f"{x / scale:{fmt}} {unit}"
    return f"{x:.0f}"
