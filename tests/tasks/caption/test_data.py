"""Captioned images by split: the Flickr8k release, tables of image,caption rows, the validation
cut, and batches of images with all their captions."""

import zipfile

import pytest
import torch

from rnnkit.data.captions import read_caption_table, read_captions
from rnnkit.errors import UserError
from rnnkit.tasks.caption.data import (
    CaptionBatches,
    CaptionData,
    CaptionText,
    decode_split,
    load_captions,
)


def test_the_real_release_has_its_published_splits(flickr):
    assert {k: len(v) for k, v in flickr.items()} == {"train": 6000, "val": 1000, "test": 1000}
    assert all(len(c) == 5 for c in flickr["train"].captions)
    assert flickr["train"].paths[0].name == "2513260012_03d33305cf.jpg"
    assert flickr["train"].captions[0][0].startswith("A black dog is running after a white dog")


def test_a_table_groups_rows_by_image(flickr, tmp_path):
    (tmp_path / "images").mkdir()
    first, second = flickr["val"].paths[:2]
    for path in (first, second):
        (tmp_path / "images" / path.name).write_bytes(path.read_bytes())
    rows = ["image,caption", f"{first.name},a dog .", f"{second.name},\"a man, smiling\"",
            f"{first.name},another dog .", "", "gone.jpg,nobody"]  # fmt: skip
    (tmp_path / "captions.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (split,) = read_captions(tmp_path).values()  # a folder holding one table
    assert [p.name for p in split.paths] == [first.name, second.name, "gone.jpg"]
    assert split.captions == [["a dog .", "another dog ."], ["a man, smiling"], ["nobody"]]
    assert split.paths[0] == tmp_path / "images" / first.name
    with pytest.raises(UserError, match="expected the columns 'file' and 'caption'"):
        read_caption_table(tmp_path / "captions.txt", image_column="file")


def test_data_without_validation_is_cut_by_image_and_limited(flickr):
    table = {"train": flickr["train"].take(list(range(50)))}
    data = CaptionData(val_fraction=0.2)
    splits = load_captions(data, X=[str(p) for p in table["train"].paths for _ in range(2)],
                           y=[f"caption {i}" for i in range(100)], seed=3)  # fmt: skip
    assert len(splits["val"]) == 10 and len(splits["train"]) == 40
    assert not set(splits["val"].paths) & set(splits["train"].paths)
    assert all(len(c) == 2 for c in splits["train"].captions)
    limited = load_captions(data.replace(limit=5), X=["a.jpg", "b.jpg"] * 5, y=["x"] * 10)
    assert len(limited["train"]) == 1 and len(limited["val"]) == 1


def test_batches_hold_each_image_once_with_all_its_captions(flickr):
    data = CaptionData(image_size=16, min_freq=1, batch_size=3, augment=False)
    images = flickr["train"].take(list(range(4)))
    split = decode_split(images, data, "train", verbose=0)
    text = CaptionText.build([c for cs in split.captions for c in cs], data)
    batches = CaptionBatches.of(split, text, data, train=True, seed=1)
    first, second = list(batches)
    assert len(batches) == 2 and first.images.shape == (3, 3, 16, 16)
    assert first.owner.tolist() == [0] * 5 + [1] * 5 + [2] * 5 and len(second.owner) == 5
    row = first.captions[0]
    assert row[0] == text.vocab.bos_index and text.vocab.eos_index in row.tolist()
    assert text.decode(row.tolist()[1:]) in [c.lower() for cs in split.captions for c in cs]
    batches.set_epoch(1)
    assert not torch.equal(next(iter(batches)).images, first.images)  # reshuffled per epoch


def test_nothing_usable_is_a_clear_error(tmp_path):
    (tmp_path / "bad.jpg").write_text("text", encoding="utf-8")
    (tmp_path / "captions.csv").write_text("image,caption\nbad.jpg,a\nnone.jpg,b\n")
    (split,) = read_captions(tmp_path).values()
    with pytest.raises(UserError, match=r"no usable images in the train split \(1 not an image, "
                                        r"1 missing\)"):  # fmt: skip
        decode_split(split, CaptionData(image_size=16), "train", verbose=0)


def test_captions_round_trip_and_unknown_words_stay_words():
    data = CaptionData(min_freq=1)
    text = CaptionText.build(["A dog runs .", "A man sits on a bench ."], data)
    (ids,) = text.encode(["A  cat runs ."])
    assert ids[0] == text.vocab.bos_index and ids[-1] == text.vocab.eos_index
    assert text.decode(ids[1:]) == "a <unk> runs ."
    again = CaptionText.from_artifacts(text.to_artifacts(), lowercase=True)
    assert again.encode(["a dog runs ."]) == text.encode(["A dog runs ."])


def test_the_release_zips_are_unpacked_where_they_were_downloaded(flickr_slice, tmp_path):
    download = tmp_path / "download"
    download.mkdir()
    with zipfile.ZipFile(download / "Flickr8k_Dataset.zip", "w") as z:
        for path in sorted((flickr_slice / "Flicker8k_Dataset").iterdir()):
            z.write(path, f"Flicker8k_Dataset/{path.name}")
    with zipfile.ZipFile(download / "Flickr8k_text.zip", "w") as z:  # the text at the top
        for path in sorted((flickr_slice / "Flickr8k_text").iterdir()):
            z.write(path, path.name)
    splits = read_captions(download)
    assert {k: len(v) for k, v in splits.items()} == {"train": 12, "val": 4, "test": 4}
    assert all(p.is_file() for p in splits["test"].paths)
