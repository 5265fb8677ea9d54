"""The one image decoder (issue #17): EXIF orientation applied and 16-bit greyscale PNGs scaled, the same
for training (datasets), explain/activations and predict (deploy sessions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnzoo.data.images import decode_image, decode_pil, load_images
from cnnzoo.record import ModelRecord


def load_image(path: Path, in_chans: int, size: tuple[int, int]) -> torch.Tensor:
    """What explain shows of one file for a model taking ``in_chans x size`` (the picture door's view)."""
    rec = ModelRecord("m", input_size=(in_chans, *size), mean=(0.5,) * in_chans, std=(0.5,) * in_chans)
    return load_images([path], rec)[1][0]


def _rotated(path: Path) -> Path:
    """A 20x40 (HxW) image, left half white, stored with EXIF orientation 6 ("rotate 90 CW to view")."""
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = 255
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(path, exif=exif.tobytes())
    return path


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_orientation_is_applied(tmp_path: Path, suffix: str) -> None:
    p = _rotated(tmp_path / f"phone{suffix}")
    img = decode_image(p, 3)
    assert img.shape == (3, 40, 20)  # upright: taller than wide
    # rotating 90 degrees clockwise puts the white left half on top
    assert img[:, :18].float().mean() > 240 and img[:, 22:].float().mean() < 15
    with Image.open(p) as im:
        assert torch.equal(decode_pil(im, 3), img) or suffix != ".png"  # lossy codecs: decoders differ


def _grey16(path: Path) -> np.ndarray:
    a = (np.arange(48 * 64).reshape(48, 64) * 20).astype(np.uint16)  # up to 61420 of 65535
    Image.fromarray(a).save(path)
    return a


def test_16_bit_grey_png_is_scaled_not_saturated(tmp_path: Path) -> None:
    a = _grey16(tmp_path / "g16.png")
    want = torch.from_numpy(((a.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8))
    img = decode_image(tmp_path / "g16.png", 1)
    assert img.dtype == torch.uint8 and torch.equal(img[0], want)
    assert int(img.max()) == round(61420 / 257) == 239
    with Image.open(tmp_path / "g16.png") as im:
        assert torch.equal(decode_pil(im, 1)[0], want)
    rgb = decode_image(tmp_path / "g16.png", 3)
    assert torch.equal(rgb[1], want)


def test_explain_reads_the_same_pixels_as_training(tmp_path: Path) -> None:
    a = _grey16(tmp_path / "g16.png")
    x = load_image(tmp_path / "g16.png", 1, (48, 64))  # no resize: the size is the file's
    assert x.shape == (1, 48, 64)
    assert torch.allclose(x[0] * 255, decode_image(tmp_path / "g16.png", 1)[0].float())
    assert float(x.max()) < 0.95  # saturated reading gave 1.0 nearly everywhere
    assert abs(float(x.mean()) - a.mean() / 65535) < 0.01
    p = _rotated(tmp_path / "phone.png")
    assert load_image(p, 3, (40, 20)).shape == (3, 40, 20)
    assert float(load_image(p, 3, (40, 20))[:, :18].mean()) > 0.95


def test_a_folder_with_an_unreadable_file_skips_and_names_it(tmp_path: Path, capfd) -> None:
    from cnnzoo.errors import DataError

    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    Image.fromarray(np.full((8, 8), 50, np.uint8)).save(tmp_path / "c.png")
    spec = ModelRecord("m", input_size=(1, 8, 8), mean=(0.5,), std=(0.5,))
    skipped: list[str] = []
    paths, x, _ = load_images([str(tmp_path)], spec, skipped)
    assert [p.name for p in paths] == ["a.png", "c.png"] and x.shape == (2, 1, 8, 8)
    assert skipped == [str(tmp_path / "b.png")]
    assert "skipped unreadable file" in capfd.readouterr().err
    with pytest.raises(DataError, match="cannot read image"):  # named on its own: an error
        load_images([str(tmp_path / "b.png")], spec)
