"""Generation: seeded, the prime read once, the state stepped, after a warm-up context."""

import pytest
import torch

from rnnkit.decoding import Sampler
from rnnkit.errors import UserError
from rnnkit.tasks.lm.data import decode_tokens, encode_text, warmup_ids
from rnnkit.tasks.lm.generate import MAX_SAMPLES, generate_text

from .helpers import char_setup, small_model

pytestmark = pytest.mark.usefixtures("one_thread")


def test_generation_is_seeded_and_starts_with_the_prime(tmp_path):
    _, tokenizer, vocab = char_setup(tmp_path=tmp_path)
    model = small_model(len(vocab)).eval()
    cpu = torch.device("cpu")

    def run(seed):
        return generate_text(model, vocab, tokenizer, "char", "hel", 40, Sampler(seed=seed), cpu)

    a, b, c = run(1), run(1), run(2)
    assert a.text == b.text != c.text
    assert a.text.startswith("hel") and len(a.generated) == 40
    pieces = []
    streamed = generate_text(
        model, vocab, tokenizer, "char", "", 25, Sampler(seed=3), cpu, on_text=pieces.append
    )
    assert "".join(pieces) == streamed.text and len(pieces) == 25


def _counting(model):
    """The lengths of the token tensors ``model`` is called with, as they come."""
    lengths = []
    forward = model.forward
    model.forward = lambda tokens, state=None: (
        lengths.append(tokens.shape[1]) or forward(tokens, state)
    )
    return lengths


def test_generation_steps_the_state_without_rereading_the_prefix(tmp_path):
    _, tokenizer, vocab = char_setup(tmp_path=tmp_path)
    model = small_model(len(vocab)).eval()
    lengths = _counting(model)
    stepped = []
    make_stepper = model.stepper

    class Counting:  # the model's stepper, noting the shape of the tokens of each step
        def __init__(self, rows):
            self.stepper = make_stepper(rows)
            self.load, self.state = self.stepper.load, self.stepper.state

        def __call__(self, tokens):
            stepped.append(tuple(tokens.shape))
            return self.stepper(tokens)

    model.stepper = Counting
    cpu = torch.device("cpu")
    stepped_text = generate_text(model, vocab, tokenizer, "char", "hello", 30, Sampler(seed=0),
                                 cpu)  # fmt: skip
    assert lengths == []  # a short prime is read by the stepper too, a token at a time ...
    assert stepped == [(1,)] * (5 + 29)  # ... then one token per step
    long_prime = "hello " * 20  # longer than STEPPED_READ: read through forward at once
    stepped.clear()
    generate_text(model, vocab, tokenizer, "char", long_prime, 30, Sampler(seed=0), cpu)
    assert lengths == [len(long_prime)] and stepped == [(1,)] * 29
    model.stepper = lambda rows: None  # a model the stepper does not cover: forward steps
    lengths.clear()
    forward_text = generate_text(model, vocab, tokenizer, "char", "hello", 30, Sampler(seed=0),
                                 cpu)  # fmt: skip
    assert lengths == [5] + [1] * 29  # the prime once, then one token per step
    assert forward_text.text == stepped_text.text


def test_samples_start_after_a_warm_up_paragraph_of_the_training_text(tmp_path):
    corpus, tokenizer, vocab = char_setup("A:\nhi there.\n\nB:\nhello.\n\nA:\nbye", tmp_path)
    ids, _ = encode_text(corpus.texts["train"], tokenizer, vocab, "char")
    warm = warmup_ids(ids, vocab, "char", size=12)
    assert decode_tokens(warm, vocab, "char") == "\nB:\nhello.\n\n"  # ends a paragraph
    model = small_model(len(vocab)).eval()
    stepped = generate_text(
        model, vocab, tokenizer, "char", "A:", 5, Sampler(seed=0), "cpu", context=warm
    )
    assert stepped.text.startswith("A:")  # the context is read, not shown
    model.stepper = lambda rows: None  # forward only, to count what it reads
    lengths = _counting(model)

    def run():
        lengths.clear()
        return generate_text(
            model, vocab, tokenizer, "char", "A:", 5, Sampler(seed=0), "cpu", context=warm
        ).text

    assert run() == stepped.text  # read by forward: the same text
    assert lengths[:2] == [2, 1]  # the context's state was kept from the call before ...
    with torch.no_grad():
        model.head.bias.add_(0.5)  # ... for these weights only: changed, it is read again
    run()
    assert lengths[:3] == [len(warm), 2, 1]
    run()
    assert lengths[:2] == [2, 1]
    model.train()  # kept for eval mode only (a model in training mode reads it again)
    run()
    assert lengths[:3] == [len(warm), 2, 1]


def _rows(state, rows):
    """A model state (a tensor or tuple of (layers, 1, H)) with ``rows`` copies of its row."""
    if isinstance(state, tuple):
        return tuple(_rows(s, rows) for s in state)
    return state.expand(-1, rows, -1).contiguous()


