"""The language-model task: corpora, splits, TBPTT with carried state, overfitting, generation."""

import argparse

import pytest
import torch

from rnnkit.decoding import Sampler
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.tasks.language_model import (
    LanguageModelObjective,
    detach_state,
    make_stream,
)
from rnnkit.tasks.lm_data import (
    build_vocabulary,
    decode_tokens,
    encode_text,
    load_corpus,
    make_tokenizer,
)
from rnnkit.tasks.lm_generate import generate_text
from rnnkit.train import TrainConfig, Trainer, seed_everything

TEXT = "hello world, hello rnn.\n" * 8


pytestmark = pytest.mark.usefixtures("one_thread")


def _char_setup(text=TEXT, tmp_path=None):
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    corpus = load_corpus(str(path))
    tokenizer = make_tokenizer("char", str(path))
    vocab = build_vocabulary(corpus, tokenizer, "char")
    return corpus, tokenizer, vocab


def _model(vocab_size, hidden=24, layers=2, cell="lstm", seed=0, **kw):
    seed_everything(seed)
    config = LanguageModelConfig(
        vocab_size=vocab_size, embed=8, hidden=hidden, layers=layers, cell=cell, **kw
    )
    return LanguageModel(config)


# -- corpora ---------------------------------------------------------------------------------


