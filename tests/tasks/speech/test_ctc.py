"""CTC for connected digit strings: decoding (greedy, prefix beam search) on hand-made
log-probabilities, the loss against a brute-force sum over alignments, digit strings that keep
every recording in one split, overfitting four strings, the command line on a slice of FSDD,
and bad transcripts."""

import itertools
import math

import pytest
import torch

import rnnkit
from rnnkit.data.audio import read_wav
from rnnkit.data.resolve import load_dataset
from rnnkit.errors import UserError
from rnnkit.tasks.speech.alignment import Segment, ctc_segments
from rnnkit.tasks.speech.ctc import (
    CTCBatch,
    ctc_loss,
    greedy_decode,
    prefix_beam_search,
    string_scores,
)
from rnnkit.tasks.speech.data import split_recordings
from rnnkit.tasks.speech.strings import SpeechStringData, parse_transcript, split_utterances
from tests.tasks.cli import last_json, run
from tests.tasks.speech.conftest import copy_fsdd, write_wav

TINY = ["--hidden", "16", "--layers", "1", "--threads", "1", "--no-progress", "--batch-size", "8"]


def log_probs(*rows):
    """(T, S + 1) log-probabilities from rows of probabilities."""
    return torch.tensor(rows, dtype=torch.float64).log()


def collapse(path):
    """B: merge repeats, drop blanks."""
    return [k for i, k in enumerate(path) if k != 0 and (i == 0 or k != path[i - 1])]


def test_greedy_decoding_merges_repeats_and_drops_blanks():
    # best path 1 1 0 1 2 2 0 -> 1 1 2 ; its log-probability is the sum of the frame maxima
    rows = [[0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.9, 0.05, 0.05], [0.3, 0.6, 0.1],
            [0.1, 0.1, 0.8], [0.1, 0.2, 0.7], [0.5, 0.4, 0.1]]  # fmt: skip
    decoded = greedy_decode(log_probs(*rows))
    assert decoded.ids == [1, 1, 2]
    assert decoded.log_prob == pytest.approx(math.log(0.8 * 0.7 * 0.9 * 0.6 * 0.8 * 0.7 * 0.5))
    assert greedy_decode(log_probs([0.9, 0.1], [0.8, 0.2])).ids == []  # blanks only
    assert greedy_decode(log_probs([0.1, 0.9], [0.2, 0.8], [0.3, 0.7])).ids == [1]  # one run
    assert greedy_decode(log_probs(*rows), length=2).ids == [1]  # padding ignored


def test_alignment_segments_are_the_best_paths_emissions():
    # best path 1 1 0 1 2 2 0 -> "a" over frames 0-1, "a" over 3, "b" over 4-5: B(path) = a a b
    rows = [[0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.9, 0.05, 0.05], [0.3, 0.6, 0.1],
            [0.1, 0.1, 0.8], [0.1, 0.2, 0.7], [0.5, 0.4, 0.1]]  # fmt: skip
    segments = ctc_segments(log_probs(*rows), ["a", "b"])
    assert segments == [
        Segment("a", 0, 1, pytest.approx(0.8)),
        Segment("a", 3, 3, pytest.approx(0.6)),
        Segment("b", 4, 5, pytest.approx(0.8)),
    ]
    assert [s.symbol for s in segments] == [
        "ab"[i - 1] for i in greedy_decode(log_probs(*rows)).ids
    ]
    assert segments[2].to_dict(0.01) == {"symbol": "b", "start_s": 0.04, "end_s": 0.06, "prob": 0.8}
    assert ctc_segments(log_probs([0.9, 0.1], [0.8, 0.2]), ["a"]) == []  # blanks only
    assert ctc_segments(log_probs([0.1, 0.9]), ["a"]) == [Segment("a", 0, 0, pytest.approx(0.9))]


