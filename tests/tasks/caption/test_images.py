"""Decoding images with Pillow: every mode becomes RGB, bad files are skipped and counted, the
decoded array is cached, and batches are normalised and augmented."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from rnnkit.data.images import (
    ImageError,
    augment,
    cached_images,
    decode_images,
    normalize,
    read_image,
)


@pytest.fixture
def odd_images(tmp_path):
    """Files of every kind the issue lists: name -> path."""
    files = {}
    gray = Image.fromarray(np.tile(np.arange(40, dtype=np.uint8) * 6, (30, 1)), mode="L")
    gray.save(files.setdefault("gray", tmp_path / "gray.jpg"))
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(files.setdefault("cmyk", tmp_path / "c.jpg"))
    rgba = Image.new("RGBA", (30, 40), (255, 0, 0, 255))
    rgba.paste((0, 0, 255, 0), (0, 0, 30, 20))  # top half fully transparent
    rgba.save(files.setdefault("rgba", tmp_path / "alpha.png"))
    Image.new("RGB", (64, 48), (0, 128, 0)).save(files.setdefault("rgb", tmp_path / "ok.jpg"))
    whole = (tmp_path / "ok.jpg").read_bytes()
    files["truncated"] = tmp_path / "truncated.jpg"
    files["truncated"].write_bytes(whole[: len(whole) // 2])
    files["text"] = tmp_path / "notes.jpg"
    files["text"].write_text("not a picture\n", encoding="utf-8")
    files["missing"] = tmp_path / "gone.jpg"
    return files


def test_every_mode_becomes_square_rgb(odd_images):
    gray = read_image(odd_images["gray"], 16)
    assert gray.shape == (16, 16, 3) and gray.dtype == np.uint8
    assert np.array_equal(gray[..., 0], gray[..., 1])  # gray stays gray in all three channels
    cmyk = read_image(odd_images["cmyk"], 16)
    assert cmyk.shape == (16, 16, 3) and cmyk[..., 0].mean() > 200 and cmyk[..., 1].mean() < 60
    rgba = read_image(odd_images["rgba"], 20)  # 30x40: resized to 20x27, centre cut to 20x20
    top, bottom = rgba[1, 10], rgba[-2, 10]
    assert top.tolist() == [255, 255, 255]  # transparent: composited over white
    assert bottom[0] > 240 and bottom[2] < 15  # opaque red stays red


@pytest.mark.parametrize(
    "name, reason", [("truncated", "damaged"), ("text", "not an image"), ("missing", "missing")]
)
def test_a_bad_file_says_what_is_wrong(odd_images, name, reason):
    with pytest.raises(ImageError) as caught:
        read_image(odd_images[name], 16)
    assert caught.value.reason == reason and odd_images[name].name in str(caught.value)


def test_bad_files_are_skipped_and_counted(odd_images):
    paths = [odd_images[k] for k in ("rgb", "text", "gray", "missing", "truncated", "rgba")]
    decoded = decode_images(paths, 12, verbose=0)
    assert decoded.pixels.shape == (3, 3, 12, 12) and decoded.kept == [0, 2, 5]
    assert {r: len(f) for r, f in decoded.skipped.items()} == {
        "not an image": 1, "missing": 1, "damaged": 1,
    }  # fmt: skip
    line = decoded.summary(len(paths))
    assert line.startswith("3 of 6 images decoded; skipped") and "notes.jpg" in line


def test_the_cache_is_reused_and_invalidated(odd_images, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    paths = [odd_images["rgb"], odd_images["gray"]]
    first = cached_images(paths, 8, tmp_path / "cache", verbose=0)
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 1
    again = cached_images(paths, 8, tmp_path / "cache", verbose=0)
    assert "from the cache" in caplog.text and torch.equal(first.pixels, again.pixels)
    Image.new("RGB", (64, 48), (9, 9, 9)).save(odd_images["gray"])  # a changed file: new key
    changed = cached_images(paths, 8, tmp_path / "cache", verbose=0)
    assert int(changed.pixels[1].float().mean()) == 9
    cached_images(paths, 10, tmp_path / "cache", verbose=0)  # another size: another entry
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 3


def test_normalize_and_augment():
    pixels = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    x = normalize(pixels)
    mean_gray = normalize(torch.full((1, 3, 2, 2), 124, dtype=torch.uint8))  # ImageNet's mean R
    assert x.dtype == torch.float32 and abs(float(mean_gray[0, 0, 0, 0])) < 0.01
    a = augment(pixels, torch.Generator().manual_seed(0))
    b = augment(pixels, torch.Generator().manual_seed(0))
    assert a.shape == pixels.shape and a.dtype == torch.uint8 and torch.equal(a, b)
    assert not torch.equal(a, pixels)  # some image was flipped or shifted
    assert x.shape == pixels.shape
