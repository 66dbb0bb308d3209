"""The data of a captioning run: its settings, the captioned images by split (from the registry,
a folder, a table, or memory), the decoded pixels, the caption tokenizer and vocabulary, and the
training and validation batches.

Splits: the data's own (Flickr8k: train / dev as "val" / test); without a validation split,
``val_fraction`` of the training images is cut off for one (seeded, by image, so no image is on
both sides). ``limit`` keeps the first N images of each split. Images are decoded once (cached
in the user cache, :func:`rnnkit.data.images.cached_images`); files that cannot be read are
skipped and counted in one line per split.

Captions use translation's tokenizer code and JSON (:class:`rnnkit.data.subword.SubwordTokenizer`
and :class:`rnnkit.data.vocab.Vocabulary`); each becomes ``<bos> w_1..w_T <eos>``. A batch holds
``batch_size`` images with all their captions (each image is encoded once per batch, however
many captions it has).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch

from rnnkit.data.batching import pad_sequences
from rnnkit.data.captions import CaptionedImages, read_captions
from rnnkit.data.images import augment, cached_images
from rnnkit.data.registry import DATASETS
from rnnkit.data.resolve import cache_dir, load_dataset
from rnnkit.data.subword import SUBWORD_KINDS, UNK, SubwordTokenizer
from rnnkit.data.tokenize import tokenizer_from_dict
from rnnkit.data.vocab import BOS, EOS, Vocabulary
from rnnkit.errors import UserError
from rnnkit.settings import Settings

__all__ = [
    "CaptionBatch",
    "CaptionBatches",
    "CaptionData",
    "CaptionSplit",
    "CaptionText",
    "decode_split",
    "in_memory",
    "load_captions",
]

logger = logging.getLogger(__name__)

CAPTION_DATASETS = ("flickr8k",)


@dataclass
class CaptionData(Settings):
    """How a captioning run reads its images and captions (saved in config.json).

    Args:
        source: flickr8k, a folder with the Flickr8k layout, or a table of image,caption rows
            (.csv/.tsv/.txt, or a folder holding one beside the images).
        image_column: the table's (or DataFrame's) image column.
        caption_column: the table's (or DataFrame's) caption column.
        encoding: of the table.
        image_size: images are resized (shorter side) and centre-cut to this many pixels square.
        augment: random horizontal flips and small shifts of the training images.
        cache: keep the decoded images in the user cache ($RNNKIT_CACHE or ~/.cache/rnnkit), so
            they are decoded once.
        lowercase: lowercase the captions (and compare them caselessly in BLEU).
        tokens: the caption tokenizer: word, bpe or unigram.
        vocab: the most caption tokens learned.
        min_freq: fewest occurrences of a word (or a merge) in the training captions.
        max_length: leave out training captions longer than this, in tokens.
        val_fraction: of the training images, cut off for validation when the data has no
            validation split.
        limit: use at most N images of each split (quick runs).
        batch_size: images per batch (each with all its captions).
    """

    KIND: ClassVar[str] = "data setting"
    CHOICES: ClassVar[dict[str, Any]] = {"tokens": SUBWORD_KINDS}
    RANGES: ClassVar[dict[str, str]] = {
        "image_size": "[16, 1024]",
        "vocab": "[16, inf)",
        "min_freq": "[1, inf)",
        "max_length": "[1, inf)",
        "val_fraction": "(0, 1)",
        "limit": "[1, inf)",
        "batch_size": "[1, inf)",
    }

    source: str | None = None
    image_column: str = "image"
    caption_column: str = "caption"
    encoding: str = "utf-8"
    image_size: int = 128
    augment: bool = True
    cache: bool = True
    lowercase: bool = True
    tokens: str = "word"
    vocab: int = 10000
    min_freq: int = 5
    max_length: int = 40
    val_fraction: float = 0.1
    limit: int | None = None
    batch_size: int = 32


@dataclass
class CaptionText:
    """The captions' tokenizer and vocabulary (``<bos>``/``<eos>``), saved as the same JSON as
    a translation side's."""

    tokenizer: SubwordTokenizer
    vocab: Vocabulary
    lowercase: bool = True

    @classmethod
    def build(cls, captions: list[str], data: CaptionData) -> CaptionText:
        """Learn the tokenizer and vocabulary on the training ``captions``."""
        texts = [cls.clean(c, data.lowercase) for c in captions]
        tokenizer = SubwordTokenizer.train(
            texts, kind=data.tokens, vocab_size=data.vocab, min_freq=data.min_freq
        )
        vocab = Vocabulary.build(tokenizer.batch(texts), bos=BOS, eos=EOS)
        return cls(tokenizer, vocab, data.lowercase)

    @staticmethod
    def clean(caption: str, lowercase: bool) -> str:
        text = " ".join(caption.split())
        return text.lower() if lowercase else text

    def encode(self, captions: list[str]) -> list[list[int]]:
        """``<bos> w_1..w_T <eos>`` indices of each caption."""
        texts = [self.clean(c, self.lowercase) for c in captions]
        bos, eos = self.vocab.bos_index, self.vocab.eos_index
        return [[bos, *self.vocab.encode(pieces), eos] for pieces in self.tokenizer.batch(texts)]

    def decode(self, ids: list[int]) -> str:
        """The caption of ``ids`` (up to ``<eos>``; padding and ``<bos>`` dropped); an unknown
        token is shown as a word of its own."""
        pieces = [f"▁{UNK}" if p == UNK else p for p in self.vocab.decode(ids)]
        return self.tokenizer.detokenize(pieces)

    def to_artifacts(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer.to_dict(), "vocab": self.vocab.to_dict()}

    @classmethod
    def from_artifacts(cls, artifacts: dict[str, Any], lowercase: bool) -> CaptionText:
        tokenizer = tokenizer_from_dict(artifacts["tokenizer"])
        if not isinstance(tokenizer, SubwordTokenizer):
            raise UserError("the checkpoint's caption tokenizer is not a learned tokenizer")
        vocab = Vocabulary.from_dict(artifacts["vocab"], "vocab.json")
        missing = [name for name in ("bos", "eos") if getattr(vocab, f"{name}_index") is None]
        if missing:
            raise UserError(
                f"the checkpoint's vocab.json has no {' or '.join(missing)} token; expected the "
                "<bos> and <eos> tokens a caption vocabulary holds"
            )
        return cls(tokenizer, vocab, lowercase)


