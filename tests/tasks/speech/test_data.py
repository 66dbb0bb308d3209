"""Recordings listed from folders and CSVs, the official / speaker / random splits, and bad
sources."""

import pytest

from rnnkit.data.audio import read_recordings
from rnnkit.data.resolve import load_dataset
from rnnkit.errors import UserError
from rnnkit.tasks.speech.data import SpeechData, split_recordings
from tests.tasks.speech.conftest import copy_fsdd


@pytest.fixture(scope="module")
def recordings(fsdd, data_dir, monkeypatch_module):
    monkeypatch_module.setenv("RNNKIT_DATA", str(data_dir))
    return load_dataset("fsdd")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_registered_dataset_is_the_3000_recordings(recordings):
    assert len(recordings) == 3000
    assert sorted(set(recordings.speakers)) == [
        "george", "jackson", "lucas", "nicolas", "theo", "yweweler"
    ]  # fmt: skip
    assert sorted(set(recordings.labels)) == [str(d) for d in range(10)]


def test_the_official_split_and_a_validation_cut_per_speaker_and_digit(recordings):
    splits = split_recordings(recordings, SpeechData(split="official"))
    assert len(splits["test"]) == 300 and set(splits["test"].indices) == set(range(5))
    assert len(splits["train"]) + len(splits["val"]) == 2700
    assert min(splits["train"].indices) == 5 and min(splits["val"].indices) == 5
    assert len(splits["val"]) == 6 * 10 * round(45 * 0.1)  # every speaker and digit
    pairs = {(s, d) for s, d in zip(splits["val"].speakers, splits["val"].labels)}
    assert len(pairs) == 60
    names = [set(map(str, splits[n].paths)) for n in ("train", "val", "test")]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    again = split_recordings(recordings, SpeechData(split="official"))
    assert again["val"].paths == splits["val"].paths  # seeded
    other = split_recordings(recordings, SpeechData(split="official", split_seed=1))
    assert other["val"].paths != splits["val"].paths


def test_the_speaker_split_holds_no_training_speaker(recordings):
    splits = split_recordings(recordings, SpeechData(split="speaker", test_speaker="theo"))
    assert set(splits["test"].speakers) == {"theo"} and len(splits["test"]) == 500
    assert "theo" not in set(splits["train"].speakers) | set(splits["val"].speakers)
    assert len(set(splits["val"].speakers)) == 5
    first = split_recordings(recordings, SpeechData(split="speaker"))
    assert set(first["test"].speakers) == {"george"}  # the first in sorted order
    with pytest.raises(UserError, match="test_speaker 'nobody' is not in the data"):
        split_recordings(recordings, SpeechData(split="speaker", test_speaker="nobody"))


def test_a_folder_labelled_by_a_pattern_and_a_random_split(fsdd, tmp_path):
    folder = copy_fsdd(fsdd, tmp_path / "wavs", "012", ["george"], range(10))
    found = read_recordings(folder, pattern=r"(?P<label>\d)_.*\.wav")
    assert len(found) == 30 and found.speakers is None and found.indices is None
    splits = split_recordings(found, SpeechData(split="auto", test_fraction=0.2))
    assert len(splits["test"]) == 6 and sorted(splits["test"].labels) == list("001122")
    with pytest.raises(UserError, match="needs recording numbers"):
        split_recordings(found, SpeechData(split="official"))
    with pytest.raises(UserError, match="do not match the pattern"):
        read_recordings(folder, pattern=r"(?P<label>x)\.wav")
    with pytest.raises(UserError, match="has no \\(\\?P<label>"):
        read_recordings(folder, pattern=r".*\.wav")


def test_a_csv_of_paths_labels_and_speakers(fsdd, tmp_path):
    folder = copy_fsdd(fsdd, tmp_path / "wavs", "01", ["lucas"], range(2))
    rows = ["path,label,speaker"] + [f"wavs/{p.name},{p.name[0]},lucas" for p in folder.iterdir()]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    found = read_recordings(tmp_path / "list.csv")
    assert len(found) == 4 and set(found.labels) == {"0", "1"} and set(found.speakers) == {"lucas"}
    (tmp_path / "bad.csv").write_text("file,digit\na.wav,1\n")
    with pytest.raises(UserError, match="columns path and label"):
        read_recordings(tmp_path / "bad.csv")
    with pytest.raises(UserError, match="no such file or folder"):
        read_recordings(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no .wav files"):
        read_recordings(tmp_path / "empty")


def test_the_repository_archive_is_unpacked_the_first_time(fsdd, tmp_path):
    import tarfile

    with tarfile.open(tmp_path / "free-spoken-digit-dataset.tar.gz", "w:gz") as archive:
        for name in ("3_theo_7.wav", "4_theo_8.wav"):
            archive.add(fsdd / name, f"free-spoken-digit-dataset-master/recordings/{name}")
        archive.add(fsdd / "3_theo_9.wav", "free-spoken-digit-dataset-master/README.wav")
    found = read_recordings(tmp_path)
    assert [p.name for p in found.paths] == ["3_theo_7.wav", "4_theo_8.wav"]
    assert found.paths[0].read_bytes() == (fsdd / "3_theo_7.wav").read_bytes()
    assert found.indices == [7, 8] and found.speakers == ["theo", "theo"]
