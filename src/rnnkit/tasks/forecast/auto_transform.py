"""``--transform auto``: the transform a series needs, read from its training part only, the way
auto-ARIMA chooses its logs and differences:

* logs, when every value is above 0 and the spread of the values grows with their level:
  Guerrero's test between logs (λ = 0) and the values themselves (λ = 1), over blocks of one
  season (of 2 steps without one), picks the λ whose ratios ``sd_i / mean_i^(1-λ)`` vary the
  least (the lower coefficient of variation);
* seasonal differences at the season m, when STL's seasonal strength of the (log) values is at
  least 0.64 (Hyndman's threshold, as R's ``nsdiffs``):
  ``F_s = max(0, 1 - Var(R) / Var(S + R))``;
* else first differences, when a KPSS test (level, 5%) rejects that the (log) values are
  stationary (as ``ndiffs``);
* else neither.

With several targets: logs when every column takes them, a difference when any column needs it.
The season and trend tests need statsmodels (the ``timeseries`` extra); without it only the log
test is made, and the choice says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.tasks.forecast.baselines import (
    MAX_FIT_STEPS,
    MAX_SEASON,
    SEASONAL_STRENGTH,
    MissingStatsmodels,
    kpss_differences,
    seasonal_strength,
)

__all__ = ["TransformChoice", "choose_transform"]


@dataclass(frozen=True)
class TransformChoice:
    """The transform ``auto`` resolved to, and why (one clause per test, for the log)."""

    transform: str
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.transform} ({'; '.join(self.reasons)})"


def choose_transform(history: np.ndarray, season: int) -> TransformChoice:
    """The transform for a series whose training part is ``history`` (T, k); ``season`` is its
    seasonal period in steps (1: none). Reads the last 5,000 steps at most."""
    history = history[-MAX_FIT_STEPS:]
    columns = range(history.shape[1])
    positive = bool((history > 0).all())
    logged = positive and all(_logs_steady_the_spread(history[:, c], season) for c in columns)
    values = np.log(history) if logged else history  # (T, k)
    reasons = ["values above 0 whose spread grows with their level: logs" if logged
               else "a spread that does not grow with the level: no logs" if positive
               else "values at or below 0: no logs"]  # fmt: skip
    try:
        strengths = [seasonal_strength(values[:, c], season) for c in columns]
        measured = [s for s in strengths if s is not None]
        if measured and max(measured) >= SEASONAL_STRENGTH:
            reasons.append(f"seasonal strength {max(measured):.2f} >= {SEASONAL_STRENGTH} at "
                           f"period {season}: seasonal differences")  # fmt: skip
            return TransformChoice("log-seasonal-diff" if logged else "seasonal-diff",
                                   tuple(reasons))  # fmt: skip
        if measured:
            reasons.append(f"seasonal strength {max(measured):.2f} < {SEASONAL_STRENGTH} at "
                           f"period {season}: no seasonal differences")  # fmt: skip
        elif season > 1:
            reasons.append(f"no seasonal test at period {season} (it needs 2-{MAX_SEASON} "
                           "steps and two seasons of history)")  # fmt: skip
        differenced = any(kpss_differences(values[:, c]) for c in columns)
    except MissingStatsmodels:
        reasons.append("no test for a season or a trend: they need statsmodels "
                       "(pip install rnnkit[timeseries])")  # fmt: skip
        return TransformChoice("log" if logged else "none", tuple(reasons))
    if differenced:
        reasons.append("KPSS rejects a stationary level (5%): first differences")
        return TransformChoice("log-diff" if logged else "diff", tuple(reasons))
    reasons.append("KPSS does not reject a stationary level (5%): no differences")
    return TransformChoice("log" if logged else "none", tuple(reasons))


def _logs_steady_the_spread(values: np.ndarray, season: int) -> bool:
    """Guerrero's choice between logs and none for ``values`` (T,), all above 0: True when
    ``sd_i / mean_i`` (logs) varies less over the blocks than ``sd_i`` (none)."""
    size = max(season, 2)
    blocks = values[len(values) % size :].reshape(-1, size)  # (B, size): whole blocks, the last
    if len(blocks) < 2:
        return False
    mean, spread = blocks.mean(axis=1), blocks.std(axis=1, ddof=1)  # (B,), (B,)
    return _variation(spread / mean) < _variation(spread)


def _variation(ratios: np.ndarray) -> float:
    """The coefficient of variation of ``ratios`` (B,); infinite when their mean is 0."""
    mean = ratios.mean()
    return float(ratios.std(ddof=1) / mean) if mean > 0 else float("inf")
