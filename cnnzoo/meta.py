"""Building models on the ``meta`` device (shapes only, no memory) without importing ``torch._dynamo``.

A summary, a profile or a page that draws a network needs its shapes, not its weights, so cnnzoo builds
and runs such models under ``torch.device("meta")``. But many ops have no C++ meta kernel and run torch's
Python reference implementations there (``normal_``, ``clamp_``, ``erfinv_``, every weight initialiser built
on them, ``batch_norm``...), and those are wrapped in ``torch._disable_dynamo``, whose first call imports
``torch._dynamo`` with ``torch._inductor``: about a second and 100 MB for a figure that needs neither.

:func:`meta_device` avoids both costs:

- filling a meta tensor with values does nothing, so the initialisers' fills of meta tensors are skipped
  (the tensor is returned unchanged; every other op, and every op on a real device, runs as usual);
- while ``torch._dynamo`` has not been imported, no compilation can be under way, so the wrapper has
  nothing to disable: for the duration of the block, torch's reference implementations are told that they
  are already disabled (the attribute the wrapper caches its disabled function in is set to the function
  itself) and run directly. The attributes are removed on leaving the block.

- torch 2.14's Python meta kernels (a pooling's memory-format test, an elementwise op's dtype promotion, a
  convolution's shape check) import a few helpers from ``torch.fx.experimental.symbolic_shapes``, and that
  module imports sympy: about 0.5-1 s on a 2-core EPYC for a figure with no symbolic size in it. While that
  module has not been imported, the block puts a stand-in under its name that answers those helpers for
  plain ints and bools exactly as torch's functions do (they return the value, or combine with ``and``/
  ``or``/``==``) and hands anything symbolic, and any other name, to torch's module, which it then imports;
  and one under ``sympy`` whose ``Basic`` nothing is an instance of (dtype promotion's only question). The
  names are freed on leaving the block, so a later import gets the real modules.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import operator
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode, _get_current_function_mode_stack, _pop_mode_temporarily

#: The weight initialisers: no-ops on a meta tensor (they only set values).
INITIALISERS = frozenset(
    getattr(torch.nn.init, name)
    for name in (
        "uniform_",
        "normal_",
        "trunc_normal_",
        "constant_",
        "ones_",
        "zeros_",
        "eye_",
        "dirac_",
        "xavier_uniform_",
        "xavier_normal_",
        "kaiming_uniform_",
        "kaiming_normal_",
        "orthogonal_",
        "sparse_",
    )
    if hasattr(torch.nn.init, name)
)

#: In-place fills that only set values (no shape, no dtype change): no-ops on a meta tensor.
VALUE_FILLS = frozenset(
    getattr(torch.Tensor, name)
    for name in (
        "normal_",
        "uniform_",
        "erfinv_",
        "clamp_",
        "clamp_min_",
        "clamp_max_",
        "bernoulli_",
        "exponential_",
        "log_normal_",
        "cauchy_",
        "geometric_",
        "random_",
        "fill_",
        "zero_",
    )
)


def _batch_norm_fits(x: torch.Tensor, *params: Any) -> bool:
    """Whether ``torch.batch_norm``'s per-channel tensors all have ``x``'s channel count (its own check)."""
    return x.dim() >= 2 and all(p is None or p.shape == (x.shape[1],) for p in params)


class _SkipMetaFills(TorchFunctionMode):
    """Return a meta tensor unchanged from the value fills of :data:`VALUE_FILLS`; answer the two ops that
    keep their input's layout and that torch runs on meta through its Python decompositions (batch norm,
    ReLU: half of NASNet-A Large's meta forward) with a new meta tensor of the input's sizes and strides."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        return call_meta_op(func, args, kwargs or {})


def call_meta_op(func: Any, args: tuple, kwargs: dict) -> Any:
    """``func(*args, **kwargs)`` under :class:`_SkipMetaFills`'s rules (its ``__torch_function__``, as a
    function that a mode of its own can call: see :func:`meta_rules_in_caller`)."""
    if func in VALUE_FILLS or func in INITIALISERS:
        # torch.nn.init hands its tensor to the modes by keyword (``tensor=``), Tensor methods by position
        target = args[0] if args else kwargs.get("tensor", kwargs.get("self"))
        if _is_meta(target):
            return target
    elif func in _LAYOUT_KEEPING and args and _dense_meta(args[0]):
        x = args[0]
        if func is F.relu and set(kwargs) <= {"inplace"}:
            inplace = args[1] if len(args) > 1 else kwargs.get("inplace", False)
            return x if inplace else _like(x)
        # F.batch_norm(input, running_mean, running_var, weight, bias, training, ...) in eval mode (the
        # torch-function protocol hands weight.. by keyword): torch's channel-count check kept, the
        # batch-size check of training mode left to torch
        if func is F.batch_norm and len(args) <= 6:
            bound = dict(zip(_BN_ARGS, args), **kwargs)
            stats = [bound.get(k) for k in _BN_ARGS[1:5]]
            if bound.get("training", False) is False and _batch_norm_fits(x, *stats):
                return _like(x)
    return func(*args, **kwargs)