def _forward_logits(model, prime, tokens):
    """Logits (T, N, V) of feeding ``tokens`` (T, N) after ``prime`` (P,) through forward."""
    with torch.no_grad():
        _, state = model(prime[None, :])
        state, out = _rows(state, tokens.shape[1]), []
        for step in tokens:
            logits, state = model(step[:, None], state)
            out.append(logits[:, -1])
    return torch.stack(out), state


@pytest.mark.parametrize(
    ("cell", "options"),
    [("lstm", {}), ("gru", {}), ("rnn", {}), ("rnn_relu", {}), ("lstm", {"one_hot": True}),
     ("gru", {"table": False}), ("lstm", {"layers": 1, "table": False})],
)  # fmt: skip
def test_the_fast_stepper_computes_what_forward_does(tmp_path, monkeypatch, cell, options):
    _, _, vocab = char_setup(tmp_path=tmp_path)
    options = dict(options)
    table = options.pop("table", True)
    if not table:  # the path of a word vocabulary: embedding rows, no table
        monkeypatch.setattr("rnnkit.models.language_model.MAX_TABLE_ENTRIES", 0)
    model = small_model(len(vocab), cell=cell, **options).eval()
    prime = torch.tensor([3, 4, 5])
    tokens = torch.randint(1, len(vocab), (12, 3), generator=torch.Generator().manual_seed(0))
    expected, final = _forward_logits(model, prime, tokens)
    stepper = model.stepper(3)
    assert (stepper.table is None) == (not table)
    with torch.no_grad():
        stepper.load(_rows(model(prime[None, :])[1], 3))
    got = torch.stack([stepper(step).clone() for step in tokens])  # (T, N, V)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    final = final if isinstance(final, tuple) else (final,)
    mine = stepper.state()
    for a, b in zip(mine if isinstance(mine, tuple) else (mine,), final):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_no_stepper_in_training_mode(tmp_path):
    _, _, vocab = char_setup(tmp_path=tmp_path)
    model = small_model(len(vocab))
    assert model.train().stepper(2) is None and model.eval().stepper(2) is not None


def _run(model, vocab, tokenizer, seed, samples=1, greedy=False, length=40, on_text=None):
    sampler = Sampler(temperature=0.9, seed=seed, greedy=greedy)
    return generate_text(model, vocab, tokenizer, "char", "hel", length, sampler, "cpu",
                         samples=samples, on_text=on_text)  # fmt: skip


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_batched_samples_are_the_separate_runs_of_seed_plus_i(tmp_path, cell):
    _, tokenizer, vocab = char_setup(tmp_path=tmp_path)
    model = small_model(len(vocab), cell=cell).eval()
    batched = _run(model, vocab, tokenizer, seed=5, samples=4)
    assert len(batched.samples) == 4 and all(len(s) == 40 for s in batched.samples)
    assert batched.generated == batched.samples[0] and batched.text == "hel" + batched.samples[0]
    assert len(set(batched.samples)) == 4  # independent draws, not copies
    for i, sample in enumerate(batched.samples):
        assert sample == _run(model, vocab, tokenizer, seed=5 + i).generated
    fewer = _run(model, vocab, tokenizer, seed=5, samples=2)
    assert fewer.samples == batched.samples[:2]  # sample i does not depend on how many
    model.stepper = lambda rows: None  # stepping through forward gives the same samples
    assert _run(model, vocab, tokenizer, seed=5, samples=4).samples == batched.samples


def test_greedy_batched_is_greedy_single(tmp_path):
    _, tokenizer, vocab = char_setup(tmp_path=tmp_path)
    model = small_model(len(vocab)).eval()
    single = _run(model, vocab, tokenizer, seed=None, greedy=True)
    batched = _run(model, vocab, tokenizer, seed=None, samples=3, greedy=True)
    assert batched.samples == [single.generated] * 3


def test_on_text_gets_one_piece_per_sample_and_step(tmp_path):
    _, tokenizer, vocab = char_setup(tmp_path=tmp_path)
    model = small_model(len(vocab)).eval()
    steps = []
    result = _run(model, vocab, tokenizer, seed=1, samples=3, length=10, on_text=steps.append)
    assert len(steps) == 10 and all(len(pieces) == 3 for pieces in steps)
    assert ["".join(pieces[i] for pieces in steps) for i in range(3)] == result.samples


@pytest.mark.parametrize("samples", [0, -2, MAX_SAMPLES + 1, 2.5, True, "3"])
def test_bad_sample_counts(tmp_path, samples):
    _, tokenizer, vocab = char_setup(tmp_path=tmp_path)
    model = small_model(len(vocab)).eval()
    with pytest.raises(UserError, match=f"samples must be an integer from 1 to {MAX_SAMPLES}"):
        _run(model, vocab, tokenizer, seed=1, samples=samples)
