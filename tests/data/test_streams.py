import pytest
import torch

from rnnkit.data.streams import TBPTTStream, batchify, contiguous_split


def test_batchify_lays_out_contiguous_rows():
    data = batchify(torch.arange(11), 2)
    assert data.tolist() == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]  # token 10 dropped
    with pytest.raises(ValueError, match="expected at least 6 tokens for batch_size 3, got 5"):
        batchify(torch.arange(5), 3)
    with pytest.raises(ValueError, match="expected a 1-D token tensor"):
        batchify(torch.zeros(2, 2), 1)


def test_windows_are_consecutive_and_shifted():
    stream = TBPTTStream(torch.arange(20), batch_size=2, seq_length=4)
    windows = list(stream)
    assert len(stream) == len(windows) == 3  # 10 columns -> 9 predictions -> 4 + 4 + 1
    assert [tuple(x.shape) for x, _ in windows] == [(2, 4), (2, 4), (2, 1)]
    inputs = torch.cat([x for x, _ in windows], dim=1)  # (B, 9)
    targets = torch.cat([y for _, y in windows], dim=1)  # (B, 9)
    assert torch.equal(targets, inputs + 1)  # each target is the next token of its own row
    assert inputs[1].tolist() == list(range(10, 19))


def test_prebatchified_input_and_errors():
    data = torch.arange(12).reshape(3, 4)
    assert TBPTTStream(data, seq_length=2).batch_size == 3
    with pytest.raises(ValueError, match="expected batch_size for a 1-D token tensor"):
        TBPTTStream(torch.arange(10), seq_length=2)
    with pytest.raises(ValueError, match="seq_length must be >= 1, got 0"):
        TBPTTStream(data, seq_length=0)


def test_contiguous_split():
    train, val = contiguous_split(torch.arange(10), (0.9, 0.1))
    assert train.tolist() == list(range(9)) and val.tolist() == [9]
    with pytest.raises(ValueError, match="summing to 1"):
        contiguous_split(torch.arange(10), (0.5, 0.4))
