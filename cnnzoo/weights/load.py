"""From a ``weights=`` string to tensors in a model: resolve, fetch, map, check, load.

What ``weights=`` accepts (also ``cnnzoo transfer --weights``):

- ``"torchvision"`` / ``"timm"``: that library's default checkpoint of the model (:mod:`.table`);
- ``"torchvision:IMAGENET1K_V2"``, ``"timm:legacy_seresnet50.in1k"`` (or just ``"timm:in1k"``): a tag;
- ``"hf-hub:timm/inception_v4.tf_in1k"``: a Hugging Face Hub repository (its ``model.safetensors``);
- ``"https://..."``, ``"file://..."`` (optionally after ``torchvision:``/``timm:``): a URL;
- ``"package:NAME"``: a file shipped inside an installed Python package (see :func:`.table.package_entry`);
- a local file (a cnnzoo checkpoint or a plain state dict), optionally ``"torchvision:FILE"``/``"timm:FILE"``.

A peer's file is known by its source, by its published file name, or by its SHA-256 against the table's
published hashes. Where a peer's file fits a model's shapes but computes another function there (torchvision's
Inception-v3 and timm's NASNet need ``count_include_pad=True``, timm's Xception ``bn_eps=1e-5``, torchvision's
ResNet-50 is ``resnet50_v1_5``), :func:`cnnzoo.create_model` builds the fitting variant itself and
:func:`load_weights` into a model already built refuses in one sentence naming the option or model to use.
A plain state dict of such a model that is known neither by its source nor by its hash (a renamed file whose
publisher states no hash, a fine-tuned copy) is never loaded on a guess: the user says whose it is
(``torchvision:FILE``/``timm:FILE``, or ``cnnzoo:FILE`` for one saved from cnnzoo's own model).

Publishers' older key layouts that their own loaders accept (torchvision's DenseNet files, BatchNorm
without ``num_batches_tracked``) are upgraded first (:mod:`.legacy`). A downloaded file that does not fit
its model is removed from the cache again (:func:`.hub.discard`), so no later run finds it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint import (
    check_fit,
    extract_state_dict,
    is_cnnzoo_checkpoint,
    read_checkpoint,
    require_file,
    safe_load,
)
from ..errors import CheckpointError, WeightsError
from ..record import ModelRecord
from . import hub
from .legacy import upgrade
from .table import (
    REDIRECT_REASONS,
    REDIRECTS,
    WeightsEntry,
    default_entry,
    entries,
    entry_by_file_name,
    find_entry,
    peer_kwargs,
)

SOURCES = ("cnnzoo", "torchvision", "timm")
_FILE_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors", ".ckpt", ".tar")


@dataclass
class Resolved:
    """A ``weights=`` string worked out for one model: the source whose key names the file uses, the table
    entry when the file is a published checkpoint, and how to get the file (``path`` or ``url``)."""

    spec: str
    source: str
    entry: WeightsEntry | None = None
    path: Path | None = None
    url: str | None = None
    explicit: bool = False  # the user named the source (``cnnzoo:FILE``, ``torchvision:FILE``...)
    cached: bool = False  # the file came through the weights cache (download, or an earlier one)

    def required_kwargs(self, model: str) -> dict[str, Any]:
        """Constructor options ``model`` needs to compute this file's function."""
        if self.entry is not None:
            return dict(self.entry.record.model_kwargs)
        return peer_kwargs(model, self.source)

    def local_path(self) -> Path:
        """The file on this machine, downloading it into the cache first if needed."""
        if self.path is None:
            if self.entry is not None:
                self.path = hub.fetch(self.entry)
                self.cached = self.entry.source != "package"
            else:
                self.path = hub.fetch_url(str(self.url))
                self.cached = not str(self.url).startswith("file:")
        return self.path


def parse_weights_spec(spec: str) -> tuple[str, str]:
    """Split ``"torchvision:FILE"`` into ``("torchvision", "FILE")``; a bare path is ``("cnnzoo", path)``."""
    source, sep, rest = spec.partition(":")
    if sep and source in SOURCES:
        return source, rest
    return "cnnzoo", spec


def _looks_like_file(s: str) -> bool:
    return os.sep in s or "/" in s or s.endswith(_FILE_SUFFIXES) or Path(s).exists()


def _tags(model: str, source: str | None = None) -> str:
    found = entries(model, source)
    return ", ".join(e.key for e in found) if found else "none"


def resolve(model: str, spec: str, *, identify: bool = False) -> Resolved:
    """Work out ``spec`` for ``model`` without downloading anything; with ``identify``, a local file that is
    not known by its name is also looked up by its SHA-256 among the published checkpoints."""
    res = _resolve(model, spec)
    if identify and res.entry is None and res.path is not None:
        found = identify_by_hash(model, res.path)
        if found is not None:
            _check_entry_model(model, found)
            res = Resolved(res.spec, found.source, found, path=res.path, explicit=True)
    return res


