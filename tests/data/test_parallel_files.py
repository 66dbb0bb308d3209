"""The readers of parallel files: a TSV of pairs, the languages of a folder of split files."""

import pytest

from rnnkit.data.parallel_files import languages_in, read_aligned, read_pairs_tsv
from rnnkit.errors import UserError


def test_tsv_pairs_keep_empty_lines_and_ignore_further_columns(tmp_path):
    (tmp_path / "pairs.tsv").write_text("Ein Hund.\tA dog.\n\nZwei.\tTwo.\textra\n")
    assert read_pairs_tsv(tmp_path / "pairs.tsv") == (["Ein Hund.", "", "Zwei."],
                                                       ["A dog.", "", "Two."])  # fmt: skip


def test_languages_are_the_suffixes_of_the_train_files(tmp_path):
    for name in ("train.de.gz", "train.en", "train.not a code", "val.fr"):
        (tmp_path / name).write_bytes(b"")
    assert languages_in(tmp_path) == ["de", "en"]


def test_aligned_files_must_have_as_many_lines(tmp_path):
    (tmp_path / "a.de").write_text("Eins.\nZwei.\n")
    (tmp_path / "a.en").write_text("One.\n")
    with pytest.raises(UserError, match=r"a.de has 2 lines but .*a.en has 1; expected line-"):
        read_aligned(tmp_path / "a.de", tmp_path / "a.en")
