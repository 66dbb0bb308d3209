"""Forecasting data: the series, its chronological splits, target transforms, scaling, windows.

The series is cut in time: ``train`` | ``val`` | ``test`` (the last ``test_size`` steps, or
``test_fraction`` of them). A window at origin ``t`` holds the inputs ``z[t-L:t]`` and the
targets ``z[t:t+h]`` (``L`` = ``input_length``, ``h`` = ``horizon``); a window belongs to the
split that holds all its target times, so a training window never looks at a validation or test
value, and a test window's inputs are values observed before its origin (walk-forward). The
transform (log, differences) has nothing to fit; the scaler is fitted on the training part only.

``z`` is the transformed, scaled target (T, k) beside the scaled covariates (T, c), aligned with
the raw series: with differences at lag ``d`` (1, or the season ``m`` for the seasonal ones),
``z[0..d-1]`` are undefined and the first origin moves ``d`` steps on. The transforms, with
``u = log y`` (log, log-diff, log-seasonal-diff) or ``u = y``:

    diff, log-diff:                  x_t = u_t - u_{t-1}
    seasonal-diff, log-seasonal-diff: x_t = u_t - u_{t-m}   (SARIMA's airline model: D = 1)

and a forecast ``x̂_{t+j}`` (j = 0..h-1) from the origin ``t`` is inverted step by step from
values observed before ``t`` only (beyond one season, from the forecast's own earlier steps):

    û_{t+j} = u_{t-1} + Σ_{i<=j} x̂_{t+i}          (lag 1)
    û_{t+j} = ũ_{t+j-m} + x̂_{t+j},  ũ_s = u_s for s < t, else û_s   (lag m)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

from rnnkit.data.registry import DATASETS
from rnnkit.data.resolve import load_dataset, resolve
from rnnkit.data.timeseries import (
    DUPLICATE_POLICIES,
    MISSING_POLICIES,
    Frequency,
    TimeSeries,
    infer_frequency,
    read_series,
    split_names,
)
from rnnkit.errors import UserError
from rnnkit.settings import Settings

__all__ = [
    "AUTO",
    "SCALES",
    "TRANSFORMS",
    "EpochShuffle",
    "ForecastData",
    "Scaler",
    "Splits",
    "in_memory_series",
    "load_series_source",
    "loader",
    "make_splits",
    "split_bounds",
    "transform_lag",
    "window_origins",
    "windows",
]

logger = logging.getLogger(__name__)

TRANSFORMS = ("none", "log", "diff", "log-diff", "seasonal-diff", "log-seasonal-diff")
AUTO = "auto"  # read from the training part before the windows are cut (auto_transform.py)
LOGGED = ("log", "log-diff", "log-seasonal-diff")
SEASONAL = ("seasonal-diff", "log-seasonal-diff")
SCALES = ("standard", "minmax", "none")


@dataclass
class ForecastData(Settings):
    """How the series of a forecasting run is read, cut and windowed (saved in config.json).

    Args:
        source: airline, min-temp, sp500, goog, nab/<category>/<name>, or a CSV/TSV path.
        time_column: the column of times (default: the first named like date/time/month).
        target: the column(s) to forecast, comma-separated (default: the dataset's, or the
            only value column).
        features: covariate columns, comma-separated: inputs observed up to the forecast
            origin (default: none).
        date_format: a strptime format for the time column (default: inferred and stated).
        missing: missing time steps and values: interpolate (linear), ffill (carry the last
            value forward) or refuse.
        duplicates: rows with the same time: refuse, mean, first or last (default: refuse;
            mean for NAB's series, eight of which repeat times).
        encoding: of the file.
        delimiter: of the file (default: from the extension).
        input_length: time steps the model reads before the forecast origin.
        horizon: time steps forecast at once (a direct multi-step forecast).
        stride: steps between the origins of training windows.
        season: the seasonal period in steps for the seasonal naive baseline and MASE
            (default: from the frequency: 12 monthly, 7 daily, 5 trading days, 24 hourly).
        transform: of the targets before scaling: auto (chosen from the training part: logs
            when the spread grows with the level, seasonal differences for a strong season,
            else first differences when KPSS finds a trend; the choice is stated and saved),
            log (multiplicative seasonality, growth), diff (first differences, trends),
            log-diff, seasonal-diff (y_t - y_{t-m}, m the season), log-seasonal-diff (log y_t -
            log y_{t-m}: a trend with multiplicative seasonality, as in the airline series), or
            none.
        scale: of targets and covariates, fitted on the training part only: standard (mean 0,
            std 1), minmax ([0, 1]) or none.
        test_size: the last steps held out for testing (default: test_fraction of them).
        val_size: the steps before the test part used to select the best epoch (default:
            val_fraction of them).
        test_fraction, val_fraction: of the series' steps, when no size is given.
        batch_size: windows per batch.
    """

    KIND: ClassVar[str] = "data setting"
    CHOICES: ClassVar[dict[str, Any]] = {
        "missing": MISSING_POLICIES,
        "duplicates": DUPLICATE_POLICIES,
        "transform": (AUTO, *TRANSFORMS),
        "scale": SCALES,
    }
    RANGES: ClassVar[dict[str, str]] = {
        "input_length": "[1, inf)",
        "horizon": "[1, inf)",
        "stride": "[1, inf)",
        "season": "[1, inf)",
        "test_size": "[1, inf)",
        "val_size": "[1, inf)",
        "test_fraction": "(0, 1)",
        "val_fraction": "(0, 1)",
        "batch_size": "[1, inf)",
    }

    source: str | None = None
    time_column: str | None = None
    target: str | None = None
    features: str | None = None
    date_format: str | None = None
    missing: str = "interpolate"
    duplicates: str | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    input_length: int = 24
    horizon: int = 1
    stride: int = 1
    season: int | None = None
    transform: str = AUTO
    scale: str = "standard"
    test_size: int | None = None
    val_size: int | None = None
    test_fraction: float = 0.15
    val_fraction: float = 0.15
    batch_size: int = 32

    def check(self) -> None:
        if self.test_fraction + self.val_fraction >= 1:
            raise UserError(
                "test_fraction + val_fraction must be below 1, got "
                f"{self.test_fraction} + {self.val_fraction}"
            )

    def reader_options(self) -> dict[str, Any]:
        """The options given to ``read_series`` (only those set; the registry has defaults)."""
        names = ("time_column", "target", "features", "date_format", "duplicates", "delimiter")
        options = {name: getattr(self, name) for name in names if getattr(self, name)}
        return {**options, "missing": self.missing, "encoding": self.encoding}


def load_series_source(data: ForecastData, source: str | None = None) -> TimeSeries:
    """The series of ``source`` (default: ``data.source``): a registered name, NAB's
    ``nab/<category>/<name>``, or a CSV/TSV path."""
    source = source or data.source
    if source is None:
        raise UserError(
            "the run was trained on an in-memory series; expected one again (fit(y), "
            "evaluate(y)) or data='NAME or PATH'"
        )
    options = data.reader_options()
    if source.startswith("nab/") and source.count("/") == 2:
        _, category, name = source.split("/")
        path = resolve("nab") / "data" / category / f"{name}.csv"
        if not path.is_file():
            raise UserError(
                f"no NAB series {source!r} (no {path}); expected nab/<category>/<name>, e.g. "
                "nab/realKnownCause/nyc_taxi"
            )
        nab = {"time_column": "timestamp", "target": "value", "duplicates": "mean"}
        return read_series(path, **{**nab, **options})
    if source not in DATASETS:  # a path: read as a series (not as labelled text)
        path = Path(source).expanduser()
        if not path.is_file():
            raise UserError(
                f"{source!r} is neither a known dataset (airline, min-temp, sp500, goog, "
                "nab/<category>/<name>, ...) nor an existing CSV/TSV file"
            )
        return read_series(path, **options)
    series = load_dataset(source, **options)
    if not isinstance(series, TimeSeries):
        raise UserError(f"{source!r} is not a time series; expected a CSV with a time column")
    return series


def in_memory_series(
    values: Any, data: ForecastData | None = None, what: str = "the series"
) -> TimeSeries:
    """A series given in memory: a NumPy array or a list of numbers, (T,) or (T, k), or a pandas
    Series or DataFrame. A DataFrame's ``data.time_column`` (else a DatetimeIndex) gives the
    times, ``data.target`` its targets (else every other column) and ``data.features`` its
    covariates."""
    times, names, covariates, feature_names = None, None, np.zeros((0, 0)), []
    if hasattr(values, "columns") and data is not None:  # a DataFrame: pick its columns
        values = _frame_columns(values, data, what)
        if data.features:
            feature_names = split_names(data.features)
            covariates = values[feature_names].to_numpy(dtype=np.float64)
            values = values.drop(columns=feature_names)
    if hasattr(values, "index") and hasattr(values, "to_numpy"):  # pandas
        index = values.index
        if hasattr(index, "to_pydatetime"):
            times = list(index.to_pydatetime())
        names = [str(c) for c in values.columns] if hasattr(values, "columns") else None
        names = names or [str(getattr(values, "name", None) or "value")]
        values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(
            f"{what}: expected numbers, (T,) or (T, k) (a DataFrame's time column named by "
            "time_column=, its value columns by target=)"
        ) from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or not len(array):
        raise UserError(f"{what}: expected a (T,) or (T, k) series, got shape {array.shape}")
    if not np.isfinite(array).all() or not np.isfinite(covariates).all():
        raise UserError(f"{what}: has missing or infinite values; expected numbers throughout")
    names = names or [f"value{i}" if array.shape[1] > 1 else "value" for i in range(array.shape[1])]
    frequency = Frequency("index", 1, "one step a row", 1)
    if times is not None and len(times) > 1:
        frequency = infer_frequency(times)
    if not feature_names:
        covariates = np.zeros((len(array), 0))
    return TimeSeries(times, array, covariates, names, feature_names, frequency, None, what)


def _frame_columns(frame: Any, data: ForecastData, what: str) -> Any:
    """``frame`` indexed by its time column with only its target and covariate columns."""
    wanted = [c for c in (data.time_column, *split_names(data.target),
                          *split_names(data.features)) if c]  # fmt: skip
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise UserError(
            f"{what} has no column {missing[0]!r}; expected one of {list(map(str, frame.columns))}"
        )
    if data.time_column:
        frame = frame.set_index(data.time_column)
        if not hasattr(frame.index, "to_pydatetime"):
            import pandas as pd

            frame.index = pd.to_datetime(frame.index, format=data.date_format)
        frame = frame.sort_index()
    if data.target:
        frame = frame[split_names(data.target) + split_names(data.features)]
    return frame


def transform_lag(transform: str, season: int) -> int:
    """Steps a transform differences over: 0 (none, log), 1 (diff, log-diff) or the season
    (seasonal-diff, log-seasonal-diff); the first ``lag`` transformed steps are undefined."""
    if transform in SEASONAL:
        return season
    return 1 if transform in ("diff", "log-diff") else 0


def split_bounds(n: int, data: ForecastData) -> tuple[int, int]:
    """(the first validation step, the first test step) of a series of ``n`` steps."""
    test = data.test_size or max(1, round(n * data.test_fraction))
    val = data.val_size or max(1, round(n * data.val_fraction))
    return n - test - val, n - test


@dataclass
class Scaler:
    """Target transform and scaling: ``z = (T(y) - shift) / scale`` per column, where ``T`` is
    log, differences of (log) values at lag 1 or at the season (see the module), or the
    identity; covariates are only scaled.

    Fitted on the training part only (``fit``); ``to_dict``/``from_dict`` save it beside the
    weights (``season``: the lag of the seasonal differences; 1, unused, for the others).
    """

    transform: str
    target_shift: list[float]
    target_scale: list[float]
    feature_shift: list[float]
    feature_scale: list[float]
    season: int = 1

    @property
    def differenced(self) -> bool:
        return self.lag > 0

    @property
    def logged(self) -> bool:
        return self.transform in LOGGED

    @property
    def lag(self) -> int:
        """Steps the transform differences over (0: none); the first ``lag`` are undefined."""
        return transform_lag(self.transform, self.season)

    @classmethod
    def fit(
        cls, series: TimeSeries, end: int, transform: str, scale: str, season: int = 1
    ) -> Scaler:
        """Fitted on the steps before ``end`` (the training part); ``season`` is the lag of
        the seasonal differences. ``transform`` is one of ``TRANSFORMS`` (auto resolved)."""
        if transform not in TRANSFORMS:
            raise ValueError(f"transform {transform!r} is not one of {TRANSFORMS}")
        if transform in SEASONAL and season < 2:
            raise UserError(
                f"{series.source}: transform {transform!r} needs a season of 2 steps or more, "
                "got 1 (no time column, or a frequency without one); expected --season M"
            )
        if transform in SEASONAL and end <= season:
            raise UserError(
                f"{series.source}: transform {transform!r} with season {season} needs more than "
                f"{season} training steps, got {end}; expected a longer training part or "
                "--transform diff"
            )
        if transform in LOGGED and (series.targets[:end] <= 0).any():
            raise UserError(
                f"{series.source}: transform {transform!r} needs positive targets, but the "
                "training part has values <= 0; expected --transform none or diff"
            )
        lag = transform_lag(transform, season)
        z = _transformed(series.targets[:end], transform, lag)  # (end, k), NaN first lag rows
        z = z[~np.isnan(z).any(axis=1)]
        target = _statistics(z, scale)
        feature = _statistics(series.features[:end], scale)
        return cls(transform, *target, *feature, season=season)

    def targets(self, values: np.ndarray) -> np.ndarray:
        """Raw targets (..., T, k) -> scaled transformed ones (..., T, k); NaN where undefined."""
        if self.logged and (values <= 0).any():
            raise UserError(
                f"transform {self.transform!r} needs positive values; expected the series to "
                "stay above 0"
            )
        z = _transformed(values, self.transform, self.lag)
        return (z - np.array(self.target_shift)) / np.array(self.target_scale)

    def features(self, values: np.ndarray) -> np.ndarray:
        """Raw covariates (T, c) -> scaled ones."""
        if not values.shape[1]:
            return values
        return (values - np.array(self.feature_shift)) / np.array(self.feature_scale)

    def before(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """The raw values (N, p, k) that :meth:`inverse` starts from: the last ``p = max(lag,
        1)`` steps of ``values`` (T, k) before each origin (none at or after it)."""
        back = np.arange(-max(self.lag, 1), 0)  # (p,): -p .. -1
        return values[origins[:, None] + back[None, :]]  # (N, p, k)

    def inverse(self, z: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Scaled forecasts ``z`` (N, h, k) back to raw values (N, h, k) (the module's
        equations); ``last`` holds the raw values just before each origin: (N, p, k) from
        :meth:`before`, or (N, k), the last one, when the lag is at most 1."""
        out = z * np.array(self.target_scale) + np.array(self.target_shift)  # (N, h, k)
        last = last[:, None, :] if last.ndim == 2 else last  # (N, p, k)
        if self.lag == 1:
            base = np.log(last[:, -1]) if self.logged else last[:, -1]  # (N, k)
            out = base[:, None, :] + np.cumsum(out, axis=1)
        elif self.lag > 1:
            if last.shape[1] < self.lag:
                raise ValueError(f"{last.shape[1]} values before the origin; expected {self.lag}")
            base = np.log(last[:, -self.lag :]) if self.logged else last[:, -self.lag :]
            levels = np.concatenate([base, out], axis=1)  # (N, m + h, k): u_{t-m..t-1}, x̂
            for j in range(out.shape[1]):
                levels[:, self.lag + j] += levels[:, j]  # û_{t+j} = ũ_{t+j-m} + x̂_{t+j}
            out = levels[:, self.lag :]
        return np.exp(out) if self.logged else out

    def inverse_spread(self, z: np.ndarray, spread: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Raw bounds of an interval whose scaled centre is ``z`` and scaled half-width is
        ``spread`` (signed: negative for the lower bound), both (N, h, k). With differences
        the half-widths add in quadrature over the steps each level sums (independent step
        errors): w_j^2 = Σ_{i<=j} s_i^2 at lag 1, w_j^2 = s_j^2 + w_{j-m}^2 at lag m."""
        width = spread * np.array(self.target_scale)  # (N, h, k)
        if self.lag == 1:
            width = np.sign(spread) * np.sqrt(np.cumsum(width**2, axis=1))
        elif self.lag > 1:
            variance = width**2
            for j in range(self.lag, width.shape[1]):
                variance[:, j] += variance[:, j - self.lag]
            width = np.sign(spread) * np.sqrt(variance)
        centre = self.inverse(z, last)
        if self.logged:
            return np.exp(np.log(centre) + width)
        return centre + width

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Scaler:
        """The scaler ``to_dict`` wrote; ``TypeError``/``ValueError`` for anything else."""
        scaler = cls(**values)  # TypeError: a key missing or unknown
        if scaler.transform not in TRANSFORMS:
            raise ValueError(f"transform {scaler.transform!r} is not one of {TRANSFORMS}")
        if type(scaler.season) is not int or scaler.season < 1:
            raise ValueError(f"season {scaler.season!r} is not a whole number >= 1")
        for name in ("target_shift", "target_scale", "feature_shift", "feature_scale"):
            numbers = getattr(scaler, name)
            if not isinstance(numbers, list) or not all(
                type(x) in (int, float) and np.isfinite(x) for x in numbers
            ):
                raise ValueError(f"{name} must be a list of finite numbers")
        if len(scaler.target_shift) != len(scaler.target_scale) or len(scaler.feature_shift) != len(
            scaler.feature_scale
        ):
            raise ValueError("the shifts and scales differ in length")
        if 0 in scaler.target_scale or 0 in scaler.feature_scale:
            raise ValueError("a scale is 0")
        return scaler


def _transformed(values: np.ndarray, transform: str, lag: int) -> np.ndarray:
    """(Log) values (..., T, k), differenced at ``lag`` along T when it is above 0 (NaN first
    ``lag`` steps)."""
    out = np.log(values) if transform in LOGGED else values.astype(np.float64)
    if lag:
        *paths, steps, columns = out.shape
        undefined = np.full((*paths, min(lag, steps), columns), np.nan)
        out = np.concatenate([undefined, out[..., lag:, :] - out[..., :-lag, :]], axis=-2)
    return out


def _statistics(values: np.ndarray, scale: str) -> tuple[list[float], list[float]]:
    """(shift, scale) per column of ``values`` (n, c) for the scaling named ``scale``."""
    columns = values.shape[1]
    if scale == "none" or not len(values):
        return [0.0] * columns, [1.0] * columns
    if scale == "standard":
        shift, spread = values.mean(axis=0), values.std(axis=0)
    else:
        shift, spread = values.min(axis=0), values.max(axis=0) - values.min(axis=0)
    spread = np.where(spread > 0, spread, 1.0)  # a constant column stays as it is
    return shift.tolist(), spread.tolist()


def window_origins(first: int, start: int, end: int, horizon: int, stride: int = 1) -> np.ndarray:
    """Origins ``t`` with ``t >= first`` (enough inputs) whose targets ``t..t+horizon-1`` lie in
    ``[start, end)``, ``stride`` apart."""
    return np.arange(max(first, start), end - horizon + 1, stride)


def windows(
    z: np.ndarray, covariates: np.ndarray, origins: np.ndarray, input_length: int, horizon: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (N, L, k + c) and targets (N, h, k) of the windows at ``origins``."""
    series = np.concatenate([z, covariates], axis=1)  # (T, k + c)
    inputs = np.stack([series[t - input_length : t] for t in origins])  # (N, L, k + c)
    z = np.concatenate([z, np.full((horizon, z.shape[1]), np.nan)])  # room past the end
    targets = np.stack([z[t : t + horizon] for t in origins])  # (N, h, k)
    return torch.as_tensor(inputs, dtype=torch.float32), torch.as_tensor(
        targets, dtype=torch.float32
    )


@dataclass
class Splits:
    """The series, its split bounds and the first origin with enough (defined) inputs."""

    series: TimeSeries
    val_start: int
    test_start: int
    first: int

    def origins(self, split: str, horizon: int, stride: int = 1) -> np.ndarray:
        start, end = {
            "train": (0, self.val_start),
            "val": (self.val_start, self.test_start),
            "test": (self.test_start, len(self.series)),
            "all": (0, len(self.series)),
        }[split]
        return window_origins(self.first, start, end, horizon, stride)


def make_splits(series: TimeSeries, data: ForecastData) -> Splits:
    """The chronological splits of ``series``, checked to hold at least one window each."""
    val_start, test_start = split_bounds(len(series), data)
    season = data.season or series.frequency.season
    first = data.input_length + transform_lag(data.transform, season)
    splits = Splits(series, val_start, test_start, first)
    for name in ("train", "val", "test"):
        if not len(splits.origins(name, data.horizon)):
            raise UserError(
                f"{series.source}: {len(series)} steps are too few for a {name} window "
                f"(input_length {data.input_length}, horizon {data.horizon}; train ends at "
                f"{val_start}, test starts at {test_start}); expected a longer series, or a "
                "smaller --input-length, --horizon, --val-size or --test-size"
            )
    return splits


class EpochShuffle(Sampler[int]):
    """The indices ``0..n-1`` in an order drawn from the seed and the epoch (the trainer calls
    ``set_epoch`` before each pass), so a resumed run's epoch k is shuffled as the epoch k of a
    run never stopped."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())


def loader(inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, shuffle: bool, seed: int):
    """A DataLoader of (inputs, targets) windows; shuffled per epoch (:class:`EpochShuffle`)."""
    dataset = TensorDataset(inputs, targets)
    sampler = EpochShuffle(len(dataset), seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler)