def _resolve(model: str, spec: str) -> Resolved:
    spec = str(spec).strip()
    if not spec:
        raise WeightsError("weights is empty; give a tag such as 'torchvision', a URL or a file path.")
    if spec.startswith(("http://", "https://", "file://")):
        return _from_url(model, spec, None)
    if spec.startswith("hf-hub:"):
        return _from_hub(model, spec)
    if spec.startswith("package:"):
        name = spec.removeprefix("package:")
        found = [e for e in entries(model, "package") if e.package == name or not name]
        if not found:
            raise WeightsError(
                f"model {model!r} has no weights in package {name!r}; its weights are: {_tags(model)}."
            )
        return Resolved(spec, "package", found[0], explicit=True)
    source, sep, rest = spec.partition(":")
    if sep and source in ("torchvision", "timm"):
        _refuse_redirect(model, source)
        if rest.startswith(("http://", "https://", "file://")):
            return _from_url(model, rest, source)
        entry = find_entry(model, source, rest)
        if entry is not None:
            return Resolved(spec, source, entry, explicit=True)
        if _looks_like_file(rest):
            return _from_file(model, rest, source, explicit=True)
        raise WeightsError(
            f"{source} has no weights tagged {rest!r} for {model!r}; its tags are: {_tags(model, source)}."
        )
    if spec in ("torchvision", "timm"):
        _refuse_redirect(model, spec)
        entry = default_entry(model, spec)
        if entry is None:
            raise WeightsError(f"{spec} publishes no weights for {model!r}; its weights are: {_tags(model)}.")
        return Resolved(spec, spec, entry, explicit=True)
    if sep and source == "cnnzoo":
        return _from_file(model, rest, "cnnzoo", explicit=True)
    if sep and len(source) > 1 and not Path(spec).exists():
        raise WeightsError(
            f"unknown weights source {source!r} in {spec!r}; use torchvision, timm, hf-hub:ORG/REPO, an "
            "https:// or file:// URL, package:NAME, or a file path."
        )
    return _from_file(model, spec, "cnnzoo")


def _refuse_redirect(model: str, source: str) -> None:
    fits = REDIRECTS.get((model, source))
    if fits:
        raise WeightsError(
            f"{source}'s {model} weights compute another function in cnnzoo's {model!r} "
            f"({REDIRECT_REASONS.get(fits, 'another variant')}); use model {fits!r} instead."
        )


def _from_url(model: str, url: str, source: str | None) -> Resolved:
    name = url.rsplit("/", 1)[-1]
    entry = entry_by_file_name(name)
    if entry is not None and source in (None, entry.source):
        _check_entry_model(model, entry)
        if url == entry.url:
            return Resolved(url, entry.source, entry, explicit=True)
        return Resolved(url, entry.source, entry, url=url, explicit=True)
    return Resolved(url, source or "cnnzoo", None, url=url, explicit=source is not None)


def _from_hub(model: str, spec: str) -> Resolved:
    repo = spec.removeprefix("hf-hub:").strip("/")
    if repo.count("/") != 1:
        raise WeightsError(
            f"{spec!r} is not a Hub repository; write hf-hub:ORG/REPO (e.g. hf-hub:timm/NAME)."
        )
    for e in entries(model):
        if e.hf_hub == repo:
            return Resolved(spec, e.source, e, explicit=True)
    for e in entries():
        if e.hf_hub == repo:
            _check_entry_model(model, e)
    entry = WeightsEntry(
        model=model, source="timm", tag=repo, peer=f"hf-hub:{repo}", hf_hub=repo, hf_file="model.safetensors"
    )
    return Resolved(spec, "timm", entry, explicit=True)


def _from_file(model: str, path: str, source: str, explicit: bool = False) -> Resolved:
    p = require_file(path, "weights")
    entry = entry_by_file_name(p.name)
    if entry is not None and source in ("cnnzoo", entry.source):
        _check_entry_model(model, entry)
        return Resolved(path, entry.source, entry, path=p, explicit=True)
    return Resolved(path, source, None, path=p, explicit=explicit)


def _check_entry_model(model: str, entry: WeightsEntry) -> None:
    if entry.model != model:
        raise WeightsError(
            f"{entry.location.rsplit('/', 1)[-1]} is {entry.peer}, which cnnzoo builds as {entry.model!r}, "
            f"not {model!r}; use create_model({entry.model!r}, weights={entry.key!r})."
        )


