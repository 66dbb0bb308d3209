import numpy as np
import pytest
import torch

from rnnkit.data.labels import LabelEncoder, check_num_classes, sorted_labels
from rnnkit.errors import UserError


def test_fit_encode_decode_strings():
    enc = LabelEncoder.fit(["pos", "neg", "pos", "neg"])
    assert enc.classes == ("neg", "pos") and len(enc) == 2
    assert enc.encode(["pos", "neg"]) == [1, 0]
    assert enc.decode(torch.tensor([1, 0])) == ["pos", "neg"]


def test_natural_order_for_integers_and_integer_strings():
    assert LabelEncoder.fit([10, 2, 1, np.int64(2)]).classes == (1, 2, 10)
    assert sorted_labels(["10", "2", "1"]) == ["1", "2", "10"]
    assert sorted_labels(["b", "10", "a"]) == ["10", "a", "b"]
    with pytest.raises(UserError, match="all strings or all integers, got both"):
        LabelEncoder.fit([1, "1"])
    with pytest.raises(TypeError, match="expected a str or int label, got float"):
        LabelEncoder.fit([1.5])


def test_unknown_label_names_it_and_the_known_ones():
    enc = LabelEncoder(["Negative", "Neutral", "Positive"])
    with pytest.raises(
        UserError,
        match="unknown label 'positive'; expected one of the 3 known labels: "
        "'Negative', 'Neutral', 'Positive'",
    ):
        enc.encode(["Negative", "positive"])
    many = LabelEncoder(range(50))
    with pytest.raises(UserError, match=r"19, \.\.\. \(30 more\)"):
        many.index(99)


def test_save_load_keeps_label_types(tmp_path):
    for classes in (["neg", "pos"], [0, 1, 5]):
        enc = LabelEncoder(classes)
        enc.save(tmp_path / "labels.json")
        assert LabelEncoder.load(tmp_path / "labels.json").classes == tuple(classes)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "expected a JSON object"),
        ('{"format": "rnnkit.Vocabulary", "version": 1}', "expected format 'rnnkit.LabelEncoder'"),
        ('{"format": "rnnkit.LabelEncoder", "version": 1, "classes": "ab"}', "to be a list"),
        ('{"format": "rnnkit.LabelEncoder", "version": 1, "classes": ["a", "a"]}', "distinct"),
        ('{"format": "rnnkit.LabelEncoder", "version": 1, "classes": [1.5]}', "str or int"),
    ],
)
def test_load_corrupt(tmp_path, content, message):
    (tmp_path / "l.json").write_text(content)
    with pytest.raises(UserError, match=message):
        LabelEncoder.load(tmp_path / "l.json")


def test_check_num_classes():
    check_num_classes(["a", "b", "a"])
    check_num_classes(LabelEncoder(["a", "b", "c"]), minimum=3)
    with pytest.raises(UserError, match=r"expected at least 2 classes in x.csv, got 1 \('pos'\)"):
        check_num_classes(["pos", "pos"], source="x.csv")
    with pytest.raises(UserError, match="got 0 \\(none\\)"):
        check_num_classes([])
