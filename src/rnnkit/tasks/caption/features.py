"""A frozen encoder's region features of a split, computed once and cached.

A pretrained encoder that never trains gives the same features for an image in every epoch, so
they are computed once per split (float16, ``(N, L, D)``) and kept in the user cache under a key
of the decoded pixels' bytes and the encoder's name, with a digest of their bytes (a cache file
that does not match it is computed again); the captioner then reads them instead of images
(:meth:`rnnkit.models.captioner.Captioner.regions`).
"""

from __future__ import annotations

import hashlib
import logging

import torch
from tqdm.auto import tqdm

from rnnkit.atomic import atomic_path
from rnnkit.data.resolve import cache_dir
from rnnkit.models.captioner import Captioner
from rnnkit.tasks.caption.data import CaptionSplit

__all__ = ["frozen_features"]

logger = logging.getLogger(__name__)


@torch.no_grad()
def frozen_features(
    split: CaptionSplit,
    model: Captioner,
    name: str,
    *,
    device: torch.device,
    use_cache: bool = True,
    batch_size: int = 64,
    verbose: int = 1,
) -> CaptionSplit:
    """``split`` with its pixels replaced by the frozen encoder's region features."""
    from safetensors.torch import load_file, save_file

    digest = hashlib.sha256(model.config.encoder.encode())
    digest.update(str(tuple(split.pixels.shape)).encode())
    digest.update(split.pixels.numpy().tobytes())
    name_in_cache = f"{model.config.encoder}-{digest.hexdigest()[:32]}.safetensors"
    path = cache_dir() / "features" / name_in_cache
    if use_cache and path.is_file():
        try:
            features = load_file(str(path))["features"]
            if len(features) != len(split) or _digest(features) != _stored_digest(path):
                raise ValueError("its features do not match what was written")
            logger.info("%s split: read the %s features from the cache %s", name,
                        model.config.encoder, path)  # fmt: skip
            return CaptionSplit(features, split.paths, split.captions)
        except Exception as error:  # a damaged cache is computed again, never trusted
            logger.warning("ignoring the damaged feature cache %s (%s)", path, error)
    encoder_device = next(model.encoder.parameters()).device
    model.encoder.to(device)
    chunks = []
    starts = range(0, len(split), batch_size)
    for start in tqdm(starts, desc=f"encode {name}", unit="batch", leave=False,
                      disable=None if verbose else True):  # fmt: skip
        images = split.pixels[start : start + batch_size].to(device)
        chunks.append(model.regions(images).half().cpu())  # (B, L, D)
    model.encoder.to(encoder_device)
    features = torch.cat(chunks)  # (N, L, D)
    logger.info("%s split: %d images encoded by %s into %s features", name, len(features),
                model.config.encoder, tuple(features.shape[1:]))  # fmt: skip
    if use_cache:
        try:
            with atomic_path(path) as tmp:
                save_file({"features": features.contiguous()}, str(tmp),
                          metadata={"digest": _digest(features)})  # fmt: skip
        except OSError as error:
            logger.warning("could not write the feature cache %s (%s)", path, error)
    return CaptionSplit(features, split.paths, split.captions)


def _digest(features: torch.Tensor) -> str:
    """A digest of the bytes of ``features``, stored with them to detect a damaged cache."""
    return hashlib.blake2b(features.contiguous().numpy().tobytes(), digest_size=16).hexdigest()


def _stored_digest(path) -> str | None:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return (handle.metadata() or {}).get("digest")
