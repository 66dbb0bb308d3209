"""Forecast pictures: history, forecast, interval band, and the truth where it is known."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.atomic import atomic_path

__all__ = ["save_forecast_plot"]

logger = logging.getLogger(__name__)

OTHER_COLORS = ("tab:orange", "tab:green", "tab:red", "tab:purple")  # baselines


def save_forecast_plot(
    path: Path,
    *,
    history: tuple[Sequence[Any], np.ndarray],
    forecast: tuple[Sequence[Any], np.ndarray, np.ndarray, np.ndarray],
    names: Sequence[str],
    title: str,
    truth: tuple[Sequence[Any], np.ndarray] | None = None,
    others: dict[str, tuple[Sequence[Any], np.ndarray]] | None = None,
) -> bool:
    """Draw one panel per target into ``path``: ``history`` (x, values (T, k)), ``forecast``
    (x, values, lower, upper, each (H, k)) with its band, the ``truth`` (x, values) over the
    forecast and ``others`` (name -> x, values: the baselines, dashed). False if matplotlib is
    missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning("matplotlib is not installed: no forecast plot (pip install rnnkit[plot])")
        return False
    figure = Figure(figsize=(9, 3.2 * len(names)), layout="constrained")
    axes = figure.subplots(len(names), 1, squeeze=False)[:, 0]
    x_future, values, lower, upper = forecast
    for j, (ax, name) in enumerate(zip(axes, names)):
        ax.plot(history[0], history[1][:, j], color="0.3", lw=1, label="history")
        if truth is not None:
            ax.plot(truth[0], truth[1][:, j], color="black", lw=1.2, label="actual")
        for (label, (x, other)), color in zip((others or {}).items(), OTHER_COLORS):
            ax.plot(x, other[:, j], lw=1, ls="--", color=color, label=label)
        if not np.array_equal(lower, upper):
            ax.fill_between(x_future, lower[:, j], upper[:, j], color="tab:blue", alpha=0.2,
                            label="interval")  # fmt: skip
        ax.plot(x_future, values[:, j], color="tab:blue", lw=1.6, label="forecast")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    axes[0].set_title(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    return True
