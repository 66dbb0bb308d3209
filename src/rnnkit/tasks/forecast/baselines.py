"""The forecasts a user would try first, scored on the same windows as the model.

Each baseline maps the raw series ``y`` (T, k) and the window origins (N,) to forecasts
(N, h, k) for the steps ``t .. t+h-1`` of each origin ``t``, using only ``y[:t]``:

* naive: ŷ_{t+j} = y_{t-1} (the random walk, persistence);
* seasonal naive: ŷ_{t+j} = y_{t+j-m⌈(j+1)/m⌉} (the same step one season back);
* drift: ŷ_{t+j} = y_{t-1} + (j+1) (y_{t-1} - y_0) / (t-1) (the line through the first and last
  values);
* seasonal drift: the seasonal naive forecast moved along the drift line over the m⌈(j+1)/m⌉
  steps between the value it repeats and the one it forecasts, ŷ_{t+j} = y_{t+j-mk} +
  mk (y_{t-1} - y_0) / (t-1) with k = ⌈(j+1)/m⌉ (the seasonal random walk with drift; adding
  only (j+1) slopes, as Darts' quickstart combines its two naive models, undercounts the trend:
  airline, last 36 months, MAPE 5.66% against 4.54% this way);
* window mean: ŷ_{t+j} = (1/m) Σ_{i=1..m} y_{t-i} (the mean of the last season; not in
  ``BASELINES``: e.g. the 7-day mean of a daily series);
* ets: Holt-Winters exponential smoothing by statsmodels (``ExponentialSmoothing``): additive
  trend, and a season when the series has one (:func:`seasonal_period`): multiplicative or
  additive, whichever has the lower AIC, for a positive series; additive otherwise; each fitted
  by two optimisers, the lower AIC kept (``ETS_OPTIMISERS``);
* arima: statsmodels' ``SARIMAX``, on logs for a positive history: the airline model
  (0,1,1)(0,1,1)_m for a seasonal series; for a non-seasonal one ARIMA(p,d,q), d from KPSS tests
  (as ``ndiffs``), p, q ≤ 2 by AIC, with a constant when d = 0.

ets and arima are fitted once, on the history before the first origin (everything before the
test part for ``--split test``; its last 5,000 steps at most), and then run forward through the
series with those parameters, forecasting from each origin with the values before it only:
refitting at every origin would cost a fit per origin, and statsmodels re-running its filter
from the start at every origin costs ~0.1 s per origin on 3,000 steps. arima runs statsmodels'
Kalman filter once (``results.apply``) and forecasts from its predicted states; ets runs the
Holt-Winters recursions of :func:`holt_winters` (statsmodels' own, checked against its
forecasts). A logged forecast is exp of the forecast log (the median).

The metrics: MAE, RMSE, MAPE and sMAPE (in %), and MASE: MAE over the in-sample MAE of the
seasonal naive forecast (one season back) on the history before the split.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from typing import Any

import numpy as np

from rnnkit.errors import UserError

__all__ = [
    "BASELINES",
    "MissingStatsmodels",
    "arima",
    "arima_spec",
    "direction_scores",
    "drift",
    "ets",
    "ets_spec",
    "forecast_metrics",
    "holt_winters",
    "interval_metrics",
    "kpss_differences",
    "mase_scale",
    "naive",
    "seasonal_drift",
    "seasonal_naive",
    "seasonal_period",
    "seasonal_strength",
    "window_mean",
]

logger = logging.getLogger(__name__)

MAX_SEASON = 52  # longer seasons (a daily series' year) are left to the RNN
SEASONAL_STRENGTH = 0.64  # Hyndman's threshold (as in R's nsdiffs) on STL's seasonal strength
MIN_FIT_STEPS = 10  # the shortest history ets and arima are fitted on
MAX_FIT_STEPS = 5000  # the longest: a longer history's last steps (fits take seconds, not minutes)
MAX_ORDER = 2  # p and q searched for a non-seasonal ARIMA
# statsmodels' default optimiser, and least squares on the same errors: ets keeps the fit with
# the lower AIC (the default alone can stop in a worse optimum, and where depends on the CPU:
# airline's first 108 months, AIC 455.9 against 449.1 on an AVX-512 machine)
ETS_OPTIMISERS = ("L-BFGS-B", "least_squares")


class MissingStatsmodels(UserError, ImportError):
    """ets and arima need statsmodels (the ``timeseries`` extra); an ``ImportError`` too, so a
    table of baselines can leave them out and say why."""


def _statsmodels() -> None:
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        raise MissingStatsmodels(
            "the ets and arima baselines need statsmodels; expected it installed: "
            "pip install rnnkit[timeseries]"
        ) from None


def naive(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    last = y[origins - 1]  # (N, k)
    return np.repeat(last[:, None, :], horizon, axis=1)  # (N, h, k)


def seasonal_naive(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    steps = np.arange(horizon)  # (h,)
    back = season * np.ceil((steps + 1) / season).astype(np.int64)  # (h,)
    index = origins[:, None] + steps[None, :] - back[None, :]  # (N, h)
    return y[np.maximum(index, 0)]  # (N, h, k)


def _slope(y: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """(y_{t-1} - y_0) / (t - 1) for each origin: (N, k)."""
    return (y[origins - 1] - y[0]) / np.maximum(origins - 1, 1)[:, None]


def drift(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    steps = np.arange(1, horizon + 1)[None, :, None]  # (1, h, 1)
    return y[origins - 1][:, None, :] + steps * _slope(y, origins)[:, None, :]  # (N, h, k)


def seasonal_drift(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    back = season * np.ceil(np.arange(1, horizon + 1) / season)  # (h,) steps to the repeated value
    trend = back[None, :, None] * _slope(y, origins)[:, None, :]  # (N, h, k)
    return seasonal_naive(y, origins, horizon, season) + trend


def window_mean(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    sums = np.concatenate([np.zeros((1, y.shape[1])), np.cumsum(y, axis=0)])  # (T + 1, k)
    start = np.maximum(origins - season, 0)  # (N,)
    mean = (sums[origins] - sums[start]) / (origins - start)[:, None]  # (N, k)
    return np.repeat(mean[:, None, :], horizon, axis=1)  # (N, h, k)


def seasonal_period(history: np.ndarray, season: int) -> int | None:
    """``season`` when ``history`` (T,) has a season worth modelling, else None: STL's seasonal
    strength (:func:`seasonal_strength`) of the history (of its logs when positive) at least
    0.64."""
    values = np.log(history) if (history > 0).all() else history
    strength = seasonal_strength(values, season)
    return season if strength is not None and strength >= SEASONAL_STRENGTH else None


def seasonal_strength(values: np.ndarray, season: int) -> float | None:
    """STL's seasonal strength of ``values`` (T,) at period ``season``, or None where no season
    can be measured (2 <= m <= 52 and at least two full seasons plus two steps are needed):

        F_s = max(0, 1 - Var(R) / Var(S + R))   (S, R: STL's seasonal part and remainder)
    """
    if not 2 <= season <= MAX_SEASON or len(values) < 2 * season + 2:
        return None
    _statsmodels()
    from statsmodels.tsa.seasonal import STL

    parts = STL(values, period=season, robust=True).fit()
    spread = np.var(parts.seasonal + parts.resid)
    strength = max(0.0, 1 - np.var(parts.resid) / spread) if spread > 0 else 0.0
    logger.debug("seasonal strength %.2f at period %d", strength, season)
    return float(strength)


def _history(y: np.ndarray, origins: np.ndarray) -> tuple[np.ndarray, int]:
    """(the values (T0, k) ets and arima are fitted on: the last ``MAX_FIT_STEPS`` before the
    first origin, where that history starts in ``y``)."""
    end = int(origins.min())
    if end < MIN_FIT_STEPS:
        raise ValueError(f"{end} steps before the first origin; at least {MIN_FIT_STEPS} needed")
    start = max(0, end - MAX_FIT_STEPS)
    return y[start:end], start


def ets_spec(history: np.ndarray, season: int) -> dict[str, Any]:
    """The Holt-Winters model of ``history`` (T,), fitted by statsmodels: ``{"seasonal": "mul",
    "add" or None, "period": m or None, "params": statsmodels' fitted parameters, "aic"}``."""
    _statsmodels()
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    period = seasonal_period(history, season)
    kinds = [None] if period is None else (["mul", "add"] if (history > 0).all() else ["add"])
    fits = {}
    for kind in kinds:
        model = ExponentialSmoothing(history, trend="add", seasonal=kind, seasonal_periods=period,
                                     initialization_method="estimated")  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence notes on short series
            tried = [model.fit(method=method) for method in ETS_OPTIMISERS]
        fits[kind] = min(tried, key=lambda fit: fit.aic)  # the better optimum of the two
    kind = min(fits, key=lambda k: fits[k].aic)
    return {"seasonal": kind, "period": period, "params": dict(fits[kind].params),
            "aic": float(fits[kind].aic)}  # fmt: skip


def ets(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Holt-Winters (see the module docstring); needs statsmodels (``rnnkit[timeseries]``)."""
    history, start = _history(y, origins)
    out = np.empty((len(origins), horizon, y.shape[1]))
    for column in range(y.shape[1]):
        spec = ets_spec(history[:, column], season)
        kind = {"mul": "multiplicative", "add": "additive", None: "no"}[spec["seasonal"]]
        logger.info("ets (statsmodels' Holt-Winters): additive trend, %s season%s", kind,
                    f" of {spec['period']}" if spec["period"] else "")  # fmt: skip
        out[:, :, column] = holt_winters(y[start:, column], origins - start, horizon,
                                         spec["params"], spec["seasonal"],
                                         spec["period"] or 1)  # fmt: skip
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

    (the season of each m-th step as statsmodels takes it: see ``_season_index``). The same
    forecasts as statsmodels' model with these parameters fixed, on ``y[:t]``, for each origin t
    (tested), in one pass instead of one statsmodels run per origin.
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


def _fit_sarimax(values: np.ndarray, order, seasonal_order, trend: str | None):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # start-parameter and convergence notes
        model = SARIMAX(values, order=order, seasonal_order=seasonal_order, trend=trend)
        return model.fit(disp=False)


def kpss_differences(values: np.ndarray) -> int:
    """Differences needed for KPSS (level, 5%) not to reject stationarity, at most 2; a constant
    (a straight line once differenced) needs none more, and neither do fewer than 4 values (too
    few to test; KPSS's automatic lags divide by their variance)."""
    _statsmodels()
    from statsmodels.tsa.stattools import kpss

    for d in range(2):
        differenced = np.diff(values, n=d)
        if len(differenced) < 4 or np.ptp(differenced) == 0:
            return d
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "p-value outside the table" notes
            p_value = kpss(differenced, regression="c", nlags="auto")[1]
        if p_value >= 0.05:
            return d
    return 2


def arima_spec(history: np.ndarray, season: int) -> dict[str, Any]:
    """The ARIMA model of ``history`` (T,), fitted by statsmodels: ``{"log", "order",
    "seasonal_order", "trend", "aic", "results"}`` (see the module docstring)."""
    _statsmodels()
    logged = bool((history > 0).all())
    values = np.log(history) if logged else history
    period = seasonal_period(history, season)
    if period is not None:
        order, seasonal_order, trend = (0, 1, 1), (0, 1, 1, period), None
        results = _fit_sarimax(values, order, seasonal_order, trend)
    else:
        d = kpss_differences(values)
        trend = "c" if d == 0 else None
        seasonal_order, candidates = (0, 0, 0, 0), {}
        for p, q in itertools.product(range(MAX_ORDER + 1), repeat=2):
            candidates[(p, d, q)] = _fit_sarimax(values, (p, d, q), seasonal_order, trend)
        order = min(candidates, key=lambda o: candidates[o].aic)
        results = candidates[order]
    return {"log": logged, "order": order, "seasonal_order": seasonal_order, "trend": trend,
            "aic": float(results.aic), "results": results}  # fmt: skip


def arima(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """ARIMA (see the module docstring); needs statsmodels (``rnnkit[timeseries]``)."""
    history, start = _history(y, origins)
    out = np.empty((len(origins), horizon, y.shape[1]))
    for column in range(y.shape[1]):
        spec = arima_spec(history[:, column], season)
        seasonal = spec["seasonal_order"] if spec["seasonal_order"][3] else ""
        logger.info("arima (statsmodels' SARIMAX): %s%s%s%s", spec["order"], seasonal,
                    " with a constant" if spec["trend"] else "",
                    " on logs" if spec["log"] else "")  # fmt: skip
        values = y[start : int(origins.max()), column]
        if spec["log"]:
            if (values <= 0).any():
                raise ValueError("a value <= 0 after the history it was fitted on (on logs)")
            values = np.log(values)
        forecast = state_space_forecasts(spec["results"], values, origins - start, horizon)
        out[:, :, column] = np.exp(forecast) if spec["log"] else forecast
    return out


def state_space_forecasts(results, values: np.ndarray, origins: np.ndarray, horizon: int):
    """Forecasts (N, h) from each origin of a fitted statsmodels state-space model, its
    parameters fixed: its Kalman filter runs once through ``values`` (T,) (``results.apply``),
    and from the state predicted at each origin t from ``values[:t]``, a_{t|t-1}::

        ŷ_{t+j} = d + Z a_{t+j|t-1},   a_{t+j+1|t-1} = c + T a_{t+j|t-1}

    (Z, d: design and observation intercept; T, c: transition and state intercept) — what
    ``results.apply(values[:t]).forecast(h)`` gives, in one pass. ``values`` must extend to the
    last origin (later values are not read)."""
    filtered = results.apply(values[: int(origins.max())]).filter_results
    design, transition = filtered.design[:, :, 0], filtered.transition[:, :, 0]
    obs_intercept, state_intercept = filtered.obs_intercept[:, 0], filtered.state_intercept[:, 0]
    state = filtered.predicted_state[:, origins]  # (k_states, N)
    out = np.empty((len(origins), horizon))
    for j in range(horizon):
        out[:, j] = (design @ state)[0] + obs_intercept[0]  # (N,)
        state = transition @ state + state_intercept[:, None]  # (k_states, N)
    return out


BASELINES = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "drift": drift,
    "seasonal_drift": seasonal_drift,
    "ets": ets,
    "arima": arima,
}


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


def interval_metrics(
    actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, coverage: float
) -> dict[str, float]:
    """How intervals (N, h, k) of nominal ``coverage`` hold ``actual``: ``coverage`` (the share
    inside), ``interval_width`` (the mean width) and ``interval_score`` (Gneiting and Raftery's,
    lower is better: the true quantiles minimise it, so it rewards narrow intervals that still
    hold the truth),

        IS = (u - l) + (2 / α) (l - y) 1[y < l] + (2 / α) (y - u) 1[y > u],   α = 1 - coverage."""
    alpha = 1 - coverage
    below, above = np.clip(lower - actual, 0, None), np.clip(actual - upper, 0, None)
    width = upper - lower
    return {
        "coverage": float(np.mean((actual >= lower) & (actual <= upper))),
        "interval_width": float(np.mean(width)),
        "interval_score": float(np.mean(width + 2 / alpha * (below + above))),
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
