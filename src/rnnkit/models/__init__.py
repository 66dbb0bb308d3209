"""Models built from rnnkit.nn layers; a model never reads files (that is rnnkit.data's job)."""

from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.language_model import LanguageModelConfig, RNNLanguageModel
from rnnkit.models.pooling import POOLINGS, SequencePooling
from rnnkit.models.recurrent import CELLS, build_recurrent

__all__ = [
    "CELLS",
    "POOLINGS",
    "ClassifierConfig",
    "LanguageModelConfig",
    "RNNLanguageModel",
    "SequenceClassifier",
    "SequencePooling",
    "build_recurrent",
]
