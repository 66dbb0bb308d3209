"""Sampling: top-k/top-p keep only the allowed tokens, temperature -> 0 is greedy, seeds repeat."""

import math

import pytest
import torch

from rnnkit.decoding.sampling import (
    Sampler,
    check_sampling,
    filter_logits,
    sample_tokens,
    top_k_filter,
    top_p_filter,
)


def _logits(seed=0, n=4, v=50):
    return torch.randn(n, v, generator=torch.Generator().manual_seed(seed)) * 2  # (N, V)


def _draws(sampler, logits, times=300):
    return torch.stack([sampler(logits) for _ in range(times)])  # (times, N)


def test_top_k_keeps_only_the_k_most_likely():
    logits = _logits()
    allowed = logits.topk(5, dim=-1).indices  # (N, 5)
    filtered = top_k_filter(logits, 5)
    assert torch.equal(torch.isfinite(filtered).sum(-1), torch.full((4,), 5))
    draws = _draws(Sampler(temperature=1.5, top_k=5, seed=0), logits)
    for row in range(4):
        assert set(draws[:, row].tolist()) <= set(allowed[row].tolist())
        assert len(set(draws[:, row].tolist())) > 1  # it does sample among them
    assert torch.equal(top_k_filter(logits, 500), logits)  # k beyond V keeps all


def test_top_p_keeps_the_smallest_nucleus():
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
    logits = probs.log()
    kept = lambda p: set(torch.isfinite(top_p_filter(logits, p))[0].nonzero().flatten().tolist())  # noqa: E731
    assert kept(0.4) == {1}  # the most likely token alone reaches 0.4
    assert kept(0.7) == {1, 3}  # 0.5 + 0.3
    assert kept(0.8) == {1, 3}  # exactly 0.8: nothing more needed
    assert kept(0.81) == {1, 3, 2}
    assert kept(1.0) == {0, 1, 2, 3}
    assert kept(1e-9) == {1}  # the most likely token is always kept
    draws = _draws(Sampler(top_p=0.7, seed=1), logits, 400)
    assert set(draws.flatten().tolist()) == {1, 3}


def test_top_k_then_top_p_on_what_is_left():
    logits = torch.tensor([[0.4, 0.3, 0.2, 0.1]]).log()
    filtered = filter_logits(logits, temperature=1.0, top_k=2, top_p=0.5)
    # after top-k the two left have 0.57 and 0.43: top-p 0.5 keeps the first only
    assert torch.isfinite(filtered).tolist() == [[True, False, False, False]]


def test_temperature_towards_zero_equals_greedy():
    logits = _logits(3, n=8, v=30)
    greedy = Sampler(greedy=True)(logits)
    assert torch.equal(greedy, logits.argmax(-1))
    assert torch.equal(Sampler(temperature=0)(logits), greedy)
    for seed in range(5):
        assert torch.equal(Sampler(temperature=1e-4, seed=seed)(logits), greedy)


def test_high_temperature_flattens():
    logits = torch.tensor([[3.0, 0.0, 0.0, 0.0]])
    hot = filter_logits(logits, temperature=100.0).softmax(-1)
    cold = filter_logits(logits, temperature=0.5).softmax(-1)
    assert hot[0, 0] < 0.3 < 0.99 < cold[0, 0]


def test_same_seed_same_draws_and_the_global_state_is_untouched():
    logits = _logits(1)
    before = torch.get_rng_state()
    a = _draws(Sampler(seed=7), logits, 50)
    b = _draws(Sampler(seed=7), logits, 50)
    c = _draws(Sampler(seed=8), logits, 50)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), before)


def test_banned_tokens_are_never_drawn():
    logits = torch.zeros(1, 3)
    logits[0, 0] = 10.0
    assert Sampler(greedy=True, banned=(0,))(logits).item() != 0
    assert 0 not in _draws(Sampler(seed=0, banned=(0,)), logits, 100).flatten().tolist()


def test_sample_tokens_steps_the_state_one_token_at_a_time():
    calls = []

    def step(tokens, state):  # a counter model: always predicts state + 1
        calls.append(tokens.tolist())
        state = state + 1
        return torch.nn.functional.one_hot(state % 10, 10).float() * 50, state

    state = torch.tensor([4])  # the state in which the model predicted the first token, 4
    first = torch.nn.functional.one_hot(torch.tensor([4]), 10).float() * 50
    out = [t.item() for t in sample_tokens(step, first, state, 5, greedy=True)]
    assert out == [4, 5, 6, 7, 8]
    assert calls == [[4], [5], [6], [7]]  # each token fed once; the last needs no step
    assert list(sample_tokens(step, first, state, 0)) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": -1.0}, "temperature must be a finite number >= 0, got -1.0"),
        ({"temperature": math.nan}, "temperature must be a finite number >= 0"),
        ({"top_k": 0}, "top_k must be an integer >= 1"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_sampling(**kwargs)
    with pytest.raises(ValueError, match=message):
        Sampler(**kwargs)


def test_extreme_settings_still_give_a_distribution():
    """Found by fuzzing the server: a top_p below float32's range (read as 0) kept no token, and
    a temperature of 1e-272 made inf - inf = nan; both now keep the likeliest token."""
    logits = torch.tensor([[1.0, 3.0, 2.0], [0.5, -1.0, 0.0]])
    for kwargs in ({"temperature": 1.0, "top_p": 5e-324}, {"temperature": 2.4e-272}):
        probs = filter_logits(logits, **kwargs).softmax(-1)
        assert torch.isfinite(probs).all(), kwargs
        assert probs.argmax(-1).tolist() == [1, 0] and torch.allclose(probs.max(-1).values,
                                                                      torch.ones(2))  # fmt: skip


def test_draws_are_torch_multinomials_and_row_i_is_seed_plus_i_alone():
    logits = _logits(2, n=3, v=40)
    probs = filter_logits(logits, 0.7, top_k=20).softmax(-1)
    batched = Sampler(temperature=0.7, top_k=20, seed=11)
    alone = [Sampler(temperature=0.7, top_k=20, seed=11 + i) for i in range(3)]
    generators = [torch.Generator().manual_seed(11 + i) for i in range(3)]
    for _ in range(30):
        rows = batched(logits)  # (3,)
        for i in range(3):
            assert rows[i] == alone[i](logits[i : i + 1])[0]  # the same draws, batched or not
            assert rows[i] == torch.multinomial(probs[i : i + 1], 1, generator=generators[i])
    assert Sampler(seed=3).generators(2)[1].initial_seed() == 4
