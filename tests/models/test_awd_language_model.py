"""The AWD-LSTM options of RNNLanguageModel: embedding dropout drops whole words, locked dropout
keeps one mask per sequence, AR/TAR against a hand computation, and a model with every option on
still overfits one batch."""

import pytest
import torch

from rnnkit.errors import UserError
from rnnkit.models import LanguageModelConfig, RNNLanguageModel
from rnnkit.models.language_model import embedding_dropout, locked_dropout
from rnnkit.train.regularization import activation_penalty

AWD = {
    "weight_drop": 0.3,
    "embed_dropout": 0.1,
    "locked_dropout": True,
    "input_dropout": 0.2,
    "output_dropout": 0.2,
    "dropout": 0.1,
}


def test_embedding_dropout_drops_whole_words():
    torch.manual_seed(0)
    model = RNNLanguageModel(LanguageModelConfig(12, embed=6, hidden=8, dropout=0.0,
                                                 embed_dropout=0.5)).train()  # fmt: skip
    tokens = torch.randint(0, 12, (8, 30))  # every word occurs many times
    vectors = model.embed(tokens)  # (N, L, E)
    rows = model.embedding.weight.detach()
    kept = dropped = 0
    for word in tokens.unique().tolist():
        at = vectors[tokens == word]  # (occurrences, E)
        if at.abs().sum() == 0:
            dropped += 1  # zero at every position of the batch
        else:
            kept += 1
            torch.testing.assert_close(at, rows[word].expand_as(at) * 2)  # scaled by 1/(1-p)
    assert kept and dropped
    model.eval()
    torch.testing.assert_close(model.embed(tokens), rows[tokens])


def test_embedding_dropout_masks_rows_of_the_matrix():
    torch.manual_seed(0)
    weight = torch.randn(10, 4)
    tokens = torch.tensor([[1, 2, 3, 1], [9, 0, 2, 5]])
    torch.manual_seed(1)
    got = embedding_dropout(tokens, weight[tokens], 10, 0.3, training=True)
    torch.manual_seed(1)
    rows = torch.empty(10).bernoulli_(0.7) / 0.7  # one entry per vocabulary row
    expected = torch.nn.functional.embedding(tokens, weight * rows[:, None])
    torch.testing.assert_close(got, expected)


def test_locked_dropout_keeps_one_mask_for_every_step():
    torch.manual_seed(0)
    x = torch.ones(3, 50, 6)  # (N, L, F)
    out = locked_dropout(x, 0.5, training=True)
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same at all 50 steps
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert locked_dropout(x, 0.5, training=False) is x


def test_activation_penalty_against_a_hand_computation():
    h = torch.tensor([[[1.0, -2.0], [3.0, 0.0], [0.5, 1.0]]])  # (N=1, L=3, H=2)
    dropped = torch.tensor([[[2.0, 0.0], [0.0, 0.0], [1.0, 2.0]]])
    ar = (4 + 0 + 0 + 0 + 1 + 4) / 6  # mean of dropped^2
    tar = ((3 - 1) ** 2 + (0 + 2) ** 2 + (0.5 - 3) ** 2 + (1 - 0) ** 2) / 4  # mean of diffs^2
    got = activation_penalty(h, dropped, ar=2.0, tar=0.5)
    assert got.item() == pytest.approx(2.0 * ar + 0.5 * tar)
    assert activation_penalty(h, dropped, ar=0.0, tar=0.0) is None
    one_step = activation_penalty(h[:, :1], dropped[:, :1], ar=0.0, tar=1.0)
    assert one_step is None  # no temporal difference in a single step


def test_outputs_for_regularisation_are_the_last_layers():
    torch.manual_seed(0)
    model = RNNLanguageModel(LanguageModelConfig(15, embed=8, hidden=8, **AWD)).eval()
    tokens = torch.randint(0, 15, (2, 7))
    logits, _, (outputs, dropped) = model(tokens, return_outputs=True)
    expected, _ = model.rnn(model.embed(tokens))
    torch.testing.assert_close(outputs, expected)
    torch.testing.assert_close(dropped, outputs)  # no dropout in eval mode
    torch.testing.assert_close(logits, model.head(outputs))


def test_config_checks():
    with pytest.raises(UserError, match="embed_dropout drops rows of the embedding"):
        LanguageModelConfig(10, one_hot=True, embed_dropout=0.1)
    with pytest.raises(UserError, match="weight_drop"):
        LanguageModelConfig(10, weight_drop=1.0)
    config = LanguageModelConfig(10, dropout=0.3, input_dropout=0.5)
    assert (config.input_rate, config.output_rate) == (0.5, 0.3)


def test_overfits_one_batch_with_every_option_on():
    torch.manual_seed(0)
    config = LanguageModelConfig(20, embed=32, hidden=32, layers=2, tie_weights=True, **AWD)
    model = RNNLanguageModel(config)
    assert model.head.weight is model.embedding.weight
    tokens = torch.randint(0, 20, (4, 17))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(200):
        logits, _, (outputs, dropped) = model(inputs, return_outputs=True)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 20), targets.reshape(-1))
        loss = loss + activation_penalty(outputs, dropped, ar=1.0, tar=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    logits, _ = model(inputs)
    final = torch.nn.functional.cross_entropy(logits.reshape(-1, 20), targets.reshape(-1))
    assert final.item() < 0.2  # ln 20 = 3.0 untrained
