"""Pooling over valid steps only."""

import pytest
import torch

from rnnkit.models.pooling import SequencePooling, valid_mask


def test_valid_mask():
    mask = valid_mask(torch.tensor([3, 1]), 4)
    assert mask.tolist() == [[True, True, True, False], [True, False, False, False]]


@pytest.mark.parametrize("kind", ["mean", "max", "attention"])
def test_padding_is_ignored(kind):
    torch.manual_seed(0)
    pool = SequencePooling(kind, 6)
    outputs = torch.randn(2, 5, 6)
    lengths = torch.tensor([5, 2])
    before = pool(outputs, lengths, None)
    outputs[1, 2:] = 1e3  # garbage in the padding
    torch.testing.assert_close(pool(outputs, lengths, None), before)


def test_mean_and_max_definitions():
    outputs = torch.tensor([[[1.0], [3.0], [100.0]]])
    lengths = torch.tensor([2])
    assert SequencePooling("mean", 1)(outputs, lengths, None).item() == 2.0
    assert SequencePooling("max", 1)(outputs, lengths, None).item() == 3.0


def test_attention_weights_sum_to_one_over_valid_steps():
    pool = SequencePooling("attention", 4)
    pool(torch.randn(3, 6, 4), torch.tensor([6, 4, 1]), None)
    weights = pool.last_weights
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    assert torch.all(weights[1, 4:] == 0) and weights[2, 0] == 1


def test_unknown_pooling():
    with pytest.raises(ValueError, match=r"pooling must be one of \['last', 'mean', 'max'"):
        SequencePooling("sum", 4)
