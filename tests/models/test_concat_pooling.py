"""Concat pooling ([last; max; mean]) and the classifier's layer groups."""

import pytest
import torch

from rnnkit.models import ClassifierConfig, SequenceClassifier
from rnnkit.models.pooling import SequencePooling

from .test_classifier import batch

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("bidirectional", [False, True])
def test_concat_is_last_max_and_mean_side_by_side(bidirectional):
    torch.manual_seed(0)
    outputs = torch.randn(3, 5, 4)  # (N, L, F)
    lengths = torch.tensor([5, 2, 4])
    final = torch.randn(2 if bidirectional else 1, 3, 4 // (2 if bidirectional else 1))
    pooled = SequencePooling("concat", 4)(outputs, lengths, final)
    assert pooled.shape == (3, 12)
    parts = [SequencePooling(kind, 4)(outputs, lengths, final) for kind in ("last", "max", "mean")]
    torch.testing.assert_close(pooled, torch.cat(parts, -1))
    assert pooled[1, 8:].tolist() == pytest.approx(outputs[1, :2].mean(0).tolist())  # valid only


def test_classifier_with_concat_pooling_overfits_one_batch():
    torch.manual_seed(0)
    config = ClassifierConfig(50, 3, embed=8, hidden=8, pooling="concat", dropout=0.0)
    model = SequenceClassifier(config)
    assert model.head.in_features == 3 * 2 * 8  # three poolings of both directions
    tokens, lengths, labels = batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(tokens, lengths), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01
    assert torch.equal(model(tokens, lengths).argmax(1), labels)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_groups_hold_every_parameter_once_bottom_to_top(bidirectional):
    config = ClassifierConfig(50, 2, embed=4, hidden=4, layers=3, bidirectional=bidirectional,
                              pooling="attention")  # fmt: skip
    model = SequenceClassifier(config)
    groups = model.layer_groups()
    assert len(groups) == 1 + 3 + 1
    ids = [id(p) for group in groups for p in group]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert groups[0] == [model.embedding.weight]
    assert groups[2] == [p for n, p in model.rnn.named_parameters() if "_l1" in n]
    assert groups[-1][-1] is model.head.bias
