"""Seeded train/validation splits cut from a training set, stratified by label.

Never tune on a test split: the validation split for early stopping and model selection is cut
from the training data. Stratifying keeps each class's share the same on both sides, which
matters for unbalanced data (GOP debate: 61% / 23% / 16%).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np

from rnnkit.data.examples import LabeledTexts
from rnnkit.data.labels import label_sort_key

__all__ = [
    "random_split",
    "stratified_fold",
    "stratified_split",
    "train_val_fold",
    "train_val_split",
]


def _check_fraction(fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {fraction}")


def random_split(n: int, val_fraction: float, *, seed: int = 0) -> tuple[list[int], list[int]]:
    """Split ``range(n)`` at random: ``(train indices, val indices)``, each sorted."""
    _check_fraction(val_fraction)
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(round(n * val_fraction), 1 if n >= 2 else 0), max(n - 1, 0))
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def _shuffled_classes(labels: Sequence[Hashable], seed: int) -> list[np.ndarray]:
    """Each label's indices (labels in sorted order, None last), shuffled by one generator
    seeded with ``seed``: the same for the same labels in the same order."""
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[label].append(index)
    rng = np.random.default_rng(seed)
    keys = [key for key in groups if key is not None]
    ordered = sorted(keys, key=label_sort_key(keys)) + ([None] if None in groups else [])
    shuffled = []
    for label in ordered:
        members = np.asarray(groups[label])
        shuffled.append(members[rng.permutation(len(members))])
    return shuffled


def stratified_split(
    labels: Sequence[Hashable], val_fraction: float, *, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Split indices so each label keeps its share: ``(train indices, val indices)``, sorted.

    Each class with ``n`` examples gives ``round(n * val_fraction)`` of them to validation, but at
    least one when ``n >= 2`` and never all of them (a class seen once stays in training). The
    result depends only on the labels (in order), the fraction and the seed.
    """
    _check_fraction(val_fraction)
    train: list[int] = []
    val: list[int] = []
    for members in _shuffled_classes(labels, seed):
        n = len(members)
        n_val = min(max(round(n * val_fraction), 1 if n >= 2 else 0), max(n - 1, 0))
        val.extend(members[:n_val].tolist())
        train.extend(members[n_val:].tolist())
    return sorted(train), sorted(val)


def stratified_fold(
    labels: Sequence[Hashable], folds: int, fold: int, *, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Fold ``fold`` of ``folds`` stratified folds (k-fold cross-validation): ``(train indices,
    val indices)``, sorted. Each class's examples, shuffled by ``seed`` (the same for every
    fold), go to the folds in turn, so the folds are disjoint, cover the data and keep each
    class's share."""
    if not 0 <= fold < folds or folds < 2:
        raise ValueError(f"expected 0 <= fold < folds and folds >= 2, got fold {fold} of {folds}")
    train: list[int] = []
    val: list[int] = []
    for members in _shuffled_classes(labels, seed):
        chosen = np.arange(len(members)) % folds == fold
        val.extend(members[chosen].tolist())
        train.extend(members[~chosen].tolist())
    return sorted(train), sorted(val)


def train_val_fold(
    data: LabeledTexts, folds: int, fold: int, *, seed: int = 0
) -> tuple[LabeledTexts, LabeledTexts]:
    """``(train, val)`` of ``data`` with fold ``fold`` of ``folds`` stratified folds as val."""
    train_idx, val_idx = stratified_fold(data.labels, folds, fold, seed=seed)
    return data.subset(train_idx), data.subset(val_idx)


def train_val_split(
    data: LabeledTexts, val_fraction: float = 0.1, *, seed: int = 0, stratify: bool = True
) -> tuple[LabeledTexts, LabeledTexts]:
    """Cut a validation split from ``data``: ``(train, val)``, stratified by label by default."""
    if stratify:
        train_idx, val_idx = stratified_split(data.labels, val_fraction, seed=seed)
    else:
        train_idx, val_idx = random_split(len(data), val_fraction, seed=seed)
    return data.subset(train_idx), data.subset(val_idx)
