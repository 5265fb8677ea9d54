"""The model zoo: one module per paper family. Importing this package registers every model.

Every module in this package except the shared ``base``, ``layers`` and ``spec`` (the lecture-notation
builder) is a paper family and is imported here,
so its ``@register_model`` factories run.
"""

from __future__ import annotations

import importlib
import pkgutil

_SHARED = {"base", "layers", "spec"}

FAMILIES: tuple[str, ...] = tuple(
    sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name not in _SHARED and not m.name.startswith("_")
    )
)

for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")
