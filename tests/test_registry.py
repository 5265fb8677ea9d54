"""The registry: names, metadata, clear errors for unknown names and options."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.errors import CnnzooError, UnknownModelError
from cnnzoo.registry import _REGISTRY, register_model


@pytest.fixture
def toy_model():
    """Register a throwaway model for the duration of one test."""

    @register_model(
        "_toy_net",
        family="toy",
        paper="A toy",
        year=2000,
        input_size=(1, 8, 8),
        paper_params=90,
        deviations=("not a real paper",),
    )
    def _toy_net(num_classes: int = 10, in_chans: int = 1, width: int = 4) -> nn.Module:
        return nn.Sequential(nn.Conv2d(in_chans, width, 3), nn.Flatten(), nn.LazyLinear(num_classes))

    yield "_toy_net"
    _REGISTRY.pop("_toy_net")


def test_list_models_is_sorted_and_filters_with_fnmatch(toy_model: str) -> None:
    names = cnnzoo.list_models()
    assert names == sorted(names)
    assert cnnzoo.list_models("_toy*") == ["_toy_net"]
    assert cnnzoo.list_models("_toy*", family="other") == []


def test_model_info_holds_the_registered_metadata(toy_model: str) -> None:
    info = cnnzoo.model_info(toy_model)
    assert (info.family, info.year, info.input_size, info.paper_params) == ("toy", 2000, (1, 8, 8), 90)
    assert info.deviations == ("not a real paper",)
    assert info.as_dict()["input_size"] == [1, 8, 8]


def test_create_model_passes_classes_channels_and_options(toy_model: str) -> None:
    m = cnnzoo.create_model(toy_model, num_classes=3, in_chans=2, width=5)
    assert m[0].in_channels == 2 and m[0].out_channels == 5
    assert m(torch.zeros(1, 2, 8, 8)).shape == (1, 3)
    assert m.cnnzoo_name == toy_model
    assert m.cnnzoo_record.model_kwargs == {"num_classes": 3, "in_chans": 2, "width": 5}
    assert (m.cnnzoo_record.input_size, m.cnnzoo_record.num_classes) == ((2, 8, 8), 3)


def test_unknown_option_names_the_valid_ones(toy_model: str) -> None:
    with pytest.raises(CnnzooError, match=r"has no option 'depth'; its options are: width"):
        cnnzoo.create_model(toy_model, depth=3)


def test_bad_num_classes_is_a_clear_error(toy_model: str) -> None:
    with pytest.raises(CnnzooError, match="num_classes must be a positive integer"):
        cnnzoo.create_model(toy_model, num_classes=0)


def test_unknown_model_suggests_close_names(toy_model: str) -> None:
    with pytest.raises(UnknownModelError, match=r"unknown model '_toy_nte'\. Did you mean: _toy_net\?"):
        cnnzoo.create_model("_toy_nte")


def test_cli_unknown_model_is_one_line_and_exit_2() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "cnnzoo", "summary", "no_such_net"], capture_output=True, text=True
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "unknown model 'no_such_net'" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_list_json_is_one_object() -> None:
    import json

    r = subprocess.run([sys.executable, "-m", "cnnzoo", "list", "--json"], capture_output=True, text=True)
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert {m["name"] for m in data["models"]} == set(cnnzoo.list_models())
