"""The factory: build a registered model, load weights into it, or rebuild one from a checkpoint.

It stands above the pure table (:mod:`cnnzoo.registry`) and the file I/O (:mod:`cnnzoo.checkpoint`), as timm's
``_factory.py``/``_builder.py`` stand above its ``_registry.py`` and torchvision's ``_resnet(...)`` builders
above ``models/_api.py``. Every model it returns carries ``cnnzoo_name``, ``cnnzoo_options`` (every
constructor option, defaults included) and ``cnnzoo_record`` (:class:`cnnzoo.record.ModelRecord`: what it is
and expects, where its weights came from), built once per model.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from torch import nn

from .checkpoint import Checkpoint, check_fit, is_checkpoint_path, load_checkpoint
from .errors import CheckpointError, CnnzooError, WeightsError
from .record import IMAGENET_MEAN, IMAGENET_STD, ModelRecord
from .registry import Entry, entry


def create_model(
    name: str,
    num_classes: int | None = None,
    in_chans: int | None = None,
    weights: str | None = None,
    pretrained: bool | str = False,
    features_only: bool = False,
    out_indices: Sequence[int] | int | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model, optionally with pretrained weights, optionally as a backbone.

    Args:
        name: a registered name (see :func:`cnnzoo.list_models`).
        num_classes: size of the classifier (default: the paper's, usually 1000). With weights for another
            number of classes, everything but the classifier is loaded (a new head, as for transfer), and the
            record says so (no class names until the head is trained).
        in_chans: input channels (default: the paper's).
        weights: what to load (see :mod:`cnnzoo.weights.load`): ``"torchvision"``, ``"torchvision:TAG"``,
            ``"timm:TAG"``, ``"hf-hub:ORG/REPO"``, an ``https://`` or ``file://`` URL, ``"package:NAME"``, a
            cnnzoo checkpoint or a state-dict file (``torchvision:FILE`` / ``timm:FILE`` for a peer's).
            Loading never executes code from the file.
        pretrained: ``True`` for the model's best published checkpoint (``cnnzoo list --pretrained``); a
            string is read as ``weights``.
        features_only: return the network as a backbone (:class:`cnnzoo.backbone.FeatureExtractor`, timm's
            ``features_only``): ``forward(x)`` gives the feature maps of its levels ``out_indices`` (default
            all; an int ``n`` the last ``n``), described by ``.feature_info`` (channels, reduction, receptive
            field, jump); the classifier is removed.
        out_indices: the feature levels a backbone returns (``features_only`` only).
        **kwargs: architecture options of this model family; an unknown keyword is an error. Where the
            weights need an option (``count_include_pad=True`` for torchvision's Inception-v3), it is set
            here, and a conflicting value given by the caller is refused in one sentence.

    The model carries ``cnnzoo_name`` and ``cnnzoo_record`` (:class:`~cnnzoo.record.ModelRecord`), built
    once here: from the weights' record when weights are loaded, else the registered defaults.
    """
    row = entry(name)  # the one look-up of the name per build (an unknown name: one error, close names)
    if pretrained and weights:
        raise WeightsError("give either pretrained or weights, not both.")
    if out_indices is not None and not features_only:
        raise CnnzooError("out_indices picks the feature levels of a backbone; give features_only=True too.")
    if isinstance(pretrained, str):
        weights = pretrained
    elif pretrained:
        from .weights.table import default_entry

        best = default_entry(name)
        if best is None:
            from .weights.table import models_with_weights

            raise WeightsError(
                f"no published weights fit {name!r}; models with weights: `cnnzoo list --pretrained` "
                f"({len(models_with_weights())} models)."
            )
        weights = best.key
    res = None
    if weights:
        from .weights.load import resolve

        res = resolve(name, str(weights), identify=True)
        required = res.required_kwargs(name)
        given = [f"{k}={kwargs[k]!r}" for k in required if k in kwargs and kwargs[k] != required[k]]
        if given:
            need = ", ".join(f"{k}={v!r}" for k, v in required.items())
            raise WeightsError(f"the {weights!r} weights of {name!r} need {need}; drop {', '.join(given)}.")
        kwargs = {**required, **kwargs}
    model, own = _build(row, name, num_classes, in_chans, kwargs)
    if res is None:
        model.cnnzoo_record = _default_record(row, name, own)  # type: ignore[attr-defined]
    else:
        from .weights.load import load_resolved, record_for

        file_classes = res.entry.record.num_classes if res.entry is not None else None
        new_head = num_classes is not None and file_classes is not None and num_classes != file_classes
        raw = load_resolved(model, res, new_head=new_head)
        rec = record_for(name, own, res, raw, lambda: _default_record(row, name, own))
        model.cnnzoo_record = rec.with_new_head(int(num_classes)) if new_head else rec  # type: ignore[attr-defined,arg-type]
    if features_only:
        from .backbone import FeatureExtractor

        return FeatureExtractor(model, out_indices)
    return model


