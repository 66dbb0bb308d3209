"""The decoder state: select_rows keeps tuple types, state_device finds the first tensor."""

import torch

from rnnkit.decoding.state import select_rows, state_device
from rnnkit.models.seq2seq import DecoderState


def test_select_rows_keeps_tuple_types():
    state = DecoderState(*(torch.arange(3).view(3, 1) * (i + 1) for i in range(6)))
    picked = select_rows(state, torch.tensor([2, 0]))
    assert isinstance(picked, DecoderState)
    assert picked.hidden.flatten().tolist() == [2, 0]
    assert picked.summary.flatten().tolist() == [12, 0]


def test_state_device_is_the_first_tensors():
    assert state_device((None, (torch.zeros(1, device="meta"),))) == torch.device("meta")
    assert state_device((None, 3)) == torch.device("cpu")