@dataclass
class CaptionSplit:
    """One split's usable images: ``pixels (N, 3, S, S)`` uint8 (or a frozen encoder's region
    features ``(N, L, D)``), their files and captions."""

    pixels: torch.Tensor
    paths: list[Path]
    captions: list[list[str]]

    def __len__(self) -> int:
        return len(self.paths)


def in_memory(X: Any, y: Any, data: CaptionData, what: str = "the data") -> CaptionedImages:
    """Images and captions given in memory: ``X`` image paths and ``y`` one caption per path
    (an image may repeat), or a DataFrame with the image and caption columns and no ``y``."""
    if hasattr(X, "columns"):  # a pandas DataFrame
        missing = [c for c in (data.image_column, data.caption_column) if c not in X.columns]
        if y is not None or missing:
            raise UserError(
                f"{what}: expected a DataFrame with the columns {data.image_column!r} and "
                f"{data.caption_column!r} and no y, got columns {list(X.columns)}"
            )
        X, y = X[data.image_column], X[data.caption_column]
    if y is None:
        raise UserError(f"{what}: expected image paths X and one caption per path y")
    paths = X.tolist() if hasattr(X, "tolist") else list(X)
    captions = y.tolist() if hasattr(y, "tolist") else list(y)
    if isinstance(y, str) or len(paths) != len(captions):
        raise UserError(f"{what}: expected one caption per image path, got {len(paths)} paths "
                        f"and {1 if isinstance(y, str) else len(captions)} captions")  # fmt: skip
    by_image: dict[Path, list[str]] = {}
    for path, caption in zip(paths, captions):
        if not isinstance(caption, str):
            raise UserError(f"{what}: a caption is a {type(caption).__name__}; expected str")
        by_image.setdefault(Path(path), []).append(caption)
    return CaptionedImages(list(by_image), list(by_image.values()))


def _read_source(data: CaptionData) -> dict[str, CaptionedImages]:
    source = data.source
    if source in DATASETS:
        if source not in CAPTION_DATASETS:
            raise UserError(f"{source!r} is not a captioning dataset; expected one of "
                            f"{', '.join(CAPTION_DATASETS)} or a path")  # fmt: skip
        return load_dataset(source)
    path = Path(source).expanduser()
    if not path.exists():
        known = ", ".join(CAPTION_DATASETS)
        raise UserError(f"{source!r} is neither a captioning dataset ({known}) nor an existing "
                        "file or folder")  # fmt: skip
    return read_captions(path, image_column=data.image_column,
                         caption_column=data.caption_column, encoding=data.encoding)  # fmt: skip


