"""Every closed set of option values, as a ``str`` :class:`~enum.Enum`, checked in one place.

A member is its value (``Precision.BF16 == "bf16"``), so plain strings keep working everywhere; what a user
gives is read once, at the library's door, with :meth:`Choice.parse`, whose error is the same sentence for
every set (``unknown precision 'fp16'; choose one of: fp32, bf16.``). The command line offers
``Choice.values()`` as its ``choices``. Imports nothing heavy (``cnnzoo --help`` reads it).

Open sets, the ones a contributor extends with a new file (data sources, explanation methods, transfer
strategies, benchmark backends, ONNX runtimes), are registries instead: :mod:`cnnzoo.registries`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from .errors import CnnzooError, OptionError

C = TypeVar("C", bound="Choice")


class Choice(str, Enum):
    """A closed set of option values; ``class Augment(Choice, what="augmentation")`` names the set in
    messages (default: the class name in lower case)."""

    def __init_subclass__(cls, what: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._noun = what or cls.__name__.lower()

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def what(cls) -> str:
        """The set's name in messages (``"augmentation"``)."""
        return str(cls._noun)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """The values, in their documented order (the command line's ``choices``)."""
        return tuple(m.value for m in cls)

    @classmethod
    def parse(cls: type[C], value: Any, error: type[CnnzooError] = CnnzooError, param: str = "") -> C:
        """``value`` as a member; anything else is one sentence listing the values (naming the parameter
        ``param`` where one set serves several; an :class:`OptionError` carries it for the CLI's flag), raised
        as ``error``."""
        try:
            return cls(value)
        except ValueError:
            where = f" for {param}" if param else ""
            message = f"unknown {cls.what()} {value!r}{where}; choose one of: {', '.join(cls.values())}."
            raise (
                error(message, param) if param and issubclass(error, OptionError) else error(message)
            ) from None


class Precision(Choice):
    """Numeric precision of training and inference (:mod:`cnnzoo.precision`)."""

    FP32 = "fp32"
    BF16 = "bf16"


class Optimizer(Choice):
    """A recipe's optimizer (:mod:`cnnzoo.train.recipes`)."""

    SGD = "sgd"
    RMSPROP = "rmsprop"
    RMSPROP_TF = "rmsprop_tf"
    ADAM = "adam"


class Schedule(Choice):
    """A recipe's per-epoch learning-rate schedule (:mod:`cnnzoo.train.recipes`)."""

    PLATEAU = "plateau"
    MULTISTEP = "multistep"
    PIECEWISE = "piecewise"
    STEP = "step"
    COSINE = "cosine"
    POLY = "poly"
    ONECYCLE = "onecycle"
    CONSTANT = "constant"


class NoDecay(Choice, what="weight-decay exclusion"):
    """Parameters a recipe leaves out of weight decay (:mod:`cnnzoo.train.recipes`)."""

    BIAS = "bias"
    NORM = "norm"
    DEPTHWISE = "depthwise"


class DropPathSchedule(Choice, what="drop-path schedule"):
    """How the drop-path rate runs over training: constant, or NASNet's linear ScheduledDropPath."""

    CONSTANT = "constant"
    LINEAR = "linear"


class TransferSchedule(Choice, what="transfer schedule"):
    """The learning-rate schedule of each transfer phase (:mod:`cnnzoo.transfer.strategies`)."""

    COSINE = "cosine"
    CONSTANT = "constant"


class BatchNormMode(Choice, what="BatchNorm mode"):
    """What a transfer run does with the body's BatchNorm layers (:mod:`cnnzoo.transfer.strategies`):
    ``frozen`` keeps their running statistics (inference mode), ``train`` updates them from each batch."""

    FROZEN = "frozen"
    TRAIN = "train"