def plain_call(func: Any, args: tuple, kwargs: dict) -> Any:
    return func(*args, **kwargs)


@contextmanager
def meta_rules_in_caller() -> Iterator[Callable[[Any, tuple, dict], Any]]:
    """For a torch-function mode that calls every op itself (the profiler's tracer): where the innermost
    mode is :func:`meta_ops`'s :class:`_SkipMetaFills`, it is taken off the stack for the block and its rules
    are given as a function to call the ops with (:func:`call_meta_op`), so each op passes through one
    Python mode instead of two; elsewhere the function calls the op as it is."""
    stack = _get_current_function_mode_stack()
    if stack and isinstance(stack[-1], _SkipMetaFills):
        with _pop_mode_temporarily():
            yield call_meta_op
    else:
        yield plain_call


_LAYOUT_KEEPING = frozenset((F.relu, F.batch_norm))
_BN_ARGS = ("input", "running_mean", "running_var", "weight", "bias", "training")


def _like(x: torch.Tensor) -> torch.Tensor:
    """A new meta tensor of ``x``'s sizes, strides and dtype (``empty_like`` would run torch's Python ref)."""
    return torch.empty_strided(x.size(), x.stride(), dtype=x.dtype, device="meta")


def _dense_meta(x: Any) -> bool:
    """A floating meta tensor laid out densely (contiguous, or channels-last in 4-D)."""
    return (
        _is_meta(x)
        and x.is_floating_point()
        and (x.is_contiguous() or (x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)))
    )


