"""scikit-learn estimators over rnnkit's tasks (needs the ``sklearn`` extra).

``RNNClassifier`` (raw texts -> labels) and ``RNNRegressor`` (variable-length sequences or
windows of numbers -> values) work wherever a scikit-learn classifier or regressor does:
``GridSearchCV`` (also with ``n_jobs``: fitted estimators pickle), ``RandomizedSearchCV``,
``cross_val_score``, ``Pipeline``. Their parameters are ``rnnkit.TextClassifier``'s and
``rnnkit.SequenceRegressor``'s settings.
"""

from rnnkit.sklearn.classifier import RNNClassifier
from rnnkit.sklearn.estimator import TaskEstimator
from rnnkit.sklearn.regressor import RNNRegressor

__all__ = ["RNNClassifier", "RNNRegressor", "TaskEstimator"]
