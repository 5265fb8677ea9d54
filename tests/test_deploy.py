"""ONNX export, INT8 quantization, the ONNX Runtime classifier and the benchmark (cnnzoo.deploy)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnzoo
from cnnzoo.deploy import (
    BACKENDS,
    DeployError,
    OnnxClassifier,
    QuantConfig,
    as_arrays,
    benchmark,
    check_onnx,
    evaluate_top1,
    export_int8,
    export_onnx,
    quantize_onnx,
    relative_error,
)
from cnnzoo.deploy.quantize import (
    EXACT_U8S8_FLAGS,
    inexact_runtimes,
    int8_sum_ratio,
    weight_choices,
    weights_note,
)
from cnnzoo.errors import CnnzooError, DataError
from cnnzoo.record import ModelRecord
from cnnzoo.sizes import parse_input_size
from cnnzoo.timing import cpu_flags, interleaved_times

# Small real models at small inputs: a plain CNN with the paper's odd layers, a CIFAR ResNet, a concat
# (Inception) model, depthwise and channel-shuffle models, a dense-concat model.
EXPORT_CASES = [
    ("lenet5", (1, 32, 32)),
    ("resnet20", (3, 32, 32)),
    ("googlenet", (3, 96, 96)),
    pytest.param("mobilenet_v1_025", (3, 64, 64), marks=pytest.mark.slow),
    pytest.param("shufflenet_v1_g3_x0_5", (3, 64, 64), marks=pytest.mark.slow),
    pytest.param("densenet40_k12", (3, 32, 32), marks=pytest.mark.slow),
]


def _model(name: str, **kw) -> nn.Module:
    if not cnnzoo.list_models(name):
        pytest.skip(f"{name} is not registered")
    return cnnzoo.create_model(name, **kw).eval()


def test_parse_input_size_reads_cxhxw_and_rejects_anything_else() -> None:
    assert parse_input_size("3x224x224") == (3, 224, 224)
    assert parse_input_size([1, 28, 28]) == (1, 28, 28)
    for bad in ("3x224", "axbxc", "0x32x32", "3x32x32x1"):
        with pytest.raises(CnnzooError, match="CxHxW"):
            parse_input_size(bad)


def test_relative_error_is_largest_difference_over_largest_reference() -> None:
    ref = np.array([[2.0, -4.0], [1.0, 0.5]], np.float32)
    out = ref + np.array([[0.0, 0.002], [-0.001, 0.0]], np.float32)
    assert relative_error(out, ref) == pytest.approx(0.002 / 4.0, rel=1e-4)
    assert relative_error(ref, ref) == 0.0
    bad = out.copy()
    bad[0, 0] = np.nan
    assert relative_error(bad, ref) == float("inf")  # a NaN is never "close"
    assert relative_error(ref, bad) == float("inf")


def test_export_refuses_a_model_whose_eager_outputs_are_nan(tmp_path) -> None:
    class Overflow(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x.flatten(1)[:, :4] * 1e30) ** 2 - float("inf")

    with pytest.raises(CnnzooError, match="not finite"):
        export_onnx(Overflow(), tmp_path / "nan.onnx", (1, 8, 8))


@pytest.mark.parametrize(("name", "size"), EXPORT_CASES)
def test_export_matches_eager_to_1e4_relative_with_dynamic_batch(tmp_path, name, size) -> None:
    model = _model(name)
    res = export_onnx(model, tmp_path / f"{name}.onnx", size)
    assert res.max_rel_error < 1e-4
    proto = onnx.load(str(res.path))
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.dim_value  # symbolic, not a fixed number
    # a third batch size, never seen by the export's own check
    assert check_onnx(res.path, model, size, batch_sizes=(5,)) < 1e-4


def test_avg_pool_with_divisor_override_exports_as_the_window_sum(tmp_path) -> None:
    """torch's TorchScript exporter drops ``divisor_override`` (a mean instead of LeNet-5's window sum)."""

    class SumPool(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            window_sum = F.avg_pool2d(x, 2, divisor_override=1)
            return window_sum + F.avg_pool2d(x, 3, 2, padding=1, divisor_override=2)

    model = SumPool()
    res = export_onnx(model, tmp_path / "sum.onnx", (2, 6, 6))
    sess = OnnxClassifier(res.path).session
    out = sess.run(None, {"input": np.ones((1, 2, 6, 6), np.float32)})[0]
    # 2x2 sums of ones are 4; 3x3 windows with zero padding hold 4 (corner), 6 (edge) or 9 ones, halved
    assert out[0, 0].tolist() == [[6.0, 7.0, 7.0], [7.0, 8.5, 8.5], [7.0, 8.5, 8.5]]
    assert check_onnx(res.path, model, (2, 6, 6)) < 1e-6


def test_export_of_a_model_that_cannot_run_on_the_input_says_so(tmp_path) -> None:
    with pytest.raises(DeployError, match="cannot run on input 1x4x4"):
        export_onnx(_model("lenet5"), tmp_path / "x.onnx", (1, 4, 4))


def test_exported_metadata_lets_the_session_classify_raw_images(tmp_path) -> None:
    model = _model("lenet5_linear")
    names = [f"digit{i}" for i in range(10)]
    model.cnnzoo_record = model.cnnzoo_record.with_new_head(10, names).with_(mean=(0.5,), std=(0.25,))
    res = export_onnx(model, tmp_path / "l.onnx")
    assert res.input_size == (1, 32, 32)
    clf = OnnxClassifier(res.path)
    assert clf.record == model.cnnzoo_record  # the whole record travels in the file
    assert clf.classes == names and clf.input_size == (1, 32, 32)
    raw = torch.rand(3, 1, 28, 28)  # [0, 1] pixels 4 short: centred in the field as training did, normalised
    top = clf.predict(raw, topk=3)
    expected = model((F.pad(raw, (2, 2, 2, 2)) - 0.5) / 0.25)
    assert [t[0][0] for t in top] == [f"digit{i}" for i in expected.argmax(1).tolist()]
    assert all(len(t) == 3 and t[0][1] >= t[1][1] >= t[2][1] for t in top)
    from PIL import Image

    img = Image.fromarray((raw[0, 0].numpy() * 255).astype(np.uint8))
    assert clf.predict([img])[0][0][0] in names


def test_session_rejects_missing_file_and_wrong_image_shape(tmp_path) -> None:
    with pytest.raises(DeployError, match="does not exist"):
        OnnxClassifier(tmp_path / "none.onnx")
    res = export_onnx(_model("lenet5"), tmp_path / "l.onnx")
    with pytest.raises(DeployError, match="needs 1x32x32"):
        OnnxClassifier(res.path).logits(np.zeros((1, 1, 28, 28), np.float32))


def test_int8_file_is_qdq_with_per_channel_int8_weights_and_uint8_activations(tmp_path) -> None:
    model = _model("resnet20")
    fp32 = export_onnx(model, tmp_path / "fp32.onnx", (3, 32, 32)).path
    q = quantize_onnx(fp32, tmp_path / "int8.onnx", torch.randn(16, 3, 32, 32), QuantConfig(num_samples=16))
    graph = onnx.load(str(q)).graph
    inits = {t.name: t for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert len(convs) == 19  # resnet20: 3x3 stem + 18 in 9 blocks (option A shortcuts: no 1x1 convs)
    # weights: int8, one scale per output channel (axis 0)
    w_dq = [
        n
        for n in graph.node
        if n.op_type == "DequantizeLinear"
        and n.input[0] in inits
        and inits[n.input[0]].data_type == onnx.TensorProto.INT8
        and len(inits[n.input[0]].dims) == 4
    ]
    assert len(w_dq) == len(convs)
    first = w_dq[0]
    assert inits[first.input[1]].dims == [16]  # resnet20's first conv has 16 output channels
    # activations: uint8 zero points on every QuantizeLinear
    q_nodes = [n for n in graph.node if n.op_type == "QuantizeLinear"]
    assert q_nodes and all(inits[n.input[2]].data_type == onnx.TensorProto.UINT8 for n in q_nodes)
    meta = {p.key: p.value for p in onnx.load(str(q)).metadata_props}
    assert json.loads(meta["cnnzoo_record"])["name"] == "resnet20" and "per-channel" in meta["quantization"]
    # 8-bit where this CPU's U8S8 kernels sum them exactly, else 7-bit (|w| <= 64): quantize_onnx keeps the
    # fast kernels; the metadata says which and why
    weights = [inits[n.input[0]] for n in w_dq]
    largest = max(int(np.abs(onnx.numpy_helper.to_array(t).astype(int)).max()) for t in weights)
    assert largest == (64 if inexact_runtimes("int8") else 127)
    assert meta["quantization_weights"] == weights_note(
        QuantConfig(weights="int8-7bit" if largest == 64 else "int8")
    )


def _no_vnni_x86() -> bool:
    flags = cpu_flags()
    return "avx2" in flags and not flags & set(EXACT_U8S8_FLAGS)


def test_u8s8_kernels_saturate_exactly_where_the_cpu_lacks_vnni_and_auto_weights_avoid_them() -> None:
    """The probe's products are all 255 x 127: VNNI / AMX / non-x86 kernels give the exact sum; x86 without
    VNNI adds pairs into saturating int16, 72 x 32,767 of 4,663,440 -- 200 output steps come out as 101.
    7-bit int8 and uint8 weights are exact on every CPU; "auto" takes the most precise exact scheme."""
    for runtime in ("onnxruntime", "openvino"):
        if runtime == "openvino":
            pytest.importorskip("openvino")
        want = 101 / 200 if _no_vnni_x86() else 1.0
        assert int8_sum_ratio("int8", runtime) == pytest.approx(want, abs=1e-4), runtime
        assert int8_sum_ratio("int8-7bit", runtime) == pytest.approx(1.0, abs=1e-4)
        assert int8_sum_ratio("uint8", runtime) == pytest.approx(1.0, abs=1e-4)
    auto = [c.weights for c in weight_choices(QuantConfig())]
    assert auto == (["uint8", "int8-7bit"] if _no_vnni_x86() else ["int8"])
    assert [c.weights for c in weight_choices(QuantConfig(weights="int8"))] == ["int8"]  # as asked
    with pytest.raises(DeployError, match="unknown INT8 weight scheme 'int4' for weights"):
        QuantConfig(weights="int4")


def test_quant_config_rejects_unknown_choices() -> None:
    with pytest.raises(DeployError, match="activation_type"):
        QuantConfig(activation_type="int4")


def test_as_arrays_reads_tensors_pairs_and_rejects_wrong_sizes() -> None:
    x, y = torch.randn(5, 1, 8, 8), torch.arange(5)
    imgs, labels = as_arrays((x, y), (1, 8, 8), limit=3)
    assert imgs.shape == (3, 1, 8, 8) and labels.tolist() == [0, 1, 2]
    with pytest.raises(DataError, match="the model needs 3x8x8"):
        as_arrays(x, (3, 8, 8))
    with pytest.raises(DataError, match="does not exist"):
        as_arrays("missing_images.pt", (1, 8, 8))


@pytest.fixture(scope="module")
def digits_model() -> tuple[nn.Module, object]:
    """A tiny CNN trained for a few epochs on scikit-learn's 1,437 real training digits, at 16x16 (the digits
    source lays them out as MNIST does, 20x20 in a 28x28 field; at 8x8 the strokes would be 6 pixels tall)."""
    from cnnzoo.data import load_data

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small steps: one thread is faster than two fighting over a busy machine
    torch.manual_seed(0)
    bundle = load_data("digits", in_chans=1, input_size=16)
    x, y = as_arrays(bundle, (1, 16, 16), split="train")
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, 2, 1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, 1, 1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 8 * 8, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        for idx in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            F.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    torch.set_num_threads(threads)
    # a module cnnzoo did not build says what it is the same way: a record
    model.cnnzoo_record = ModelRecord(
        "digits-cnn", {}, (1, 16, 16), bundle.mean, bundle.std, num_classes=10, classes=tuple(bundle.classes)
    )
    return model.eval(), bundle


def test_int8_on_real_digits_loses_at_most_half_a_point(tmp_path, digits_model) -> None:
    model, bundle = digits_model
    rep = export_int8(model, tmp_path / "d.onnx", bundle, min_speedup=0.0, bench_repeats=2)
    assert rep.heldout_images == 360 and rep.calibration_images == 128  # digits' test part; 128 to calibrate
    assert rep.fp32_top1 is not None and rep.fp32_top1 > 90.0
    assert rep.int8_top1 >= rep.fp32_top1 - 0.5
    assert rep.kept == "int8"
    x = as_arrays(bundle, (1, 16, 16), split="test")[0]
    labels = OnnxClassifier(rep.path).predict(x[:4], normalized=True)
    assert all(lab[0][0] in bundle.classes for lab in labels)
    # The integer kernels compute what the file says: the same QDQ graph run in float (no fusion into
    # integer kernels) gives the same 360 answers and logits within rounding. 8-bit int8 weights on a CPU
    # without VNNI gave 0.15 (saturated sums) and one changed answer here; 7-bit ones 0.006, uint8 ones 0.
    assert rep.weights == ("uint8" if _no_vnni_x86() else "int8")
    meta = {p.key: p.value for p in onnx.load(rep.path).metadata_props}
    assert (
        meta["quantization_weights"] == rep.weights_note and f"weights {rep.weights} " in meta["quantization"]
    )
    fused, emulated = (_ort_logits(rep.path, x, level) for level in ("all", "none"))
    assert (fused.argmax(1) == emulated.argmax(1)).all()
    assert relative_error(fused, emulated) < 0.02


def _ort_logits(path: str, x: np.ndarray, optimize: str) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if optimize == "none":  # QuantizeLinear / DequantizeLinear / Conv, in float
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def test_cli_int8_export_says_which_weights_and_whether_this_cpu_sums_them_exactly(tmp_path, capsys) -> None:
    from cnnzoo.cli import main

    base = ["export", "lenet5", "--int8", "--calibration", "digits", "--calibration-samples", "32"]
    assert main([*base, "--out", str(tmp_path / "a.onnx"), "--weights", "int8"]) == 0
    out = capsys.readouterr().out
    assert f"INT8 model: {weights_note(QuantConfig(weights='int8'))}\n" in out
    assert ("get sums wrong on this CPU (AVX2 without VNNI)" in out) == _no_vnni_x86()
    assert main([*base, "--out", str(tmp_path / "b.onnx"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["weights"] == ("uint8" if _no_vnni_x86() else "int8") or (
        rep["weights"] == "int8-7bit" and "so int8-7bit weights were used" in rep["weights_note"]
    )


def test_int8_that_is_not_fast_enough_writes_fp32_and_says_why(tmp_path, digits_model) -> None:
    model, bundle = digits_model
    rep = export_int8(model, tmp_path / "d.onnx", bundle, min_speedup=1e9, bench_repeats=2)
    assert rep.kept == "fp32" and "not faster than FP32" in rep.reason
    ops = {n.op_type for n in onnx.load(rep.path).graph.node}
    assert "QuantizeLinear" not in ops and "Conv" in ops
    assert json.loads(json.dumps(rep.as_dict()))["kept"] == "fp32"


def test_benchmark_lists_each_backend_with_figures_or_an_error() -> None:
    model = _model("resnet20")
    backends = ["torchvision-eager", "eager", "channels-last", "onnxruntime-fp32", "onnxruntime-int8"]
    rep = benchmark(model, batch=2, input_size="3x32x32", backends=backends, warmup=1, repeats=3, peak=False)
    d = rep.as_dict()
    assert d["model"] == "resnet20" and d["batch"] == 2 and d["input"] == "3x32x32"
    assert [r["backend"] for r in d["results"]] == backends
    tv = d["results"][0]
    assert "error" in tv and "images_per_s" not in tv  # torchvision has no CIFAR ResNet-20
    macs = cnnzoo.profile(model, input_size=(3, 32, 32)).total_macs
    assert d["macs_per_image"] == macs
    for r in d["results"][1:]:
        assert set(r) >= {"backend", "images_per_s", "p50_ms", "p95_ms", "gflops"}, r
        assert r["p95_ms"] >= r["p50_ms"] > 0
        assert r["images_per_s"] == pytest.approx(2 / (r["p50_ms"] / 1e3), rel=1e-3)
        assert r["gflops"] == pytest.approx(2 * macs * r["images_per_s"] / 1e9, rel=1e-2)
    assert rep.calibration.startswith("synthetic")


def test_benchmark_runs_torchvisions_counterpart_and_rejects_unknown_backends() -> None:
    rep = benchmark(
        "resnet18",
        batch=1,
        input_size=(3, 32, 32),
        backends=["torchvision-eager"],
        warmup=0,
        repeats=1,
        peak=False,
    )
    assert rep.torchvision_model == "resnet18" and rep.results[0].images_per_s > 0
    with pytest.raises(DeployError, match="unknown backend 'tensorrt'"):
        benchmark("resnet20", backends=["tensorrt"])
    assert BACKENDS.names()[:2] == ("torchvision-eager", "eager")


def test_interleaved_times_call_every_backend_once_per_round_in_rotating_order() -> None:
    calls: list[str] = []
    runners = {n: (lambda n=n: calls.append(n)) for n in ("a", "b", "c")}
    times = interleaved_times(runners, rounds=4)
    assert calls == list("abcbcacababc")
    assert {n: len(t) for n, t in times.items()} == {"a": 4, "b": 4, "c": 4}
    assert all(t >= 0 for ts in times.values() for t in ts)


@pytest.mark.slow
def test_benchmark_compile_backend_runs() -> None:
    rep = benchmark(
        _model("resnet20"),
        batch=2,
        input_size=(3, 32, 32),
        backends=["compile"],
        warmup=1,
        repeats=2,
        peak=False,
    )
    assert rep.results[0].error is None and rep.results[0].images_per_s > 0


# ------------------------------------------------------------------------------------------ OpenVINO ----


def test_openvino_runs_the_fp32_file_in_true_float32(tmp_path) -> None:
    """With the f32 precision hint OpenVINO matches ONNX Runtime to float32 rounding; in its AMX default
    (bf16) the gap would be ~1e-2."""
    from cnnzoo.deploy.runtimes import open_runtime

    res = export_onnx(_model("resnet20"), tmp_path / "r.onnx", (3, 32, 32))
    x = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(0)).numpy()
    ref = open_runtime(res.path, "onnxruntime").run(x)
    out = open_runtime(res.path, "openvino").run(x)  # dynamic batch
    assert relative_error(out, ref) < 1e-4
    fixed = open_runtime(res.path, "openvino", batch=5, threads=1)
    assert relative_error(fixed.run(x), ref) < 1e-4


def test_openvino_runs_the_int8_file_as_accurately_as_onnxruntime(tmp_path, digits_model) -> None:
    model, bundle = digits_model
    rep = export_int8(
        model,
        tmp_path / "d.onnx",
        bundle,
        min_speedup=0.0,
        bench_repeats=2,
        runtime="openvino",
    )
    assert rep.runtime == "openvino" and rep.kept == "int8"
    assert rep.int8_top1 >= rep.fp32_top1 - 0.5  # measured on OpenVINO
    x, y = as_arrays(bundle, (1, 16, 16), split="test")
    ort_top1 = evaluate_top1(rep.path, x, y)
    assert abs(ort_top1 - rep.int8_top1) <= 0.6  # the same INT8 file, two runtimes: at most 2 of 360 differ
    ov = OnnxClassifier(rep.path, runtime="openvino").predict(x[:20], normalized=True)
    ort = OnnxClassifier(rep.path).predict(x[:20], normalized=True)
    assert sum(a[0][0] == b[0][0] for a, b in zip(ov, ort)) >= 19


def test_unknown_runtime_is_refused_with_the_choices(tmp_path) -> None:
    from cnnzoo.deploy.runtimes import open_runtime

    res = export_onnx(_model("lenet5"), tmp_path / "l.onnx")
    with pytest.raises(DeployError, match="unknown runtime 'tensorrt'; choose one of: onnxruntime, openvino"):
        open_runtime(res.path, "tensorrt")


def test_benchmark_times_openvino_backends_on_the_same_files() -> None:
    backends = ["onnxruntime-fp32", "onnxruntime-int8", "openvino-fp32", "openvino-int8"]
    rep = benchmark(
        _model("resnet20"), batch=2, input_size="3x32x32", backends=backends, warmup=1, repeats=2, peak=True
    )
    assert [r.backend for r in rep.results] == backends
    assert all(r.error is None and r.images_per_s > 0 for r in rep.results), rep.results
    assert rep.peak_gflops and rep.peak_gflops > 1  # the sgemm probe ran in the same rounds
