import pytest
import torch

from rnnkit.decoding import beam_search, greedy_search
from rnnkit.errors import UserError
from rnnkit.models.attention import Attention
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

SRC_V, TGT_V, BOS, EOS = 13, 11, 2, 3


def small(**options) -> Seq2Seq:
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        SRC_V, TGT_V, embed=8, encoder_hidden=6, hidden=10, dropout=0.0, **options
    )
    return Seq2Seq(config).eval()


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([5, 2, 4])
    src = torch.randint(4, SRC_V, (3, 5), generator=g)
    src[torch.arange(5) >= lengths.unsqueeze(1)] = 0  # padding
    tgt = torch.randint(4, TGT_V, (3, 6), generator=g)
    tgt[:, 0] = BOS
    return src, lengths, tgt


KINDS = ["additive", "dot", "general", "none"]


@pytest.mark.parametrize("attention", KINDS)
@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_padding_changes_nothing(attention, cell):
    model = small(attention=attention, cell=cell, layers=2)
    src, lengths, tgt = batch()
    garbage = src.clone()
    pad = torch.arange(5) >= lengths.unsqueeze(1)
    garbage[pad] = torch.randint(4, SRC_V, (int(pad.sum()),))
    with torch.no_grad():
        assert torch.allclose(model(src, lengths, tgt), model(garbage, lengths, tgt), atol=1e-6)
    # and a sentence alone (no padding at all) decodes as in the padded batch
    alone = model(src[1:2, :2], lengths[1:2], tgt[1:2])
    assert torch.allclose(alone, model(src, lengths, tgt)[1:2], atol=1e-5)


@pytest.mark.parametrize("kind", ["additive", "dot", "general"])
def test_attention_weights_vanish_on_padding(kind):
    torch.manual_seed(0)
    attention = Attention(kind, 6, 4)
    keys = torch.randn(2, 5, 4)
    lengths = torch.tensor([3, 5])
    context, weights = attention(torch.randn(2, 6), attention.prepare(keys, lengths))
    assert torch.equal(weights[0, 3:], torch.zeros(2))
    assert torch.allclose(weights.sum(-1), torch.ones(2))
    assert torch.allclose(context[0], weights[0, :3] @ keys[0, :3])


@pytest.mark.parametrize("attention", KINDS)
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_step_by_step_equals_teacher_forced_forward(attention, cell):
    model = small(attention=attention, cell=cell, layers=2)
    src, lengths, tgt = batch(1)
    with torch.no_grad():
        expected = torch.log_softmax(model(src, lengths, tgt), dim=-1)  # (N, T, V)
        state = model.encode(src, lengths)
        for t in range(tgt.shape[1]):
            log_probs, state, weights = model.step(tgt[:, t], state)
            assert torch.allclose(log_probs, expected[:, t], atol=1e-5)
            assert torch.allclose(weights.sum(-1), torch.ones(3))
            assert torch.all(weights[1, 2:] == 0)


def test_teacher_forcing_below_one_feeds_predictions():
    model = small()
    src, lengths, tgt = batch(2)
    with torch.no_grad():
        forced = model(src, lengths, tgt)
        same = model(src, lengths, tgt, teacher_forcing=0.999999)  # still draws: ~always forced
        free = model(src, lengths, tgt, teacher_forcing=0.0)
    assert torch.allclose(forced, same, atol=1e-5)
    assert torch.allclose(forced[:, 0], free[:, 0], atol=1e-6)  # the first step is the same
    assert not torch.allclose(forced, free)


def test_search_with_the_model_beam_one_is_greedy():
    model = small(cell="lstm")
    src, lengths, _ = batch(3)
    state = model.encode(src, lengths)
    greedy = greedy_search(model.step, state, 3, BOS, EOS, max_length=7)
    beam = beam_search(model.step, state, 3, BOS, EOS, 7, beam_size=1)
    assert [g.tokens for g in greedy] == [b[0].tokens for b in beam]
    wide = beam_search(model.step, state, 3, BOS, EOS, 7, beam_size=4, alpha=0.0)
    for g, (w,) in zip(greedy, wide, strict=True):
        if g.finished and w.finished:
            assert w.score >= g.log_prob - 1e-5  # a wider beam finds no worse a hypothesis
        assert w.attention.shape[1] == 5


def test_overfits_one_batch():
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(SRC_V, TGT_V, embed=16, encoder_hidden=16, hidden=32,
                                  dropout=0.0))  # fmt: skip
    src, lengths, tgt = batch(4)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        logits = model(src, lengths, tgt[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, TGT_V), tgt[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradcheck_float64(cell):
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(7, 6, embed=3, encoder_hidden=2, hidden=3, dropout=0.0,
                                  cell=cell, layers=2)).double()  # fmt: skip
    src = torch.tensor([[4, 5, 6], [4, 5, 0]])
    lengths = torch.tensor([3, 2])
    tgt = torch.tensor([[2, 4, 5], [2, 5, 4]])
    names = ["src_embedding.weight", "encoder.weight_ih_l0_reverse", "bridge.weight",
             "attention.query_layer.weight", "attention.v.weight", "cells.0.weight_hh",
             "cells.1.weight_ih", "tgt_embedding.weight"]  # fmt: skip
    params = dict(model.named_parameters())
    inputs = tuple(params[name].detach().clone().requires_grad_(True) for name in names)

    def f(*tensors):
        return torch.func.functional_call(model, dict(zip(names, tensors)), (src, lengths, tgt))

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6)


def test_config_rejects_bad_values():
    with pytest.raises(UserError, match="attention must be one of"):
        Seq2SeqConfig(5, 5, attention="luong")
    with pytest.raises(UserError, match="cell must be one of"):
        Seq2SeqConfig(5, 5, cell="transformer")
    with pytest.raises(UserError, match="dropout"):
        Seq2SeqConfig(5, 5, dropout=1.0)