def test_beam_one_is_greedy_and_a_wider_beam_finds_the_labelling_greedy_misses():
    # each frame puts 0.7 on one output (a path with repeats and blanks), 0.1 on the others
    for path in ([1, 1, 0, 1, 2, 2, 3, 0, 0, 3], [0, 2, 0, 2, 2, 1, 3, 3, 1, 0], [3, 0, 3, 3]):
        peaked = torch.full((len(path), 4), 0.1).index_put_(
            (torch.arange(len(path)), torch.tensor(path)), torch.tensor(0.7)
        )  # (T, S + 1)
        greedy = greedy_decode(peaked.log())
        assert greedy.ids == collapse(path)
        assert prefix_beam_search(peaked.log(), beam=1)[0].ids == greedy.ids
    # greedy: blank blank (0.36) -> ""; but "a" has a a + a - + - a = 0.16 + 0.24 + 0.24 = 0.64
    two = log_probs([0.6, 0.4], [0.6, 0.4])
    assert greedy_decode(two).ids == []
    best = prefix_beam_search(two, beam=4)
    assert best[0].ids == [1] and best[0].log_prob == pytest.approx(math.log(0.64))
    assert best[1].ids == [] and best[1].log_prob == pytest.approx(math.log(0.36))


def test_the_loss_and_the_beams_scores_are_sums_over_alignments():
    torch.manual_seed(1)
    frames = torch.randn(3, 3, dtype=torch.float64).log_softmax(-1)  # (T=3, blank + 2 symbols)
    for target in ([1, 2], [1, 1], [2]):
        brute = sum(
            math.exp(sum(frames[t, k].item() for t, k in enumerate(path)))
            for path in itertools.product(range(3), repeat=3)
            if collapse(path) == target
        )
        batch = CTCBatch(None, torch.tensor([3]), torch.tensor(target), torch.tensor([len(target)]))
        loss = ctc_loss(frames[None].float(), batch)  # mean reduction: divided by |l|
        assert loss.item() == pytest.approx(-math.log(brute) / len(target), rel=1e-5)
        every = {tuple(d.ids): d.log_prob for d in prefix_beam_search(frames, beam=100)}
        assert every[tuple(target)] == pytest.approx(math.log(brute), rel=1e-6)


def test_token_error_rate_and_string_accuracy():
    pytest.importorskip("rapidfuzz")
    scores = string_scores([[1, 2, 3], [4, 5]], [[1, 3], [4, 5]])  # one deletion in 5 tokens
    assert scores == {"ter": pytest.approx(0.2), "string_accuracy": 0.5}
    assert parse_transcript(" 4071 ", "x") == ("4", "0", "7", "1")
    assert parse_transcript("four oh seven", "x") == ("four", "oh", "seven")
    with pytest.raises(UserError, match="empty"):
        parse_transcript("  ", "row 2")


def test_digit_strings_keep_every_recording_in_its_split(fsdd, data_dir, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(data_dir))
    data = SpeechStringData(source="fsdd", split="official", train_strings=300, eval_strings=100)
    strings = split_utterances(data)
    recordings = split_recordings(load_dataset("fsdd"), data)
    used = {name: {p for u in strings[name] for p in u.paths} for name in strings}
    for name, rows in strings.items():
        assert used[name] <= set(recordings[name].paths)
        for u in rows:
            assert 2 <= len(u.paths) <= 5 and len(u.gaps_ms) == len(u.paths) + 1
            assert {p.name.split("_")[1] for p in u.paths} == {u.speaker}  # one voice
            assert list(u.tokens) == [p.name[0] for p in u.paths]
    assert not used["train"] & used["val"] and not used["train"] & used["test"]
    assert not used["val"] & used["test"]
    assert {int(p.stem.split("_")[2]) for p in used["test"]} <= set(range(5))
    assert split_utterances(data)["val"] == strings["val"]  # seeded


@pytest.mark.slow
def test_overfits_four_digit_strings(fsdd, tmp_path):
    pytest.importorskip("rapidfuzz")
    data = SpeechStringData()
    digits = ["01", "10", "010", "1"]
    audio = {d: read_wav(fsdd / f"{d}_jackson_5.wav", 8000) for d in "01"}
    paths = []
    for number, string in enumerate(digits):
        gap = torch.zeros(400)  # 50 ms
        samples = torch.cat([gap, *[torch.cat([audio[d], gap]) for d in string]])
        paths.append(tmp_path / f"s{number}.wav")
        write_wav(paths[-1], samples.numpy(), rate=data.sample_rate)
    # best epoch by the loss: the first with greedy TER 0 is not yet peaked enough for the beam
    model = rnnkit.SpeechRecognizer(hidden=32, layers=1, dropout=0.0, epochs=25, lr=1e-2,
                                    patience=None, verbose=0, progress=False, plot=False,
                                    seed=0, beam=4, monitor="val_loss")  # fmt: skip
    model.fit(paths, digits, validation_data=(paths, digits))
    scores = model.evaluate(paths, digits)
    assert scores["ter"] == 0.0 and scores["string_accuracy"] == 1.0
    assert model.predict(paths) == digits
    assert scores["baselines"]["most_common"]["ter"] > 0


