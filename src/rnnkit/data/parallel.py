"""Parallel corpora for translation: Multi30k, a folder of split files, a pair of files, a TSV.

:func:`load_parallel` reads ``--data`` for ``rnnkit train translate`` into a
:class:`ParallelCorpus` of ``{split: (sources, targets)}``, line-aligned:

* a registered dataset (``multi30k``), found like every dataset (:mod:`rnnkit.data.resolve`);
* a folder of ``<stem>.<language>[.gz]`` files: ``train``, ``val``/``valid``/``dev``,
  ``test``/``test_2016_flickr`` (Multi30k's and Moses' names; the readers of these formats are in
  :mod:`rnnkit.data.parallel_files`);
* a file prefix: ``data/corpus`` with ``--src de --tgt en`` reads ``data/corpus.de`` and
  ``data/corpus.en`` (a pair of line-aligned files);
* a ``.tsv`` file of ``source<TAB>target`` lines.

Line counts of the two sides must agree (else a ``UserError`` names both files and counts). Pairs
with an empty side carry nothing to learn or score: they are dropped and counted
(``ParallelCorpus.dropped``). Without a validation split one is cut from train (seeded).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.parallel_files import (
    LANGUAGE_CODE,
    SPLIT_STEMS,
    Pairs,
    read_aligned,
    read_pairs_tsv,
    read_parallel_folder,
)
from rnnkit.data.registry import DATASETS
from rnnkit.data.resolve import resolve
from rnnkit.errors import UserError

__all__ = ["ParallelCorpus", "load_parallel", "parallel_corpus"]

logger = logging.getLogger(__name__)


@dataclass
class ParallelCorpus:
    """Line-aligned ``{split: (sources, targets)}`` read from ``origin``."""

    origin: str
    src: str
    tgt: str
    splits: dict[str, Pairs]
    dropped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        sizes = ", ".join(f"{name} {len(pairs[0]):,}" for name, pairs in self.splits.items())
        return f"{self.origin} {self.src}->{self.tgt}: {sizes} pairs"


def _drop_empty(pairs: Pairs) -> tuple[Pairs, int]:
    kept = [(s, t) for s, t in zip(*pairs) if s.strip() and t.strip()]
    return ([s for s, _ in kept], [t for _, t in kept]), len(pairs[0]) - len(kept)


def _cut_validation(train: Pairs, fraction: float, seed: int) -> tuple[Pairs, Pairs]:
    n = len(train[0])
    n_val = max(1, round(n * fraction))
    if n - n_val < 1:
        raise UserError(f"{n} training pair(s) are too few to cut a validation split from")
    order = np.random.default_rng(seed).permutation(n)
    val_index, train_index = sorted(order[:n_val]), sorted(order[n_val:])

    def take(index):
        return [train[0][i] for i in index], [train[1][i] for i in index]

    return take(train_index), take(val_index)


def load_parallel(
    data: str,
    src: str,
    tgt: str,
    *,
    encoding: str = "utf-8",
    val_fraction: float | None = 0.05,
    seed: int = 0,
) -> ParallelCorpus:
    """Read ``--data`` (a dataset name, folder, file prefix or TSV) as a :class:`ParallelCorpus`.

    Args:
        data: ``multi30k``, a folder, a prefix (``PREFIX.src`` and ``PREFIX.tgt``) or a ``.tsv``.
        src: the source language code (the files' suffix), e.g. ``"de"``.
        tgt: the target language code, e.g. ``"en"``.
        encoding: the files' encoding.
        val_fraction: of train, cut off for validation when the data has no validation split
            (None: none is cut).
        seed: seeds that cut.
    """
    for code in (src, tgt):
        if not LANGUAGE_CODE.match(code or ""):
            raise UserError(f"invalid language code {code!r}; expected letters such as de or en")
    if src == tgt:
        raise UserError(f"--src and --tgt are both {src!r}; expected two different languages")
    path = Path(data).expanduser()
    if data in DATASETS:
        splits = read_parallel_folder(resolve(data), src, tgt, encoding)
    elif path.is_dir():
        splits = read_parallel_folder(path, src, tgt, encoding)
    elif path.is_file():
        if path.suffix.lower() not in (".tsv", ".txt"):
            raise UserError(
                f"{path}: expected a .tsv file of 'source<TAB>target' lines, a folder, or a "
                f"prefix of two files ({path}.{src} and {path}.{tgt})"
            )
        splits = {"train": read_pairs_tsv(path, encoding)}
    elif any(Path(f"{path}.{src}{gz}").is_file() for gz in ("", ".gz")):
        files = [
            next((f for f in (Path(f"{path}.{code}"), Path(f"{path}.{code}.gz")) if f.is_file()),
                 Path(f"{path}.{code}"))
            for code in (src, tgt)
        ]  # fmt: skip
        splits = {"train": read_aligned(files[0], files[1], encoding)}
    else:
        raise UserError(
            f"{data!r} is neither a known dataset ({', '.join(DATASETS)}), a folder, a .tsv file, "
            f"nor a prefix of two files ({data}.{src} and {data}.{tgt})"
        )
    origin = data if data in DATASETS else str(path)
    return parallel_corpus(origin, src, tgt, splits, val_fraction=val_fraction, seed=seed)


def parallel_corpus(
    origin: str,
    src: str,
    tgt: str,
    splits: dict[str, Pairs],
    *,
    val_fraction: float | None = 0.05,
    seed: int = 0,
) -> ParallelCorpus:
    """``splits`` (read from files, or given in memory) as a :class:`ParallelCorpus`: pairs with
    an empty side dropped and, without a "val" split, ``val_fraction`` of train cut off for one
    (seeded; ``val_fraction=None``: none is cut, e.g. to score a file whole)."""
    splits, dropped = dict(splits), {}
    for split in list(splits):
        splits[split], dropped[split] = _drop_empty(splits[split])
        if dropped[split]:
            logger.info("dropped %d %s pair(s) with an empty side", dropped[split], split)
    if not splits["train"][0]:
        raise UserError(f"{origin}: no training pairs with text on both sides")
    if "val" not in splits and val_fraction is not None:
        splits["train"], splits["val"] = _cut_validation(splits["train"], val_fraction, seed)
    return ParallelCorpus(origin, src, tgt, {k: splits[k] for k in SPLIT_STEMS if k in splits},
                          {k: v for k, v in dropped.items() if v})  # fmt: skip
