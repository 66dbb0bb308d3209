import json

import pytest
import torch

from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import UserError

CORPUS = [["b", "a", "c", "a"], ["c", "a", "d"], ["b", "e"]]  # a:3 b:2 c:2 d:1 e:1


def test_build_orders_by_frequency_then_token():
    vocab = Vocabulary.build(CORPUS)
    assert vocab.itos == ("<pad>", "<unk>", "a", "b", "c", "d", "e")
    assert (vocab.pad_index, vocab.unk_index) == (0, 1)
    assert vocab.bos_index is None and vocab.eos_index is None
    assert vocab.build(reversed(CORPUS)) == vocab  # order of the corpus does not matter


def test_max_size_counts_specials_and_min_freq():
    assert Vocabulary.build(CORPUS, max_size=4).itos == ("<pad>", "<unk>", "a", "b")
    assert Vocabulary.build(CORPUS, min_freq=2).itos == ("<pad>", "<unk>", "a", "b", "c")
    with pytest.raises(ValueError, match="max_size must be >= the 2 special tokens, got 1"):
        Vocabulary.build(CORPUS, max_size=1)
    with pytest.raises(ValueError, match="min_freq must be >= 1, got 0"):
        Vocabulary.build(CORPUS, min_freq=0)


def test_bos_eos_and_corpus_specials_not_duplicated():
    vocab = Vocabulary.build([["<unk>", "x", "<eos>"]], bos="<bos>", eos="<eos>")
    assert vocab.itos == ("<pad>", "<unk>", "<bos>", "<eos>", "x")
    assert vocab.encode(["x", "y"], bos=True, eos=True) == [2, 4, 1, 3]
    assert vocab.decode([2, 4, 1, 3, 4]) == ["x", "<unk>"]
    assert vocab.decode([2, 4, 0, 3, 4], skip_specials=False, stop_at_eos=False) == [
        "<bos>", "x", "<pad>", "<eos>", "x",
    ]  # fmt: skip
    assert vocab.decode(torch.tensor([4, 4])) == ["x", "x"]


def test_encode_decode_errors():
    vocab = Vocabulary.build(CORPUS)
    with pytest.raises(ValueError, match="no bos token"):
        vocab.encode(["a"], bos=True)
    with pytest.raises(ValueError, match=r"expected token indices in \[0, 7\), got 7"):
        vocab.decode([7])
    with pytest.raises(ValueError, match="pad must be a non-empty string"):
        Vocabulary(["a"], pad=None)
    with pytest.raises(ValueError, match="special tokens must be distinct"):
        Vocabulary(["a"], bos="<s>", eos="<s>")
    closed = Vocabulary(["a"], unk=None)
    assert closed.encode(["a"]) == [1]
    with pytest.raises(UserError, match="token 'z' is not in the vocabulary"):
        closed.encode(["z"])


def test_save_load_round_trip(tmp_path):
    vocab = Vocabulary.build(CORPUS, bos="<s>", eos="</s>", unk="<?>", pad="<_>")
    vocab.save(tmp_path / "vocab.json")
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded == vocab and loaded.itos == vocab.itos
    assert loaded.eos_index == 3 and loaded.unk_index == 1
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{oops", "got invalid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"format": "rnnkit.LabelEncoder"}', "expected format 'rnnkit.Vocabulary'"),
        ('{"format": "rnnkit.Vocabulary", "version": 9}', "expected version 1, got 9"),
        (
            '{"format": "rnnkit.Vocabulary", "version": 1, "specials": {"pad": "<pad>"}}',
            "expected 'specials' with keys",
        ),
    ],
)
def test_load_corrupt_json_raises_user_error(tmp_path, content, message):
    (tmp_path / "v.json").write_text(content)
    with pytest.raises(UserError, match=message):
        Vocabulary.load(tmp_path / "v.json")


def test_load_mismatched_tokens(tmp_path):
    data = Vocabulary.build(CORPUS).to_dict()
    data["tokens"] = ["a", "<pad>", "<unk>"]
    (tmp_path / "v.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"expected 'tokens' to start with \['<pad>', '<unk>'\]"):
        Vocabulary.load(tmp_path / "v.json")
    data["tokens"] = ["<pad>", "<unk>", "a", "a"]
    (tmp_path / "v.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="duplicates"):
        Vocabulary.load(tmp_path / "v.json")
    with pytest.raises(UserError, match="no such file"):
        Vocabulary.load(tmp_path / "missing.json")
