"""The model registry: ``@register_model``, :func:`create_model`, :func:`list_models`, :func:`model_info`.

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
import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import CnnzooError, UnknownModelError

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelInfo:
    """Metadata of a registered model: where it comes from and what its paper reports.

    ``paper_params`` / ``paper_macs`` are the reference figures (exact counts where the reference file gives
    them, else the paper's rounded figure, with ``figures_note`` saying which); ``paper_top1``/``paper_top5``
    are the paper's reported *error* rates in percent with ``error_protocol`` describing how they were
    measured. ``deviations`` lists every way the implementation differs from the paper.
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

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        d["deviations"] = list(self.deviations)
        return d


@dataclass
class _Entry:
    factory: Callable[..., nn.Module]
    info: ModelInfo
    defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, _Entry] = {}
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
            **info,
        )
        _REGISTRY[model_name] = _Entry(fn, mi, dict(defaults or {}))
        return fn

    return decorator


def _ensure_loaded() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import models  # noqa: F401  (importing registers every model family)


def _entry(name: str) -> _Entry:
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
    return _entry(name).info


def create_model(
    name: str,
    num_classes: int | None = None,
    in_chans: int | None = None,
    weights: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: a registered name (see :func:`list_models`).
        num_classes: size of the classifier (default: the paper's, usually 1000).
        in_chans: input channels (default: the paper's).
        weights: optional checkpoint to load: a cnnzoo checkpoint, a plain state-dict file, or
            ``torchvision:FILE`` / ``timm:FILE`` for a file saved from those libraries. Loading never
            executes code from the file.
        **kwargs: architecture options of this model family; an unknown keyword is an error.
    """
    entry = _entry(name)
    call_kwargs = dict(entry.defaults)
    if num_classes is not None:
        call_kwargs["num_classes"] = num_classes
    if in_chans is not None:
        call_kwargs["in_chans"] = in_chans
    sig = inspect.signature(entry.factory)
    accepts_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    allowed = {p for p in sig.parameters if p not in entry.defaults}
    for key in kwargs:
        if key not in allowed and not accepts_var_kw:
            opts = ", ".join(sorted(k for k in allowed if k not in ("num_classes", "in_chans"))) or "none"
            raise CnnzooError(f"model {name!r} has no option {key!r}; its options are: {opts}.")
    call_kwargs.update(kwargs)
    for key in ("num_classes", "in_chans"):
        if key in call_kwargs and key not in sig.parameters and not accepts_var_kw:
            raise CnnzooError(f"model {name!r} does not support changing {key}.")
        v = call_kwargs.get(key)
        if v is not None and (not isinstance(v, int) or v < 1):
            raise CnnzooError(f"{key} must be a positive integer, got {v!r}.")
    try:
        model = entry.factory(**call_kwargs)
    except TypeError as e:  # an option of the wrong kind inside the factory
        raise CnnzooError(f"cannot build {name!r} with {kwargs}: {e}.") from None
    model.cnnzoo_name = name  # type: ignore[attr-defined]
    model.cnnzoo_kwargs = {k: v for k, v in call_kwargs.items() if k not in entry.defaults}  # type: ignore[attr-defined]
    if weights:
        from .weights import load_weights

        load_weights(model, weights)
    return model
