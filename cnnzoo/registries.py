"""Registries of the open sets of named things beside the models: data sources, explanation methods, transfer
strategies, benchmark backends and ONNX runtimes. Each is a decorator and a dict, as torchvision's
``models/_api.register_model`` and fvcore's table of operator handles::

    from cnnzoo.registries import register_method

    @register_method("saliency", help="|dS_c/dx|, the gradient of the class score (Simonyan et al. 2014)")
    def saliency(model, x, target=None, reduce="max"): ...

The decorator goes on the thing itself, in its own module, and takes literal arguments: a name, a one-line
``help`` and whatever else the registry's users read (a data source's ``arg``, a strategy's ``warmup``).

The command line must list the names and their help without importing torch (``cnnzoo --help`` and every
``cnnzoo VERB --help`` start in a fraction of a second), while the modules that hold the decorators import
torch at the top. So each registry reads its decorators twice: from the *source* of its home package (a
text search for ``@register_...(`` at the start of a line and :func:`ast.literal_eval` of the call's
arguments: about a millisecond, no import), which is what :meth:`Registry.names` and :meth:`Registry.help`
answer from; and *live*, when :meth:`Registry.get` imports the module that declares a name and the decorator
runs. The two agree by construction and ``tests/test_registries.py`` checks it; an argument that is not a
literal is refused when the source is read, with the file and line. Entries registered at run time (a test,
a user's script) join the live table and every answer, including the command line's choices.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import CnnzooError, OptionError
from .options import SourceArg

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One registered name: its one-line ``help``, the ``module`` that declares it, the other literal
    arguments of its decorator (``meta``), and the registered object once that module has been imported."""

    name: str
    help: str
    module: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    obj: Any = None


