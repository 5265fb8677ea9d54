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

from ..errors import CnnzooError, DataError
from ..record import ModelRecord

DEFAULT_CHECKPOINT = Path("runs") / "lenet5-digits" / "best.pt"
MAX_UPLOAD_BYTES = 8 * 2**20  # 8 MiB: a phone photo fits, a mistaken video does not
MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs before decoding their pixels
OVERLAYS = ("none", "saliency", "gradcam")
# A classic line-up for the accuracy / compute chart (each profiled once on the meta device, then cached).
COMPARE_DEFAULT = ("alexnet", "vgg16", "googlenet", "inception_v3", "resnet50", "densenet121", "mobilenet_v2")
_LENET_LABELS = {
    "c1": "C1: 6 feature maps 28x28 (5x5 convolutions)",
    "s2": "S2: 6 maps 14x14 (2x2 subsampling)",
    "c3": "C3: 16 maps 10x10 (5x5 convolutions, Table I connections)",
    "s4": "S4: 16 maps 5x5 (2x2 subsampling)",
    "c5": "C5: 120 units (5x5 convolutions on 5x5 maps)",
    "f6": "F6: 84 units, drawn as 12x7 like the RBF prototypes",
    "output": "Output",
}


class ImageError(DataError):
    """An uploaded file that is not a readable image, or one too large to decode."""


