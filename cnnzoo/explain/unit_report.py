"""``cnnzoo units``: the files of a units pass -- per layer a grid PNG of every drawn unit's top-9
receptive-field crops (Zeiler & Fergus 2014, Fig. 2), optionally beside their deconvnet or guided
projections; a JSON index of every unit's kept activations (image, file, label, position, value, crop box)
from which any unit's figure can be redrawn; one PNG per drawn unit (its 3x3 block, which the HTML page and
``cnnzoo serve``'s Anatomy page show); and ``index.html`` to browse them. The computation is
:mod:`cnnzoo.explain.unit_patches`.

A second run into the same folder with the same model, data, layers and ``top`` reads the index instead of
passing over the data again, so other units (``--units``), another ``--pick`` or projections are redrawn in
seconds; a killed pass resumes from ``.units-state.pt`` in the folder.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CnnzooError, DataError
from ..record import ModelRecord
from ._common import get_layer
from .unit_patches import (
    PROJECTIONS,
    DatasetSource,
    FileSource,
    ImageSource,
    LayerTop,
    UnitsResult,
    clip_box,
    crop_field,
    field_box,
    project_unit,
    top_activations,
    unnormalise,
)

INDEX_FORMAT = "cnnzoo-units"
INDEX_VERSION = 1
INDEX_NAME = "index.json"
STATE_NAME = ".units-state.pt"
PICKS = ("random", "first", "strongest")
SPLITS = ("test", "train")
STATISTIC = (
    "per unit and image, the maximum of the unit's map over all positions and the position of that maximum "
    "(Zeiler & Fergus 2014, Sec. 4); the top images by that value, ties to the earlier image"
)
GAP = 2  # pixels between the crops of a block
GAP_COLOUR = (0.16, 0.36, 0.66)  # a blue no photo or digit background is, so the nine crops stay apart
_MIN_TILE, _MAX_TILE = 48, 112


class FirstN:
    """The first ``n`` images of a source (``--limit``)."""

    def __init__(self, source: ImageSource, n: int) -> None:
        self.source, self.n = source, min(n, len(source))
        self.description = f"the first {self.n} of {source.description}"
        self.mean, self.std, self.skipped = source.mean, source.std, source.skipped

    def __len__(self) -> int:
        return self.n

    def batches(self, start: int, batch_size: int):  # noqa: ANN201
        for ids, x in self.source.batches(start, batch_size):
            keep = ids < self.n
            if keep.any():
                yield ids[keep], x[keep]
            if not keep.all() or int(ids[-1]) + 1 >= self.n:
                return

    def item(self, i: int) -> torch.Tensor:
        return self.source.item(i)

    def meta(self, i: int) -> dict[str, Any]:
        return self.source.meta(i)


# ------------------------------------------------------------------------------------------- choosing units
def parse_units(spec: str | int | Sequence[int]) -> int | str | list[int]:
    """``--units``: a count ``K`` (K units per layer, chosen by ``pick``), ``all``, or a comma list of unit
    indices (the same for every layer)."""
    if isinstance(spec, int):
        if spec < 1:
            raise CnnzooError(f"units must be at least 1, got {spec}.")
        return spec
    if not isinstance(spec, str):
        return [int(v) for v in spec]
    s = spec.strip().lower()
    if s == "all":
        return "all"
    try:
        if "," in s:
            vals = [int(v) for v in s.split(",") if v.strip()]
            if not vals or any(v < 0 for v in vals):
                raise ValueError
            return vals
        k = int(s)
    except ValueError:
        raise CnnzooError(
            f"units must be a count (16), 'all' or a comma list of unit indices (3,17,42); got {spec!r}."
        ) from None
    if k < 1:
        raise CnnzooError(f"units must be at least 1, got {k}.")
    return k


def choose_units(
    lt: LayerTop, units: int | str | Sequence[int], pick: str = "random", seed: int = 0
) -> list[int]:
    """Which units of ``lt`` to draw: an explicit list (checked), ``all``, or ``K`` of them -- a random subset
    (seeded; Zeiler & Fergus show "a random subset of feature maps"), the first ``K`` or the ``K`` with the
    strongest top activation. Returned in increasing order."""
    if pick not in PICKS:
        raise CnnzooError(f"unknown pick {pick!r}; choose one of: {', '.join(PICKS)}.")
    n = lt.units
    if isinstance(units, str):
        if units != "all":
            raise CnnzooError(f"units must be a count, 'all' or a list of indices, got {units!r}.")
        return list(range(n))
    if not isinstance(units, int):
        bad = [u for u in units if not 0 <= int(u) < n]
        if bad:
            raise CnnzooError(
                f"layer {lt.name!r} has {n} units (0 to {n - 1}); unit {bad[0]} does not exist."
            )
        return sorted(dict.fromkeys(int(u) for u in units))
    k = min(units, n)
    if pick == "first":
        return list(range(k))
    if pick == "strongest":
        return sorted(torch.argsort(lt.values[:, 0], descending=True, stable=True)[:k].tolist())
    rng = random.Random(f"{seed}:{lt.name}")
    return sorted(rng.sample(range(n), k))


# ------------------------------------------------------------------------------------------ tiles (images)
def _canvas(lt: LayerTop, input_hw: tuple[int, int]) -> tuple[int, int]:
    rf = lt.field.rf
    return min(int(rf[0]), input_hw[0]), min(int(rf[1]), input_hw[1])


def _tile_size(canvas: tuple[int, int]) -> tuple[int, int]:
    side = max(canvas)
    if side < _MIN_TILE:
        s = math.ceil(_MIN_TILE / side)
        return canvas[0] * s, canvas[1] * s
    if side > _MAX_TILE:
        return max(1, round(canvas[0] * _MAX_TILE / side)), max(1, round(canvas[1] * _MAX_TILE / side))
    return canvas


def _place(
    crop: torch.Tensor,
    box: tuple[int, int, int, int],
    lt: LayerTop,
    y: int,
    x: int,
    canvas: tuple[int, int],
    fill: float,
) -> torch.Tensor:
    """The clipped crop on a canvas of the field's size (capped at the image), where the field runs over the
    border: the unit's centre stays in the middle of every tile."""
    c = crop.shape[0]
    out = torch.full((c, *canvas), fill, dtype=crop.dtype)
    t, left, _, _ = field_box(lt.field, y, x)
    oy = min(max(box[0] - math.ceil(t), 0), canvas[0] - crop.shape[1])
    ox = min(max(box[1] - math.ceil(left), 0), canvas[1] - crop.shape[2])
    out[:, oy : oy + crop.shape[1], ox : ox + crop.shape[2]] = crop
    return out


