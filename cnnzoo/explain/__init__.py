"""Seeing inside a CNN: saliency (Simonyan et al., 2014), SmoothGrad (Smilkov et al., 2017), Grad-CAM and
guided Grad-CAM (Selvaraju et al., 2017), guided back-propagation (Springenberg et al., 2015), the deconvnet
(Zeiler & Fergus, 2014), first-layer filters and feature maps (Krizhevsky et al., 2012), occlusion maps and
the top-9 patches of units over a dataset (Zeiler & Fergus, 2014, Figs. 7 and 2), class models (Simonyan et
al., 2014, Sec. 2).

Every method takes a model in eval mode and a batch ``(N, C, H, W)`` of normalised images and returns tensors,
so users can compute their own statistics; :func:`explain` wraps them with the predicted class and scores, and
``visualize`` draws the figures that ``cnnzoo explain`` / ``filters`` / ``activations`` write.

>>> from cnnzoo.explain import saliency, gradcam
>>> m = saliency(model, x)                # (N, H, W), max over channels of |dS_c/dx|
>>> cam = gradcam(model, x, layer="features")
>>> occ = occlusion(model, x, target=281, window=32, stride=16)   # occ.grid: p(class) per square position
>>> cm = class_model(model, [1, 130])                            # cm.image: Simonyan's class models
>>> top = top_activations(model, images, ["layer1", "layer2"])    # every unit's top-9 images and positions
"""

from __future__ import annotations

from ..registries import METHODS
from ._common import LayerError, TargetError, default_layer, get_layer
from .api import Explanation, activations, conv_filters, explain, method_options
from .class_model import ClassModel, class_model
from .deconvnet import deconvnet
from .gradcam import gradcam, layer_activation_and_gradient
from .guided import deconvnet_backprop, guided_backprop, guided_gradcam, relu_backward_rule
from .occlusion import OcclusionMap, occlusion
from .saliency import input_gradient, reduce_channels, saliency, smoothgrad
from .unit_patches import top_activations

__all__ = [
    "METHODS",
    "ClassModel",
    "Explanation",
    "LayerError",
    "OcclusionMap",
    "TargetError",
    "activations",
    "class_model",
    "conv_filters",
    "deconvnet",
    "deconvnet_backprop",
    "default_layer",
    "explain",
    "get_layer",
    "gradcam",
    "guided_backprop",
    "guided_gradcam",
    "input_gradient",
    "layer_activation_and_gradient",
    "method_options",
    "occlusion",
    "class_model",
    "ClassModel",
    "OcclusionMap",
    "reduce_channels",
    "relu_backward_rule",
    "saliency",
    "smoothgrad",
    "top_activations",
]