# ------------------------------------------------------------------------------------------------ images
def decode_image(data: bytes, mode: str) -> Any:
    """The PIL image in ``data`` (bytes from a client), converted to ``mode`` ("L" or "RGB").

    Raises :class:`ImageError` for empty, undecodable or oversized images; the server answers it as a message.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError("the upload is empty; draw something or choose an image file.")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise ImageError(
                    f"the image is {im.width}x{im.height} pixels, more than the {MAX_IMAGE_PIXELS:,} this "
                    "server decodes; use a smaller image."
                )
            return im.convert(mode)
    except UnidentifiedImageError:
        raise ImageError("the upload is not an image this server can read; use a PNG or JPEG.") from None
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImageError(f"the image is damaged or truncated ({msg}); use another PNG or JPEG.") from None


def digit_tensor(data: bytes, size: tuple[int, int] = (32, 32)) -> torch.Tensor:
    """A drawn digit as MNIST presents its digits (LeCun et al. 1998, Sec. III-A): ``(1, H, W)`` in [0, 1].

    The ink is made white on black (a light background is inverted), its bounding box is scaled to fit 20x20
    (aspect kept), centred in a 28x28 field and padded to ``size`` (32x32 for LeNet-5), as ``digits`` and
    ``mnist`` training images are. A blank drawing gives an all-zero image.
    """
    im = decode_image(data, "L")
    x = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(im.height, im.width).float() / 255
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
    box = 20 * min(h, w) / 32  # 20 of 32 pixels, as MNIST's 20x20 box in a 28x28 field padded to 32x32
    scale = box / max(crop.shape)
    ch, cw = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = F.interpolate(
        crop[None, None], size=(ch, cw), mode="bilinear", antialias=True, align_corners=False
    )
    top, left = (h - ch) // 2, (w - cw) // 2
    out[0, top : top + ch, left : left + cw] = small[0, 0].clamp(0, 1)
    return out


def photo_tensor(
    data: bytes, in_chans: int, size: tuple[int, int], record: ModelRecord | None = None
) -> torch.Tensor:
    """A photo as ``(C, H, W)`` in [0, 1]: the eval view ``record`` describes (its resize, centre crop and
    interpolation: :func:`cnnzoo.classify.eval_view`, as ``predict`` prepares it), or, without a record that
    names a resize, the shorter side to ``256/224`` of the input and the centre crop (the usual ImageNet
    evaluation view)."""
    from PIL import Image

    im = decode_image(data, "L" if in_chans == 1 else "RGB")
    if record is not None and record.resize:
        from ..classify import eval_view

        return eval_view(record)(im)
    h, w = size
    scale = max(h, w) * 256 / 224 / min(im.width, im.height)
    nw, nh = max(w, round(im.width * scale)), max(h, round(im.height * scale))
    im = im.resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = (nw - w) // 2, (nh - h) // 2
    im = im.crop((left, top, left + w, top + h))
    x = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(h, w, -1)
    return x.permute(2, 0, 1).float() / 255


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


def _values(t: torch.Tensor, digits: int = 4) -> list[float]:
    # rounded in float64 by torch (9,000 values in ~0.1 ms; Python's round() takes ~4 ms)
    return t.detach().double().flatten().round(decimals=digits).tolist()


def _heat(heat: torch.Tensor, max_side: int = 64) -> dict[str, Any]:
    """A non-negative ``(H, W)`` map scaled to [0, 1], average-pooled to at most ``max_side`` per side."""
    h = heat.detach().float()
    k = max(1, -(-max(h.shape) // max_side))
    if k > 1:
        h = F.avg_pool2d(h[None, None], k, ceil_mode=True)[0, 0]
    h = h - h.min()
    h = h / h.max() if float(h.max()) > 0 else h
    return {"shape": list(h.shape), "values": _values(h, 3)}


# ------------------------------------------------------------------------------------------------ models
@dataclass
class LoadedModel:
    """A model ready to serve: the module (eval mode), how it wants its input, its class names, where it
    came from, and a lock that serialises the work that registers hooks or needs gradients."""

    model: nn.Module
    name: str
    source: str
    in_chans: int
    size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...] | None
    note: str = ""
    record: ModelRecord | None = None  # how its weights want a photo prepared (resize, crop, interpolation)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean).view(-1, 1, 1)
        std = torch.tensor(self.std).view(-1, 1, 1)
        return (x - mean) / std

    def class_name(self, i: int) -> str:
        return self.classes[i] if self.classes and 0 <= i < len(self.classes) else str(i)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "source": self.source,
            "input_size": [self.in_chans, *self.size],
            "mean": list(self.mean),
            "std": list(self.std),
            "classes": list(self.classes) if self.classes else None,
            "note": self.note,
        }


def load_draw_model(ref: str) -> LoadedModel:
    """The Draw page's model: a cnnzoo checkpoint (e.g. ``runs/lenet5-digits/best.pt``) or a registered name
    (random weights, said in ``note``)."""
    from ..checkpoint import is_checkpoint_path
    from ..explain.inputs import input_spec
    from ..factory import model_from_checkpoint

    model, ckpt = model_from_checkpoint(ref)
    spec = input_spec(model, ckpt)
    note = "" if is_checkpoint_path(ref) else "random weights (a model name, not a trained checkpoint)"
    return LoadedModel(
        model, str(ckpt["model"]), ref, spec.in_chans, spec.size, spec.mean, spec.std, spec.classes, note
    )


def imagenet_categories() -> tuple[str, ...]:
    """The 1,000 ImageNet class names, from torchvision's model metadata (installed with torchvision)."""
    from torchvision.models import ResNet50_Weights

    return tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def load_photo_model(name: str, weights: str | None) -> LoadedModel:
    """The Photo page's model: ``create_model(name, weights=weights)`` (``weights=None``: the model's
    published weights where the weights table has some, else random weights), with the input size, mean/std
    and class names its weights' record says (ImageNet's 1,000 names where the record has none); or, for a
    file, a cnnzoo checkpoint (a fine-tuned model with its own classes) or an exported ONNX file (FP32 or
    INT8), read by :func:`cnnzoo.classify.load_model` as ``cnnzoo predict`` reads it."""
    from ..checkpoint import is_checkpoint_path
    from ..factory import create_model
    from ..weights.table import default_entry

    if name.lower().endswith(".onnx") or is_checkpoint_path(name):
        from ..classify import load_model

        if weights:
            raise CnnzooError(
                "--photo-weights goes with a model name; a checkpoint or ONNX file holds its own."
            )
        net, rec = load_model(name)
        c, h, w = rec.input_size
        names = rec.class_names()
        onnx = name.lower().endswith(".onnx")
        note = "an ONNX file: top-5 only (Grad-CAM needs the PyTorch checkpoint)" if onnx else ""
        title = rec.name or Path(name).stem
        return LoadedModel(
            net, title, name, c, (h, w), rec.mean, rec.std, tuple(names) if names else None, note, rec
        )

    if weights is None and default_entry(name) is not None:
        weights = default_entry(name).key  # type: ignore[union-attr]
    model = create_model(name, weights=weights).eval()
    rec = model.cnnzoo_record  # type: ignore[attr-defined]
    c, h, w = rec.input_size
    classes = (
        tuple(rec.classes) if rec.classes else (imagenet_categories() if rec.num_classes == 1000 else None)
    )
    note = "" if weights else "random weights: give pretrained weights for meaningful answers"
    source = f"{name} + {weights}" if weights else name
    return LoadedModel(model, name, source, c, (h, w), rec.mean, rec.std, classes, note, rec)


