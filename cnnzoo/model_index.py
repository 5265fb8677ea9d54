"""The registered models' table for ``cnnzoo list`` and the training recipes' names for ``cnnzoo train
--recipe``, as literals: both live in modules that import torch (every model family; the recipes, whose
TensorFlow RMSProp is an optimizer class), and reading them here keeps those commands and every ``--help`` a
fraction of a second. Generated from the live registry and recipe table (``python -m cnnzoo.model_index``
rewrites the part between the markers); ``tests/test_cli_startup.py`` checks both equal the live values, so a
new or changed model or recipe fails the tests until the file is regenerated.
"""

# ruff: noqa: E501  (the generated table keeps one model per line)

from __future__ import annotations

import sys
from pathlib import Path

# <generated> (python -m cnnzoo.model_index)
# fmt: off
#: the training recipes' names (cnnzoo.train.recipes.RECIPES), sorted
RECIPES: tuple[str, ...] = ('alexnet', 'densenet_cifar', 'densenet_imagenet', 'efficientnet_lite', 'fast', 'fractalnet', 'googlenet', 'inception_v3', 'inception_v4', 'lenet5', 'lenet5_linear_head', 'mobilenet_v1', 'mobilenet_v2', 'nasnet', 'nin', 'preact_resnet_cifar', 'preact_resnet_imagenet', 'resnet_cifar', 'resnet_imagenet', 'resnext_cifar', 'resnext_imagenet', 'senet', 'shufflenet_v1', 'shufflenet_v2', 'squeezenet', 'vgg', 'wrn_cifar', 'wrn_imagenet', 'xception', 'zfnet')
#: name -> (family, year, input size, the first 70 characters of the description) of every registered model
MODELS: dict[str, tuple[str, int, tuple[int, int, int], str]] = {
    'alexnet': ('alexnet', 2012, (3, 227, 227), 'AlexNet as in Krizhevsky et al. 2012: two towers (grouped conv2/4/5), '),
    'alexnet_owt': ('alexnet', 2014, (3, 224, 224), 'torchvision\'s AlexNet ("one weird trick") with torchvision\'s parameter'),
    'alexnet_single': ('alexnet', 2012, (3, 227, 227), 'AlexNet with ungrouped convolutions (one tower): the "62.3M parameters'),
    'densenet121': ('densenet', 2017, (3, 224, 224), 'DenseNet-121 (k=32, blocks 6-12-24-16), Table 1.'),
    'densenet161': ('densenet', 2017, (3, 224, 224), "DenseNet-161 (k=48, 96 stem channels, blocks 6-12-36-24), the authors'"),
    'densenet169': ('densenet', 2017, (3, 224, 224), 'DenseNet-169 (k=32, blocks 6-12-32-32), Table 1.'),
    'densenet201': ('densenet', 2017, (3, 224, 224), 'DenseNet-201 (k=32, blocks 6-12-48-32), Table 1.'),
    'densenet264': ('densenet', 2017, (3, 224, 224), 'DenseNet-264 (k=32, blocks 6-12-64-48), Table 1 (no torchvision peer).'),
    'densenet40_k12': ('densenet', 2017, (3, 32, 32), 'Basic DenseNet, L=40, k=12 (three blocks of 12 BN-ReLU-Conv3x3 layers,'),
    'densenet_bc100_k12': ('densenet', 2017, (3, 32, 32), 'DenseNet-BC, L=100, k=12 (three blocks of 16 bottleneck layers, theta='),
    'densenet_bc190_k40': ('densenet', 2017, (3, 32, 32), 'DenseNet-BC, L=190, k=40, Table 2.'),
    'densenet_bc250_k24': ('densenet', 2017, (3, 32, 32), 'DenseNet-BC, L=250, k=24, Table 2.'),
    'efficientnet_lite0': ('efficientnet', 2019, (3, 224, 224), "EfficientNet-Lite0 (EfficientNet-B0's Table 1 as inverted residuals wi"),
    'fractalnet40_cifar': ('fractalnet', 2017, (3, 32, 32), 'FractalNet, 40 layers (B=5 blocks, C=4 columns) for CIFAR, with drop-p'),
    'fractalnet_cifar': ('fractalnet', 2017, (3, 32, 32), 'FractalNet, 20 layers (B=5 blocks, C=3 columns) for CIFAR, with drop-p'),
    'googlenet': ('googlenet', 2014, (3, 224, 224), 'GoogLeNet exactly per Szegedy et al. Table 1: no BatchNorm, LRN in the'),
    'googlenet_bn': ('googlenet', 2014, (3, 224, 224), 'torchvision\'s GoogLeNet (BatchNorm, 3x3 "5x5" branch) with its paramet'),
    'inception_resnet_v1': ('inception', 2017, (3, 299, 299), 'Inception-ResNet-v1 (Szegedy et al., 2017, Figs. 10-15), 299x299 input'),
    'inception_resnet_v2': ('inception', 2017, (3, 299, 299), 'Inception-ResNet-v2 (Szegedy et al., 2017), the released network, 299x'),
    'inception_v3': ('inception', 2016, (3, 299, 299), 'Inception-v3 (Szegedy et al., 2016) with its batch-normalised auxiliar'),
    'inception_v4': ('inception', 2017, (3, 299, 299), 'Inception-v4 (Szegedy et al., 2017, Fig. 9), 299x299 input.'),
    'lenet5': ('lenet', 1998, (1, 32, 32), 'LeNet-5 as in LeCun et al. 1998: scaled tanh, trainable subsampling, s'),
    'lenet5_linear': ('lenet', 1998, (1, 32, 32), 'LeNet-5 with a linear output layer instead of the RBF units; everythin'),
    'lenet5_modern': ('lenet', 1998, (1, 32, 32), 'The common modern re-implementation of LeNet-5: ReLU, max-pooling, ful'),
    'mobilenet_v1': ('mobilenet', 2017, (3, 224, 224), 'MobileNet v1 1.0 (Table 1; width multiplier ``alpha``, resolution mult'),
    'mobilenet_v1_025': ('mobilenet', 2017, (3, 224, 224), 'MobileNet v1 0.25 (Table 6).'),
    'mobilenet_v1_050': ('mobilenet', 2017, (3, 224, 224), 'MobileNet v1 0.5 (Table 6).'),
    'mobilenet_v1_075': ('mobilenet', 2017, (3, 224, 224), 'MobileNet v1 0.75 (Table 6).'),
    'mobilenet_v2': ('mobilenet', 2018, (3, 224, 224), 'MobileNetV2 1.0 (Table 2; width multiplier ``width_mult``).'),
    'mobilenet_v2_140': ('mobilenet', 2018, (3, 224, 224), 'MobileNetV2 1.4 (Table 4).'),
    'nasnet_a_large': ('nasnet', 2018, (3, 331, 331), 'NASNet-A Large, 6 @ 4032 (Zoph et al., 2018, Table 2), 331x331 input, '),
    'nasnet_a_mobile': ('nasnet', 2018, (3, 224, 224), 'NASNet-A Mobile, 4 @ 1056 (Zoph et al., 2018, Table 2), 224x224 input.'),
    'nin_cifar': ('nin', 2014, (3, 32, 32), 'Network in Network (Lin et al. 2014), CIFAR-10 model: three mlpconv la'),
    'plain110': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 plain-110: ResNet-110 without shortcuts (He et al. 2016, Fig.'),
    'plain18': ('resnet', 2015, (3, 224, 224), "Plain-18: ResNet-18's layers, no shortcuts (He et al. 2016, Table 2)."),
    'plain20': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 plain-20: ResNet-20 without shortcuts (He et al. 2016, Fig. 6'),
    'plain32': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 plain-32: ResNet-32 without shortcuts (He et al. 2016, Fig. 6'),
    'plain34': ('resnet', 2015, (3, 224, 224), "Plain-34: ResNet-34's layers, no shortcuts (He et al. 2016, Table 2)."),
    'plain44': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 plain-44: ResNet-44 without shortcuts (He et al. 2016, Fig. 6'),
    'plain56': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 plain-56: ResNet-56 without shortcuts (He et al. 2016, Fig. 6'),
    'preact_resnet1001': ('preact_resnet', 2016, (3, 32, 32), 'Pre-activation ResNet-1001 for CIFAR-10 (Identity Mappings, bottleneck'),
    'preact_resnet101': ('preact_resnet', 2016, (3, 224, 224), 'Pre-activation ResNet-101 for ImageNet (Identity Mappings, Fig. 4e / T'),
    'preact_resnet110': ('preact_resnet', 2016, (3, 32, 32), 'Pre-activation ResNet-110 for CIFAR-10 (Identity Mappings, basic block'),
    'preact_resnet152': ('preact_resnet', 2016, (3, 224, 224), 'Pre-activation ResNet-152 for ImageNet (Identity Mappings, Fig. 4e / T'),
    'preact_resnet164': ('preact_resnet', 2016, (3, 32, 32), 'Pre-activation ResNet-164 for CIFAR-10 (Identity Mappings, bottlenecks'),
    'preact_resnet18': ('preact_resnet', 2016, (3, 224, 224), 'Pre-activation ResNet-18 for ImageNet (Identity Mappings, Fig. 4e / Ta'),
    'preact_resnet200': ('preact_resnet', 2016, (3, 224, 224), 'Pre-activation ResNet-200 for ImageNet (Identity Mappings, Fig. 4e / T'),
    'preact_resnet34': ('preact_resnet', 2016, (3, 224, 224), 'Pre-activation ResNet-34 for ImageNet (Identity Mappings, Fig. 4e / Ta'),
    'preact_resnet50': ('preact_resnet', 2016, (3, 224, 224), 'Pre-activation ResNet-50 for ImageNet (Identity Mappings, Fig. 4e / Ta'),
    'resnet101': ('resnet', 2015, (3, 224, 224), 'ResNet-101 (v1 as in the paper; shortcut option B by default).'),
    'resnet101_v1_5': ('resnet', 2015, (3, 224, 224), 'ResNet-101 (v1.5, stride in the 3x3; shortcut option B by default).'),
    'resnet110': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 ResNet-110 (He et al. 2016, Sec. 4.2, Table 6; option A short'),
    'resnet1202': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 ResNet-1202 (He et al. 2016, Sec. 4.2, Table 6; option A shor'),
    'resnet152': ('resnet', 2015, (3, 224, 224), 'ResNet-152 (v1 as in the paper; shortcut option B by default).'),
    'resnet152_v1_5': ('resnet', 2015, (3, 224, 224), 'ResNet-152 (v1.5, stride in the 3x3; shortcut option B by default).'),
    'resnet18': ('resnet', 2015, (3, 224, 224), 'ResNet-18 (v1 as in the paper; shortcut option B by default).'),
    'resnet20': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 ResNet-20 (He et al. 2016, Sec. 4.2, Table 6; option A shortc'),
    'resnet32': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 ResNet-32 (He et al. 2016, Sec. 4.2, Table 6; option A shortc'),
    'resnet34': ('resnet', 2015, (3, 224, 224), 'ResNet-34 (v1 as in the paper; shortcut option B by default).'),
    'resnet44': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 ResNet-44 (He et al. 2016, Sec. 4.2, Table 6; option A shortc'),
    'resnet50': ('resnet', 2015, (3, 224, 224), 'ResNet-50 (v1 as in the paper; shortcut option B by default).'),
    'resnet50_v1_5': ('resnet', 2015, (3, 224, 224), 'ResNet-50 (v1.5, stride in the 3x3; shortcut option B by default).'),
    'resnet56': ('resnet', 2015, (3, 32, 32), 'CIFAR-10 ResNet-56 (He et al. 2016, Sec. 4.2, Table 6; option A shortc'),
    'resnext101_32x8d': ('resnext', 2016, (3, 224, 224), "ResNeXt-101 (32x8d) for ImageNet (Xie et al. 2017), torchvision's layo"),
    'resnext101_64x4d': ('resnext', 2016, (3, 224, 224), "ResNeXt-101 (64x4d) for ImageNet (Xie et al. 2017), torchvision's layo"),
    'resnext29_16x64d': ('resnext', 2016, (3, 32, 32), 'ResNeXt-29 (16x64d) for CIFAR-10 (Xie et al. 2017, Table 7).'),
    'resnext29_8x64d': ('resnext', 2016, (3, 32, 32), 'ResNeXt-29 (8x64d) for CIFAR-10 (Xie et al. 2017, Table 7).'),
    'resnext50_32x4d': ('resnext', 2016, (3, 224, 224), "ResNeXt-50 (32x4d) for ImageNet (Xie et al. 2017), torchvision's layou"),
    'se_resnet101': ('senet', 2017, (3, 224, 224), "se_resnet101 (Hu et al. 2018), the authors' Caffe layout (timm legacy_"),
    'se_resnet152': ('senet', 2017, (3, 224, 224), "se_resnet152 (Hu et al. 2018), the authors' Caffe layout (timm legacy_"),
    'se_resnet50': ('senet', 2017, (3, 224, 224), "se_resnet50 (Hu et al. 2018), the authors' Caffe layout (timm legacy_*"),
    'se_resnext101_32x4d': ('senet', 2017, (3, 224, 224), "se_resnext101_32x4d (Hu et al. 2018), the authors' Caffe layout (timm "),
    'se_resnext50_32x4d': ('senet', 2017, (3, 224, 224), "se_resnext50_32x4d (Hu et al. 2018), the authors' Caffe layout (timm l"),
    'senet154': ('senet', 2017, (3, 224, 224), "senet154 (Hu et al. 2018), the authors' Caffe layout (timm legacy_* na"),
    'shufflenet_v1': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v1, any ``groups`` in {1, 2, 3, 4, 8} and ``scale`` (defaul'),
    'shufflenet_v1_g1_x1_0': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v1 1x, g=1 (Tables 1-2).'),
    'shufflenet_v1_g2_x1_0': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v1 1x, g=2 (Tables 1-2).'),
    'shufflenet_v1_g3_x0_5': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v1 0.5x, g=3 (Tables 1-2).'),
    'shufflenet_v1_g3_x1_0': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v1 1x, g=3 (Tables 1-2).'),
    'shufflenet_v1_g3_x1_5': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v1 1.5x, g=3 (Tables 1-2).'),
    'shufflenet_v1_g3_x2_0': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v1 2x, g=3 (Tables 1-2).'),
    'shufflenet_v1_g4_x1_0': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v1 1x, g=4 (Tables 1-2).'),
    'shufflenet_v1_g8_x1_0': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v1 1x, g=8 (Tables 1-2).'),
    'shufflenet_v2_x0_5': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v2 0.5x (Table 5).'),
    'shufflenet_v2_x1_0': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v2 1.0x (Table 5).'),
    'shufflenet_v2_x1_5': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v2 1.5x (Table 5).'),
    'shufflenet_v2_x2_0': ('shufflenet', 2018, (3, 224, 224), 'ShuffleNet v2 2.0x (Table 5).'),
    'squeezenet1_0': ('squeezenet', 2016, (3, 224, 224), 'SqueezeNet v1.0 (Table 1).'),
    'squeezenet1_0_complex_bypass': ('squeezenet', 2016, (3, 224, 224), 'SqueezeNet 1.0 with simple bypass around fire3, 5, 7, 9 and 1x1-conv b'),
    'squeezenet1_0_simple_bypass': ('squeezenet', 2016, (3, 224, 224), 'SqueezeNet 1.0 with simple (identity) bypass around fire3, 5, 7, 9 (Se'),
    'squeezenet1_1': ('squeezenet', 2016, (3, 224, 224), "SqueezeNet v1.1 (the authors' repository): 3x3/2 conv1 with 64 maps, p"),
    'vgg11': ('vgg', 2014, (3, 224, 224), 'VGG configuration A (Simonyan & Zisserman 2015, Table 1): conv3-64, ma'),
    'vgg11_bn': ('vgg', 2014, (3, 224, 224), 'VGG configuration A with BatchNorm (Simonyan & Zisserman 2015, Table 1'),
    'vgg11_lrn': ('vgg', 2014, (3, 224, 224), 'VGG configuration A-LRN (Simonyan & Zisserman 2015, Table 1): conv3-64'),
    'vgg13': ('vgg', 2014, (3, 224, 224), 'VGG configuration B (Simonyan & Zisserman 2015, Table 1): conv3-64, co'),
    'vgg13_bn': ('vgg', 2014, (3, 224, 224), 'VGG configuration B with BatchNorm (Simonyan & Zisserman 2015, Table 1'),
    'vgg16': ('vgg', 2014, (3, 224, 224), 'VGG configuration D (Simonyan & Zisserman 2015, Table 1): conv3-64, co'),
    'vgg16_bn': ('vgg', 2014, (3, 224, 224), 'VGG configuration D with BatchNorm (Simonyan & Zisserman 2015, Table 1'),
    'vgg16_c': ('vgg', 2014, (3, 224, 224), 'VGG configuration C (Simonyan & Zisserman 2015, Table 1): conv3-64, co'),
    'vgg19': ('vgg', 2014, (3, 224, 224), 'VGG configuration E (Simonyan & Zisserman 2015, Table 1): conv3-64, co'),
    'vgg19_bn': ('vgg', 2014, (3, 224, 224), 'VGG configuration E with BatchNorm (Simonyan & Zisserman 2015, Table 1'),
    'wide_resnet101_2': ('wide_resnet', 2016, (3, 224, 224), "WRN-101-2-bottleneck for ImageNet, torchvision's wide_resnet101_2 layo"),
    'wide_resnet50_2': ('wide_resnet', 2016, (3, 224, 224), "WRN-50-2-bottleneck for ImageNet, torchvision's wide_resnet50_2 layout"),
    'wrn': ('wide_resnet', 2016, (3, 32, 32), 'Generic CIFAR WRN-d-k: choose depth (6N+4) and widen_factor k (default'),
    'wrn16_4': ('wide_resnet', 2016, (3, 32, 32), 'WRN-16-4 for CIFAR (Zagoruyko & Komodakis 2016); dropout=0.3 as in the'),
    'wrn16_8': ('wide_resnet', 2016, (3, 32, 32), 'WRN-16-8 for CIFAR (Zagoruyko & Komodakis 2016); dropout=0.3 as in the'),
    'wrn28_10': ('wide_resnet', 2016, (3, 32, 32), 'WRN-28-10 for CIFAR (Zagoruyko & Komodakis 2016); dropout=0.3 as in th'),
    'wrn40_4': ('wide_resnet', 2016, (3, 32, 32), 'WRN-40-4 for CIFAR (Zagoruyko & Komodakis 2016); dropout=0.3 as in the'),
    'xception': ('xception', 2017, (3, 299, 299), 'Xception (Chollet, 2017, Fig. 5), 299x299 input, dropout 0.5 before th'),
    'zfnet': ('alexnet', 2013, (3, 224, 224), 'ZFNet (Zeiler & Fergus, Fig. 3): AlexNet with a 7x7/2 conv1, a 5x5/2 c'),
}
# fmt: on
# </generated>


def live() -> dict[str, tuple[str, int, tuple[int, int, int], str]]:
    """The table computed from the registry (imports every model family, and torch)."""
    from .registry import list_models, model_info

    rows = {}
    for n in list_models():
        i = model_info(n)
        rows[n] = (i.family, i.year, tuple(i.input_size), i.description[:70])
    return rows  # type: ignore[return-value]


def live_recipes() -> tuple[str, ...]:
    """The recipe names, sorted, from the recipe table (imports torch)."""
    from .train.recipes import RECIPES as recipes

    return tuple(sorted(recipes))


def render(rows: dict[str, tuple[str, int, tuple[int, int, int], str]], recipes: tuple[str, ...]) -> str:
    """The generated part of this file for ``rows`` and ``recipes``."""
    lines = [
        "# <generated> (python -m cnnzoo.model_index)",
        "# fmt: off",
        "#: the training recipes' names (cnnzoo.train.recipes.RECIPES), sorted",
        f"RECIPES: tuple[str, ...] = {recipes!r}",
        "#: name -> (family, year, input size, the first 70 characters of the description) of every registered model",
        "MODELS: dict[str, tuple[str, int, tuple[int, int, int], str]] = {",
        *(f"    {n!r}: {t!r}," for n, t in rows.items()),
        "}",
        "# fmt: on",
        "# </generated>",
    ]
    return "\n".join(lines)


def main() -> int:
    """Rewrite the generated part of this file from the live registry."""
    path = Path(__file__)
    text = path.read_text(encoding="utf-8")
    head, rest = text.split("# <generated>", 1)
    _, tail = rest.split("# </generated>", 1)
    tmp = path.with_suffix(".py.tmp")
    tmp.write_text(head + render(live(), live_recipes()) + tail, encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
