"""The language model's adaptive softmax (Grave et al. 2017): an exact distribution, a loss
that equals the cross-entropy of its log-probabilities, and the same training paths."""

import math

import pytest
import torch

import rnnkit
from rnnkit.errors import UserError
from rnnkit.models import LanguageModelConfig, RNNLanguageModel

V = 50


def model(hidden=16, **options):
    torch.manual_seed(0)
    config = LanguageModelConfig(V, embed=8, hidden=hidden, adaptive_softmax=(5, 20), **options)
    return RNNLanguageModel(config)


def test_a_distribution_whose_loss_is_its_cross_entropy():
    lm = model().eval()
    tokens = torch.randint(0, V, (3, 7))
    targets = tokens.roll(-1, 1)
    scores, _ = lm(tokens)  # (3, 7, V) log-probabilities
    assert scores.shape == (3, 7, V)
    torch.testing.assert_close(scores.exp().sum(-1), torch.ones(3, 7))
    loss, _ = lm(tokens, targets=targets)
    expected = torch.nn.functional.cross_entropy(scores.reshape(-1, V), targets.reshape(-1))
    torch.testing.assert_close(loss, expected)
    # a tail token's probability: the head's cluster entry times the tail's softmax
    h = torch.randn(1, 16)
    head = torch.log_softmax(lm.adaptive.head(h), -1)  # (1, 5 + 2)
    tail = torch.log_softmax(lm.adaptive.tail[1](h), -1)  # (1, V - 20)
    torch.testing.assert_close(lm.scores(h)[0, 20 + 3], head[0, 6] + tail[0, 3])


def test_the_full_softmax_path_gives_the_same_loss_both_ways():
    torch.manual_seed(0)
    lm = RNNLanguageModel(LanguageModelConfig(V, embed=8, hidden=16)).eval()
    tokens = torch.randint(0, V, (2, 5))
    logits, _ = lm(tokens)
    loss, _ = lm(tokens, targets=tokens)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, V), tokens.reshape(-1))
    torch.testing.assert_close(loss, expected)


def test_overfits_one_batch():
    lm = model(hidden=64, layers=2, dropout=0.0)  # tails of 64 / 4 and 64 / 16 features
    tokens = torch.randint(0, V, (4, 16))
    optimizer = torch.optim.Adam(lm.parameters(), lr=0.01)
    for _ in range(300):
        loss, _ = lm(tokens[:, :-1], targets=tokens[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05 < math.log(V)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"adaptive_softmax": (20, 5)}, "must be increasing"),
        ({"adaptive_softmax": (5, 20), "tie_weights": True, "embed": 16}, "tie_weights=False"),
        ({"adaptive_softmax": (5, 20), "hidden": 8}, "hidden >= 16"),
    ],
)
def test_bad_settings_are_one_clear_error(options, message):
    with pytest.raises(UserError, match=message):
        LanguageModelConfig(V, **{"hidden": 16, **options})


def test_cutoffs_past_the_vocabulary_are_refused():
    with pytest.raises(UserError, match="below the vocabulary size 50"):
        RNNLanguageModel(LanguageModelConfig(V, hidden=16, adaptive_softmax=(10, 50)))


def test_a_word_model_trains_generates_and_reloads_with_it(tmp_path):
    text = "the cat sat on the mat and the dog sat on the log . " * 40
    lm = rnnkit.LanguageModel(level="word", hidden=16, epochs=6, seq_length=8, batch_size=4,
                              lr=0.01, sample_length=0, verbose=0,
                              adaptive_softmax=(3, 6))  # fmt: skip
    lm.fit(text, out=tmp_path / "run")
    assert lm.model.adaptive is not None and not lm.model.config.tie_weights  # untied for it
    sample = lm.generate("the cat", length=12, seed=1)
    again = rnnkit.load(tmp_path / "run").generate("the cat", length=12, seed=1)
    assert sample["output"] == again["output"] and len(sample["output"].split()) >= 6
    assert lm.evaluate(text[:300])["perplexity"] < 6  # of 11 words: it has learnt the text


def test_distributed_training_is_told_that_tails_may_go_without_gradients(monkeypatch):
    """A batch with no target in a tail leaves its parameters without a gradient: DDP must
    count them as reduced (find_unused_parameters) instead of waiting for them."""
    from types import SimpleNamespace

    from rnnkit.train import distributed

    made = []
    monkeypatch.setattr(distributed, "current_world", lambda: SimpleNamespace(distributed=True))
    monkeypatch.setattr(torch.nn.parallel, "DistributedDataParallel",
                        lambda m, **options: made.append(options) or m)  # fmt: skip
    lm = model()
    loss, _ = lm(torch.zeros(2, 3, dtype=torch.long), targets=torch.ones(2, 3, dtype=torch.long))
    loss.backward()
    assert all(p.grad is None for p in lm.adaptive.tail.parameters())  # only head targets
    plain = RNNLanguageModel(LanguageModelConfig(V, embed=8, hidden=16))
    distributed.wrap_model(lm, torch.device("cpu"))
    distributed.wrap_model(plain, torch.device("cpu"))
    assert [m["find_unused_parameters"] for m in made] == [True, False]
