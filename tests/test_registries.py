"""The registries (#24): every open set of named things is a decorator and a dict whose names the command line
reads without importing torch, and whose entries the library gets by name; every closed set is one Enum."""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo import options
from cnnzoo.cli import build_parser
from cnnzoo.errors import CnnzooError, DataError, OptionError
from cnnzoo.registries import BACKENDS, METHODS, RUNTIMES, SOURCES, STRATEGIES, Registry, source_forms

REGISTRIES = {"sources": SOURCES, "methods": METHODS, "strategies": STRATEGIES, "backends": BACKENDS}
REGISTRIES["runtimes"] = RUNTIMES


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _choices(verb: str, flag: str) -> tuple[str, ...]:
    action = next(a for a in _subparser(verb)._actions if flag in a.option_strings)
    return tuple(action.choices)


# ------------------------------------------------------------------------------------------ read = registered
@pytest.mark.parametrize("which", sorted(REGISTRIES))
def test_what_the_source_declares_is_what_the_decorators_register(which: str) -> None:
    reg = REGISTRIES[which]
    declared = reg.declared()
    live = reg.load()  # imports every declaring module: the decorators run
    assert list(declared) == list(live) and len(live) >= 2
    for name, d in declared.items():
        e = live[name]
        assert (e.help, dict(e.meta), e.module) == (d.help, dict(d.meta), d.module)
        assert e.obj is not None and e.obj.__module__ == d.module


def test_the_built_in_names() -> None:
    assert source_forms() == (
        "digits",
        "fashion-mnist[:DIR]",
        "mnist[:DIR]",
        "mnist-5k[:DIR]",
        "cifar10[:DIR]",
        "cifar100[:DIR]",
        "cifar:DIR",
        "folder:DIR",
        "synthetic[:N]",
    )
    assert set(METHODS) == {
        "saliency",
        "smoothgrad",
        "gradcam",
        "guided-backprop",
        "guided-gradcam",
        "deconvnet",
        "occlusion",
        "class-model",
    }
    assert STRATEGIES.names() == (
        "feature-extraction",
        "finetune",
        "discriminative",
        "joint",
        "distill",
        "lwf",
    )
    assert BACKENDS.names()[:2] == ("torchvision-eager", "eager") and len(BACKENDS) == 10
    assert RUNTIMES.names() == ("onnxruntime", "openvino")


def test_the_command_line_offers_the_registered_names() -> None:
    assert _choices("explain", "--method") == METHODS.names()
    assert _choices("transfer", "--strategy") == STRATEGIES.names()
    assert _choices("export", "--runtime") == ("auto", *RUNTIMES.names())
    assert _choices("train", "--precision") == ("fp32", "bf16")
    for form in source_forms():
        assert form in _subparser("train").format_help().replace("\n", " ").replace("  ", " ")


def test_an_unknown_name_is_one_sentence_with_the_closest_names() -> None:
    with pytest.raises(
        OptionError,
        match=r"unknown method 'gradcm' \(did you mean gradcam or guided-gradcam\?\); choose one of: ",
    ):
        METHODS.get("gradcm")
    with pytest.raises(
        DataError, match="unknown backend 'tensorrt'; choose one of: torchvision-eager, eager"
    ):
        BACKENDS.get("tensorrt", DataError)


# ------------------------------------------------------------------------------------------ adding one
def test_a_new_data_source_is_one_decorated_function(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from cnnzoo.data import RawSplits, load_data, load_source, parse_data_spec
    from cnnzoo.data.sources import load_synthetic_source

    @SOURCES.register("_stripes", arg="count", help="throwaway test source of N striped images")
    def _stripes(spec, strict):  # noqa: ANN001, ANN202
        raw = load_synthetic_source(int(spec.count))
        return RawSplits("_stripes", raw.train, raw.test, [f"s{i}" for i in range(10)], natural=False)

    try:
        assert "_stripes[:N]" in source_forms()
        assert parse_data_spec("_stripes:40").count == 40
        raw = load_source("_stripes:40")
        assert (len(raw.train), len(raw.test), raw.classes[0]) == (32, 8, "s0")
        assert load_data("_stripes:40", 1, 16).num_classes == 10
        assert "_stripes[:N]" in _subparser("train").format_help()
        with pytest.raises(SystemExit):
            build_parser().parse_args(["train", "--help"])
        assert "_stripes[:N]" in capsys.readouterr().out
    finally:
        SOURCES.unregister("_stripes")
    with pytest.raises(DataError, match="unknown data source '_stripes:40'"):
        load_source("_stripes:40")


def test_a_new_explanation_method_is_one_decorated_function() -> None:
    from cnnzoo.explain import explain

    @METHODS.register(
        "_input-times-gradient", help="throwaway test method: x * dS_c/dx, summed over channels"
    )
    def _input_times_gradient(model, x, target, reduce="max"):  # noqa: ANN001, ANN202
        from cnnzoo.explain import input_gradient

        return (x * input_gradient(model, x, target)).sum(dim=1)

    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 8 * 8, 3)).eval()
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    try:
        assert "_input-times-gradient" in _choices("explain", "--method")
        exp = explain(model, x, method="_input-times-gradient", target=1)
        assert exp.attribution.shape == (2, 8, 8) and exp.target.tolist() == [1, 1]
        with pytest.raises(CnnzooError, match="takes no layer"):
            explain(model, x, method="_input-times-gradient", layer="0")
    finally:
        METHODS.unregister("_input-times-gradient")
    assert "_input-times-gradient" not in METHODS


