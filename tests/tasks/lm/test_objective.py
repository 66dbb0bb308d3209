"""Truncated BPTT: the state carried across windows, detached between them, and overfitting."""

import pytest
import torch

from rnnkit.decoding import Sampler
from rnnkit.tasks.lm.data import encode_text
from rnnkit.tasks.lm.generate import generate_text
from rnnkit.tasks.lm.objective import LanguageModelObjective, detach_state, make_stream
from rnnkit.train import TrainConfig, Trainer

from .helpers import char_setup, small_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_state_carried_between_windows_equals_one_long_pass(cell):
    torch.manual_seed(0)
    tokens = torch.randint(0, 11, (203,))
    model = small_model(11, cell=cell).eval()
    stream = make_stream(tokens, 4, 7, "test")
    assert stream.batch_size == 4 and len(stream) == 7  # 50 columns -> 49 steps -> 7 windows
    objective = LanguageModelObjective()
    objective.start_epoch(model, train=False)
    logits = []
    with torch.no_grad():
        for inputs, _ in stream:
            out, objective.state = model(inputs, objective.state)  # (B, T, V)
            objective.state = detach_state(objective.state)
            logits.append(out)
        rows = stream.data[:, :-1]  # (B, 49): every input, in one pass
        full, full_state = model(rows)
    torch.testing.assert_close(torch.cat(logits, dim=1), full, atol=1e-5, rtol=1e-5)
    carried = objective.state if cell == "gru" else objective.state[0]
    final = full_state if cell == "gru" else full_state[0]
    torch.testing.assert_close(carried, final, atol=1e-5, rtol=1e-5)
    # and the evaluation's loss is the one-pass loss, weighted by tokens
    objective.start_epoch(model, train=False)
    with torch.no_grad():
        metrics = objective.evaluate(model, iter(stream))
        expected = torch.nn.functional.cross_entropy(
            full.reshape(-1, 11), stream.data[:, 1:].reshape(-1)
        )
    assert metrics["loss"] == pytest.approx(expected.item(), rel=1e-5)
    assert metrics["perplexity"] == pytest.approx(torch.exp(expected).item(), rel=1e-5)
    assert metrics["bpc"] == pytest.approx(expected.item() / 0.6931471805599453, rel=1e-5)


def test_training_detaches_between_windows_and_resets_each_epoch():
    model = small_model(11)
    objective = LanguageModelObjective()
    objective.start_epoch(model, train=True)
    x = torch.randint(0, 11, (2, 5))
    loss, stats = objective.train_loss(model, (x, x))
    assert stats["n"] == 10
    assert all(not s.requires_grad for s in objective.state)
    loss.backward()  # only this window's graph
    objective.start_epoch(model, train=True)
    assert objective.state is None


def test_overfits_a_short_text_and_then_recites_it(tmp_path):
    text = "hello rnn world.\n"
    corpus, tokenizer, vocab = char_setup(text * 5, tmp_path)
    ids, _ = encode_text(text * 5, tokenizer, vocab, "char")
    stream = make_stream(ids, 1, 17, "train")
    model = small_model(len(vocab), hidden=48, layers=1)
    config = TrainConfig(
        epochs=40, lr=0.02, progress=False, plot=False, seed=0, monitor="train_loss"
    )
    objective = LanguageModelObjective()
    trainer = Trainer(model, objective, config, device="cpu")
    history = trainer.fit(stream)
    assert history[-1]["train_loss"] < 0.15, history[-1]
    model.eval()
    objective.start_epoch(model, train=False)
    with torch.no_grad():
        assert objective.evaluate(model, iter(stream))["loss"] < 0.1
    result = generate_text(
        model, vocab, tokenizer, "char", "hello", 40, Sampler(greedy=True), torch.device("cpu")
    )
    assert result.text.startswith(text + "hello rnn world.")
