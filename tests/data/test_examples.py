import pytest

from rnnkit.data.examples import LabeledTexts


def test_subset_iter_and_counts():
    data = LabeledTexts(["a", "b", "c", "d"], ["10", "2", "2", None], ["i0", "i1", "i2", "i3"])
    assert len(data) == 4 and list(data)[0] == ("a", "10")
    part = data.subset([2, 0])
    assert part.texts == ["c", "a"] and part.labels == ["2", "10"] and part.ids == ["i2", "i0"]
    assert data.class_counts() == {"2": 2, "10": 1, None: 1}
    assert LabeledTexts(["x"], ["y"]).subset([0]).ids == []


def test_length_checks():
    with pytest.raises(ValueError, match="expected one label per text, got 2 texts and 1 labels"):
        LabeledTexts(["a", "b"], ["x"])
    with pytest.raises(ValueError, match="expected one id per text"):
        LabeledTexts(["a"], ["x"], ["1", "2"])
