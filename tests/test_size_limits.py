"""Every size a user gives is checked before memory is touched (issue #27): the need is worked out on the
``meta`` device and compared with the free memory; what cannot fit is one sentence naming the need, the
limit and the option, and no tensor of that size is ever made."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.analysis import memory
from cnnzoo.errors import CnnzooError
from cnnzoo.sizes import InputSizeError


def _tiny() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))


def test_the_lower_bounds_are_the_tensors_themselves() -> None:
    # 2,610 parameters (10,440 bytes); per image: input 1x8x8 (256 B), conv 4x8x8 (1,024 B), linear 10 (40 B)
    assert sum(p.numel() for p in _tiny().parameters()) == 2610
    # inference: the weights, the batch's input and its largest layer output
    assert memory.forward_bytes(_tiny(), (1, 8, 8), 2) == 10_440 + 2 * 256 + 2 * 1_024
    # backward: the weights and their gradients, the input, every convolution's and linear layer's output
    assert memory.forward_bytes(_tiny(), (1, 8, 8), 2, backward=True) == 2 * 10_440 + 2 * 256 + 2 * (
        1_024 + 40
    )
    assert memory.forward_bytes(_tiny(), (1, 8, 8), 2, dtype_bytes=8) == 10_440 * 2 + 2 * 512 + 2 * 2_048


def test_check_fits_names_the_need_the_limit_and_the_option(monkeypatch) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda device=None: (2_000_000_000, "this machine's RAM"))
    memory.check_fits(1_999_999_999, "x", "y")
    with pytest.raises(InputSizeError) as e:
        memory.check_fits(14_400_000_000, "an input of 1x60000x60000", "give a smaller --input")
    assert str(e.value) == (
        "an input of 1x60000x60000 needs at least 14.4 GB of memory, more than the 2.0 GB free in this "
        "machine's RAM; give a smaller --input."
    )


def test_the_free_memory_is_read_from_the_machine() -> None:
    free, where = memory.available_bytes()
    assert free > 0 and where == "this machine's RAM"


def _no_huge_tensors(monkeypatch) -> None:
    """Fail the test if a tensor of more than 1 GB is asked for: the check must come first; and 8 GB of
    free memory, whatever the machine has, so that the refusals are the same everywhere."""
    monkeypatch.setattr(memory, "available_bytes", lambda device=None: (8_000_000_000, "this machine's RAM"))
    real = torch.randn

    def guarded(*size, **kw):
        dims = size[0] if len(size) == 1 and isinstance(size[0], tuple | list) else size
        n = 1
        for d in dims:
            n *= int(d)
        assert n * 4 < 1e9, f"a {n * 4 / 1e9:.0f} GB tensor was made before the size was checked"
        return real(*size, **kw)

    monkeypatch.setattr(torch, "randn", guarded)


def test_erf_refuses_an_input_that_cannot_fit_before_making_it(monkeypatch) -> None:
    from cnnzoo.analysis.erf import effective_receptive_field

    _no_huge_tensors(monkeypatch)
    model = cnnzoo.create_model("lenet5")
    with pytest.raises(InputSizeError, match=r"16 inputs of 1x60000x60000 needs at least \d+\.\d GB"):
        effective_receptive_field(model, input_size=(1, 60000, 60000), samples=16)
    with pytest.raises(CnnzooError, match="lenet5 cannot run on a 3x32x32 input: at layer 'c1.conv'"):
        effective_receptive_field(model, input_size=(3, 32, 32), samples=2)
    with pytest.raises(CnnzooError, match="1x28x28 is too small for lenet5: at layer 'c5.conv'.*1x32x32"):
        effective_receptive_field(model, input_size=(1, 28, 28), samples=2)
    r = effective_receptive_field(model, ["c1"], input_size=(1, 32, 32), samples=2)
    assert r.layers[0].theory.rf == (5, 5)


def test_export_and_bench_refuse_before_making_the_input(tmp_path, monkeypatch) -> None:
    from cnnzoo.deploy import export_onnx
    from cnnzoo.deploy.bench import benchmark

    _no_huge_tensors(monkeypatch)
    with pytest.raises(InputSizeError, match="a batch of 2 inputs of 3x30000x30000 needs at least"):
        export_onnx(cnnzoo.create_model("resnet20"), tmp_path / "x.onnx", (3, 30000, 30000))
    with pytest.raises(CnnzooError, match="cannot run on input 3x32x32"):  # checked by running it once
        export_onnx(cnnzoo.create_model("lenet5"), tmp_path / "x.onnx", (3, 32, 32))
    with pytest.raises(InputSizeError, match="a batch of 100000000 inputs of 1x32x32 needs at least"):
        benchmark(cnnzoo.create_model("lenet5"), batch=100_000_000)
    assert list(tmp_path.iterdir()) == []


def test_dense_and_multi_scale_evaluation_refuse_scales_that_cannot_fit(monkeypatch) -> None:
    from cnnzoo.train.dense import check_scales

    _no_huge_tensors(monkeypatch)
    m = cnnzoo.create_model("vgg16", num_classes=10)
    with pytest.raises(
        InputSizeError, match="test scale 100000 is not valid; give scales Q .* from 1 to 65536"
    ):
        check_scales(m, (3, 224, 224), [256, 100000], dense=True)
    with pytest.raises(
        InputSizeError, match=r"scale 60000 \(3x60000x60000 per image\) needs at least 43\.2 GB"
    ):
        check_scales(m, (3, 224, 224), [60000], dense=False)
    with pytest.raises(
        InputSizeError, match=r"scale 20000 \(3x20000x20000 per image, dense\) needs at least"
    ):
        check_scales(m, (3, 224, 224), [20000], dense=True, views=2)  # 4.8 GB, and 9.6 GB of views
    check_scales(m, (3, 224, 224), [256, 384, 512], dense=True, views=2, batch=16)  # VGG's own scales fit
