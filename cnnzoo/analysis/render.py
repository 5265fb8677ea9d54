"""Text formats of a :class:`~cnnzoo.analysis.result.Profile`: the aligned table, CSV, Markdown and the
one-line summary. Formatting only: every figure comes from the profile's rows and totals."""

from __future__ import annotations

import csv
import io
from typing import Any

from .units import si, size_str, squash

# A Profile and its LayerRows (cnnzoo.analysis.result) come in as arguments; this module does not import
# them, so the result can reach its formats lazily without an import circle.
Profile = LayerRow = Any

__all__ = ["summary_line", "to_csv", "to_markdown", "to_table"]


def _cells(r: LayerRow) -> list[str]:
    rf = squash(r.receptive_field)
    jump = squash(r.jump)
    return [
        r.name,
        r.type,
        "x".join(map(str, r.output_shape)),
        f"{r.params:,}",
        f"{r.macs:,}",
        f"{r.activation_bytes:,}",
        "-" if rf is None else str(rf).replace(" ", ""),
        "-" if jump is None else str(jump).replace(" ", ""),
        r.note,
    ]


def _footer(p: Profile) -> list[str]:
    return [
        "total",
        "",
        "",
        f"{p.total_params:,}",
        f"{p.total_macs:,}",
        f"{p.activation_bytes:,}",
        str(squash(p.receptive_field)),
        "",
        "",
    ]


def to_csv(p: Profile) -> str:
    """One row per layer with every column, raw numbers."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "name",
            "type",
            "output_shape",
            "params",
            "trainable_params",
            "frozen_params",
            "macs",
            "activation_bytes",
            "receptive_field",
            "jump",
            "fits",
            "note",
        ]
    )
    for r in p.rows:
        d = r.as_dict()
        w.writerow(
            [
                r.name,
                r.type,
                "x".join(map(str, r.output_shape)),
                r.params,
                r.trainable_params,
                r.frozen_params,
                r.macs,
                r.activation_bytes,
                d["receptive_field"],
                d["jump"],
                r.fits,
                r.note,
            ]
        )
    return buf.getvalue()


def to_markdown(p: Profile) -> str:
    """A GitHub Markdown table with a total row, then the summary line."""
    head = ["layer", "type", "output", "params", "MACs", "activation bytes", "RF", "jump", "note"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---", "---", "---", "--:", "--:", "--:", "--:", "--:", "---"]) + "|",
    ]
    for cells in [_cells(r) for r in p.rows] + [_footer(p)]:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n\n" + summary_line(p) + "\n"


def to_table(p: Profile) -> str:
    """The aligned plain-text table (``cnnzoo summary``) with a total row, then the summary line."""
    head = ["layer", "type", "output", "params", "MACs", "act. bytes", "RF", "jump", "note"]
    body = [_cells(r) for r in p.rows]
    foot = _footer(p)
    widths = [max(len(c[i]) for c in [head, *body, foot]) for i in range(len(head))]
    right = {3, 4, 5, 6, 7}

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "-" * len(fmt(head))
    return "\n".join([fmt(head), rule, *map(fmt, body), rule, fmt(foot), "", summary_line(p)]) + "\n"


def summary_line(p: Profile) -> str:
    """One sentence with the totals; it says when global-context layers were left out of the field."""
    ctx = p.global_context
    rf = f"receptive field {squash(p.receptive_field)}"
    if ctx:
        rf += (
            f" (convolutional path; {len(ctx)} global-context layer{'s' * (len(ctx) != 1)} "
            "such as squeeze-and-excitation see the whole image and are not counted)"
        )
    unsupported = ""
    if p.unsupported_ops:
        ops = ", ".join(f"{n} x{k}" for n, k in sorted(p.unsupported_ops.items()))
        unsupported = f" The MACs leave out operators the profile has no handle for: {ops}."
    return (
        f"{p.model_name} at {size_str(p.input_size)} (batch {p.batch_size}): "
        f"{p.total_params:,} parameters ({p.trainable_params:,} trainable), "
        f"{si(p.total_macs)} MACs (= {si(p.total_flops)} FLOPs), "
        f"{p.activation_bytes / 2**20:.1f} MiB of float32 activations (input included), "
        f"{rf}.{unsupported}"
    )
