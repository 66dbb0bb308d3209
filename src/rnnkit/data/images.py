"""Images for the vision tasks: decoded with Pillow into square uint8 arrays, cached as one
tensor file, normalised and lightly augmented as batches.

Decoding (:func:`read_image`): any mode Pillow opens becomes RGB — grayscale and palette images
are expanded, CMYK converted, and an alpha channel (RGBA, LA, a palette with transparency) is
composited over white; the shorter side is resized to ``size`` (bicubic) and the centre cut to
``size x size``. A file that is missing, is not an image or is truncated raises
:class:`ImageError` naming the file and the reason.

Many files (:func:`decode_images`) skip the bad ones and count them by reason, so a damaged file
is reported once before training, never met mid-epoch. :func:`cached_images` keeps the decoded
array of a list of files in one safetensors file, keyed by the files (path, size, modification
time) and the decoding settings, so later runs and epochs do not decode JPEGs again; a cache file
whose pixels do not match the digest stored with them is decoded again.

Batches (:func:`normalize`, :func:`augment`): uint8 ``(N, 3, S, S)`` to float, standardised with
the ImageNet mean and standard deviation; training batches get a random horizontal flip and a
random crop of the image padded by ``S / 8`` pixels (edge-replicated), per image.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from rnnkit.atomic import atomic_path
from rnnkit.data.files import skipped_summary
from rnnkit.errors import UserError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DecodedImages",
    "ImageError",
    "augment",
    "cached_images",
    "decode_images",
    "normalize",
    "read_image",
]

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CACHE_VERSION = 2  # bump when decoding or the cache file changes, so old caches are not reused


class ImageError(Exception):
    """An image that cannot be used: ``reason`` is "missing", "not an image" or "damaged"."""

    def __init__(self, path: Path, reason: str, detail: str = "") -> None:
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))
        self.path, self.reason = path, reason


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise UserError(
            "images need the 'pillow' package; install it with: pip install 'rnnkit[image]'"
        ) from None
    return Image


def read_image(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """The image at ``path`` as an RGB uint8 array ``(size, size, 3)`` (see the module
    docstring); raises :class:`ImageError` when it cannot be read."""
    Image = _pillow()
    path = Path(path)
    try:
        is_file = path.is_file()
    except OSError:  # e.g. a name too long for the file system
        is_file = False
    if not is_file:
        raise ImageError(path, "missing")
    try:
        with Image.open(path) as image:
            image.load()  # decode now: a truncated file fails here, not later
            rgb = _to_rgb(image, Image)
    except Image.UnidentifiedImageError:
        raise ImageError(path, "not an image") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageError(path, "damaged", str(error)) from None
    width, height = rgb.size
    scale = size / min(width, height)
    resized = rgb.resize(
        (max(size, round(width * scale)), max(size, round(height * scale))), Image.BICUBIC
    )
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    square = resized.crop((left, top, left + size, top + size))
    return np.array(square, dtype=np.uint8)  # (S, S, 3), a writable copy


def _to_rgb(image, Image):
    """``image`` in RGB: alpha composited over white, every other mode converted."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grayscale: scale to 8 bits
        array = np.asarray(image, dtype=np.float64)
        top = max(float(array.max()), 1.0)
        return Image.fromarray((array / top * 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


@dataclass
class DecodedImages:
    """Decoded images: ``pixels (N, 3, S, S)`` uint8 for the ``kept`` files (indices into the
    list asked for), and the files skipped, by reason."""

    pixels: torch.Tensor
    kept: list[int]
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def summary(self, total: int) -> str:
        """One line: how many were decoded and which were skipped, by reason."""
        return skipped_summary(len(self.kept), total, "images decoded", self.skipped)


def decode_images(
    paths: Sequence[str | os.PathLike[str]], size: int, *, verbose: int = 1
) -> DecodedImages:
    """Decode ``paths`` to ``size x size`` (a progress bar while ``verbose``); the files that
    cannot be read are skipped and listed by reason."""
    arrays, kept, skipped = [], [], {}
    for index, path in enumerate(
        tqdm(paths, desc="decode images", unit="image", disable=None if verbose else True,
             leave=False)
    ):  # fmt: skip
        try:
            arrays.append(read_image(path, size))
        except ImageError as error:
            skipped.setdefault(error.reason, []).append(str(path))
            continue
        kept.append(index)
    if arrays:
        pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    else:
        pixels = torch.zeros(0, 3, size, size, dtype=torch.uint8)
    return DecodedImages(pixels, kept, skipped)  # pixels: (N, 3, S, S)


def _cache_key(paths: Sequence[str | os.PathLike[str]], size: int) -> str:
    """A digest of the files (path, byte size, modification time) and the decoding settings."""
    digest = hashlib.sha256(json.dumps({"version": CACHE_VERSION, "size": size}).encode())
    for path in paths:
        path = Path(path)
        try:
            stat = path.stat()
            facts = f"{path.resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}\n"
        except OSError:
            facts = f"{path}\tmissing\n"
        digest.update(facts.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:32]


def cached_images(
    paths: Sequence[str | os.PathLike[str]],
    size: int,
    cache_dir: Path | None,
    *,
    verbose: int = 1,
) -> DecodedImages:
    """:func:`decode_images`, read from / written to ``cache_dir/<key>.safetensors`` (``None``:
    no cache). The key changes when a file or the settings change."""
    from safetensors.torch import save_file

    if cache_dir is None:
        return decode_images(paths, size, verbose=verbose)
    path = cache_dir / f"images-{size}px-{_cache_key(paths, size)}.safetensors"
    if path.is_file():
        try:
            decoded = _read_cache(path, size, len(paths))
            logger.info("images: read %d decoded images from the cache %s", len(decoded.kept),
                        path)  # fmt: skip
            return decoded
        except Exception as error:  # a damaged cache file is decoded again, never trusted
            logger.warning("ignoring the damaged image cache %s (%s)", path, error)
    decoded = decode_images(paths, size, verbose=verbose)
    meta = {"kept": decoded.kept, "skipped": decoded.skipped, "digest": _digest(decoded.pixels)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({"pixels": decoded.pixels}, str(tmp), metadata={"decoded": json.dumps(meta)})
        logger.info("images: cached %d decoded images in %s", len(decoded.kept), path)
    except OSError as error:
        logger.warning("could not write the image cache %s (%s)", path, error)
    return decoded


def _digest(pixels: torch.Tensor) -> str:
    """A digest of the bytes of ``pixels``, stored with them to detect a damaged cache file."""
    return hashlib.blake2b(pixels.contiguous().numpy().tobytes(), digest_size=16).hexdigest()


def _read_cache(path: Path, size: int, count: int) -> DecodedImages:
    """The decoded images in the cache file ``path``; ``ValueError`` (or the reader's error)
    when the file does not hold what :func:`cached_images` wrote: ``count`` files' uint8
    ``(N, 3, size, size)`` pixels with the digest of their bytes."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()["decoded"])
    pixels = load_file(str(path))["pixels"]
    kept, skipped = meta["kept"], meta["skipped"]
    if (
        pixels.dtype != torch.uint8
        or tuple(pixels.shape[1:]) != (3, size, size)
        or not isinstance(kept, list)
        or len(kept) != len(pixels)
        or not all(isinstance(i, int) and 0 <= i < count for i in kept)
        or not isinstance(skipped, dict)
        or not all(isinstance(f, list) for f in skipped.values())
        or meta["digest"] != _digest(pixels)
    ):
        raise ValueError("its pixels or their listing do not match what was written")
    return DecodedImages(pixels, kept, skipped)


def normalize(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 3, S, S)`` -> float ``(N, 3, S, S)``: x / 255 standardised per channel with
    the ImageNet mean and standard deviation."""
    mean = torch.tensor(IMAGENET_MEAN, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=pixels.device).view(1, 3, 1, 1)
    return (pixels.float() / 255.0 - mean) / std


def augment(pixels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random horizontal flip and a random crop of the image padded by S/8 pixels (edges
    replicated), per image of ``pixels (N, 3, S, S)`` (any dtype); the same shape back."""
    n, _, size, _ = pixels.shape
    flip = torch.rand(n, generator=generator) < 0.5  # (N,)
    out = torch.where(flip.view(n, 1, 1, 1).to(pixels.device), pixels.flip(3), pixels)
    pad = max(1, size // 8)
    padded = torch.nn.functional.pad(out.float(), (pad, pad, pad, pad), mode="replicate")
    shifts = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator).tolist()
    crops = [padded[i, :, dy : dy + size, dx : dx + size] for i, (dy, dx) in enumerate(shifts)]
    return torch.stack(crops).to(pixels.dtype)  # (N, 3, S, S)
