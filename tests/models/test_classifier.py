"""SequenceClassifier: shapes, padding invariance, bidirectional last state, overfitting a batch."""

import pytest
import torch

from rnnkit.models import ClassifierConfig, SequenceClassifier


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, 50, (8, 12), generator=g)
    lengths = torch.tensor([12, 3, 7, 12, 1, 5, 9, 2])
    for i, n in enumerate(lengths):
        tokens[i, n:] = 0
    labels = torch.randint(0, 3, (8,), generator=g)
    return tokens, lengths, labels


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_change_predictions(cell, pooling, bidirectional):
    torch.manual_seed(0)
    config = ClassifierConfig(
        50, 3, embed=8, hidden=6, layers=2, cell=cell, pooling=pooling, bidirectional=bidirectional
    )
    model = SequenceClassifier(config).eval()
    tokens, lengths, _ = batch()
    logits = model(tokens, lengths)
    assert logits.shape == (8, 3)
    padded = torch.cat([tokens, torch.zeros(8, 5, dtype=torch.long)], 1)  # longer padding
    torch.testing.assert_close(model(padded, lengths), logits)
    # Each sequence alone gives the same logits as in the batch.
    alone = model(tokens[1:2, :3], lengths[1:2])
    torch.testing.assert_close(alone, logits[1:2])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_overfits_one_batch(cell):
    torch.manual_seed(0)
    config = ClassifierConfig(50, 3, embed=16, hidden=32, cell=cell, dropout=0.0)
    model = SequenceClassifier(config)
    tokens, lengths, labels = batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(model(tokens, lengths), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01
    assert torch.equal(model(tokens, lengths).argmax(1), labels)
