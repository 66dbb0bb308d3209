"""rnnkit's anomaly detector (no trained run needed): the scores by hand, an injected spike
found by the LSTM detectors, a threshold chosen without labels, and rnnkit detect on a NAB
series end to end."""

import json
import math

import numpy as np
import pytest

from rnnkit.errors import UserError
from rnnkit.tasks.forecast.detect import (
    LIKELIHOOD_WARMUP,
    AnomalyDetector,
    DetectorSettings,
    anomaly_likelihood,
    flagged_windows,
    rolling_moments,
    rolling_zscore,
    windowed_gaussian,
)

from ..cli import last_json, run

RNG = np.random.default_rng(0)
N, SPIKE = 3000, 2400
SINE = np.sin(2 * np.pi * np.arange(N) / 40) + 0.05 * RNG.standard_normal(N)
SPIKED = SINE.copy()
SPIKED[SPIKE] += 2.5
TINY = dict(input_length=20, hidden=16, epochs=8, history=300, seed=0)


def test_rolling_statistics_by_hand():
    x = np.array([1.0, 3.0, 5.0, 7.0, 100.0])
    mean, spread = rolling_moments(x, 3)  # of the values strictly before t
    assert np.isnan(mean[0])
    np.testing.assert_allclose(mean[1:], [1.0, 2.0, 3.0, 5.0])
    np.testing.assert_allclose(spread[1:], [0.0, 1.0, np.std([1, 3, 5]), np.std([3, 5, 7])])
    z = rolling_zscore(x, 3)
    assert z[:2].tolist() == [0.0, 0.0] and z[4] == pytest.approx(95 / np.std([3, 5, 7]))
    # NAB's windowed Gaussian: 1 - Q(|z|), the first score 0
    scores = windowed_gaussian(x, window=3, step=1)
    assert scores[0] == 0.0
    expected = 1 - 0.5 * math.erfc(abs(100 - 5) / np.std([3, 5, 7]) / math.sqrt(2))
    assert scores[4] == pytest.approx(expected)


def test_likelihood_is_the_tail_surprise_of_the_short_average():
    raw = np.r_[np.zeros(5), np.tile([1.0, 2.0], 100), [2.0, 10.0]]
    surprise = anomaly_likelihood(raw, average=1, history=50, start=5)
    assert (surprise[: 5 + LIKELIHOOD_WARMUP] == 0).all()  # not trusted yet
    # the last step: the 50 before it are 2, 1, 2, ... 2 with one 2 more: mean 1.52, std ~0.5
    before = raw[-51:-1]
    z = (10.0 - before.mean()) / before.std()
    assert surprise[-1] == pytest.approx(-math.log10(0.5 * math.erfc(z / math.sqrt(2))), rel=1e-6)
    assert surprise[-1] > 20


def test_flagged_windows_group_runs_of_flags():
    flags = np.zeros(12, dtype=bool)
    flags[[2, 3, 4, 8]] = True
    scores = np.arange(12.0)
    windows = flagged_windows(flags, scores, list(range(100, 112)))
    assert windows == [
        {"start": 102, "end": 104, "steps": 3, "peak": 104, "score": 4.0},
        {"start": 108, "end": 108, "steps": 1, "peak": 108, "score": 8.0},
    ]
    assert len(flagged_windows(flags, scores, list(range(12)), gap=4)) == 1
    assert flagged_windows(np.zeros(3, dtype=bool), scores[:3], [0, 1, 2]) == []


@pytest.mark.parametrize(
    "method",  # the autoencoder's decoder runs step by step: a few seconds
    ["prediction", pytest.param("autoencoder", marks=pytest.mark.slow), "zscore"],
)
def test_an_injected_spike_is_found(method):
    detector = AnomalyDetector(method=method, **TINY)
    scores = detector.fit_score(SPIKED)
    flags = scores >= detector.threshold_
    flags[: int(0.15 * N)] = False
    # flagged from the spike on (not before), the highest score within the short average (after
    # the probation, where the range still widens: spatial anomalies)
    assert SPIKE <= int(np.argmax(flags)) <= SPIKE + 3
    probation = int(0.15 * N)
    top = probation + int(np.argmax(scores[probation:]))
    assert SPIKE <= top < SPIKE + detector.settings.average
    found = flagged_windows(flags, scores, list(range(N)))
    assert any(w["start"] <= SPIKE + 2 and w["end"] >= SPIKE for w in found)
    # few false alarms: a clean sine stays (almost) unflagged at the same threshold
    clean = AnomalyDetector(method=method, **TINY).fit_score(SINE)
    assert int((clean[int(0.15 * N) :] >= detector.threshold_).sum()) <= 3


def test_the_threshold_is_chosen_without_labels():
    """The label-free threshold reads the probationary period only: what comes after it (the
    spike, or anything else) does not move it."""
    probation = int(0.15 * N)
    later = SINE.copy()
    later[probation:] = RNG.standard_normal(N - probation)  # a different series after probation
    a, b = (AnomalyDetector(method="prediction", **TINY) for _ in range(2))
    spiked, other = a.fit_score(SPIKED), b.fit_score(later)
    assert a.threshold_ == b.threshold_
    np.testing.assert_array_equal(spiked[:probation], other[:probation])
    assert not np.array_equal(spiked[probation:], other[probation:])
    fixed = AnomalyDetector(method="zscore", threshold=4.0, **TINY)
    fixed.fit_score(SPIKED)
    assert fixed.threshold_ == 4.0


def test_bad_settings_and_short_series():
    with pytest.raises(UserError, match="method must be one of"):
        DetectorSettings(method="htm")
    with pytest.raises(UserError, match="probationary period"):
        AnomalyDetector(method="prediction").fit_score(np.zeros(300))
    with pytest.raises(UserError, match="missing or infinite"):
        AnomalyDetector(method="zscore").fit_score(np.r_[np.zeros(100), np.nan])


def test_cli_detect_a_nab_series(capsys, data_dir, tmp_path):
    series = "nab/artificialWithAnomaly/art_daily_jumpsup"
    png = tmp_path / "a.png"
    code, stdout, err = run(capsys, "detect", series, "--epochs", "2", "--hidden", "8",
                            "--plot", str(png), "--json")  # fmt: skip
    assert code == 0, err
    result = last_json(stdout)
    assert result["n"] == 4032 and result["probation"] == 604 and result["windows"] == 1
    assert set(result["nab"]) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    for row in result["anomaly_windows"]:
        assert {"start", "end", "steps", "peak", "score"} == set(row)
    assert sum(w["steps"] for w in result["anomaly_windows"]) == len(result["anomalies"])
    for row in result["anomalies"]:
        assert set(row) == {"time", "score", "value"} and "value" in row["value"]
    assert "NAB score of this series" in stdout and png.stat().st_size > 0
    json.dumps(result)  # JSON-ready throughout
    code, _, err = run(capsys, "detect", str(tmp_path / "missing.csv"))
    assert code == 2 and "neither a known dataset" in err
    code, _, err = run(capsys, "detect", series, "--data", "airline")
    assert code == 2 and "--data goes with a run folder" in err
