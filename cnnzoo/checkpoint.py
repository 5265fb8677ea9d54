"""cnnzoo checkpoints, file I/O only: written atomically, read without executing code, checked for fit.

A checkpoint is a ``dict`` of plain Python values and tensors saved with :func:`torch.save` and loaded with
``torch.load(weights_only=True)`` (never plain unpickling). Keys: ``format`` (``"cnnzoo-checkpoint"``),
``version``, ``model`` (registered name), ``model_kwargs``, ``state_dict``, and whatever the writer adds
(``optimizer``, ``scheduler``, ``rng``, ``epoch``, ``metrics``, ``classes``, ``mean``/``std``,
``input_size``...). Since the one record of what a model expects (:mod:`cnnzoo.record`) exists,
:func:`save_checkpoint` also stores it under ``record``, built from those keys when the writer gave none;
files without it still load.

Building a model from a checkpoint is the factory's work: :func:`cnnzoo.factory.model_from_checkpoint`.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import CheckpointError
from .record import ModelRecord

FORMAT = "cnnzoo-checkpoint"
VERSION = 1


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same folder, fsync, then rename.

    A reader never sees a half-written file, even if the writer is killed mid-write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "version": VERSION, **payload}
    if "record" not in data and data.get("model"):
        data["record"] = ModelRecord.from_checkpoint(data).to_dict()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def safe_load(path: str | os.PathLike[str]) -> Any:
    """Load a ``.pt``/``.pth`` (weights only) or ``.safetensors`` file, with a clear error when it cannot be.

    Refuses files that would need to execute code to unpickle (``weights_only=True``).
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint file {str(p)!r} does not exist; check the path.")
    if p.stat().st_size == 0:
        raise CheckpointError(f"checkpoint file {str(p)!r} is empty; it was not written completely.")
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(p))
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{str(p)!r} is not a readable safetensors file ({e}).") from None
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"refusing to load {str(p)!r}: it holds Python objects that would run code when unpickled "
            f"({first}); save a plain state_dict (torch.save(model.state_dict(), FILE)) instead."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{str(p)!r} is not a readable PyTorch checkpoint (truncated or corrupt: {msg})."
        ) from None


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a cnnzoo checkpoint written by :func:`save_checkpoint`."""
    data = safe_load(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not a cnnzoo checkpoint; to load a plain state-dict use "
            "create_model(NAME, weights=FILE) or `--weights torchvision:FILE`."
        )
    return data


def is_checkpoint_path(ref: str) -> bool:
    """True when ``ref`` names an existing file (as opposed to a registered model name)."""
    return Path(ref).is_file()


def extract_state_dict(data: Any, where: str) -> dict[str, torch.Tensor]:
    """The state dict inside a loaded file: a cnnzoo checkpoint, a ``{"state_dict"|"model": ...}`` wrapper
    (as many training scripts write), or a plain state dict."""
    if isinstance(data, Mapping):
        if data.get("format") == FORMAT:
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


def __getattr__(name: str) -> Any:
    # ``model_from_checkpoint`` lived here before the factory was split off; old imports keep working.
    if name == "model_from_checkpoint":
        import importlib

        return importlib.import_module(f"{__package__}.factory").model_from_checkpoint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
