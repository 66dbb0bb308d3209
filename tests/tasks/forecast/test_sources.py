"""Where a forecaster's series come from: registered names, NAB series, paths, offline."""

import pytest

from rnnkit.data.registry import DATASETS, NAB_SERIES
from rnnkit.errors import UserError
from rnnkit.tasks.forecast.data import ForecastData, load_series_source


def test_registry_entries():
    for name in ("airline", "min-temp", "sp500", "goog", "nab"):
        assert name in DATASETS
    assert sum(len(names) for names in NAB_SERIES.values()) == 58
    assert DATASETS["goog"].options["target"] == "Open"  # Close is not split-adjusted


@pytest.mark.parametrize(
    "source, steps, target",
    [("airline", 144, "Passengers"), ("goog", 1278, "Open"),
     ("nab/realKnownCause/machine_temperature_system_failure", 22683, "value")],  # 12 repeated
)  # fmt: skip
def test_named_sources(data_dir, monkeypatch, source, steps, target):
    series = load_series_source(ForecastData(source=source))
    assert len(series) == steps and series.target_names == [target]


def test_unknown_sources_and_offline(monkeypatch, tmp_path, data_dir):
    with pytest.raises(UserError, match="no NAB series 'nab/realKnownCause/nope'"):
        load_series_source(ForecastData(source="nab/realKnownCause/nope"))
    with pytest.raises(UserError, match="neither a known dataset .* nor an existing CSV"):
        load_series_source(ForecastData(source="no-such.csv"))
    monkeypatch.delenv("RNNKIT_DATA")
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    with pytest.raises(UserError, match="'airline' was not found.*jbrownlee"):
        load_series_source(ForecastData(source="airline"))
    with pytest.raises(UserError, match="'sp500' was not found and it cannot be downloaded"):
        load_series_source(ForecastData(source="sp500"))
