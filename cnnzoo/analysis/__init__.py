"""Analysis of models without changing them: per-layer accounting (:func:`profile`) and the lecture-notation
spec parser (:func:`build_from_spec`, which lives in :mod:`cnnzoo.models.spec` beside the VGG models)."""

from __future__ import annotations

from ..models.spec import SpecToken, build_from_spec, parse_spec
from .profile import LayerRow, Profile, parse_input_size, profile

__all__ = ["LayerRow", "Profile", "SpecToken", "build_from_spec", "parse_input_size", "parse_spec", "profile"]