def _resize(t: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    import torch.nn.functional as F

    if tuple(t.shape[-2:]) == size:
        return t
    if size[0] >= t.shape[-2]:
        return F.interpolate(t[None], size=size, mode="nearest")[0]
    return F.interpolate(t[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(
        0, 1
    )


def _signed(p: torch.Tensor) -> torch.Tensor:
    """A signed projection shown as Zeiler & Fergus show theirs, each on its own scale, zero at mid-grey: the
    scale is the 98th percentile of its non-zero magnitudes (not the maximum, which one pixel at the field's
    centre would take, leaving the rest grey), larger values clipped."""
    a = p.abs().flatten()
    a = a[a > 0]
    if a.numel() == 0:
        return torch.full_like(p, 0.5)
    m = float(torch.quantile(a, 0.98)) if a.numel() > 1 else float(a.max())
    return (p / (2 * m) + 0.5).clamp(0, 1)


def _mosaic(tiles: list[torch.Tensor | None], k: int, size: tuple[int, int]) -> torch.Tensor:
    """``k`` tiles (RGB; grey ones repeated) in ``ceil(sqrt(k))`` columns, row by row, on the separator
    colour; missing tiles (fewer images than ``k``) stay black."""
    cols = math.ceil(math.sqrt(k))
    rows = math.ceil(k / cols)
    h, w = size
    out = (
        torch.tensor(GAP_COLOUR)
        .view(3, 1, 1)
        .repeat(1, rows * h + (rows - 1) * GAP, cols * w + (cols - 1) * GAP)
    )
    for j in range(k):
        r, c = divmod(j, cols)
        t = tiles[j] if j < len(tiles) else None
        cell = torch.zeros(3, h, w) if t is None else t[:3].expand(3, h, w)
        out[:, r * (h + GAP) : r * (h + GAP) + h, c * (w + GAP) : c * (w + GAP) + w] = cell
    return out


class _Images:
    """The few images a figure needs, read once each from the source, in pixels [0, 1]."""

    def __init__(self, source: ImageSource) -> None:
        self.source, self.cache = source, {}

    def pixels(self, i: int) -> torch.Tensor:
        if i not in self.cache:
            self.cache[i] = unnormalise(self.source.item(i).float(), self.source.mean, self.source.std)
        return self.cache[i]

    def normalised(self, i: int) -> torch.Tensor:
        return self.source.item(i).float()


def unit_blocks(
    lt: LayerTop,
    unit: int,
    images: _Images,
    input_hw: tuple[int, int],
    model: nn.Module | None = None,
    projection: str = "none",
) -> tuple[torch.Tensor, torch.Tensor | None, str | None]:
    """The unit's top-k crops as one ``(C, H, W)`` block (``ceil(sqrt(k))`` columns, strongest first, row by
    row) and, with a ``projection``, the block of its projections (each cropped to the same box); the route
    the projection took."""
    hits = lt.hits(unit)
    k = lt.values.shape[1]
    canvas = _canvas(lt, input_hw)
    size = _tile_size(canvas)
    crops: list[torch.Tensor | None] = []
    projs: list[torch.Tensor | None] = []
    route = None
    for h in hits:
        img = images.pixels(h.image)
        crop, box = crop_field(img, lt.field, h.y, h.x)
        crops.append(_resize(_place(crop, box, lt, h.y, h.x, canvas, 0.5), size))
        if projection != "none":
            assert model is not None
            p, route = project_unit(
                model, images.normalised(h.image)[None], lt.name, unit, h.y * lt.map_size[1] + h.x, projection
            )
            pc = p.cpu()[..., box[0] : box[2] + 1, box[1] : box[3] + 1]
            projs.append(_resize(_place(_signed(pc), box, lt, h.y, h.x, canvas, 0.5), size))
    block = _mosaic(crops, k, size)
    pblock = _mosaic(projs, k, size) if projection != "none" else None
    return block, pblock, route


def _save_png(t: torch.Tensor, path: Path) -> None:
    from PIL import Image

    arr = (t.clamp(0, 1) * 255).round().to(torch.uint8)
    arr = arr[0] if arr.shape[0] == 1 else arr.permute(1, 2, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    Image.fromarray(arr.contiguous().numpy()).save(tmp)
    os.replace(tmp, path)


def _layer_figure(
    lt: LayerTop,
    drawn: list[int],
    blocks: dict[int, tuple[torch.Tensor, torch.Tensor | None]],
    title: str,
    path: Path,
) -> None:
    """Every drawn unit of one layer in one PNG: projections (if any) left of the crops, as in Zeiler &
    Fergus' Fig. 2, titled with the unit and its top value."""
    from matplotlib.figure import Figure

    with_proj = any(b[1] is not None for b in blocks.values())
    per_row = 4 if with_proj else 6
    rows = math.ceil(len(drawn) / per_row)
    cols = per_row * (2 if with_proj else 1)
    fig = Figure(figsize=(1.45 * cols + 0.4, 1.7 * rows + 0.7))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for j, u in enumerate(drawn):
        r, c = divmod(j, per_row)
        block, pblock = blocks[u]
        top = float(lt.values[u, 0])
        label = f"unit {u}\nmax {top:.3g}" if top > 0 else f"unit {u}\nmax {top:.3g} (never > 0)"
        targets = [(pblock, "projections"), (block, None)] if with_proj else [(block, None)]
        for i, (img, what) in enumerate(targets):
            ax = axes[r, c * len(targets) + i]
            a = img[0] if img.shape[0] == 1 else img.permute(1, 2, 0)
            kw = {"cmap": "gray", "vmin": 0, "vmax": 1} if img.shape[0] == 1 else {}
            ax.imshow(a.numpy(), interpolation="nearest", aspect="equal", **kw)
            ax.set_title(label if what is None else f"unit {u}\n{what}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------ the index
def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name) or "layer"


def index_record(
    result: UnitsResult,
    source: ImageSource,
    header: dict[str, Any],
    drawn: dict[str, list[int]],
    files: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The JSON index: ``header`` (model, weights, data...), the statistic, and per layer its shape, receptive
    field (rf, jump, start: the figures of ``cnnzoo summary``), PNG, and for *every* unit its kept hits
    (rank, image index, file, label, position in the map, value, crop box top/left/bottom/right inclusive)."""
    hw = result.input_size[1:]
    metas: dict[int, dict[str, Any]] = {}
    layers = []
    for name, lt in result.layers.items():
        units = []
        for u in range(lt.units):
            hits = []
            for rank, h in enumerate(lt.hits(u), start=1):
                if h.image not in metas:
                    metas[h.image] = source.meta(h.image)
                box = clip_box(field_box(lt.field, h.y, h.x), hw[0], hw[1])
                hits.append(
                    {
                        "rank": rank,
                        "image": h.image,
                        **metas[h.image],
                        "y": h.y,
                        "x": h.x,
                        "value": round(h.value, 6),
                        "box": list(box),
                    }
                )
            entry: dict[str, Any] = {"unit": u, "drawn": u in drawn.get(name, []), "top": hits}
            entry.update(files.get(name, {}).get(str(u), {}))
            units.append(entry)
        layers.append(
            {
                "name": name,
                "shape": list(lt.shape),
                "rf": list(lt.field.rf),
                "jump": list(lt.field.jump),
                "start": list(lt.field.start) if lt.field.start is not None else None,
                "png": files.get(name, {}).get("png"),
                "drawn": drawn.get(name, []),
                "units": units,
            }
        )
    return {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        **header,
        "input_size": list(result.input_size),
        "mean": list(source.mean),
        "std": list(source.std),
        "top": result.top,
        "images": result.images,
        "skipped": list(result.skipped),
        "statistic": STATISTIC,
        "layers": layers,
    }


def read_index(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A units index (``index.json``, or the folder holding it), checked to be one."""
    p = Path(path)
    if p.is_dir():
        p = p / INDEX_NAME
    if not p.is_file():
        raise CnnzooError(f"{str(p)!r} is not a units index; make one with `cnnzoo units ... --out DIR`.")
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise CnnzooError(
            f"cannot read the units index {str(p)!r} ({type(e).__name__}); make it again."
        ) from None
    if not isinstance(d, dict) or d.get("format") != INDEX_FORMAT or not isinstance(d.get("layers"), list):
        raise CnnzooError(
            f"{str(p)!r} is not a cnnzoo units index; make one with `cnnzoo units ... --out DIR`."
        )
    if d.get("version") != INDEX_VERSION:
        raise CnnzooError(
            f"the units index {str(p)!r} is version {d.get('version')}; this cnnzoo reads version "
            f"{INDEX_VERSION}: make it again."
        )
    return d


def result_from_index(d: dict[str, Any]) -> UnitsResult:
    """The :class:`UnitsResult` an index holds (to redraw its figures without passing over the data)."""
    from ..analysis.erf import Field

    layers = {}
    top = int(d["top"])
    for L in d["layers"]:
        n = len(L["units"])
        w = L["shape"][2] if len(L["shape"]) == 3 else 1
        values = torch.full((n, top), float("-inf"))
        images = torch.full((n, top), -1, dtype=torch.long)
        pos = torch.zeros((n, top), dtype=torch.long)
        for u in L["units"]:
            for j, h in enumerate(u["top"][:top]):
                values[u["unit"], j] = float(h["value"])
                images[u["unit"], j] = int(h["image"])
                pos[u["unit"], j] = int(h["y"]) * w + int(h["x"])
        start = tuple(L["start"]) if L.get("start") is not None else None
        f = Field(tuple(L["rf"]), tuple(L["jump"]), start)
        layers[L["name"]] = LayerTop(L["name"], tuple(L["shape"]), f, values, images, pos)
    return UnitsResult(layers, top, int(d["images"]), tuple(d["input_size"]), list(d.get("skipped", [])))


def _write_json(d: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(d, indent=1))
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------- the page
def _html(d: dict[str, Any]) -> str:
    e = html.escape
    data = d["data"]
    head = (
        f"<h1>What the units of {e(d['model'])} respond to</h1>"
        f"<p>Weights: <code>{e(str(d.get('weights')))}</code>. Data: {e(data['description'])} "
        f"({d['images']:,} images read{', ' + str(len(d['skipped'])) + ' skipped' if d['skipped'] else ''}). "
        f"Per unit, the {d['top']} images whose strongest activation (the maximum over the unit's map) is "
        "highest, each cropped to the receptive field of that position (grey: outside the image), as in "
        "Zeiler &amp; Fergus 2014, Fig. 2.</p>"
    )
    parts = [head]
    for L in d["layers"]:
        rf = "x".join(map(str, L["rf"]))
        jump = "x".join(map(str, L["jump"]))
        shape = "x".join(map(str, L["shape"]))
        parts.append(
            f'<section><h2 id="{e(_safe(L["name"]))}">{e(L["name"])}</h2>'
            f"<p>output {shape}; receptive field {rf}, jump {jump}; "
            f'<a href="{e(L["png"] or "")}">whole-layer figure</a></p><div class="units">'
        )
        for u in L["units"]:
            if not u.get("drawn"):
                continue
            tip = "\n".join(
                f"#{h['rank']}: image {h['image']}"
                + (f" ({h['label_name']})" if h.get("label_name") else "")
                + (f" {Path(h['file']).name}" if h.get("file") else "")
                + f" at ({h['y']}, {h['x']}) = {h['value']:.4g}"
                for h in u["top"]
            )
            top = u["top"][0]["value"] if u["top"] else float("nan")
            proj = (
                f'<img src="{e(u["projection_tile"])}" alt="projections of unit {u["unit"]}">'
                if u.get("projection_tile")
                else ""
            )
            parts.append(
                f'<figure title="{e(tip)}">{proj}<img src="{e(u["tile"])}" alt="unit {u["unit"]}">'
                f"<figcaption>unit {u['unit']} &middot; max {top:.3g}</figcaption></figure>"
            )
        parts.append("</div></section>")
    style = (
        "body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1200px;background:#fafafa}"
        ".units{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;background:#fff;padding:4px;"
        "border:1px solid #ddd}figure img{image-rendering:pixelated;display:inline-block;margin:1px}"
        "figcaption{font-size:12px;color:#444}"
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>units of '
        f"{e(d['model'])}</title><style>{style}</style></head><body>{''.join(parts)}"
        "<p>Hover a unit for its images, positions and values; <code>index.json</code> holds every unit's "
        "list.</p></body></html>\n"
    )


# ------------------------------------------------------------------------------------------ the whole verb
@dataclass
class UnitsReport:
    """What :func:`units_files` wrote: the folder, the index, the per-layer PNGs, the page, and whether the
    pass     over the data ran (``False``: the index in the folder was reused)."""

    out: Path
    index: Path
    pngs: list[Path]
    html: Path
    result: UnitsResult
    computed: bool


def _fingerprint(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _weights_id(ref: str) -> str:
    p = Path(ref)
    if p.is_file():
        st = p.stat()
        return f"{p.resolve()}:{st.st_size}:{int(st.st_mtime)}"
    return ref


def _file_list(source: Any) -> list[str]:
    inner = getattr(source, "source", source)
    return [str(p) for p in getattr(inner, "paths", [])]


def _source_for(model: nn.Module, data: str | None, split: str, images: Sequence[str] | None) -> ImageSource:
    """What a units pass reads: ``images`` through the model record's view, or ``data``'s ``split``
    normalised with the record's mean/std where its weights were trained on something (else the split's
    own, for random weights)."""
    rec: ModelRecord = model.cnnzoo_record  # type: ignore[assignment]
    size = rec.input_size
    c, h, w = (int(v) for v in size)
    if images:
        from ..classify import image_files

        files = image_files(list(images))
        if not files:
            raise DataError(
                "no image files found in the given paths; give image files or folders holding them."
            )
        mean, std = rec.mean, rec.std
        resize, crop, interp = rec.resize, rec.crop, rec.interpolation
        view = f"resize {resize}, crop {crop or h}" if resize else f"resized to {h}x{w}"
        return FileSource(
            files, (c, h, w), mean, std, resize, crop, interp, f"{len(files)} image files ({view}, {interp})"
        )
    from ..data.sources import RawSplits, build_data, load_source

    if split not in SPLITS:
        raise CnnzooError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}.")
    raw = load_source(str(data))
    # only the chosen split is adapted to the model (the other is never read): less memory, less time; a
    # model without a recorded mean/std (random weights) is normalised with that split's own
    part = raw.test if split == "test" else raw.train
    raw = RawSplits(raw.source, part, part, raw.classes, raw.natural, raw.skipped)
    trained = rec.dataset is not None
    bundle = build_data(raw, c, (h, w), mean=rec.mean if trained else None, std=rec.std if trained else None)
    n = len(bundle.test)  # type: ignore[arg-type]
    return DatasetSource(
        bundle.test, bundle.mean, bundle.std, bundle.classes, f"the {split} split of {data} ({n:,} images)"
    )


def units_files(
    ref: str,
    out: str | os.PathLike[str],
    data: str | None = None,
    images: Sequence[str] | None = None,
    split: str = "test",
    layers: Sequence[str] | None = None,
    top: int = 9,
    units: int | str | Sequence[int] = 16,
    pick: str = "random",
    seed: int = 0,
    projection: str = "none",
    batch_size: int = 64,
    limit: int | None = None,
    progress: bool = True,
    recompute: bool = False,
) -> UnitsReport:
    """The whole ``cnnzoo units`` verb: load ``ref`` (a checkpoint, a model name, ``NAME@WEIGHTS``), pass over
    ``data`` (a DATA string, its ``split``) or the image files ``images`` once, and write the folder ``out``
    (see the module docstring). ``layers`` default to the output of each layer group, as ``cnnzoo erf``."""
    from ..analysis.erf import default_erf_layers
    from ..factory import model_from_checkpoint
    from ..outputs import check_output_dir, writing

    if (data is None) == (not images):
        raise CnnzooError(
            "give either data (a DATA source such as fashion-mnist) or image files, not both or none."
        )
    if projection not in PROJECTIONS:
        raise CnnzooError(f"unknown projection {projection!r}; choose one of: {', '.join(PROJECTIONS)}.")
    if pick not in PICKS:
        raise CnnzooError(f"unknown pick {pick!r}; choose one of: {', '.join(PICKS)}.")
    if limit is not None and limit < 1:
        raise CnnzooError(f"limit must be at least 1, got {limit}.")
    units = parse_units(units)
    outp = check_output_dir(out, "units folder")
    model = model_from_checkpoint(ref)
    model.eval()
    layers = list(layers) if layers else default_erf_layers(model)
    for n in layers:  # a wrong name is one sentence before any data is read
        get_layer(model, n)
    source = _source_for(model, data, split, images)
    if limit is not None:
        source = FirstN(source, limit)
    header = {
        "model": model.cnnzoo_record.name,  # type: ignore[union-attr]
        "weights": ref,
        "data": {
            "spec": data,
            "split": split if data else None,
            "files": _file_list(source),
            "description": source.description,
            "count": len(source),
        },
    }
    fp = _fingerprint({"weights": _weights_id(ref), "data": header["data"], "layers": layers, "top": top})
    header["fingerprint"] = fp
    outp.mkdir(parents=True, exist_ok=True)
    index_path = outp / INDEX_NAME
    result = None
    if index_path.is_file() and not recompute:
        try:
            old = read_index(index_path)
        except CnnzooError:
            old = None
        if old is not None and old.get("fingerprint") == fp:
            result = result_from_index(old)
    computed = result is None
    if result is None:
        result = top_activations(
            model,
            source,
            layers,
            top=top,
            batch_size=batch_size,
            progress=progress,
            resume=outp / STATE_NAME,
            fingerprint=fp,
        )
    images_ = _Images(source)
    hw = (int(result.input_size[1]), int(result.input_size[2]))
    drawn: dict[str, list[int]] = {}
    files: dict[str, dict[str, Any]] = {}
    pngs = []
    with writing(outp, "units folder"):
        for name, lt in result.layers.items():
            chosen = choose_units(lt, units, pick, seed)
            drawn[name] = chosen
            blocks = {}
            entry: dict[str, Any] = {}
            route = None
            for u in chosen:
                block, pblock, r = unit_blocks(lt, u, images_, hw, model, projection)
                route = route or r
                blocks[u] = (block, pblock)
                tile = f"tiles/{_safe(name)}/unit_{u:04d}.png"
                _save_png(block, outp / tile)
                entry[str(u)] = {"tile": tile}
                if pblock is not None:
                    ptile = f"tiles/{_safe(name)}/unit_{u:04d}_{projection}.png"
                    _save_png(pblock, outp / ptile)
                    entry[str(u)]["projection_tile"] = ptile
                    entry[str(u)]["projection"] = r
            rf = "x".join(map(str, lt.field.rf))
            title = (
                f"{header['model']} {name} ({'x'.join(map(str, lt.shape))}; RF {rf}): top {result.top} of "
                f"{result.images:,} images, {len(chosen)} of {lt.units} units"
                + (f"; left: {route}" if route else "")
            )
            png = outp / f"{_safe(name)}.png"
            _layer_figure(lt, chosen, blocks, title, png)
            pngs.append(png)
            entry["png"] = png.name
            files[name] = entry
        d = index_record(result, source, header, drawn, files)
        _write_json(d, index_path)
        page = outp / "index.html"
        tmp = page.with_name(page.name + ".tmp")
        tmp.write_text(_html(d))
        os.replace(tmp, page)
    return UnitsReport(outp, index_path, pngs, page, result, computed)
