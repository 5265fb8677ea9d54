"""A session that classifies images with an exported ONNX file: :class:`OnnxClassifier` (ONNX Runtime by
default, or OpenVINO).

It reads the model's record that :func:`cnnzoo.deploy.export_onnx` stored in the file's metadata (class
names, the input size, the eval view, the training ``mean``/``std``) so an exported FP32 or INT8 model can be
used without PyTorch's model code: give it image files, PIL images, or tensors of raw pixels in ``[0, 1]``; it
prepares them as ``predict`` does and returns the top-k classes with their softmax probabilities.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.images import ImageError, ImageTransform
from ..record import ModelRecord, record_from_flat_keys
from .onnx_export import DeployError
from .runtimes import open_runtime


class OnnxClassifier:
    """Classify images with an exported cnnzoo ONNX file (FP32 or INT8).

    >>> clf = OnnxClassifier("lenet5.onnx")                      # doctest: +SKIP
    >>> clf.predict(["three.png"], topk=2)                       # doctest: +SKIP
    [[('3', 0.97), ('8', 0.02)]]

    ``record`` is the model's :class:`~cnnzoo.record.ModelRecord` from the file's ``cnnzoo_record`` metadata
    (files exported before it: from their flat metadata keys), or for a foreign file one made of its input
    shape; pictures go through the one picture door (:class:`cnnzoo.data.images.ImageTransform`).
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
        self.record = _file_record(p, meta, shape)
        self.input_size = tuple(int(v) for v in self.record.input_size)
        self.classes: list[str] | None = self.record.class_names()
        self.transform = ImageTransform(self.record)

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
        the normalised batch the model takes, through the one picture door with the file's record (decode
        with EXIF orientation and 16-bit scaling, the record's resize/crop/interpolation, its mean/std)."""
        if isinstance(images, (np.ndarray, torch.Tensor)):
            t = torch.as_tensor(np.asarray(images, dtype=np.float32))
            batch: list[Any] = [t] if t.ndim in (2, 3) else list(t)
        else:
            batch = list(images)
        out = []
        for img in batch:
            try:
                out.append(self.transform(img))
            except ImageError as e:
                raise DeployError(str(e)) from None
        return np.ascontiguousarray(torch.stack(out).numpy().astype(np.float32))

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


def _file_record(path: Path, meta: dict[str, str], shape: Sequence[Any]) -> ModelRecord:
    """The record an ONNX file carries: ``cnnzoo_record``, else the flat keys of files exported before it
    (read by :func:`cnnzoo.record.record_from_flat_keys`, the one reader of that layout), else one made of
    the graph's input shape (a file cnnzoo did not export: no classes, no normalisation)."""
    if "cnnzoo_record" in meta:
        try:
            return ModelRecord.from_json(meta["cnnzoo_record"])
        except (ValueError, TypeError) as e:
            raise DeployError(f"{str(path)!r} carries an unreadable cnnzoo_record ({e}).") from None
    try:
        rec = record_from_flat_keys(meta, source=str(path))
    except (ValueError, TypeError) as e:
        raise DeployError(f"{str(path)!r} carries unreadable cnnzoo metadata ({e}).") from None
    if rec is not None:
        return rec
    dims = list(shape[1:])
    if len(dims) != 3 or not all(isinstance(d, int) for d in dims):
        raise DeployError(f"{str(path)!r} does not say its input size; export it with cnnzoo.")
    c, h, w = (int(d) for d in dims)  # a foreign file: no normalisation; photo-sized inputs cropped as usual
    photo = min(h, w) >= 64
    return ModelRecord(
        name=path.stem,
        input_size=(c, h, w),
        mean=(0.0,) * c,
        std=(1.0,) * c,
        resize=round(min(h, w) / 0.875) if photo else None,
        crop=h if photo and h == w else None,
        source=str(path),
    )


class OnnxModule(torch.nn.Module):
    """An exported ONNX file (FP32 or INT8) as a module that maps a normalised ``(N, C, H, W)`` batch to
    logits, for code written against PyTorch models (:func:`cnnzoo.predict`, the Photo page). It carries
    ``cnnzoo_record`` read from the file; it has no parameters and computes no gradients (explanation maps
    need the PyTorch checkpoint)."""

    def __init__(self, path: str | os.PathLike[str], runtime: str = "onnxruntime") -> None:
        super().__init__()
        self.classifier = OnnxClassifier(path, runtime=runtime)
        self.cnnzoo_record = self.classifier.record.with_(source=str(path))
        #: ``"int8"`` or ``"fp32"`` where the file says (cnnzoo's INT8 export writes it), else ``None``
        self.precision = self.classifier.metadata.get("precision")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.classifier.logits(x), dtype=np.float32)).to(x.device)