def _is_meta(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and x.is_meta


_REFERENCE_MODULES = ("torch._refs", "torch._decomp", "torch._prims", "torch._meta_registrations")
_wrapped_cache: list[Callable[..., Any]] | None = None


def _dynamo_disabled_functions() -> list[Callable[..., Any]]:
    """The functions of torch's reference and decomposition modules that ``torch._disable_dynamo`` wraps
    (found once, by following ``__wrapped__`` and closures from each module attribute and table entry: the
    wrappers share one code object, and hold the function they disable in their closure)."""
    global _wrapped_cache
    if _wrapped_cache is None:
        marker = torch._disable_dynamo(lambda: None).__code__
        slot = marker.co_freevars.index("fn")  # the function a wrapper disables, as its closure holds it
        found: dict[int, Callable[..., Any]] = {}
        seen: set[int] = set()
        for name, mod in list(sys.modules.items()):
            if mod is None or not name.startswith(_REFERENCE_MODULES):
                continue
            for value in list(vars(mod).values()):
                # functions, and the tables of them (decompositions: op -> function, by dispatch key)
                todo = [value]
                if isinstance(value, dict):
                    todo = list(value.values())
                    todo += [v for d in todo if isinstance(d, dict) for v in d.values()]
                while todo:
                    f = todo.pop()
                    if not callable(f) or id(f) in seen:
                        continue
                    seen.add(id(f))
                    if getattr(f, "__code__", None) is marker:
                        inner = f.__closure__[slot].cell_contents
                        found[id(inner)] = inner
                    todo.append(getattr(f, "__wrapped__", None))
                    # decorators that re-wrap with ``@wraps(original)`` hide the layers between: their
                    # closures hold them
                    for cell in getattr(f, "__closure__", None) or ():
                        with contextlib.suppress(ValueError):  # an empty cell
                            todo.append(cell.cell_contents)
        _wrapped_cache = list(found.values())
    return _wrapped_cache


@contextmanager
def _references_run_directly() -> Iterator[None]:
    """While ``torch._dynamo`` is not imported: torch's ``_disable_dynamo``-wrapped reference functions run
    directly inside the block (module docstring)."""
    if "torch._dynamo" in sys.modules:
        yield
        return
    marked = []
    for fn in _dynamo_disabled_functions():
        if getattr(fn, "__dynamo_disable", None) is None:
            try:
                fn.__dynamo_disable = fn  # type: ignore[attr-defined]
            except (AttributeError, TypeError):  # pragma: no cover - a builtin
                continue
            marked.append(fn)
    try:
        yield
    finally:
        for fn in marked:
            if getattr(fn, "__dynamo_disable", None) is fn:
                del fn.__dynamo_disable  # type: ignore[attr-defined]


# -- shape checks on concrete sizes without sympy ---------------------------------------------------------
_SYMBOLIC = "torch.fx.experimental.symbolic_shapes"


def _real(name: str) -> ModuleType:
    """The module ``name`` itself (imported now if only a stand-in was there)."""
    mod = sys.modules.get(name)
    if mod is None or getattr(mod, "_cnnzoo_stand_in", False):
        sys.modules.pop(name, None)
        mod = importlib.import_module(name)
    return mod


def _delegate(name: str, types: tuple[type, ...] = (bool,)) -> Callable[..., Any]:
    """A stand-in for ``symbolic_shapes.<name>``: a value of exactly one of ``types`` is returned as it is,
    as torch's function returns it; anything else (symbolic, or an error) goes to torch's function."""

    def fn(a: Any, *args: Any, **kwargs: Any) -> Any:
        if type(a) in types and not args and not kwargs:
            return a
        return getattr(_real(_SYMBOLIC), name)(a, *args, **kwargs)

    fn.__name__ = name
    return fn


def _sym_and(x: Any, *others: Any) -> Any:
    for y in others:
        x = operator.and_(x, y)
    return x


def _sym_or(x: Any, *others: Any) -> Any:
    for y in others:
        x = operator.or_(x, y)
    return x


def _sym_eq(x: Any, y: Any) -> Any:
    if isinstance(x, (tuple, list)) and isinstance(y, (tuple, list)):
        if len(x) != len(y):
            return False
        return functools.reduce(operator.and_, map(_sym_eq, x, y), True)
    if type(x) in (int, bool) and type(y) in (int, bool):
        return x == y
    return _real(_SYMBOLIC).sym_eq(x, y)


def _is_nested_int(s: Any) -> bool:
    return isinstance(s, torch.SymInt) and _real(_SYMBOLIC).is_nested_int(s)


def _has_guarding_hint(a: Any) -> bool:
    if isinstance(a, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        return _real(_SYMBOLIC).has_guarding_hint(a)
    return True


class _StandIn(ModuleType):
    """A module's name answered, for the few names set on it, without importing the module; any other name
    imports the module itself and defers to it."""

    _cnnzoo_stand_in = True
    # ``from M import x`` asks ``hasattr(M, "__path__")`` first; answered here, not by raising in
    # ``__getattr__`` (the meta kernels of one NASNet forward ask 54,000 times). With a ``__path__`` the
    # import system then asks ``hasattr(M, x)``, which a name set here or ``__getattr__`` answers.
    __path__: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system's questions (``__path__``...): a plain module's answer
            raise AttributeError(name)
        return getattr(_real(self.__name__), name)


class _NoSympyObject:
    """``sympy.Basic`` while sympy is not imported: no object is a sympy expression."""


def _stand_ins() -> dict[str, ModuleType]:
    """What torch's meta kernels and reference ops import on the shapes of a meta forward (counted on
    alexnet, resnet50, inception_v3 and nasnet_a_large): helpers of ``symbolic_shapes``, answered for plain
    ints and bools as torch's own functions answer them, and ``sympy.Basic``, which dtype promotion only
    tests its arguments against."""
    shapes = _StandIn(_SYMBOLIC)
    for name in ("guard_or_false", "guard_or_true", "guard_size_oblivious", "statically_known_true"):
        setattr(shapes, name, _delegate(name))
    shapes.expect_true = _delegate("expect_true")
    shapes.guarding_hint_or_throw = _delegate("guarding_hint_or_throw", (bool, int))
    shapes.sym_and, shapes.sym_or, shapes.sym_eq = _sym_and, _sym_or, _sym_eq
    shapes.is_nested_int, shapes.has_guarding_hint = _is_nested_int, _has_guarding_hint
    sympy = _StandIn("sympy")
    sympy.Basic = _NoSympyObject
    return {_SYMBOLIC: shapes, "sympy": sympy}


@contextmanager
def _shape_checks_without_sympy() -> Iterator[None]:
    """While neither torch's ``symbolic_shapes`` nor sympy is imported: inside the block their names resolve
    to stand-ins (:func:`_stand_ins`), so a meta forward's checks on concrete sizes import neither."""
    if _SYMBOLIC in sys.modules or "sympy" in sys.modules:
        yield
        return
    importlib.import_module("torch.fx.experimental")  # the (empty) package the name lives in
    installed = _stand_ins()
    sys.modules.update(installed)
    try:
        yield
    finally:
        for name, mod in installed.items():
            if sys.modules.get(name) is mod:
                del sys.modules[name]


@contextmanager
def meta_ops() -> Iterator[None]:
    """Run ops on meta tensors without importing ``torch._dynamo`` (module docstring), on whatever device
    the block's new tensors go to: what :func:`cnnzoo.profile` wraps its meta-device forward passes in.
    Re-entrant: inside a block that already runs it (``meta_device()`` around ``profile``: its mode is on the
    torch-function stack) it adds nothing, so each op passes through one :class:`_SkipMetaFills`, not one
    per level (every level is a Python call per op: building and running NASNet-A Large for its summary
    makes 26,969)."""
    if any(isinstance(m, _SkipMetaFills) for m in _get_current_function_mode_stack()):
        yield  # its other two settings are in place for as long as its mode is
        return
    with _SkipMetaFills(), _references_run_directly(), _shape_checks_without_sympy():
        yield


@contextmanager
def meta_device() -> Iterator[None]:
    """``with meta_device(): model = create_model(name); model(x)``: tensors created inside are on ``meta``
    (as under ``torch.device("meta")``), the initialisers' fills of meta tensors are skipped, and torch's
    Python meta implementations run without importing ``torch._dynamo`` (module docstring)."""
    with torch.device("meta"), meta_ops():
        yield
