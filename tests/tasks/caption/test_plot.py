"""The attention picture's panels: one per whole word."""

import numpy as np

from rnnkit.tasks.caption.plot import whole_words


def test_subword_pieces_join_into_words_with_their_mean_map():
    attention = np.arange(5 * 4, dtype=float).reshape(5, 4)  # 4 pieces + <eos>, 4 regions
    words, maps = whole_words(["▁a", "▁jump", "ing", "▁dog"], attention)
    assert words == ["a", "jumping", "dog", "<eos>"]
    np.testing.assert_allclose(maps[1], attention[1:3].mean(axis=0))
    np.testing.assert_allclose(maps[[0, 2, 3]], attention[[0, 3, 4]])


def test_word_tokens_stay_one_panel_each():
    attention = np.eye(3)
    words, maps = whole_words(["a", "dog"], attention)
    assert words == ["a", "dog", "<eos>"]
    np.testing.assert_array_equal(maps, attention)
    words, maps = whole_words(["a", "dog", "runs"], attention)  # unfinished: no <eos> step
    assert words == ["a", "dog", "runs"] and maps.shape == (3, 3)
