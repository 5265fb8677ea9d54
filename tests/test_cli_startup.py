"""`cnnzoo --help` and every `cnnzoo VERB --help` build their parsers without importing torch (issue #16: the
command starts in a fraction of a second), `import cnnzoo` is light and reaches its subpackages lazily (issue
#20), and the model table and recipe names the CLI reads without torch (cnnzoo/model_index.py) equal the
live ones."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from cnnzoo import model_index
from cnnzoo.cli import build_parser

HEAVY = ("torch", "numpy", "torchvision", "sklearn", "matplotlib", "onnxruntime", "openvino", "scipy")

_CHECK = """
import json, sys
sys.argv = ["cnnzoo", *json.loads(sys.argv[1])]
from cnnzoo.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)
"""


def _verbs() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(sub.choices)


def _heavy_after(argv: list[str]) -> list[str]:
    code = _CHECK.format(heavy=HEAVY)
    r = subprocess.run(
        [sys.executable, "-c", code, json.dumps(argv)], capture_output=True, text=True, timeout=120
    )
    return json.loads(r.stderr.strip().splitlines()[-1])


def test_the_command_has_the_verbs_it_documents() -> None:
    assert {"train", "eval", "list", "summary", "export", "bench"} <= set(_verbs())


@pytest.mark.parametrize("argv", [["--help"], *([v, "--help"] for v in _verbs())], ids=" ".join)
def test_help_imports_no_torch(argv: list[str]) -> None:
    assert _heavy_after(argv) == []


def test_version_names_cnnzoo_and_torch_without_importing_torch() -> None:
    from importlib.metadata import version

    import cnnzoo

    code = _CHECK.format(heavy=HEAVY)
    r = subprocess.run(
        [sys.executable, "-c", code, json.dumps(["--version"])], capture_output=True, text=True, timeout=120
    )
    assert json.loads(r.stderr.strip().splitlines()[-1]) == []
    assert r.stdout.startswith(f"cnnzoo {cnnzoo.__version__} (torch {version('torch')}, Python 3.")


def test_list_prints_the_registry_without_torch() -> None:
    code = _CHECK.format(heavy=HEAVY)
    r = subprocess.run(
        [sys.executable, "-c", code, json.dumps(["list", "lenet*"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(r.stderr.strip().splitlines()[-1]) == []
    rows = r.stdout.splitlines()
    assert [row.split()[0] for row in rows] == ["lenet5", "lenet5_linear", "lenet5_modern"]
    assert rows[0].split()[1:4] == ["lenet", "1998", "1x32x32"]


def test_import_cnnzoo_is_light_and_its_subpackages_load_on_first_use() -> None:
    code = (
        "import sys, cnnzoo; light = 'torch' not in sys.modules; "
        "print(light, cnnzoo.train.train_model.__name__, cnnzoo.deploy.export_onnx.__name__, "
        "cnnzoo.explain.__name__, cnnzoo.transfer.run_transfer.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.split() == ["True", "train_model", "export_onnx", "cnnzoo.explain", "run_transfer"]


def test_the_generated_model_index_equals_the_registry_and_the_recipes() -> None:
    stale = "cnnzoo/model_index.py is stale: run python -m cnnzoo.model_index"
    assert model_index.live() == model_index.MODELS, stale
    assert model_index.live_recipes() == model_index.RECIPES, stale


def test_heavy_imports_run_without_the_collector_and_leave_it_as_it_was():
    import gc

    from cnnzoo.cli._args import imports_without_gc

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with imports_without_gc():
            assert not gc.isenabled()
            keep = [[] for _ in range(1000)]  # tracked objects made meanwhile are frozen afterwards
        assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(keep)
        gc.disable()
        with imports_without_gc():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
        gc.unfreeze()


def test_the_commands_given_torch_without_the_collector_are_real_and_leave_the_light_ones_alone():
    from cnnzoo.cli import _TORCH_FIRST, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) >= _TORCH_FIRST
    assert {"list", "samples", "weights"}.isdisjoint(_TORCH_FIRST)
