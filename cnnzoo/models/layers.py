"""Building blocks shared by several paper families. Each lives here once.

- :class:`LocalResponseNorm`: AlexNet's LRN in the paper's own parameterisation.
- :func:`conv_bn_act`: convolution, optional BatchNorm, optional activation, as a named ``nn.Sequential``.
- :class:`SqueezeExcite`: Hu et al.'s SE block with reduction ratio ``r``.
- :func:`channel_shuffle` / :class:`ChannelShuffle`: ShuffleNet's channel shuffle.
- :class:`DropPath`: drop a whole residual branch per sample (stochastic depth, FractalNet, NASNet).
- :class:`StochasticDepth`: :class:`DropPath` with Huang et al.'s test-time rule (scale the branch by the
  survival probability at eval instead of rescaling in training).
- :func:`init_he`: He et al.'s fan-out normal initialisation of a network's convolutions, with BatchNorm at
  (1, 0) and the linear layers at N(0, 0.01) (torchvision's VGG, ResNet and MobileNet).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def init_he(model: nn.Module, linear_std: float | None = 0.01) -> None:
    """Initialise ``model`` in place, module by module: convolutions from He et al.'s fan-out normal ("Delving
    Deep into Rectifiers", 2015) with zero biases, BatchNorm to weight 1 and bias 0, linear layers from
    N(0, ``linear_std``) with zero biases (``None``: PyTorch's default stays). Tensors on the ``meta`` device
    hold no values and are skipped."""
    for m in model.modules():
        if getattr(getattr(m, "weight", None), "is_meta", False):
            continue
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_std is not None:
            nn.init.normal_(m.weight, 0, linear_std)
            nn.init.zeros_(m.bias)


class LocalResponseNorm(nn.Module):
    """Local response normalisation as Krizhevsky et al. (2012, Sec. 3.3) wrote it:

    ``b_i = a_i / (k + alpha * sum_{j in window of n around i} a_j^2) ** beta``

    PyTorch's :class:`torch.nn.LocalResponseNorm` divides ``alpha`` by ``n``; this class passes ``alpha * n``
    so that the paper's constants (k=2, n=5, alpha=1e-4, beta=0.75) mean what the paper says.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.local_response_norm(x, self.size, alpha=self.alpha * self.size, beta=self.beta, k=self.k)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def conv_bn_act(
    in_ch: int,
    out_ch: int,
    kernel_size: int | tuple[int, int],
    stride: int = 1,
    padding: int | tuple[int, int] | None = None,
    groups: int = 1,
    dilation: int = 1,
    bn: bool = True,
    act: type[nn.Module] | None = nn.ReLU,
    bias: bool | None = None,
    bn_eps: float = 1e-5,
) -> nn.Sequential:
    """``conv`` (+ ``bn``) (+ ``act``) as an ``nn.Sequential`` with those child names.

    ``padding`` defaults to "same" for odd kernels at stride 1 (``(k - 1) // 2 * dilation``); ``bias``
    defaults to ``not bn``.
    """
    ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if padding is None:
        padding = ((ks[0] - 1) // 2 * dilation, (ks[1] - 1) // 2 * dilation)
    layers: dict[str, nn.Module] = {
        "conv": nn.Conv2d(
            in_ch,
            out_ch,
            ks,
            stride,
            padding,
            dilation=dilation,
            groups=groups,
            bias=(not bn) if bias is None else bias,
        )
    }
    if bn:
        layers["bn"] = nn.BatchNorm2d(out_ch, eps=bn_eps)
    if act is not None:
        layers["act"] = act(inplace=True) if act in (nn.ReLU, nn.ReLU6) else act()
    return _named_sequential(layers)


def _named_sequential(layers: dict[str, nn.Module]) -> nn.Sequential:
    seq = nn.Sequential()
    for name, layer in layers.items():
        seq.add_module(name, layer)
    return seq


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018, Fig. 2): global average pool, FC ``C -> C/r``, ReLU,
    FC ``C/r -> C``, sigmoid, channel-wise rescaling. The FCs are 1x1 convolutions with biases (as in the
    authors' Caffe models), which adds ``2C^2/r + C/r + C`` parameters."""

    def __init__(self, channels: int, reduction: int = 16, reduced: int | None = None) -> None:
        super().__init__()
        hidden = reduced if reduced is not None else max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = self.sigmoid(self.fc2(self.relu(self.fc1(s))))
        return x * s


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle (Zhang et al., 2018, Fig. 1): reshape channels to (groups, C/groups),
    transpose, flatten, so that each group of the next grouped convolution sees every input group."""
    b, c, h, w = x.shape
    if c % groups:
        raise ValueError(f"channel_shuffle: {c} channels do not split into {groups} groups")
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class ChannelShuffle(nn.Module):
    """Module form of :func:`channel_shuffle`."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class DropPath(nn.Module):
    """Drop the whole input per sample with probability ``drop_prob`` during training.

    ``scale_by_keep=True`` divides the kept samples by the survival probability, so the eval-time output (the
    identity) has the same expectation. Huang et al.'s stochastic depth instead scales the branch by the
    survival probability at test time; the two are equivalent up to where the scale is applied.
    """

    def __init__(self, drop_prob: float = 0.0, scale_by_keep: bool = True) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob}")
        self.drop_prob, self.scale_by_keep = drop_prob, scale_by_keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        if self.scale_by_keep:
            mask.div_(keep)
        return x * mask

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class StochasticDepth(DropPath):
    """Huang et al. (2016), "Deep Networks with Stochastic Depth", Eq. (2)-(5): during training the whole
    residual branch is kept with survival probability ``p = 1 - drop_prob`` per sample and passed *unscaled*;
    at test time the branch is multiplied by ``p``, so the deterministic eval output equals the expectation of
    the training output. (:class:`DropPath` with ``scale_by_keep=True`` puts the same factor in training.)"""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__(drop_prob, scale_by_keep=False)

    @property
    def survival_prob(self) -> float:
        return 1.0 - self.drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or self.drop_prob == 0.0:
            return super().forward(x)
        return x * self.survival_prob
