"""A tiny character corpus and model for the language-model task's tests."""

from rnnkit.models import LanguageModelConfig, RNNLanguageModel
from rnnkit.tasks.lm.data import build_vocabulary, load_corpus, make_tokenizer
from rnnkit.train import seed_everything

TEXT = "hello world, hello rnn.\n" * 8


def char_setup(text=TEXT, tmp_path=None):
    """(corpus, tokenizer, vocabulary) of ``text`` written to a file."""
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    corpus = load_corpus(str(path))
    tokenizer = make_tokenizer("char", str(path))
    vocab = build_vocabulary(corpus.texts, tokenizer, "char")
    return corpus, tokenizer, vocab


def small_model(vocab_size, hidden=24, layers=2, cell="lstm", seed=0, **kw):
    seed_everything(seed)
    config = LanguageModelConfig(
        vocab_size=vocab_size, embed=8, hidden=hidden, layers=layers, cell=cell, dropout=0.0, **kw
    )
    return RNNLanguageModel(config)
