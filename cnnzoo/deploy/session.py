"""A session that classifies images with an exported ONNX file: :class:`OnnxClassifier` (ONNX Runtime by
default, or OpenVINO).

It reads what :func:`cnnzoo.deploy.export_onnx` stored in the file's metadata (class names, the training
``mean``/``std``, the input size) so an exported FP32 or INT8 model can be used without PyTorch's model code:
give it image files, PIL images, or tensors of raw pixels in ``[0, 1]``; it resizes, normalises and returns
the top-k classes with their softmax probabilities.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .onnx_export import DeployError, parse_input_size
from .runtimes import open_runtime


class OnnxClassifier:
    """Classify images with an exported cnnzoo ONNX file (FP32 or INT8).

    >>> clf = OnnxClassifier("lenet5.onnx")                      # doctest: +SKIP
    >>> clf.predict(["three.png"], topk=2)                       # doctest: +SKIP
    [[('3', 0.97), ('8', 0.02)]]
    """

    def __init__(
        self, path: str | os.PathLike[str], threads: int | None = None, runtime: str = "onnxruntime"
    ) -> None:
        p = Path(path)
        try:
            self.runtime = open_runtime(p, runtime, threads)  # says so when the file does not exist
        except DeployError:
            raise
        except Exception as e:  # noqa: BLE001 - the runtimes raise their own types for unreadable files
            first = str(e).splitlines()[0][:150] if str(e) else type(e).__name__
            raise DeployError(f"{str(p)!r} is not a readable ONNX model ({first}).") from None
        self.session = getattr(self.runtime, "session", None)  # the ONNX Runtime session, when that is used
        meta, shape = self.runtime.describe()
        self.path = p
        self.metadata: dict[str, str] = dict(meta)
        if "input_size" in meta:
            self.input_size = parse_input_size(meta["input_size"])
        elif all(isinstance(d, int) for d in shape[1:]):
            self.input_size = (int(shape[1]), int(shape[2]), int(shape[3]))
        else:
            raise DeployError(f"{str(p)!r} does not say its input size; export it with cnnzoo.")
        self.classes: list[str] | None = json.loads(meta["classes"]) if "classes" in meta else None
        self.mean = np.asarray(json.loads(meta["mean"]), np.float32) if "mean" in meta else None
        self.std = np.asarray(json.loads(meta["std"]), np.float32) if "std" in meta else None

    def logits(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Logits for a batch that is already normalised, shape ``(N, C, H, W)``."""
        arr = x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)
        if arr.ndim == 3:
            arr = arr[None]
        if tuple(arr.shape[1:]) != self.input_size:
            raise DeployError(
                f"the batch has images of shape {tuple(arr.shape[1:])}, the model needs "
                f"{'x'.join(map(str, self.input_size))}."
            )
        return self.runtime.run(np.ascontiguousarray(arr))

    def preprocess(self, images: Sequence[Any] | np.ndarray | torch.Tensor) -> np.ndarray:
        """Raw images (file paths, PIL images, or ``[0, 1]`` pixel tensors ``(N, C, H, W)``/``(C, H, W)``) ->
        the normalised batch the model takes: channels adapted, resized (shorter side to the input size /
        0.875 and centre-cropped for inputs of 64 pixels or more, as in the ImageNet evaluations; resized
        directly for small inputs), then ``(x - mean) / std`` from the metadata."""
        import torch.nn.functional as F

        c, h, w = self.input_size
        if isinstance(images, (np.ndarray, torch.Tensor)):
            t = torch.as_tensor(np.asarray(images, dtype=np.float32))
            batch = [t] if t.ndim == 3 else list(t)
        else:
            batch = [self._load(im) for im in images]
        out = []
        for img in batch:
            if img.ndim == 2:
                img = img[None]
            if img.shape[0] != c:
                img = img.mean(0, keepdim=True).expand(c, -1, -1) if img.shape[0] == 3 or c == 3 else img[:c]
            if min(h, w) >= 64:
                short = round(min(h, w) / 0.875)
                ih, iw = img.shape[1:]
                scale = short / min(ih, iw)
                img = F.interpolate(
                    img[None],
                    size=(max(h, round(ih * scale)), max(w, round(iw * scale))),
                    mode="bilinear",
                    align_corners=False,
                    antialias=True,
                )[0]
                top, left = (img.shape[1] - h) // 2, (img.shape[2] - w) // 2
                img = img[:, top : top + h, left : left + w]
            elif tuple(img.shape[1:]) != (h, w):
                img = F.interpolate(
                    img[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True
                )[0]
            out.append(img)
        arr = torch.stack(out).numpy().astype(np.float32)
        if self.mean is not None and self.std is not None:
            arr = (arr - self.mean[None, :, None, None]) / self.std[None, :, None, None]
        return np.ascontiguousarray(arr)

    def _load(self, image: Any) -> torch.Tensor:
        from PIL import Image, UnidentifiedImageError

        from ..data.images import decode_image, decode_pil

        if isinstance(image, (str, os.PathLike)):
            try:  # the one decoder: EXIF orientation applied, 16-bit scaled
                return decode_image(image, self.input_size[0]).float() / 255.0
            except (OSError, UnidentifiedImageError, ValueError, RuntimeError, SyntaxError):
                raise DeployError(
                    f"cannot read image {str(image)!r}; give a PNG/JPEG file that exists."
                ) from None
        if isinstance(image, Image.Image):
            return decode_pil(image, self.input_size[0]).float() / 255.0
        return torch.as_tensor(np.asarray(image, dtype=np.float32))

    def predict(
        self, images: Sequence[Any] | np.ndarray | torch.Tensor, topk: int = 1, normalized: bool = False
    ) -> list[list[tuple[str, float]]]:
        """Top-``topk`` ``(class name, probability)`` per image; ``normalized=True`` when ``images`` is an
        already normalised batch (as from a cnnzoo dataset)."""
        x = np.asarray(images, np.float32) if normalized else self.preprocess(images)
        logits = self.logits(x).astype(np.float64)
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        k = max(1, min(topk, probs.shape[1]))
        order = np.argsort(-probs, axis=1)[:, :k]
        names = self.classes or [str(i) for i in range(probs.shape[1])]
        return [[(names[j], float(probs[i, j])) for j in row] for i, row in enumerate(order)]


def onnx_record(meta: dict[str, str], input_size: tuple[int, int, int], path: str) -> Any:
    """The :class:`~cnnzoo.record.ModelRecord` an exported file carries: the whole record that
    :func:`cnnzoo.deploy.export_onnx` writes (``cnnzoo_record``), or, for files exported before it did, one
    built from the ``classes``/``mean``/``std``/``cnnzoo_model`` entries; ``source`` is the file."""
    from ..record import ModelRecord

    if "cnnzoo_record" in meta:
        rec = ModelRecord.from_dict(json.loads(meta["cnnzoo_record"]))
        return rec.with_(input_size=tuple(input_size), source=path)
    fields: dict[str, Any] = {
        "name": meta.get("cnnzoo_model", ""),
        "input_size": tuple(input_size),
        "source": path,
    }
    for key in ("mean", "std"):
        if key in meta:
            fields[key] = tuple(float(v) for v in json.loads(meta[key]))
    if "classes" in meta:
        fields["classes"] = tuple(str(c) for c in json.loads(meta["classes"]))
        fields["num_classes"] = len(fields["classes"])
    return ModelRecord(**fields)


class OnnxModule(torch.nn.Module):
    """An exported ONNX file (FP32 or INT8) as a module that maps a normalised ``(N, C, H, W)`` batch to
    logits, for code written against PyTorch models (:func:`cnnzoo.predict`, the Photo page). It carries
    ``cnnzoo_record`` read from the file; it has no parameters and computes no gradients (explanation maps
    need the PyTorch checkpoint)."""

    def __init__(self, path: str | os.PathLike[str], runtime: str = "onnxruntime") -> None:
        super().__init__()
        self.classifier = OnnxClassifier(path, runtime=runtime)
        self.cnnzoo_record = onnx_record(self.classifier.metadata, self.classifier.input_size, str(path))
        #: ``"int8"`` or ``"fp32"`` where the file says (cnnzoo's INT8 export writes it), else ``None``
        self.precision = self.classifier.metadata.get("precision")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.classifier.logits(x), dtype=np.float32)).to(x.device)
