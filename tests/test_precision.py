"""bf16 only where the hardware computes it (cnnzoo/precision.py), as autocast in training and evaluation,
and as OpenVINO's hint (issue #16)."""

from __future__ import annotations

import pytest
import torch

import cnnzoo
from cnnzoo.precision import PrecisionError, autocast, check_precision, cpu_has_native_bf16, native_bf16

needs_bf16 = pytest.mark.skipif(not native_bf16("cpu"), reason="this CPU has no native bf16")


def test_native_bf16_is_read_from_the_cpu_flags() -> None:
    assert cpu_has_native_bf16({"avx2", "avx512f", "avx512_bf16"})
    assert cpu_has_native_bf16({"amx_bf16", "amx_tile"})
    assert not cpu_has_native_bf16({"avx2", "avx512f", "avx512_vnni"})


def test_fp32_always_runs_and_unknown_precisions_are_one_sentence_errors() -> None:
    assert check_precision("fp32", "cpu") == "fp32"
    with pytest.raises(PrecisionError, match="choose one of: fp32, bf16"):
        check_precision("fp16", "cpu")


def test_bf16_without_native_support_is_refused_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import cnnzoo.timing

    monkeypatch.setattr(cnnzoo.timing, "cpu_flags", lambda: {"avx2"})
    with pytest.raises(PrecisionError, match=r"AVX512_BF16 or AMX.*use precision fp32\.$"):
        check_precision("bf16", "cpu")


@needs_bf16
def test_bf16_autocast_runs_convolutions_in_bf16_and_keeps_float32_weights() -> None:
    m = torch.nn.Conv2d(3, 4, 3)
    with autocast("bf16", "cpu"):
        y = m(torch.randn(2, 3, 8, 8))
    assert y.dtype == torch.bfloat16 and m.weight.dtype == torch.float32
    with autocast("fp32", "cpu"):
        assert m(torch.randn(2, 3, 8, 8)).dtype == torch.float32


@needs_bf16
def test_a_bf16_training_run_keeps_fp32_master_weights_and_learns(tmp_path) -> None:
    from cnnzoo.data import load_data
    from cnnzoo.train import Trainer, evaluate, seed_everything

    data = load_data("digits", 1, 32, augment="none")
    seed_everything(0)
    model = cnnzoo.create_model("lenet5_modern")
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    t = Trainer(model, opt, data.train, epochs=2, batch_size=32, progress=False, precision="bf16", log=False)
    t.fit()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert evaluate(model, data.test, precision="bf16").top1 > 0.85  # 10 classes: chance is 0.1
