"""``RNNClassifier``: ``rnnkit.TextClassifier`` as a scikit-learn classifier (text -> label)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin

from rnnkit.sklearn.estimator import TaskEstimator
from rnnkit.tasks.base import text_list
from rnnkit.tasks.classify import TextClassifier

__all__ = ["RNNClassifier"]


class RNNClassifier(ClassifierMixin, TaskEstimator):
    """A recurrent text classifier for scikit-learn: raw texts in, labels out.

    Parameters are ``TextClassifier``'s settings (``hidden``, ``cell``, ``epochs``,
    ``batch_size``, ``optimizer``, ``lr``, ``init``, ``dropout``, ...: the command-line options'
    names and defaults; ``RNNClassifier().get_params()`` lists them), ``verbose`` and
    ``device``. ``X`` is a list (or array, or pandas Series) of strings of any lengths — no
    padding, no vectoriser — and ``y`` their labels (strings or integers). A tenth of ``X``
    (``val_fraction``, stratified, seeded) selects the best epoch::

        search = GridSearchCV(RNNClassifier(), {"batch_size": [10, 20], "epochs": [1, 2]}, cv=3)
        search.fit(texts, labels).best_params_

    Fitted attributes: ``classes_`` (``predict_proba``'s column order), ``task_``,
    ``checkpoint_``, ``fit_result_`` (see ``TaskEstimator``).
    """

    TASK = TextClassifier
    # file-reading settings: an estimator gets its data in memory
    EXCLUDED = ("text_column", "label_column", "encoding", "delimiter", "test_fraction", "limit")

    def fit(self, X: Any, y: Any) -> RNNClassifier:
        """Train on texts ``X`` with labels ``y``; returns self."""
        task = self.fit_task(_texts(X), _labels(y))
        self.classes_ = np.asarray(task.classes_)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (N, C), columns in ``classes_`` order."""
        return self.fitted_task().predict_proba(_texts(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each text (N,)."""
        probabilities = self.predict_proba(X)  # (N, C); NotFittedError before a fit
        return self.classes_[probabilities.argmax(axis=1)]


def _texts(X: Any) -> list[str]:
    """``X`` as a list of strings; anything else is a ``ValueError`` (scikit-learn's type)."""
    try:
        return text_list(np.asarray(X, dtype=object).ravel() if _is_column(X) else X)
    except Exception as error:  # a UserError or a non-iterable X
        raise ValueError(f"X: {error}; expected a list of texts (strings)") from None


def _is_column(X: Any) -> bool:
    """A one-column 2-D array or DataFrame (what a Pipeline step may pass on)."""
    shape = getattr(X, "shape", None)
    return shape is not None and len(shape) == 2 and shape[1] == 1


def _labels(y: Any) -> list[Any]:
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"y: expected one label per text (a 1-D array), got shape {labels.shape}")
    if labels.dtype.kind == "f":
        raise ValueError(
            "y: expected class labels (strings or integers), got floats: a continuous target "
            "belongs to a regressor"
        )
    return labels.tolist()
