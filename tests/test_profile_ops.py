"""The profile's operator handles (#24): one table, ``OP_HANDLERS``, says what each operator costs and how it
moves the receptive field (fvcore's op-handle table); an operator without a handle is reported, not
silently counted as free."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.analysis import tracing


class _Bilinear(nn.Module):
    """A 1x1 convolution then an einsum with a weight matrix: 4*2*2*3 + 4*5 MACs if einsum were counted."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.w = nn.Parameter(torch.ones(4, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).mean((2, 3))
        return torch.einsum("bc,cd->bd", y, self.w)


def test_an_operator_without_a_handle_is_named_with_its_count_and_left_out_of_the_macs() -> None:
    p = cnnzoo.profile(_Bilinear(), (3, 2, 2))
    assert p.unsupported_ops == {"einsum": 1}
    assert p.total_macs == 4 * 2 * 2 * 3  # the convolution only
    assert p.to_dict()["unsupported_ops"] == {"einsum": 1}
    assert "no handle for: einsum x1." in p.summary_line()


def test_a_registered_handle_counts_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "OP_HANDLERS", dict(tracing.OP_HANDLERS))

    @tracing.op_handler("einsum")
    def _einsum_macs(args: tuple, kwargs: dict, out: torch.Tensor) -> int:  # "bc,cd->bd": out x c
        return out.numel() * args[1].shape[-1]

    p = cnnzoo.profile(_Bilinear(), (3, 2, 2))
    assert p.unsupported_ops == {} and p.total_macs == 48 + 5 * 4


def test_an_operator_gets_one_handle() -> None:
    with pytest.raises(RuntimeError, match="operator 'conv2d' has two handles"):
        tracing.op_handler("conv2d")(lambda a, k, o: 0)


@pytest.mark.parametrize(
    "name", ["resnet50", "inception_v3", "se_resnet50", "shufflenet_v2_x1_0", "nasnet_a_mobile"]
)
def test_every_operator_of_the_zoo_has_a_handle_or_is_known_to_cost_nothing(name: str) -> None:
    with torch.device("meta"):
        model = cnnzoo.create_model(name)
    assert cnnzoo.profile(model, cnnzoo.model_info(name).input_size).unsupported_ops == {}
