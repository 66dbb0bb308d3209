import pytest

from rnnkit.data.subword import SubwordTokenizer
from rnnkit.data.tokenize import tokenizer_from_dict
from rnnkit.errors import UserError

TEXTS = [
    "Ein Mann fährt Fahrrad.", "Eine Frau fährt ein rotes Fahrrad.", "Zwei Hunde spielen.",
    "Ein Hund spielt im Schnee.", "Kinder spielen Fußball auf der Straße.",
] * 4  # fmt: skip


@pytest.mark.parametrize("kind", ["bpe", "unigram", "word"])
def test_roundtrip_and_json(kind):
    tok = SubwordTokenizer.train(TEXTS, kind=kind, vocab_size=60, min_freq=1)
    for text in TEXTS[:5]:
        pieces = tok(text)
        assert pieces and "<unk>" not in pieces
        if kind != "word":  # word-level splits punctuation off without a marker
            assert tok.detokenize(pieces) == text
    rebuilt = tokenizer_from_dict(tok.to_dict())
    assert rebuilt == tok and rebuilt(TEXTS[1]) == tok(TEXTS[1])
    assert tok.batch(TEXTS[:2]) == [tok(TEXTS[0]), tok(TEXTS[1])]


def test_bpe_splits_unseen_words_into_known_pieces():
    tok = SubwordTokenizer.train(TEXTS, kind="bpe", vocab_size=80, min_freq=1)
    pieces = tok("Fahrräder spielen")
    assert "<unk>" not in pieces and len(pieces) > 2
    assert tok.detokenize(pieces) == "Fahrräder spielen"
    words = SubwordTokenizer.train(TEXTS, kind="word", vocab_size=100, min_freq=1)
    assert "<unk>" in words("Fahrräder spielen")


def test_bad_kind_and_corrupt_spec():
    with pytest.raises(UserError, match="unknown tokens kind"):
        SubwordTokenizer.train(TEXTS, kind="chars")
    with pytest.raises(UserError, match="corrupt subword tokenizer"):
        tokenizer_from_dict({"name": "subword", "kind": "bpe", "spec": {"model": "nonsense"}})
    with pytest.raises(UserError, match="kind must be one of"):
        tokenizer_from_dict({"name": "subword", "kind": "x", "spec": {}})
