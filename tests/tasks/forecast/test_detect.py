"""Anomaly detection from forecast errors: scores, window labels and metrics by hand, and
rnnkit detect on a NAB series with its labelled window (a spike in a sine: test_task.py)."""

import numpy as np
import pytest

from rnnkit.errors import UserError
from rnnkit.tasks.forecast.detect import anomaly_scores, detection_metrics, window_labels

from ..cli import last_json, run


def test_scores_labels_and_metrics_by_hand():
    errors = np.array([[1.0], [-1.0], [1.0], [-1.0], [5.0], [0.0]])  # probation: mean 0, std 1
    np.testing.assert_allclose(anomaly_scores(errors, 4), [1, 1, 1, 1, 5, 0])
    with pytest.raises(UserError, match="expected at least 2"):
        anomaly_scores(errors, 1)
    labels = window_labels(list(range(10)), [(2, 3), (7, 8)])
    assert labels.tolist() == [-1, -1, 0, 0, -1, -1, -1, 1, 1, -1]
    flags = np.zeros(10, dtype=bool)
    flags[[3, 5]] = True  # one inside the first window, one outside every window
    scores = detection_metrics(flags, labels, 2)
    assert scores["precision"] == 0.5 and scores["recall"] == 0.25
    assert scores["windows_detected"] == 1 and scores["false_positives"] == 1
    assert scores["f1"] == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert detection_metrics(np.zeros(10, dtype=bool), labels, 2)["precision"] is None


def test_cli_detect_on_a_nab_series(capsys, data_dir, tmp_path):
    out = tmp_path / "nab"
    series = "nab/artificialWithAnomaly/art_daily_jumpsup"
    tiny = ["--input-length", "12", "--hidden", "8", "--epochs", "1", "--threads", "1"]
    code, _, err = run(capsys, "train", "forecast", "--data", series, "--out", str(out), *tiny)
    assert code == 0, err
    code, stdout, err = run(capsys, "detect", str(out), "--json")
    assert code == 0, err
    result = last_json(stdout)
    assert result["windows"] == 1 and result["n"] == 4032 - 12
    assert {"precision", "recall", "windows_detected", "false_positives"} <= set(result)
    assert "windows:" in stdout and "detected" in stdout