class Augment(Choice, what="augmentation"):
    """A training augmentation (:mod:`cnnzoo.data.transforms`)."""

    NONE = "none"
    SHIFT = "shift"
    DISTORT = "distort"
    CIFAR = "cifar"
    CROP_FLIP = "crop-flip"
    CIFAR_REFLECT = "cifar_reflect"
    ALEXNET = "alexnet"
    CAFFE = "caffe"
    VGG = "vgg"
    RESNET = "resnet"
    INCEPTION = "inception"
    FBRESNET = "fbresnet"
    AUTOAUGMENT = "autoaugment"


class Interpolation(Choice):
    """How an image is resized (PIL / torchvision names)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


class Shortcut(Choice):
    """A residual network's shortcut option (He et al. 2016, Sec. 3.3)."""

    A = "A"
    B = "B"
    C = "C"


class Reduce(Choice, what="channel reduction"):
    """How the colour channels of a gradient map are combined (Simonyan et al. 2014: the maximum)."""

    MAX = "max"
    MEAN = "mean"


class ReluRule(Choice, what="ReLU rule"):
    """How a gradient crosses a ReLU (:mod:`cnnzoo.explain.guided`)."""

    GUIDED = "guided"
    DECONVNET = "deconvnet"


class Overlay(Choice):
    """What the Photo page draws over a photo (:mod:`cnnzoo.serve`)."""

    NONE = "none"
    SALIENCY = "saliency"
    GRADCAM = "gradcam"


class Exporter(Choice):
    """The ``torch.onnx`` exporter tried first (:mod:`cnnzoo.deploy.onnx_export`)."""

    TORCHSCRIPT = "torchscript"
    DYNAMO = "dynamo"


class Calibration(Choice, what="calibration method"):
    """How INT8 activation ranges are calibrated (:mod:`cnnzoo.deploy.quantize`)."""

    MINMAX = "minmax"
    PERCENTILE = "percentile"
    ENTROPY = "entropy"


class QuantFormat(Choice, what="quantization format"):
    """How a quantized ONNX graph is written: quantize/dequantize pairs or quantized operators."""

    QDQ = "qdq"
    QOPERATOR = "qoperator"


class QuantType(Choice, what="8-bit type"):
    """The 8-bit type of quantized weights or activations."""

    QUINT8 = "quint8"
    QINT8 = "qint8"


class Int8Weights(Choice, what="INT8 weight scheme"):
    """How INT8 weights are stored, which decides the integer kernels that run them
    (:mod:`cnnzoo.deploy.quantize`): ``auto`` picks per CPU, measuring whether its U8S8 kernels are exact."""

    AUTO = "auto"
    INT8 = "int8"  # signed 8-bit: U8S8 kernels (uint8 activations x int8 weights)
    INT8_7BIT = "int8-7bit"  # signed, in [-64, 64] (ONNX Runtime's reduce_range): U8S8 kernels, no overflow
    UINT8 = "uint8"  # unsigned 8-bit: U8U8 kernels


class SummaryFormat(Choice, what="format"):
    """The output format of ``cnnzoo summary``."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MD = "md"


class Split(Choice):
    """A data source's part."""

    TEST = "test"
    TRAIN = "train"


class SourceArg(Choice, what="source argument"):
    """What may follow a data source's name after the colon (``@register_source(..., arg=...)``)."""

    NONE = "none"  # digits
    OPTIONAL_DIR = "optional-dir"  # fashion-mnist[:DIR]
    DIR = "dir"  # folder:DIR
    COUNT = "count"  # synthetic[:N]


__all__ = [
    "Augment",
    "Calibration",
    "Choice",
    "DropPathSchedule",
    "Exporter",
    "Int8Weights",
    "Interpolation",
    "NoDecay",
    "Optimizer",
    "Overlay",
    "Precision",
    "QuantFormat",
    "QuantType",
    "Reduce",
    "ReluRule",
    "Schedule",
    "Shortcut",
    "SourceArg",
    "Split",
    "SummaryFormat",
    "TransferSchedule",
]
