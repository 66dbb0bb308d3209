"""The energy segmenter (the baseline of benchmarks/speech_ctc.py): tones between silences are
found where they are, touching tones merge (its documented limit), short gaps are bridged and
clicks dropped, a cut word's deltas do not see the silence beside it; and test strings of their
own length (--test-min-digits, --test-max-digits)."""

import math

import pytest
import torch

from rnnkit.errors import UserError
from rnnkit.tasks.speech.data import SpeechData, featurize
from rnnkit.tasks.speech.energy_segments import (
    EnergySegmenter,
    Span,
    frame_log_energy,
    span_features,
)
from rnnkit.tasks.speech.strings import SpeechStringData, split_utterances

RATE = 8000
HOP = 80  # 10 ms at 8 kHz: SpeechData's default hop


def tone(hz, seconds, amplitude=0.3):
    """A harmonic tone (fundamental ``hz``, harmonics up to 4 kHz at 1/k), broadband like a
    voiced sound, over the background noise: the first MFCC (the mean log energy across the mel
    bands) rises in every band, as with speech (a pure sine would leave most bands empty)."""
    t = torch.arange(round(seconds * RATE)) / RATE
    harmonics = sum(torch.sin(2 * math.pi * k * hz * t) / k for k in range(1, int(4000 // hz)))
    return amplitude * harmonics / 2 + quiet(seconds, round(hz))


def quiet(seconds, seed):
    """Low background noise (about -60 dB), not digital silence."""
    generator = torch.Generator().manual_seed(seed)
    return 1e-3 * torch.randn(round(seconds * RATE), generator=generator)


def spans_of(samples, segmenter=None, features="mfcc"):
    data = SpeechData(features=features)
    energy = frame_log_energy(featurize(samples, data), data.features)
    return (segmenter or EnergySegmenter(pad_frames=0))(energy)


@pytest.mark.parametrize("features", ["mfcc", "logmel"])
def test_tones_between_silences_are_found_where_they_are(features):
    # silence 0.2 s, tone 0.3 s, silence 0.15 s, tone 0.4 s, silence 0.1 s, tone 0.25 s, 0.2 s
    pieces = [quiet(0.2, 0), tone(440, 0.3), quiet(0.15, 1), tone(300, 0.4, 0.15),
              quiet(0.1, 2), tone(600, 0.25, 0.5), quiet(0.2, 3)]  # fmt: skip
    starts = torch.tensor([0, *[len(p) for p in pieces]]).cumsum(0).tolist()
    expected = [(starts[i] / HOP, starts[i + 1] / HOP) for i in (1, 3, 5)]  # frames
    found = spans_of(torch.cat(pieces), features=features)
    assert len(found) == 3
    for span, (start, end) in zip(found, expected):
        assert abs(span.start - start) <= 2 and abs(span.end - end) <= 2  # within 20 ms


def test_touching_tones_merge_into_one_segment():
    # two different tones with no silence between: energy never drops, so one segment
    samples = torch.cat([quiet(0.2, 0), tone(440, 0.3), tone(700, 0.3), quiet(0.2, 1)])
    found = spans_of(samples)
    assert len(found) == 1
    assert abs(found[0].start - 20) <= 2 and abs(found[0].end - 80) <= 2


def test_short_gaps_are_bridged_and_clicks_dropped_on_hand_made_energies():
    low, high = -10.0, 0.0
    energy = torch.tensor([low] * 5 + [high] * 10 + [low] * 2 + [high] * 10 + [low] * 8
                          + [high] * 2 + [low] * 8 + [high] * 6 + [low] * 5)  # fmt: skip
    segmenter = EnergySegmenter(threshold=0.5, min_gap_frames=3, min_speech_frames=4,
                                pad_frames=0, quiet_percentile=0, loud_percentile=100)  # fmt: skip
    # the 2-frame gap is bridged, the 2-frame click dropped, the 8-frame gap kept
    assert segmenter(energy) == [Span(5, 27), Span(45, 51)]
    no_bridge = EnergySegmenter(0.5, 0, 1, 0, 0, 100)
    assert no_bridge(energy) == [Span(5, 15), Span(17, 27), Span(35, 37), Span(45, 51)]
    padded = EnergySegmenter(0.5, 3, 4, 2, 0, 100)
    assert padded(energy) == [Span(3, 29), Span(43, 53)]
    assert padded(energy + 30) == padded(energy)  # a gain moves the threshold with it
    assert segmenter(torch.zeros(20)) == [] and segmenter(torch.zeros(1)) == []


def test_a_cut_words_deltas_do_not_see_the_silence_beside_it():
    data = SpeechData()
    word = tone(440, 0.3) * torch.linspace(0.2, 1.0, round(0.3 * RATE))  # rising: deltas ≠ 0
    alone = featurize(word, data)  # (T, 39)
    inside = featurize(torch.cat([torch.zeros(1600), word, torch.zeros(1600)]), data)
    span = Span(20, 20 + len(alone))
    plain = inside[span.start : span.end]
    cut = span_features(inside, span, data)
    assert cut.shape == plain.shape == alone.shape
    assert torch.equal(cut[:, :13], plain[:, :13])  # the coefficients themselves are kept
    # the deltas (columns 13-38) at the word's edges: the plain slice's see the silence's jump,
    # the cut's only the edge frames' windows, which straddle the silence (inside is the same)
    cut_error = (cut[:, 13:] - alone[:, 13:]).abs().mean(dim=1)  # (T,)
    plain_error = (plain[:, 13:] - alone[:, 13:]).abs().mean(dim=1)  # (T,)
    edges = [0, 1, 2, -3, -2, -1]
    assert cut_error[edges].mean() < 0.25 * plain_error[edges].mean()
    assert torch.allclose(cut_error[6:-6], plain_error[6:-6])
    logmel = SpeechData(features="logmel")
    frames = featurize(word, logmel)
    assert torch.equal(span_features(frames, Span(2, 9), logmel), frames[2:9])


def test_bad_settings_and_shapes_are_one_line_errors():
    with pytest.raises(UserError, match="threshold"):
        EnergySegmenter(threshold=1.5)
    with pytest.raises(UserError, match="min_gap_frames"):
        EnergySegmenter(min_gap_frames=-1)
    with pytest.raises(UserError, match="quiet_percentile"):
        EnergySegmenter(quiet_percentile=90, loud_percentile=50)
    with pytest.raises(UserError, match="frames"):
        EnergySegmenter()(torch.zeros(3, 2))
    with pytest.raises(UserError, match="mfcc or logmel"):
        frame_log_energy(torch.zeros(3, 2), "wavelet")
    with pytest.raises(UserError, match="test_min_digits must be at most test_max_digits"):
        SpeechStringData(test_min_digits=4, test_max_digits=3)
    with pytest.raises(UserError, match="test_min_digits must be at most"):
        SpeechStringData(max_digits=3, test_min_digits=4)  # test_max_digits defaults to 3


def test_test_strings_have_their_own_length(fsdd, data_dir, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(data_dir))
    data = SpeechStringData(source="fsdd", split="official", train_strings=50, eval_strings=200,
                            test_min_digits=3, test_max_digits=5)  # fmt: skip
    strings = split_utterances(data)
    assert {len(u.tokens) for u in strings["test"]} == {3, 4, 5}
    assert {len(u.tokens) for u in strings["val"]} == {2, 3, 4, 5}  # min_digits, max_digits
    default = split_utterances(data.replace(test_min_digits=None, test_max_digits=None))
    assert default["val"] == strings["val"]
    assert {len(u.tokens) for u in default["test"]} == {2, 3, 4, 5}
