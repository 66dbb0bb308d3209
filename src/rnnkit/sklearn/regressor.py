"""``RNNRegressor``: ``rnnkit.SequenceRegressor`` as a scikit-learn regressor (sequences in,
values out)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin

from rnnkit.errors import UserError
from rnnkit.sklearn.estimator import TaskEstimator
from rnnkit.tasks.regress import SequenceRegressor
from rnnkit.tasks.regress.data import as_sequences, as_targets

__all__ = ["RNNRegressor"]


class RNNRegressor(RegressorMixin, TaskEstimator):
    """A recurrent many-to-one regressor for scikit-learn: sequences of numbers in, values out.

    Parameters are ``SequenceRegressor``'s settings (``hidden``, ``cell``, ``pooling``,
    ``epochs``, ``batch_size``, ``optimizer``, ``lr``, ...: the command-line options' names and
    defaults; ``RNNRegressor().get_params()`` lists them), ``verbose`` and ``device``. ``X`` is
    a list of sequences of any lengths, each ``(T,)`` or ``(T, F)`` (``F`` the same for all) —
    no padding — or an array of equal-length windows, ``(N, T)`` (one feature) or
    ``(N, T, F)``; ``y`` is ``(N,)`` or ``(N, k)``, and ``predict`` returns that shape. A tenth
    of ``X`` (``val_fraction``, seeded) selects the best epoch; features and targets are
    standardised with the rest's statistics::

        windows = [series[s : s + n] for s, n in starts_and_lengths]   # ragged
        model = RNNRegressor(hidden=16, epochs=20).fit(windows, next_values)
        model.score(test_windows, test_next_values)                   # R²

    Fitted attributes: ``n_features_in_`` (``F``), ``task_``, ``checkpoint_``, ``fit_result_``
    (see ``TaskEstimator``). The columns of a 2-D ``X`` are time steps, not features, so
    ``n_features_in_`` is 1 there and windows of another length are valid input to ``predict``.
    """

    TASK = SequenceRegressor
    # file-reading settings: an estimator gets its data in memory
    EXCLUDED = ("sequence_column", "target_column", "test_fraction")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True  # (N, T) windows of one feature
        tags.input_tags.three_d_array = True  # (N, T, F) windows
        tags.input_tags.one_d_array = False  # a 1-D array of numbers is no list of sequences
        tags.input_tags.string = False
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        # scikit-learn's "reasonable score" is R² 0.5 on make_regression's i.i.d. columns (one
        # informative of 10), which a recurrent model reads as 10 time steps to remember one of
        tags.regressor_tags.poor_score = True
        return tags

    def fit(self, X: Any, y: Any) -> RNNRegressor:
        """Train on sequences ``X`` with targets ``y``; returns self."""
        sequences = _sequences(X)
        targets = _targets(y, len(sequences))
        task = self.fit_task(sequences, targets)
        self.n_features_in_ = task.n_features_in_
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The predicted values of each sequence: ``(N,)`` or ``(N, k)``, as ``y`` was at fit."""
        task = self.fitted_task()
        sequences = _sequences(X)
        features = sequences[0].shape[1]
        if features != self.n_features_in_:
            raise ValueError(
                f"X has {features} features per step, but {type(self).__name__} expects "
                f"{self.n_features_in_}"
            )
        return task.predict(sequences)


def _sequences(X: Any) -> list[np.ndarray]:
    """``X`` as a list of ``(T, F)`` arrays; bad input is a ``ValueError`` (scikit-learn's type)
    — and a 2-D object array holding a non-number a ``TypeError``, as ``check_array`` says it."""
    if getattr(X, "dtype", None) is np.dtype(object) and getattr(X, "ndim", 1) >= 2:
        X = np.asarray(X, dtype=np.float64)  # a TypeError names the object that is no number
    try:
        return as_sequences(X)
    except UserError as error:
        raise ValueError(str(error)) from None


def _targets(y: Any, n: int) -> np.ndarray:
    """``y`` as ``(N,)`` or ``(N, k)`` float64; bad targets are a ``ValueError``."""
    try:
        targets, vector = as_targets(y, n)
    except UserError as error:
        raise ValueError(str(error)) from None
    return targets[:, 0] if vector else targets