def _package(root: Path, name: str, monkeypatch: pytest.MonkeyPatch, **modules: str) -> None:
    """A package ``name`` under ``root`` (put on ``sys.path``) with the given modules' source."""
    (root / name).mkdir()
    for module, source in {"__init__": "", **modules}.items():
        (root / name / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(root))


def test_a_new_module_in_the_home_package_is_found_without_importing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    regs = "from cnnzoo.registries import Registry\nTHINGS = Registry('thing', 'zoo_plugins', 'thing')\n"
    heavy = textwrap.dedent(
        """
        import torch  # what a real entry imports; the listing must not need it
        from .regs import THINGS
        thing = THINGS.register


        @thing(
            "ones",  # a comment with a ) inside
            help="a tensor of ones (see: 'quotes', \\"escapes\\" and brackets ([{)",
        )
        def ones():
            return torch.ones(1)
        """
    )
    _package(tmp_path, "zoo_plugins", monkeypatch, regs=regs, heavy=heavy)
    from zoo_plugins.regs import THINGS  # type: ignore[import-not-found]

    assert THINGS.names() == ("ones",) and "zoo_plugins.heavy" not in sys.modules
    assert THINGS.help("ones") == "a tensor of ones (see: 'quotes', \"escapes\" and brackets ([{)"
    assert THINGS.get("ones").obj().tolist() == [1.0] and "zoo_plugins.heavy" in sys.modules


def test_a_decorator_with_computed_arguments_is_refused_with_its_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = 'NAME = "x"\n\n\n@register_thing(NAME, help="computed")\ndef f():\n    pass\n'
    _package(tmp_path, "zoo_bad", monkeypatch, mod=mod)
    reg = Registry("thing", "zoo_bad", "register_thing")
    with pytest.raises(
        RuntimeError, match=r"mod\.py:4: @register_thing takes a name and keywords that are literals"
    ):
        reg.names()


def test_the_registries_and_options_import_no_torch() -> None:
    code = (
        "import sys; from cnnzoo.registries import BACKENDS, METHODS, RUNTIMES, SOURCES, STRATEGIES, "
        "source_forms; import cnnzoo.options; from cnnzoo.model_index import RECIPES; "
        "n = sum(len(x.names()) for x in (BACKENDS, METHODS, RUNTIMES, SOURCES, STRATEGIES)); "
        "print(n, len(source_forms()), len(RECIPES), 'torch' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["35", "9", "30", "False", "False"], out.stderr


# ------------------------------------------------------------------------------------------ strategies
def test_strategies_say_what_they_take_and_need() -> None:
    from cnnzoo.transfer import strategy_options

    assert set(strategy_options("finetune")) == {
        "freeze_epochs",
        "unfreeze",
        "lr_factor",
        "reset_head",
        "old_data",
    }
    joint, distill = strategy_options("joint"), strategy_options("distill")
    assert joint["old_data"].default is inspect.Parameter.empty
    assert distill["teacher"].default is inspect.Parameter.empty
    assert STRATEGIES.entry("lwf").meta == {"warmup": "warmup_epochs"}


def test_a_teacher_for_a_strategy_without_one_names_the_strategy_that_takes_it() -> None:
    from cnnzoo.transfer import run_transfer

    with pytest.raises(OptionError, match="teacher is only used by the distill strategy") as e:
        run_transfer("lenet5", "synthetic:40", "finetune", teacher="t.pt")
    assert e.value.names == ("teacher",)
    with pytest.raises(OptionError, match="the joint strategy needs old_data: give old_data"):
        run_transfer("lenet5", "synthetic:40", "joint")


# ------------------------------------------------------------------------------------------ closed sets
CHOICES = [c for c in vars(options).values() if isinstance(c, type) and issubclass(c, options.Choice)]


@pytest.mark.parametrize("choice", [c for c in CHOICES if c is not options.Choice], ids=lambda c: c.__name__)
def test_every_closed_set_parses_its_values_and_refuses_others_in_one_sentence(choice: type) -> None:
    for value in choice.values():
        member = choice.parse(value)
        assert member == value and str(member) == value and isinstance(member, str)
    with pytest.raises(CnnzooError) as e:
        choice.parse("no-such-value")
    msg = str(e.value)
    assert msg == f"unknown {choice.what()} 'no-such-value'; choose one of: {', '.join(choice.values())}."


def test_the_library_checks_each_closed_set_once() -> None:
    from cnnzoo.data.photos import resize_crop
    from cnnzoo.data.transforms import train_transform
    from cnnzoo.precision import PrecisionError, check_precision
    from cnnzoo.train.recipes import get_recipe

    with pytest.raises(PrecisionError, match="unknown precision 'fp16'; choose one of: fp32, bf16."):
        check_precision("fp16")
    with pytest.raises(
        CnnzooError, match="unknown optimizer 'lamb'; choose one of: sgd, rmsprop, rmsprop_tf, adam."
    ):
        get_recipe("lenet5").with_overrides(optimizer="lamb")
    with pytest.raises(DataError, match="unknown augmentation 'mixup'"):
        train_transform("mixup", (32, 32), (0.5,), (0.5,))
    with pytest.raises(DataError, match="unknown interpolation 'lanczos'; choose one of: nearest, bilinear"):
        resize_crop(torch.zeros(3, 8, 8, dtype=torch.uint8), 8, 8, "lanczos")
    with pytest.raises(CnnzooError, match="unknown shortcut 'D'; choose one of: A, B, C."):
        cnnzoo.create_model("resnet20", shortcut="D")
