from collections import Counter

import pytest

from rnnkit.data.examples import LabeledTexts
from rnnkit.data.splits import (
    random_split,
    stratified_fold,
    stratified_split,
    train_val_fold,
    train_val_split,
)

LABELS = ["neg"] * 60 + ["neu"] * 30 + ["pos"] * 9 + ["rare"]


def test_stratified_keeps_class_shares_and_is_a_partition():
    train, val = stratified_split(LABELS, 0.2, seed=0)
    assert sorted(train + val) == list(range(len(LABELS)))
    assert Counter(LABELS[i] for i in val) == {"neg": 12, "neu": 6, "pos": 2}  # rare stays in train
    assert train == sorted(train) and val == sorted(val)


def test_seeded_and_order_of_first_appearance_irrelevant():
    assert stratified_split(LABELS, 0.2, seed=1) == stratified_split(LABELS, 0.2, seed=1)
    assert stratified_split(LABELS, 0.2, seed=1) != stratified_split(LABELS, 0.2, seed=2)
    # two classes of 2: each gives one example, never both
    labels = ["a", "a", "b", "b"]
    train, val = stratified_split(labels, 0.01, seed=0)
    assert sorted(labels[i] for i in val) == ["a", "b"] and len(train) == 2


def test_fraction_checked():
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\), got 1.0"):
        stratified_split(LABELS, 1.0)


def test_random_split():
    train, val = random_split(10, 0.3, seed=0)
    assert len(val) == 3 and sorted(train + val) == list(range(10))


def test_train_val_split_on_labeled_texts():
    data = LabeledTexts([f"t{i}" for i in range(len(LABELS))], LABELS, source="x")
    train, val = train_val_split(data, 0.1, seed=0)
    assert len(train) + len(val) == len(data)
    assert set(train.texts).isdisjoint(val.texts)
    assert val.class_counts() == {"neg": 6, "neu": 3, "pos": 1}
    unstratified = train_val_split(data, 0.1, seed=0, stratify=False)[1]
    assert len(unstratified) == 10


def test_stratified_folds_are_disjoint_cover_the_data_and_keep_class_shares():
    labels = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    vals = [stratified_fold(labels, 5, k, seed=3)[1] for k in range(5)]
    assert sorted(i for v in vals for i in v) == list(range(100))  # a partition of the data
    for k, val in enumerate(vals):
        train, again = stratified_fold(labels, 5, k, seed=3)
        assert again == val and sorted(train + val) == list(range(100))
        assert Counter(labels[i] for i in val) == {"a": 12, "b": 6, "c": 2}
    assert stratified_fold(labels, 5, 0, seed=4)[1] != vals[0]  # the seed shuffles
    with pytest.raises(ValueError, match="0 <= fold < folds"):
        stratified_fold(labels, 5, 5)


def test_train_val_fold_on_labeled_texts():
    data = LabeledTexts([f"t{i}" for i in range(9)], [i % 3 for i in range(9)])
    train, val = train_val_fold(data, 3, 1, seed=0)
    assert len(train) == 6 and len(val) == 3 and sorted(val.labels) == [0, 1, 2]
    assert set(train.texts) | set(val.texts) == set(data.texts)