@pytest.fixture(scope="module")
def trained(fsdd, tmp_path_factory):
    """A tiny run on strings built from 3 digits x 2 speakers x recordings 0-9."""
    folder = copy_fsdd(fsdd, tmp_path_factory.mktemp("fsdd"), "012", ["george", "jackson"],
                       range(10))  # fmt: skip
    out = tmp_path_factory.mktemp("runs") / "run"
    rnnkit.SpeechRecognizer(
        hidden=16, layers=1, epochs=1, train_strings=16, eval_strings=8, verbose=0, progress=False
    ).fit(data=str(folder), out=out)
    return folder, out


def test_train_evaluate_predict_on_the_command_line(trained, tmp_path, capsys):
    pytest.importorskip("rapidfuzz")
    folder, _ = trained
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "--json", "train", "speech-ctc", "--data", str(folder),
                          "--out", str(out), "--epochs", "1", "--train-strings", "16",
                          "--eval-strings", "8", "--limit", "20", *TINY)  # fmt: skip
    assert code == 0, stdout
    assert {"val_ter", "val_string_accuracy", "val_loss"} <= set(last_json(stdout))

    code, stdout, _ = run(capsys, "--json", "evaluate", str(out), "--split", "test", "--beam", "3")
    result = last_json(stdout)
    assert code == 0 and result["split"] == "test" and result["n"] == 8 and result["beam"] == 3
    assert 0 <= result["string_accuracy"] <= 1 and result["ter"] >= 0
    assert set(result["baselines"]["most_common"]["output"]) <= set("012")

    wav = str(folder / "1_george_0.wav")
    code, stdout, _ = run(capsys, "--json", "predict", str(out), wav)
    row = last_json(stdout)["predictions"][0]
    assert code == 0 and row["input"] == wav and set(row["output"]) <= set("012")
    assert row["log_prob"] <= 0 and "".join(row["tokens"]) == row["output"]

    plot = tmp_path / "align.png"
    code, stdout, _ = run(capsys, "--json", "predict", str(out), wav, "--alignment-plot", str(plot))
    shown = last_json(stdout)["alignment"]
    assert code == 0 and plot.stat().st_size > 10_000 and shown["plot"] == str(plot)
    assert "".join(s["symbol"] for s in shown["segments"]) == shown["output"]
    assert all(0 <= s["start_s"] < s["end_s"] <= 1.5 for s in shown["segments"])


def test_a_transcribed_csv_is_scored_and_bad_transcripts_are_one_line(trained, tmp_path, capsys):
    pytest.importorskip("rapidfuzz")
    folder, out = trained
    wav = folder / "1_george_0.wav"
    good = tmp_path / "good.csv"  # a string of symbols and space-separated tokens
    good.write_text(f"path,transcript\n{wav},1\n{folder / '2_jackson_3.wav'},2 0\n")
    code, stdout, _ = run(capsys, "--json", "evaluate", str(out), "--data", str(good))
    result = last_json(stdout)
    assert code == 0 and result["split"] == "all" and result["n"] == 2 and result["tokens"] == 3
    unknown = tmp_path / "unknown.csv"
    unknown.write_text(f"path,transcript\n{wav},12\n{wav},19\n")
    code, _, stderr = run(capsys, "evaluate", str(out), "--data", str(unknown))
    assert code == 2 and "'9'" in stderr and "expected only 0 1 2" in stderr
    assert len(stderr.strip().splitlines()) == 1

    empty = tmp_path / "empty.csv"
    empty.write_text(f"path,transcript\n{wav},12\n{wav},\n")
    code, _, stderr = run(capsys, "train", "speech-ctc", "--data", str(empty), "--out",
                          str(tmp_path / "r"), *TINY)  # fmt: skip
    assert code == 2 and "line 3: the transcript is empty" in stderr
    assert len(stderr.strip().splitlines()) == 1
