"""The one reader of input sizes (``--input CxHxW`` on the command line, ``input_size=`` in the API).

Every verb and function that takes an input size reads it here, so ``"3x224x224"``, ``"224"``, ``224`` and
``(3, 224, 224)`` mean the same everywhere and every malformed size is refused with the same sentence. This
module imports nothing heavy (no torch), so the command line can use it before loading a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import CnnzooError

__all__ = ["InputSizeError", "MAX_SIDE", "parse_input_size"]

MAX_SIDE = 1 << 16
"""The largest channel count or side accepted (65536): anything larger is a typo, not an image."""


class InputSizeError(CnnzooError):
    """An input size that is not a list of positive whole numbers of the right length."""


def _show(dims: Sequence[int]) -> str:
    return "x".join(str(d) for d in dims)


def parse_input_size(
    value: str | int | Sequence[int], in_chans: int = 3, spatial: int | None = 2
) -> tuple[int, ...]:
    """Read an input size as ``(C, H, W)`` (or ``(C, L)`` / ``(C, D, H, W)`` when ``spatial`` allows).

    Accepted: ``"3x224x224"`` (``x``, ``×`` or ``,`` between numbers, spaces ignored), a sequence of ints,
    or one number ``N`` (``"224"`` or ``224``), which means a square ``in_chans x N x N`` image.
    ``spatial`` is the number of spatial dimensions required (2 for images, the default); ``None`` accepts
    1 to 3. Sizes must be whole numbers from 1 to 65536. Anything else raises :class:`InputSizeError`.
    """
    example = "CxHxW, e.g. 3x224x224" if spatial in (2, None) else "C" + "xN" * spatial
    if isinstance(value, bool):
        raise InputSizeError(f"input size {value!r} is not a size; write it as {example}.")
    if isinstance(value, str):
        text = value.strip().lower().replace("×", "x").replace(",", "x").replace(" ", "")
        parts = text.split("x")
        if not text or not all(p.isdigit() for p in parts):
            raise InputSizeError(f"cannot read input size {value!r}; write it as {example}.")
        dims = tuple(int(p) for p in parts)
    elif isinstance(value, int):
        dims = (value,)
    else:
        try:
            dims = tuple(int(v) for v in value)
            if any(isinstance(v, bool) or int(v) != v for v in value):
                raise TypeError
        except (TypeError, ValueError, OverflowError):
            raise InputSizeError(
                f"input size {value!r} is not a list of whole numbers; give {example}."
            ) from None
    if len(dims) == 1:
        dims = (in_chans, dims[0], dims[0]) if spatial in (2, None) else (in_chans,) + (dims[0],) * spatial
    n_sp = len(dims) - 1
    if spatial is not None and n_sp != spatial:
        raise InputSizeError(
            f"input size {_show(dims)} has {n_sp} spatial dimension{'s' * (n_sp != 1)} but {spatial} "
            f"{'are' if spatial != 1 else 'is'} needed; write it as {example}."
        )
    if spatial is None and not 1 <= n_sp <= 3:
        raise InputSizeError(
            f"input size {_show(dims)} needs 1 to 3 spatial sizes after C; write it as {example}."
        )
    if any(d < 1 or d > MAX_SIDE for d in dims):
        raise InputSizeError(
            f"input size {_show(dims)} is not valid; give whole numbers from 1 to {MAX_SIDE} as {example}."
        )
    return dims
