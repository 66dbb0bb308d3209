"""Time-series forecasting: reading and windowing series (``data``), the baselines and metrics
(``baselines``), the objective, anomaly detection from forecast errors (``detect``), plots, and
the task object ``Forecaster``."""

from rnnkit.tasks.forecast.task import Forecaster

__all__ = ["Forecaster"]
