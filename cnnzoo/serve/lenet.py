"""What the Draw page shows of LeNet-5 (LeCun, Bottou, Bengio and Haffner, "Gradient-Based Learning Applied to
Document Recognition", Proc. IEEE 1998): every layer's output, the parameters the unit inspector and the 3D
view compute with, and two or three sentences per layer from the paper.

The inspector works in the browser from two records: :func:`lenet_params` (sent once: every weight, bias,
subsampling coefficient and RBF prototype, C3's kernels read through ``SparseConv2d.dense_weight()`` and
Table I through ``C3_TABLE``) and the draw answer (every layer's output for the drawing). A hovered unit's
input patch, weighted sum and squashed output are then plain arithmetic on numbers the page already holds,
so they arrive with the draw answer, with no extra request. Numbers travel as base64 little-endian float32
(exact, and 5.3 characters a number instead of ~9 as decimal text) when the page asks for
``encoding="f32"``.
"""

from __future__ import annotations

import base64
from typing import Any

import torch
from torch import nn

LAYERS = ("c1", "s2", "c3", "s4", "c5", "f6", "output")
ENCODINGS = ("json", "f32")

LABELS = {
    "c1": "C1: 6 feature maps 28x28 (5x5 convolutions)",
    "s2": "S2: 6 maps 14x14 (2x2 subsampling)",
    "c3": "C3: 16 maps 10x10 (5x5 convolutions, Table I connections)",
    "s4": "S4: 16 maps 5x5 (2x2 subsampling)",
    "c5": "C5: 120 units (5x5 convolutions on 5x5 maps)",
    "f6": "F6: 84 units, drawn as 12x7 like the RBF prototypes",
    "output": "Output",
}

#: Two or three sentences per layer, after the paper (Sec. II-B, Appendix A); ``doc`` is the section of
#: docs/serve.md (and of the page's own guide, ``/guide#ANCHOR``) that says more.
NOTES: dict[str, dict[str, str]] = {
    "input": {
        "title": "Input: 32x32 pixels",
        "text": "The digit is scaled so that its ink fits a 20x20 box, placed in a 28x28 field with its "
        "centre of mass in the middle, and padded to 32x32, as MNIST's digits were. The larger field "
        "lets even the stroke ends fall in the centre of the top feature detectors' receptive fields."
        " Pixels are normalised with the training set's mean and standard deviation.",
        "doc": "input",
    },
    "c1": {
        "title": "C1: convolution, 6 maps",
        "text": "Each of the 6 maps slides one 5x5 kernel over the input: a unit adds its 25 pixels times the"
        " kernel's weights and a bias, the weighted sum a, and squashes it with f(a) = 1.7159 "
        "tanh(2a/3). Every unit of a map shares the same weights, so the map detects one local "
        "feature (an edge, a stroke end) wherever it occurs. 156 trainable parameters, 122,304 "
        "connections.",
        "doc": "c1-convolution",
    },
    "s2": {
        "title": "S2: trainable subsampling",
        "text": "Each unit adds the four C1 outputs of its non-overlapping 2x2 window, multiplies the sum by "
        "a trainable coefficient, adds a trainable bias (one of each per map) and squashes the "
        "result. Halving the resolution makes the features' exact positions matter less, which is "
        "what makes the network tolerant to shifts and distortions. 12 parameters.",
        "doc": "s2-and-s4-subsampling",
    },
    "c3": {
        "title": "C3: convolution with Table I's connections",
        "text": "Each of the 16 maps sees only some of S2's 6 maps (Table I: maps 0-5 see three neighbours, "
        "6-11 four neighbours, 12-14 four non-neighbours, 15 all six): a unit sums 5x5 patches of "
        "those maps times their kernels, plus a bias, and squashes. The paper gives two reasons: "
        "fewer connections, and broken symmetry, so different maps are forced to extract different "
        "features. 1,516 parameters.",
        "doc": "c3-and-table-i",
    },
    "s4": {
        "title": "S4: trainable subsampling",
        "text": "As S2, on C3's 16 maps: the sum of each 2x2 window times a trainable coefficient plus a "
        "bias, squashed. 32 parameters.",
        "doc": "s2-and-s4-subsampling",
    },
    "c5": {
        "title": "C5: convolution, 120 maps of 1x1",
        "text": "Each unit convolves all 16 S4 maps with 5x5 kernels; on a 32x32 input S4 is 5x5, so each C5 "
        "map is a single unit connected to everything below: in effect a full connection, but called "
        "a convolution because a larger input would give larger maps. 48,120 parameters.",
        "doc": "c5-and-f6",
    },
    "f6": {
        "title": "F6: 84 fully connected units",
        "text": "Each unit takes all 120 C5 outputs times its weights plus a bias and squashes them. 84 is "
        "the size of the output's prototypes: 7x12 bitmaps, so F6's outputs are drawn as a 12x7 "
        "picture that should resemble the winning digit's bitmap. 10,164 parameters.",
        "doc": "c5-and-f6",
    },
    "output": {
        "title": "Output: Euclidean RBF units",
        "text": "Unit i computes y_i = sum_j (x_j - w_ij)^2, the squared distance between F6's 84 outputs and"
        " digit i's fixed prototype of +1 and -1 (a 7x12 bitmap of the digit): the smaller, the more "
        "the drawing looks like i. The percentages are a softmax of minus the distances, exp(-y_i) / "
        "sum_k exp(-y_k), the posterior the paper's loss (Eq. 9) trains.",
        "doc": "output-rbf-units-and-the-percentages",
    },
}


