"""cnnzoo checkpoints: written atomically, read without executing code.

A checkpoint is a ``dict`` of plain Python values and tensors saved with :func:`torch.save` and loaded with
``torch.load(weights_only=True)`` (never plain unpickling). Keys: ``format`` (``"cnnzoo-checkpoint"``),
``version``, ``model`` (registered name), ``model_kwargs``, ``state_dict``, and whatever the writer adds
(``optimizer``, ``scheduler``, ``rng``, ``epoch``, ``metrics``, ``classes``, ``mean``/``std``,
``input_size``...).
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import CheckpointError

FORMAT = "cnnzoo-checkpoint"
VERSION = 1


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temporary file in the same folder, fsync, then rename.

    A reader never sees a half-written file, even if the writer is killed mid-write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "version": VERSION, **payload}
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


def model_from_checkpoint(ref: str, **overrides: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Build a model from a cnnzoo checkpoint path, or a fresh one from a registered model name.

    Returns ``(model, checkpoint_dict)``; for a model name the dict holds only ``model`` and ``model_kwargs``.
    The model is returned in eval mode.
    """
    from .registry import create_model

    if not is_checkpoint_path(ref):
        if "/" in ref or ref.endswith((".pt", ".pth", ".safetensors")):
            raise CheckpointError(f"checkpoint file {ref!r} does not exist; check the path.")
        model = create_model(ref, **overrides)
        return model.eval(), {"model": ref, "model_kwargs": dict(overrides)}
    ckpt = load_checkpoint(ref)
    kwargs = {**ckpt.get("model_kwargs", {}), **overrides}
    model = create_model(ckpt["model"], **kwargs)
    from .weights import check_fit

    check_fit(model, ckpt["state_dict"], ref)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt
