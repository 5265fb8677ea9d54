"""One record of what a model is and expects.

A :class:`ModelRecord` says how to build a network (registered name, constructor keyword arguments), what
input it wants (size, mean/std, the eval resize/crop/interpolation), what its outputs mean (class names, the
data it was trained on) and where its weights came from (``source``). It is the only place these facts live:

- :func:`cnnzoo.create_model` builds it once and hangs it on the model (``model.cnnzoo_record``); every
  change of the head (``reset_classifier``, a transfer strategy, ``create_model(..., num_classes=N)`` over
  published weights) replaces it (:meth:`ModelRecord.with_new_head`);
- every cnnzoo checkpoint stores it under ``"record"`` (:mod:`cnnzoo.checkpoint`), every exported ONNX file
  under the ``cnnzoo_record`` metadata key, and every entry of the weights table holds one
  (:mod:`cnnzoo.weights.table`);
- every reader (predict, explain, export, serve, erf, eval) takes it from the model or the file, and the one
  picture door (:mod:`cnnzoo.data.images`) prepares a picture the way it says.

torchvision keeps the same facts in a ``Weights`` enum's ``transforms``/``meta``, timm in a
``pretrained_cfg``; here they are one small frozen dataclass that travels inside our files, so a file alone
says how to use it.

Files written before the record existed carry the same facts as flat keys (``model``, ``model_kwargs``,
``input_size``, ``mean``, ``std``, ``classes``, ``data``; ONNX files: ``cnnzoo_model`` and JSON strings).
:func:`record_from_flat_keys` is the one reader of that layout; nothing else in cnnzoo reads or writes it.
This module imports nothing heavier than the standard library.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_1K = "imagenet-1k"
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


@dataclass(frozen=True)
class ModelRecord:
    """What a model is and expects.

    Attributes:
        name: the registered model name.
        model_kwargs: constructor keyword arguments beyond the name (``{"num_classes": 4}``).
        input_size: ``(channels, height, width)`` the network is evaluated at.
        mean, std: per-channel normalisation applied after scaling pixels to [0, 1].
        resize: the eval view's shorter side (then a centre crop of ``crop``); ``None``: the picture is
            fitted to ``input_size`` as training fitted it (centred zero padding when it is at most 8 pixels
            smaller per side, as LeNet-5's 28x28 digits in a 32x32 field, else resized to exactly that size).
        crop: the eval centre crop (``None`` with a ``resize``: the input size).
        interpolation: ``"bilinear"``, ``"bicubic"`` or ``"nearest"``.
        num_classes: size of the classifier.
        classes: the class names, index order; ``None`` where ``dataset`` names a known label set.
        dataset: the data the weights were trained on (``"imagenet-1k"``, ``"folder:photos"``, ...).
        source: where the weights came from (``"torchvision:IMAGENET1K_V2"``, a file, ``None`` for random).
        temperature: divide the logits by it before the softmax (temperature scaling, Guo et al. 2017,
            fitted on validation data by ``cnnzoo calibrate``); ``None``: not calibrated.
    """

    name: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    input_size: tuple[int, int, int] = (3, 224, 224)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    resize: int | None = None
    crop: int | None = None
    interpolation: str = "bilinear"
    num_classes: int = 1000
    classes: tuple[str, ...] | None = None
    dataset: str | None = None
    source: str | None = None
    temperature: float | None = None

    def class_names(self) -> list[str] | None:
        """The names of the outputs, index order: ``classes``, or ImageNet-1k's 1000 names
        (:func:`imagenet_classes`) when the weights were trained on it; ``None`` when unknown."""
        if self.classes is not None:
            return list(self.classes)
        if self.dataset == IMAGENET_1K and self.num_classes == 1000:
            return list(imagenet_classes())
        return None

    def with_(self, **changes: Any) -> ModelRecord:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    def with_new_head(
        self, num_classes: int, classes: tuple[str, ...] | list[str] | None = None, dataset: str | None = None
    ) -> ModelRecord:
        """The record after the classifier was replaced by a fresh one with ``num_classes`` outputs: the old
        class names and data no longer describe it (``classes``/``dataset`` name the new ones when known)."""
        kwargs = {**self.model_kwargs, "num_classes": int(num_classes)}
        names = tuple(str(c) for c in classes) if classes is not None else None
        return replace(
            self, model_kwargs=kwargs, num_classes=int(num_classes), classes=names, dataset=dataset
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values only (lists, not tuples), as ``torch.load(weights_only=True)`` reads back."""
        d = asdict(self)
        for key in ("input_size", "mean", "std", "classes"):
            if d[key] is not None:
                d[key] = list(d[key])
        d["model_kwargs"] = dict(self.model_kwargs)
        return d

    def to_json(self) -> str:
        """:meth:`to_dict` as one JSON string (the ``cnnzoo_record`` metadata of exported ONNX files)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelRecord:
        """The inverse of :meth:`to_dict`; unknown keys (from a newer cnnzoo) are ignored and fields added
        since the file was written take their defaults."""
        known = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in d.items() if k in known}
        for key in ("mean", "std", "classes"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        if kw.get("input_size") is not None:
            kw["input_size"] = tuple(int(v) for v in kw["input_size"])
        kw["model_kwargs"] = dict(kw.get("model_kwargs") or {})
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str) -> ModelRecord:
        """The inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


def record_from_flat_keys(flat: Mapping[str, Any], source: str | None = None) -> ModelRecord | None:
    """The one reader of the layout before the record: a record from the flat keys that cnnzoo checkpoints
    (format version 1) and exported ONNX files (``cnnzoo_model``, values as JSON strings, the input size as
    ``"CxHxW"``) carried. ``None`` when they name no model (a checkpoint of a plain ``nn.Module``)."""

    def value(key: str) -> Any:
        v = flat.get(key)
        if isinstance(v, str) and key != "data":
            if key == "input_size":
                return [int(d) for d in v.lower().split("x")]
            return json.loads(v)
        return v

    name = flat.get("model") or flat.get("cnnzoo_model")
    if not name:
        return None
    kwargs = dict(value("model_kwargs") or {})
    d: dict[str, Any] = {"name": str(name), "model_kwargs": kwargs, "source": source}
    if value("input_size") is not None:
        d["input_size"] = tuple(int(v) for v in value("input_size"))
    for key in ("mean", "std"):
        if value(key) is not None:
            d[key] = tuple(float(v) for v in value(key))
    classes = value("classes")
    if classes is not None:
        d["classes"] = tuple(str(c) for c in classes)
        d["num_classes"] = len(classes)
    elif isinstance(kwargs.get("num_classes"), int):
        d["num_classes"] = kwargs["num_classes"]
    if flat.get("data") is not None:
        d["dataset"] = str(flat["data"])
    rec = ModelRecord(**d)
    if "cnnzoo_model" in flat:  # an ONNX file: prepared as sessions prepared pictures before the record
        c, h, w = rec.input_size
        if min(h, w) >= 64:  # the shorter side at size / 0.875, the centre crop
            rec = rec.with_(resize=round(min(h, w) / 0.875), crop=h if h == w else None)
        if "mean" not in flat:  # no normalisation unless the file named one
            rec = rec.with_(mean=(0.0,) * c, std=(1.0,) * c)
    return rec


#: The flat keys :func:`record_from_flat_keys` consumes (the rest of an old checkpoint is its run state).
FLAT_RECORD_KEYS = ("model", "model_kwargs", "input_size", "mean", "std", "classes", "data", "cnnzoo_model")


@functools.cache
def imagenet_classes() -> tuple[str, ...]:
    """ImageNet-1k's 1000 class names in index order, as torchvision ships them in its weights metadata: the
    one ImageNet class list of cnnzoo (predict, serve, the sample photos, the figures)."""
    from torchvision.models import ResNet18_Weights

    names = tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    assert len(names) == 1000
    return names
