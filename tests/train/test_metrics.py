import math

import numpy as np
import pytest
import torch

from rnnkit.train.metrics import (
    WeightedMeans,
    accuracy,
    bits_per_char,
    confusion_matrix,
    macro_f1,
    perplexity,
)


def test_accuracy_from_indices_logits_and_padding():
    targets = torch.tensor([0, 1, 2, 2])
    assert accuracy(torch.tensor([0, 1, 1, 2]), targets) == 0.75
    logits = torch.tensor([[5.0, 0, 0], [0, 5, 0], [0, 5, 0], [0, 0, 5]])  # (N, C)
    assert accuracy(logits, targets) == 0.75
    assert accuracy(np.array([0, 1, 1, 2]), [0, 1, -100, 2], ignore_index=-100) == 1.0
    assert accuracy([], []) == 0.0


def test_confusion_matrix_rows_are_true_classes():
    cm = confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], num_classes=3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 3\)"):
        confusion_matrix([3], [0], num_classes=3)


def test_macro_f1_matches_a_hand_computation():
    # class 0: tp1 fp0 fn0 -> 1; class 1: tp1 fp1 fn0 -> 2/3; class 2: tp1 fp0 fn1 -> 2/3
    assert macro_f1([0, 1, 1, 2], [0, 1, 2, 2], num_classes=3) == pytest.approx((1 + 4 / 3) / 3)
    # class 3 never occurs: left out of the mean
    assert macro_f1([0, 1], [0, 1], num_classes=4) == 1.0


def test_perplexity_and_bits_per_char():
    assert perplexity(math.log(50)) == pytest.approx(50)
    assert perplexity(1e6) == math.inf
    assert bits_per_char(math.log(2)) == pytest.approx(1.0)


def test_weighted_means():
    means = WeightedMeans()
    means.add({"loss": 1.0, "acc": 0.5}, weight=1)
    means.add({"loss": 4.0, "acc": 1.0}, weight=3)
    assert means.means() == {"loss": 3.25, "acc": 0.875}