def identify_by_hash(model: str, path: Path) -> WeightsEntry | None:
    """The table entry whose published SHA-256 prefix ``path``'s content has, among ``model``'s entries and
    the entries its peers' files would be mistaken for (``resnet50`` -> ``resnet50_v1_5``)."""
    models = {model} | {fits for (m, _), fits in REDIRECTS.items() if m == model}
    candidates = [e for m in models for e in entries(m) if e.sha256]
    if not candidates:
        return None
    digest = hub.sha256_of(path)
    for e in candidates:
        if digest.startswith(str(e.sha256)):
            return e
    return None


def conflicts(required: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    """``key=value`` of each required constructor option that ``options`` (every option the model was
    built with: ``model.cnnzoo_options``) sets otherwise."""
    return [f"{key}={want!r}" for key, want in required.items() if options.get(key) != want]


def state_dict_for(model: nn.Module, res: Resolved) -> tuple[dict[str, torch.Tensor], Any]:
    """The file's state dict mapped into ``model``'s names, and the raw loaded object."""
    path = res.local_path()
    raw = safe_load(path)
    sd = extract_state_dict(raw, str(path))
    if res.entry is not None and res.entry.key_map == "timm_mobilenetv2":
        return upgrade(timm_mobilenetv2_names(sd), model), raw
    remap = getattr(model, "remap_state_dict", None)
    if remap is not None:
        sd = remap(dict(sd), res.source)
    return upgrade(sd, model), raw


_TIMM_MBV2_STEM = {"conv_stem": "features.0.0", "bn1": "features.0.1", "classifier": "classifier.1"}
_TIMM_MBV2_DS = {"conv_dw": "conv.0.0", "bn1": "conv.0.1", "conv_pw": "conv.1", "bn2": "conv.2"}
_TIMM_MBV2_IR = {
    "conv_pw": "conv.0.0",
    "bn1": "conv.0.1",
    "conv_dw": "conv.1.0",
    "bn2": "conv.1.1",
    "conv_pwl": "conv.2",
    "bn3": "conv.3",
}


def timm_mobilenetv2_names(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's MobileNetV2 names (EfficientNet-style ``conv_stem``, ``blocks.S.B.conv_pw``...) as
    torchvision's (``features.N...``), which ours are: blocks are numbered in (stage, block) order after the
    stem, and the 1x1 head conv is the last ``features`` entry. Safetensors files keep no key order, so the
    map goes by name."""
    blocks = sorted({tuple(int(i) for i in k.split(".")[1:3]) for k in state_dict if k.startswith("blocks.")})
    number = {sb: n + 1 for n, sb in enumerate(blocks)}
    head = len(blocks) + 1
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        parts = key.split(".")
        if parts[0] == "blocks":
            stage, block = int(parts[1]), int(parts[2])
            table = _TIMM_MBV2_DS if (stage, block) == blocks[0] else _TIMM_MBV2_IR
            new = f"features.{number[(stage, block)]}.{table.get(parts[3], parts[3])}.{'.'.join(parts[4:])}"
        elif parts[0] in ("conv_head", "bn2"):
            new = f"features.{head}.{0 if parts[0] == 'conv_head' else 1}.{'.'.join(parts[1:])}"
        else:
            new = f"{_TIMM_MBV2_STEM.get(parts[0], parts[0])}.{'.'.join(parts[1:])}"
        out[new] = value
    return out


def classifier_keys(model: nn.Module) -> set[str]:
    """State-dict keys of the model's classifier (``get_classifier()``), to leave fresh on a new head."""
    get = getattr(model, "get_classifier", None)
    head = get() if get is not None else None
    if head is None:
        return set()
    for name, mod in model.named_modules():
        if mod is head:
            return {f"{name}.{k}" if name else k for k in mod.state_dict()}
    return set()


def ambiguous_variants(model: str) -> list[str]:
    """How the publishers' files of ``model``-shaped networks differ from cnnzoo's ``model`` built with its
    defaults, one phrase each (``"timm's file needs bn_eps=1e-05"``); empty when every file that fits the
    shapes computes the same function."""
    out = []
    for source in ("torchvision", "timm"):
        fits = REDIRECTS.get((model, source))
        if fits:
            out.append(f"{source}'s file is model {fits!r} ({REDIRECT_REASONS.get(fits, 'another variant')})")
            continue
        need = peer_kwargs(model, source)
        if need:
            out.append(f"{source}'s file needs {', '.join(f'{k}={v!r}' for k, v in need.items())}")
    return out


def _refuse_unidentified(model: nn.Module, res: Resolved, raw: Any) -> None:
    """A plain state dict that fits a model whose publishers' files compute another function there, known
    neither by its source nor by its hash, is refused: loading it on a guess could be a silently wrong
    network (ResNet-50's stride, Xception's BatchNorm epsilon, NASNet's pooling)."""
    name = getattr(model, "cnnzoo_name", None)
    if name is None or res.explicit or res.entry is not None:
        return
    if is_cnnzoo_checkpoint(raw):  # a cnnzoo checkpoint says what it is
        return
    variants = ambiguous_variants(name)
    if variants:
        raise WeightsError(
            f"{res.spec!r} is a plain state dict whose tensors fit {name!r}, but the publishers' files of "
            f"this network compute another function in it ({'; '.join(variants)}) and this file is not one "
            f"of their published files (no hash matches), so say whose it is: weights='torchvision:FILE' or "
            f"'timm:FILE' for a publisher's file, or 'cnnzoo:FILE' for one saved from cnnzoo's {name!r}."
        )


def _fit_problems(model: nn.Module, sd: Mapping[str, torch.Tensor], skip: set[str]) -> str:
    own = {k: v for k, v in model.state_dict().items() if k not in skip}
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shaped = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    parts = [
        f"{len(missing)} missing" if missing else "",
        f"{len(unexpected)} unexpected" if unexpected else "",
        f"{len(shaped)} mis-shaped" if shaped else "",
    ]
    first = (missing or unexpected or shaped or [""])[0]
    return ", ".join(p for p in parts if p) + (f" keys, e.g. {first}" if first else "")


def load_resolved(model: nn.Module, res: Resolved, *, new_head: bool = False) -> Any:
    """Load ``res`` into ``model`` strictly and return the raw loaded object; with ``new_head`` the
    classifier is left as built (another number of classes than the file's). A file from the weights cache
    that does not fit is removed from it (it is another model's file, or a mirror's mistake)."""
    sd, raw = state_dict_for(model, res)
    where = str(res.path)
    head = classifier_keys(model) if new_head else set()
    if new_head:
        sd = {k: v for k, v in sd.items() if k not in head}
    try:
        if new_head:
            own = {k for k in model.state_dict() if k not in head}
            if own - set(sd) or set(sd) - own:
                check_fit(model, sd, where)
        else:
            check_fit(model, sd, where)
    except CheckpointError:
        if res.cached and res.path is not None and hub.discard(res.path):
            name = getattr(model, "cnnzoo_name", type(model).__name__)
            src = res.entry.location if res.entry is not None else res.url or res.spec
            problems = _fit_problems(model, sd, head)
            raise WeightsError(
                f"the file downloaded from {src} does not fit {name!r} ({problems}); it was removed from the "
                f"cache, so check the URL or the mirror ({hub.ENV_MIRROR}) before trying again."
            ) from None
        raise
    _refuse_unidentified(model, res, raw)
    model.load_state_dict(sd, strict=not new_head)
    return raw


def record_for(
    name: str, model_kwargs: dict[str, Any], res: Resolved, raw: Any, default: Callable[[], ModelRecord]
) -> ModelRecord:
    """The record of model ``name`` built with ``model_kwargs`` after loading ``res``: the table entry's (a
    published checkpoint), the file's own (a cnnzoo checkpoint), else ``default()`` (the registered defaults)
    with the file as its source."""
    if res.entry is not None:
        return res.entry.record.with_(name=name, model_kwargs=dict(model_kwargs))
    if is_cnnzoo_checkpoint(raw):
        rec = read_checkpoint(raw, str(res.path)).record
        if rec is not None:
            return rec.with_(name=name, model_kwargs=dict(model_kwargs), source=res.spec)
    return default().with_(source=res.spec)


def load_weights(model: nn.Module, spec: str) -> nn.Module:
    """Load ``spec`` (see the module docstring) into ``model`` in place and return it.

    ``model`` is already built, so a peer file that needs other constructor options is refused in one
    sentence naming them (:func:`cnnzoo.create_model` with ``weights=`` builds the fitting variant itself).
    """
    name = getattr(model, "cnnzoo_name", None)
    if name is None:
        source, path = parse_weights_spec(spec)
        res = Resolved(spec, source, path=require_file(path, "weights"), explicit=True)
        load_resolved(model, res)
        return model
    res = resolve(name, spec, identify=True)
    bad = conflicts(res.required_kwargs(name), getattr(model, "cnnzoo_options", {}))
    if bad:
        raise WeightsError(
            f"{res.entry.key if res.entry else res.source + ' weights'} of {name!r} need {', '.join(bad)}; "
            f"build the model with create_model({name!r}, {', '.join(bad)}) or let create_model({name!r}, "
            f"weights={spec!r}) do it."
        )
    raw = load_resolved(model, res)
    rec = getattr(model, "cnnzoo_record", None)
    if not isinstance(rec, ModelRecord):
        rec = ModelRecord(name=name)
    model.cnnzoo_record = record_for(name, dict(rec.model_kwargs), res, raw, lambda: rec)  # type: ignore[attr-defined]
    return model
