"""What ``rnnkit train`` says a training took: seconds, minutes or hours as a person reads them."""

import pytest

from rnnkit.tasks.base import duration
from rnnkit.tasks.forecast import Forecaster


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0.0, "0.0 s"), (5.94, "5.9 s"), (59.9, "59.9 s"), (60, "1.0 min"), (191, "3.2 min"),
     (3599, "60.0 min"), (3600, "1 h 00 min"), (7529, "2 h 05 min")],
)  # fmt: skip
def test_duration_reads_as_seconds_minutes_or_hours(seconds, said):
    assert duration(seconds) == said


def test_a_short_fit_is_reported_in_seconds_not_as_zero_minutes():
    summary = {"epochs": 19, "train_time_s": 5.9, "stop_reason": "early stopping",
               "best_epoch": 4, "val_loss": 1.38, "val_scaled_mae": 0.77,
               "out": "runs/air"}  # fmt: skip
    report = Forecaster().summary_report(summary)
    assert report.startswith("trained 19 epoch(s) in 5.9 s (early stopping)")
