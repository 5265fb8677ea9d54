"""The units pass (Zeiler & Fergus 2014, Fig. 2): the streamed top-k equals a brute-force sort of every
image's per-unit maximum; each crop is the unit's receptive field (the size ``cnnzoo summary`` prints,
clipped at the border, and where the unit's gradient lives); a killed pass resumes to the same answer;
projections."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from cnnzoo.analysis import profile
from cnnzoo.errors import CnnzooError
from cnnzoo.explain import deconvnet
from cnnzoo.explain.unit_patches import (
    TensorSource,
    TopK,
    clip_box,
    crop_field,
    field_box,
    project_unit,
    top_activations,
)
from cnnzoo.explain.unit_patches import _rule_projection as rule_projection
from cnnzoo.factory import create_model


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    """120 of scikit-learn's real digits as 1x32x32 model inputs (normalised to mean 0, std 1)."""
    from cnnzoo.data.sources import build_data, load_source

    b = build_data(load_source("digits"), 1, 32)
    x, _ = b.test.batch(torch.arange(120))
    return x


def _brute(model: nn.Module, x: torch.Tensor, layer: str, k: int, batch: int):
    """Every image's whole map kept (computed in the same batches as the pass, so the floats are the same
    bits: exact ties stay exact), per unit the max over positions (first arg-max), one stable sort of all."""
    store = []
    h = model.get_submodule(layer).register_forward_hook(lambda m, i, o: store.append(o.detach().clone()))
    with torch.no_grad():
        for s in range(0, len(x), batch):
            model(x[s : s + batch])
    h.remove()
    a = torch.cat(store)
    flat = a.reshape(a.shape[0], a.shape[1], -1)
    pos = flat.argmax(dim=2)
    val = flat.gather(2, pos[..., None])[..., 0]  # (N, C)
    order = torch.sort(val.T, dim=1, descending=True, stable=True).indices[:, :k]
    return val.T.gather(1, order), order, pos.T.gather(1, order)


@pytest.mark.parametrize(
    ("name", "kwargs", "layers"),
    [
        ("lenet5_modern", {}, ["c1", "s2", "c3", "c5", "f6"]),
        ("resnet20", {"in_chans": 1}, ["bn1", "layer1.1", "layer2", "layer3.2.conv2"]),
    ],
)
def test_top9_equals_brute_force_sort(
    digits: torch.Tensor, name: str, kwargs: dict, layers: list[str]
) -> None:
    torch.manual_seed(1)
    model = create_model(name, **kwargs).eval()
    res = top_activations(model, digits, layers, top=9, batch_size=7)  # batches that split the ties
    assert res.images == 120
    for layer in layers:
        lt = res.layers[layer]
        values, images, positions = _brute(model, digits, layer, 9, 7)
        assert torch.equal(lt.images, images), layer
        assert torch.equal(lt.positions, positions), layer
        assert torch.allclose(lt.values, values, rtol=1e-5, atol=1e-6), layer
        hits = lt.hits(3)
        assert [h.image for h in hits] == images[3].tolist()
        assert len({h.image for h in hits}) == 9  # nine different images


def test_bn_output_is_read_before_the_inplace_relu_changes_it(digits: torch.Tensor) -> None:
    """ResNet's bn1 is followed by ReLU(inplace=True): the kept value is BatchNorm's (it can be negative)."""
    model = create_model("resnet20", in_chans=1).eval()
    with torch.no_grad():
        model.bn1.bias[0] = -50.0  # unit 0 negative everywhere: the ReLU after it would make it 0
        bn = model.bn1(model.conv1(digits[:20]))
    res = top_activations(model, digits[:20], ["bn1"], top=20)
    top = res.layers["bn1"].values[0]
    assert float(top.max()) < -40
    assert torch.allclose(top, bn[:, 0].amax(dim=(1, 2)).sort(descending=True).values)


def test_topk_memory_does_not_grow_with_the_images() -> None:
    t = TopK(units=5, k=9)
    for s in range(0, 10_000, 500):
        t.update(torch.randn(500, 5, 4, 4), torch.arange(s, s + 500))
        assert t.values.shape == (5, 9) and t.images.shape == (5, 9) and t.positions.shape == (5, 9)
    assert torch.all(t.values[:, :-1] >= t.values[:, 1:])


