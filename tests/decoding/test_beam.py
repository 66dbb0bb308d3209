"""Beam search: a wide beam finds the exhaustive best, a beam of one is greedy search."""

import itertools
import math

import pytest
import torch

from rnnkit.decoding.beam import beam_search, length_penalty
from rnnkit.decoding.greedy import greedy_search

BOS, EOS = 0, 1


def markov_step(table: torch.Tensor):
    """A decoder whose next-token log-probabilities depend on the previous token only.

    The state is a per-row step counter (so select_rows is exercised); attention is the one-hot
    of the step over 8 source positions.
    """

    def step(tokens, state):
        (counter,) = state
        log_probs = table[tokens]  # (B, V)
        attention = torch.nn.functional.one_hot(counter.clamp(max=7), 8).float()  # (B, 8)
        return log_probs, (counter + 1,), attention

    return step


def random_table(vocab: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.log_softmax(torch.randn(vocab, vocab, generator=g) * 2, dim=-1)


def exhaustive_best(table: torch.Tensor, max_length: int, alpha: float):
    """The best finished sequence (ending in EOS within max_length) under the normalisation."""
    vocab = table.shape[0]
    best = (-math.inf, None)
    for n in range(1, max_length + 1):
        for body in itertools.product([v for v in range(vocab) if v not in (BOS, EOS)],
                                      repeat=n - 1):  # fmt: skip
            sequence = [*body, EOS]
            previous, log_prob = BOS, 0.0
            for token in sequence:
                log_prob += float(table[previous, token])
                previous = token
            score = log_prob / length_penalty(n, alpha)
            if score > best[0]:
                best = (score, list(body))
    return best


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
@pytest.mark.parametrize("seed", range(4))
def test_wide_beam_equals_exhaustive_search(alpha, seed):
    table = random_table(5, seed)  # BOS, EOS and 3 words
    table[:, BOS] = -math.inf  # bos never follows
    table = torch.log_softmax(table, dim=-1)
    max_length = 4
    score, tokens = exhaustive_best(table, max_length, alpha)
    state = (torch.zeros(2, dtype=torch.long),)
    results = beam_search(markov_step(table), state, 2, BOS, EOS, max_length, beam_size=64,
                          alpha=alpha)  # fmt: skip
    for (best,) in results:  # both sentences are the same problem
        assert best.tokens == tokens
        assert best.score == pytest.approx(score, abs=1e-5)
        assert best.finished
        assert best.attention.shape == (len(tokens) + 1, 8)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_one_equals_greedy(seed, alpha):
    table = random_table(7, seed)
    table[:, BOS] = -math.inf
    table = torch.log_softmax(table, dim=-1)
    state = (torch.zeros(3, dtype=torch.long),)
    greedy = greedy_search(markov_step(table), state, 3, BOS, EOS, max_length=6)
    beam = beam_search(markov_step(table), state, 3, BOS, EOS, 6, beam_size=1, alpha=alpha)
    for g, (b,) in zip(greedy, beam, strict=True):
        assert g.tokens == b.tokens
        assert g.finished == b.finished
        assert g.log_prob == pytest.approx(b.log_prob, abs=1e-5)
        assert torch.equal(g.attention, b.attention)


def test_beam_returns_sorted_n_best_and_unfinished_when_no_eos():
    table = random_table(6, 0)
    table[:, BOS] = -math.inf
    table[:, EOS] = -1e9  # practically never ends
    table = torch.log_softmax(table, dim=-1)
    state = (torch.zeros(1, dtype=torch.long),)
    (hyps,) = beam_search(markov_step(table), state, 1, BOS, EOS, 3, beam_size=4, n_best=3)
    assert len(hyps) == 3
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    assert all(len(h.tokens) == 3 for h in hyps)
    with pytest.raises(ValueError, match="n_best"):
        beam_search(markov_step(table), state, 1, BOS, EOS, 3, beam_size=2, n_best=3)
