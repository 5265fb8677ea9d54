"""Top-9 patches on the Anatomy page: the units indexes that ``cnnzoo units --out DIR`` writes, served to the
page's units panel (``static/units.js``). ``cnnzoo serve --units DIR`` loads them.

JSON API (errors as the rest of the API: ``{"error": "one sentence"}``, 400 or 404):

- ``GET /api/units``: the loaded indexes -- model, weights, data, images read, ``top``, and per layer its
  shape, receptive field, jump, number of units and the units drawn (those with a picture).
- ``GET /api/units/unit?index=I&layer=NAME&unit=U``: one unit: its kept activations (rank, image, file,
  label, position, value, crop box) and the addresses of its pictures (``null`` where the unit was not drawn).
- ``GET /api/units/tile?index=I&layer=NAME&unit=U&kind=patches|projection``: that picture (PNG). Only files
  the index itself names, inside its folder, are ever sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..errors import CnnzooError

TILE_KINDS = ("patches", "projection")


class UnitsNotFound(CnnzooError):
    """A units index, layer or unit that is not loaded (answered with 404)."""


@dataclass
class UnitsIndex:
    """One loaded units index: its folder and its JSON (:func:`cnnzoo.explain.unit_report.read_index`)."""

    folder: Path
    data: dict[str, Any]
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layers = {str(L["name"]): L for L in self.data["layers"]}


def load_units_index(path: str | os.PathLike[str]) -> UnitsIndex:
    """Read the units index in ``path`` (a folder written by ``cnnzoo units``, or its ``index.json``)."""
    from ..explain.unit_report import INDEX_NAME, read_index

    p = Path(path)
    folder = p if p.is_dir() else p.parent
    if p.is_dir() and not (p / INDEX_NAME).is_file():
        raise CnnzooError(f"{str(p)!r} holds no {INDEX_NAME}; make one with `cnnzoo units ... --out {p}`.")
    return UnitsIndex(folder.resolve(), read_index(p))


def units_summary(indexes: Sequence[UnitsIndex]) -> dict[str, Any]:
    """``GET /api/units``: what each loaded index holds, without the per-unit lists."""
    out = []
    for i, idx in enumerate(indexes):
        d = idx.data
        out.append(
            {
                "index": i,
                "model": d.get("model"),
                "weights": d.get("weights"),
                "data": d.get("data", {}).get("description"),
                "images": d.get("images"),
                "top": d.get("top"),
                "statistic": d.get("statistic"),
                "layers": [
                    {
                        "name": L["name"],
                        "shape": L["shape"],
                        "rf": L["rf"],
                        "jump": L["jump"],
                        "units": len(L["units"]),
                        "drawn": L.get("drawn", []),
                    }
                    for L in d["layers"]
                ],
            }
        )
    return {"indexes": out}


def _unit(
    indexes: Sequence[UnitsIndex], index: int, layer: str, unit: int
) -> tuple[UnitsIndex, dict[str, Any]]:
    if not 0 <= index < len(indexes):
        if not indexes:
            raise UnitsNotFound("no units index is loaded; start the server with `cnnzoo serve --units DIR`.")
        raise UnitsNotFound(
            f"there is no units index {index}; the server holds {len(indexes)} (0 to {len(indexes) - 1})."
        )
    idx = indexes[index]
    L = idx.layers.get(layer)
    if L is None:
        raise UnitsNotFound(
            f"the units index of {idx.data.get('model')} has no layer {layer!r}; it has "
            f"{', '.join(idx.layers)}."
        )
    if not 0 <= unit < len(L["units"]):
        raise UnitsNotFound(
            f"layer {layer!r} has {len(L['units'])} units (0 to {len(L['units']) - 1}), not {unit}."
        )
    return idx, L["units"][unit]


def unit_record(indexes: Sequence[UnitsIndex], index: int, layer: str, unit: int) -> dict[str, Any]:
    """``GET /api/units/unit``: one unit's kept activations and the addresses of its pictures."""
    idx, u = _unit(indexes, index, layer, unit)
    L = idx.layers[layer]

    def url(kind: str) -> str:
        return "/api/units/tile?" + urlencode({"index": index, "layer": layer, "unit": unit, "kind": kind})

    return {
        "index": index,
        "model": idx.data.get("model"),
        "layer": layer,
        "shape": L["shape"],
        "rf": L["rf"],
        "jump": L["jump"],
        "unit": unit,
        "drawn": bool(u.get("drawn")),
        "top": u["top"],
        "tile": url("patches") if u.get("tile") else None,
        "projection_tile": url("projection") if u.get("projection_tile") else None,
        "projection": u.get("projection"),
    }


def tile_path(
    indexes: Sequence[UnitsIndex], index: int, layer: str, unit: int, kind: str = "patches"
) -> Path:
    """The picture of a unit, as the index names it, checked to lie inside the index's folder."""
    if kind not in TILE_KINDS:
        raise CnnzooError(f"kind must be one of {', '.join(TILE_KINDS)}, got {kind!r}.")
    idx, u = _unit(indexes, index, layer, unit)
    rel = u.get("tile" if kind == "patches" else "projection_tile")
    if not rel:
        raise UnitsNotFound(
            f"unit {unit} of {layer!r} has no {kind} picture; draw it with `cnnzoo units ... --units {unit}`"
            + (" --projection deconvnet" if kind == "projection" else "")
            + f" --out {idx.folder}."
        )
    p = (idx.folder / str(rel)).resolve()
    if not p.is_relative_to(idx.folder) or not p.is_file():
        raise UnitsNotFound(
            f"the picture {rel!r} of unit {unit} is missing from {str(idx.folder)!r}; draw it again."
        )
    return p


def add_units_routes(app: Any, indexes: Callable[[], Sequence[UnitsIndex]]) -> None:
    """Add the three routes above to the FastAPI ``app``; ``indexes`` returns the loaded indexes."""
    from fastapi.responses import FileResponse, JSONResponse

    @app.get("/api/units")
    def units_list() -> dict[str, Any]:
        """The loaded units indexes (``cnnzoo serve --units DIR``)."""
        return units_summary(indexes())

    @app.get("/api/units/unit")
    def units_unit(layer: str, unit: int, index: int = 0) -> Any:
        """One unit's top activations (image, position, value, crop box) and its pictures' addresses."""
        try:
            return unit_record(indexes(), index, layer, unit)
        except UnitsNotFound as e:
            return JSONResponse({"error": str(e)}, status_code=404)

    @app.get("/api/units/tile")
    def units_tile(layer: str, unit: int, index: int = 0, kind: str = "patches") -> Any:
        """A unit's top-k patches (or their projections) as one PNG."""
        try:
            return FileResponse(tile_path(indexes(), index, layer, unit, kind), media_type="image/png")
        except UnitsNotFound as e:
            return JSONResponse({"error": str(e)}, status_code=404)
