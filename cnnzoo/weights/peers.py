"""The peer's own network for a weights-table entry, to check that our model computes the same function.

:func:`peer_model` builds the torchvision or timm network a published checkpoint was saved from (random
weights; needs torchvision, and timm for timm's entries), as the peer builds it for its pretrained weights
(torchvision's GoogLeNet/Inception-v3 with ``transform_input=True``), with the normalisation the peer's own
eval transform applies. :func:`save_peer_file` writes its state dict in the peer's own file format (``.pth``
for URLs, ``model.safetensors`` for the Hub). :func:`compare` feeds the same pixels through both pipelines:
the peer's normalisation into the peer, our record's into ours. The suite (``tests/test_weights.py``) and
``benchmarks/pretrained_equivalence.py`` use them.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..record import IMAGENET_MEAN, IMAGENET_STD
from .table import WeightsEntry

# The smallest input each peer family runs at (our checks use small inputs to stay fast).
SMALL_INPUT = {"inception_v3": 75, "inception_v4": 75, "inception_resnet_v2": 75, "xception": 32}


def peer_name(entry: WeightsEntry) -> str:
    """The peer's builder name: ``resnet50`` for torchvision, ``legacy_seresnet50`` for timm."""
    if entry.source == "torchvision":
        return entry.peer.split("(", 1)[0].rsplit(".", 1)[1]
    return entry.tag.split(".", 1)[0]


def peer_model(entry: WeightsEntry) -> tuple[nn.Module, tuple[float, ...], tuple[float, ...]]:
    """The peer's network (random weights, eval mode) and the mean/std its eval transform normalises with."""
    name = peer_name(entry)
    if entry.source == "torchvision":
        import torchvision

        kw: dict = {}
        mean, std = tuple(entry.record.mean), tuple(entry.record.std)
        if name in ("googlenet", "inception_v3"):  # as torchvision builds them for their weights
            kw = {"aux_logits": True, "init_weights": False, "transform_input": True}
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        model = torchvision.models.get_model(name, weights=None, **kw)
    elif entry.source == "timm":
        import timm

        model = timm.create_model(name, pretrained=False)
        mean, std = tuple(entry.record.mean), tuple(entry.record.std)
    else:
        raise ValueError(f"no peer network to build for source {entry.source!r}")
    randomize_bn(model)
    return model.eval(), mean, std


def randomize_bn(model: nn.Module, seed: int = 1) -> None:
    """Move BatchNorm statistics and affine parameters away from 0/1, so each must land in the right place."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                    m.bias.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)


def save_peer_file(model: nn.Module, path: Path, entry: WeightsEntry) -> Path:
    """Write ``model``'s state dict as the peer publishes it: safetensors for Hub files, else torch.save."""
    from ..outputs import atomic_path

    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path, "weights file") as tmp:
        if str(path).endswith(".safetensors"):
            from safetensors.torch import save_file

            save_file(sd, str(tmp))
        else:
            torch.save(sd, tmp)
    return path


def input_size(entry: WeightsEntry) -> int:
    """A small input side length at which both networks run (VGG's classifier wants the paper's 7x7 map)."""
    if entry.model.startswith("vgg"):
        return entry.record.input_size[-1]
    return SMALL_INPUT.get(entry.model, 64)


def compare(
    peer: nn.Module,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    ours: nn.Module,
    *,
    size: int,
    batch: int = 2,
    seed: int = 0,
) -> tuple[float, float]:
    """Max abs difference of the two networks' eval outputs on the same random pixels (each normalised as
    its own pipeline does), and the largest peer output magnitude."""
    g = torch.Generator().manual_seed(seed)
    pixels = torch.rand(batch, 3, size, size, generator=g)
    rec = ours.cnnzoo_record  # type: ignore[attr-defined]

    def norm(m: tuple[float, ...], s: tuple[float, ...]) -> torch.Tensor:
        return (pixels - torch.tensor(m).view(1, 3, 1, 1)) / torch.tensor(s).view(1, 3, 1, 1)

    with torch.no_grad():
        want = peer.eval()(norm(mean, std))
        got = ours.eval()(norm(tuple(rec.mean), tuple(rec.std)))
    want = want.logits if hasattr(want, "logits") else want
    got = got.logits if hasattr(got, "logits") else got
    return float((got - want).abs().max()), float(want.abs().max())
