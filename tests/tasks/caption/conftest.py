"""Fixtures of the captioning tests: one torch thread, a private image cache, and slices of the
real Flickr8k release (``$RNNKIT_DATA/flickr8k``)."""

import shutil

import pytest

from rnnkit.data.captions import read_flickr8k


@pytest.fixture(autouse=True)
def _one_thread_and_cache(one_thread, tmp_path_factory, monkeypatch):
    """Tiny models run on one thread; decoded images go to a cache of this test session."""
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path_factory.getbasetemp() / "rnnkit-cache"))


@pytest.fixture(scope="session")
def flickr(data_dir):
    """The real release's splits (paths and captions; nothing decoded)."""
    return read_flickr8k(data_dir / "flickr8k")


def write_flickr_slice(root, flickr, counts):
    """A copy of the first ``counts[split]`` images of each split in the release's layout."""
    images, text = root / "Flicker8k_Dataset", root / "Flickr8k_text"
    images.mkdir(parents=True)
    text.mkdir()
    tokens = []
    names = {"train": "trainImages", "val": "devImages", "test": "testImages"}
    for split, count in counts.items():
        chosen = flickr[split].take(list(range(count)))
        for path, captions in zip(chosen.paths, chosen.captions):
            shutil.copy(path, images / path.name)
            tokens += [f"{path.name}#{k}\t{c}" for k, c in enumerate(captions)]
        listing = "".join(f"{p.name}\n" for p in chosen.paths)
        (text / f"Flickr_8k.{names[split]}.txt").write_text(listing, encoding="utf-8")
    (text / "Flickr8k.token.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def flickr_slice(flickr, tmp_path):
    """12 / 4 / 4 real images with their five captions each, in the release's layout."""
    return write_flickr_slice(tmp_path / "flickr8k", flickr, {"train": 12, "val": 4, "test": 4})
