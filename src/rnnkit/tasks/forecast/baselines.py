"""The forecasts a user would try first, scored on the same windows as the model.

Each baseline maps the raw series ``y`` (T, k) and the window origins (N,) to forecasts
(N, h, k) for the steps ``t .. t+h-1`` of each origin ``t``, using only ``y[:t]``:

* naive: ŷ_{t+j} = y_{t-1} (the random walk);
* seasonal naive: ŷ_{t+j} = y_{t+j-m⌈(j+1)/m⌉} (the same step one season back);
* drift: ŷ_{t+j} = y_{t-1} + (j+1) (y_{t-1} - y_0) / (t-1) (the line through the first and last
  values);
* ets: Holt-Winters exponential smoothing (additive trend, multiplicative season for a positive
  series, additive otherwise, no season when m is 1 or above 52), its parameters fitted by
  statsmodels once on the history before the split, then run forward through the series with
  those parameters, forecasting from each origin.

The metrics: MAE, RMSE, MAPE and sMAPE (in %), and MASE: MAE over the in-sample MAE of the
seasonal naive forecast (one season back) on the history before the split.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

__all__ = ["BASELINES", "drift", "ets", "forecast_metrics", "mase_scale", "naive", "seasonal_naive"]

logger = logging.getLogger(__name__)

MAX_ETS_SEASON = 52


def naive(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    last = y[origins - 1]  # (N, k)
    return np.repeat(last[:, None, :], horizon, axis=1)  # (N, h, k)


def seasonal_naive(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    steps = np.arange(horizon)  # (h,)
    back = season * np.ceil((steps + 1) / season).astype(np.int64)  # (h,)
    index = origins[:, None] + steps[None, :] - back[None, :]  # (N, h)
    return y[np.maximum(index, 0)]  # (N, h, k)


def drift(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    last = y[origins - 1]  # (N, k)
    slope = (last - y[0]) / np.maximum(origins - 1, 1)[:, None]  # (N, k)
    steps = np.arange(1, horizon + 1)[None, :, None]  # (1, h, 1)
    return last[:, None, :] + steps * slope[:, None, :]  # (N, h, k)


def ets(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Holt-Winters (see the module docstring); needs statsmodels (``rnnkit[timeseries]``)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    out = np.empty((len(origins), horizon, y.shape[1]))
    fit_end = int(origins.min())
    for column in range(y.shape[1]):
        series = y[:, column]
        seasonal = None
        if 2 <= season <= MAX_ETS_SEASON and fit_end >= 2 * season + 2:
            seasonal = "mul" if (series[:fit_end] > 0).all() else "add"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence notes on short series
            fitted = ExponentialSmoothing(
                series[:fit_end], trend="add", seasonal=seasonal,
                seasonal_periods=season if seasonal else None, initialization_method="estimated",
            ).fit()  # fmt: skip
        out[:, :, column] = holt_winters(series, origins, horizon, fitted.params, seasonal, season)
    return out


def holt_winters(
    y: np.ndarray, origins: np.ndarray, horizon: int, params: dict, seasonal: str | None, m: int
) -> np.ndarray:
    """Forecasts (N, h) from each origin of Holt-Winters with additive trend and ``seasonal``
    ("mul", "add" or None) season, run once through ``y`` (T,) with fixed ``params`` (as
    statsmodels' ``ExponentialSmoothing`` fits them, and with its recursions)::

        l_t = α y_t / s_t + (1 - α)(l_{t-1} + b_{t-1})      (y_t - s_t for "add")
        b_t = β (l_t - l_{t-1}) + (1 - β) b_{t-1}
        s_{t+m} = γ y_t / (l_{t-1} + b_{t-1}) + (1 - γ) s_t  (y_t - l_{t-1} - b_{t-1} for "add")
        ŷ_{t+j} = (l_t + j b_t) s_{t+j}                     (+ s_{t+j} for "add")

    (the season of each m-th step as statsmodels takes it: see ``_season_index``).
    """
    alpha, beta = params["smoothing_level"], params["smoothing_trend"]
    gamma = params["smoothing_seasonal"] if seasonal else 0.0
    level, trend = params["initial_level"], params["initial_trend"]
    neutral = 1.0 if seasonal == "mul" else 0.0
    seasons = list(params["initial_seasons"]) if seasonal else [neutral] * max(m, 1)
    period = len(seasons)
    wanted = {int(t): i for i, t in enumerate(origins)}
    out = np.empty((len(origins), horizon))
    steps = np.arange(1, horizon + 1)
    for t in range(int(origins.max()) + 1):
        if t in wanted:
            ahead = np.array([seasons[_season_index(t, j, period)] for j in steps])
            base = level + steps * trend
            out[wanted[t]] = base * ahead if seasonal == "mul" else base + ahead
        if t == origins.max():
            break
        value, season_t, previous = y[t], seasons[t], level + trend
        if seasonal == "mul":
            level = alpha * value / season_t + (1 - alpha) * previous
            seasons.append(gamma * value / previous + (1 - gamma) * season_t)
        else:
            level = alpha * (value - season_t) + (1 - alpha) * previous
            seasons.append(gamma * (value - previous) + (1 - gamma) * season_t)
        trend = beta * (level - (previous - trend)) + (1 - beta) * trend
    return out


def _season_index(t: int, j: int, m: int) -> int:
    """The season used for the forecast ``j`` steps after ``t`` observations, as statsmodels
    does it: s_{t+j-1} for the first m - 1 steps of each season, and for the m-th step s_{t-1}
    (the season one cycle older than the textbook's s_{t+m-1}, updated with y_{t-1}; statsmodels
    0.14-0.15 overwrite that last update when they forecast, and its figures are the ones users
    compare with)."""
    step = (j - 1) % m
    return t - 1 if step == m - 1 and m > 1 else t + step


BASELINES = {"naive": naive, "seasonal_naive": seasonal_naive, "drift": drift, "ets": ets}


def forecast_metrics(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray) -> dict:
    """MAE, RMSE, MAPE (%), sMAPE (%) and MASE of forecasts (N, h, k) against ``actual``;
    ``scale`` (k,) is each target's MASE denominator (:func:`mase_scale`).

    MAPE is None when an actual value is 0 (it is undefined there); MASE is None when a
    denominator is 0 (a constant history)."""
    error = predicted - actual
    mae = float(np.mean(np.abs(error)))
    mape = None
    if (actual != 0).all():
        mape = float(np.mean(np.abs(error) / np.abs(actual)) * 100)
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(2 * np.abs(error), denominator, out=np.zeros_like(error),
                      where=denominator > 0)  # fmt: skip
    mase = float(np.mean(np.abs(error) / scale)) if (scale > 0).all() else None
    return {
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": mape,
        "smape": float(np.mean(ratio) * 100),
        "mase": mase,
    }


def direction_scores(actual: np.ndarray, predicted: np.ndarray, last: np.ndarray) -> dict:
    """How often the forecast moves the right way from the last value before its origin, and
    the baseline of always saying "up" (the share of up moves): over the moves that are not 0.

    ``actual``, ``predicted``: (N, h, k); ``last``: (N, k)."""
    moved = actual - last[:, None, :]  # (N, h, k)
    forecast_move = predicted - last[:, None, :]
    nonzero = moved != 0
    if not nonzero.any():
        return {"direction_accuracy": None, "up_share": None}
    right = np.sign(forecast_move[nonzero]) == np.sign(moved[nonzero])
    return {
        "direction_accuracy": float(right.mean()),
        "up_share": float((moved[nonzero] > 0).mean()),
    }


def mase_scale(history: np.ndarray, season: int) -> np.ndarray:
    """Each column's in-sample MAE of the seasonal naive forecast, mean |y_t - y_{t-m}| over
    ``history`` (T, k) (the naive one's when the history is not longer than a season)."""
    m = season if len(history) > season else 1
    if len(history) <= m:
        return np.zeros(history.shape[1])
    return np.mean(np.abs(history[m:] - history[:-m]), axis=0)  # (k,)