def is_lenet(model: nn.Module) -> bool:
    """True for the LeNet-5 family (:class:`cnnzoo.models.lenet.LeNet5`): layers c1 .. f6 and an output."""
    return all(hasattr(model, n) for n in LAYERS)


def encode(t: torch.Tensor, encoding: str, digits: int = 4) -> dict[str, Any]:
    """``t``'s numbers as ``{"values": [...]}`` (decimal, rounded to ``digits``) or ``{"f32": base64}``."""
    t = t.detach().float().contiguous().flatten()
    if encoding == "f32":
        return {"f32": base64.b64encode(t.numpy().astype("<f4").tobytes()).decode("ascii")}
    # rounded in float64 by torch (9,000 values in ~0.1 ms; Python's round() takes ~4 ms)
    return {"values": t.double().round(decimals=digits).tolist()}


def layer_entry(
    name: str, label: str, t: torch.Tensor, display: list[int] | None = None, encoding: str = "json"
) -> dict[str, Any]:
    """One layer of the draw answer: name, label, kind ("maps" or "vector"), shape, min, max, numbers."""
    t = t.detach()[0]
    kind = "maps" if t.ndim == 3 and t.shape[-1] * t.shape[-2] > 1 else "vector"
    if kind == "vector":
        t = t.flatten()
    return {
        "name": name,
        "label": label,
        "kind": kind,
        "shape": list(t.shape),
        "display": display or (list(t.shape[-2:]) if kind == "maps" else [1, t.numel()]),
        "min": round(float(t.min()), 4),
        "max": round(float(t.max()), 4),
        **encode(t, encoding),
    }


def lenet_layers(
    model: nn.Module, x: torch.Tensor, encoding: str = "json"
) -> tuple[list[dict[str, Any]], torch.Tensor]:
    """Every layer's output of a LeNet-5 on the normalised batch ``x`` (one image), in the order the network
    computes them: C1, S2, C3, S4, C5, F6 and the output (RBF distances ``y_i``, or a linear layer's logits).

    Runs the layers one after the other, without hooks; the caller holds the model's lock. Returns
    ``(entries, logits)``."""
    from ..models.lenet import EuclideanRBF

    entries, h = [], x
    with torch.no_grad():
        for name in ("c1", "s2", "c3", "s4", "c5"):
            h = getattr(model, name)(h)
            entries.append(layer_entry(name, LABELS[name], h, encoding=encoding))
        h = model.f6(torch.flatten(h, 1))
        display = [12, 7] if h.shape[1] == 84 else None
        entries.append(layer_entry("f6", LABELS["f6"], h, display, encoding))
        out = model.output
        if isinstance(out, EuclideanRBF):
            d = out.distances(h)
            label = (
                f"RBF output: squared distance of F6 to each of the {d.shape[1]} class prototypes (smallest "
                "wins)"
            )
            entries.append(layer_entry("output", label, d, encoding=encoding))
            logits = -d
        else:
            logits = out(h)
            label = f"Output: {logits.shape[1]} class scores (logits)"
            entries.append(layer_entry("output", label, logits, encoding=encoding))
    return entries, logits[0]


