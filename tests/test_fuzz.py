"""Property-based fuzzing (hypothesis) of the three parsers a user types into (issue #17): the lecture
spec, the input size and the DATA source. Whatever the text, the answer is a result or one
:class:`~cnnzoo.errors.CnnzooError` sentence: never another exception, never a hang (bounded examples and
a deadline per example keep this fast)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnzoo.analysis import build_from_spec, parse_spec, profile
from cnnzoo.data.sources import load_source
from cnnzoo.env import VARIABLES
from cnnzoo.errors import CnnzooError
from cnnzoo.sizes import MAX_SIDE, parse_input_size

# 300 fixed examples each; a 10 s deadline per example catches a hang without flaking on a loaded machine
FAST = settings(
    max_examples=300, deadline=10_000, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

_WORDS = [
    "conv", "conv3", "conv3-64", "conv11-96", "conv1x7-4", "maxpool", "maxpool3", "pool2", "avgpool",
    "gap", "fc", "fc-10", "dense", "dense-4096", "linear", "flatten", "relu", "bn", "lrn", "softmax",
    "dropout", "dropout-0.5", "dropout-1.5", "s2", "s0", "p1", "p0", "d2", "g2", "g0", "same", "valid",
    "nobias", "ceil", "3x3", "5x5", "0x3", "7", "64", "99999999999", "-", "x", "/", "//", "1e9", "-3",
]  # fmt: skip


def _one_sentence(e: CnnzooError) -> None:
    msg = str(e)
    assert msg and "\n" not in msg and "Traceback" not in msg


_token = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4).map(" ".join)
spec_text = st.one_of(
    st.text(max_size=40),
    st.tuples(st.lists(_token, min_size=1, max_size=5), st.sampled_from([", ", "; ", "\n", ","])).map(
        lambda t: t[1].join(t[0])
    ),
    st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8).map("/".join),
)


@FAST
@given(spec_text, st.integers(1, 4), st.integers(1, 40))
def test_spec_parser_and_builder_never_raise_anything_else(spec: str, chans: int, size: int) -> None:
    try:
        parse_spec(spec)
        with torch.device("meta"):  # as `cnnzoo summary` builds specs: shapes only, no memory
            model = build_from_spec(spec, in_chans=chans, input_size=size)
        profile(model, (chans, size, size))
    except CnnzooError as e:
        _one_sentence(e)


@FAST
@given(
    st.one_of(
        st.text(max_size=20),
        st.text(alphabet="0123456789x×, -+.e", max_size=24),
        st.integers(-5, 10**12),
        st.lists(st.integers(-5, 10**6), max_size=5),
        st.lists(st.floats(allow_nan=True), max_size=4),
        st.booleans(),
        st.none(),
    ),
    st.sampled_from([None, 1, 2, 3]),
)
def test_input_size_parser_gives_a_valid_size_or_one_sentence(value, spatial) -> None:
    try:
        dims = parse_input_size(value, spatial=spatial)
    except CnnzooError as e:
        _one_sentence(e)
        return
    assert all(isinstance(d, int) and 1 <= d <= MAX_SIDE for d in dims)
    assert spatial is None or len(dims) == spatial + 1


def test_input_size_parser_reads_the_documented_forms() -> None:
    assert parse_input_size("3x224x224") == parse_input_size(" 3 × 224 × 224 ") == (3, 224, 224)
    assert (
        parse_input_size("224") == parse_input_size(224) == parse_input_size([3, 224, 224]) == (3, 224, 224)
    )
    assert parse_input_size("1x28x28") == (1, 28, 28)
    assert parse_input_size("3x16", spatial=1) == (3, 16)
    for bad in ("3x227x227x5", "3x224", "", "x", "3xx4", "3x-1x4", "0x2x2", "3x99999999x4", True):
        with pytest.raises(CnnzooError, match="input size"):
            parse_input_size(bad)


_DATA_KINDS = ["digits", "mnist", "cifar", "folder", "synthetic", "imagenet", "", "MNIST", "tensors"]


@FAST
@given(
    st.one_of(
        st.text(max_size=30),
        st.tuples(
            st.sampled_from(_DATA_KINDS),
            st.sampled_from([":", "", "::"]),
            st.one_of(st.text(max_size=12), st.integers(-10, 500).map(str)),
        ).map("".join),
    )
)
def test_data_parser_never_raises_anything_else(spec: str) -> None:
    # synthetic:N counts stay small here (a real load); the bound on N is tested in test_data.py
    if spec.strip().lower() in ("digits",):  # a real load (1797 images); covered by the data tests
        return
    try:
        load_source(spec)
    except CnnzooError as e:
        _one_sentence(e)


# ---------------------------------------------------------------------------- issue #27: two more parsers
@FAST
@given(st.sampled_from([v.name for v in VARIABLES]), st.text(max_size=30))
def test_every_environment_variable_reads_to_a_value_or_one_sentence(name: str, value: str) -> None:
    import os

    from cnnzoo import env

    if "\0" in value:  # the environment cannot hold a NUL
        return
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        env.check_all()
    except CnnzooError as e:
        _one_sentence(e)
        assert name in str(e)
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


@settings(max_examples=60, deadline=20_000, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=4),
    st.booleans(),
)
def test_test_scales_are_run_or_refused_in_one_sentence_before_any_image_is_resized(scales, dense) -> None:
    from cnnzoo.factory import create_model
    from cnnzoo.train.dense import check_scales

    try:
        check_scales(create_model("lenet5", num_classes=2), (1, 32, 32), scales, dense=dense, views=2)
    except CnnzooError as e:
        _one_sentence(e)
        return
    assert all(1 <= q <= MAX_SIDE for q in scales)