def _build(
    row: Entry, name: str, num_classes: int | None, in_chans: int | None, kwargs: dict[str, Any]
) -> tuple[nn.Module, dict[str, Any]]:
    """Build ``row``'s model with random weights: check the options against its factory and call it.
    Returns the model (tagged with ``cnnzoo_name`` and ``cnnzoo_options``) and the options given."""
    call_kwargs = dict(row.defaults)
    if num_classes is not None:
        call_kwargs["num_classes"] = num_classes
    if in_chans is not None:
        call_kwargs["in_chans"] = in_chans
    sig = inspect.signature(row.factory)
    accepts_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    allowed = {p for p in sig.parameters if p not in row.defaults}
    for key in kwargs:
        if key not in allowed and not accepts_var_kw:
            opts = ", ".join(sorted(k for k in allowed if k not in ("num_classes", "in_chans"))) or "none"
            raise CnnzooError(f"model {name!r} has no option {key!r}; its options are: {opts}.")
    call_kwargs.update(kwargs)
    for key in ("num_classes", "in_chans"):
        if key in call_kwargs and key not in sig.parameters and not accepts_var_kw:
            raise CnnzooError(f"model {name!r} does not support changing {key}.")
        v = call_kwargs.get(key)
        if v is not None and (not isinstance(v, int) or v < 1):
            raise CnnzooError(f"{key} must be a positive integer, got {v!r}.")
    try:
        model = row.factory(**call_kwargs)
    except TypeError as e:  # an option of the wrong kind inside the factory
        raise CnnzooError(f"cannot build {name!r} with {kwargs}: {e}.") from None
    model.cnnzoo_name = name  # type: ignore[attr-defined]
    defaults = {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}
    model.cnnzoo_options = {**defaults, **call_kwargs}  # type: ignore[attr-defined]
    from .backbone import FeatureInfo

    model.feature_info = FeatureInfo(model)  # type: ignore[attr-defined]  # traced on first use
    return model, {k: v for k, v in call_kwargs.items() if k not in row.defaults}


def _default_record(row: Entry, name: str, model_kwargs: dict[str, Any]) -> ModelRecord:
    """The record of a freshly built (untrained) model: its registered input size and class count, ImageNet's
    mean/std for 3 channels (0.5 otherwise), and for photo-sized inputs (64 pixels and more) ImageNet's usual
    eval view (shorter side to 256/224 of the input, centre crop), no classes, no source."""
    c0, h, w = row.info.input_size
    c = int(model_kwargs.get("in_chans", c0))
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if c == 3 else ((0.5,) * c, (0.5,) * c)
    photo = min(h, w) >= 64
    return ModelRecord(
        name=name,
        model_kwargs=dict(model_kwargs),
        input_size=(c, h, w),
        mean=mean,
        std=std,
        resize=round(256 * min(h, w) / 224) if photo else None,
        crop=min(h, w) if photo and h == w else None,
        num_classes=int(model_kwargs.get("num_classes", row.info.num_classes)),
    )


def model_from_checkpoint(ref: str, **overrides: Any) -> nn.Module:
    """A model in eval mode from a cnnzoo checkpoint path, or a fresh one from a registered model name.

    The model carries its record (``model.cnnzoo_record``): the checkpoint's (whatever its format version),
    or for a name the one :func:`create_model` builds. ``overrides`` go to :func:`create_model` (``weights=``,
    ``pretrained=``, options); ``"NAME@WEIGHTS"`` is short for ``weights="WEIGHTS"`` and
    ``"NAME@pretrained"`` for ``pretrained=True``, so ``cnnzoo explain|export resnet50_v1_5@torchvision``
    use published weights. The training state of a checkpoint is :func:`cnnzoo.checkpoint.load_checkpoint`'s.
    """
    if not is_checkpoint_path(ref):
        name, at, spec = ref.partition("@")
        if at and spec and "weights" not in overrides and "pretrained" not in overrides:
            # "resnet50_v1_5@torchvision" for explain, export...; "NAME@pretrained": the default weights
            overrides = {**overrides, **({"pretrained": True} if spec == "pretrained" else {"weights": spec})}
            ref = name
        elif "/" in ref or ref.endswith((".pt", ".pth", ".safetensors")):
            raise CheckpointError(f"checkpoint file {ref!r} does not exist; check the path.")
        return create_model(ref, **overrides).eval()
    return model_from_loaded(load_checkpoint(ref), ref, **overrides)


def model_from_loaded(ckpt: Checkpoint, ref: str, **overrides: Any) -> nn.Module:
    """The model in eval mode of a checkpoint already read (``ref``: where from, recorded as its source), for
    callers that also need its run section without reading the file twice."""
    if ckpt.record is None:
        raise CheckpointError(
            f"{ref!r} holds the weights of a module cnnzoo did not build, with no record of its model; "
            "load them with torch into the module that wrote them."
        )
    model = create_model(ckpt.record.name, **{**ckpt.record.model_kwargs, **overrides})
    check_fit(model, ckpt.state_dict, ref)
    model.load_state_dict(ckpt.state_dict)
    model.cnnzoo_record = ckpt.record.with_(source=ref)  # type: ignore[attr-defined]
    return model.eval()
