"""Piano rolls: the real .mat releases (counts and widths), MIDI round trips and a hand-made MIDI
file with a known roll, and every malformed file's one clear error."""

import numpy as np
import pytest

from rnnkit.data.pianoroll import (
    KEYS,
    LOWEST_KEY,
    read_midi,
    read_piano_rolls,
    write_midi,
)
from rnnkit.data.resolve import load_dataset
from rnnkit.errors import UserError

mido = pytest.importorskip("mido")
scipy_io = pytest.importorskip("scipy.io")

# file, registered name, (train, valid, test) pieces (Boulanger-Lewandowski et al. 2012)
RELEASES = [
    ("Nottingham.mat", "nottingham", (694, 173, 170)),
    ("MuseData.mat", "musedata", (524, 135, 124)),
    ("Piano_midi.mat", "piano-midi", (87, 12, 25)),
]


def cells(*rolls):
    """A 1×n MATLAB cell array of ``rolls``."""
    array = np.empty((1, len(rolls)), dtype=object)
    for i, roll in enumerate(rolls):
        array[0, i] = roll
    return array


def random_roll(frames, seed=0, density=0.05):
    roll = (np.random.default_rng(seed).random((frames, KEYS)) < density).astype(np.uint8)
    roll[-1] = 0  # a piece ends in silence: a MIDI file has no trailing empty frames
    return roll


@pytest.mark.parametrize(("file", "name", "counts"), RELEASES)
def test_the_real_releases_have_their_published_counts(data_dir, file, name, counts):
    path = data_dir / "polyphonic" / file
    if not path.exists():
        pytest.skip(f"{path} is missing")
    splits = load_dataset(name)  # through the registry and $RNNKIT_DATA
    assert tuple(len(splits[s]) for s in ("train", "val", "test")) == counts
    for pieces in splits.values():
        assert all(p.ndim == 2 and p.shape[1] == KEYS and p.dtype == np.uint8 for p in pieces)
        assert all(len(p) > 0 and set(np.unique(p)) <= {0, 1} for p in pieces)


def test_a_written_mat_file_reads_back(tmp_path):
    rolls = [random_roll(n, seed=n) for n in (5, 9, 3)]
    scipy_io.savemat(tmp_path / "mine.mat", {"traindata": cells(*rolls[:2]),
                                              "validdata": cells(rolls[2]),
                                              "testdata": cells(rolls[0])})  # fmt: skip
    splits = read_piano_rolls(tmp_path / "mine.mat")
    assert [len(splits[s]) for s in ("train", "val", "test")] == [2, 1, 1]
    assert all(np.array_equal(a, b) for a, b in zip(splits["train"], rolls[:2]))


@pytest.mark.parametrize("step", [0.125, 0.05])
def test_midi_round_trip(tmp_path, step):
    roll = random_roll(64, seed=3, density=0.1)
    roll[10:20, 40] = 1  # a held note
    roll[30, [0, KEYS - 1]] = 1  # the lowest and the highest key
    write_midi(roll, tmp_path / "piece.mid", step)
    assert np.array_equal(read_midi(tmp_path / "piece.mid", step), roll[: len(roll) - 1])


