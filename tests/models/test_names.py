"""Names you can find (issue #12): every registered model is spelled out in the source of cnnzoo/models."""

from __future__ import annotations

import re
from pathlib import Path

import cnnzoo
from cnnzoo.registry import _REGISTRY

MODELS_DIR = Path(cnnzoo.__file__).parent / "models"


def _source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(MODELS_DIR.glob("*.py")))


def test_every_registered_name_is_a_def_or_a_string_literal_in_the_models_package() -> None:
    src = _source()
    names = cnnzoo.list_models("*")
    assert len(names) >= 108
    hidden = [n for n in names if f"def {n}(" not in src and f'"{n}"' not in src]
    assert hidden == [], f"built in loops or f-strings, not findable by grep: {hidden}"


def test_no_factory_has_a_synthesised_signature() -> None:
    cnnzoo.list_models()  # loads every family
    synthesised = [name for name, entry in _REGISTRY.items() if hasattr(entry.factory, "__signature__")]
    assert synthesised == []
    assert not re.search(r"__signature__\s*=", _source())


def test_the_rule_catches_a_name_built_in_a_loop() -> None:
    """The check above can fail: a name made by an f-string in a loop is not found."""
    src = 'for d in (18, 34):\n    register_model(f"resnet{d}")\n'
    assert "def resnet18(" not in src and '"resnet18"' not in src
