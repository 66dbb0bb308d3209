"""CIDEr-D and METEOR (pycocoevalcap) on captions with hand-worked answers."""

import shutil

import pytest

from rnnkit.errors import UserError
from rnnkit.tasks.caption.coco_metrics import (
    caption_cider,
    caption_meteor,
    coco_scores,
    coco_tokens,
)

pytest.importorskip("pycocoevalcap")

REFERENCES = [["a dog runs", "a dog runs"], ["a cat sits", "a cat sits"]]


def test_captions_are_tokenised_as_coco_does():
    assert coco_tokens("A dog, running.  On the GRASS!") == "a dog running on the grass"
    assert coco_tokens("...") == ""


def test_cider_d_by_hand():
    # "a" is in both images' references: IDF log(2/2) = 0; every other n-gram has IDF log 2.
    # A caption equal to its references: cosine 1 for n = 1, 2, 3, no 4-grams (0), no length
    # penalty: 10 * (1 + 1 + 1 + 0) / 4 = 7.5 per image; x100 as papers report it
    assert caption_cider(["a dog runs", "A cat sits."], REFERENCES) == pytest.approx(750.0)
    assert caption_cider(["a cat sits", "a dog runs"], REFERENCES) == 0.0  # swapped: no overlap
    assert caption_cider([], []) == 0.0
    with pytest.raises(ValueError, match="1 captions for 2 reference sets"):
        caption_cider(["a dog"], REFERENCES)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="METEOR runs a Java program")
def test_meteor_exact_and_partial_matches():
    exact = caption_meteor(["a dog runs", "a cat sits"], REFERENCES)
    assert exact == pytest.approx(100.0, abs=0.5)  # one chunk each: no fragmentation penalty
    partial = caption_meteor(["a dog sits", "a cat runs"], REFERENCES)
    assert 0 < partial < exact


def test_the_report_leaves_cider_out_without_the_package(monkeypatch):
    import sys

    for name in ("pycocoevalcap", "pycocoevalcap.cider.cider", "pycocoevalcap.meteor.meteor"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    assert coco_scores(["a dog runs"], [["a dog runs"]]) == {}
    with pytest.raises(UserError, match="rnnkit\\[caption-metrics\\]"):
        caption_cider(["a dog runs"], [["a dog runs"]])
