import io
import tarfile
import time

import pytest

from rnnkit.data.imdb import looks_like_imdb, read_imdb
from rnnkit.errors import UserError

REVIEWS = {
    "train/pos/10_9.txt": "Great.<br /><br />Loved it",
    "train/pos/2_8.txt": "Good",
    "train/neg/1_1.txt": "Awful",
    "train/unsup/5_0.txt": "Unlabelled",
    "test/pos/0_10.txt": "Superb",
    "test/neg/0_2.txt": "Bad \u00e9",
    "test/neg/3_4.txt": "Meh",
}


@pytest.fixture
def tree(tmp_path):
    for name, text in REVIEWS.items():
        file = tmp_path / "aclImdb" / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    (tmp_path / "aclImdb" / "README").write_text("readme")
    (tmp_path / "aclImdb" / "train" / "labeledBow.feat").write_text("feat")
    return tmp_path


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in [("README", "readme"), *REVIEWS.items()]:
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def check(splits):
    train, test = splits["train"], splits["test"]
    assert train.labels == ["neg", "pos", "pos"]
    assert train.ids == ["train/neg/1_1", "train/pos/2_8", "train/pos/10_9"]  # numeric id order
    assert train.texts[2] == "Great.<br /><br />Loved it"
    assert test.texts == ["Bad \u00e9", "Meh", "Superb"]
    assert test.class_counts() == {"neg": 2, "pos": 1}


def test_tree_archive_and_parent_folder_agree(tree, archive):
    assert looks_like_imdb(tree) and looks_like_imdb(tree / "aclImdb") and looks_like_imdb(archive)
    check(read_imdb(tree))
    check(read_imdb(tree / "aclImdb"))
    check(read_imdb(archive))


def test_unsup_split_has_no_labels(archive, tree):
    for source in (archive, tree):
        unsup = read_imdb(source, splits=["unsup"])["unsup"]
        assert unsup.texts == ["Unlabelled"] and unsup.labels == [None]


def test_errors(tmp_path, tree):
    with pytest.raises(UserError, match="unknown IMDb split 'dev'"):
        read_imdb(tree, splits=["dev"])
    with pytest.raises(UserError, match="no such file or directory"):
        read_imdb(tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    with pytest.raises(UserError, match="expected the aclImdb folder"):
        read_imdb(tmp_path / "other")
    for review in (tree / "aclImdb" / "test" / "pos").iterdir():
        review.unlink()
    with pytest.raises(UserError, match=r"found no reviews in aclImdb/test/pos/"):
        read_imdb(tree)


@pytest.mark.slow
def test_real_archive_full_read(real_path):
    """The whole 80 MB, 100,000-member archive in one streaming pass (about 2 s here)."""
    start = time.perf_counter()
    splits = read_imdb(real_path("aclImdb_v1.tar.gz"))
    elapsed = time.perf_counter() - start
    assert set(splits) == {"train", "test"}
    for split in splits.values():
        assert len(split) == 25_000
        assert split.class_counts() == {"neg": 12_500, "pos": 12_500}
        assert len(set(split.ids)) == 25_000
    assert splits["train"].ids[0] == "train/neg/0_3"
    assert elapsed < 30, f"reading IMDb took {elapsed:.1f} s"