class Registry:
    """A decorator and a dict for one open set of named things.

    Args:
        kind: what an entry is, for messages (``"method"``: "unknown method 'x'; choose one of: ...").
        home: the package (or module) whose source files declare the entries.
        decorator: the name under which those files call :meth:`register` (``"register_method"``).
        meta: the keywords a declaration may carry besides ``help``, with their allowed values (``None``:
            any literal).
    """

    def __init__(
        self,
        kind: str,
        home: str,
        decorator: str,
        meta: Mapping[str, tuple[Any, ...] | None] | None = None,
    ) -> None:
        self.kind, self.home, self.decorator = kind, home, decorator
        self.meta_keys = dict(meta or {})
        self._live: dict[str, Entry] = {}
        self._declared: dict[str, Entry] | None = None

    # ------------------------------------------------------------------------------------------ declaring
    def register(self, name: str, *, help: str, **meta: Any) -> Callable[[T], T]:  # noqa: A002
        """The decorator: register the decorated object under ``name``."""
        self._check(name, help, meta, where=f"@{self.decorator}({name!r})")

        def decorator(obj: T) -> T:
            module = getattr(obj, "__module__", "") or ""
            old = self._live.get(name)
            if old is not None and (old.module, getattr(old.obj, "__qualname__", None)) != (
                module,
                getattr(obj, "__qualname__", None),
            ):
                raise RuntimeError(f"{self.kind} {name!r} is registered twice ({old.module} and {module})")
            declared = self.declared().get(name)
            if declared is not None and declared.module != module:
                raise RuntimeError(f"{self.kind} {name!r} is already declared in {declared.module}")
            self._live[name] = Entry(name, help, module, dict(meta), obj)
            return obj

        return decorator

    def unregister(self, name: str) -> None:
        """Remove a name registered at run time (tests)."""
        self._live.pop(name, None)

    def _check(self, name: Any, help: Any, meta: Mapping[str, Any], where: str) -> None:  # noqa: A002
        if not isinstance(name, str) or not name or not isinstance(help, str) or not help:
            raise RuntimeError(f"{where}: a {self.kind} needs a name and a one-line help string")
        for key, value in meta.items():
            if key not in self.meta_keys:
                raise RuntimeError(
                    f"{where}: a {self.kind} takes no {key!r} (only: {', '.join(self.meta_keys)})"
                )
            allowed = self.meta_keys[key]
            if allowed is not None and value not in allowed:
                raise RuntimeError(f"{where}: {key}={value!r} is not one of {allowed}")

    # ------------------------------------------------------------------------------------------ reading
    def declared(self) -> dict[str, Entry]:
        """Every entry the home package's source declares, in file and line order, read without importing
        (cached)."""
        if self._declared is None:
            self._declared = {}
            for path, module in _source_files(self.home):
                for entry in self._read(path, module):
                    if entry.name in self._declared:
                        first = self._declared[entry.name].module
                        raise RuntimeError(f"{self.kind} {entry.name!r} is declared in {first} and {module}")
                    self._declared[entry.name] = entry
        return self._declared

    def _read(self, path: Path, module: str) -> Iterator[Entry]:
        marker = f"@{self.decorator}("
        data = _source_bytes(path)
        if marker.encode() not in data:
            return
        text = data.decode("utf-8")
        pos = text.find(marker)
        while pos != -1:
            if pos == 0 or text[pos - 1] == "\n":
                line = text.count("\n", 0, pos) + 1
                where = f"{path}:{line}"
                call = _call_at(text, pos + 1)
                try:
                    node = ast.parse(call, mode="eval").body
                    if not isinstance(node, ast.Call) or len(node.args) != 1:
                        raise ValueError("one positional argument, the name")
                    name = ast.literal_eval(node.args[0])
                    kw = {str(k.arg): ast.literal_eval(k.value) for k in node.keywords}
                    if any(k.arg is None for k in node.keywords):
                        raise ValueError("no **mapping")
                except (SyntaxError, ValueError):
                    raise RuntimeError(
                        f"{where}: @{self.decorator} takes a name and keywords that are literals (strings, "
                        "numbers, tuples), so the command line can read them without importing torch"
                    ) from None
                help_text = kw.pop("help", None)
                self._check(name, help_text, kw, where)
                yield Entry(name, help_text, module, kw)
            pos = text.find(marker, pos + 1)

    def entries(self) -> dict[str, Entry]:
        """Every entry: the declared ones (with their object where already imported), then the ones
        registered at run time elsewhere. Imports nothing."""
        out = {n: self._live.get(n, e) for n, e in self.declared().items()}
        out.update((n, e) for n, e in self._live.items() if n not in out)
        return out

    def names(self) -> tuple[str, ...]:
        """The registered names (imports nothing)."""
        return tuple(self.entries())

    def help(self, name: str) -> str:
        """The one-line help of ``name`` (imports nothing)."""
        return self.entry(name).help

    def entry(self, name: str, error: type[CnnzooError] = OptionError) -> Entry:
        """The entry of ``name`` as declared (imports nothing); an unknown name is one sentence with the
        registered names (the closest first), raised as ``error``."""
        found = self.entries().get(name)
        if found is None:
            names = self.names()
            close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.6)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise error(f"unknown {self.kind} {name!r}{hint}; choose one of: {', '.join(names)}.")
        return found

    def get(self, name: str, error: type[CnnzooError] = OptionError) -> Entry:
        """The entry of ``name`` with its object: imports the module that declares it on first use."""
        found = self.entry(name, error)
        if found.obj is None:
            importlib.import_module(found.module)
            found = self._live.get(name, found)
            if found.obj is None:  # pragma: no cover - the module's decorator did not run
                raise RuntimeError(f"{found.module} declares {self.kind} {name!r} but did not register it")
        return found

    def load(self) -> dict[str, Entry]:
        """Every entry with its object (imports every declaring module)."""
        return {n: self.get(n) for n in self.names()}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.entries()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.entries())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"


def _source_files(home: str) -> list[tuple[Path, str]]:
    """``(path, module name)`` of the source files of the package or module ``home`` (importing only its
    parents)."""
    spec = importlib.util.find_spec(home)
    if spec is None:  # pragma: no cover - a registry's home is part of cnnzoo
        raise RuntimeError(f"registry home {home!r} is not importable")
    if spec.submodule_search_locations:
        files = sorted(p for d in spec.submodule_search_locations for p in Path(d).glob("*.py"))
        return [(p, home if p.stem == "__init__" else f"{home}.{p.stem}") for p in files]
    return [(Path(str(spec.origin)), home)]


def accepted(fn: Callable[..., Any], offered: Mapping[str, Any]) -> dict[str, Any]:
    """The ``offered`` keywords that ``fn``'s signature names, without the ``None`` ones (``fn``'s own default
    applies): how :func:`cnnzoo.explain.explain` and :func:`cnnzoo.transfer.run_transfer` hand a registered
    function the options it takes."""
    import inspect

    params = inspect.signature(fn).parameters
    return {k: v for k, v in offered.items() if k in params and v is not None}