def load_captions(
    data: CaptionData, X: Any = None, y: Any = None, validation: Any = None, seed: int = 0
) -> dict[str, CaptionedImages]:
    """The captioned images by split ("train", "val", maybe "test") of ``data.source`` or of
    in-memory ``X``, ``y``; ``validation`` (``(X, y)`` or a DataFrame) replaces the cut."""
    splits = {"train": in_memory(X, y, data, "the training data")} if X is not None else None
    if splits is None:
        splits = dict(_read_source(data))
    if validation is not None:
        if isinstance(validation, tuple) and len(validation) == 2:
            splits["val"] = in_memory(*validation, data, "the validation data")
        else:
            splits["val"] = in_memory(validation, None, data, "the validation data")
    if "val" not in splits:
        train = splits["train"]
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
        cut = max(1, round(len(train) * data.val_fraction)) if len(train) > 1 else 0
        if cut == 0:
            raise UserError("expected at least two images to cut a validation split from")
        splits["val"] = train.take(sorted(order[:cut]))
        splits["train"] = train.take(sorted(order[cut:]))
    if data.limit is not None:
        splits = {name: s.take(list(range(min(data.limit, len(s))))) for name, s in splits.items()}
    return splits


def decode_split(
    images: CaptionedImages, data: CaptionData, name: str, verbose: int = 1
) -> CaptionSplit:
    """The usable images of a split, decoded (from the cache when there), with one line saying
    how many were skipped and why; a split with none left is a ``UserError``."""
    where = cache_dir() / "images" if data.cache else None
    decoded = cached_images(images.paths, data.image_size, where, verbose=verbose)
    logger.info("%s split: %s", name, decoded.summary(len(images)))
    if not decoded.kept:
        reasons = ", ".join(f"{len(f)} {r}" for r, f in decoded.skipped.items()) or "none listed"
        raise UserError(f"no usable images in the {name} split ({reasons}); expected image "
                        "files Pillow can read")  # fmt: skip
    return CaptionSplit(
        decoded.pixels,
        [images.paths[i] for i in decoded.kept],
        [images.captions[i] for i in decoded.kept],
    )


class CaptionBatch(NamedTuple):
    """Images with all their captions: ``owner[m]`` is the image row of caption ``m``."""

    images: torch.Tensor  # (N, 3, S, S) uint8
    captions: torch.Tensor  # (M, T+2) <bos> w_1..w_T <eos>, padded
    owner: torch.Tensor  # (M,) long


class CaptionBatches:
    """Re-iterable batches of a split: ``batch_size`` images each with their encoded captions;
    shuffled and augmented per epoch (``set_epoch``) when ``train``."""

    def __init__(
        self,
        split: CaptionSplit,
        encoded: list[list[list[int]]],
        batch_size: int,
        *,
        pad_index: int,
        train: bool = False,
        augment_images: bool = False,
        seed: int = 0,
    ) -> None:
        self.split, self.encoded, self.batch_size = split, encoded, batch_size
        self.pad_index, self.train, self.augment_images, self.seed = (
            pad_index, train, augment_images, seed
        )  # fmt: skip
        self.rows = [i for i, captions in enumerate(encoded) if captions]  # images with captions
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.rows) // self.batch_size)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        rows = self.rows
        if self.train:
            rows = [rows[i] for i in torch.randperm(len(rows), generator=generator).tolist()]
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            images = self.split.pixels[chunk]  # (N, 3, S, S)
            if self.augment_images:
                images = augment(images, generator)
            captions, owner = [], []
            for row, image in enumerate(chunk):
                captions += [torch.tensor(ids) for ids in self.encoded[image]]
                owner += [row] * len(self.encoded[image])
            padded, _ = pad_sequences(captions, self.pad_index)  # (M, T+2)
            yield CaptionBatch(images, padded, torch.tensor(owner))

    @classmethod
    def of(
        cls, split: CaptionSplit, text: CaptionText, data: CaptionData, *, train: bool,
        seed: int = 0, max_length: int | None = None, batch_size: int | None = None,
    ) -> CaptionBatches:  # fmt: skip
        """The batches of ``split``; with ``max_length``, longer captions are left out."""
        encoded = [text.encode(captions) for captions in split.captions]
        if max_length is not None:
            total = sum(len(e) for e in encoded)
            encoded = [[ids for ids in e if len(ids) <= max_length + 2] for e in encoded]
            dropped = total - sum(len(e) for e in encoded)
            if dropped:
                logger.info("left out %d training caption(s) longer than %d tokens", dropped,
                            max_length)  # fmt: skip
        return cls(
            split, encoded, batch_size or data.batch_size, pad_index=text.vocab.pad_index,
            train=train, augment_images=train and data.augment and split.pixels.dim() == 4,
            seed=seed,
        )  # fmt: skip
