"""The model registry, a pure table: ``@register_model``, :func:`list_models`, :func:`model_info`.

It builds nothing and loads nothing (torchvision's ``models/_api.py`` and timm's ``_registry.py`` keep the
same split): :mod:`cnnzoo.factory` builds a model from its entry and loads weights into it. The one import it
makes upward is deliberate and lazy: the first question asked of the table imports :mod:`cnnzoo.models`,
whose modules fill it.

A model is registered as a factory function that returns a plain :class:`torch.nn.Module`::

    @register_model(family="vgg", paper=VGG_PAPER, year=2014, input_size=(3, 224, 224),
                    paper_params=138_357_544, paper_macs=15.47e9, deviations=())
    def vgg16(num_classes: int = 1000, in_chans: int = 3, **kw) -> nn.Module: ...

Figures in :class:`ModelInfo` are what the *paper* (or the reference file ``paper_numbers.md``) says; they
are for comparison only. Our own counts are always computed from the built model (``profile``).
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import UnknownModelError
from .weights.table import default_entry, entries

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelInfo:
    """Metadata of a registered model: where it comes from and what its paper reports.

    ``paper_params`` / ``paper_macs`` are the reference figures (exact counts where the reference file gives
    them, else the paper's rounded figure, with ``figures_note`` saying which); ``paper_top1``/``paper_top5``
    are the paper's reported *error* rates in percent with ``error_protocol`` describing how they were
    measured. ``deviations`` lists every way the implementation differs from the paper. ``pretrained``
    lists the published checkpoints that fit (``(weights, acc@1, acc@5)``, the default first; see
    :mod:`cnnzoo.weights.table`), for ``create_model(name, pretrained=True | weights=...)``.
    """

    name: str
    family: str
    paper: str
    year: int
    input_size: tuple[int, int, int]
    num_classes: int = 1000
    paper_params: int | None = None
    paper_macs: float | None = None
    figures_note: str = ""
    paper_top1: float | None = None
    paper_top5: float | None = None
    error_protocol: str = ""
    deviations: tuple[str, ...] = ()
    peer: str | None = None
    description: str = ""
    recipe: str | None = None  # the paper's training recipe (cnnzoo.train.recipes.RECIPES) for `cnnzoo train`
    pretrained: tuple[tuple[str, float | None, float | None], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        d["deviations"] = list(self.deviations)
        d["pretrained"] = [{"weights": k, "acc1": a1, "acc5": a5} for k, a1, a5 in self.pretrained]
        return d


@dataclass
class Entry:
    """One row of the table: the factory, its metadata, and the keyword arguments bound for this name."""

    factory: Callable[..., nn.Module]
    info: ModelInfo
    defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, Entry] = {}
_LOADED = False


def register_model(
    name: str | None = None,
    *,
    family: str,
    paper: str,
    year: int,
    input_size: tuple[int, int, int] = (3, 224, 224),
    defaults: dict[str, Any] | None = None,
    **info: Any,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model factory under ``name`` (default: the function's name).

    ``defaults`` are keyword arguments bound into the factory for this name, so one factory can serve
    several registered variants (``register_model("vgg16_bn", defaults={"batch_norm": True}, ...)``).
    The remaining keywords fill :class:`ModelInfo`. The decorator may be stacked to register aliases.
    """

    def decorator(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        model_name = name or fn.__name__
        if model_name in _REGISTRY:
            raise RuntimeError(f"model {model_name!r} is registered twice")
        num_classes = (defaults or {}).get("num_classes", info.pop("num_classes", 1000))
        mi = ModelInfo(
            name=model_name,
            family=family,
            paper=paper,
            year=year,
            input_size=tuple(input_size),
            num_classes=num_classes,
            description=info.pop("description", (inspect.getdoc(fn) or "").split("\n\n")[0]),
            deviations=tuple(info.pop("deviations", ())),
            pretrained=_pretrained(model_name),
            **info,
        )
        _REGISTRY[model_name] = Entry(fn, mi, dict(defaults or {}))
        return fn

    return decorator


def _pretrained(name: str) -> tuple[tuple[str, float | None, float | None], ...]:
    """The published checkpoints of ``name`` from the weights table (data, no loader): ``(weights,
    acc@1, acc@5)``, the default first."""
    best = default_entry(name)
    found = sorted(entries(name), key=lambda e: e is not best)
    return tuple((e.key, e.acc1, e.acc5) for e in found)


def _ensure_loaded() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        importlib.import_module(f"{__package__}.models")  # importing registers every model family


def entry(name: str) -> Entry:
    """The table row of ``name``; an unknown name is one error with the closest names."""
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name.lower(), list(_REGISTRY), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Run `cnnzoo list` to see all {len(_REGISTRY)} models."
        ) from None


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Sorted names of registered models matching the fnmatch ``pattern`` (and ``family`` if given)."""
    _ensure_loaded()
    names = [n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern)]
    if family is not None:
        names = [n for n in names if _REGISTRY[n].info.family == family]
    return sorted(names)


def is_model(name: str) -> bool:
    """True when ``name`` is a registered model."""
    _ensure_loaded()
    return name in _REGISTRY


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered model."""
    return entry(name).info
