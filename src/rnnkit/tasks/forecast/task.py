"""``Forecaster``: time-series forecasting with a windowed RNN, scored against the baselines a
forecaster would try first, on the same windows."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rnnkit.data.timeseries import TimeSeries, read_series
from rnnkit.errors import UserError
from rnnkit.models.forecaster import ForecasterConfig, build_forecaster, interval, sample
from rnnkit.tasks.base import Task, duration
from rnnkit.tasks.forecast.auto_transform import choose_transform
from rnnkit.tasks.forecast.baselines import (
    BASELINES,
    direction_scores,
    forecast_metrics,
    interval_metrics,
    mase_scale,
)
from rnnkit.tasks.forecast.data import (
    AUTO,
    ForecastData,
    Scaler,
    Splits,
    in_memory_series,
    load_series_source,
    loader,
    make_splits,
    windows,
)
from rnnkit.tasks.forecast.detect import (
    PROBATION,
    anomaly_scores,
    detection_metrics,
    nab_windows,
    window_labels,
)
from rnnkit.tasks.forecast.detect_plot import save_detection_plot
from rnnkit.tasks.forecast.objective import ForecastObjective
from rnnkit.tasks.forecast.plot import save_forecast_plot
from rnnkit.tasks.forecast.report import (
    detection_report,
    forecast_cell,
    forecast_table,
    score_table,
    stamp,
    time_axis,
)
from rnnkit.train import Checkpoint, TrainConfig

__all__ = ["Forecaster"]

logger = logging.getLogger(__name__)

HISTORY_KEPT = 1000  # steps of the training series saved with the model, to forecast from
PATHS = 1000  # sample paths whose spread gives the intervals past the horizon
EVALUATION_PATHS = 100  # the same, for each origin of a walk-forward evaluation
PATHS_AT_ONCE = 100_000  # sample paths drawn together (memory: their windows and values)


@dataclass
class Preprocessing:
    """What a forecaster learns before the model: the scaler (fitted on the training part), the
    seasonal period, and the end of the series (to forecast past it)."""

    scaler: Scaler
    season: int
    history: TimeSeries

    def to_dict(self) -> dict[str, Any]:
        return {"scaler": self.scaler.to_dict(), "season": self.season,
                "history": self.history.to_dict()}  # fmt: skip

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Preprocessing:
        """What ``to_dict`` wrote; ``KeyError``/``TypeError``/``ValueError`` for anything else
        (a scaler whose columns are not the history's, a season below 1)."""
        prep = cls(Scaler.from_dict(values["scaler"]), values["season"],
                   TimeSeries.from_dict(values["history"]))  # fmt: skip
        history, scaler = prep.history, prep.scaler
        if type(prep.season) is not int or prep.season < 1:
            raise ValueError(f"season {prep.season!r} is not a whole number >= 1")
        if (
            len(scaler.target_shift) != history.targets.shape[1]
            or len(scaler.feature_shift) != history.features.shape[1]
        ):
            raise ValueError("the scaler's columns are not the history's")
        if scaler.logged and (history.targets <= 0).any():
            raise ValueError(f"transform {scaler.transform!r} with a history not above 0")
        return prep


class Forecaster(Task):
    """Train a forecaster: an RNN reads a window of the series and forecasts the next steps.

    Data: --data airline, min-temp, sp500, goog, nab/<category>/<name> (NAB's series), or any
    CSV/TSV with a time column (--time-column; dates in the common formats, the one inferred is
    stated, --date-format fixes it) and one or more value columns (--target a,b; --features for
    covariates). Thousands separators, stray spaces in the header and unsorted rows are dealt
    with; duplicated times are refused; missing steps and values are filled (--missing).

    The series is cut in time into train | val | test (--val-size/--test-size steps, or
    fractions). The model reads --input-length steps and forecasts --horizon steps at once;
    targets can be log-transformed and differenced, also at the season's lag (--transform
    log-diff for a trend, log-seasonal-diff for a trend with multiplicative seasonality, as in
    the airline series; the default, auto, chooses from the training part with Guerrero's, STL's
    and KPSS's tests and says why), and are scaled with statistics of the training part only.
    The default head forecasts a mean and a standard deviation (Gaussian likelihood), so
    forecasts come with an interval (--coverage); --head quantile uses the pinball loss.
    --architecture direct (the default) forecasts every step at once from the window's last
    state; --architecture seq2seq runs an encoder-decoder whose decoder steps through the
    horizon reading its previous forecast (the true value in training, with probability
    --teacher-forcing), for long horizons.
    --members M trains M forecasters from different initial weights side by side and
    forecasts with their combination (a deep ensemble: steadier on short series).

    rnnkit evaluate scores walk-forward forecasts (every origin of the split) in MAE, RMSE,
    MAPE, sMAPE and MASE beside the naive, seasonal naive, drift, seasonal naive + drift,
    Holt-Winters (ets) and ARIMA baselines (statsmodels) on the same windows; --steps S scores
    S steps from each origin, the forecasts fed back past the horizon (with the intervals of
    sample paths fed back the same way, as rnnkit forecast --steps gives them). rnnkit detect
    flags the steps whose one-step error stands out from the errors of the series' first 15%
    and scores the flags against NAB's labelled windows.

    Examples:
      rnnkit train forecast --data airline --transform log-diff --horizon 12 --test-size 24 --out r
      rnnkit evaluate r --split test
      rnnkit evaluate r --split test --steps 24
      rnnkit forecast r --steps 24 --plot forecast.png
      rnnkit train forecast --data nab/realKnownCause/nyc_taxi --input-length 48 --out t
      rnnkit detect t --plot anomalies.png
      rnnkit train forecast --data sales.csv --time-column day --target units --out runs/s

    In Python::

      fc = rnnkit.Forecaster(horizon=12, transform="log-diff").fit(data="airline")
      fc.evaluate(split="test"); fc.forecast(steps=24)
    """

    NAME: ClassVar[str] = "forecast"
    SECTIONS: ClassVar[dict[str, Any]] = {
        "data": ForecastData,
        "model": ForecasterConfig,
        "train": TrainConfig,
    }
    # Epochs over a short series take milliseconds, and drawing curves.png after each one
    # takes about a second: no curves by default (--plot draws them).
    TRAIN_DEFAULTS: ClassVar[TrainConfig] = TrainConfig(
        epochs=100, lr=3e-3, clip_norm=1.0, patience=15, monitor="val_loss", mode="min",
        plot=False,
    )  # fmt: skip
    FIXED: ClassVar[tuple[str, ...]] = ("source", "input_size", "num_targets", "output_steps")
    EVALUATION_PLOT: ClassVar[str] = "forecast"

    @classmethod
    def placeholders(cls, section: str) -> dict[str, Any]:
        if section == "model":
            return {"input_size": 1, "num_targets": 1, "output_steps": 1}
        return {}

    # -- fit steps -----------------------------------------------------------------------------

    def read_splits(self, X, y, validation_data):
        if y is not None or validation_data is not None:
            raise UserError(
                "a forecaster takes one series: fit(y_series) or fit(data=...); the validation "
                "and test parts are its last steps (val_size, test_size)"
            )
        data = self.settings["data"]
        series = load_series_source(data) if X is None else in_memory_series(X, data)
        self.fitted_series = series if X is not None else None  # evaluate(split=...) reuses it
        cut = make_splits(series, data)  # a series too short is said before any test runs
        if data.transform == AUTO:  # chosen on the training part, saved as the choice
            choice = choose_transform(series.targets[: cut.val_start],
                                      data.season or series.frequency.season)  # fmt: skip
            logger.info("transform auto: %s", choice)
            data = self.settings["data"] = data.replace(transform=choice.transform)
            try:  # its differences leave the first steps undefined: fewer windows
                cut = make_splits(series, data)
            except UserError as error:
                raise UserError(f"{error}; or a --transform without differences (auto chose "
                                f"{choice.transform})") from None  # fmt: skip
        return {"series": cut}

    def fit_preprocessing(self, splits) -> Preprocessing:
        data, cut = self.settings["data"], splits["series"]
        series = cut.series
        season = data.season or series.frequency.season
        scaler = Scaler.fit(series, cut.val_start, data.transform, data.scale, season)
        logger.info(
            "data: %d steps (%s); train %d, val %d, test %d steps; season %d; transform %s; "
            "scaled with the first %d steps' statistics",
            len(series), series.frequency.name, cut.val_start, cut.test_start - cut.val_start,
            len(series) - cut.test_start, season, data.transform, cut.val_start,
        )  # fmt: skip
        return Preprocessing(scaler, season, series.tail(HISTORY_KEPT))

    def restore_preprocessing(self, checkpoint: Checkpoint) -> Preprocessing:
        data = self.settings["data"]
        try:  # a damaged or hand-edited artifact is said in one line
            prep = Preprocessing.from_dict(checkpoint.artifacts["preprocessing"])
            needed = data.input_length + prep.scaler.lag
            if len(prep.history) < needed:
                raise ValueError(f"a history of {len(prep.history)} steps; at least {needed} "
                                 "are needed to forecast")  # fmt: skip
            return prep
        except (KeyError, TypeError, ValueError, OverflowError) as error:
            raise UserError(
                f"{checkpoint.path / 'preprocessing.json'}: expected a forecaster's scaler, "
                f"season and history, got a damaged file ({type(error).__name__}: {error})"
            ) from None

    def artifacts(self, prep: Preprocessing) -> dict[str, Any]:
        return {"preprocessing": prep.to_dict()}

    def build_model(self, prep: Preprocessing) -> nn.Module:
        history = prep.history
        sizes = {
            "input_size": len(history.target_names) + len(history.feature_names),
            "num_targets": len(history.target_names),
            "output_steps": self.settings["data"].horizon,
        }
        self.settings["model"] = self.settings["model"].replace(**sizes)
        return build_forecaster(self.settings["model"])

    def make_batches(self, splits, prep: Preprocessing):
        data, cut = self.settings["data"], splits["series"]
        z, covariates = self._scaled(cut.series, prep)
        train = windows(z, covariates, cut.origins("train", data.horizon, data.stride),
                        data.input_length, data.horizon)  # fmt: skip
        val = windows(z, covariates, cut.origins("val", data.horizon), data.input_length,
                      data.horizon)  # fmt: skip
        logger.info("windows: %d train, %d val", len(train[0]), len(val[0]))
        seed = self.settings["train"].seed or 0
        return (loader(*train, data.batch_size, True, seed),
                loader(*val, data.batch_size, False, seed))  # fmt: skip

    def make_objective(self, prep: Preprocessing) -> ForecastObjective:
        model = self.settings["model"]
        return ForecastObjective(model.head, model.coverage)

    def summary_report(self, summary):
        return (
            f"trained {summary['epochs']} epoch(s) in {duration(summary['train_time_s'])} "
            f"({summary['stop_reason']}); best epoch {summary['best_epoch']}: val loss "
            f"{summary.get('val_loss', float('nan')):.4f}, val MAE (scaled) "
            f"{summary.get('val_scaled_mae', float('nan')):.4f}\n"
            f"saved in {summary['out']}/best — next: rnnkit evaluate {summary['out']} --split "
            f"test (with the baselines), rnnkit forecast {summary['out']} --plot forecast.png"
        )

    # -- the loaded model ----------------------------------------------------------------------

    def _scaled(self, series: TimeSeries, prep: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
        """Scaled transformed targets (T, k) and scaled covariates (T, c) of ``series``."""
        history = prep.history
        if series.target_names != history.target_names and series.times is not None:
            raise UserError(
                f"{series.source} has targets {series.target_names}; expected the model's "
                f"{history.target_names}"
            )
        if series.features.shape[1] != len(history.feature_names):
            raise UserError(
                f"{series.source} has {series.features.shape[1]} covariates; expected the "
                f"model's {len(history.feature_names)} ({', '.join(history.feature_names)})"
            )
        if series.targets.shape[1] != len(history.target_names):
            raise UserError(
                f"{series.source} has {series.targets.shape[1]} target column(s); expected "
                f"{len(history.target_names)}"
            )
        return prep.scaler.targets(series.targets), prep.scaler.features(series.features)

    def _scaled_interval(
        self, inputs: torch.Tensor, noise: np.ndarray | None = None
    ) -> tuple[np.ndarray, ...]:
        """Scaled (centre, lower, upper), each (N, h, k), forecast from ``inputs`` (N, L, k + c);
        with a sample path's ``noise`` (N, h, k) a seq2seq decoder reads its own draws."""
        config = self.settings["model"]
        draws = None if noise is None else torch.as_tensor(noise, dtype=torch.float32)
        outputs = []
        with torch.no_grad():
            for start in range(0, len(inputs), 512):
                batch = inputs[start : start + 512].to(self.model_device)  # (n, L, k + c)
                part = None if draws is None else draws[start : start + 512].to(batch.device)
                outputs.append(self.model(batch, noise=part).float().cpu())  # (n, h, k, P)
        bounds = interval(torch.cat(outputs), config.head, config.coverage)
        return tuple(t.numpy().astype(np.float64) for t in bounds)

    def _windows(self, series: TimeSeries, origins: np.ndarray) -> torch.Tensor:
        """The model's inputs (N, L, k + c) at ``origins``: scaled targets and covariates."""
        data = self.settings["data"]
        z, covariates = self._scaled(series, self.preprocessing)
        return windows(z, covariates, origins, data.input_length, data.horizon)[0]

    def _forecast_windows(
        self, series: TimeSeries, origins: np.ndarray, inputs: torch.Tensor | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw (forecast, lower, upper), each (N, h, k), of the windows at ``origins`` (their
        ``inputs`` when already cut)."""
        if inputs is None:
            inputs = self._windows(series, origins)
        centre, lower, upper = self._scaled_interval(inputs)
        scaler = self.preprocessing.scaler
        last = scaler.before(series.targets, origins)  # (N, max(lag, 1), k): before the origin
        return (
            scaler.inverse(centre, last),
            scaler.inverse_spread(centre, lower - centre, last),
            scaler.inverse_spread(centre, upper - centre, last),
        )

    def _fed_back(
        self,
        starts: np.ndarray,
        steps: int,
        draws: np.random.Generator | None = None,
        first: torch.Tensor | None = None,
    ) -> np.ndarray:
        """Raw values (N, steps, k) continuing each history of ``starts`` (N, L + lag, k): each
        block of ``horizon`` steps is forecast from the path so far (the first from ``first``
        (N, L, k + c), the model's own inputs with their covariates, when given) and appended,
        the centre or, with ``draws``, a sample of the forecast distribution
        (``rnnkit.models.forecaster.sample``; a seq2seq decoder reads its own draws within
        the block)."""
        data, config = self.settings["data"], self.settings["model"]
        scaler = self.preprocessing.scaler
        need = starts.shape[1]
        paths, inputs = starts, first
        while paths.shape[1] - need < steps:
            if inputs is None:  # read the path so far (a series without covariates)
                z = scaler.targets(paths[:, -need:])[:, -data.input_length :]  # (N, L, k)
                inputs = torch.as_tensor(z, dtype=torch.float32)
            noise = None
            if draws is not None:
                noise = draws.standard_normal((len(paths), data.horizon, starts.shape[2]))
            centre, lower, upper = self._scaled_interval(inputs, noise)
            if noise is not None:
                centre = sample(centre, lower, upper, noise, config.coverage)  # (N, h, k)
            last = paths[:, -max(scaler.lag, 1) :]  # (N, p, k): the raw values before the block
            paths = np.concatenate([paths, scaler.inverse(centre, last)], axis=1)
            inputs = None  # the next block reads the path
        return paths[:, need : need + steps]

    def _path_bounds(
        self, starts: np.ndarray, first: torch.Tensor, steps: int, paths: int
    ) -> tuple[np.ndarray, ...]:
        """Raw (lower, upper), each (N, steps, k): the central interval of ``paths`` sample
        paths (``_fed_back`` with draws, seeded: the same bounds each time) from each history
        of ``starts`` (N, L + lag, k) and first inputs ``first`` (N, L, k + c), so a later
        step carries the uncertainty of the draws before it."""
        tail = (1 - self.settings["model"].coverage) / 2
        draws = np.random.default_rng(0)
        chunk = max(1, PATHS_AT_ONCE // paths)  # origins whose paths are drawn together
        lower, upper = [], []
        for i in range(0, len(starts), chunk):
            repeated = np.repeat(starts[i : i + chunk], paths, axis=0)  # (n * S, L + lag, k)
            inputs = first[i : i + chunk].repeat_interleave(paths, dim=0)  # (n * S, L, k + c)
            samples = self._fed_back(repeated, steps, draws, inputs)  # (n * S, steps, k)
            samples = samples.reshape(-1, paths, *samples.shape[1:])  # (n, S, steps, k)
            lower.append(np.quantile(samples, tail, axis=1))
            upper.append(np.quantile(samples, 1 - tail, axis=1))
        return np.concatenate(lower), np.concatenate(upper)

    def _forecasts(self, series: TimeSeries, origins: np.ndarray, steps: int, paths: int):
        """Raw (forecast, lower, upper), each (N, steps, k), of ``steps`` from each origin:
        the model's own for the first ``horizon`` steps; past them the centre fed back
        (``_fed_back``). The bounds are the model's own where no forecast is read back (the
        first block of the direct head, the first step of seq2seq, whose decoder reads its
        previous forecast), after that those of ``paths`` sample paths an origin
        (``_path_bounds``)."""
        horizon, config = self.settings["data"].horizon, self.settings["model"]
        own = 1 if config.architecture == "seq2seq" else horizon  # steps with the model's bounds
        self._check_feedback(series, steps)
        first = self._windows(series, origins)  # (N, L, k + c)
        starts = self._starts(series, origins)  # (N, L + lag, k)
        block = self._forecast_windows(series, origins, first)
        forecast, lower, upper = (a[:, :steps] for a in block)  # (N, min(h, steps), k) each
        if steps > horizon:  # the centre fed back from the end of the first block
            path = np.concatenate([starts, forecast], axis=1)[:, -starts.shape[1] :]
            forecast = np.concatenate([forecast, self._fed_back(path, steps - horizon)], axis=1)
        if config.head == "point":  # no interval: the bounds are the forecast
            return forecast, forecast, forecast
        if steps <= own:
            return forecast, lower, upper
        path_lower, path_upper = self._path_bounds(starts, first, steps, paths)  # (N, steps, k)
        later = slice(own, None)
        lower = np.concatenate([lower[:, :own], np.minimum(path_lower, forecast)[:, later]], 1)
        upper = np.concatenate([upper[:, :own], np.maximum(path_upper, forecast)[:, later]], 1)
        return forecast, lower, upper

    def _check_feedback(self, series: TimeSeries, steps: int) -> None:
        """Refuse to feed forecasts back past the horizon of a model that reads covariates."""
        horizon = self.settings["data"].horizon
        if steps > horizon and series.features.shape[1]:
            raise UserError(
                f"the model forecasts {horizon} steps and reads covariates, whose future is "
                f"unknown; expected steps <= {horizon}"
            )

    def _starts(self, series: TimeSeries, origins: np.ndarray) -> np.ndarray:
        """The raw values (N, L + lag, k) a forecast from each origin reads."""
        need = self.settings["data"].input_length + self.preprocessing.scaler.lag
        return series.targets[origins[:, None] + np.arange(-need, 0)[None, :]]

    def _evaluation_series(self, X: Any, data: str | None, split: str, horizon: int):
        """(series, origins whose ``horizon`` steps lie in the split, the end of the in-sample
        part that scales MASE, the split's name, where it came from): the training part for the
        train and validation splits, everything before the test part for the test split, the
        whole series for a series scored whole."""
        settings = self.settings["data"]
        first = settings.input_length + self.preprocessing.scaler.lag
        if X is not None or (data is not None and data != settings.source):
            series = (
                in_memory_series(X, settings)
                if X is not None
                else load_series_source(self._model_columns(), data)
            )
            origins = np.arange(first, len(series) - horizon + 1)
            if not len(origins):
                raise UserError(
                    f"{series.source}: {len(series)} steps are too few for one window "
                    f"(input_length {settings.input_length}, {horizon} steps)"
                )
            where = "in-memory data" if X is not None else data
            return series, origins, len(series), "all", where
        fitted = getattr(self, "fitted_series", None)
        series = fitted if settings.source is None and fitted else load_series_source(settings)
        cut: Splits = make_splits(series, settings)
        in_sample = cut.test_start if split == "test" else cut.val_start
        return cut.series, cut.origins(split, horizon), in_sample, split, settings.source

    def evaluate(
        self,
        X: Any = None,
        y: Any = None,
        *,
        data: str | None = None,
        split: str = "val",
        batch_size: int | None = None,
        plot: str | Path | None = None,
        baselines: tuple[str, ...] = tuple(BASELINES),
        steps: int | None = None,
    ) -> dict[str, Any]:
        """Walk-forward scores of the model and the baselines on the same windows: every origin
        of ``split`` (or of an in-memory series ``X`` / a file ``data``, scored whole), each
        forecasting ``steps`` (default: the horizon) from the values before it; past the
        horizon the forecasts are fed back as inputs and the intervals read from
        ``EVALUATION_PATHS`` sample paths an origin (as ``forecast`` does with ``PATHS``).
        ``batch_size`` is unused (all windows are forecast in large batches); ``plot`` draws
        the one-step forecasts."""
        self.require_model()
        if y is not None:
            raise UserError("a forecaster scores one series: evaluate(series), without y")
        if split not in ("train", "val", "test"):
            raise UserError(f"split must be train, val or test, got {split!r}")
        horizon = self.settings["data"].horizon
        steps = horizon if steps is None else steps
        if steps < 1:
            raise UserError(f"steps must be at least 1, got {steps}")
        series, origins, in_sample, name, where = self._evaluation_series(X, data, split, steps)
        season = self.preprocessing.season
        at = origins[:, None] + np.arange(steps)[None, :]  # (N, steps)
        actual = series.targets[at]  # (N, steps, k)
        scale = mase_scale(series.targets[:in_sample], season)  # (k,)
        forecast, lower, upper = self._forecasts(series, origins, steps, EVALUATION_PATHS)
        scores = {"model": forecast_metrics(actual, forecast, scale)}
        forecasts = {"model": forecast}
        skipped = {}
        for baseline in baselines:
            try:
                forecasts[baseline] = BASELINES[baseline](series.targets, origins, steps, season)
            except ImportError:
                skipped[baseline] = "needs statsmodels (pip install rnnkit[timeseries])"
                continue
            except (ValueError, np.linalg.LinAlgError) as error:  # e.g. too short to fit
                skipped[baseline] = f"could not be fitted: {error}"
                continue
            scores[baseline] = forecast_metrics(actual, forecasts[baseline], scale)
        coverage = self.settings["model"].coverage
        has_interval = self.settings["model"].head != "point"
        each = [forecast_metrics(actual[:, [j]], forecast[:, [j]], scale) for j in range(steps)]
        held = [interval_metrics(actual[:, j], lower[:, j], upper[:, j], coverage)
                for j in range(steps)] if has_interval else None  # fmt: skip
        by_step = {
            "mae": [m["mae"] for m in each],
            "rmse": [m["rmse"] for m in each],
            **{key: held and [m[key] for m in held] for key in ("coverage", "interval_score")},
        }
        intervals = dict.fromkeys(("coverage", "interval_width", "interval_score"))  # point head
        if has_interval:
            intervals = interval_metrics(actual, lower, upper, coverage)
        drawn = plot is not None and self._evaluation_plot(
            Path(plot), series, origins, forecasts, lower, upper, f"{where}, {name}"
        )
        result = {
            "split": name,
            "data": where,
            "n": int(len(origins)),
            "horizon": steps,
            "model_horizon": horizon,
            "season": season,
            **scores["model"],
            **intervals,
            "by_step": by_step,
            **direction_scores(actual, forecast, series.targets[origins - 1]),
            "baselines": {k: v for k, v in scores.items() if k != "model"},
            "skipped": skipped,
            "plot": str(plot) if drawn else None,
        }
        result["report"] = score_table(result, scores, coverage) + (
            f"\nplot: {plot}" if drawn else ""
        )
        return result

    def _evaluation_plot(self, path, series, origins, forecasts, lower, upper, title) -> bool:
        """The split's actual values with the one-step-ahead forecasts of the model (and its
        interval) and of the baselines, after some history."""
        steps = origins  # the first forecast step of each origin
        before = np.arange(max(0, origins[0] - 3 * len(origins)), origins[0])
        x = time_axis(series)
        return save_forecast_plot(
            path,
            history=([x[i] for i in before], series.targets[before]),
            forecast=([x[i] for i in steps], forecasts["model"][:, 0], lower[:, 0], upper[:, 0]),
            truth=([x[i] for i in steps], series.targets[steps]),
            others={
                k: ([x[i] for i in steps], v[:, 0])
                for k, v in forecasts.items()
                if k in ("seasonal_naive", "ets")
            },  # fmt: skip
            names=series.target_names,
            title=f"{title}: one-step-ahead forecasts",
        )

    def forecast(
        self, steps: int | None = None, *, data: Any = None, plot: str | Path | None = None
    ) -> dict[str, Any]:
        """Forecast ``steps`` (default: the horizon) past the end of the series: the end of the
        training data saved with the model, or ``data`` (a file, a dataset name, or an in-memory
        series). Beyond the horizon the forecasts are fed back as inputs (a series without
        covariates only); the intervals of the later blocks are read from ``PATHS`` sample
        paths (see ``_path_bounds``), so they carry the earlier blocks' uncertainty."""
        self.require_model()
        settings = self.settings["data"]
        horizon = settings.horizon
        steps = steps or horizon
        if steps < 1:
            raise UserError(f"steps must be at least 1, got {steps}")
        series = self._history(data)
        end = np.array([len(series)])  # one origin, after the last value
        values, lower, upper = (a[0] for a in self._forecasts(series, end, steps, PATHS))
        last = series.times[-1] if series.times else None
        times = series.frequency.future(last, steps)
        x_future = times if last is not None else list(range(len(series), len(series) + steps))
        drawn = plot is not None and save_forecast_plot(
            Path(plot),
            history=(time_axis(series), series.targets),
            forecast=(x_future, values, lower, upper),
            names=series.target_names,
            title=f"{_name(data, settings.source, series.source)}: {steps}-step forecast",
        )
        rows = [
            {"time": None if t is None else t.isoformat(),
             **{name: forecast_cell(values[i, j], lower[i, j], upper[i, j])
                for j, name in enumerate(series.target_names)}}
            for i, t in enumerate(times)
        ]  # fmt: skip
        result = {
            "steps": steps,
            "targets": series.target_names,
            "forecast": rows,
            "coverage": self.settings["model"].coverage
            if self.settings["model"].head != "point"
            else None,
            "history_end": None if last is None else last.isoformat(),
            "plot": str(plot) if drawn else None,
        }
        result["report"] = forecast_table(result) + (f"\nplot: {plot}" if drawn else "")
        return result

    def detect(
        self,
        data: Any = None,
        *,
        probation: float = PROBATION,
        threshold: float | None = None,
        windows: list[tuple[Any, Any]] | None = None,
        plot: str | Path | None = None,
    ) -> dict[str, Any]:
        """Flag the steps whose one-step forecast error stands out (see
        ``rnnkit.tasks.forecast.detect``) in ``data`` (a NAB name, a file, an in-memory series;
        default: the training data), and score the flags against ``windows`` ((start, end)
        pairs of times, or of positions for a series without times; default: NAB's windows for
        a NAB series). ``threshold``: in standard deviations (default: the largest of the
        ``probation`` fraction at the start)."""
        self.require_model()
        if not 0 < probation < 1:
            raise UserError(f"probation must lie in (0, 1), got {probation}")
        settings = self.settings["data"]
        source = data if isinstance(data, str) else None
        if data is None:
            fitted = getattr(self, "fitted_series", None)
            series = fitted if settings.source is None and fitted else None
            series = series or load_series_source(self._model_columns())
            source = settings.source
        elif isinstance(data, (str, Path)):
            series = self._history(data)
        else:
            series = in_memory_series(data, settings)
        first = settings.input_length + self.preprocessing.scaler.lag
        origins = np.arange(first, len(series) - settings.horizon + 1)
        if len(origins) < 3:
            raise UserError(f"{series.source}: {len(series)} steps are too few to score")
        forecast, _, _ = self._forecast_windows(series, origins)
        scale = np.array(self.preprocessing.scaler.target_scale)
        errors = (series.targets[origins] - forecast[:, 0]) / scale  # (N, k)
        early = int(np.sum(origins < probation * len(series)))
        scores = anomaly_scores(errors, early)  # (N,)
        theta = float(scores[:early].max()) if threshold is None else threshold
        flags = scores > theta
        axis = time_axis(series)
        times = [axis[i] for i in origins]
        if windows is None and source and source.startswith("nab/"):
            windows = nab_windows(source)
        result: dict[str, Any] = {
            "data": source or series.source,
            "n": int(len(origins)),
            "probation": early,
            "threshold": theta,
            "anomalies": [
                {"time": stamp(times[i]), "score": round(float(scores[i]), 4),
                 **{name: {"value": float(series.targets[origins[i], j]),
                           "forecast": round(float(forecast[i, 0, j]), 6)}
                    for j, name in enumerate(series.target_names)}}
                for i in np.flatnonzero(flags)
            ],
        }  # fmt: skip
        if windows is not None:
            labels = window_labels(times, windows)
            result.update(detection_metrics(flags, labels, len(windows)))
        drawn = plot is not None and save_detection_plot(
            Path(plot), times=times, values=series.targets[origins], scores=scores, flags=flags,
            threshold=theta, windows=windows, probation=early,
            title=f"{result['data']}: {int(flags.sum())} anomalies (z > {theta:.2f})",
        )  # fmt: skip
        result["plot"] = str(plot) if drawn else None
        result["report"] = detection_report(result)
        return result

    def _model_columns(self) -> ForecastData:
        """The data settings, naming the model's target and covariate columns (a registered
        dataset's defaults are not in the settings; another file must have the same columns)."""
        settings, history = self.settings["data"], self.preprocessing.history
        return settings.replace(
            target=settings.target or ",".join(history.target_names),
            features=settings.features or (",".join(history.feature_names) or None),
        )

    def _history(self, data: Any) -> TimeSeries:
        """The series to forecast from: the saved end of the training data, a path or dataset
        name, or an in-memory series."""
        if data is None:
            return self.preprocessing.history
        if isinstance(data, (str, Path)):
            settings = self._model_columns()
            path = Path(data).expanduser()
            if path.is_file():
                series = read_series(path, **settings.reader_options())
            else:
                series = load_series_source(settings, str(data))
        else:
            series = in_memory_series(data, self.settings["data"])
        window = self.settings["data"].input_length
        needed = window + self.preprocessing.scaler.lag
        if len(series) < needed:  # a shorter series would be read as a shorter window
            raise UserError(
                f"the series has {len(series)} time steps; expected at least {needed} "
                f"(the model reads windows of input_length {window}"
                + (f", plus {needed - window} step(s) to difference" if needed > window else "")
                + ")"
            )
        return series

    def predict_rows(self, inputs: list[str]) -> list[dict[str, Any]]:
        """The next ``horizon`` steps after each input: a CSV file of the series (the model's
        columns), or its latest values as numbers ("112, 118, 132, ...")."""
        rows = []
        for text in inputs:
            if Path(text).expanduser().is_file():
                history = text
            else:
                numbers = [v for v in re.split(r"[,\s;]+", text.strip()) if v]
                try:
                    history = [float(v) for v in numbers]
                except ValueError:
                    raise UserError(
                        f"{text[:60]!r} is neither a file nor a list of numbers; expected a "
                        "CSV file of the series or its latest values, e.g. '112, 118, 132'"
                    ) from None
            forecast = self.forecast(data=history)
            rows.append({"input": text, "forecast": forecast["forecast"]})
        return rows

    def predict_report(self, rows: list[dict[str, Any]]) -> str:
        return "\n\n".join(
            f"{row['input'][:60]}\n{forecast_table({'forecast': row['forecast']})}" for row in rows
        )


def _name(data: Any, source: str | None, path: str) -> str:
    """What a plot calls the series: the name or path the user gave (a dataset name such as
    airline, not the file it resolved to), else the file."""
    return data if isinstance(data, str) else (source if data is None and source else path)