# ------------------------------------------------------------------------------------------------ records
def _topk(lm: LoadedModel, logits: torch.Tensor, k: int = 5) -> list[dict[str, Any]]:
    probs = logits.softmax(-1)
    p, idx = probs.topk(min(k, probs.numel()))
    return [
        {"index": int(i), "name": lm.class_name(int(i)), "prob": round(float(q), 5)}
        for q, i in zip(p.tolist(), idx.tolist())
    ]


def _layer_entry(name: str, label: str, t: torch.Tensor, display: list[int] | None = None) -> dict[str, Any]:
    t = t.detach()[0]
    kind = "maps" if t.ndim == 3 and t.shape[-1] * t.shape[-2] > 1 else "vector"
    if kind == "vector":
        t = t.flatten()
    return {
        "name": name,
        "label": label,
        "kind": kind,
        "shape": list(t.shape),
        "display": display or (list(t.shape[-2:]) if kind == "maps" else [1, t.numel()]),
        "min": round(float(t.min()), 4),
        "max": round(float(t.max()), 4),
        "values": _values(t),
    }


def lenet_layers(model: nn.Module, x: torch.Tensor) -> tuple[list[dict[str, Any]], torch.Tensor]:
    """Every layer's output of a LeNet-5 on the normalised batch ``x`` (one image), in the order the network
    computes them: C1, S2, C3, S4, C5, F6 and the output (RBF distances ``y_i``, or a linear layer's logits).

    Runs the layers one after the other (no hooks, so concurrent requests do not see each other).
    Returns ``(entries, logits)``."""
    from ..models.lenet import EuclideanRBF

    entries, h = [], x
    with torch.no_grad():
        for name in ("c1", "s2", "c3", "s4", "c5"):
            h = getattr(model, name)(h)
            entries.append(_layer_entry(name, _LENET_LABELS[name], h))
        h = model.f6(torch.flatten(h, 1))
        entries.append(_layer_entry("f6", _LENET_LABELS["f6"], h, [12, 7] if h.shape[1] == 84 else None))
        out = model.output
        if isinstance(out, EuclideanRBF):
            d = out.distances(h)
            e = _layer_entry(
                "output",
                f"RBF output: squared distance of F6 to each of the {d.shape[1]} "
                "class prototypes (smallest wins)",
                d,
            )
            logits = -d
        else:
            logits = out(h)
            e = _layer_entry("output", f"Output: {logits.shape[1]} class scores (logits)", logits)
        entries.append(e)
    return entries, logits[0]


def generic_layers(lm: LoadedModel, x: torch.Tensor) -> tuple[list[dict[str, Any]], torch.Tensor]:
    """The outputs of a model's top-level children (forward hooks, under the model's lock)."""
    store: list[tuple[str, torch.Tensor]] = []
    handles = [
        m.register_forward_hook(
            lambda _m, _i, out, n=n: store.append((n, out)) if isinstance(out, torch.Tensor) else None
        )
        for n, m in lm.model.named_children()
    ]
    from ..explain._common import logits_of

    try:
        with lm.lock, torch.no_grad():
            logits = logits_of(lm.model(x))
    finally:
        for hd in handles:
            hd.remove()
    return [_layer_entry(n, f"{n}: {tuple(t.shape[1:])}", t) for n, t in store[:12]], logits[0]