def test_single_file_is_cut_90_10_and_fractions_are_selectable(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    (tmp_path / "t.txt").write_text(text)
    corpus = load_corpus(str(tmp_path / "t.txt"))
    assert not corpus.own_splits
    assert corpus.texts["train"] == text[:900] and corpus.texts["val"] == text[900:]
    corpus = load_corpus(str(tmp_path / "t.txt"), val_fraction=0.2, test_fraction=0.1)
    assert [len(corpus.texts[s]) for s in ("train", "val", "test")] == [700, 200, 100]
    assert "".join(corpus.texts.values()) == text
    with pytest.raises(UserError, match="leave nothing to train on"):
        load_corpus(str(tmp_path / "t.txt"), val_fraction=0.6, test_fraction=0.5)


def test_folder_with_split_files_uses_them(tmp_path):
    for name, words in [("ptb.train.txt", "a b c\n"), ("ptb.valid.txt", "b c\n"),
                        ("ptb.test.txt", "c a\n")]:  # fmt: skip
        (tmp_path / name).write_text(words)
    corpus = load_corpus(str(tmp_path))
    assert corpus.own_splits
    assert corpus.texts == {"train": "a b c\n", "val": "b c\n", "test": "c a\n"}


def test_folder_of_text_files_is_joined_in_name_order(tmp_path):
    (tmp_path / "b.txt").write_text("second" * 20)
    (tmp_path / "a.txt").write_text("first" * 20 + "\n")
    corpus = load_corpus(str(tmp_path))
    assert not corpus.own_splits
    assert "".join(corpus.texts.values()).startswith("firstfirst")


def test_bad_corpora_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\nsecond \xff line\n")
    with pytest.raises(UserError, match=r"bad.txt: cannot decode byte 0xff on line 2"):
        load_corpus(str(bad))
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(UserError, match="empty"):
        load_corpus(str(tmp_path / "empty.txt"))
    with pytest.raises(UserError, match="neither a known corpus"):
        load_corpus(str(tmp_path / "missing.txt"))
    with pytest.raises(UserError, match="not a language-modelling corpus"):
        load_corpus("imdb")


def test_tinyshakespeare_is_shipped_inside_the_package(monkeypatch):
    import hashlib
    from pathlib import Path

    import rnnkit.data
    from rnnkit.data.registry import DATASETS

    entry = DATASETS["tinyshakespeare"]
    shipped = Path(rnnkit.data.__file__).parent / entry.bundled
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == entry.files[0].sha256
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    monkeypatch.setenv("RNNKIT_CACHE", "/nonexistent/cache")
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    corpus = load_corpus("tinyshakespeare")
    assert len(corpus.texts["train"]) + len(corpus.texts["val"]) == 1_115_394
    assert corpus.texts["train"].startswith("First Citizen:")


def test_vocabularies_and_encoding(tmp_path):
    corpus, tokenizer, vocab = _char_setup("aab\n" * 20 + "z", tmp_path)  # 'z' only in val
    assert "z" in vocab and vocab.unk_index is None
    ids, unknown = encode_text("ab\n", tokenizer, vocab, "char")
    assert decode_tokens(ids.tolist(), vocab, "char") == "ab\n" and unknown == []
    with pytest.raises(UserError, match=r"characters the model never saw: 'Q' \(U\+0051\)"):
        encode_text("aQ", tokenizer, vocab, "char", what="the prime")

    (tmp_path / "w.txt").write_text("the cat sat\nthe dog sat\n" * 10 + "a rare word\n")
    words = load_corpus(str(tmp_path / "w.txt"))
    tok = make_tokenizer("word", str(tmp_path / "w.txt"))
    wv = build_vocabulary(words, tok, "word")
    assert wv.eos_index is not None and wv.unk_index is not None
    ids, unknown = encode_text("the cat flew\nthe", tok, wv, "word")
    assert unknown == ["flew"]
    assert decode_tokens(ids.tolist(), wv, "word") == "the cat <unk>\nthe\n"


# -- truncated BPTT --------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_state_carried_between_windows_equals_one_long_pass(cell):
    torch.manual_seed(0)
    tokens = torch.randint(0, 11, (203,))
    model = _model(11, cell=cell).eval()
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
    model = _model(11)
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
    corpus, tokenizer, vocab = _char_setup(text * 5, tmp_path)
    ids, _ = encode_text(text * 5, tokenizer, vocab, "char")
    stream = make_stream(ids, 1, 17, "train")
    model = _model(len(vocab), hidden=48, layers=1)
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


def test_generation_is_seeded_and_starts_with_the_prime(tmp_path):
    _, tokenizer, vocab = _char_setup(tmp_path=tmp_path)
    model = _model(len(vocab)).eval()
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


def test_generation_steps_the_state_without_rereading_the_prefix(tmp_path):
    _, tokenizer, vocab = _char_setup(tmp_path=tmp_path)
    model = _model(len(vocab)).eval()
    lengths = []
    forward = model.forward

    def counting(tokens, state=None):
        lengths.append(tokens.shape[1])
        return forward(tokens, state)

    model.forward = counting
    generate_text(
        model, vocab, tokenizer, "char", "hello", 30, Sampler(seed=0), torch.device("cpu")
    )
    assert lengths == [5] + [1] * 29  # the prime once, then one token per step


def test_resume_refuses_changed_model_settings(tmp_path):
    from rnnkit.tasks.language_model import _settings

    class Saved:
        config = {"data": {"source": "/x.txt", "level": "char"}, "model": {"hidden": 32}}

    args = argparse.Namespace(resume="runs/x", data=None, hidden=64)
    for name in ("level", "val_fraction", "test_fraction", "encoding", "vocab_size", "min_freq",
                 "seq_length", "batch_size", "eval_batch_size", "cell", "embed", "layers",
                 "dropout", "recurrent_dropout", "one_hot", "tie_weights", "init",
                 "forget_bias"):  # fmt: skip
        setattr(args, name, None)
    with pytest.raises(UserError, match="cannot change --hidden when resuming runs/x"):
        _settings(args, Saved())
    args.hidden = 32  # the same value is fine
    data, model = _settings(args, Saved())
    assert data.source == "/x.txt" and model == {"hidden": 32}


def test_samples_start_after_a_warm_up_paragraph_of_the_training_text(tmp_path):
    from rnnkit.tasks.lm_data import warmup_ids

    corpus, tokenizer, vocab = _char_setup("A:\nhi there.\n\nB:\nhello.\n\nA:\nbye", tmp_path)
    ids, _ = encode_text(corpus.texts["train"], tokenizer, vocab, "char")
    warm = warmup_ids(ids, vocab, "char", size=12)
    assert decode_tokens(warm, vocab, "char") == "\nB:\nhello.\n\n"  # ends a paragraph
    model = _model(len(vocab)).eval()
    model.warmup = warm
    lengths = []
    forward = model.forward
    model.forward = lambda tokens, state=None: (
        lengths.append(tokens.shape[1]) or forward(tokens, state)
    )
    result = generate_text(model, vocab, tokenizer, "char", "A:", 5, Sampler(seed=0), "cpu")
    assert lengths[0] == len(warm) + 2 and result.text.startswith("A:")  # read, not shown
