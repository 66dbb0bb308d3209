"""RNNLanguageModel: state carried between windows, weight tying, overfitting a batch."""

import pytest
import torch

from rnnkit.errors import UserError
from rnnkit.models import LanguageModelConfig, RNNLanguageModel


@pytest.mark.parametrize("one_hot", [False, True])
def test_two_windows_with_carried_state_equal_one_long_pass(one_hot):
    torch.manual_seed(0)
    model = RNNLanguageModel(LanguageModelConfig(30, embed=8, hidden=12, one_hot=one_hot)).eval()
    tokens = torch.randint(0, 30, (3, 10))
    whole, _ = model(tokens)
    first, state = model(tokens[:, :6])
    second, _ = model(tokens[:, 6:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    assert whole.shape == (3, 10, 30)


def test_weight_tying_shares_one_tensor():
    model = RNNLanguageModel(LanguageModelConfig(30, embed=16, hidden=16, tie_weights=True))
    assert model.head.weight is model.embedding.weight
    with pytest.raises(UserError, match="tie_weights needs an embedding of the hidden size"):
        LanguageModelConfig(30, embed=8, hidden=16, tie_weights=True)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_overfits_one_batch(cell):
    torch.manual_seed(0)
    model = RNNLanguageModel(LanguageModelConfig(20, embed=16, hidden=64, layers=2, cell=cell))
    tokens = torch.randint(0, 20, (4, 16))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        logits, _ = model(tokens[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 20), tokens[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


def test_tied_weights_start_with_near_uniform_predictions():
    import math

    torch.manual_seed(0)
    config = LanguageModelConfig(vocab_size=1000, embed=64, hidden=64, tie_weights=True)
    model = RNNLanguageModel(config).eval()
    tokens = torch.randint(0, 1000, (4, 20))
    logits, _ = model(tokens)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 1000), tokens.roll(-1, 1).ravel())
    assert abs(loss.item() - math.log(1000)) < 0.1  # about ln V: no confident wrong guesses
    assert model.embedding.weight.abs().max() <= 0.1
