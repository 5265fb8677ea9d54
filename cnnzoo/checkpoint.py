"""cnnzoo checkpoints, file I/O only: written atomically, read without executing code, checked for fit.

A checkpoint is a ``dict`` of plain Python values and tensors saved with :func:`torch.save` and loaded with
``torch.load(weights_only=True)`` (never plain unpickling). Format version 2 has three parts:

- ``record``: what the model is and expects (:class:`cnnzoo.record.ModelRecord`, as ``to_dict()``);
- ``state_dict``: the weights;
- ``run``: how it was made and where training stands: recipe, seed, precision, transfer settings, and the
  training state (optimizer, scheduler, rng, epoch, step, metrics history, best epoch...).

Beside them only ``format`` (``"cnnzoo-checkpoint"``) and ``version``. :func:`load_checkpoint` returns a
:class:`Checkpoint` with the same three parts. Files of version 1 (the record's facts as flat keys ``model``,
``input_size``, ``classes``..., the run state beside them) are read by :func:`read_checkpoint` in one place,
``_from_version_1``, which turns them into the same :class:`Checkpoint`; nothing else reads that layout.

Building a model from a checkpoint is the factory's work: :func:`cnnzoo.factory.model_from_checkpoint`.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import CheckpointError
from .record import FLAT_RECORD_KEYS, ModelRecord, record_from_flat_keys

FORMAT = "cnnzoo-checkpoint"
VERSION = 2


@dataclass
class Checkpoint:
    """A cnnzoo checkpoint as read: the model's :class:`~cnnzoo.record.ModelRecord` (``None`` for a plain
    ``nn.Module`` trained by :class:`cnnzoo.train.Trainer`), its ``state_dict`` and the ``run`` section
    (recipe, seed, precision, transfer settings, optimizer/scheduler/rng state, epoch, history...)."""

    record: ModelRecord | None
    state_dict: dict[str, torch.Tensor]
    run: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION


def save_checkpoint(
    path: str | os.PathLike[str],
    record: ModelRecord | None,
    state_dict: Mapping[str, torch.Tensor],
    run: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint of ``record``, ``state_dict`` and ``run`` to ``path`` atomically: a temporary file
    in the same folder, fsync, then rename. A reader never sees a half-written file, even if the writer is
    killed mid-write."""
    if record is not None and not isinstance(record, ModelRecord):
        raise TypeError(f"record must be a ModelRecord or None, not {type(record).__name__}")
    path = Path(path)
    data = {
        "format": FORMAT,
        "version": VERSION,
        "record": record.to_dict() if record is not None else None,
        "state_dict": dict(state_dict),
        "run": dict(run or {}),
    }
    from .outputs import atomic_path

    size = sum(t.numel() * t.element_size() for t in _tensors(data))
    # a temporary file beside it, fsync, rename (cnnzoo.outputs): a full disk is one sentence with the MB to
    # free, torch's own RuntimeError for it included, and the previous checkpoint stays intact
    with atomic_path(path, "checkpoint", size_hint=size) as tmp:
        torch.save(data, tmp)
    return path


def is_cnnzoo_checkpoint(data: Any) -> bool:
    """True when a loaded object is a cnnzoo checkpoint (any version)."""
    return isinstance(data, Mapping) and data.get("format") == FORMAT


def read_checkpoint(data: Any, where: str) -> Checkpoint:
    """The :class:`Checkpoint` in an object loaded by :func:`safe_load`, whatever its format version."""
    if not is_cnnzoo_checkpoint(data):
        raise CheckpointError(
            f"{where!r} is not a cnnzoo checkpoint; to load a plain state-dict use "
            "create_model(NAME, weights=FILE) or `--weights torchvision:FILE`."
        )
    version = data.get("version", 1)
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(
            f"{where!r} is a cnnzoo checkpoint of format version {version!r}, newer than this cnnzoo reads "
            f"({VERSION}); upgrade cnnzoo."
        )
    if not isinstance(data.get("state_dict"), Mapping):
        raise CheckpointError(f"{where!r} holds no state dict; it was not written completely.")
    if version < 2:
        return _from_version_1(data)
    rec = data.get("record")
    return Checkpoint(
        ModelRecord.from_dict(rec) if isinstance(rec, Mapping) else None,
        dict(data["state_dict"]),
        dict(data.get("run") or {}),
        version,
    )


