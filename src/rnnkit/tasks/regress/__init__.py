"""Sequence regression: variable-length sequences (or equal-length windows) of numbers -> one or
more real values — data and splits (``data``), the objective and metrics (``objective``), and the
task object ``SequenceRegressor`` (the model in :mod:`rnnkit.models.sequence_regressor`)."""

from rnnkit.tasks.regress.task import SequenceRegressor

__all__ = ["SequenceRegressor"]
