"""The image patches that excite a unit most over a dataset: Zeiler & Fergus, "Visualizing and Understanding
Convolutional Networks", ECCV 2014, Sec. 4 and Fig. 2.

For each chosen feature map ("unit") of a layer, Zeiler & Fergus show "the top 9 activations ... across the
validation data", each "projected separately down to pixel space" by the deconvnet, beside "the
corresponding image patches" -- the part of the image the activation's receptive field covers. This module
computes that figure's data in one streamed pass:

- **the statistic**: per unit and per image, the *maximum over the unit's spatial map* and the position of
  that maximum (the first one in row-major order on ties), which is what Zeiler & Fergus rank: one entry per
  image, so the nine patches come from nine different images. A fully connected layer's unit has one value
  per image (its "map" is 1x1). The value is the module's output as the model computes it (after the ReLU
  when the layer is the ReLU or a block ending in one, before it for a bare convolution or BatchNorm).
- **one pass, bounded memory**: each batch's maps are reduced to ``(units,)`` maxima inside the forward hook
  (before any in-place operation can change them), then merged into a running top-``k`` per unit; nothing
  else is kept, so memory is ``O(units x k)`` plus one batch whatever the number of images. Ties are broken
  by the earlier image, so the result equals a brute-force sort of all images (``tests/test_unit_patches``).
  The forward pass stops after the last chosen layer.
- **the patch**: the unit's theoretical receptive field at the arg-max position, from the same tracer that
  ``cnnzoo summary`` uses for its RF and jump columns (:func:`cnnzoo.analysis.erf.theoretical_field`: size
  ``rf``, ``jump`` and ``start``, the centre of unit 0's field), ``[start + i * jump - (rf - 1) / 2,
  start + i * jump + (rf - 1) / 2]`` per axis, clipped at the image border (Zeiler & Fergus crop the same way:
  their layer-1 patches are the 7x7 field, layer-5's patches nearly the whole image).
- **the projection** (optional): the deconvnet of :mod:`cnnzoo.explain.deconvnet` (Zeiler & Fergus Sec. 2.1),
  which keeps that one activation (the map's maximum) and projects it to pixels, where the layer is reached
  through a plain conv/pool chain; elsewhere (residual or concatenating models) the same deconvnet rule by
  back-propagation (:class:`cnnzoo.explain.relu_backward_rule`, Springenberg et al. 2015, Fig. 1), which on
  such chains gives the same image. ``guided`` uses guided back-propagation instead. Each result says which
  route it took.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from ..errors import CnnzooError, DataError
from ._common import LayerError, check_input, get_layer, model_device

PROJECTIONS = ("none", "deconvnet", "guided")
STATE_VERSION = 1


# ------------------------------------------------------------------------------------------ image sources
class ImageSource(Protocol):
    """Images for a units pass, addressed by a stable index ``0 .. len - 1``: normalised model inputs for the
    network and, through ``mean``/``std``, the pixels ([0, 1]) they came from for the crops."""

    description: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    skipped: list[str]

    def __len__(self) -> int: ...

    def batches(self, start: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(indices (B,), inputs (B, C, H, W))`` from index ``start`` on; unreadable items are left out."""
        ...

    def item(self, i: int) -> torch.Tensor:
        """The normalised input ``(C, H, W)`` of index ``i``."""
        ...

    def meta(self, i: int) -> dict[str, Any]:
        """What the index says about image ``i``: ``file`` (or ``None``), ``label`` and ``label_name``."""
        ...


def _as_floats(v: Sequence[float] | None, n: int, default: float) -> tuple[float, ...]:
    vals = [float(a) for a in (v if v is not None else [default])]
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n:
        raise CnnzooError(f"got {len(vals)} mean/std values for images with {n} channels.")
    return tuple(vals)


