"""Errors meant for people.

Every error that a user can cause (a bad model name, a malformed spec, an input too small, a corrupt file,
an unsafe checkpoint) is raised as a :class:`CnnzooError` whose message is one sentence that says what is
wrong and what to do. The command line prints that sentence on stderr and exits with status 2; it never
shows a traceback for these.
"""

from __future__ import annotations


class CnnzooError(ValueError):
    """Base class of all user-facing errors. Its message is one clear sentence; where it speaks of a library
    parameter it uses the Python name and lists it in ``names`` (``names=("resume",)``), which a front end
    says its own way (the CLI: ``resume`` -> ``--resume``, :func:`cnnzoo.cli._args.as_flags`)."""

    def __init__(self, *args: object, names: tuple[str, ...] = ()) -> None:
        super().__init__(*args)
        self.names = tuple(names)


class UnknownModelError(CnnzooError, KeyError):
    """A model name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SpecError(CnnzooError):
    """A malformed layer specification in the lecture notation."""


class InputTooSmallError(CnnzooError):
    """An input on which some layer's feature map vanishes."""


class OptionError(CnnzooError):
    """A bad value of a library parameter. ``names`` are the Python parameter names its message uses, so a
    front end can say them its own way (the CLI: ``freeze_epochs`` -> ``--freeze-epochs``)."""

    def __init__(self, message: str, *names: str) -> None:
        super().__init__(message, names=names)


class CheckpointError(CnnzooError):
    """A checkpoint or weights file that is missing, corrupt, unsafe or does not fit the model."""


class WeightsError(CheckpointError):
    """Pretrained weights that cannot be found, downloaded, verified or matched to a model."""


class DataError(CnnzooError):
    """A data source that does not exist, is empty, or cannot be read."""