_SOURCES: dict[Path, bytes] = {}


def _source_bytes(path: Path) -> bytes:
    """The bytes of a source file, read once per process (two registries may share a package)."""
    if path not in _SOURCES:
        _SOURCES[path] = path.read_bytes()
    return _SOURCES[path]


_SYNTAX = re.compile(r"[\"'#()\[\]{}]")


def _call_at(text: str, start: int) -> str:
    """The text of the call that starts at ``start`` (``name(...)``), up to its closing parenthesis: brackets
    counted outside string literals and comments (a scanner, not :mod:`tokenize`, whose regular expressions
    cost more to compile than ``--help`` may take)."""
    depth, i = 0, start
    while (m := _SYNTAX.search(text, i)) is not None:
        i, c = m.start(), m.group()
        if c in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while True:
                j = text.find(quote, j)
                if j < 0:
                    raise RuntimeError(f"unterminated string in a decorator call at offset {start}")
                backslashes = len(text[i:j]) - len(text[i:j].rstrip("\\"))
                if backslashes % 2 == 0:
                    break
                j += 1
            i = j + len(quote)
            continue
        if c == "#":
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
        i += 1

    raise RuntimeError(f"unbalanced decorator call at offset {start}")


# -------------------------------------------------------------------------------------------- the registries
#: Data sources (``--data NAME[:ARG]``): a loader ``(spec: DataSpec, strict: bool) -> RawSplits``; ``arg``
#: says what may follow the colon (:class:`cnnzoo.options.SourceArg`).
SOURCES = Registry(
    "data source",
    "cnnzoo.data",
    "register_source",
    meta={"arg": SourceArg.values()},
)
#: Explanation methods (``cnnzoo explain --method``): ``fn(model, x, target, **options)`` returning the
#: attribution; the options it names in its signature (``layer``, ``reduce``, ...) are the ones it takes.
#: ``explains="channel"``: it projects a feature map (``channel``) instead of explaining a class.
METHODS = Registry(
    "method",
    "cnnzoo.explain",
    "register_method",
    meta={"explains": ("class", "channel")},
)
#: Transfer strategies (``cnnzoo transfer --strategy``): ``fn(model, data, settings, **options)``; the options
#: it names are passed by :func:`cnnzoo.transfer.run_transfer`. ``warmup`` names the parameter that takes the
#: head-only epochs when at least one epoch must follow them.
STRATEGIES = Registry(
    "strategy",
    "cnnzoo.transfer",
    "register_strategy",
    meta={"warmup": None},
)
#: Benchmark backends (``cnnzoo bench --backends``): a builder ``(bench) -> runner``; ``precision`` bf16
#: needs native bf16, ``int8`` runs the quantized ONNX file.
BACKENDS = Registry(
    "backend",
    "cnnzoo.deploy",
    "register_backend",
    meta={"precision": ("fp32", "bf16"), "int8": (True, False)},
)
#: ONNX runtimes (``--runtime``): a :class:`cnnzoo.deploy.runtimes.Runtime` class.
RUNTIMES = Registry("runtime", "cnnzoo.deploy", "register_runtime")


def source_form(name: str) -> str:
    """How a data source is written: ``digits``, ``fashion-mnist[:DIR]``, ``folder:DIR``, ``synthetic[:N]``
    (imports nothing)."""
    arg = SourceArg(SOURCES.entry(name).meta.get("arg", SourceArg.NONE))
    return name + {SourceArg.NONE: "", SourceArg.OPTIONAL_DIR: "[:DIR]", SourceArg.DIR: ":DIR"}.get(
        arg, "[:N]"
    )


def source_forms() -> tuple[str, ...]:
    """Every data source as it is written, for ``--help`` texts and error messages (imports nothing)."""
    return tuple(source_form(n) for n in SOURCES.names())


register_source = SOURCES.register
register_method = METHODS.register
register_strategy = STRATEGIES.register
register_backend = BACKENDS.register
register_runtime = RUNTIMES.register

__all__ = [
    "BACKENDS",
    "METHODS",
    "RUNTIMES",
    "SOURCES",
    "STRATEGIES",
    "Entry",
    "Registry",
    "accepted",
    "register_backend",
    "register_method",
    "register_runtime",
    "register_source",
    "register_strategy",
    "source_form",
    "source_forms",
]
