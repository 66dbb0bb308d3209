"""Generation: seeded, the prime read once, the state stepped, after a warm-up context."""

import pytest
import torch

from rnnkit.decoding import Sampler
from rnnkit.tasks.lm.data import decode_tokens, encode_text, warmup_ids
from rnnkit.tasks.lm.generate import generate_text

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
    generate_text(
        model, vocab, tokenizer, "char", "hello", 30, Sampler(seed=0), torch.device("cpu")
    )
    assert lengths == [5] + [1] * 29  # the prime once, then one token per step


def test_samples_start_after_a_warm_up_paragraph_of_the_training_text(tmp_path):
    corpus, tokenizer, vocab = char_setup("A:\nhi there.\n\nB:\nhello.\n\nA:\nbye", tmp_path)
    ids, _ = encode_text(corpus.texts["train"], tokenizer, vocab, "char")
    warm = warmup_ids(ids, vocab, "char", size=12)
    assert decode_tokens(warm, vocab, "char") == "\nB:\nhello.\n\n"  # ends a paragraph
    model = small_model(len(vocab)).eval()
    lengths = _counting(model)
    result = generate_text(
        model, vocab, tokenizer, "char", "A:", 5, Sampler(seed=0), "cpu", context=warm
    )
    assert lengths[0] == len(warm) + 2 and result.text.startswith("A:")  # read, not shown
