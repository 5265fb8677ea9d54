"""Publisher files as they really are (issue #27): the legacy key layouts the publishers' own loaders
accept load here too, and a file whose tensors fit two variants is matched by its content (the SHA-256 the
publisher states) and never loaded silently into the variant that computes another function."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import pytest
import torch

import cnnzoo
from cnnzoo.errors import WeightsError
from cnnzoo.weights import load, peers, table
from cnnzoo.weights.legacy import LEGACY_RENAMES


def _publish(entry: table.WeightsEntry, path: Path, monkeypatch: pytest.MonkeyPatch) -> table.WeightsEntry:
    """Make ``path`` the entry's published file: the table's hash becomes its SHA-256 prefix (a random peer's
    file cannot carry the real published hash)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    new = dataclasses.replace(entry, sha256=digest)
    monkeypatch.setattr(table, "ENTRIES", tuple(new if e == entry else e for e in table.ENTRIES))
    return new


def _legacy_densenet_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's published DenseNet layout: ``denselayer1.norm1.weight`` written ``denselayer1.norm.1``
    (the very names torchvision's ``_load_state_dict`` rewrites with its regular expression), and, the
    files being older than PyTorch 0.4.1, no BatchNorm ``num_batches_tracked`` at all."""
    out = {}
    for k, v in sd.items():
        if not k.endswith("num_batches_tracked"):
            out[re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k)] = v
    return out


def test_torchvision_densenet_files_in_their_published_layout_load_and_compute_the_peers_function(
    tmp_path: Path,
) -> None:
    torchvision = pytest.importorskip("torchvision")
    entry = table.default_entry("densenet121", "torchvision")
    peer, mean, std = peers.peer_model(entry)
    sd = _legacy_densenet_keys(peer.state_dict())
    assert "features.denseblock1.denselayer1.norm.1.weight" in sd  # the layout of densenet121-a639ec97.pth
    # torchvision's own loader accepts the layout: its pattern renames every legacy key to a key of its model
    tv_pattern = re.compile(
        r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
    )
    fixed = {(tv_pattern.sub(lambda m: m.group(1) + m.group(2), k)): v for k, v in sd.items()}
    expected = {k for k in torchvision.models.densenet121().state_dict() if "num_batches" not in k}
    assert set(fixed) == expected
    path = tmp_path / entry.file_name  # the published name: known as torchvision's file by it
    torch.save(sd, path)
    ours = cnnzoo.create_model("densenet121", weights=str(path))
    diff, scale = peers.compare(peer, mean, std, ours, size=64)
    assert diff <= 1e-5 * max(1.0, scale)
    renamed = tmp_path / "my_densenet.pth"
    renamed.write_bytes(path.read_bytes())
    again = cnnzoo.create_model("densenet121", weights=f"torchvision:{renamed}")
    assert torch.equal(again.classifier.weight, ours.classifier.weight)
    assert len(LEGACY_RENAMES) >= 1


def test_files_without_num_batches_tracked_load_as_torchvision_loads_them(tmp_path: Path) -> None:
    entry = table.default_entry("resnet18", "torchvision")
    peer, mean, std = peers.peer_model(entry)
    old = {k: v for k, v in peer.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert len(old) < len(peer.state_dict())  # an older PyTorch's file: BatchNorm without its counter
    path = tmp_path / "resnet18_old.pth"
    torch.save(old, path)
    peer_again, _, _ = peers.peer_model(entry)
    peer_again.load_state_dict(old, strict=False)  # torch's BatchNorm fills the counter for such files
    ours = cnnzoo.create_model("resnet18", weights=f"torchvision:{path}")
    diff, scale = peers.compare(peer, mean, std, ours, size=64)
    assert diff <= 1e-5 * max(1.0, scale)
    assert all(int(m.num_batches_tracked) == 0 for m in ours.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_a_renamed_peer_file_of_a_variant_model_is_matched_by_content(tmp_path: Path, monkeypatch) -> None:
    """timm's Xception file under another name: its SHA-256 says it is timm's, so create_model builds
    xception with bn_eps=1e-5 and computes timm's function; load_weights into a default-built xception is
    refused naming the option."""
    pytest.importorskip("timm")
    entry = table.default_entry("xception", "timm")
    assert entry.sha256 == "43020ad28"  # the prefix in the published name xception-43020ad28.pth
    peer, mean, std = peers.peer_model(entry)
    path = tmp_path / "backbone.pth"
    torch.save(peer.state_dict(), path)
    _publish(entry, path, monkeypatch)
    ours = cnnzoo.create_model("xception", weights=str(path))
    assert ours.cnnzoo_record.model_kwargs["bn_eps"] == 1e-5 and ours.cnnzoo_record.source == entry.key
    diff, scale = peers.compare(peer, mean, std, ours, size=peers.input_size(entry))
    assert diff <= 1e-5 * max(1.0, scale)
    with pytest.raises(WeightsError, match="need bn_eps=1e-05"):
        cnnzoo.load_weights(cnnzoo.create_model("xception"), str(path))


@pytest.mark.parametrize(
    ("model", "source", "needs"),
    [
        ("resnet50", "torchvision", "model 'resnet50_v1_5'"),
        ("xception", "timm", "bn_eps=1e-05"),
        ("inception_v3", "torchvision", "count_include_pad=True"),
    ],
)
def test_an_unidentified_plain_file_that_fits_two_variants_is_never_loaded_on_a_guess(
    model: str, source: str, needs: str, tmp_path: Path
) -> None:
    """A plain state dict no published hash matches (a fine-tuned copy, a renamed Hub file) of a network
    whose publishers' files compute another function in the default variant: the user says whose it is."""
    src = cnnzoo.create_model(model)  # the shapes of both variants; its origin is what is unknown
    path = tmp_path / "weights.pth"
    torch.save(src.state_dict(), path)
    with pytest.raises(WeightsError, match=f"plain state dict.*{re.escape(needs)}.*'cnnzoo:FILE'") as e:
        cnnzoo.create_model(model, weights=str(path))
    assert "\n" not in str(e.value)
    mine = cnnzoo.create_model(model, weights=f"cnnzoo:{path}")  # said to be cnnzoo's own: loads as is
    assert all(torch.equal(a, b) for a, b in zip(mine.state_dict().values(), src.state_dict().values()))
    if source == "timm" or model == "inception_v3":
        peer_kw = table.peer_kwargs(model, source)
        theirs = cnnzoo.create_model(model, weights=f"{source}:{path}")  # said to be the publisher's
        assert all(theirs.cnnzoo_record.model_kwargs[k] == v for k, v in peer_kw.items())


def test_models_whose_publishers_files_all_compute_the_same_function_load_plain_files() -> None:
    assert load.ambiguous_variants("resnet18") == []
    assert load.ambiguous_variants("resnet50_v1_5") == []
    assert load.ambiguous_variants("nasnet_a_large") == ["timm's file needs count_include_pad=True"]
    assert "kernel_order='tf'" in load.ambiguous_variants("inception_v4")[0]


def test_timm_release_files_carry_the_sha256_prefix_of_their_names() -> None:
    """timm's GitHub-release files (Cadene's ports) are named like torchvision's, with their SHA-256 prefix;
    its Hub files have no hash that timm or any installed package states (the downloader checks the Hub's
    X-Linked-Etag instead)."""
    timm_entries = table.entries(source="timm")
    for e in timm_entries:
        if e.url:
            assert e.sha256 and e.url.rsplit("-", 1)[1].startswith(e.sha256), e.url
        else:
            assert e.hf_hub and e.sha256 is None
    assert sum(1 for e in timm_entries if e.sha256) == 7