def _from_version_1(data: Mapping[str, Any]) -> Checkpoint:
    """The one reader of version-1 checkpoints: the record from their ``record`` key where the writer added
    one, else from the flat keys; every other key (optimizer, epoch, recipe, transfer...) is the run."""
    rec = data.get("record")
    record = ModelRecord.from_dict(rec) if isinstance(rec, Mapping) else record_from_flat_keys(data)
    skip = {*FLAT_RECORD_KEYS, "format", "version", "record", "state_dict"}
    run = {k: v for k, v in data.items() if k not in skip}
    return Checkpoint(record, dict(data["state_dict"]), run, 1)


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, Mapping):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, list | tuple):
        return [t for v in obj for t in _tensors(v)]
    return []


TEMP_GLOB = ".*.tmp"
"""Names :func:`save_checkpoint` gives its temporary files; a killed writer leaves one behind."""


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that writers killed mid-write left in ``folder`` (``.last.pt.XXXX.tmp``);
    returns them. Only to be called when no writer is running there (on resume)."""
    gone = []
    for t in Path(folder).glob(TEMP_GLOB):
        if t.is_file():
            t.unlink(missing_ok=True)
            gone.append(t)
    return gone


_CODE_OPS = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ"}
_SAFE_MODULES = ("torch", "collections", "builtins", "_codecs", "numpy")


def _foreign_global(p: Path) -> str | None:
    """The first class or function outside torch's tensor machinery that the file's pickle would import
    (``"posix.system"``), read with :mod:`pickletools` (which parses, never runs); ``None`` if there is
    none or the file is not a pickle at all."""
    import pickletools

    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                names = [n for n in z.namelist() if n.endswith("data.pkl")]
                if not names or z.getinfo(names[0]).file_size > 1 << 26:
                    return None
                data = z.read(names[0])
        else:
            with open(p, "rb") as f:
                data = f.read(1 << 26)
        strings: list[str] = []
        for op, arg, _ in pickletools.genops(data):
            if isinstance(arg, str):
                strings.append(arg)
            name = None
            if op.name in ("GLOBAL", "INST") and isinstance(arg, str):
                name = arg.replace(" ", ".")
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                name = f"{strings[-2]}.{strings[-1]}"
            if name and not name.startswith(_SAFE_MODULES):
                return name
    except Exception:  # noqa: BLE001 - not a readable pickle: the caller says "corrupt"
        return None
    return None


def require_file(path: str | os.PathLike[str], what: str = "checkpoint") -> Path:
    """``path`` as a Path when it is a regular file, else one sentence: a folder, missing, or not a file."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise CheckpointError(f"{str(path)!r} is a folder, not a {what} file; give the path of a .pt file.")
    if not p.exists():
        raise CheckpointError(f"{what} file {str(path)!r} does not exist; check the path.")
    if not p.is_file():
        raise CheckpointError(f"{str(path)!r} is not a regular file; give the path of a .pt file.")
    return p


