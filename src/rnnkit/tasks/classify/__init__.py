"""Many-to-one text classification: data (``data``), objective, reports and the task object."""

from rnnkit.tasks.classify.task import TextClassifier

__all__ = ["TextClassifier"]