def unnormalise(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Model inputs ``(..., C, H, W)`` back to pixels in [0, 1] (clamped): ``x * std + mean``."""
    c = x.shape[-3]
    m = torch.tensor(_as_floats(mean, c, 0.0), dtype=x.dtype).view(-1, 1, 1)
    s = torch.tensor(_as_floats(std, c, 1.0), dtype=x.dtype).view(-1, 1, 1)
    return (x * s + m).clamp(0, 1)


class TensorSource:
    """Images already in memory as a normalised tensor ``(N, C, H, W)`` (the Python API; tests)."""

    def __init__(
        self,
        x: torch.Tensor,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        labels: Sequence[int] | None = None,
        classes: Sequence[str] | None = None,
        description: str = "a tensor of images",
    ) -> None:
        self.x = check_input(x)
        c = self.x.shape[1]
        self.mean, self.std = _as_floats(mean, c, 0.0), _as_floats(std, c, 1.0)
        self.labels = None if labels is None else [int(v) for v in labels]
        self.classes = list(classes) if classes is not None else None
        self.description = description
        self.skipped: list[str] = []

    def __len__(self) -> int:
        return self.x.shape[0]

    def batches(self, start: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for s in range(start, len(self), batch_size):
            e = min(s + batch_size, len(self))
            yield torch.arange(s, e), self.x[s:e]

    def item(self, i: int) -> torch.Tensor:
        return self.x[i]

    def meta(self, i: int) -> dict[str, Any]:
        label = self.labels[i] if self.labels is not None else None
        name = (
            self.classes[label] if self.classes and label is not None and label < len(self.classes) else None
        )
        return {"file": None, "label": label, "label_name": name}


class _DecodedOneByOne:
    """What the sources that decode image by image share: batches of the images that can be read (one that
    cannot is left out; ``_read`` records it) and :meth:`item`, which insists."""

    def __len__(self) -> int:
        raise NotImplementedError

    def _read(self, i: int) -> torch.Tensor | None:
        """The normalised input of image ``i``, or ``None`` (recorded in ``skipped``) if it cannot be read."""
        raise NotImplementedError

    def _unreadable(self, i: int) -> str:
        """The error message for image ``i`` that can no longer be read."""
        raise NotImplementedError

    def _batch(self, s: int, e: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        ids, xs = [], []
        for i in range(s, e):
            x = self._read(i)
            if x is not None:
                ids.append(i)
                xs.append(x)
        if xs:
            yield torch.tensor(ids), torch.stack(xs)

    def batches(self, start: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for s in range(start, len(self), batch_size):
            yield from self._batch(s, min(s + batch_size, len(self)))

    def item(self, i: int) -> torch.Tensor:
        x = self._read(i)
        if x is None:
            raise DataError(self._unreadable(i))
        return x


class DatasetSource(_DecodedOneByOne):
    """One split of a cnnzoo data source (:func:`cnnzoo.data.sources.build_data`'s datasets, whose items are
    ``(normalised image, label)``, ``None`` for a file that cannot be decoded). In-memory datasets with a
    batch transform are read a batch at a time (one tensor operation)."""

    def __init__(
        self,
        dataset: Any,
        mean: Sequence[float],
        std: Sequence[float],
        classes: Sequence[str] | None,
        description: str,
    ) -> None:
        self.dataset = dataset
        self.mean, self.std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        self.classes = list(classes) if classes is not None else None
        self.description = description
        self.skipped: list[str] = []
        self._fast = getattr(dataset, "batch_transform", None) is not None and hasattr(dataset, "batch")

    def __len__(self) -> int:
        return len(self.dataset)

    def _read(self, i: int) -> torch.Tensor | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the skip is recorded below, said once at the end
            item = self.dataset[i]
        if item is None:
            self.skipped.append(str(self.meta(i)["file"] or i))
            return None
        x = item[0]
        return x[0] if x.ndim == 4 else x  # a test transform's stack of views: the first (centre) one

    def _unreadable(self, i: int) -> str:
        return f"image {i} of {self.description} can no longer be read."

    def _batch(self, s: int, e: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not self._fast:
            yield from super()._batch(s, e)
            return
        x, _ = self.dataset.batch(torch.arange(s, e))
        yield torch.arange(s, e), x

    def _raw(self) -> Any:
        base, idx = self.dataset, None
        if hasattr(base, "base") and hasattr(base, "indices"):
            base, idx = base.base, base.indices
        return getattr(base, "raw", None), idx

    def meta(self, i: int) -> dict[str, Any]:
        raw, idx = self._raw()
        j = idx[i] if idx is not None else i
        label = int(raw.labels[j]) if raw is not None else None
        paths = getattr(raw, "paths", None)
        name = (
            self.classes[label] if self.classes and label is not None and label < len(self.classes) else None
        )
        return {"file": str(paths[j]) if paths is not None else None, "label": label, "label_name": name}


class FileSource(_DecodedOneByOne):
    """Image files (photos), each decoded by the one image door (:func:`cnnzoo.data.images.decode_image`)
    and shown to the network in its weights' evaluation view (:func:`view` : resize, centre crop), then
    normalised. A file that cannot be read is skipped, named on stderr and in ``skipped``."""

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        input_size: Sequence[int],
        mean: Sequence[float],
        std: Sequence[float],
        resize: int | None = None,
        crop: int | None = None,
        interpolation: str = "bilinear",
        description: str | None = None,
    ) -> None:
        if not paths:
            raise DataError("no image files were given; name image files or folders that hold them.")
        self.paths = [Path(p) for p in paths]
        self.input_size = tuple(int(v) for v in input_size)
        c = self.input_size[0]
        self.mean, self.std = _as_floats(mean, c, 0.0), _as_floats(std, c, 1.0)
        self.resize, self.crop, self.interpolation = resize, crop, interpolation
        self.description = description or f"{len(self.paths)} image files"
        self.skipped: list[str] = []
        self._bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def _read(self, i: int) -> torch.Tensor | None:
        from ..data.images import decode_image
        from ..data.photos import resize_crop

        c, h, w = self.input_size
        try:
            img = decode_image(self.paths[i], c)
        except (OSError, RuntimeError, ValueError, SyntaxError, DataError) as e:
            if i not in self._bad:
                self._bad.add(i)
                self.skipped.append(str(self.paths[i]))
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                warnings.warn(f"skipping {self.paths[i]}: cannot decode ({msg})", stacklevel=3)
            return None
        if self.resize:
            img = resize_crop(img, self.resize, self.crop or h, self.interpolation)
        else:
            img = resize_crop(img, [h, w], None, self.interpolation)
        if tuple(img.shape[-2:]) != (h, w):  # a crop larger than the resized picture: fit it exactly
            img = resize_crop(img, [h, w], None, self.interpolation)
        x = img.float() / 255.0
        m = torch.tensor(self.mean).view(-1, 1, 1)
        s = torch.tensor(self.std).view(-1, 1, 1)
        return (x - m) / s

    def _unreadable(self, i: int) -> str:
        return f"image file {str(self.paths[i])!r} can no longer be read."

    def meta(self, i: int) -> dict[str, Any]:
        return {"file": str(self.paths[i]), "label": None, "label_name": None}


# --------------------------------------------------------------------------------------- receptive fields
def field_box(field: Any, y: int, x: int) -> tuple[float, float, float, float]:
    """The unclipped receptive field of the unit at ``(y, x)``: ``(top, left, bottom, right)``, inclusive
    input-pixel coordinates (possibly outside the image, possibly half-integers for even fields)."""
    if field.start is None:
        raise LayerError("the profiler did not give the position of this layer's receptive field.")
    (t, b), (left, r) = field.box((y, x))
    return t, left, b, r


def clip_box(box: tuple[float, float, float, float], h: int, w: int) -> tuple[int, int, int, int]:
    """``box`` (from :func:`field_box`) as whole pixels inside an ``h`` x ``w`` image, inclusive."""
    t, left, b, r = box
    return max(0, math.ceil(t)), max(0, math.ceil(left)), min(h - 1, math.floor(b)), min(w - 1, math.floor(r))


def crop_field(
    img: torch.Tensor, field: Any, y: int, x: int
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """The part of ``img`` ``(C, H, W)`` that the unit at ``(y, x)`` sees: its receptive field clipped at the
    border, and that box ``(top, left, bottom, right)`` inclusive."""
    h, w = img.shape[-2:]
    t, left, b, r = clip_box(field_box(field, y, x), h, w)
    return img[..., t : b + 1, left : r + 1], (t, left, b, r)


# ----------------------------------------------------------------------------------------- the top-k pass
@dataclass
class Hit:
    """One kept activation: ``value`` of the unit on image ``image`` at map position ``(y, x)``."""

    value: float
    image: int
    y: int
    x: int


@dataclass
class LayerTop:
    """The top-``k`` of every unit of one layer. ``values`` ``(units, k)`` sorted high to low (``-inf`` where
    fewer than ``k`` images were seen), ``images`` the image indices (``-1`` there), ``positions`` the arg-max
    position as a flat index into the ``H x W`` map. ``field`` is the layer's theoretical receptive field."""

    name: str
    shape: tuple[int, ...]
    field: Any
    values: torch.Tensor
    images: torch.Tensor
    positions: torch.Tensor

    @property
    def units(self) -> int:
        return self.values.shape[0]

    @property
    def map_size(self) -> tuple[int, int]:
        return (self.shape[1], self.shape[2]) if len(self.shape) == 3 else (1, 1)

    def hits(self, unit: int) -> list[Hit]:
        """The unit's kept activations, strongest first."""
        if not 0 <= unit < self.units:
            raise LayerError(
                f"layer {self.name!r} has {self.units} units (0 to {self.units - 1}), not {unit}."
            )
        w = self.map_size[1]
        out = []
        for v, i, p in zip(
            self.values[unit].tolist(), self.images[unit].tolist(), self.positions[unit].tolist()
        ):
            if i >= 0:
                out.append(Hit(float(v), int(i), int(p) // w, int(p) % w))
        return out


class TopK:
    """A running top-``k`` over images of ``units`` values each (one layer): merge a batch's per-unit maxima
    with :meth:`update`. The order is (value high to low, image index low to high), the same as a stable
    sort of everything seen, provided batches arrive in increasing image order."""

    def __init__(self, units: int, k: int) -> None:
        self.k = k
        self.values = torch.full((units, 0), float("-inf"))
        self.images = torch.empty((units, 0), dtype=torch.long)
        self.positions = torch.empty((units, 0), dtype=torch.long)

    def update(self, act: torch.Tensor, ids: torch.Tensor) -> None:
        """``act`` ``(B, units, ...)`` (a feature map or a vector per image), ``ids`` ``(B,)`` the image
        indices."""
        flat = act.detach().reshape(act.shape[0], act.shape[1], -1).float().cpu()
        pos = flat.argmax(dim=2)  # the first maximum in row-major order
        val = flat.gather(2, pos[..., None])[..., 0]
        val = torch.nan_to_num(val, nan=float("-inf"))
        units = val.shape[1]
        v = torch.cat([self.values, val.T], dim=1)
        i = torch.cat([self.images, ids.view(1, -1).expand(units, -1)], dim=1)
        p = torch.cat([self.positions, pos.T], dim=1)
        order = torch.sort(v, dim=1, descending=True, stable=True).indices[:, : self.k]
        self.values, self.images, self.positions = v.gather(1, order), i.gather(1, order), p.gather(1, order)

    def state(self) -> dict[str, torch.Tensor]:
        return {"values": self.values, "images": self.images, "positions": self.positions}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        self.values, self.images, self.positions = state["values"], state["images"], state["positions"]


class _Stop(Exception):
    """Raised by a hook once every chosen layer has given its output: the rest of the forward is not
    needed."""


@dataclass
class UnitsResult:
    """What :func:`top_activations` found: per layer (in the order asked) its :class:`LayerTop`, the number
    of images read, the input size and the files skipped."""

    layers: dict[str, LayerTop]
    top: int
    images: int
    input_size: tuple[int, ...]
    skipped: list[str] = field(default_factory=list)


def _capture_hooks(
    model: nn.Module, layers: Sequence[str], sink: Any
) -> tuple[list[Any], dict[str, int], dict[str, tuple[int, ...]]]:
    calls: dict[str, int] = {n: 0 for n in layers}
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []

    def hook_for(name: str):  # noqa: ANN202
        def hook(_m: nn.Module, _i: Any, out: Any) -> None:
            calls[name] += 1
            if calls[name] > 1:
                raise LayerError(
                    f"layer {name!r} runs more than once in a forward pass (a shared module), so its units "
                    "have "
                    "no single map; choose one of its uses' own modules or a block around it."
                )
            if not isinstance(out, torch.Tensor) or out.ndim not in (2, 4):
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise LayerError(
                    f"layer {name!r} outputs {shape}, not feature maps (N, C, H, W) or units (N, C); "
                    "choose a "
                    "convolutional or fully connected layer."
                )
            shapes[name] = tuple(out.shape[1:])
            sink(name, out)
            if all(calls[n] for n in layers):
                raise _Stop

        return hook

    for n in layers:
        handles.append(get_layer(model, n).register_forward_hook(hook_for(n)))
    return handles, calls, shapes


def _fields(model: nn.Module, layers: Sequence[str], input_size: tuple[int, ...]) -> dict[str, Any]:
    from ..analysis.erf import theoretical_field

    out = {}
    for n in layers:
        try:
            out[n] = theoretical_field(model, n, input_size)
        except CnnzooError as e:
            raise LayerError(f"cannot trace the receptive field of layer {n!r}: {e}") from None
    return out


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_state(path: Path, fingerprint: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a torn or foreign file: start again
        return None
    if (
        not isinstance(state, dict)
        or state.get("version") != STATE_VERSION
        or state.get("fingerprint") != fingerprint
    ):
        return None
    return state


def top_activations(
    model: nn.Module,
    source: ImageSource | torch.Tensor,
    layers: Sequence[str],
    top: int = 9,
    batch_size: int = 64,
    progress: bool = False,
    resume: str | os.PathLike[str] | None = None,
    fingerprint: str = "",
    save_every: float = 30.0,
) -> UnitsResult:
    """Every unit's ``top`` strongest images over ``source``, in one streamed pass (see the module docstring).

    Args:
        model: a network in eval mode (it is put in eval mode).
        source: an :class:`ImageSource` (``TensorSource``, ``DatasetSource``, ``FileSource``) or a tensor of
            normalised images ``(N, C, H, W)``.
        layers: module names (``model.named_modules()``), each run once per forward pass, whose outputs are
            feature maps ``(N, C, H, W)`` or unit vectors ``(N, C)``.
        top: how many images to keep per unit (Zeiler & Fergus: 9).
        batch_size: images per forward pass.
        progress: a progress bar on stderr.
        resume: a state file: written every ``save_every`` seconds while the pass runs, read at the start
            (when its ``fingerprint`` matches), removed at the end -- a killed pass continues where it
            stopped, with nothing lost.

    Returns:
        a :class:`UnitsResult`.
    """
    if isinstance(source, torch.Tensor):
        source = TensorSource(source)
    if not layers:
        raise LayerError("no layer was chosen; name at least one (model.named_modules() lists them).")
    if len(set(layers)) != len(layers):
        raise LayerError(f"a layer is named twice in {', '.join(layers)}; name each once.")
    if not isinstance(top, int) or top < 1:
        raise CnnzooError(f"top must be a positive whole number, got {top!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise CnnzooError(f"batch_size must be a positive whole number, got {batch_size!r}.")
    if len(source) == 0:
        raise DataError(f"{source.description} holds no images.")
    for n in layers:
        get_layer(model, n)  # a wrong name is an error before any image is read
    model.eval()
    device = model_device(model)
    tops: dict[str, TopK] = {}
    current: dict[str, torch.Tensor] = {}

    def sink(name: str, out: torch.Tensor) -> None:
        if name not in tops:
            tops[name] = TopK(out.shape[1], top)
        tops[name].update(out, current["ids"])

    state_path = Path(resume) if resume is not None else None
    done, seen = 0, 0
    saved = _load_state(state_path, fingerprint) if state_path is not None else None
    if saved is not None:
        done, seen = int(saved["done"]), int(saved["seen"])
        source.skipped.extend(str(s) for s in saved.get("skipped", []))
        for n, st in saved["layers"].items():
            tops[n] = TopK(st["values"].shape[0], top)
            tops[n].load(st)
    shapes: dict[str, tuple[int, ...]] = {
        n: tuple(int(v) for v in s) for n, s in (saved or {}).get("shapes", {}).items()
    }
    input_size: tuple[int, ...] | None = tuple(saved["input_size"]) if saved else None
    from tqdm import tqdm

    bar = tqdm(total=len(source), initial=done, unit="img", desc="units", disable=not progress, leave=False)
    last_save = time.monotonic()
    try:
        for ids, x in source.batches(done, batch_size):
            if input_size is None:
                input_size = tuple(int(v) for v in x.shape[1:])
            elif tuple(x.shape[1:]) != input_size:
                raise DataError(
                    f"image {int(ids[0])} of {source.description} is {tuple(x.shape[1:])}, not {input_size} "
                    "like the others; the units pass needs one input size."
                )
            current["ids"] = ids
            handles, calls, got = _capture_hooks(model, layers, sink)
            try:
                with torch.no_grad():
                    model(x.to(device))
            except _Stop:
                pass
            finally:
                for h in handles:
                    h.remove()
            missing = [n for n in layers if not calls[n]]
            if missing:
                raise LayerError(
                    f"layer {missing[0]!r} gave no output in the forward pass; choose a layer the model uses."
                )
            shapes.update(got)
            seen += len(ids)
            done = int(ids[-1]) + 1
            bar.update(done - bar.n)
            if state_path is not None and time.monotonic() - last_save > save_every:
                _save_state(
                    state_path,
                    {
                        "version": STATE_VERSION,
                        "fingerprint": fingerprint,
                        "done": done,
                        "seen": seen,
                        "input_size": list(input_size),
                        "shapes": {n: list(s) for n, s in shapes.items()},
                        "skipped": list(source.skipped),
                        "layers": {n: t.state() for n, t in tops.items()},
                    },
                )
                last_save = time.monotonic()
    finally:
        bar.close()
    if seen == 0 or input_size is None:
        raise DataError(f"none of the images in {source.description} could be read.")
    fields = _fields(model, layers, input_size)
    result = {}
    for n in layers:
        t = tops[n]
        result[n] = LayerTop(n, shapes[n], fields[n], t.values, t.images, t.positions)
    if state_path is not None and state_path.exists():
        state_path.unlink()
    return UnitsResult(result, top, seen, input_size, list(source.skipped))


# ------------------------------------------------------------------------------------------- projections
def _rule_projection(
    model: nn.Module, x: torch.Tensor, layer: str, unit: int, pos: int, rule: str
) -> torch.Tensor:
    from .guided import relu_backward_rule

    inp = x.clone().requires_grad_(True)
    store: dict[str, torch.Tensor] = {}

    def hook(_m: nn.Module, _i: Any, out: Any) -> None:
        store["out"] = out
        raise _Stop

    handle = get_layer(model, layer).register_forward_hook(hook)
    try:
        with torch.enable_grad(), relu_backward_rule(rule):
            with contextlib.suppress(_Stop):
                model(inp * 1)
            out = store["out"]
            sel = out[0, unit].reshape(-1)[pos]
            (g,) = torch.autograd.grad(sel, inp, grad_outputs=sel.detach().clone())
    finally:
        handle.remove()
    return g[0].detach()


def project_unit(
    model: nn.Module, x: torch.Tensor, layer: str, unit: int, pos: int, method: str = "deconvnet"
) -> tuple[torch.Tensor, str]:
    """Project unit ``unit``'s activation at flat position ``pos`` (its map's maximum) on the one image ``x``
    ``(1, C, H, W)`` to pixel space: ``(signed map (C, H, W), route)``.

    ``method="deconvnet"``: Zeiler & Fergus' deconvnet (:func:`cnnzoo.explain.deconvnet`) where the layer is
    reached through a plain conv/pool chain (route ``"deconvnet"``), else the deconvnet rule by
    back-propagation (route ``"deconvnet rule (backprop)"``); ``"guided"``: guided back-propagation of that
    activation (Springenberg et al. 2015). Both start from the activation's own value, so the maps are in the
    units of the deconvnet's reconstruction.
    """
    from .deconvnet import deconvnet

    if method not in ("deconvnet", "guided"):
        raise CnnzooError(f"unknown projection {method!r}; choose deconvnet or guided.")
    x = check_input(x).to(model_device(model))
    if method == "guided":
        return _rule_projection(model, x, layer, unit, pos, "guided"), "guided backprop"
    try:
        rec, _ = deconvnet(model, x, layer=layer, channel=unit, keep="max")
        return rec[0], "deconvnet"
    except LayerError as e:
        if "plain conv/pool chain" not in str(e):
            raise
    return _rule_projection(model, x, layer, unit, pos, "deconvnet"), "deconvnet rule (backprop)"