def _overlay(lm: LoadedModel, x: torch.Tensor, method: str, target: int) -> dict[str, Any]:
    from ..explain import explain

    with lm.lock:
        exp = explain(lm.model, x, method=method, target=target)
    out = _heat(exp.heat[0])
    out.update(method=method, layer=exp.layer, target=target, target_name=lm.class_name(target))
    return out


def draw_record(lm: LoadedModel, data: bytes, overlay: str = "none") -> dict[str, Any]:
    """What the Draw page shows for one drawing (PNG/JPEG bytes): the 32x32 image the network sees, every
    layer's output in layer order, the top-5 classes and, with ``overlay`` "saliency" (Simonyan et al.,
    2014) or "gradcam" (Selvaraju et al., 2017), the explanation map of the top class.

    Keys: ``input`` (shape, values in [0, 1]), ``layers`` (name, label, kind "maps"|"vector", shape, min,
    max, values flattened row-major), ``top5`` (index, name, prob), ``overlay`` (None or shape, values in
    [0, 1], method, layer, target), ``blank``, ``ms`` (server-side milliseconds)."""
    if overlay not in OVERLAYS:
        raise CnnzooError(f"unknown overlay {overlay!r}; choose one of: {', '.join(OVERLAYS)}.")
    t0 = time.perf_counter()
    img = digit_tensor(data, lm.size)
    if lm.in_chans != 1:
        img = img.expand(lm.in_chans, -1, -1)
    x = lm.normalise(img)[None]
    if all(hasattr(lm.model, n) for n in ("c1", "s2", "c3", "s4", "c5", "f6", "output")):
        layers, logits = lenet_layers(lm.model, x)
    else:
        layers, logits = generic_layers(lm, x)
    top5 = _topk(lm, logits)
    ov = _overlay(lm, x, overlay, top5[0]["index"]) if overlay != "none" else None
    return {
        "model": lm.name,
        "input": {"shape": list(img.shape), "values": _values(img[0], 3)},
        "blank": bool(img.max() == 0),
        "layers": layers,
        "top5": top5,
        "overlay": ov,
        "ms": round((time.perf_counter() - t0) * 1000, 2),
    }


def photo_record(lm: LoadedModel, data: bytes) -> dict[str, Any]:
    """Top-5 classes of a photo and the Grad-CAM map of the top one (Selvaraju et al., 2017, on the last
    convolutional feature map). Keys: ``image`` (the centre crop the model saw, a PNG data URL), ``top5``,
    ``overlay``, ``ms``."""
    t0 = time.perf_counter()
    img = photo_tensor(data, lm.in_chans, lm.size, lm.record)
    x = lm.normalise(img)[None]
    from ..explain._common import logits_of

    with lm.lock, torch.no_grad():
        logits = logits_of(lm.model(x))[0]
    top5 = _topk(lm, logits)
    # an exported ONNX file has no gradients to compute Grad-CAM with
    ov = _overlay(lm, x, "gradcam", top5[0]["index"]) if any(True for _ in lm.model.parameters()) else None
    return {
        "model": lm.name,
        "note": lm.note,
        "image": png_data_url(img),
        "top5": top5,
        "overlay": ov,
        "ms": round((time.perf_counter() - t0) * 1000, 2),
    }


@lru_cache(maxsize=64)
def _profile_dict(name: str, input_size: tuple[int, ...] | None) -> dict[str, Any]:
    from ..analysis import profile
    from ..factory import create_model
    from ..registry import model_info

    info = model_info(name)
    with torch.device("meta"):
        model = create_model(name)
    return profile(model, input_size or info.input_size, name=name).to_dict()


def anatomy_record(name: str, input_size: Sequence[int] | str | None = None) -> dict[str, Any]:
    """The Anatomy page of a registered model: ``profile`` is :meth:`Profile.to_dict` (every layer's shape,
    parameters, MACs, activation bytes, receptive field, jump and "doesn't fit" flag, as ``cnnzoo summary
    --format json``), ``info`` the registry card (paper, year, input size, paper figures, deviations)."""
    from ..analysis import parse_input_size
    from ..factory import create_model
    from ..registry import is_model, model_info

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
