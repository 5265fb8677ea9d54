"""cnnzoo.explain: each method against an independent reference (hand-written autograd, captum), the sanity
checks of Adebayo et al. (2018) on a model trained on real digits, and the user errors."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnzoo.errors import CnnzooError, DataError
from cnnzoo.explain import (
    LayerError,
    TargetError,
    deconvnet,
    deconvnet_backprop,
    default_layer,
    explain,
    gradcam,
    guided_backprop,
    guided_gradcam,
    saliency,
    smoothgrad,
)

captum_attr = pytest.importorskip("captum.attr")


# ---------------------------------------------------------------- small models


class MixedReLUNet(nn.Module):
    """Conv net whose ReLUs come in every spelling (``functional=True``: ``F.relu``,
    ``nn.ReLU(inplace=True)``, ``torch.relu_``, ``Tensor.relu``) or as distinct plain ``nn.ReLU`` modules
    (``functional=False``, the form captum's hooks see), with a residual addition and a concatenation. Both
    forms share one state dict."""

    def __init__(self, in_chans: int = 3, num_classes: int = 5, functional: bool = True) -> None:
        super().__init__()
        self.functional = functional
        self.stem = nn.Conv2d(in_chans, 6, 3, padding=1)
        self.conv_a = nn.Conv2d(6, 6, 3, padding=1)
        self.conv_b = nn.Conv2d(6, 6, 3, padding=1)
        self.branch = nn.Conv2d(6, 4, 1)
        self.head = nn.Linear(10, num_classes)
        self.act_inplace = nn.ReLU(inplace=True)
        self.r = nn.ModuleList(nn.ReLU() for _ in range(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.functional
        x = F.relu(self.stem(x)) if f else self.r[0](self.stem(x))
        x = F.max_pool2d(x, 2)
        out = self.act_inplace(self.conv_a(x)) if f else self.r[1](self.conv_a(x))
        out = self.conv_b(out)
        out = out + x  # residual addition
        out = torch.relu_(out) if f else self.r[2](out)
        side = self.branch(out).relu() if f else self.r[3](self.branch(out))
        y = torch.cat([out, side], dim=1)  # concatenation
        return self.head(F.adaptive_avg_pool2d(y, 1).flatten(1))


def twin(model: MixedReLUNet) -> MixedReLUNet:
    """The same network with plain nn.ReLU modules."""
    t = MixedReLUNet(model.stem.in_channels, model.head.out_features, functional=False)
    t.load_state_dict(model.state_dict())
    return t.eval()


def sequential_net(in_chans: int = 3, bn: bool = False) -> nn.Sequential:
    """A ZFNet-like sequential stack for 20x20 inputs: conv-relu-pool twice, then two FC layers; with ``bn``
    the second block is conv-BatchNorm-relu-avgpool (random running statistics and scales)."""
    if bn:
        norm = nn.BatchNorm2d(6)
        with torch.no_grad():
            norm.weight.uniform_(0.5, 2.0)
            norm.bias.uniform_(-1.0, 1.0)
            norm.running_var.uniform_(0.5, 2.0)
            norm.running_mean.uniform_(-0.5, 0.5)
        return nn.Sequential(
            nn.Conv2d(in_chans, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, stride=2), norm, nn.ReLU(), nn.AvgPool2d(2, ceil_mode=True),
            nn.Flatten(), nn.Linear(24, 8), nn.ReLU(), nn.Linear(8, 3),
        ).eval()  # fmt: skip
    return nn.Sequential(
        nn.Conv2d(in_chans, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Flatten(),
        nn.Linear(24, 8),
        nn.ReLU(),
        nn.Linear(8, 3),
    ).eval()


class DigitNet(nn.Module):
    """A small digits classifier (16x16 grey) with functional and in-place ReLUs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU(inplace=True)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(self.relu2(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


DIGIT_MEAN, DIGIT_STD = 0.30, 0.40


@pytest.fixture(scope="session")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 real 8x8 digits, upsampled to 16x16, in [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    return F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False).clamp(0, 1), torch.tensor(
        d.target
    )


@pytest.fixture(scope="session")
def trained_digits(digits: tuple[torch.Tensor, torch.Tensor]) -> tuple[DigitNet, float]:
    """DigitNet trained for 3 epochs of Adam (batches of 50) on the first 1,500 digits (a few seconds);
    returns the model and its accuracy on the other 297."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny layers: one thread is several times faster on a busy machine
    x, y = digits
    xn = (x - DIGIT_MEAN) / DIGIT_STD
    model = DigitNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        for idx in torch.randperm(1500).split(50):
            opt.zero_grad()
            F.cross_entropy(model(xn[idx]), y[idx]).backward()
            opt.step()
    torch.set_num_threads(threads)
    model.eval()
    with torch.no_grad():
        acc = (model(xn[1500:]).argmax(1) == y[1500:]).float().mean().item()
    return model, acc


# ---------------------------------------------------------------- saliency and SmoothGrad


def test_saliency_equals_hand_written_autograd_max_and_mean_over_channels() -> None:
    model = MixedReLUNet().eval()
    x = torch.randn(3, 3, 12, 12)
    classes = [4, 0, 2]
    ref_max, ref_mean = [], []
    for i, c in enumerate(classes):
        xi = x[i : i + 1].clone().requires_grad_(True)
        model(xi)[0, c].backward()  # the class score: the logit, not the softmax
        ref_max.append(xi.grad.abs().amax(dim=1)[0])
        ref_mean.append(xi.grad.abs().mean(dim=1)[0])
    torch.testing.assert_close(saliency(model, x, classes), torch.stack(ref_max))
    torch.testing.assert_close(saliency(model, x, classes, reduce="mean"), torch.stack(ref_mean))


def test_saliency_explains_the_logit_not_the_softmax() -> None:
    model = MixedReLUNet().eval()
    x = torch.randn(1, 3, 12, 12, requires_grad=True)
    model(x).softmax(1)[0, 1].backward()
    assert not torch.allclose(saliency(model, x.detach(), 1), x.grad.abs().amax(1), atol=1e-6)


def test_smoothgrad_equals_a_reference_loop_and_reduces_to_saliency_without_noise() -> None:
    model = MixedReLUNet().eval()
    x = torch.randn(2, 3, 12, 12)
    got = smoothgrad(
        model,
        x,
        target=[1, 3],
        n_samples=6,
        noise_level=0.2,
        batch_size=4,
        generator=torch.Generator().manual_seed(5),
    )
    gen = torch.Generator().manual_seed(5)
    sigma = 0.2 * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
    total = torch.zeros_like(x)
    for k in (2, 2, 2):  # batch_size 4 over 2 images -> 2 noisy copies per chunk
        noise = torch.randn((k, *x.shape), generator=gen)
        for j in range(k):
            xi = (x + noise[j] * sigma[:, None, None, None]).requires_grad_(True)
            out = model(xi)
            (out[0, 1] + out[1, 3]).backward()
            total += xi.grad
    torch.testing.assert_close(got, (total / 6).abs().amax(1))
    torch.testing.assert_close(
        smoothgrad(model, x, [1, 3], n_samples=3, noise_level=0.0), saliency(model, x, [1, 3])
    )


# ---------------------------------------------------------------- Grad-CAM


@pytest.mark.parametrize("layer", ["stem", "conv_b", "branch"])
def test_gradcam_equals_captum_layer_gradcam_upsampled_bilinearly(layer: str) -> None:
    model = MixedReLUNet().eval()
    ref_model = twin(model)
    x = torch.randn(2, 3, 12, 12)
    target = torch.tensor([2, 4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attr = captum_attr.LayerGradCam(ref_model, getattr(ref_model, layer)).attribute(
            x, target=target, relu_attributions=True
        )
    ref = captum_attr.LayerAttribution.interpolate(attr, (12, 12), interpolate_mode="bilinear")[:, 0]
    # the functional model has in-place ReLUs right after conv_a and conv_b: the hook's clone keeps A intact
    torch.testing.assert_close(gradcam(model, x, target, layer=layer), ref)
    assert ref.abs().sum() > 0


def test_gradcam_default_layer_is_the_last_conv_feature_map() -> None:
    assert default_layer(MixedReLUNet().eval(), torch.randn(1, 3, 12, 12)) == "branch"
    assert default_layer(sequential_net(), torch.randn(1, 3, 20, 20)) == "3"  # 2x2 conv map; pool is 1x1


# ---------------------------------------------------------------- guided backprop, deconvnet rule


def test_guided_backprop_on_functional_and_inplace_relus_equals_captum_on_relu_modules() -> None:
    model = MixedReLUNet().eval()
    x = torch.randn(2, 3, 12, 12)
    target = torch.tensor([0, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = captum_attr.GuidedBackprop(twin(model)).attribute(x, target=target)
        ref_deconv = captum_attr.Deconvolution(twin(model)).attribute(x, target=target)
        hooks_only = captum_attr.GuidedBackprop(model).attribute(x, target=target)
    got = guided_backprop(model, x, target)
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(deconvnet_backprop(model, x, target), ref_deconv)
    # captum's module hooks miss F.relu / torch.relu_ / Tensor.relu, so on this model it is far from ours
    assert (hooks_only - got).abs().max() > 0.1 * got.abs().max()
    # and the model's forward values are unchanged by the override
    torch.testing.assert_close(model(x), twin(model)(x))


def test_guided_gradcam_is_guided_backprop_times_upsampled_gradcam() -> None:
    model = MixedReLUNet().eval()
    x = torch.randn(2, 3, 12, 12)
    expected = guided_backprop(model, x, 1) * gradcam(model, x, 1, layer="conv_b")[:, None]
    torch.testing.assert_close(guided_gradcam(model, x, 1, layer="conv_b"), expected)


# ---------------------------------------------------------------- the Zeiler-Fergus deconvnet


@pytest.mark.parametrize(
    ("bn", "layer"), [(False, 1), (False, 4), (False, 5), (False, 8), (True, 6), (True, 9)]
)
def test_deconvnet_projection_equals_captum_deconvolution_of_that_unit(bn: bool, layer: int) -> None:
    """Explicit unpooling with switches + rectification + transposed filters gives what the deconvnet ReLU
    rule gives by back-propagation (Springenberg et al. 2015, Fig. 1) from the same single activation
    (with BatchNorm: its per-channel scale; average pooling: its transpose)."""
    model = sequential_net(bn=bn)
    x = torch.randn(2, 3, 20, 20)
    got, chans = deconvnet(model, x, layer=str(layer))
    sub = nn.Sequential(*list(model)[: layer + 1], nn.Flatten()).eval()
    for i in range(2):
        a = sub[:-1](x[i : i + 1]).detach()
        a = a.view(1, a.shape[1], -1)
        fmap = a[0, chans[i]]
        assert chans[i] == a[0].amax(dim=1).argmax()  # the strongest feature map
        pos = int(fmap.argmax())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = captum_attr.Deconvolution(sub).attribute(
                x[i : i + 1], target=int(chans[i]) * a.shape[2] + pos
            )
        torch.testing.assert_close(got[i : i + 1], ref * fmap[pos])
        assert ref.abs().sum() > 0


def test_deconvnet_follows_functional_relus_and_refuses_branches() -> None:
    model = MixedReLUNet().eval()
    x = torch.randn(1, 3, 12, 12)
    got, _ = deconvnet(model, x, layer="conv_a", channel=2, keep="map")
    ref, _ = deconvnet(twin(model), x, layer="conv_a", channel=2, keep="map")
    torch.testing.assert_close(got, ref)
    assert got.abs().sum() > 0
    with pytest.raises(LayerError, match="branch"):
        deconvnet(model, x, layer="branch")
    with pytest.raises(LayerError, match="6 channels"):
        deconvnet(model, x, layer="conv_a", channel=6)


# ---------------------------------------------------------------- sanity checks (Adebayo et al. 2018)


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a.flatten().numpy(), b.flatten().numpy()).statistic)


def test_trained_digits_model_is_accurate(trained_digits: tuple[DigitNet, float]) -> None:
    assert trained_digits[1] >= 0.90


def test_saliency_changes_when_the_weights_are_randomised(
    digits: tuple[torch.Tensor, torch.Tensor], trained_digits: tuple[DigitNet, float]
) -> None:
    """Adebayo et al.'s model-parameter randomisation test: re-initialising every layer must change the map.
    The mean Spearman rank correlation of the maps over 20 test digits is below 0.3 (measured: 0.012)."""
    model, _ = trained_digits
    x = (digits[0][1500:1520] - DIGIT_MEAN) / DIGIT_STD
    trained_maps = saliency(model, x)
    random_model = DigitNet().eval()
    torch.manual_seed(123)
    for m in random_model.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    random_maps = saliency(random_model, x, target=model(x).argmax(1))
    rho = [_spearman(trained_maps[i], random_maps[i]) for i in range(len(x))]
    assert sum(rho) / len(rho) < 0.3
    same = [_spearman(trained_maps[i], saliency(model, x[i : i + 1])[0]) for i in range(3)]
    assert min(same) > 0.999  # and the test can tell equal maps apart from different ones


def test_saliency_of_trained_digits_model_sits_on_the_strokes(
    digits: tuple[torch.Tensor, torch.Tensor], trained_digits: tuple[DigitNet, float]
) -> None:
    """Mean |saliency| on stroke pixels (ink > 0.5) over mean on background pixels (ink < 0.05), over 100 test
    digits: at least 1.4 (measured 1.61); SmoothGrad and guided backprop at least 1.5 (measured 1.79,
    1.82)."""
    model, _ = trained_digits
    ink = digits[0][1500:1600, 0]
    x = (digits[0][1500:1600] - DIGIT_MEAN) / DIGIT_STD
    stroke, background = ink > 0.5, ink < 0.05
    s = saliency(model, x)
    assert s[stroke].mean() / s[background].mean() >= 1.4
    sg = smoothgrad(model, x, n_samples=10, generator=torch.Generator().manual_seed(0))
    assert sg[stroke].mean() / sg[background].mean() >= 1.5
    gb = guided_backprop(model, x).abs().amax(dim=1)
    assert gb[stroke].mean() / gb[background].mean() >= 1.5


# ---------------------------------------------------------------- errors a user can cause


def test_class_index_out_of_range_is_one_clear_error() -> None:
    model = MixedReLUNet().eval()
    with pytest.raises(
        TargetError, match=r"class index 5 is out of range: the model has 5 classes \(0 to 4\)"
    ):
        saliency(model, torch.randn(1, 3, 12, 12), 5)
    with pytest.raises(TargetError):
        gradcam(model, torch.randn(1, 3, 12, 12), -1)


def test_unknown_layer_error_lists_valid_layer_names() -> None:
    model = MixedReLUNet().eval()
    with pytest.raises(LayerError, match="no layer 'conv_c'; valid names include conv_b, conv_a") as e:
        gradcam(model, torch.randn(1, 3, 12, 12), layer="conv_c")
    assert "\n" not in str(e.value)
    with pytest.raises(LayerError, match="not a feature map"):
        gradcam(model, torch.randn(1, 3, 12, 12), layer="head")


def test_unreadable_image_is_a_data_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png at all")
    from cnnzoo.data.images import load_images
    from cnnzoo.record import ModelRecord

    with pytest.raises(DataError, match="cannot read image .*broken.png.*not an image"):
        load_images([bad], ModelRecord("x", input_size=(1, 16, 16)))


def test_explain_rejects_options_that_do_not_fit_the_method() -> None:
    model = sequential_net()
    x = torch.randn(1, 3, 20, 20)
    with pytest.raises(CnnzooError, match="unknown method"):
        explain(model, x, "lime")
    with pytest.raises(CnnzooError, match="not a class"):
        explain(model, x, "deconvnet", target=1)
    with pytest.raises(CnnzooError, match="takes no layer"):
        explain(model, x, "saliency", layer="3")
    e = explain(model, x, "deconvnet", layer="4")
    assert e.target_is_channel and e.attribution.shape == (1, 3, 20, 20)


@pytest.mark.parametrize("name", ["lenet5", "resnet20"])
def test_every_method_runs_on_registered_models(name: str) -> None:
    """LeNet-5 (scaled tanh, trainable subsampling, C3's partial connection table) and ResNet-20 (residual
    additions, in-place ReLUs): each gradient method gives a finite, non-zero map of the input's size; the
    deconvnet reaches LeNet-5's S2 and refuses ResNet-20's residual stages with one clear sentence."""
    from cnnzoo import create_model

    model = create_model(name, num_classes=10).eval()
    x = torch.randn(2, *model_input(name))
    for method in ("saliency", "smoothgrad", "gradcam", "guided-backprop", "guided-gradcam"):
        e = explain(model, x, method, n_samples=2)
        assert e.attribution.shape[-2:] == x.shape[-2:] and e.heat.shape == (2, *x.shape[-2:])
        assert torch.isfinite(e.attribution).all() and e.attribution.abs().sum() > 0, method
    if name == "lenet5":
        r, _ = deconvnet(model, x, layer="s2")
        assert r.shape == x.shape and r.abs().sum() > 0
    else:
        with pytest.raises(LayerError, match="combines or reuses earlier feature maps"):
            deconvnet(model, x, layer="layer3")


def model_input(name: str) -> tuple[int, ...]:
    from cnnzoo import model_info

    return model_info(name).input_size
