import pytest

from rnnkit.data.tokenize import (
    TOKENIZERS,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    clean_text,
    get_tokenizer,
    tokenizer_from_dict,
)
from rnnkit.errors import UserError

REVIEW = "A <br /><br />GREAT film, isn't it?! Rock'n'roll &amp; 10/10<BR>"


def test_clean_text_html_and_lower():
    assert clean_text(REVIEW) == "a   great film, isn't it?! rock'n'roll & 10/10 "
    assert clean_text("<br />A", lower=False, html=False) == "<br />A"


def test_word_tokenizer_splits_punctuation_and_keeps_contractions():
    tokens = WordTokenizer()(REVIEW)
    assert tokens == [
        "a", "great", "film", ",", "isn't", "it", "?", "!", "rock'n'roll", "&", "10", "/", "10",
    ]  # fmt: skip
    assert "br" not in tokens


def test_word_tokenizer_punctuation_modes():
    text = "Hello, world! It's 'fine'."
    assert WordTokenizer(punctuation="drop")(text) == ["hello", "world", "it's", "fine"]
    assert WordTokenizer(punctuation="keep")(text) == ["hello,", "world!", "it's", "'fine'."]
    assert WordTokenizer(lower=False)(text)[:2] == ["Hello", ","]
    with pytest.raises(ValueError, match="punctuation must be one of split, drop, keep, got 'x'"):
        WordTokenizer(punctuation="x")


def test_word_tokenizer_unicode():
    assert WordTokenizer()("Zwei junge Männer, grüße!") == [
        "zwei", "junge", "männer", ",", "grüße", "!",
    ]  # fmt: skip


def test_char_tokenizer_keeps_everything_by_default():
    tok = CharTokenizer()
    assert tok("Hi\nYo ") == ["H", "i", "\n", "Y", "o", " "]
    assert tok.detokenize(tok("Hi\nYo ")) == "Hi\nYo "
    assert CharTokenizer(lower=True, html=True)("A<br />b") == ["a", " ", "b"]


def test_whitespace_tokenizer():
    tok = get_tokenizer("whitespace")
    assert tok(" the <unk> cat \n sat ") == ["the", "<unk>", "cat", "sat"]
    assert tok.detokenize(["a", "b"]) == "a b"


@pytest.mark.parametrize("name", sorted(TOKENIZERS))
def test_registry_round_trip_through_dict(name):
    tok = get_tokenizer(name, lower=True)
    assert isinstance(tok, Tokenizer)
    config = tok.to_dict()
    assert config["name"] == name and config["lower"] is True
    assert tokenizer_from_dict(config) == tok


def test_registry_errors():
    with pytest.raises(UserError, match="unknown tokenizer 'bpe'; expected one of word, char"):
        get_tokenizer("bpe")
    with pytest.raises(UserError, match="unknown option.*punctuation.*tokenizer 'char'"):
        get_tokenizer("char", punctuation="drop")
    with pytest.raises(UserError, match="tokenizer 'word': punctuation must be"):
        get_tokenizer("word", punctuation="nope")
    with pytest.raises(UserError, match="expected a tokenizer config"):
        tokenizer_from_dict({"lower": True})