def _act_kind(seq: nn.Module) -> str:
    from ..models.lenet import ScaledTanh

    act = getattr(seq, "act", None)
    if isinstance(act, ScaledTanh):
        return "scaled_tanh"
    return "relu" if isinstance(act, nn.ReLU) else "none"


def lenet_params(model: nn.Module, encoding: str = "f32") -> dict[str, Any]:
    """Every number the unit inspector and the 3D view compute with, layer by layer.

    ``c1``/``c3``/``c5``: ``weight`` ``(out, in, 5, 5)`` and ``bias``; C3's sparse kernels come scattered
    into a dense ``(16, 6, 5, 5)`` grid by ``SparseConv2d.dense_weight()`` (zeros where Table I has no
    connection) with ``table`` = ``C3_TABLE``; ``s2``/``s4``: ``coef`` and ``bias`` per map (trainable
    subsampling) or ``kind="max"``; ``f6``: ``weight`` ``(84, 120)`` and ``bias``; ``output``: the RBF
    ``prototypes`` ``(10, 84)`` or a linear layer's ``weight``/``bias``; ``act``: the squashing function
    (``A tanh(S a)`` with ``A``, ``S``) or ``relu``."""
    from ..models.lenet import C3_TABLE, EuclideanRBF, ScaledTanh, SparseConv2d, Subsampling

    def tensor(t: torch.Tensor) -> dict[str, Any]:
        return {"shape": list(t.shape), **encode(t, encoding, 6)}

    out: dict[str, Any] = {}
    with torch.no_grad():
        for name in ("c1", "c3", "c5"):
            conv = getattr(model, name).conv
            if isinstance(conv, SparseConv2d):
                w, b = conv.dense_weight()
                out[name] = {"kind": "conv", "weight": tensor(w), "bias": tensor(b), "table": C3_TABLE}
            else:
                out[name] = {"kind": "conv", "weight": tensor(conv.weight), "bias": tensor(conv.bias)}
                if name == "c3":
                    out[name]["table"] = [list(range(conv.in_channels))] * conv.out_channels
            out[name]["act"] = _act_kind(getattr(model, name))
        for name in ("s2", "s4"):
            pool = getattr(model, name).pool
            if isinstance(pool, Subsampling):
                out[name] = {
                    "kind": "subsampling",
                    "coef": tensor(pool.weight),
                    "bias": tensor(pool.bias),
                    "size": pool.kernel_size,
                }
            else:
                k = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
                out[name] = {"kind": "max", "size": k}
            out[name]["act"] = _act_kind(getattr(model, name))
        fc = model.f6.fc
        out["f6"] = {"kind": "linear", "weight": tensor(fc.weight), "bias": tensor(fc.bias)}
        out["f6"]["act"] = _act_kind(model.f6)
        head = model.output
        if isinstance(head, EuclideanRBF):
            out["output"] = {"kind": "rbf", "prototypes": tensor(head.prototypes)}
        else:
            out["output"] = {"kind": "linear", "weight": tensor(head.weight), "bias": tensor(head.bias)}
    act = next((m for m in model.modules() if isinstance(m, ScaledTanh)), None)
    out["squash"] = {"A": act.amplitude, "S": act.slope} if act is not None else None
    return out
