import gzip

import pytest

from rnnkit.data.parallel import load_parallel
from rnnkit.errors import UserError


def write(path, lines, gz=False):
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)


@pytest.fixture
def folder(tmp_path):
    write(tmp_path / "train.de.gz", ["Ein Hund.", "Zwei Katzen.", "Ein Haus.", "Drei Vögel."], True)
    write(tmp_path / "train.en", ["A dog.", "Two cats.", "A house.", "Three birds."])
    write(tmp_path / "val.de", ["Ein Baum."])
    write(tmp_path / "val.en", ["A tree."])
    return tmp_path


def test_folder_of_split_files(folder):
    corpus = load_parallel(str(folder), "de", "en")
    assert corpus.splits["train"] == (
        ["Ein Hund.", "Zwei Katzen.", "Ein Haus.", "Drei Vögel."],
        ["A dog.", "Two cats.", "A house.", "Three birds."],
    )
    assert corpus.splits["val"] == (["Ein Baum."], ["A tree."])
    assert "test" not in corpus.splits
    reverse = load_parallel(str(folder), "en", "de")
    assert reverse.splits["val"] == (["A tree."], ["Ein Baum."])


def test_misaligned_files_name_both_and_their_counts(folder):
    write(folder / "val.en", ["A tree.", "One more."])
    with pytest.raises(UserError, match=r"val.de has 1 lines but .*val.en has 2; expected line-"):
        load_parallel(str(folder), "de", "en")


def test_unknown_language_and_bad_codes(folder):
    with pytest.raises(UserError, match="no train.fr.*languages there: de, en"):
        load_parallel(str(folder), "fr", "en")
    with pytest.raises(UserError, match="both 'de'"):
        load_parallel(str(folder), "de", "de")
    with pytest.raises(UserError, match="invalid language code"):
        load_parallel(str(folder), "../de", "en")


def test_prefix_pair_tsv_and_missing_validation(tmp_path):
    lines_de = [f"Satz {i}." for i in range(20)]
    lines_en = [f"Sentence {i}." for i in range(20)]
    write(tmp_path / "corpus.de", lines_de)
    write(tmp_path / "corpus.en.gz", lines_en, True)
    corpus = load_parallel(str(tmp_path / "corpus"), "de", "en", val_fraction=0.1, seed=1)
    assert len(corpus.splits["train"][0]) == 18 and len(corpus.splits["val"][0]) == 2
    for de, en in zip(*corpus.splits["val"]):
        assert de.split()[1] == en.split()[1]  # still aligned after the cut
    again = load_parallel(str(tmp_path / "corpus"), "de", "en", val_fraction=0.1, seed=1)
    assert again.splits == corpus.splits  # seeded
    (tmp_path / "bad.tsv").write_text("Ein Hund.\tA dog.\nno tab here\n")
    with pytest.raises(UserError, match="line 2: no tab"):
        load_parallel(str(tmp_path / "bad.tsv"), "de", "en")
    with pytest.raises(UserError, match="neither a known dataset"):
        load_parallel(str(tmp_path / "nothing"), "de", "en")


def test_pairs_with_an_empty_side_are_dropped_and_counted(folder):
    write(folder / "val.de", ["Ein Baum.", "", "Ein Weg."])
    write(folder / "val.en", ["A tree.", "Nothing.", "  "])
    corpus = load_parallel(str(folder), "de", "en")
    assert corpus.splits["val"] == (["Ein Baum."], ["A tree."])
    assert corpus.dropped == {"val": 2}
    write(folder / "train.en", ["", "", "", ""])
    with pytest.raises(UserError, match="no training pairs"):
        load_parallel(str(folder), "de", "en")


def test_real_multi30k(data_dir, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(data_dir))
    corpus = load_parallel("multi30k", "de", "en")
    assert {s: len(p[0]) for s, p in corpus.splits.items()} == {
        "train": 29_000, "val": 1_014, "test": 1_000,
    }  # fmt: skip
    assert corpus.splits["test"][1][0] == "A man in an orange hat starring at something."
    with pytest.raises(UserError, match="languages there: de, en"):
        load_parallel("multi30k", "de", "fr")
