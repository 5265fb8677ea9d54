"""Analysis of models without changing them: per-layer accounting (:func:`profile`), the effective receptive
field (:func:`effective_receptive_field`), the fully convolutional form of FC-headed networks
(:func:`to_fully_convolutional`, a new module sharing the weights) and the lecture-notation spec parser
(:func:`build_from_spec`, which lives in :mod:`cnnzoo.models.spec` beside the VGG models)."""

from __future__ import annotations

from ..models.spec import SpecToken, build_from_spec, parse_spec
from .erf import effective_receptive_field
from .fully_conv import to_fully_convolutional
from .profile import LayerRow, Profile, profile

__all__ = [
    "LayerRow",
    "Profile",
    "SpecToken",
    "build_from_spec",
    "effective_receptive_field",
    "parse_spec",
    "profile",
    "to_fully_convolutional",
]
