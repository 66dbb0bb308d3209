"""scikit-learn estimators over rnnkit's tasks (needs the ``sklearn`` extra).

``RNNClassifier`` (raw texts -> labels) works wherever a scikit-learn classifier does:
``GridSearchCV`` (also with ``n_jobs``: fitted estimators pickle), ``RandomizedSearchCV``,
``cross_val_score``, ``Pipeline``. Its parameters are ``rnnkit.TextClassifier``'s settings.
"""

from rnnkit.sklearn.classifier import RNNClassifier
from rnnkit.sklearn.estimator import TaskEstimator

__all__ = ["RNNClassifier", "TaskEstimator"]