def test_ties_go_to_the_earlier_image() -> None:
    t = TopK(units=1, k=3)
    t.update(torch.tensor([[[1.0]], [[2.0]], [[2.0]]]), torch.tensor([0, 1, 2]))
    t.update(torch.tensor([[[2.0]], [[5.0]]]), torch.tensor([3, 4]))
    assert t.images.tolist() == [[4, 1, 2]]


@pytest.mark.parametrize(
    ("name", "kwargs", "layer"),
    [
        ("lenet5", {}, "c1"),
        ("lenet5", {}, "s2"),
        ("lenet5", {}, "c3"),
        ("lenet5", {}, "c5"),
        ("resnet20", {"in_chans": 1}, "conv1"),
        ("resnet20", {"in_chans": 1}, "layer1.2"),
        ("resnet20", {"in_chans": 1}, "layer2.0.conv1"),
        ("resnet20", {"in_chans": 1}, "layer3"),
    ],
)
def test_each_crop_is_the_units_receptive_field(
    digits: torch.Tensor, name: str, kwargs: dict, layer: str
) -> None:
    model = create_model(name, **kwargs).eval()
    res = top_activations(model, digits[:16], [layer], top=4)
    lt = res.layers[layer]
    # the size is the RF that `cnnzoo summary` prints for this layer's output
    rows = [r for r in profile(model, (1, 32, 32)).rows if r.name == layer or r.name.startswith(layer + ".")]
    assert tuple(lt.field.rf) == tuple(rows[-1].receptive_field)
    rf = lt.field.rf[0]
    img = torch.rand(1, 32, 32)
    h, w = lt.map_size
    for y, x in [(h // 2, w // 2), (0, 0), (h - 1, w - 1), (0, w - 1)]:
        crop, box = crop_field(img, lt.field, y, x)
        t, left, b, r = field_box(lt.field, y, x)
        assert b - t + 1 == rf and r - left + 1 == rf  # unclipped: exactly the RF
        expect_h = min(31, math.floor(b)) - max(0, math.ceil(t)) + 1
        expect_w = min(31, math.floor(r)) - max(0, math.ceil(left)) + 1
        assert tuple(crop.shape[-2:]) == (expect_h, expect_w)
        assert torch.equal(crop, img[:, box[0] : box[2] + 1, box[1] : box[3] + 1])
        if t >= 0 and b <= 31 and left >= 0 and r <= 31:
            assert tuple(crop.shape[-2:]) == (rf, rf)
    # the crop is where the unit looks: its gradient never leaves the box, and (away from the border, for
    # LeNet-5's tanh units that are never dead) it reaches the box's edges
    xin = digits[:1].clone().requires_grad_(True)
    store = {}
    hk = model.get_submodule(layer).register_forward_hook(lambda m, i, o: store.setdefault("o", o))
    model(xin * 1)
    hk.remove()
    y, x = h // 2, w // 2
    (g,) = torch.autograd.grad(store["o"][0, :, y, x].sum(), xin)
    ys, xs = torch.nonzero(g[0].abs().sum(0) > 0, as_tuple=True)
    box = clip_box(field_box(lt.field, y, x), 32, 32)
    assert (
        int(ys.min()) >= box[0]
        and int(ys.max()) <= box[2]
        and int(xs.min()) >= box[1]
        and int(xs.max()) <= box[3]
    )
    if name == "lenet5":
        assert (int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())) == box


def test_fully_connected_units_see_the_whole_image(digits: torch.Tensor) -> None:
    model = create_model("lenet5_modern").eval()
    lt = top_activations(model, digits[:10], ["f6"], top=3).layers["f6"]
    assert lt.shape == (84,) and lt.map_size == (1, 1)
    crop, box = crop_field(torch.rand(1, 32, 32), lt.field, 0, 0)
    assert box == (0, 0, 31, 31)


class _Dies(TensorSource):
    """A source whose reading stops (as if the process were killed) after ``n`` batches."""

    def __init__(self, x: torch.Tensor, n: int) -> None:
        super().__init__(x)
        self.n = n

    def batches(self, start: int, batch_size: int):  # noqa: ANN201
        for j, b in enumerate(super().batches(start, batch_size)):
            if j == self.n:
                raise KeyboardInterrupt
            yield b


def test_a_killed_pass_resumes_with_nothing_lost(digits: torch.Tensor, tmp_path) -> None:  # noqa: ANN001
    model = create_model("lenet5_modern").eval()
    state = tmp_path / "state.pt"
    with pytest.raises(KeyboardInterrupt):
        top_activations(
            model,
            _Dies(digits, 5),
            ["c1", "c3"],
            top=9,
            batch_size=10,
            resume=state,
            fingerprint="a",
            save_every=0.0,
        )
    assert state.is_file()
    saved = torch.load(state, weights_only=True)
    assert saved["done"] == 50
    again = top_activations(model, digits, ["c1", "c3"], top=9, batch_size=10, resume=state, fingerprint="a")
    whole = top_activations(model, digits, ["c1", "c3"], top=9, batch_size=10)
    assert again.images == 120 and not state.exists()
    for n in ("c1", "c3"):
        assert torch.equal(again.layers[n].images, whole.layers[n].images)
        assert torch.equal(again.layers[n].positions, whole.layers[n].positions)
    # a state written for other settings is not used
    with pytest.raises(KeyboardInterrupt):
        top_activations(
            model,
            _Dies(digits, 2),
            ["c1"],
            top=9,
            batch_size=10,
            resume=state,
            fingerprint="b",
            save_every=0.0,
        )
    res = top_activations(model, digits[:30], ["c1"], top=9, batch_size=10, resume=state, fingerprint="c")
    assert res.images == 30


def test_deconvnet_projection_of_a_kept_activation(digits: torch.Tensor) -> None:
    """On a plain chain the explicit deconvnet is used, and the deconvnet rule by back-propagation (the route
    for residual models) gives the same image."""
    torch.manual_seed(3)
    model = create_model("lenet5_modern").eval()
    lt = top_activations(model, digits, ["c3"], top=2).layers["c3"]
    for unit in (0, 5):
        hit = lt.hits(unit)[0]
        x = digits[hit.image : hit.image + 1]
        p, route = project_unit(model, x, "c3", unit, hit.y * lt.map_size[1] + hit.x, "deconvnet")
        assert route == "deconvnet"
        explicit, chans = deconvnet(model, x, layer="c3", channel=unit)
        assert torch.equal(p, explicit[0]) and int(chans[0]) == unit
        rule = rule_projection(model, x, "c3", unit, hit.y * lt.map_size[1] + hit.x, "deconvnet")
        assert torch.allclose(rule, p, atol=1e-5 * float(p.abs().max()))
    res = create_model("resnet20", in_chans=1).eval()
    lt = top_activations(res, digits[:8], ["layer2"], top=1).layers["layer2"]
    hit = lt.hits(0)[0]
    p, route = project_unit(
        res, digits[hit.image : hit.image + 1], "layer2", 0, hit.y * 16 + hit.x, "deconvnet"
    )
    assert route == "deconvnet rule (backprop)" and p.shape == (1, 32, 32) and float(p.abs().max()) > 0
    g, route = project_unit(res, digits[hit.image : hit.image + 1], "layer2", 0, hit.y * 16 + hit.x, "guided")
    assert route == "guided backprop" and float(g.abs().max()) > 0


def test_errors_are_sentences(digits: torch.Tensor) -> None:
    model = create_model("lenet5_modern").eval()
    with pytest.raises(CnnzooError, match="has no layer"):
        top_activations(model, digits, ["c9"])
    with pytest.raises(
        CnnzooError, match="gave no output"
    ):  # GoogLeNet's auxiliary head runs in training only
        top_activations(create_model("googlenet", num_classes=10), torch.randn(2, 3, 64, 64), ["aux1"])

    class Pair(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, x

    with pytest.raises(CnnzooError, match="not feature maps"):
        top_activations(nn.Sequential(nn.Conv2d(1, 2, 3), Pair()), digits[:2], ["1"])
    with pytest.raises(CnnzooError, match="named twice"):
        top_activations(model, digits, ["c1", "c1"])
    with pytest.raises(CnnzooError, match="top must be"):
        top_activations(model, digits, ["c1"], top=0)


@pytest.mark.slow
def test_units_cli_writes_grids_index_page_and_reuses_the_pass(tmp_path) -> None:  # noqa: ANN001
    from cnnzoo.cli import main

    out = tmp_path / "u"
    argv = [
        "units",
        "lenet5_modern",
        "--data",
        "digits",
        "--limit",
        "60",
        "--layers",
        "c1,c3",
        "--units",
        "4",
        "--top",
        "4",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    d = json.loads((out / "index.json").read_text())
    assert d["format"] == "cnnzoo-units" and d["images"] == 60 and d["top"] == 4
    assert [L["name"] for L in d["layers"]] == ["c1", "c3"]
    c3 = d["layers"][1]
    assert c3["rf"] == [14, 14] and len(c3["units"]) == 16 and len(c3["drawn"]) == 4
    for u in c3["units"]:
        assert len(u["top"]) == 4 and u["top"][0]["value"] >= u["top"][-1]["value"]
        assert u["top"][0]["label_name"] in [str(i) for i in range(10)]
        b = u["top"][0]["box"]
        assert b[2] - b[0] + 1 <= 14
        assert (u["drawn"] is True) == (u["unit"] in c3["drawn"])
        if u["drawn"]:
            assert (out / u["tile"]).is_file()
    assert (out / "c1.png").is_file() and (out / "c3.png").is_file()
    page = (out / "index.html").read_text()
    assert page.count("<figure") == 8 and "tiles/c3/" in page
    mtime = (out / "index.json").stat().st_mtime_ns
    # the same pass again: read from the index, redraw other units with projections
    assert main(argv[:-2] + ["--units", "0,1", "--projection", "deconvnet", "--out", str(out)]) == 0
    d2 = json.loads((out / "index.json").read_text())
    assert (
        d2["layers"][1]["drawn"] == [0, 1]
        and (out / d2["layers"][1]["units"][0]["projection_tile"]).is_file()
    )
    assert (out / "index.json").stat().st_mtime_ns != mtime
    assert [u["top"] for u in d2["layers"][1]["units"]] == [u["top"] for u in c3["units"]]


def test_units_cli_refuses_in_one_sentence(tmp_path, capsys) -> None:  # noqa: ANN001
    from cnnzoo.cli import main

    base = ["units", "lenet5_modern", "--data", "digits", "--out", str(tmp_path / "o")]
    for extra, words in [
        (["--layers", "c9"], "has no layer"),
        (["--units", "99", "--pick", "first", "--layers", "c1", "--limit", "5"], None),
        (["--units", "0,40", "--layers", "c1", "--limit", "5"], "unit 40 does not exist"),
        (["--units", "x"], "units must be"),
    ]:
        code = main(base + extra + ["--no-progress"])
        err = capsys.readouterr().err
        if words is None:
            assert code == 0
        else:
            assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_units_over_image_files_records_each_file_and_skips_a_broken_one(tmp_path) -> None:  # noqa: ANN001
    from PIL import Image

    from cnnzoo.explain.unit_report import units_files

    folder = tmp_path / "photos"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(5):
        arr = (torch.rand(40, 30, 3, generator=g) * 255).byte().numpy()
        Image.fromarray(arr, "RGB").save(folder / f"p{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    with pytest.warns(UserWarning, match="broken.png"):
        rep = units_files(
            "lenet5_modern",
            tmp_path / "out",
            images=[str(folder)],
            layers=["c3"],
            top=3,
            units=2,
            progress=False,
        )
    d = json.loads(rep.index.read_text())
    assert d["images"] == 5 and d["skipped"] == [str(folder / "broken.png")]
    assert d["data"]["files"][0].endswith("broken.png") and len(d["data"]["files"]) == 6
    hits = d["layers"][0]["units"][0]["top"]
    assert len(hits) == 3 and all(h["file"].endswith(".png") and "broken" not in h["file"] for h in hits)
    assert all(h["label"] is None for h in hits)