def test_a_hand_made_midi_file_gives_the_expected_roll(tmp_path):
    """Two tracks at 120 bpm (a beat = 0.5 s = 4 frames of 0.125 s) with a tempo change, a
    note_on of velocity 0 as an end, drums and a note below the piano left out."""
    track = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=500000, time=0),
        mido.Message("note_on", note=60, velocity=90, time=0),  # C4 for one beat
        mido.Message("note_on", note=60, velocity=0, time=480),  # end, as velocity 0
        mido.Message("note_on", note=9, velocity=90, time=0),  # below A0: left out
        mido.Message("note_on", note=36, velocity=90, channel=9, time=0),  # drums: left out
        mido.MetaMessage("set_tempo", tempo=1000000, time=0),  # now a beat = 1 s = 8 frames
        mido.Message("note_on", note=64, velocity=90, time=240),  # E4 after half a beat
        mido.Message("note_off", note=64, velocity=0, time=240),
    ])  # fmt: skip
    other = mido.MidiTrack([mido.Message("note_on", note=21, velocity=50, time=960),
                            mido.Message("note_off", note=21, time=0)])  # fmt: skip
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks += [track, other]
    midi.save(tmp_path / "hand.mid")
    expected = np.zeros((13, KEYS), np.uint8)
    expected[0:4, 60 - LOWEST_KEY] = 1  # 0 to 0.5 s
    expected[8:12, 64 - LOWEST_KEY] = 1  # 0.5 s + half a beat at 1 s = 1.0 s, to 1.5 s
    expected[12, 0] = 1  # track 2's A0 at tick 960 = 1.5 s lasts no time: one frame
    got = read_midi(tmp_path / "hand.mid", 0.125)
    assert np.array_equal(got, expected), np.argwhere(got != expected)


def test_a_folder_with_split_subfolders_and_a_flat_one(tmp_path):
    for split, count in (("train", 3), ("valid", 1), ("test", 2)):
        for i in range(count):
            write_midi(random_roll(8, seed=i), tmp_path / "tree" / split / f"{i}.mid", 0.125)
    splits = read_piano_rolls(tmp_path / "tree")
    assert {s: len(p) for s, p in splits.items()} == {"train": 3, "val": 1, "test": 2}
    assert list(read_piano_rolls(tmp_path / "tree" / "train")) == ["all"]


def _write(path, content):
    path.write_bytes(content) if isinstance(content, bytes) else scipy_io.savemat(path, content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "phrase"),
    [
        ("text.mat", b"just some text\n", "cannot read it as a MATLAB .mat file"),
        ("keys.mat", {"traindata": cells(np.zeros((3, KEYS)))}, "has no validdata, testdata"),
        (
            "width.mat",
            {k: cells(np.zeros((3, 87))) for k in ("traindata", "validdata", "testdata")},
            "has shape (3, 87); expected (time steps, 88)",
        ),  # fmt: skip
        (
            "empty.mat",
            {k: cells(np.zeros((0, KEYS))) for k in ("traindata", "validdata", "testdata")},
            "no time steps",
        ),  # fmt: skip
        (
            "nocells.mat",
            {"traindata": cells(), "validdata": cells(), "testdata": cells()},
            "traindata is empty",
        ),
        (
            "plain.mat",
            {k: np.zeros((3, KEYS)) for k in ("traindata", "validdata", "testdata")},
            "traindata is not a cell array",
        ),
        (
            "velocity.mat",
            {k: cells(np.full((2, KEYS), 64)) for k in ("traindata", "validdata", "testdata")},
            "values other than 0 and 1",
        ),  # fmt: skip
        ("noise.mid", b"MThd garbage that is not midi", "cannot read it as a MIDI file"),
        ("song.txt", b"la la la", "cannot tell what it holds"),
    ],
)
def test_malformed_files_are_one_clear_error(tmp_path, name, content, phrase):
    path = _write(tmp_path / name, content)
    with pytest.raises(UserError) as error:
        read_piano_rolls(path)
    assert phrase in str(error.value) and str(path) in str(error.value)


def test_midi_without_piano_notes_and_an_empty_folder(tmp_path):
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=36, channel=9, time=0)]))
    midi.save(tmp_path / "drums.mid")
    with pytest.raises(UserError, match="holds no piano notes"):
        read_piano_rolls(tmp_path / "drums.mid")
    (tmp_path / "none").mkdir()
    with pytest.raises(UserError, match="holds no MIDI files"):
        read_piano_rolls(tmp_path / "none")
    with pytest.raises(UserError, match="no such file"):
        read_piano_rolls(tmp_path / "missing.mat")
