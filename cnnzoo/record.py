"""One record of what a model expects and where it came from.

A :class:`ModelRecord` says how to build a network (registered name, constructor keyword arguments), what
input it wants (size, mean/std, the eval resize/crop/interpolation), what its outputs mean (class names, the
data it was trained on) and where its weights came from (``source``). Every entry of the pretrained-weights
table carries one (:mod:`cnnzoo.weights.table`), every cnnzoo checkpoint stores one under ``"record"``
(:func:`cnnzoo.checkpoint.save_checkpoint`), and :func:`cnnzoo.create_model` hangs one on the model it builds
(``model.cnnzoo_record``) for ``predict`` to read. torchvision keeps the same facts in a ``Weights`` enum's
``transforms``/``meta``, timm in a ``pretrained_cfg``; we keep them in one small dataclass that travels
inside our checkpoints, so a file alone says how to use it.

Checkpoints written before the record existed hold the same facts as flat keys (``model``, ``model_kwargs``,
``input_size``, ``mean``, ``std``, ``classes``, ``data``); :meth:`ModelRecord.from_checkpoint` reads both.
This module imports nothing heavier than the standard library.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_1K = "imagenet-1k"


@dataclass(frozen=True)
class ModelRecord:
    """What a model expects and where it came from.

    Attributes:
        name: the registered model name.
        model_kwargs: constructor keyword arguments beyond the name (``{"count_include_pad": True}``).
        input_size: ``(channels, height, width)`` the network is evaluated at.
        mean, std: per-channel normalisation applied after scaling pixels to [0, 1].
        resize: eval resize of the shorter side (``None``: resize straight to ``input_size``).
        crop: eval centre-crop size (``None``: no crop).
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
        """The names of the outputs, index order: ``classes``, or ImageNet-1k's 1000 names (from
        torchvision's model metadata) when the weights were trained on it; ``None`` when unknown."""
        if self.classes is not None:
            return list(self.classes)
        if self.dataset == IMAGENET_1K and self.num_classes == 1000:
            return list(imagenet_classes())
        return None

    def with_(self, **changes: Any) -> ModelRecord:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values only (lists, not tuples), as ``torch.load(weights_only=True)`` reads back."""
        d = asdict(self)
        for key in ("input_size", "mean", "std", "classes"):
            if d[key] is not None:
                d[key] = list(d[key])
        d["model_kwargs"] = dict(self.model_kwargs)
        return d

    def checkpoint_fields(self) -> dict[str, Any]:
        """The flat metadata keys cnnzoo checkpoints have always carried (``model``, ``model_kwargs``,
        ``input_size``, ``mean``, ``std``, ``classes``, ``data``), for readers of that format."""
        out: dict[str, Any] = {
            "model": self.name,
            "model_kwargs": dict(self.model_kwargs),
            "input_size": list(self.input_size),
            "mean": list(self.mean),
            "std": list(self.std),
        }
        names = self.class_names()
        if names is not None:
            out["classes"] = names
        if self.dataset is not None:
            out["data"] = self.dataset
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelRecord:
        """The inverse of :meth:`to_dict`; unknown keys (from a newer cnnzoo) are ignored."""
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in known}
        for key in ("input_size", "mean", "std", "classes"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        kw["model_kwargs"] = dict(kw.get("model_kwargs") or {})
        return cls(**kw)

    @classmethod
    def from_checkpoint(cls, ckpt: Mapping[str, Any], source: str | None = None) -> ModelRecord:
        """The record of a cnnzoo checkpoint: its ``"record"``, or one built from the flat keys that
        checkpoints written before the record existed carry (``model``, ``input_size``, ``mean``...)."""
        if isinstance(ckpt.get("record"), Mapping):
            rec = cls.from_dict(ckpt["record"])
            return rec if source is None else rec.with_(source=source)
        return cls.from_dict(checkpoint_fields_to_record(ckpt, source))


def checkpoint_fields_to_record(ckpt: Mapping[str, Any], source: str | None = None) -> dict[str, Any]:
    """The record's fields from a checkpoint's flat metadata keys (the format before the record)."""
    kwargs = dict(ckpt.get("model_kwargs") or {})
    classes = ckpt.get("classes")
    size = ckpt.get("input_size")
    d: dict[str, Any] = {"name": str(ckpt.get("model", "")), "model_kwargs": kwargs, "source": source}
    if size is not None:
        d["input_size"] = tuple(int(v) for v in size)
    for key in ("mean", "std"):
        if ckpt.get(key) is not None:
            d[key] = tuple(float(v) for v in ckpt[key])
    if classes is not None:
        d["classes"] = tuple(str(c) for c in classes)
        d["num_classes"] = len(classes)
    elif isinstance(kwargs.get("num_classes"), int):
        d["num_classes"] = kwargs["num_classes"]
    if ckpt.get("data") is not None:
        d["dataset"] = str(ckpt["data"])
    return d


@functools.cache
def imagenet_classes() -> tuple[str, ...]:
    """ImageNet-1k's 1000 class names in index order, as torchvision ships them in its weights metadata."""
    from torchvision.models import ResNet18_Weights

    names = tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    assert len(names) == 1000
    return names
