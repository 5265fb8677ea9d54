"""One record (issue #24 item 1, #26 item 5): what a model is and expects lives in one ModelRecord,
written once by every writer, read by every reader from the model or the file, and follows every change of
the head."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import cnnzoo
from cnnzoo.checkpoint import load_checkpoint, save_checkpoint
from cnnzoo.errors import CheckpointError
from cnnzoo.record import ModelRecord

PACKAGE = Path(cnnzoo.__file__).parent
FLAT_KEYS = {"model_kwargs", "input_size", "mean", "std", "classes", "cnnzoo_model", "data"}
# where a dict with such keys is not the old flat layout: the record's own (de)serialisation, the one reader
# of the old layout, the registry card's JSON, CIFAR's pickled batches ("data"), and the weights table's
# per-entry ModelRecord keyword arguments
ALLOWED = {
    ("record.py", "record_from_flat_keys"),
    ("record.py", "to_dict"),
    ("record.py", "from_dict"),
    ("registry.py", "as_dict"),
    ("data/sources.py", "_cifar_arrays"),
    ("weights/table.py", "<module>"),
    # the JSON results of robustness and calibration name the data they were measured on (not a checkpoint)
    ("cli/robustness.py", "run"),
    ("train/calibration.py", "evaluate_calibration"),
    ("train/robustness.py", "plot_robustness"),
    # the units folder's own index (units.json): the pass's input size, mean/std and data, not a checkpoint
    ("explain/unit_patches.py", "top_activations"),
    ("explain/unit_report.py", "index_record"),
    ("explain/unit_report.py", "result_from_index"),
    ("explain/unit_report.py", "_html"),
    ("explain/unit_report.py", "units_files"),
    ("serve/units.py", "units_summary"),
}


def _flat_key_uses(path: Path) -> list[tuple[str, int, str]]:
    """``(function, line, what)`` of every read or write of a flat record key in ``path``: a subscript, a
    ``.get``/``.pop``/``.setdefault``, an ``in`` test, or a dict display that spells the old layout."""
    found: list[tuple[str, int, str]] = []

    def walk(node: ast.AST, where: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            where = node.name
        const = lambda n: n.value if isinstance(n, ast.Constant) and isinstance(n.value, str) else None  # noqa: E731
        what = None
        if isinstance(node, ast.Subscript) and const(node.slice) in FLAT_KEYS:
            what = f"[{const(node.slice)!r}]"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "pop", "setdefault")
            and node.args
            and const(node.args[0]) in FLAT_KEYS
        ):
            what = f".{node.func.attr}({const(node.args[0])!r})"
        elif (
            isinstance(node, ast.Compare)
            and const(node.left) in FLAT_KEYS
            and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)
        ):
            what = f"{const(node.left)!r} in"
        elif isinstance(node, ast.Dict):
            keys = {const(k) for k in node.keys if k is not None}
            if (
                keys & {"model_kwargs", "cnnzoo_model"}
                or len(keys & {"input_size", "mean", "std", "classes"}) > 1
            ):
                what = f"dict {sorted(k for k in keys if k in FLAT_KEYS)}"
        if what:
            found.append((where, node.lineno, what))
        for child in ast.iter_child_nodes(node):
            walk(child, where)

    walk(ast.parse(path.read_text()), "<module>")
    return found


def test_no_flat_record_keys_are_read_or_written_outside_the_one_old_format_reader() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        offenders += [
            f"{rel}:{line} {fn}: {what}"
            for fn, line, what in _flat_key_uses(path)
            if (rel, fn) not in ALLOWED
        ]
    assert offenders == []
    # the walker does find the old layout where it is read (so an empty list above means something)
    assert ("record_from_flat_keys", "['classes']") in {
        (f, w) for f, _, w in _flat_key_uses(PACKAGE / "record.py")
    }


def test_no_look_alike_of_the_record_is_read_in_deploy_explain_analysis_or_serve() -> None:
    banned = {"checkpoint_fields", "InputSpec", "input_spec", "from_checkpoint", "cnnzoo_kwargs"}
    offenders = []
    for sub in ("deploy", "explain", "analysis", "serve"):
        for path in sorted((PACKAGE / sub).rglob("*.py")):
            tree = ast.parse(path.read_text())
            info_names = set()  # names bound to model_info(...): the registry card, not the record
            for node in ast.walk(tree):
                name = (
                    node.attr
                    if isinstance(node, ast.Attribute)
                    else node.id
                    if isinstance(node, ast.Name)
                    else None
                )
                if name in banned:
                    offenders.append(f"{path.name}:{node.lineno} {name}")
                called = isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                if called and getattr(node.value.func, "id", None) == "model_info":  # type: ignore[attr-defined]
                    info_names |= {t.id for t in node.targets if isinstance(t, ast.Name)}  # type: ignore[attr-defined]
            for node in ast.walk(tree):  # the input facts come from the record, never the registry card
                if isinstance(node, ast.Attribute) and node.attr in ("input_size", "num_classes"):
                    base = node.value
                    if (isinstance(base, ast.Call) and getattr(base.func, "id", None) == "model_info") or (
                        isinstance(base, ast.Name) and base.id in info_names
                    ):
                        offenders.append(f"{path.name}:{node.lineno} model_info(...).{node.attr}")
    assert offenders == []


# ------------------------------------------------------------------------------------------- checkpoints
def test_a_checkpoint_is_record_state_dict_and_run_and_nothing_else(tmp_path: Path) -> None:
    m = cnnzoo.create_model("lenet5")
    rec = m.cnnzoo_record.with_new_head(10, [str(i) for i in range(10)], "digits")
    p = save_checkpoint(tmp_path / "a.pt", rec, m.state_dict(), {"epoch": 2, "recipe": {"name": "lenet5"}})
    raw = torch.load(p, weights_only=True)
    assert set(raw) == {"format", "version", "record", "state_dict", "run"} and raw["version"] == 2
    assert raw["record"] == rec.to_dict() and ModelRecord.from_dict(raw["record"]) == rec
    ck = load_checkpoint(p)
    assert (ck.record, ck.run["epoch"], ck.version) == (rec, 2, 2)
    with pytest.raises(TypeError, match="ModelRecord"):
        save_checkpoint(tmp_path / "b.pt", rec.to_dict(), m.state_dict())  # type: ignore[arg-type]


def test_a_newer_format_and_a_record_less_checkpoint_are_one_sentence(tmp_path: Path) -> None:
    future = tmp_path / "future.pt"
    torch.save({"format": "cnnzoo-checkpoint", "version": 3, "state_dict": {}}, future)
    with pytest.raises(CheckpointError, match="format version 3, newer than this cnnzoo reads .2.; upgrade"):
        load_checkpoint(future)
    plain = save_checkpoint(tmp_path / "plain.pt", None, torch.nn.Linear(2, 2).state_dict())
    assert load_checkpoint(plain).record is None
    with pytest.raises(CheckpointError, match="no record of its model"):
        cnnzoo.model_from_checkpoint(str(plain))


def test_records_of_a_newer_cnnzoo_load_and_fields_added_since_take_their_defaults() -> None:
    d = ModelRecord("lenet5", input_size=(1, 32, 32)).to_dict()
    newer = {**d, "something_new": [1, 2], "another": {"a": 1}}
    assert ModelRecord.from_dict(newer) == ModelRecord("lenet5", input_size=(1, 32, 32))
    older = {k: v for k, v in d.items() if k not in ("resize", "crop", "interpolation", "source")}
    assert ModelRecord.from_dict(older).interpolation == "bilinear"


# ------------------------------------------------------------------------------------------- the factory
def test_create_model_looks_the_name_up_once_and_builds_the_record_once(monkeypatch) -> None:
    from cnnzoo import factory, record

    lookups, records = [], []
    real_entry, real_init = factory.entry, record.ModelRecord.__init__
    monkeypatch.setattr(factory, "entry", lambda name: lookups.append(name) or real_entry(name))

    def counted(self, *a, **k):  # type: ignore[no-untyped-def]
        records.append(a[0] if a else k.get("name"))
        real_init(self, *a, **k)

    monkeypatch.setattr(record.ModelRecord, "__init__", counted)
    with torch.device("meta"):
        m = cnnzoo.create_model("resnet50", num_classes=7)
    assert lookups == ["resnet50"] and records == ["resnet50"]
    rec = m.cnnzoo_record
    assert (rec.num_classes, rec.input_size, rec.resize, rec.crop) == (7, (3, 224, 224), 256, 224)
    assert rec.model_kwargs == {"num_classes": 7} and not hasattr(m, "cnnzoo_kwargs")


@pytest.mark.parametrize("name", ["resnet18", "lenet5", "inception_v3", "squeezenet1_1", "googlenet"])
def test_reset_classifier_writes_a_new_record(name: str) -> None:
    with torch.device("meta"):
        m = cnnzoo.create_model(name)
    old = m.cnnzoo_record.with_(dataset="imagenet-1k", classes=None)
    m.cnnzoo_record = old
    assert len(old.class_names() or []) == (1000 if old.num_classes == 1000 else 0)
    m.reset_classifier(4)
    rec = m.cnnzoo_record
    assert (rec.num_classes, rec.classes, rec.dataset, rec.model_kwargs["num_classes"]) == (4, None, None, 4)
    assert rec.class_names() is None and rec.input_size == old.input_size and rec.mean == old.mean


@pytest.mark.slow
def test_every_registered_model_is_a_zoo_model_whose_head_change_updates_the_record() -> None:
    from cnnzoo.models.base import ZooModel

    for name in cnnzoo.list_models():
        with torch.device("meta"):
            m = cnnzoo.create_model(name)
        assert isinstance(m, ZooModel), name
        m.reset_classifier(3)
        assert m.cnnzoo_record.num_classes == 3, name


# ------------------------------------------------------------------------------------------- transfer
def test_predict_on_a_model_in_memory_after_transfer_names_the_new_classes(tmp_path: Path) -> None:
    """#26: after a transfer function, predict(result.model) gave ImageNet names for a 4-class head."""
    from PIL import Image

    from cnnzoo.data.sources import build_data, load_source
    from cnnzoo.transfer import Settings, feature_extraction

    torch.manual_seed(0)
    m = cnnzoo.create_model("resnet20")
    m.cnnzoo_record = m.cnnzoo_record.with_(
        dataset="imagenet-1k", num_classes=1000
    )  # as published weights say
    raw = load_source("synthetic:80")
    data = build_data(raw, 3, (32, 32))
    res = feature_extraction(m, data, Settings(epochs=1, batch_size=16, device="cpu"))
    rec = res.model.cnnzoo_record
    assert rec.classes == tuple(data.classes) and rec.num_classes == 10 and rec.dataset == "synthetic:80"
    assert (rec.mean, rec.std) == (tuple(data.mean), tuple(data.std))
    Image.new("RGB", (40, 40), (200, 30, 30)).save(tmp_path / "red.png")
    out = cnnzoo.predict(res.model, tmp_path / "red.png", top=3)
    assert {q["class"] for q in out[0]["predictions"]} <= set(data.classes)
