"""The result of :func:`cnnzoo.analysis.profile`: per-layer rows and the totals over them.

Everything here is computed from the rows already traced: no property runs the model, except
:attr:`Profile.min_input_size`, which says so (it searches on ``meta``) and is never called by
:meth:`Profile.to_dict`. The text formats live in :mod:`.render`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .units import squash

__all__ = ["FLOAT32_BYTES", "GLOBAL_CONTEXT", "LayerRow", "Profile"]

FLOAT32_BYTES = 4
GLOBAL_CONTEXT = "global context (not in the receptive field)"
"""The note of a row where a tensor that saw the whole image is broadcast over a feature map (an SE block's
``x * s``): the receptive field is that of the convolutional path and does not include it."""


@dataclass
class LayerRow:
    """One leaf operation. ``output_shape`` excludes the batch dimension; ``receptive_field`` and ``jump``
    are ``(h, w)`` (one entry per spatial dimension) or ``None`` where the output has no spatial origin."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int = 0
    trainable_params: int = 0
    frozen_params: int = 0
    macs: int = 0
    activation_bytes: int = 0
    receptive_field: tuple[int, ...] | None = None
    jump: tuple[int, ...] | None = None
    fits: bool = True
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["output_shape"] = list(self.output_shape)
        d["receptive_field"] = squash(self.receptive_field)
        d["jump"] = squash(self.jump)
        return d


@dataclass
class Profile:
    """The per-layer table and totals of one model at one input size (see :mod:`cnnzoo.analysis.profile`
    for the conventions). MACs and activation bytes are for the whole batch (``batch_size``, default 1: per
    image).

    ``receptive_field`` is the field of the model's output along its convolutional path: layers that
    broadcast global context over a feature map (squeeze-and-excitation) are listed in
    :attr:`global_context` and not counted, so the figure does not change with the input size."""

    model_name: str
    input_size: tuple[int, ...]
    batch_size: int
    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    receptive_field: tuple[int, ...] | None
    jump: tuple[int, ...] | None
    unused_params: int = 0
    #: operators the tracer has no handle for (name -> calls): their MACs, if any, are not in the totals
    unsupported_ops: dict[str, int] = field(default_factory=dict)
    _min_search: Callable[[], int] | None = field(default=None, repr=False)
    _min_input: int | None = field(default=None, repr=False)

    @property
    def frozen_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def total_flops(self) -> int:
        """FLOPs = 2 x MACs (one multiply and one add)."""
        return 2 * self.total_macs

    @property
    def activation_bytes(self) -> int:
        """Bytes of all kept outputs at float32, the input included (the lecture's "memory" column x 4)."""
        return sum(r.activation_bytes for r in self.rows)

    @property
    def activation_values(self) -> int:
        return self.activation_bytes // FLOAT32_BYTES

    @property
    def param_bytes(self) -> int:
        return self.total_params * FLOAT32_BYTES

    @property
    def training_bytes_estimate(self) -> int:
        """A rough training footprint at float32 with SGD + momentum: weights, gradients and momentum
        (3 x params) plus the forward activations kept for the backward pass and their gradients (2 x, the
        lecture's "~x2 for bwd")."""
        return 3 * self.param_bytes + 2 * self.activation_bytes

    @property
    def doesnt_fit(self) -> list[LayerRow]:
        """Rows where ``(N - F + 2P) / S + 1`` is not whole."""
        return [r for r in self.rows if not r.fits]

    @property
    def global_context(self) -> list[str]:
        """Names of the rows where global context joins a feature map (not counted in the receptive field)."""
        return [r.name for r in self.rows if GLOBAL_CONTEXT in r.note]

    @property
    def min_input_size(self) -> int:
        """The smallest square input (H = W) on which the model runs. The first access *runs a search*
        (8-16 forward passes on ``meta``); the result is kept."""
        if self._min_input is None:
            if self._min_search is None:
                from ..errors import CnnzooError

                raise CnnzooError("this profile holds no model to search the minimum input size with.")
            self._min_input = self._min_search()
        return self._min_input

    # -- output formats ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every figure as plain values. Runs nothing: ``min_input_size`` is ``None`` unless
        :attr:`min_input_size` was read before."""
        return {
            "model": self.model_name,
            "input": list(self.input_size),
            "batch_size": self.batch_size,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "frozen_params": self.frozen_params,
            "unused_params": self.unused_params,
            "total_macs": self.total_macs,
            "total_flops": self.total_flops,
            "activation_bytes": self.activation_bytes,
            "param_bytes": self.param_bytes,
            "training_bytes_estimate": self.training_bytes_estimate,
            "receptive_field": squash(self.receptive_field),
            "jump": squash(self.jump),
            "global_context": self.global_context,
            "min_input_size": self._min_input,
            "doesnt_fit": [r.name for r in self.doesnt_fit],
            "unsupported_ops": dict(self.unsupported_ops),
            "layers": [r.as_dict() for r in self.rows],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_csv(self) -> str:
        from .render import to_csv

        return to_csv(self)

    def to_markdown(self) -> str:
        from .render import to_markdown

        return to_markdown(self)

    def to_table(self) -> str:
        from .render import to_table

        return to_table(self)

    def summary_line(self) -> str:
        from .render import summary_line

        return summary_line(self)

    def __str__(self) -> str:
        return self.to_table()