def safe_load(path: str | os.PathLike[str]) -> Any:
    """Load a ``.pt``/``.pth`` (weights only) or ``.safetensors`` file, with a clear error when it cannot be.

    This is the one loader every checkpoint and weights file goes through. It refuses files that would need
    to execute code to unpickle (``weights_only=True``), and turns *every* failure of torch's or
    safetensors' reader (garbage, a text file, a truncated or foreign file, which surface as ``KeyError``,
    ``IndexError``, ``UnicodeDecodeError``... from deep inside torch) into one :class:`CheckpointError`
    sentence.
    """
    p = require_file(path)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint file {str(p)!r}: {e.strerror}.") from None
    if size == 0:
        raise CheckpointError(f"checkpoint file {str(p)!r} is empty; it was not written completely.")
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(p))
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise CheckpointError(
                f"{str(p)!r} is not a readable safetensors file ({_first_line(e)})."
            ) from None
        except Exception as e:  # noqa: BLE001 - any other reader failure is a corrupt file too
            raise CheckpointError(
                f"{str(p)!r} is not a readable safetensors file ({type(e).__name__})."
            ) from None
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's protocol warnings on foreign pickles: we explain below
            return torch.load(p, map_location="cpu", weights_only=True)
    except PermissionError as e:
        raise CheckpointError(f"cannot read checkpoint file {str(p)!r}: {e.strerror}.") from None
    except Exception as e:  # noqa: BLE001 - torch surfaces corrupt files as almost any exception type
        if isinstance(e, pickle.UnpicklingError):
            foreign = _foreign_global(p)
            if foreign is None and "GLOBAL" in str(e):
                foreign = str(e).split("GLOBAL", 1)[1].split()[0].strip(" .")
            if foreign is not None:
                raise CheckpointError(
                    f"refusing to load {str(p)!r}: it holds Python objects that would run code when "
                    f"unpickled ({foreign}); save a plain state_dict "
                    "(torch.save(model.state_dict(), FILE)) instead."
                ) from None
        raise CheckpointError(
            f"{str(p)!r} is not a readable PyTorch checkpoint (truncated or corrupt, or another kind of "
            f"file: {_first_line(e)}); give a file written by torch.save or cnnzoo."
        ) from None


def _first_line(e: BaseException) -> str:
    """The gist of a library's exception: its last meaningful line, without torch's advice paragraphs."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    for ln in lines:
        meaningful = ln.startswith(("Unsupported", "Trying to load")) or "error" in ln.lower()
        if meaningful and not ln.startswith(("Weights only load failed", "Please file")):
            return ln.rstrip(".")
    gist = lines[0] if lines else ""
    if gist.startswith("Weights only load failed") and len(lines) > 2:
        gist = lines[2]
    return f"{type(e).__name__}: {gist.rstrip('.')}" if gist else type(e).__name__


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load a cnnzoo checkpoint written by :func:`save_checkpoint` (or an older cnnzoo) as a
    :class:`Checkpoint`."""
    return read_checkpoint(safe_load(path), str(path))


def is_checkpoint_path(ref: str) -> bool:
    """True when ``ref`` names an existing file (as opposed to a registered model name), or a folder given as
    a path (so that loading it says "is a folder" rather than "does not exist")."""
    return Path(ref).is_file() or (Path(ref).is_dir() and ("/" in ref or ref.endswith((".pt", ".pth"))))


def extract_state_dict(data: Any, where: str) -> dict[str, torch.Tensor]:
    """The state dict inside a loaded file: a cnnzoo checkpoint, a ``{"state_dict"|"model": ...}`` wrapper
    (as many training scripts write), or a plain state dict."""
    if isinstance(data, Mapping):
        if is_cnnzoo_checkpoint(data):
            data = data["state_dict"]
        else:
            for key in ("state_dict", "model", "model_state_dict"):
                if isinstance(data.get(key), Mapping):
                    data = data[key]
                    break
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{where!r} holds no state dict (a mapping of parameter names to tensors).")
    return {k.removeprefix("module."): v for k, v in data.items()}


def check_fit(model: nn.Module, state_dict: Mapping[str, torch.Tensor], where: str) -> None:
    """Raise one clear :class:`CheckpointError` listing every key that does not fit ``model``."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shaped = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shaped:

        def few(xs: list[str]) -> str:
            return ", ".join(xs[:5]) + (f" (+{len(xs) - 5} more)" if len(xs) > 5 else "")

        parts = [
            f"{len(missing)} missing ({few(missing)})" if missing else "",
            f"{len(unexpected)} unexpected ({few(unexpected)})" if unexpected else "",
            f"{len(shaped)} mis-shaped ({few(shaped)})" if shaped else "",
        ]
        name = getattr(model, "cnnzoo_name", type(model).__name__)
        raise CheckpointError(
            f"{where!r} does not fit model {name!r}: "
            + "; ".join(p for p in parts if p)
            + ". Check that the file was saved from the matching architecture and number of classes."
        )
